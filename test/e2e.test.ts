/**
 * End to end: `node dist/func.js` driven exactly as the Fn agent drives it, the real oci-monitoring
 * SDK signing real requests with resource-principal credentials, the signature-verifying ingestion
 * emulator, and real targets (the BharatMart simulator built with prom-client).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBharatMart, type BharatMart } from '../src/local/demo/bharatmart';
import type { InvocationSummary } from '../src/handler/summary';
import type { OciMetric } from '../src/types/model';
import { assertAccounted } from './helpers/accounting';
import { closedPort, COMPARTMENT, startStack, type Stack } from './helpers/stack';
import { servedAtLeast } from './helpers/wait';

describe('function end to end (Fn socket protocol, RP auth, emulator)', () => {
  let stack: Stack;
  let shop: BharatMart;
  before(async () => {
    stack = await startStack();
    shop = await startBharatMart({ traffic: { intervalMs: 20 } });
    await servedAtLeast(shop, 15); // some traffic so histograms have observations
  });
  after(async () => {
    await stack?.close();
    await shop?.stop();
  });

  test('an empty body scrapes BharatMart and posts every series with signed requests', async () => {
    stack.emulator.reset();
    const fn = await stack.startFn({ METRICS_ENDPOINT: shop.url, EXTRA_DIMENSIONS: 'env=test' });
    const res = await fn.invoke({ body: '' });
    assert.equal(res.status, 200, res.body);
    const s = res.json as InvocationSummary;
    assert.equal(s.ok, true);
    assert.equal(s.dryRun, false);
    assert.equal(s.targets.length, 1);
    assert.equal(s.targets[0].up, true);
    assert.ok(s.samples > 50, `samples ${s.samples}`);
    assert.equal(s.posted, s.series);
    assert.equal(s.failed, 0);
    assertAccounted(s);
    assert.equal(s.requests, stack.emulator.counters.postMetricData);
    assert.ok(stack.emulator.calls.every((c) => c.route !== 'metrics' || (c.status === 200 && c.authKind === 'resource-principal')));
    assert.ok(stack.emulator.calls.every((c) => c.metricCount <= 50));

    const stored = stack.emulator.accepted;
    assert.equal(stored.length, s.posted + s.selfMetrics.posted);
    const byName = (n: string) => stored.filter((m) => m.name === n);
    const durSum = byName('http_request_duration_seconds_sum');
    assert.ok(durSum.length > 1, 'one _sum per labelled histogram series');
    for (const m of durSum) {
      assert.ok(m.dimensions.method && m.dimensions.route && m.dimensions.status_code, JSON.stringify(m.dimensions));
      assert.equal(m.dimensions.env, 'test');
      assert.match(m.dimensions.instance, /^127\.0\.0\.1:\d+$/);
      assert.equal(m.compartmentId, COMPARTMENT);
      assert.equal(m.namespace, 'bharatmart');
    }
    assert.equal(byName('http_request_duration_seconds_count').length, durSum.length);
    assert.equal(byName('http_request_duration_seconds_avg').length, 0, 'no lifetime average; without STATE_BUCKET nothing is derived');
    assert.ok((s.notDerived.state_off ?? 0) > 0, JSON.stringify(s.notDerived));
    assert.equal(byName('http_request_duration_seconds_bucket').length, 0, 'buckets only with HISTOGRAM_BUCKETS=true');
    assert.ok((s.skipped.histogram_buckets_disabled ?? 0) > 0);
    const up = byName('up');
    assert.equal(up.length, 1);
    assert.equal(up[0].datapoints[0].value, 1);
    assert.equal(byName('scrape_samples_scraped')[0].datapoints[0].value, s.samples);
    assert.equal(byName('scrape_series_posted')[0].datapoints[0].value, s.posted);
    // One structured log line summarises the invocation.
    const lines = fn.stdout.filter((l) => l.includes('"invocation complete"'));
    assert.equal(lines.length, 1);
    const logged = JSON.parse(lines[0]) as { posted: number };
    assert.equal(logged.posted, s.posted);
  });

  test('warm invocations reuse the process and clients; counters grow', async () => {
    stack.emulator.reset();
    const fn = await stack.startFn({ METRICS_ENDPOINT: shop.url, HISTOGRAM_BUCKETS: 'true' });
    const first = (await fn.invoke()).json as InvocationSummary;
    await new Promise((r) => setTimeout(r, 100));
    const second = (await fn.invoke()).json as InvocationSummary;
    assert.equal(first.ok && second.ok, true);
    assert.equal(fn.alive, true);
    const buckets = stack.emulator.accepted.filter((m) => m.name === 'http_request_duration_seconds_bucket');
    assert.ok(buckets.length > 0 && buckets.every((m) => typeof m.dimensions.le === 'string'));
    const total = (name: string, when: number) =>
      stack.emulator.accepted.filter((m) => m.name === name && m.datapoints[0].timestamp >= when).reduce((a, m) => a + m.datapoints[0].value, 0);
    const t2 = Math.min(...stack.emulator.accepted.filter((m) => m.name === 'up').map((m) => m.datapoints[0].timestamp)) + 1;
    assert.ok(total('http_requests_total', t2) > 0);
  });

  test('{"dryRun": true} posts nothing and returns the metric objects, even without COMPARTMENT_OCID', async () => {
    stack.emulator.reset();
    const fn = await stack.startFn({ METRICS_ENDPOINT: shop.url, COMPARTMENT_OCID: '' });
    const res = await fn.invoke({ body: { dryRun: true } });
    assert.equal(res.status, 200, res.body);
    const s = res.json as InvocationSummary & { metricData: OciMetric[] };
    assert.equal(s.dryRun, true);
    assert.equal(stack.emulator.counters.calls, 0, 'nothing reached OCI');
    assert.ok(s.metricData.length > 0);
    assert.equal(s.metricData.length, s.series + s.targets.length * 7, 'data series plus seven self-metrics per target (state_ok only with a state store)');
    assert.equal(s.skippedSamples!.length, s.targets[0].skipped);
    assertAccounted(s);
    // The cost forecast counts exactly the objects it would post.
    assert.equal(s.forecast.metricStreams, s.metricData.length);
    assert.equal(s.forecast.datapointsPerMonth, s.metricData.length * 43_800);
    assert.equal(s.forecast.postCallsPerInvocation, Math.ceil(s.series / 50) + Math.ceil((s.metricData.length - s.series) / 50));
    assert.equal(s.forecast.monthlyCost, undefined, 'no price configured, no cost');
    // Without a dry run the missing compartment is a configuration error naming the key.
    const real = await fn.invoke({ body: '' });
    assert.equal(real.status, 502);
    assert.match(real.body, /COMPARTMENT_OCID/);
  });

  test('one target down: partial success, up=0 posted for it with the cause', async () => {
    stack.emulator.reset();
    const dead = `http://127.0.0.1:${await closedPort()}/metrics`;
    const fn = await stack.startFn({ METRICS_ENDPOINT: `${shop.url},${dead}` });
    const res = await fn.invoke();
    assert.equal(res.status, 200, res.body);
    const s = res.json as InvocationSummary;
    assert.equal(s.ok, true);
    const down = s.targets.find((t) => t.url === dead)!;
    assert.equal(down.up, false);
    assert.match(down.error!, /connection refused/);
    const ups = stack.emulator.accepted.filter((m) => m.name === 'up');
    assert.deepEqual(ups.map((m) => m.datapoints[0].value).sort(), [0, 1]);
    assertAccounted(s);
  });

  test('every target down: a function error naming the cause, after posting up=0', async () => {
    stack.emulator.reset();
    const dead = `http://127.0.0.1:${await closedPort()}/metrics`;
    const fn = await stack.startFn({ METRICS_ENDPOINT: dead });
    const res = await fn.invoke();
    assert.equal(res.status, 502);
    const body = res.json as { message: string; detail: string };
    assert.match(body.detail, /down .*connection refused/);
    assert.doesNotMatch(res.body + fn.stdout.join('\n') + fn.stderr.join('\n'), /\n\s+at /, 'no stack trace');
    const ups = stack.emulator.accepted.filter((m) => m.name === 'up');
    assert.equal(ups.length, 1);
    assert.equal(ups[0].datapoints[0].value, 0);
    assert.equal(fn.alive, true, 'the container survives');
  });

  test('a missing IAM policy (404) is reported once with the policy hint, not retried', async () => {
    stack.emulator.reset();
    stack.emulator.options.authorizedCompartments = ['ocid1.compartment.oc1..someotherone'];
    try {
      const fn = await stack.startFn({ METRICS_ENDPOINT: shop.url });
      const res = await fn.invoke();
      assert.equal(res.status, 502);
      assert.match(res.body, /404/);
      assert.match(res.body, /use metrics/);
      const posts = stack.emulator.calls.filter((c) => c.route === 'metrics');
      assert.ok(posts.length <= 2, `one data call and one self-metrics call at most, saw ${posts.length}`);
    } finally {
      stack.emulator.options.authorizedCompartments = undefined;
    }
  });

  test('429 and 503 are retried: nothing lost', async () => {
    stack.emulator.reset();
    stack.emulator.enqueueFault({ status: 429, code: 'TooManyRequests' }, 2);
    stack.emulator.enqueueFault({ status: 503, code: 'ServiceUnavailable' }, 1);
    const fn = await stack.startFn({ METRICS_ENDPOINT: shop.url });
    const res = await fn.invoke();
    assert.equal(res.status, 200, res.body);
    const s = res.json as InvocationSummary;
    assert.equal(s.posted, s.series);
    assert.ok(s.retries >= 3, `retries ${s.retries}`);
    assert.ok(s.throttled >= 2);
    assertAccounted(s);
  });

  test('bad settings and bad bodies fail fast, naming the cause, posting nothing', async () => {
    stack.emulator.reset();
    const bad = await stack.startFn({ METRICS_ENDPOINT: shop.url, METRICS_NAMESPACE: 'oci_reserved' });
    const r1 = await bad.invoke();
    assert.equal(r1.status, 502);
    assert.match(r1.body, /METRICS_NAMESPACE/);
    const fn = await stack.startFn({ METRICS_ENDPOINT: shop.url });
    const r2 = await fn.invoke({ body: 'not json', contentType: 'text/plain' });
    assert.equal(r2.status, 502);
    assert.match(r2.body, /not JSON/);
    const r3 = await fn.invoke({ body: { dryRun: 'yes' } });
    assert.equal(r3.status, 502);
    assert.match(r3.body, /dryRun/);
    assert.equal(stack.emulator.counters.calls, 0);
    // Unknown keys (e.g. a Notifications alarm message) trigger a normal run.
    const r4 = await fn.invoke({ body: { dedupeKey: 'x', title: 'prom2oci-tick', type: 'FIRING_TO_FIRING' } });
    assert.equal(r4.status, 200, r4.body);
  });
});
