/**
 * POST_CONCURRENCY=auto (src/publish/inflight.ts): the rule; the publisher holding what the rule
 * gives (more than 8 calls in flight when answers are slow, never more than its memory share
 * holds); and the real function process posting to an ingestion endpoint whose answers take
 * 400 ms, seen from both sides (its summary, and the emulator's own record of overlapping calls).
 * No wall-clock thresholds: the assertions are about how many calls were in flight at once.
 */
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { AUTO_IN_FLIGHT, autoInFlight, batchBodyBytes, nextLatencyMs } from '../src/publish/inflight';
import { publish, type PublishOptions } from '../src/publish/publisher';
import type { PostBatch } from '../src/publish/sink';
import type { OciMetric } from '../src/types/model';
import type { CallRecord } from '../src/local/emulator/calls';
import { startStack, type Stack } from './helpers/stack';
import { startFaultyTarget, type FaultyTarget } from './helpers/faulty-target';
import { assertAccounted, summaryOf } from './helpers/reliability';

const MB = 1024 * 1024;

function metric(i: number, dims = 3, valueChars = 12): OciMetric {
  const dimensions: Record<string, string> = {};
  for (let d = 0; d < dims; d++) dimensions[`label_${d}`] = `v${i}`.padEnd(valueChars, 'x');
  return {
    namespace: 'prom2oci_test',
    compartmentId: 'ocid1.compartment.oc1..' + 'a'.repeat(60),
    name: `metric_${i}`,
    dimensions,
    datapoints: [{ timestamp: new Date('2026-12-05T10:00:00.123Z'), value: -1.2345678901234568e-300, count: 1 }],
  };
}
const metrics = (n: number, dims?: number, valueChars?: number) => Array.from({ length: n }, (_, i) => metric(i, dims, valueChars));

describe('the auto number of batches held', () => {
  test('the minimum before any answer, and where the minimum suffices (fast answers, a low rate)', () => {
    assert.equal(autoInFlight(49, undefined, 1000, 16 * MB), AUTO_IN_FLIGHT.min);
    assert.equal(autoInFlight(49, 50, 1000, 16 * MB), AUTO_IN_FLIGHT.min, '49/s x 50 ms x 1.5 = 3.7');
    assert.equal(autoInFlight(10, 300, 1000, 16 * MB), AUTO_IN_FLIGHT.min, '10/s x 300 ms x 1.5 = 4.5');
  });

  test('rate x latency x headroom when answers are slow, at most the maximum', () => {
    assert.equal(autoInFlight(49, 300, 1000, 16 * MB), Math.ceil(49 * 0.3 * AUTO_IN_FLIGHT.headroom));
    assert.equal(autoInFlight(49, 2000, 1000, 16 * MB), AUTO_IN_FLIGHT.max);
    assert.ok(AUTO_IN_FLIGHT.max / 0.95 >= 49, 'the maximum reaches 49 calls/s at 950 ms');
  });

  test('above the minimum, only as many as the memory share holds', () => {
    assert.equal(autoInFlight(49, 600, 1 * MB, 16 * MB), 16);
    assert.equal(autoInFlight(49, 600, 4 * MB, 16 * MB), AUTO_IN_FLIGHT.min, 'never below the minimum');
    assert.equal(autoInFlight(49, 600, 1000, 0), AUTO_IN_FLIGHT.min, 'no share: the minimum');
  });

  test('the latency estimate: the first answer, then a fifth of the way to each new one', () => {
    assert.equal(nextLatencyMs(undefined, 300), 300);
    assert.equal(nextLatencyMs(300, 800), 400);
    assert.equal(nextLatencyMs(400, -5), 320, 'a clock step back counts as 0');
  });

  test("a batch's body is estimated from above, and not by more than 3x", () => {
    for (const [dims, valueChars] of [
      [0, 0],
      [3, 12],
      [20, 512],
    ]) {
      const batch = metrics(50, dims, valueChars);
      const body = Buffer.byteLength(JSON.stringify({ metricData: batch, batchAtomicity: 'NON_ATOMIC' }));
      const estimate = batchBodyBytes(batch);
      assert.ok(estimate >= body, `${dims} dimensions of ${valueChars} chars: estimate ${estimate} >= body ${body}`);
      assert.ok(estimate <= 3 * body, `${dims} dimensions of ${valueChars} chars: estimate ${estimate} <= 3 x body ${body}`);
    }
  });
});

/** A post that answers after `latencyMs`, counting the calls in flight and the slowest answer (a busy machine's timers fire late). */
function slowPost(latencyMs: number): { post: PostBatch; peak: () => number; slowestMs: () => number } {
  let inFlight = 0;
  let peak = 0;
  let slowestMs = 0;
  const post: PostBatch = async () => {
    peak = Math.max(peak, ++inFlight);
    const started = Date.now();
    try {
      await sleep(latencyMs);
    } finally {
      inFlight--;
      slowestMs = Math.max(slowestMs, Date.now() - started);
    }
    return { rejected: [] };
  };
  return { post, peak: () => peak, slowestMs: () => slowestMs };
}

const options = (o: Partial<PublishOptions>): PublishOptions => ({
  callsPerSecond: 40,
  concurrency: 'auto',
  heldBytesMax: 16 * MB,
  postTimeoutMs: 30_000,
  stopAtMs: Date.now() + 600_000,
  ...o,
});

describe('the publisher under POST_CONCURRENCY', () => {
  test('auto, answers in 500 ms at 40 calls/s: more than 8 in flight, within what the rule allows', async () => {
    const slow = slowPost(500);
    const r = await publish(metrics(50 * 40), slow.post, options({}));
    assert.equal(r.posted, 2000);
    assert.ok(slow.peak() > AUTO_IN_FLIGHT.min, `more than ${AUTO_IN_FLIGHT.min} in flight (peak ${slow.peak()})`);
    const allowed = autoInFlight(40, slow.slowestMs(), 0, 16 * MB);
    assert.ok(slow.peak() <= allowed, `at most rate x latency x headroom (peak ${slow.peak()}, ${allowed} at the slowest answer, ${slow.slowestMs()} ms)`);
    // Held: in flight, or built and waiting for its start slot.
    assert.ok(r.heldPeak >= slow.peak() && r.heldPeak <= allowed, `held at most ${r.heldPeak}`);
  });

  test('a fixed number is never exceeded, however slow the answers', async () => {
    const slow = slowPost(500);
    const r = await publish(metrics(50 * 24), slow.post, options({ concurrency: 8 }));
    assert.equal(r.posted, 1200);
    assert.ok(slow.peak() <= 8 && r.heldPeak <= 8, `peak ${slow.peak()}, held ${r.heldPeak}`);
  });

  test('auto with batches too large for its memory share holds the minimum', async () => {
    const slow = slowPost(500);
    const r = await publish(metrics(50 * 24), slow.post, options({ heldBytesMax: 1 }));
    assert.equal(r.posted, 1200);
    assert.ok(slow.peak() <= AUTO_IN_FLIGHT.min, `peak ${slow.peak()}`);
  });
});

/** The most calls of these that overlapped, by the emulator's own clock. */
function overlapPeak(calls: CallRecord[]): number {
  const edges = calls.flatMap((c) => [
    [c.time, 1],
    [c.time + c.durationMs, -1],
  ]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let n = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (n += d));
  return peak;
}

describe('the function process against answers that take 400 ms', () => {
  let stack: Stack;
  let target: FaultyTarget;
  const SERIES = 3000; // 60 data calls
  before(async () => {
    stack = await startStack();
    target = await startFaultyTarget();
  });
  after(async () => {
    await stack?.close();
    await target?.close();
  });

  for (const concurrency of ['auto (the default)', '8'] as const) {
    test(`POST_CONCURRENCY=${concurrency}`, async (t) => {
      stack.emulator.reset();
      stack.emulator.options.latencyMs = 400;
      try {
        const fn = await stack.startFn({ METRICS_ENDPOINT: target.url(`/ok?n=${SERIES}`), ...(concurrency === '8' ? { POST_CONCURRENCY: '8' } : {}) });
        const s = summaryOf(await fn.invoke({ deadline: new Date(Date.now() + 300_000) }));
        assertAccounted(s, concurrency);
        assert.equal(s.posted, SERIES, `all posted (errors: ${JSON.stringify(s.errors)})`);
        assert.equal(stack.emulator.accepted.filter((m) => m.name === 'faulty_ok_total').length, SERIES, 'each series stored once');
        const dataCalls = stack.emulator.calls.filter((c) => c.route === 'metrics' && c.metricCount === 50);
        const seen = overlapPeak(dataCalls);
        const peak = s.pacing.inFlightPeak ?? 0;
        t.diagnostic(`in flight at most: function ${peak}, emulator ${seen}`);
        // The emulator logs a call's end a moment after the function has its answer (and may start
        // the next call): its count may pass the function's by a call or two, never by 4.
        if (concurrency === '8') {
          assert.ok(peak <= 8 && seen <= 8 + 2, `fixed: at most 8 in flight (function ${peak}, emulator ${seen})`);
        } else {
          assert.ok(peak > 8 && peak <= AUTO_IN_FLIGHT.max, `auto: more than 8 in flight (function ${peak})`);
          assert.ok(seen >= 8 + 4, `the emulator saw well over 8 calls at once (${seen})`);
        }
      } finally {
        stack.emulator.options.latencyMs = 0;
      }
    });
  }
});
