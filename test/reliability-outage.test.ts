/**
 * Nothing lost across an OCI outage, through the real function process with its state in the
 * emulator's Object Storage: ingestion resets every connection, then answers 503, then hangs, for
 * a run of invocations; then it is back. Every datapoint of every invocation is stored exactly
 * once, with the timestamp of its own scrape, and the counts add up over all the invocations.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InvocationSummary } from '../src/handler/summary';
import type { Fault } from '../src/emulator/server';
import { assertAccounted, stackAndTargetForSuite, summaryOf } from './helpers/reliability';

const BUCKET = 'fn-state';
const SERIES = 20;
/** Outage invocations per fault kind. */
const PER_PHASE = 3;
/** Each invocation's deadline: the outage ones spend it retrying, so it bounds the test's length. */
const DEADLINE_MS = 8000;

describe('reliability: nothing lost across an OCI outage (the spool)', () => {
  const fx = stackAndTargetForSuite();

  test('refusing, then 503, then hanging, then back: every datapoint stored once with its original timestamp', async () => {
    const emu = fx.stack.emulator;
    emu.reset();
    emu.objectStorage.createBucket(BUCKET);
    const fn = await fx.stack.startFn({
      METRICS_ENDPOINT: fx.target.url(`/ok?n=${SERIES}`),
      STATE_BUCKET: BUCKET,
      OBJECT_STORAGE_NAMESPACE: emu.objectStorage.namespace,
      DERIVED_SERIES: 'none',
      POST_TIMEOUT_MS: '1500',
      POST_CALLS_PER_SECOND: '200',
      POST_CONCURRENCY: '4',
    });
    const summaries: InvocationSummary[] = [];
    const invoke = async (): Promise<InvocationSummary> => {
      const res = await fn.invoke({ deadline: new Date(Date.now() + DEADLINE_MS) });
      // An invocation that delivered nothing is a 502; its summary is in the log line.
      const s = res.status === 200 ? summaryOf(res) : await lastSummary();
      // The log line carries the totals (its targets are trimmed): the per-target invariant is checked on 200s.
      if (res.status === 200) assertAccounted(s, `invocation ${summaries.length + 1}`);
      assert.equal(s.posted + s.failed + s.undelivered, s.series, `invocation ${summaries.length + 1}: posted + failed + undelivered == series`);
      summaries.push(s);
      return s;
    };
    const lastSummary = async (): Promise<InvocationSummary> => {
      const line = [...fn.stdout].reverse().find((l) => l.includes('"event":"invocation_summary"'));
      assert.ok(line, 'the summary was logged');
      return JSON.parse(line) as InvocationSummary;
    };

    const phases: Fault[] = [{ reset: true }, { status: 503 }, { hangMs: 600_000 }];
    for (const fault of phases) {
      emu.clearFaults('metrics');
      emu.enqueueFault(fault, 100_000, 'metrics');
      for (let i = 0; i < PER_PHASE; i++) {
        const logged = fn.stdout.length;
        const s = await invoke();
        assert.equal(s.posted, 0, `nothing got through (${JSON.stringify(fault)})`);
        assert.equal(s.undelivered, SERIES, 'every series undelivered');
        assert.ok(s.spool, `the spool is on (${fn.stdout.slice(logged).join('\n').slice(0, 400)})`);
        assert.equal(s.spool.pending, summaries.length * SERIES, 'every undelivered series kept');
        assert.deepEqual(s.spool.dropped, {});
      }
    }
    assert.equal(emu.accepted.filter((m) => m.name === 'faulty_ok_total').length, 0, 'nothing stored during the outage');

    // Back: the next invocations post their fresh data and replay the spool until it is empty.
    emu.clearFaults('metrics');
    for (let i = 0; i < 5 && (summaries.at(-1)!.spool?.pending ?? 0) > 0; i++) await invoke();
    const last = summaries.at(-1)!;
    assert.equal(last.spool?.pending, 0, 'the spool drained');

    const invocations = summaries.length;
    const freshPosted = summaries.reduce((a, s) => a + s.posted, 0);
    const replayPosted = summaries.reduce((a, s) => a + (s.spool?.posted ?? 0), 0);
    const dropped = summaries.reduce((a, s) => a + Object.values(s.spool?.dropped ?? {}).reduce((x, y) => x + (y ?? 0), 0), 0);
    assert.equal(dropped, 0, 'nothing dropped');
    assert.equal(freshPosted + replayPosted, invocations * SERIES, 'posted fresh + posted from the spool = every series of every invocation');

    // Every series has one datapoint per invocation, each at a distinct scrape time, none twice.
    const stored = emu.accepted.filter((m) => m.name === 'faulty_ok_total');
    const bySeries = new Map<string, number[]>();
    for (const m of stored) {
      const times = bySeries.get(m.dimensions.series!) ?? [];
      for (const d of m.datapoints) times.push(new Date(d.timestamp).getTime());
      bySeries.set(m.dimensions.series!, times);
    }
    assert.equal(bySeries.size, SERIES);
    const reference = [...bySeries.get('0')!].sort((a, b) => a - b);
    assert.equal(reference.length, invocations, 'one datapoint per invocation');
    assert.equal(new Set(reference).size, invocations, 'each at its own scrape time: none stored twice');
    for (const [series, times] of bySeries)
      assert.deepEqual(
        [...times].sort((a, b) => a - b),
        reference,
        `series ${series}`,
      );
    // Original timestamps: the outage invocations' points are older than the first invocation after it.
    const outage = PER_PHASE * phases.length;
    assert.ok(
      reference.slice(0, outage).every((t) => t < reference[outage]!),
      'replayed points keep their scrape time',
    );
    assert.equal(fn.alive, true);
  });
});
