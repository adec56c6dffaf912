/**
 * Reliability, ingestion side, through the real function process and the signature-verifying
 * emulator: 429 storms, 5xx, resets, hung connections, NON_ATOMIC rejections, 401 (clock skew) and
 * 404 (IAM) reported once, and bursts of errors that must never become silently skipped calls.
 * Every summary satisfies the accounting invariant; every attempt the function counts reached the wire.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeResourcePrincipal } from '../src/local/emulator/credentials';
import { startIngestionEmulator } from '../src/local/emulator/server';
import type { LocalFunction } from '../src/local/fn-agent';
import type { InvocationSummary } from '../src/handler/summary';
import { closedPort, COMPARTMENT } from './helpers/stack';
import { startFaultyTarget } from './helpers/faulty-target';
import { stackAndTargetForSuite, assertAccounted, lastInvocationLog, summaryOf } from './helpers/reliability';

/** Fast publishing settings so the suites stay short; the emulator sets the pace. */
const FAST = { POST_CALLS_PER_SECOND: '200', POST_CONCURRENCY: '8' };

describe('reliability: ingestion faults through the function process', () => {
  const fx = stackAndTargetForSuite();

  /** Stored data series (not self-metrics) of the faulty target's counter. */
  const storedData = () => fx.stack.emulator.accepted.filter((m) => m.name === 'faulty_ok_total').length;

  /**
   * The SDK's own retrier prints a warning per failed call ("All retry attempts have exhausted",
   * though the function then retries): the function keeps its log to its own structured lines.
   */
  function assertNoSdkRetrierNoise(fn: LocalFunction): void {
    const lines = [...fn.stdout, ...fn.stderr];
    assert.deepEqual(
      lines.filter((l) => /retry attempts have exhausted|Not Retrying|Retrying request/i.test(l)),
      [],
    );
    assert.deepEqual(
      lines.filter((l) => !l.startsWith('{')),
      [],
      'every log line is one JSON object',
    );
  }

  /** Every attempt the function counted is a call the emulator saw: nothing skipped client-side. */
  function assertEveryAttemptOnTheWire(s: InvocationSummary): void {
    assert.equal(s.requests, fx.stack.emulator.counters.postMetricData, 'requests counted == PostMetricData calls received');
  }

  test('429 storm with time to spare: backoff and pacing, nothing lost', async () => {
    fx.stack.emulator.reset();
    fx.stack.emulator.options.rateLimitPerSecond = 4;
    try {
      const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=600'), ...FAST });
      const s = summaryOf(await fn.invoke());
      assertAccounted(s, '429 storm');
      assert.equal(s.series, 600);
      assert.equal(s.posted, 600, `all posted (errors: ${JSON.stringify(s.errors)})`);
      assert.equal(s.selfMetrics.posted, 7);
      assert.ok(s.throttled > 0, 'the storm happened');
      assert.equal(s.throttled, fx.stack.emulator.counters.throttled);
      assertEveryAttemptOnTheWire(s);
      assert.equal(storedData(), 600, 'exactly once each');
      // Backoff keeps the storm bounded: without it 8 workers would hammer the limit ~hundreds of times.
      assert.ok(s.throttled <= 40, `throttled ${s.throttled} times for 13 calls`);
      await lastInvocationLog(fn);
      assertNoSdkRetrierNoise(fn);
    } finally {
      fx.stack.emulator.options.rateLimitPerSecond = undefined;
    }
  });

  test('500/502/503/504 and connection resets are retried: nothing lost, each attempt reached the wire', async () => {
    fx.stack.emulator.reset();
    for (const status of [500, 502, 503, 504]) fx.stack.emulator.enqueueFault({ status }, 2);
    fx.stack.emulator.enqueueFault({ reset: true }, 3);
    const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=300'), ...FAST });
    const s = summaryOf(await fn.invoke());
    assertAccounted(s, '5xx and resets');
    await lastInvocationLog(fn);
    assertNoSdkRetrierNoise(fn);
    assert.equal(s.posted, 300);
    assert.equal(s.failed + s.undelivered, 0);
    assert.equal(s.retries, 11, 'each of the 11 faults cost one retry');
    assertEveryAttemptOnTheWire(s);
    assert.equal(fx.stack.emulator.pendingFaults(), 0);
    assert.equal(storedData(), 300);
  });

  test('a hung connection is cut by POST_TIMEOUT_MS and retried', async () => {
    fx.stack.emulator.reset();
    fx.stack.emulator.enqueueFault({ hangMs: 300_000 }, 2);
    // 3 s: far above a healthy call on a busy machine, far below the hang.
    const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=60'), ...FAST, POST_TIMEOUT_MS: '3000' });
    const started = Date.now();
    const s = summaryOf(await fn.invoke());
    const elapsed = Date.now() - started;
    assertAccounted(s, 'hung connection');
    assert.equal(s.posted, 60);
    assert.equal(s.retries, 2);
    assert.ok(elapsed < 60_000, `the hangs cost about two timeouts, not the 300 s hang (${elapsed} ms)`);
    assertEveryAttemptOnTheWire(s);
  });

  test('a 2xx whose answer cannot be read (not JSON, malformed failedMetrics, oversized) is never sent again, and says so', async () => {
    fx.stack.emulator.reset();
    const bodies = [
      'this is not json',
      '{"failedMetricsCount":1,"failedMetrics":"oops"}',
      '{"failedMetrics":[{}]}',
      `{"failedMetrics":[],"pad":"${'x'.repeat(5 * 1024 * 1024)}"}`,
    ];
    for (const acceptedBody of bodies) fx.stack.emulator.enqueueFault({ acceptedBody });
    const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=200'), ...FAST });
    const s = summaryOf(await fn.invoke());
    assertAccounted(s, 'unreadable 2xx');
    assert.equal(fx.stack.emulator.pendingFaults(), 0, 'each of the four data calls got one of the bodies');
    assert.equal(s.posted, 200, 'a 2xx is an accepted call');
    assert.equal(s.retries, 0, `nothing sent again: ${JSON.stringify(s.errors)}`);
    assert.equal(s.requests, 5, 'four data calls and the self-metrics call');
    assertEveryAttemptOnTheWire(s);
    const stored = fx.stack.emulator.accepted.filter((m) => m.name === 'faulty_ok_total');
    assert.equal(stored.length, 200);
    assert.equal(
      stored.reduce((a, m) => a + m.datapoints.length, 0),
      200,
      'every datapoint stored once',
    );
    const noted = s.errors.filter((e) =>
      /^ingestion accepted the call but its answer could not be read \(.+\): any objects OCI rejected in it are unknown; not sent again$/.test(e.message),
    );
    assert.equal(
      noted.reduce((a, e) => a + e.metrics, 0),
      200,
      JSON.stringify(s.errors),
    );
    const causes = JSON.stringify(noted.map((e) => e.message));
    assert.ok(noted.some((e) => /not JSON/.test(e.message)) && noted.some((e) => /failedMetrics(\.map)? is (string|not a function)/.test(e.message)), causes);
    assert.ok(noted.some((e) => /entry without a message/.test(e.message)) && noted.some((e) => /larger than 4194304 bytes/.test(e.message)), causes);
  });

  test('NON_ATOMIC: objects OCI rejects are failed with its message, the rest of their batch is kept', async () => {
    fx.stack.emulator.reset();
    // The target's clock runs 8 minutes ahead of OCI's: the transform accepts its own timestamp
    // (within 9 minutes), OCI (the emulator, 6 minutes behind us) finds it 14 minutes ahead.
    const realNow = fx.stack.emulator.options.now;
    fx.stack.emulator.options.now = () => Date.now() - 6 * 60_000;
    fx.stack.emulator.options.maxClockSkewMs = 10 * 60_000;
    const other = await startFaultyTarget();
    try {
      const fn = await fx.stack.startFn({ METRICS_ENDPOINT: `${fx.target.url('/ts?ahead=480000')},${other.url('/ok?n=70')}`, ...FAST });
      const s = summaryOf(await fn.invoke());
      assertAccounted(s, 'failedMetrics');
      assert.equal(s.ok, true);
      assert.equal(s.series, 72);
      assert.equal(s.failed, 1);
      assert.equal(s.posted, 71);
      assert.equal(s.targets[0].failed, 1, 'attributed to the target that produced it');
      assert.equal(s.errors.length, 1);
      assert.match(s.errors[0].message, /more than 10 minutes in the future/);
      assert.equal(s.errors[0].metrics, 1);
      assert.equal(fx.stack.emulator.accepted.filter((m) => m.name === 'faulty_ts').length, 1, 'its batch-mate was kept');
      const failedMetric = fx.stack.emulator.accepted.find((m) => m.name === 'scrape_series_failed' && m.dimensions.instance === s.targets[0].instance)!;
      assert.equal(failedMetric.datapoints[0].value, 1, 'the failure is visible as a self-metric too');
      assert.equal((await lastInvocationLog(fn)).failed, 1);
    } finally {
      fx.stack.emulator.options.now = realNow;
      fx.stack.emulator.options.maxClockSkewMs = 300_000;
      await other.close();
    }
  });

  test('401 (a clock 15 minutes off): not retried, one call, reported once with the clock-skew hint', async () => {
    fx.stack.emulator.reset();
    const realNow = fx.stack.emulator.options.now;
    fx.stack.emulator.options.now = () => Date.now() + 15 * 60_000;
    try {
      const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=500'), ...FAST });
      const res = await fn.invoke();
      assert.equal(res.status, 502);
      const detail = (res.json as { detail: string }).detail;
      assert.match(detail, /none of 500 series was posted: 401 NotAuthenticated/);
      assert.match(detail, /clock is within 5 minutes/);
      assert.equal(fx.stack.emulator.counters.postMetricData, 1, 'one call: slow start saw the 401, nothing else was sent');
      const logged = await lastInvocationLog(fn);
      assert.equal(logged.requests, 1);
      assert.equal(logged.retries, 0);
      assert.equal(logged.errors.length, 1, 'reported once (not again for the self-metrics)');
      assert.equal(logged.errors[0].metrics, 500);
      assert.equal(logged.failed, 500);
      assert.deepEqual(logged.selfMetrics, { posted: 0, failed: 7 });
    } finally {
      fx.stack.emulator.options.now = realNow;
    }
  });

  test('404 (no IAM policy): not retried, one call, reported once with the policy hint', async () => {
    fx.stack.emulator.reset();
    fx.stack.emulator.options.authorizedCompartments = ['ocid1.compartment.oc1..someoneelse'];
    try {
      const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=500'), ...FAST });
      const res = await fn.invoke();
      assert.equal(res.status, 502);
      const detail = (res.json as { detail: string }).detail;
      assert.match(detail, /404 NotAuthorizedOrNotFound/);
      // The statement of the one IAM table, for the batch's compartment and namespace.
      const statement = String.raw`"Allow dynamic-group <the function's dynamic group> to use metrics in compartment id ocid1\.compartment\.oc1\.\.\w+`;
      assert.match(detail, new RegExp(`${statement} where target\\.metrics\\.namespace = 'bharatmart'"`));
      assert.equal(fx.stack.emulator.counters.postMetricData, 1);
      assert.equal((await lastInvocationLog(fn)).errors.length, 1);
    } finally {
      fx.stack.emulator.options.authorizedCompartments = undefined;
    }
  });

  test('ingestion unreachable: retried until the deadline, then a clear error naming the endpoint, in time', async () => {
    fx.stack.emulator.reset();
    const port = await closedPort();
    const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=120'), ...FAST, OCI_MONITORING_ENDPOINT: `http://127.0.0.1:${port}` });
    const deadline = new Date(Date.now() + 6000);
    const res = await fn.invoke({ deadline, timeoutMs: 6000 });
    assert.ok(Date.now() < deadline.getTime(), 'answered before the deadline');
    assert.equal(res.status, 502);
    const detail = (res.json as { detail: string }).detail;
    assert.match(
      detail,
      new RegExp(
        `none of 120 series was posted: not delivered before the invocation deadline \\(last error: network error reaching http://127\\.0\\.0\\.1:${port}: [^(]*ECONNREFUSED[^(]* \\(check OCI_MONITORING_ENDPOINT, and that the function's subnet reaches OCI services`,
      ),
    );
    const logged = await lastInvocationLog(fn);
    assert.ok(logged.retries > 0, 'retried meanwhile');
    assert.equal(logged.undelivered, 120);
    assert.equal(fn.alive, true);
  });

  test('a burst of 5xx (more than the SDK breaker tolerates) never becomes silently skipped calls', async () => {
    fx.stack.emulator.reset();
    // 24 consecutive 503s: the SDK's default breaker opens after 10 calls at 80% errors and would
    // then fail calls without sending them. Ours is disabled: every attempt is a real request.
    fx.stack.emulator.enqueueFault({ status: 503 }, 24);
    const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=1000'), ...FAST });
    const s = summaryOf(await fn.invoke());
    assertAccounted(s, '5xx burst');
    assert.equal(s.posted, 1000, JSON.stringify(s.errors));
    assert.equal(s.retries, 24);
    assertEveryAttemptOnTheWire(s);
    // Then 20 consecutive failing invocations (every call rejected), and a healthy one posts everything.
    fx.stack.emulator.reset();
    const small = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=10'), ...FAST });
    fx.stack.emulator.enqueueFault({ status: 400, code: 'InvalidParameter' }, 40);
    for (let i = 0; i < 20; i++) {
      const r = await small.invoke();
      assert.equal(r.status, 502, `failing invocation ${i}`);
    }
    assert.equal(fx.stack.emulator.counters.postMetricData, 40, 'each failing invocation sent its two calls');
    fx.stack.emulator.reset();
    const healthy = summaryOf(await small.invoke());
    assertAccounted(healthy, 'after the failures');
    assert.equal(healthy.posted, 10);
    assert.equal(healthy.selfMetrics.posted, 7);
    assertEveryAttemptOnTheWire(healthy);
  });

  test('control: the same burst against an SDK client with its default breaker does skip calls', async () => {
    // Proves the test above can fail: with the SDK default, calls stop reaching the server.
    const dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-cb-'));
    const rp = await makeResourcePrincipal(dir);
    const emulator = await startIngestionEmulator({ trustedIssuers: [rp.issuerPublicKeyPem] });
    const saved = { ...process.env };
    try {
      Object.assign(process.env, rp.env);
      const common = await import('oci-common');
      const monitoring = await import('oci-monitoring');
      const client = new monitoring.MonitoringClient(
        { authenticationDetailsProvider: common.ResourcePrincipalAuthenticationDetailsProvider.builder() },
        { retryConfiguration: common.NoRetryConfigurationDetails, circuitBreaker: new common.CircuitBreaker() },
      );
      client.endpoint = emulator.url;
      emulator.enqueueFault({ status: 503 }, 24);
      const body = {
        metricData: [
          { namespace: 'cb_test', compartmentId: COMPARTMENT, name: 'x', dimensions: { a: 'b' }, datapoints: [{ timestamp: new Date(), value: 1 }] },
        ],
      };
      let attempts = 0;
      for (let i = 0; i < 30; i++) {
        attempts++;
        await client.postMetricData({ postMetricDataDetails: body }).catch(() => undefined);
      }
      assert.ok(emulator.counters.postMetricData < attempts, `the default breaker skipped calls (${emulator.counters.postMetricData} of ${attempts} sent)`);
      client.close();
    } finally {
      for (const k of Object.keys(rp.env)) if (!(k in saved)) delete process.env[k];
      await emulator.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
