/**
 * The cardinality report and what a drop rule saves, through the real function process (the
 * built dist/func.js over the Fn socket, test/helpers/stack.ts): a dry run of a known exposition
 * names its top label, a metric_relabel_configs `labeldrop` or METRICS_EXCLUDE makes the forecast
 * fall by exactly the streams the report said, and nothing reaches OCI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { INVOCATIONS_PER_MONTH } from '../src/forecast/forecast';
import type { InvocationSummary } from '../src/handler/summary';
import { knownExposition, serveExposition } from './helpers/known-exposition';
import { startStack, type Stack } from './helpers/stack';

/** Seven self-metrics per target (state_ok only with a state store). */
const SELF = 7;
// The histogram's buckets are posted too (HISTOGRAM_BUCKETS: off by default), so the exposition gives its 34 streams.
const BASE = { FORECAST_PRICE_PER_MILLION_DATAPOINTS: '1', FORECAST_FREE_DATAPOINTS_PER_MONTH: '0', HISTOGRAM_BUCKETS: 'true' };
const cost = (streams: number) => Math.round(((streams * INVOCATIONS_PER_MONTH) / 1e6) * 1e4) / 1e4;

describe('the dry run reports cardinality per job and what a rule saves', () => {
  let stack: Stack;
  let target: Awaited<ReturnType<typeof serveExposition>>;
  before(async () => {
    stack = await startStack();
    target = await serveExposition(knownExposition());
  });
  after(async () => {
    await target?.close();
    await stack?.close();
  });

  /** A dry run of the function with these settings. */
  async function dryRun(env: Record<string, string>): Promise<InvocationSummary> {
    const fn = await stack.startFn({ ...BASE, ...env });
    try {
      const res = await fn.invoke({ body: { dryRun: true } });
      assert.equal(res.status, 200, res.body);
      return res.json as InvocationSummary;
    } finally {
      await fn.stop();
    }
  }

  const config = (relabel: string) => `scrape_configs:\n  - job_name: app\n    static_configs: [{targets: ['${target.host}']}]\n${relabel}`;

  test('a job: its top name and labels, their merged streams and cost; no rule, nothing saved', async () => {
    stack.emulator.reset();
    const s = await dryRun({ SCRAPE_CONFIG: config('') });
    assert.equal(stack.emulator.counters.calls, 0, 'nothing reached OCI');
    const total = 34 + SELF;
    assert.equal(s.forecast.metricStreams, total);
    assert.deepEqual(s.forecast.rules, {
      streamsWithout: total,
      streamsWith: total,
      savedStreams: 0,
      monthlyCostWithout: cost(total),
      monthlyCostWith: cost(total),
      savedMonthlyCost: 0,
    });
    const r = s.cardinality!;
    assert.equal(r.totalStreams, total);
    assert.deepEqual(
      r.jobs.map((j) => [j.job, j.streams, j.families]),
      [['app', 34, 5]],
    );
    const http = r.jobs[0].top[0];
    assert.equal(http.name, 'http_requests_total');
    assert.equal(http.streams, 21);
    // A job's target carries `job` and `instance` (one value each: dropping them merges nothing).
    assert.deepEqual(
      http.labels.map((l) => [l.label, l.values, l.mergedStreams, l.monthlyCost]),
      [
        ['path', 10, 18, cost(18)],
        ['method', 2, 10, cost(10)],
        ['status', 2, 1, cost(1)],
        ['instance', 1, 0, 0],
        ['job', 1, 0, 0],
      ],
    );
    assert.equal(http.labels[0].shareOfStreams, Math.round((18 / total) * 1e4) / 1e4);
    assert.equal(s.metricData!.length, total, 'the metric objects are still listed');
  });

  test('metric_relabel_configs labeldrop path: the forecast falls by the 18 streams the report named', async () => {
    const s = await dryRun({ SCRAPE_CONFIG: config('    metric_relabel_configs:\n      - action: labeldrop\n        regex: path\n') });
    const before = 34 + SELF;
    assert.deepEqual(s.forecast.rules, {
      streamsWithout: before,
      streamsWith: before - 18,
      savedStreams: 18,
      monthlyCostWithout: cost(before),
      monthlyCostWith: cost(before - 18),
      savedMonthlyCost: Math.round((cost(before) - cost(before - 18)) * 1e4) / 1e4,
    });
    assert.equal(s.forecast.metricStreams, before - 18);
    assert.equal(s.skipped.duplicate_series, 18, 'the merged samples are skipped as duplicates, never summed');
    const http = s.cardinality!.jobs[0].top.find((f) => f.name === 'http_requests_total')!;
    assert.equal(http.streams, 3);
    assert.ok(!http.labels.some((l) => l.label === 'path'), 'path is gone');
  });

  test('the implicit job (METRICS_ENDPOINT) with METRICS_EXCLUDE: the histogram family saved, reported under job ""', async () => {
    const s = await dryRun({ METRICS_ENDPOINT: target.url, METRICS_EXCLUDE: '^req_duration_seconds$' });
    assert.equal(s.forecast.rules!.savedStreams, 12);
    assert.equal(s.forecast.rules!.streamsWith, 34 - 12 + SELF);
    assert.deepEqual(
      s.cardinality!.jobs.map((j) => [j.job, j.streams, j.top.map((f) => f.name)]),
      [['', 22, ['http_requests_total', 'process_cpu_seconds_total']]],
    );
  });
});
