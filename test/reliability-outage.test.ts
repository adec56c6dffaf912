/**
 * Nothing lost across an OCI outage, through the real function process with its state in the
 * emulator's Object Storage. Thirty minutes of invocations are simulated without waiting for them:
 * the target stamps its samples with its own timestamps (the exposition format's third field), one
 * minute later at each invocation, ending in the recent past. The function keeps those timestamps
 * (they are the datapoints' original times) and judges their age against the real clock, as it does
 * in production, so the spool's replay order and OCI-window logic run unchanged.
 *
 *   30 minutes: ingestion resets every connection, then answers 503, then hangs (10 invocations
 *   each); then it is back. Every datapoint of every invocation is stored exactly once with its own
 *   timestamp, replayed oldest first, and the counts add up over all the invocations.
 *
 *   Older than OCI's window minus the margin: an outage whose first points are 114 minutes old;
 *   what is past the window is dropped as `expired`, counted and logged, the rest is stored once.
 *
 *   The spool write refused after a replay OCI accepted: the summary says how many series will be
 *   sent again, and the next invocation does send them again.
 *
 *   A large spool with the ingestion still down, heap bounded as in a 256 MB function: the
 *   invocation stops posting early enough to merge, encode and store the spool before its
 *   deadline (it used to run past it, and the spool of that invocation was lost).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { InvocationSummary } from '../src/handler/summary';
import type { Fault } from '../src/local/emulator/server';
import type { StoredMetric } from '../src/local/emulator/store';
import type { LocalFunction } from '../src/local/fn-agent';
import { decodeState, encodeState } from '../src/state/codec';
import { stateObjectName } from '../src/state/keys';
import { encodeSpool, type SpoolEntry } from '../src/state/spool';
import { emptyStateDocument } from '../src/types/state';
import { assertAccounted, stackAndTargetForSuite, summaryOf, waitForLine } from './helpers/reliability';
import { COMPARTMENT } from './helpers/stack';
import { listenLocal, startStampedTarget } from './helpers/stamped-target';

const BUCKET = 'fn-state';
const SERIES = 20;
const NAME = 'outage_ok_total';
const MINUTE = 60_000;
/**
 * An outage invocation's deadline. It spends it retrying (the deadline, not an attempt count, bounds
 * the retries), so this sets the test's length. Its work (a 20-series scrape, one state read and
 * one write on 127.0.0.1) takes milliseconds warm; the function keeps 3.5 s of it for the response
 * and the self-metrics, leaving 1.5 s for the scrape and the state read, and 2.5 s for the write.
 */
const OUTAGE_DEADLINE_MS = 5000;
/** The other invocations' deadline: the first one loads the SDK and the state bundle, the ones after the outage replay it; they end when done. */
const LONG_DEADLINE_MS = 120_000;
/** How long the test waits for a log line that follows a response (it is written before the response). */
const LOG_WAIT_MS = 30_000;
/** The spool's margin inside OCI's 2-hour window (src/state/spool.ts), restated: the test checks the function against it. */
const REPLAY_CUTOFF_MS = 110 * MINUTE;

/** One invocation's summary: from the response (200) or, when it delivered nothing (502), from its log line. */
async function invokeOnce(fn: LocalFunction, label: string, deadlineMs: number): Promise<InvocationSummary> {
  const logged = fn.stdout.length;
  const res = await fn.invoke({ deadline: new Date(Date.now() + deadlineMs) });
  const line = await waitForLine(fn, (l) => fn.stdout.indexOf(l) >= logged && l.includes('"event":"invocation_summary"'), LOG_WAIT_MS);
  const s = res.status === 200 ? summaryOf(res) : (JSON.parse(line) as InvocationSummary);
  // The log line carries the totals (its targets are trimmed): the per-target invariant is checked on 200s.
  if (res.status === 200) assertAccounted(s, label);
  assert.equal(s.posted + s.failed + s.undelivered, s.series, `${label}: posted + failed + undelivered == series`);
  assert.equal(s.series, SERIES, `${label}: every sample scraped with its own timestamp (none out of the window)`);
  assert.ok(s.spool, `${label}: the spool is on (${fn.stdout.slice(logged).join('\n').slice(0, 400)})`);
  return s;
}

/** Total of a summary's spool drops. */
const droppedOf = (s: InvocationSummary): number => Object.values(s.spool?.dropped ?? {}).reduce((a, b) => a + (b ?? 0), 0);

/** Every stored datapoint of the test's family: series -> timestamps (ms), in arrival order. */
function storedPoints(accepted: readonly StoredMetric[]) {
  const bySeries = new Map<string, number[]>();
  const arrival: number[] = [];
  for (const m of accepted) {
    if (m.name !== NAME) continue;
    const times = bySeries.get(m.dimensions.series) ?? [];
    for (const d of m.datapoints) {
      const t = d.timestamp;
      times.push(t);
      arrival.push(t);
    }
    bySeries.set(m.dimensions.series, times);
  }
  return { bySeries, arrival };
}

describe('reliability: nothing lost across an OCI outage (the spool)', () => {
  const fx = stackAndTargetForSuite(() => startStampedTarget(NAME, SERIES));

  /** A function with its state in the emulator's bucket, one PostMetricData call at a time (so arrival order is posting order). */
  const startOutageFunction = async (url: string): Promise<LocalFunction> => {
    const emu = fx.stack.emulator;
    emu.reset();
    emu.objectStorage.clearObjects();
    emu.objectStorage.createBucket(BUCKET);
    return fx.stack.startFn({
      METRICS_ENDPOINT: url,
      STATE_BUCKET: BUCKET,
      OBJECT_STORAGE_NAMESPACE: emu.objectStorage.namespace,
      DERIVED_SERIES: 'none',
      // Bounds the state read of the first (cold) invocation; an outage invocation's own deadline bounds it sooner.
      POST_TIMEOUT_MS: '3000',
      POST_CALLS_PER_SECOND: '200',
      POST_CONCURRENCY: '1',
    });
  };

  test('30 simulated minutes of refusing, 503 and hanging, then back: every datapoint stored once with its original timestamp, oldest first', async () => {
    const emu = fx.stack.emulator;
    const target = fx.target;
    const fn = await startOutageFunction(target.url);
    // The simulated clock: minute 0 is 41 minutes ago; the last outage minute is 11 minutes ago.
    const startMs = Math.floor(Date.now() / 1000) * 1000 - 41 * MINUTE;
    const stamps: number[] = [];
    const summaries: InvocationSummary[] = [];
    const invoke = async (deadlineMs = LONG_DEADLINE_MS): Promise<InvocationSummary> => {
      target.stampMs = startMs + summaries.length * MINUTE;
      stamps.push(target.stampMs);
      const s = await invokeOnce(fn, `minute ${summaries.length}`, deadlineMs);
      summaries.push(s);
      return s;
    };

    // Minute 0, ingestion up: loads the SDK and the state bundle, stores the first points.
    const first = await invoke();
    assert.equal(first.posted, SERIES);

    const phases: Fault[] = [{ reset: true }, { status: 503 }, { hangMs: 600_000 }];
    // The self-metrics OCI did not take are spooled too (so `up` has no hole): counted apart.
    let expectedPending = 0;
    for (const fault of phases) {
      emu.clearFaults('metrics');
      emu.enqueueFault(fault, 1_000_000, 'metrics');
      for (let i = 0; i < 10; i++) {
        const s = await invoke(OUTAGE_DEADLINE_MS);
        const label = `minute ${summaries.length - 1} (${JSON.stringify(fault)})`;
        assert.equal(s.posted, 0, `${label}: nothing got through`);
        assert.equal(s.undelivered, SERIES, `${label}: every series undelivered`);
        expectedPending += SERIES + (s.spool!.selfMetrics ?? 0);
        assert.equal(s.spool!.pending, expectedPending, `${label}: every undelivered series kept, with the self-metrics`);
        assert.deepEqual(s.spool!.dropped, {}, label);
      }
    }
    assert.equal(summaries.length, 31);
    const duringOutage = emu.accepted.filter((m) => m.name === NAME).length;
    assert.equal(duringOutage, SERIES, 'nothing stored during the 30 outage minutes');

    // Back: the next invocations post their fresh data first, then replay the spool until it is empty.
    emu.clearFaults('metrics');
    const backFrom = emu.accepted.length;
    for (let i = 0; i < 5 && (summaries.at(-1)!.spool?.pending ?? 0) > 0; i++) await invoke();
    assert.equal(summaries.at(-1)!.spool!.pending, 0, 'the spool drained');

    // The counts add up, invocation by invocation and over all of them.
    let pending = 0;
    summaries.forEach((s, i) => {
      const sp = s.spool!;
      assert.equal(
        sp.pending,
        pending + s.undelivered + (sp.selfMetrics ?? 0) - sp.posted - droppedOf(s),
        `minute ${i}: pending = before + undelivered + self-metrics spooled - replayed and posted - dropped`,
      );
      pending = sp.pending;
    });
    const invocations = summaries.length;
    const freshPosted = summaries.reduce((a, s) => a + s.posted, 0);
    const replayPosted = summaries.reduce((a, s) => a + s.spool!.posted, 0);
    assert.equal(
      summaries.reduce((a, s) => a + droppedOf(s), 0),
      0,
      'nothing dropped',
    );
    const selfSpooled = summaries.reduce((a, s) => a + (s.spool!.selfMetrics ?? 0), 0);
    assert.ok(selfSpooled >= 30, `the outage minutes' self-metrics spooled (${selfSpooled})`);
    assert.equal(replayPosted, 30 * SERIES + selfSpooled, 'every outage series (and self-metric) posted from the spool');
    assert.equal(freshPosted + replayPosted, invocations * SERIES + selfSpooled, 'posted fresh + posted from the spool = every series of every invocation');

    // Every series: exactly one datapoint per simulated minute, at that minute's own timestamp.
    const { bySeries, arrival } = storedPoints(emu.accepted);
    assert.equal(bySeries.size, SERIES);
    for (const [series, times] of bySeries)
      assert.deepEqual(
        [...times].sort((a, b) => a - b),
        stamps,
        `series ${series}: each minute's datapoint once, with its original timestamp`,
      );
    assert.equal(arrival.length, invocations * SERIES, 'nothing stored twice');

    // Oldest first: after the first invocation back has posted its own minute, the replay arrives in time order.
    const back = storedPoints(emu.accepted.slice(backFrom)).arrival;
    const backStamp = stamps[31];
    assert.deepEqual(back.slice(0, SERIES), Array<number>(SERIES).fill(backStamp), 'the fresh data is posted before the replay');
    const replayed = back.filter((t) => t < backStamp);
    assert.equal(replayed.length, 30 * SERIES);
    assert.deepEqual(
      replayed,
      [...replayed].sort((a, b) => a - b),
      'replayed oldest first',
    );
    assert.equal(fn.alive, true);
  });

  test('an outage longer than OCI window minus the margin: what is too old is dropped as expired, counted and logged; the rest is stored once', async () => {
    const emu = fx.stack.emulator;
    const target = fx.target;
    const fn = await startOutageFunction(target.url);
    // One invocation every 3 simulated minutes from 114 minutes ago (the oldest own timestamp the
    // function posts is 115 minutes old); replayed after `realStart`, everything older than
    // 110 minutes before then is past the window minus the margin.
    const realStart = Date.now();
    const stamps = [0, 1, 2, 3, 4, 5].map((k) => realStart - 114 * MINUTE + 3 * k * MINUTE);
    // A first invocation with ingestion up (SDK and state bundle loaded), at the real time.
    target.stampMs = Date.now();
    const summaries: InvocationSummary[] = [await invokeOnce(fn, 'warm', LONG_DEADLINE_MS)];
    const warnFrom = fn.stdout.length;
    emu.enqueueFault({ status: 503 }, 1_000_000, 'metrics');
    for (const stamp of stamps) {
      target.stampMs = stamp;
      const s = await invokeOnce(fn, `${Math.round((realStart - stamp) / MINUTE)} min ago`, OUTAGE_DEADLINE_MS);
      assert.equal(s.posted, 0);
      summaries.push(s);
    }
    emu.clearFaults('metrics');
    for (let i = 0; i < 5 && (summaries.at(-1)!.spool?.pending ?? 0) > 0; i++) {
      target.stampMs = Date.now();
      summaries.push(await invokeOnce(fn, `back ${i}`, LONG_DEADLINE_MS));
    }
    assert.equal(summaries.at(-1)!.spool!.pending, 0, 'the spool drained');

    const expired = summaries.reduce((a, s) => a + (s.spool!.dropped.expired ?? 0), 0);
    const replayPosted = summaries.reduce((a, s) => a + s.spool!.posted, 0);
    assert.equal(
      summaries.reduce((a, s) => a + droppedOf(s), 0),
      expired,
      'expired is the only reason anything was dropped',
    );
    const selfSpooled = summaries.reduce((a, s) => a + (s.spool!.selfMetrics ?? 0), 0);
    assert.equal(expired + replayPosted - selfSpooled, stamps.length * SERIES, 'every spooled series is posted once or counted as expired');
    // Certain either way, however slow the machine: 110+ minutes old at any replay, or still 10 minutes inside the window.
    const surelyExpired = stamps.filter((t) => t <= realStart - REPLAY_CUTOFF_MS);
    const surelyKept = stamps.filter((t) => t >= realStart - REPLAY_CUTOFF_MS + 10 * MINUTE);
    assert.equal(surelyExpired.length, 2);
    assert.equal(surelyKept.length, 1);
    assert.ok(
      expired >= surelyExpired.length * SERIES,
      `expired ${expired}: at least the ${surelyExpired.length * SERIES} series older than the window minus the margin`,
    );

    const { bySeries, arrival } = storedPoints(emu.accepted);
    assert.equal(arrival.length, replayPosted - selfSpooled + summaries.reduce((a, s) => a + s.posted, 0), 'every posted datapoint stored, none twice');
    for (const [series, times] of bySeries) {
      const spooled = times.filter((t) => t < realStart);
      assert.equal(new Set(spooled).size, spooled.length, `series ${series}: none stored twice`);
      for (const t of spooled) assert.ok(stamps.includes(t), `series ${series}: ${t} is an original timestamp`);
      for (const t of surelyExpired)
        assert.ok(!spooled.includes(t), `series ${series}: the point of ${Math.round((realStart - t) / MINUTE)} min ago was not posted`);
      for (const t of surelyKept) assert.ok(spooled.includes(t), `series ${series}: the point of ${Math.round((realStart - t) / MINUTE)} min ago was posted`);
    }
    assert.equal(bySeries.size, SERIES);
    const warn = await waitForLine(fn, (l) => fn.stdout.indexOf(l) >= warnFrom && l.includes('spool entries dropped'), LOG_WAIT_MS);
    assert.match(warn, /"expired":\d+/, 'the drop is logged with its reason');
    assert.equal(fn.alive, true);
  });

  test('every write of the state refused (412 each time): the spool is not claimed, so nothing is replayed; the next invocation replays it once', async () => {
    const emu = fx.stack.emulator;
    const target = fx.target;
    const fn = await startOutageFunction(target.url);
    target.stampMs = Date.now() - 5 * MINUTE;
    await invokeOnce(fn, 'warm', LONG_DEADLINE_MS);
    emu.enqueueFault({ status: 503 }, 1_000_000, 'metrics');
    const downStamp = Date.now() - 4 * MINUTE;
    target.stampMs = downStamp;
    const down = await invokeOnce(fn, 'down', OUTAGE_DEADLINE_MS);
    assert.equal(down.spool!.pending, SERIES + (down.spool!.selfMetrics ?? 0));
    emu.clearFaults('metrics');

    // Another writer changes the state object before each of the function's writes: every conditional write gets 412.
    const objects = emu.objectStorage.buckets.get(BUCKET)!;
    emu.objectStorage.beforePut = (address) => {
      const current = objects.get(address.object);
      if (current) emu.objectStorage.putDirect(BUCKET, address.object, current.bytes);
    };
    target.stampMs = Date.now() - 3 * MINUTE;
    let back: InvocationSummary;
    try {
      back = await invokeOnce(fn, 'back, every write refused', LONG_DEADLINE_MS);
    } finally {
      emu.objectStorage.beforePut = undefined;
    }
    assert.equal(back.posted, SERIES, 'the fresh data posted');
    assert.equal(back.spool!.replayed, 0, 'not claimed, so not replayed (it used to be replayed, then sent again by the next invocation)');
    assert.equal(back.spool!.pending, down.spool!.pending, 'the stored spool is unchanged');

    target.stampMs = Date.now() - 2 * MINUTE;
    const after = await invokeOnce(fn, 'after', LONG_DEADLINE_MS);
    assert.equal(after.spool!.posted, down.spool!.pending, 'replayed once');
    assert.equal(after.spool!.pending, 0);
    const { bySeries } = storedPoints(emu.accepted);
    assert.equal(bySeries.size, SERIES);
    for (const [series, times] of bySeries) {
      assert.equal(times.filter((t) => t === downStamp).length, 1, `series ${series}: the outage point stored once`);
      assert.equal(times.length, 4, `series ${series}: warm, down, back and after, each once`);
    }
  });

  test('a large spool with the ingestion still down (heap bounded as in 256 MB): the spool is merged and stored before the deadline', async () => {
    const emu = fx.stack.emulator;
    // 20,000 spooled (about what a 256 MB function's memory holds: SPOOL_MAX_SERIES's most there is
    // 21,845) + 50,000 fresh undelivered series: seconds of merging and encoding on a busy 2-core
    // machine, more than the 3.5 s kept for the self-metrics and the response.
    const SPOOLED = 20_000;
    const FRESH = 50_000;
    const DEADLINE_MS = 24_000;
    let lines = SERIES;
    const { url, close } = await listenLocal(
      createServer((_req, res) => {
        const out = ['# TYPE big_total counter'];
        for (let i = 0; i < lines; i++) out.push(`big_total{series="${i}"} ${i}`);
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(out.join('\n') + '\n');
      }),
    );
    try {
      emu.reset();
      emu.objectStorage.clearObjects();
      emu.objectStorage.createBucket(BUCKET);
      const fn = await fx.stack.startFn(
        {
          METRICS_ENDPOINT: url,
          STATE_BUCKET: BUCKET,
          OBJECT_STORAGE_NAMESPACE: emu.objectStorage.namespace,
          DERIVED_SERIES: 'none',
          SPOOL_MAX_SERIES: String(SPOOLED),
          SCRAPE_SAMPLE_LIMIT: String(2 * FRESH),
          POST_CALLS_PER_SECOND: '200',
          POST_CONCURRENCY: '8',
        },
        ['--max-old-space-size=128'],
        { memoryMb: 256 },
      );
      // Warm-up (ingestion up, small scrape): the SDK and the state bundle load.
      const warm = await fn.invoke({ deadline: new Date(Date.now() + LONG_DEADLINE_MS) });
      assert.equal(warm.status, 200, warm.body.slice(0, 300));

      // A state holding a spool of 30-minute-old series, as an outage would have left it.
      const name = stateObjectName({ endpoints: [new URL(url)], namespace: 'bharatmart', compartmentId: COMPARTMENT });
      const doc = emptyStateDocument();
      const oldMs = Date.now() - 30 * MINUTE;
      const spooled: SpoolEntry[] = Array.from({ length: SPOOLED }, (_, i) => ({
        namespace: 'bharatmart',
        compartmentId: COMPARTMENT,
        name: 'old_total',
        dimensions: { series: String(i), instance: 'old:9100' },
        points: [[oldMs, i]],
      }));
      doc.spool = encodeSpool(spooled);
      emu.objectStorage.putDirect(BUCKET, name, encodeState(doc));

      lines = FRESH;
      emu.enqueueFault({ status: 503 }, 1_000_000, 'metrics');
      const logged = fn.stdout.length;
      const started = Date.now();
      const res = await fn.invoke({ deadline: new Date(started + DEADLINE_MS) });
      emu.clearFaults('metrics');
      assert.equal(res.status, 502, `answered by the function before its deadline, not timed out: ${res.status} ${res.body.slice(0, 300)}`);
      const line = await waitForLine(fn, (l) => fn.stdout.indexOf(l) >= logged && l.includes('"event":"invocation_summary"'), LOG_WAIT_MS);
      const summary = JSON.parse(line) as InvocationSummary;
      assert.equal(summary.series, FRESH);
      assert.equal(summary.posted, 0);
      assert.equal(summary.spool?.error, undefined, 'the spool was stored');
      assert.equal(summary.spool?.pending, SPOOLED, 'the spool is full: SPOOL_MAX_SERIES kept');
      // The fresh series displace the old ones, and the self-metrics (spooled too) go before the data of the same time.
      assert.deepEqual(summary.spool?.dropped, { full: FRESH + (summary.spool?.selfMetrics ?? 0) }, 'the oldest dropped as full, counted');

      // The stored spool: the newest SPOOL_MAX_SERIES, the fresh series first.
      const stored = decodeState(emu.objectStorage.buckets.get(BUCKET)!.get(name)!.bytes, name).doc;
      const entries = stored.spool?.e ?? [];
      assert.equal(entries.length, SPOOLED);
      const names = stored.spool!.s;
      assert.equal(entries.filter((e) => names[e[3]] === 'big_total').length, Math.min(FRESH, SPOOLED), 'the fresh series spooled, up to SPOOL_MAX_SERIES');
    } finally {
      await close();
    }
  });
});
