/**
 * The publisher with the real SDK client (RP auth, signed requests) against the emulator:
 * batching, pacing, retries, deadline and error reporting.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createAuth, createMonitoringClient } from '../src/oci/clients';
import { burstOf, Outcome, publish, type PublishOptions } from '../src/publish/publisher';
import { sdkPostBatch, type PostBatch } from '../src/publish/sink';
import type { OciMetric } from '../src/types/model';
import { COMPARTMENT, startStack, type Stack } from './helpers/stack';

/** n distinct valid metric objects. */
function metrics(n: number, name = 'requests_total'): OciMetric[] {
  const ts = new Date();
  return Array.from({ length: n }, (_, i) => ({
    namespace: 'prom2oci_test',
    compartmentId: COMPARTMENT,
    name,
    dimensions: { instance: '127.0.0.1:9', series: String(i) },
    datapoints: [{ timestamp: ts, value: i }],
  }));
}

describe('publisher against the emulator', () => {
  let stack: Stack;
  let post: PostBatch;
  const opts = (o: Partial<PublishOptions> = {}): PublishOptions => ({
    callsPerSecond: 1000,
    concurrency: 4,
    postTimeoutMs: 10_000,
    stopAtMs: Date.now() + 20_000,
    ...o,
  });
  before(async () => {
    stack = await startStack();
    Object.assign(process.env, stack.rpEnv); // the SDK reads the RP variables from process.env
    const auth = createAuth(process.env);
    post = sdkPostBatch(createMonitoringClient(auth, { monitoringEndpoint: stack.emulator.url }));
  });
  after(() => stack?.close());

  test('posts in batches of at most 50 and accounts for every metric', async () => {
    stack.emulator.reset();
    const r = await publish(metrics(420), post, opts());
    assert.equal(r.posted, 420);
    assert.equal(r.requests, 9);
    assert.equal(stack.emulator.accepted.length, 420);
    assert.ok(stack.emulator.calls.every((c) => c.metricCount <= 50 && c.authKind === 'resource-principal'));
  });

  test("paces calls at the configured rate, with a burst that keeps any second under OCI's 50", async () => {
    stack.emulator.reset();
    const started = Date.now();
    // When the publisher started each call (the emulator's arrival times would add the transit, which a busy machine stretches).
    const starts: number[] = [];
    const timed: PostBatch = (batch, signal) => {
      starts.push(Date.now());
      return post(batch, signal);
    };
    const r = await publish(metrics(50 * 30), timed, opts({ callsPerSecond: 10, concurrency: 8 }));
    const elapsed = Date.now() - started;
    assert.equal(r.posted, 1500);
    // 30 calls at 10/s with a burst of 10: the last starts >= 2 s after the first.
    assert.ok(elapsed >= 1950, `elapsed ${elapsed} ms`);
    const times = starts.sort((a, b) => a - b);
    const limit = 10 + burstOf(10);
    for (let i = limit; i < times.length; i++) assert.ok(times[i] - times[i - limit] >= 900, `at most ${limit} starts in any second`);
    for (let rate = 1; rate <= 50; rate++) assert.ok(rate + burstOf(rate) <= 51 && burstOf(rate) >= 1, `rate ${rate}`);
    assert.equal(burstOf(48), 2);
  });

  test("rejected objects (NON_ATOMIC) are failed with OCI's message; the rest are kept", async () => {
    stack.emulator.reset();
    const batch = metrics(5);
    batch[2] = { ...batch[2], datapoints: [{ timestamp: new Date(Date.now() - 3 * 3600_000), value: 1 }] };
    const r = await publish(batch, post, opts());
    assert.equal(r.posted, 4);
    assert.equal(r.failed, 1);
    assert.equal(r.outcome[2], Outcome.Failed);
    assert.match(r.errors[0].message, /timestamp|old|past/i);
    assert.equal(stack.emulator.accepted.length, 4);
  });

  test('a hung connection is cut by POST_TIMEOUT_MS and retried', async () => {
    stack.emulator.reset();
    // The timeout is far above a normal call on a busy machine, the hang far above the timeout.
    stack.emulator.enqueueFault({ hangMs: 60_000 }, 1);
    const r = await publish(metrics(10), post, opts({ postTimeoutMs: 5000 }));
    assert.equal(r.posted, 10);
    assert.equal(r.retries, 1);
  });

  test('connection resets and 5xx are retried; 400 is not', async () => {
    stack.emulator.reset();
    stack.emulator.enqueueFault({ reset: true }, 1);
    stack.emulator.enqueueFault({ status: 502 }, 1);
    const ok = await publish(metrics(10), post, opts());
    assert.equal(ok.posted, 10);
    assert.equal(ok.retries, 2);
    stack.emulator.enqueueFault({ status: 400, code: 'InvalidParameter', message: 'bad thing' }, 1);
    const bad = await publish(metrics(10), post, opts());
    assert.equal(bad.failed, 10);
    assert.equal(bad.retries, 0);
    assert.match(bad.errors[0].message, /400 InvalidParameter: bad thing/);
  });

  test('401 stops publishing at once with the clock-skew hint (no silent circuit breaker)', async () => {
    stack.emulator.reset();
    stack.emulator.enqueueFault({ status: 401, code: 'NotAuthenticated', message: 'no' }, 50);
    const r = await publish(metrics(300), post, opts({ concurrency: 1 }));
    assert.equal(r.failed, 300);
    assert.equal(r.requests, 1, 'not retried, no further calls');
    assert.match(r.fatal!, /clock/);
    // The next run makes calls again: no breaker opened.
    stack.emulator.reset();
    const again = await publish(metrics(300), post, opts());
    assert.equal(again.posted, 300);
  });

  // Last in this suite: a call cut off by the deadline may still reach the emulator after the next
  // test's reset() and take a fault queued for that test.
  test('the deadline stops new work and reports what was not delivered', async () => {
    stack.emulator.reset();
    // 20 calls of 1 s one at a time need 20 s; the deadline at 3 s must end it long before that,
    // with room for a busy machine's slow timers.
    stack.emulator.options.latencyMs = 1000;
    try {
      const started = Date.now();
      const r = await publish(metrics(50 * 20), post, opts({ concurrency: 1, stopAtMs: Date.now() + 3000 }));
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 10_000, `returned after ${elapsed} ms`);
      assert.ok(r.posted > 0 && r.undelivered > 0, JSON.stringify({ posted: r.posted, undelivered: r.undelivered }));
      assert.equal(r.posted + r.failed + r.undelivered, 1000);
      assert.match(r.errors.map((e) => e.message).join(';'), /deadline/);
    } finally {
      stack.emulator.options.latencyMs = 0;
    }
  });
});
