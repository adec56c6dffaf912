/**
 * Reference: the derived series against the real Prometheus server (Debian `prometheus`). One
 * scripted target is scraped by both Prometheus and the real function process (twice each); its
 * samples carry their own timestamps, which both honour, so both see the same two scrapes. The
 * function's `_rate`, `_avg` and `_pNN` must equal what Prometheus' HTTP API answers for irate(),
 * irate(_sum)/irate(_count) and histogram_quantile(q, irate(_bucket)) at the second scrape.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startPrometheusServer, type RunningExporter } from './helpers/exporters';
import { assertAccounted, summaryOf } from './helpers/reliability';
import { requireBinary } from './helpers/requires';
import { startStack, type Stack } from './helpers/stack';

const PROMETHEUS = '/usr/bin/prometheus';
const WAIT_MS = 60_000;

/** The two scrapes: counters (one resets), histograms (normal, only +Inf, none observed, reset, _sum or _count alone down). */
function exposition(step: 1 | 2, tsMs: number): string {
  const v = <T>(a: T, b: T): T => (step === 1 ? a : b);
  const h = (route: string, buckets: [number, number, number, number], sum: number) => [
    `latency_seconds_bucket{route="${route}",le="0.05"} ${buckets[0]} ${tsMs}`,
    `latency_seconds_bucket{route="${route}",le="0.25"} ${buckets[1]} ${tsMs}`,
    `latency_seconds_bucket{route="${route}",le="1"} ${buckets[2]} ${tsMs}`,
    `latency_seconds_bucket{route="${route}",le="+Inf"} ${buckets[3]} ${tsMs}`,
    `latency_seconds_sum{route="${route}"} ${sum} ${tsMs}`,
    `latency_seconds_count{route="${route}"} ${buckets[3]} ${tsMs}`,
  ];
  return [
    '# TYPE orders_total counter',
    `orders_total{state="ok"} ${v(1200, 1290)} ${tsMs}`,
    `orders_total{state="failed"} ${v(50, 3)} ${tsMs}`,
    '# TYPE latency_seconds histogram',
    ...h('/a', v([100, 180, 190, 200], [130, 260, 277, 290]), v(20.5, 33.25)),
    ...h('/b', v([0, 0, 0, 10], [0, 0, 0, 17]), v(50, 90)),
    ...h('/c', v([5, 6, 7, 8], [5, 6, 7, 8]), v(2, 2)),
    ...h('/d', v([40, 60, 70, 80], [2, 5, 9, 11]), v(30, 4.5)),
    // _sum went down while _count went up; _count reset while _sum went up: each its own counter.
    ...h('/e', v([10, 20, 30, 40], [15, 25, 35, 45]), v(100, 20)),
    ...h('/f', v([40, 60, 70, 80], [2, 5, 9, 11]), v(30, 45)),
    '',
  ].join('\n');
}

describe('reference: derived series equal Prometheus irate() and histogram_quantile() over the same two scrapes', () => {
  let stack: Stack;
  let server: Server;
  let targetUrl = '';
  let body = '';
  let prometheus: RunningExporter | undefined;

  before(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    targetUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    stack = await startStack();
    stack.emulator.objectStorage.createBucket('ref-state');
  });
  after(async () => {
    await prometheus?.stop();
    await stack.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Evaluates an instant query at `timeS`; returns route/state label -> value. */
  async function query(expr: string, timeS: number): Promise<Record<string, number>> {
    const api = prometheus!.url.replace(/\/metrics$/, '');
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}&time=${timeS}`);
    const json = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    assert.equal(json.status, 'success', expr);
    return Object.fromEntries(json.data.result.map((r) => [r.metric.route ?? r.metric.state ?? '', Number(r.value[1])]));
  }

  /** Waits until Prometheus has stored the sample at `tsMs` (an event, polled). */
  async function ingested(tsMs: number): Promise<void> {
    const api = prometheus!.url.replace(/\/metrics$/, '');
    const until = Date.now() + WAIT_MS;
    for (;;) {
      const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent('timestamp(orders_total{state="ok"})')}&time=${tsMs / 1000}`);
      const json = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
      if (Number(json.data?.result?.[0]?.value[1]) * 1000 === tsMs) return;
      assert.ok(Date.now() < until, `Prometheus did not scrape the sample at ${tsMs} within ${WAIT_MS} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  test('rate, average and p50/p90/p99 per series', { timeout: 180_000 }, async (t) => {
    if (!requireBinary(t, PROMETHEUS, 'prometheus')) return;
    prometheus = await startPrometheusServer({ targets: [targetUrl] });
    const fn = await stack.startFn({
      METRICS_ENDPOINT: targetUrl,
      STATE_BUCKET: 'ref-state',
      OBJECT_STORAGE_NAMESPACE: stack.emulator.objectStorage.namespace,
    });
    const t1 = Date.now() - 30_000;
    const t2 = t1 + 17_500;
    body = exposition(1, t1);
    await ingested(t1);
    assertAccounted(summaryOf(await fn.invoke()));
    body = exposition(2, t2);
    await ingested(t2);
    const s = summaryOf(await fn.invoke());
    assertAccounted(s);
    assert.equal(s.state.read, 'ok');

    const posted = (name: string, key: 'route' | 'state'): Record<string, number> =>
      Object.fromEntries(
        stack.emulator
          .query({ name })
          .map((sr) => [sr.dimensions[key], sr.datapoints.find((d) => d.timestamp === t2)?.value] as const)
          .filter((e): e is readonly [string, number] => e[1] !== undefined),
      );
    const close = (label: string, ours: Record<string, number>, theirs: Record<string, number>) => {
      // Prometheus answers NaN where there is no value; the function posts nothing there.
      const expected = Object.fromEntries(Object.entries(theirs).filter(([, v]) => Number.isFinite(v)));
      assert.deepEqual(
        Object.keys(ours).sort(),
        Object.keys(expected).sort(),
        `${label}: same series (ours ${JSON.stringify(ours)}, Prometheus ${JSON.stringify(theirs)})`,
      );
      for (const [k, v] of Object.entries(expected))
        assert.ok(Math.abs(ours[k] - v) <= 1e-9 * Math.max(1, Math.abs(v)), `${label}{${k}}: ours ${ours[k]}, Prometheus ${v}`);
    };
    const at = t2 / 1000;
    close('orders_total_rate', posted('orders_total_rate', 'state'), await query('irate(orders_total[1m])', at));
    close('latency_seconds_avg', posted('latency_seconds_avg', 'route'), await query('irate(latency_seconds_sum[1m]) / irate(latency_seconds_count[1m])', at));
    for (const [q, suffix] of [
      [0.5, 'p50'],
      [0.9, 'p90'],
      [0.99, 'p99'],
    ] as const) {
      close(
        `latency_seconds_${suffix}`,
        posted(`latency_seconds_${suffix}`, 'route'),
        await query(`histogram_quantile(${q}, irate(latency_seconds_bucket[1m]))`, at),
      );
    }
    // The cases really differ: a reset counter, a +Inf-only histogram, one without observations.
    assert.ok(posted('orders_total_rate', 'state').failed > 0, 'a reset is never a negative rate');
    assert.equal(posted('latency_seconds_p99', 'route')['/b'], 1, 'only +Inf: the highest finite bound');
    assert.equal(posted('latency_seconds_avg', 'route')['/c'], undefined, 'no observation, no average');
    assert.equal(posted('latency_seconds_avg', 'route')['/e'], 4, '_sum down, _count up: 20 / 5, never negative');
    assert.equal(posted('latency_seconds_avg', 'route')['/f'], 15 / 11, '_count reset, _sum up: 15 / 11');
    assert.ok((s.notDerived.no_observations ?? 0) >= 4);
    await fn.stop();
  });
});
