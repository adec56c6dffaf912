/**
 * Load: back-to-back invocations in one warm function process (the real `dist/func.js` over the Fn
 * socket, RP auth, the emulator storing a bounded amount): 100 cycles of a 10,000-sample exposition
 * (625 labelled histograms of 14 buckets: 1,250 _sum/_count series posted, 8,750 bucket samples skipped; no state, so nothing derived).
 * Early vs late: no memory growth beyond a bound (heap after GC, RSS, peak RSS), no leaked file
 * descriptors, sockets or timers (/proc and a --require probe), stable latency (medians).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startFunction, type LocalFunction } from '../src/local/fn-agent';
import { COMPARTMENT, FUNC_ENTRY, startStack, type Stack } from './helpers/stack';
import { startFaultyTarget, type FaultyTarget } from './helpers/faulty-target';
import { assertAccounted, summaryOf } from './helpers/reliability';

const CYCLES = 100;
const EARLY = [10, 30] as const; // after warm-up (JIT, lazy SDK load, first allocations)
const LATE = [CYCLES - 20, CYCLES] as const;
const PROBE = path.join(__dirname, 'helpers', 'resource-probe.cjs');

/** What the probe and /proc say about the process at one moment. */
interface Snapshot {
  fds: number;
  sockets: number;
  rss: number;
  heapUsed: number;
  counts: Record<string, number>;
}

/** Reads /proc/<pid>/fd and asks the in-process probe for its handle counts (after a GC). */
async function snapshot(fn: LocalFunction): Promise<Snapshot> {
  const before = fn.stderr.length;
  process.kill(fn.pid, 'SIGUSR2');
  const started = Date.now();
  let line: string | undefined;
  while (!line && Date.now() - started < 30_000) {
    await new Promise((r) => setTimeout(r, 20));
    line = fn.stderr.slice(before).find((l) => l.startsWith('resource-probe '));
  }
  assert.ok(line, 'the probe answered');
  const probe = JSON.parse(line.slice('resource-probe '.length)) as { counts: Record<string, number>; heapUsed: number };
  const links = readdirSync(`/proc/${fn.pid}/fd`).map((f) => {
    try {
      return readlinkSync(`/proc/${fn.pid}/fd/${f}`);
    } catch {
      return '';
    }
  });
  const rss = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${fn.pid}/status`, 'utf8'))![1]) * 1024;
  return { fds: links.length, sockets: links.filter((l) => l.startsWith('socket:')).length, rss, heapUsed: probe.heapUsed, counts: probe.counts };
}

/** Median of a list of numbers. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

describe('load: 100 warm invocations of a 10k-sample exposition', { skip: process.platform !== 'linux' ? 'needs /proc (Linux)' : false }, () => {
  let stack: Stack;
  let target: FaultyTarget;
  let fn: LocalFunction;
  before(async () => {
    stack = await startStack({ maxStoredDatapoints: 50_000, maxCallRecords: 2000 });
    target = await startFaultyTarget();
    fn = await startFunction({
      entry: FUNC_ENTRY,
      nodeArgs: ['--expose-gc', '--require', PROBE],
      env: {
        ...stack.rpEnv,
        OCI_MONITORING_ENDPOINT: stack.emulator.url,
        COMPARTMENT_OCID: COMPARTMENT,
        METRICS_ENDPOINT: target.url('/histograms?series=625&buckets=14'),
        POST_CALLS_PER_SECOND: '1000',
        POST_CONCURRENCY: '16',
      },
    });
  });
  after(async () => {
    await fn?.stop();
    await stack?.close();
    await target?.close();
  });

  test('no memory growth, no leaked fds/sockets/timers, stable latency', async () => {
    const latencies: number[] = [];
    const snaps: Partial<Record<'early' | 'late', Snapshot & { peak: number }>> = {};
    let requests = 0;
    for (let i = 0; i < CYCLES; i++) {
      if (i === EARLY[1]) snaps.early = { ...(await snapshot(fn)), peak: fn.peakRssBytes()! };
      const started = performance.now();
      const s = summaryOf(await fn.invoke());
      latencies.push(performance.now() - started);
      assertAccounted(s, `cycle ${i}`);
      assert.equal(s.samples, 10_000);
      assert.equal(s.posted, 1250, `cycle ${i}: ${JSON.stringify(s.errors)}`);
      assert.equal(s.skipped.histogram_buckets_disabled, 8750);
      requests += s.requests;
    }
    snaps.late = { ...(await snapshot(fn)), peak: fn.peakRssBytes()! };
    const { early, late } = snaps as Required<typeof snaps>;
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    const report =
      `heap ${mb(early.heapUsed)} -> ${mb(late.heapUsed)}, rss ${mb(early.rss)} -> ${mb(late.rss)}, peak ${mb(early.peak)} -> ${mb(late.peak)}, ` +
      `fds ${early.fds} -> ${late.fds}, handles ${JSON.stringify(early.counts)} -> ${JSON.stringify(late.counts)}`;
    // Memory: live heap after GC is flat; RSS and its peak may settle but not climb with the cycles.
    assert.ok(late.heapUsed - early.heapUsed < 8 * 1048576, `heap grew: ${report}`);
    assert.ok(late.rss - early.rss < 64 * 1048576, `rss grew: ${report}`);
    assert.ok(late.peak < early.peak * 1.5, `peak rss grew: ${report}`);
    // Descriptors, sockets and timers: what a warm container holds between invocations stays constant.
    assert.ok(late.fds <= early.fds + 1, `fds leaked: ${report}`);
    assert.ok(late.sockets <= early.sockets + 1, `sockets leaked: ${report}`);
    for (const kind of ['Timeout', 'TCPSocketWrap', 'TCPWRAP', 'FSReqCallback']) {
      assert.ok((late.counts[kind] ?? 0) <= (early.counts[kind] ?? 0), `${kind} leaked: ${report}`);
    }
    assert.ok((late.counts.Timeout ?? 0) <= 2, `idle container holds few timers: ${report}`);
    // Latency: the late median within a factor of the early one.
    const early50 = median(latencies.slice(...EARLY));
    const late50 = median(latencies.slice(...LATE));
    assert.ok(late50 <= early50 * 2 + 50, `latency median ${early50.toFixed(0)} ms early, ${late50.toFixed(0)} ms late`);
    // Every attempt reached the emulator; the emulator's store stayed bounded.
    assert.equal(stack.emulator.counters.postMetricData, requests);
    assert.ok(stack.emulator.store.all().reduce((n, m) => n + m.datapoints.length, 0) <= 50_000);
    assert.equal(fn.alive, true);
    console.log(`# load: ${CYCLES} cycles, median ${early50.toFixed(0)} -> ${late50.toFixed(0)} ms; ${report}`);
  });
});
