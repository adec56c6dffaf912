/**
 * Real expositions through the real function: Debian's node_exporter and prometheus server and the
 * prom-client BharatMart simulator. Each exposition is captured once and served unchanged from
 * 127.0.0.1, so the function (dry run over the Fn socket) and Python's prometheus_client read the
 * same bytes: every sample Python reads must be a posted series with the same value, or a skip.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startBharatMart } from '../src/local/demo/bharatmart';
import type { InvocationSummary } from '../src/handler/summary';
import { SCRAPE_ACCEPT } from '../src/scrape/scrape';
import { sanitizeMetricName } from '../src/transform/names';
import { SELF_METRICS } from '../src/transform/selfMetrics';
import type { OciMetric } from '../src/types/model';
import { startNodeExporter, startPrometheusServer, waitForSelfScrape, type RunningExporter } from './helpers/exporters';
import { pythonSamples } from './helpers/python-reference';
import { requireBinary, requirePythonModule } from './helpers/requires';
import { startStack, type Stack } from './helpers/stack';
import { assertAccounted } from './helpers/accounting';
import { servedAtLeast } from './helpers/wait';

/** Fetches a target's exposition exactly as the function asks for it. */
async function capture(url: string): Promise<string> {
  const res = await fetch(url, { headers: { Accept: SCRAPE_ACCEPT } });
  assert.equal(res.status, 200);
  return res.text();
}

/** Serves a fixed text as /metrics on 127.0.0.1. */
async function serveSnapshot(text: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
    res.end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  return { url, close: () => new Promise((r) => server.close(() => r())) };
}

/** Stream identity used to find a sample among the posted objects. */
const key = (name: string, dims: Record<string, string>) => JSON.stringify([name, Object.entries(dims).sort(([a], [b]) => (a < b ? -1 : 1))]);

/** Runs the function's dry run on `text` and checks it against Python's reading of the same text. */
async function checkAccounted(stack: Stack, text: string, env: Record<string, string> = {}): Promise<InvocationSummary> {
  const reference = await pythonSamples(text);
  const snapshot = await serveSnapshot(text);
  try {
    const fn = await stack.startFn({ METRICS_ENDPOINT: snapshot.url, ...env });
    const res = await fn.invoke({ body: { dryRun: true }, deadline: new Date(Date.now() + 60_000) });
    assert.equal(res.status, 200, res.body);
    const s = res.json as InvocationSummary & { metricData: (OciMetric & { datapoints: { value: number }[] })[] };
    assertAccounted(s);
    const target = s.targets[0];
    assert.equal(target.up, true, target.error);
    assert.equal(target.samples, reference.length, 'the function reads as many samples as Python');

    const selfNames = new Set(SELF_METRICS.map((m) => m.name));
    const posted = new Map<string, number>();
    for (const m of s.metricData) {
      if (selfNames.has(m.name) && m.dimensions.instance === target.instance && !m.name.endsWith('_avg')) continue;
      posted.set(key(m.name, m.dimensions), m.datapoints[0].value);
    }
    const skipped = new Set(s.skippedSamples!.map((k) => key(k.name, k.labels)));
    let matched = 0;
    for (const p of reference) {
      if (skipped.has(key(p.name, p.labels))) {
        matched++;
        continue;
      }
      const dims: Record<string, string> = { instance: target.instance };
      for (const [k, v] of Object.entries(p.storedLabels)) if (v !== '') dims[k === 'instance' ? 'exported_instance' : k] = v;
      const name = sanitizeMetricName(p.name);
      assert.ok(name, `${p.name} has an OCI name or a skip`);
      const value = posted.get(key(name, dims));
      assert.notEqual(value, undefined, `sample ${p.name}${JSON.stringify(p.labels)} is neither posted nor skipped`);
      if (p.value === null) assert.ok(Number.isNaN(value));
      else assert.equal(value, p.value, `${p.name}${JSON.stringify(p.labels)}`);
      matched++;
    }
    assert.equal(matched, reference.length);
    return s;
  } finally {
    await snapshot.close();
  }
}

describe('real expositions, every sample accounted (dry run through the Fn socket)', () => {
  let stack: Stack;
  const running: RunningExporter[] = [];
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await Promise.all(running.map((r) => r.stop()));
    await stack?.close();
  });

  /** True when the Debian binaries this test needs are installed (else skipped or failed under CI). */
  const needs = (t: TestContext, bin: string, pkg: string) =>
    requireBinary(t, bin, pkg) && requirePythonModule(t, 'prometheus_client', 'python3-prometheus-client');

  test('prometheus-node-exporter', async (t) => {
    if (!needs(t, '/usr/bin/prometheus-node-exporter', 'prometheus-node-exporter')) return;
    const exporter = await startNodeExporter();
    running.push(exporter);
    const s = await checkAccounted(stack, await capture(exporter.url));
    assert.ok(s.samples > 200, `node_exporter exposes hundreds of samples, saw ${s.samples}`);
  });

  test("the prometheus server's own /metrics (labelled histograms and summaries), with buckets", async (t) => {
    if (!needs(t, '/usr/bin/prometheus', 'prometheus')) return;
    const server = await startPrometheusServer();
    running.push(server);
    await waitForSelfScrape(server.url); // its histograms have series once it scraped itself
    const s = await checkAccounted(stack, await capture(server.url), { HISTOGRAM_BUCKETS: 'true' });
    assert.equal(s.skipped.histogram_buckets_disabled ?? 0, 0);
  });

  test('prom-client (BharatMart simulator with default process metrics)', async (t) => {
    if (!requirePythonModule(t, 'prometheus_client', 'python3-prometheus-client')) return;
    const shop = await startBharatMart({ traffic: { intervalMs: 20 } });
    try {
      await servedAtLeast(shop, 20);
      const s = await checkAccounted(stack, await capture(shop.url));
      assert.ok((s.skipped.histogram_buckets_disabled ?? 0) > 0);
    } finally {
      await shop.stop();
    }
  });
});
