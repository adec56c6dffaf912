import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Labels, MetricFamily, OciMetric, SkipReason, TargetContext, TargetReport, TransformOptions } from '../src/types/model';
import { OCI_LIMITS } from '../src/transform/limits';
import { LEADING_NON_LETTER_PREFIX, sanitizeMetricName } from '../src/transform/names';
import { shortenDimensionValue } from '../src/transform/dimensions';
import { drainInOrder, TargetTransform } from '../src/transform/targetTransform';
import { transformAll, type TransformResult } from './helpers/transform';
import { SELF_METRICS, toSelfMetrics } from '../src/transform/selfMetrics';
import { datapointTimestampMs } from '../src/transform/timestamps';
import { truncateUtf16 } from '../src/transform/metadata';
import { deriveTarget } from '../src/transform/derive';
import type { DeriveOptions } from '../src/types/model';

// ---------------------------------------------------------------------------------------------
// Fixtures and independent checkers (written from the reference's rules, not from the code).
// ---------------------------------------------------------------------------------------------

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const TARGET: TargetContext = { instance: '10.0.0.5:3000', scrapeTimeMs: NOW };
const COMPARTMENT = 'ocid1.compartment.oc1..aaaaaaaaexample';

/** Transform options with sane defaults, overridable per test. */
function opts(over: Partial<TransformOptions> = {}): TransformOptions {
  return { namespace: 'bharatmart', compartmentId: COMPARTMENT, extraDimensions: {}, histogramBuckets: false, ...over };
}

/** A gauge family with the given series (one unlabelled series of value 1 when none are given). */
function gauge(name: string, ...series: { labels?: Labels; value?: number; timestampMs?: number }[]): MetricFamily {
  if (series.length === 0) series = [{}];
  return {
    kind: 'gauge',
    name,
    help: `${name} help`,
    series: series.map((s) => ({ labels: s.labels ?? {}, value: s.value ?? 1, timestampMs: s.timestampMs })),
  };
}

/** A counter family (one unlabelled series of value 1 when none are given). */
function counter(name: string, ...series: { labels?: Labels; value?: number }[]): MetricFamily {
  if (series.length === 0) series = [{}];
  return { kind: 'counter', name, help: `${name} help`, series: series.map((s) => ({ labels: s.labels ?? {}, value: s.value ?? 1 })) };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const METRIC_KEYS = new Set(['namespace', 'compartmentId', 'resourceGroup', 'name', 'dimensions', 'metadata', 'datapoints']);

/** Checks every rule of the reference's validation table on one metric object, independently of src/. */
function assertValidOciMetric(m: OciMetric, refMs: number = NOW): void {
  const where = `metric ${JSON.stringify(m).slice(0, 300)}`;
  for (const k of Object.keys(m)) assert.ok(METRIC_KEYS.has(k), `unexpected field ${k} in ${where}`);
  // namespace: starts with a letter; letters, digits, _; oci_/oracle_ reserved.
  assert.match(m.namespace, /^[A-Za-z][A-Za-z0-9_]*$/, where);
  assert.doesNotMatch(m.namespace, /^(oci_|oracle_)/i, where);
  assert.match(m.compartmentId ?? '', /^ocid1\./, where);
  // name: starts with a letter; letters, digits, . _ - $; this project bounds it at 256.
  assert.match(m.name, /^[A-Za-z][A-Za-z0-9._\-$]*$/, where);
  assert.ok(m.name.length <= 256, `name too long in ${where}`);
  if ('resourceGroup' in m) assert.match(String(m.resourceGroup), /^[A-Za-z][A-Za-z0-9._\-$]*$/, where);
  // dimensions: 1..20; key printable ASCII no spaces 1..256; value 1..512 characters.
  assert.equal(Object.getPrototypeOf(m.dimensions), Object.prototype, `dimensions must be a plain object in ${where}`);
  const dims = Object.entries(m.dimensions);
  assert.ok(dims.length >= 1 && dims.length <= 20, `dimension count ${dims.length} in ${where}`);
  for (const [k, v] of dims) {
    assert.ok(k.length >= 1 && k.length <= 256, `key length ${k.length} in ${where}`);
    for (let i = 0; i < k.length; i++) {
      const c = k.charCodeAt(i);
      assert.ok(c >= 0x21 && c <= 0x7e, `key ${JSON.stringify(k)} has a non-printable/space/non-ASCII char in ${where}`);
    }
    assert.equal(typeof v, 'string', where);
    // OCI's 512 "characters" are undefined further: UTF-16 units, the reading that is never rejected.
    assert.ok(v.length >= 1 && v.length <= 512, `value of ${k} has ${v.length} UTF-16 units in ${where}`);
    assert.doesNotMatch(v, LONE_SURROGATE, `value of ${k} has a split surrogate pair in ${where}`);
  }
  // metadata: key and value at most 256 characters each.
  if ('metadata' in m) {
    assert.ok(m.metadata !== undefined, where);
    for (const [k, v] of Object.entries(m.metadata)) {
      assert.ok(k.length >= 1 && k.length <= 256 && typeof v === 'string' && v.length <= 256, `metadata ${k} in ${where}`);
      assert.doesNotMatch(v, LONE_SURROGATE, where);
    }
  }
  // datapoints: at least one; timestamp < 2h old and < 10 min in the future; finite value; count > 0.
  assert.ok(Array.isArray(m.datapoints) && m.datapoints.length >= 1, where);
  for (const d of m.datapoints) {
    assert.ok(d.timestamp instanceof Date && !Number.isNaN(d.timestamp.getTime()), where);
    const t = d.timestamp.getTime();
    assert.ok(t > refMs - 2 * HOUR && t < refMs + 10 * MIN, `timestamp ${d.timestamp.toISOString()} out of window in ${where}`);
    assert.ok(typeof d.value === 'number' && Number.isFinite(d.value), `value ${d.value} in ${where}`);
    assert.ok(d.count === undefined || d.count > 0, where);
  }
  // What the SDK would send: NaN/Infinity would become null.
  assert.doesNotMatch(JSON.stringify(m), /:null\b/, where);
}

/** Number of exposition sample lines, counted straight from the model's definition. */
function countLines(families: MetricFamily[]): number {
  let n = 0;
  for (const f of families) {
    if (f.kind === 'histogram') for (const s of f.series) n += s.buckets.length + (s.sum === undefined ? 0 : 1) + (s.count === undefined ? 0 : 1);
    else if (f.kind === 'summary') for (const s of f.series) n += s.quantiles.length + (s.sum === undefined ? 0 : 1) + (s.count === undefined ? 0 : 1);
    else n += f.series.length;
  }
  return n;
}

/** Stream identity as OCI sees it: name + dimension set (order-free). */
function streamOf(m: OciMetric): string {
  return JSON.stringify([m.name, Object.entries(m.dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}

/** Runs the transform and checks the accounting invariant, validity and stream uniqueness. */
/** Only `_avg` is derived in these tests; derive.test.ts covers the derivations themselves. */
const AVG_ONLY: DeriveOptions = { kinds: { rate: false, avg: true, quantiles: false }, quantiles: [], maxAgeMs: 5 * MIN };

/** A family with every value 0 and own timestamps one minute earlier: a previous scrape from which increase = value. */
function zeroed(f: MetricFamily): MetricFamily {
  const ts = (t?: number) => (t === undefined ? undefined : t - MIN);
  switch (f.kind) {
    case 'histogram':
      return {
        ...f,
        series: f.series.map((s) => ({
          ...s,
          buckets: s.buckets.map((b) => ({ ...b, value: 0, timestampMs: ts(b.timestampMs) })),
          sum: 0,
          count: 0,
          sumTimestampMs: ts(s.sumTimestampMs),
          countTimestampMs: ts(s.countTimestampMs),
        })),
      };
    case 'summary':
      return {
        ...f,
        series: f.series.map((s) => ({
          ...s,
          quantiles: s.quantiles.map((q) => ({ ...q, timestampMs: ts(q.timestampMs) })),
          sum: 0,
          count: 0,
          sumTimestampMs: ts(s.sumTimestampMs),
          countTimestampMs: ts(s.countTimestampMs),
        })),
      };
    default:
      return { ...f, series: f.series.map((s) => ({ ...s, value: 0, timestampMs: ts(s.timestampMs) })) };
  }
}

/**
 * Transforms and checks the invariants. Unless the options say otherwise, `_avg` is derived from a
 * previous scrape one minute earlier where everything was 0, so `_avg` = sum / count of this scrape.
 */
function run(families: MetricFamily[], o: TransformOptions = opts(), target: TargetContext = TARGET): TransformResult {
  const withDerive = o.derive === undefined ? { ...o, derive: AVG_ONLY } : o;
  const withPrevious =
    'previous' in target ? target : { ...target, previous: deriveTarget(families.map(zeroed), undefined, target.scrapeTimeMs - MIN, AVG_ONLY).state };
  const r = transformAll(families, withPrevious, withDerive);
  assert.equal(countLines(families), r.metrics.length - r.derivedCount + r.skipped.length, 'every sample line has exactly one outcome');
  assert.ok(r.derivedCount >= 0 && r.derivedCount <= r.metrics.length);
  for (const m of r.metrics) assertValidOciMetric(m, target.scrapeTimeMs);
  const streams = r.metrics.map(streamOf);
  assert.equal(new Set(streams).size, streams.length, 'no stream is posted twice');
  // OCI's "dimensions per metric group", strictest reading: at most 20 distinct keys per metric name.
  const groupKeys = new Map<string, Set<string>>();
  for (const m of r.metrics) for (const k of Object.keys(m.dimensions)) groupKeys.set(m.name, (groupKeys.get(m.name) ?? new Set()).add(k));
  for (const [name, keys] of groupKeys) assert.ok(keys.size <= 20, `${name} uses ${keys.size} dimension keys`);
  return r;
}

/** The metrics with a given name. */
function named(r: TransformResult, name: string): OciMetric[] {
  return r.metrics.filter((m) => m.name === name);
}

/** The only metric with a given name. */
function only(r: TransformResult, name: string): OciMetric {
  const ms = named(r, name);
  assert.equal(ms.length, 1, `expected exactly one ${name}, got ${ms.length}`);
  return ms[0];
}

/** Skip reasons -> count. */
function reasons(r: TransformResult): Partial<Record<SkipReason, number>> {
  const out: Partial<Record<SkipReason, number>> = {};
  for (const s of r.skipped) out[s.reason] = (out[s.reason] ?? 0) + 1;
  return out;
}

/** A BharatMart-like exposition: labelled histograms, counters, gauges and a summary. */
function bharatMart(): MetricFamily[] {
  const buckets = (les: string[], base: number) => les.map((le, i) => ({ le, value: base + i }));
  const durLes = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];
  const msLes = ['10', '50', '100', '250', '500', '1000', '+Inf'];
  return [
    {
      kind: 'counter',
      name: 'http_requests_total',
      help: 'Total HTTP requests',
      series: [
        { labels: { method: 'GET', route: '/api/products', status_code: '200' }, value: 1027 },
        { labels: { method: 'POST', route: '/api/orders', status_code: '201' }, value: 31 },
        { labels: { method: 'POST', route: '/api/orders', status_code: '500' }, value: 2 },
      ],
    },
    {
      kind: 'histogram',
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds',
      series: [
        { labels: { method: 'GET', route: '/api/products', status_code: '200' }, buckets: buckets(durLes, 100), sum: 12.5, count: 111 },
        { labels: { method: 'POST', route: '/api/orders', status_code: '201' }, buckets: buckets(durLes, 3), sum: 4.25, count: 14 },
      ],
    },
    {
      kind: 'histogram',
      name: 'external_call_latency_ms',
      help: 'Latency of calls to external services (ms)',
      series: [{ labels: { service: 'payment-gateway' }, buckets: buckets(msLes, 0), sum: 1234, count: 6 }],
    },
    counter('orders_created_total', { value: 40 }),
    counter('orders_success_total', { value: 37 }),
    counter('orders_failed_total', { value: 3 }),
    counter('payments_processed_total', { labels: { method: 'card' }, value: 30 }, { labels: { method: 'upi' }, value: 7 }),
    counter('chaos_events_total', { labels: { type: 'latency' }, value: 5 }),
    counter('service_restarts_total', { value: 0 }),
    gauge('simulated_latency_ms', { value: 250 }),
    {
      kind: 'summary',
      name: 'nodejs_gc_pause_seconds',
      help: 'GC pauses',
      series: [
        {
          labels: { kind: 'major' },
          quantiles: [
            { quantile: '0.5', value: 0.001 },
            { quantile: '0.99', value: 0.02 },
          ],
          sum: 0.5,
          count: 200,
        },
      ],
    },
  ];
}

// ---------------------------------------------------------------------------------------------

describe('OCI_LIMITS', () => {
  it('matches the documented limits', () => {
    assert.equal(OCI_LIMITS.maxDimensions, 20);
    assert.equal(OCI_LIMITS.maxDimensionKeyLength, 256);
    assert.equal(OCI_LIMITS.maxDimensionValueLength, 512);
    assert.equal(OCI_LIMITS.maxMetadataLength, 256);
    assert.equal(OCI_LIMITS.maxStreamsPerCall, 50);
    assert.equal(OCI_LIMITS.maxPastMs, 2 * HOUR);
    assert.equal(OCI_LIMITS.maxFutureMs, 10 * MIN);
    assert.ok(Object.isFrozen(OCI_LIMITS));
  });
});

describe('sanitizeMetricName', () => {
  it('keeps Prometheus names that start with a letter and have no colon unchanged', () => {
    for (const n of ['up', 'http_requests_total', 'Z9', 'a__b_']) assert.equal(sanitizeMetricName(n), n);
  });
  it('maps : to . (Prometheus names never contain .), so recording rules keep their own name', () => {
    assert.equal(sanitizeMetricName('job:http_requests:rate5m'), 'job.http_requests.rate5m');
    assert.notEqual(sanitizeMetricName('job:req:rate5m'), sanitizeMetricName('job_req_rate5m'));
  });
  it('marks names that do not start with a letter with the prom$ prefix instead of stripping them', () => {
    assert.equal(LEADING_NON_LETTER_PREFIX, 'prom$');
    assert.equal(sanitizeMetricName('__go_info'), 'prom$__go_info');
    assert.equal(sanitizeMetricName('_leading'), 'prom$_leading');
    assert.equal(sanitizeMetricName(':foo'), 'prom$.foo');
    assert.equal(sanitizeMetricName('_'), 'prom$_');
    assert.notEqual(sanitizeMetricName('_leading'), sanitizeMetricName('leading'));
  });
  it('returns undefined for text that is not a Prometheus metric name (the parser never produces one)', () => {
    for (const n of ['', '123', '9lives', 'a b/c', 'temp_°C', '🚀', '$1', 'a.b', 'a-b', 'a$b']) assert.equal(sanitizeMetricName(n), undefined, n);
  });
  it('accepts 256 characters once mapped and rejects 257 (the prefix counts)', () => {
    assert.equal(sanitizeMetricName('a'.repeat(256)), 'a'.repeat(256));
    assert.equal(sanitizeMetricName('a'.repeat(257)), undefined);
    assert.equal(sanitizeMetricName('_'.repeat(251)), `prom$${'_'.repeat(251)}`);
    assert.equal(sanitizeMetricName('_'.repeat(252)), undefined);
  });
  /** Prometheus names built from every character class: letters, digits, `_`, `:` (and first characters `_`, `:`). */
  const promName = fc
    .tuple(fc.constantFrom(...'abzAZ_:'.split('')), fc.array(fc.constantFrom(...'aZ09_:'.split('')), { maxLength: 12 }))
    .map(([first, rest]) => first + rest.join(''));
  it('is injective: two distinct Prometheus names never map to one OCI name (property, every character class)', () => {
    fc.assert(
      fc.property(promName, promName, (a, b) => {
        const ma = sanitizeMetricName(a);
        const mb = sanitizeMetricName(b);
        assert.ok(ma !== undefined && mb !== undefined);
        assert.match(ma, /^[A-Za-z][A-Za-z0-9._\-$]*$/);
        if (a !== b) assert.notEqual(ma, mb, `${a} and ${b}`);
      }),
      { numRuns: 5000, seed: 11 },
    );
  });
  it('is invertible: drop a leading prom$, turn . back into : (property)', () => {
    const invert = (m: string) => (m.startsWith(LEADING_NON_LETTER_PREFIX) ? m.slice(LEADING_NON_LETTER_PREFIX.length) : m).replaceAll('.', ':');
    fc.assert(
      fc.property(promName, (n) => assert.equal(invert(sanitizeMetricName(n)!), n)),
      { numRuns: 5000, seed: 12 },
    );
    // Exhaustive over all names of up to 3 characters drawn from one character of each class.
    const firsts = ['a', 'Z', '_', ':'];
    const rests = ['a', 'Z', '0', '9', '_', ':'];
    const names = new Set<string>();
    const seen = new Map<string, string>();
    for (const f of firsts) for (const r1 of ['', ...rests]) for (const r2 of r1 === '' ? [''] : ['', ...rests]) names.add(f + r1 + r2);
    for (const n of names) {
      const m = sanitizeMetricName(n)!;
      assert.equal(seen.get(m), undefined, `${n} and ${seen.get(m)} both map to ${m}`);
      seen.set(m, n);
    }
    assert.equal(seen.size, names.size);
  });
});

describe('counters, gauges, untyped', () => {
  it('posts one metric per sample with the value as exposed', () => {
    const fams: MetricFamily[] = [
      counter('requests_total', { labels: { code: '200' }, value: 1e12 }, { labels: { code: '500' }, value: 0 }),
      gauge('temperature', { value: -12.5 }),
      { kind: 'untyped', name: 'legacy', help: '', series: [{ labels: {}, value: 42 }] },
    ];
    const r = run(fams);
    assert.equal(r.metrics.length, 4);
    assert.equal(r.derivedCount, 0);
    assert.deepEqual(r.skipped, []);
    const [c200, c500, temp, legacy] = r.metrics;
    assert.deepEqual(c200, {
      namespace: 'bharatmart',
      compartmentId: COMPARTMENT,
      name: 'requests_total',
      dimensions: { code: '200', instance: '10.0.0.5:3000' },
      metadata: { help: 'requests_total help' },
      datapoints: [{ timestamp: new Date(NOW), value: 1e12 }],
    });
    assert.equal(c500.datapoints[0].value, 0);
    assert.equal(temp.datapoints[0].value, -12.5);
    assert.equal(legacy.name, 'legacy');
    assert.equal(legacy.metadata, undefined, 'empty HELP -> no metadata');
  });
  it('keeps counters cumulative (no rate conversion)', () => {
    const r = run([counter('c_total', { value: 5 })]);
    assert.equal(only(r, 'c_total').datapoints[0].value, 5);
  });
  it('adds EXTRA_DIMENSIONS and instance to every series', () => {
    const r = run([gauge('g', { labels: { a: '1' } })], opts({ extraDimensions: { env: 'prod', region: 'ap-mumbai-1' } }));
    assert.deepEqual(only(r, 'g').dimensions, { a: '1', env: 'prod', instance: '10.0.0.5:3000', region: 'ap-mumbai-1' });
  });
});

describe('histograms', () => {
  const hist: MetricFamily = {
    kind: 'histogram',
    name: 'latency_seconds',
    help: 'Latency',
    series: [
      {
        labels: { route: '/a' },
        buckets: [
          { le: '0.1', value: 2 },
          { le: '1', value: 3 },
          { le: '+Inf', value: 4 },
        ],
        sum: 2,
        count: 4,
      },
      {
        labels: { route: '/b' },
        buckets: [
          { le: '0.1', value: 0 },
          { le: '1', value: 0 },
          { le: '+Inf', value: 0 },
        ],
        sum: 0,
        count: 0,
      },
    ],
  };
  it('posts _sum, _count and _avg per label set; buckets are skipped by default', () => {
    const r = run([hist]);
    assert.deepEqual(
      named(r, 'latency_seconds_sum').map((m) => [m.dimensions.route, m.datapoints[0].value]),
      [
        ['/a', 2],
        ['/b', 0],
      ],
    );
    assert.deepEqual(
      named(r, 'latency_seconds_count').map((m) => [m.dimensions.route, m.datapoints[0].value]),
      [
        ['/a', 4],
        ['/b', 0],
      ],
    );
    const avg = named(r, 'latency_seconds_avg');
    assert.equal(avg.length, 1, '_avg only where count > 0');
    assert.equal(avg[0].datapoints[0].value, 0.5);
    assert.deepEqual(avg[0].dimensions, { instance: '10.0.0.5:3000', route: '/a' });
    assert.equal(r.derivedCount, 1);
    assert.deepEqual(reasons(r), { histogram_buckets_disabled: 6 });
    assert.deepEqual(r.skipped[0], { name: 'latency_seconds_bucket', labels: { route: '/a', le: '0.1' }, reason: 'histogram_buckets_disabled' });
    assert.equal(named(r, 'latency_seconds_bucket').length, 0);
  });
  it('posts _bucket with an le dimension (OpenMetrics form) when HISTOGRAM_BUCKETS=true', () => {
    const r = run([hist], opts({ histogramBuckets: true }));
    const b = named(r, 'latency_seconds_bucket');
    assert.deepEqual(
      b.map((m) => [m.dimensions.route, m.dimensions.le, m.datapoints[0].value]),
      [
        ['/a', '0.1', 2],
        ['/a', '1.0', 3],
        ['/a', '+Inf', 4],
        ['/b', '0.1', 0],
        ['/b', '1.0', 0],
        ['/b', '+Inf', 0],
      ],
    );
    assert.deepEqual(r.skipped, []);
    assert.equal(r.metrics.length, 6 + 2 + 2 + 1);
  });
  /** The order of a histogram's lines, then a gauge, then the histogram's `_avg`, as names with route and le. */
  const orderOf = (metrics: OciMetric[]) => metrics.map((m) => `${m.name}${m.dimensions.route ?? ''}${m.dimensions.le ?? ''}`);
  const HIST_LINES = [
    'latency_seconds_bucket/a0.1',
    'latency_seconds_bucket/a1.0',
    'latency_seconds_bucket/a+Inf',
    'latency_seconds_sum/a',
    'latency_seconds_count/a',
    'latency_seconds_bucket/b0.1',
    'latency_seconds_bucket/b1.0',
    'latency_seconds_bucket/b+Inf',
    'latency_seconds_sum/b',
    'latency_seconds_count/b',
  ];
  it('posts by family, then series (buckets, _sum, _count per series), and the derived series after every sample of the target', () => {
    const r = run([hist, gauge('after')], opts({ histogramBuckets: true }));
    assert.deepEqual(orderOf(r.metrics), [...HIST_LINES, 'after', 'latency_seconds_avg/a']);
    assert.deepEqual(r.notDerived, { no_observations: 1 }, '/b had no observation in the interval');
  });
  it("a dry run lists each family's derived series right after its samples (keepOrder + drainInOrder), same metrics and counts", () => {
    const o = opts({ histogramBuckets: true, derive: AVG_ONLY });
    const target = { ...TARGET, previous: deriveTarget([zeroed(hist)], undefined, NOW - MIN, AVG_ONLY).state };
    const posted = transformAll([hist, gauge('after')], target, o);
    const dry = new TargetTransform([hist, gauge('after')], target, o, true);
    const listed = drainInOrder(dry);
    assert.deepEqual(orderOf(listed), [...HIST_LINES, 'latency_seconds_avg/a', 'after']);
    assert.deepEqual(new Set(listed.map(streamOf)), new Set(posted.metrics.map(streamOf)));
    assert.deepEqual([dry.series, dry.derivedCount, dry.skippedCount], [posted.metrics.length, posted.derivedCount, posted.skipped.length]);
    assert.throws(() => drainInOrder(new TargetTransform([hist], target, o)), /keepOrder/);
  });
  it('derives no _avg (and skips nothing for it) when sum or count is missing or not finite', () => {
    const fams: MetricFamily[] = [
      {
        kind: 'histogram',
        name: 'h',
        help: '',
        series: [
          { labels: { s: 'no-sum' }, buckets: [], count: 3 },
          { labels: { s: 'no-count' }, buckets: [], sum: 3 },
          { labels: { s: 'nan-sum' }, buckets: [], sum: NaN, count: 3 },
          { labels: { s: 'inf-count' }, buckets: [], sum: 1, count: Infinity },
          { labels: { s: 'neg-count' }, buckets: [], sum: 1, count: -1 },
          { labels: { s: 'overflow' }, buckets: [], sum: 1e308, count: 1e-10 },
          { labels: { s: 'ok' }, buckets: [], sum: 9, count: 3 },
        ],
      },
    ];
    const r = run(fams);
    assert.deepEqual(
      named(r, 'h_avg').map((m) => [m.dimensions.s, m.datapoints[0].value]),
      [['ok', 3]],
    );
    assert.equal(r.derivedCount, 1);
    assert.deepEqual(reasons(r), { non_finite_value: 2 }, 'only the NaN sum and the Inf count are skipped');
  });
});

describe('summaries', () => {
  it('posts <name> with a quantile dimension, _sum, _count and _avg', () => {
    const r = run([
      {
        kind: 'summary',
        name: 'rpc_seconds',
        help: 'RPC latency',
        series: [
          {
            labels: { svc: 'x' },
            quantiles: [
              { quantile: '0.5', value: 0.2 },
              { quantile: '0.99', value: 1.5 },
            ],
            sum: 10,
            count: 40,
          },
        ],
      },
    ]);
    assert.deepEqual(
      named(r, 'rpc_seconds').map((m) => [m.dimensions.quantile, m.datapoints[0].value]),
      [
        ['0.5', 0.2],
        ['0.99', 1.5],
      ],
    );
    assert.equal(only(r, 'rpc_seconds_sum').datapoints[0].value, 10);
    assert.equal(only(r, 'rpc_seconds_count').datapoints[0].value, 40);
    assert.equal(only(r, 'rpc_seconds_avg').datapoints[0].value, 0.25);
    assert.equal(only(r, 'rpc_seconds_avg').dimensions.quantile, undefined);
    assert.equal(r.derivedCount, 1);
    assert.deepEqual(r.skipped, []);
  });
  it('skips NaN quantiles (a summary with no observations) as non_finite_value', () => {
    const r = run([{ kind: 'summary', name: 's', help: '', series: [{ labels: {}, quantiles: [{ quantile: '0.5', value: NaN }], sum: 0, count: 0 }] }]);
    assert.deepEqual(r.skipped, [{ name: 's', labels: { quantile: '0.5' }, reason: 'non_finite_value' }]);
    assert.deepEqual(
      r.metrics.map((m) => m.name),
      ['s_sum', 's_count'],
    );
  });
});

describe('filters (METRICS_INCLUDE, METRICS_EXCLUDE, HISTOGRAM_BUCKETS)', () => {
  const fams = (): MetricFamily[] => [gauge('keep_me', {}, { labels: { a: '1' } }), gauge('drop_me'), counter('other_total')];
  it('include: families whose name does not match skip every sample as filtered_by_include', () => {
    const r = run(fams(), opts({ include: /^keep_/ }));
    assert.deepEqual(
      r.metrics.map((m) => m.name),
      ['keep_me', 'keep_me'],
    );
    assert.deepEqual(r.skipped, [
      { name: 'drop_me', labels: {}, reason: 'filtered_by_include' },
      { name: 'other_total', labels: {}, reason: 'filtered_by_include' },
    ]);
  });
  it('exclude: matching families skip every sample as filtered_by_exclude', () => {
    const r = run(fams(), opts({ exclude: /drop/ }));
    assert.deepEqual(
      r.metrics.map((m) => m.name),
      ['keep_me', 'keep_me', 'other_total'],
    );
    assert.deepEqual(r.skipped, [{ name: 'drop_me', labels: {}, reason: 'filtered_by_exclude' }]);
  });
  it('include runs before exclude; a sample gets only the first reason', () => {
    const r = run(fams(), opts({ include: /_me$/, exclude: /^drop/ }));
    assert.deepEqual(reasons(r), { filtered_by_include: 1, filtered_by_exclude: 1 });
    assert.deepEqual(
      r.skipped.map((s) => s.name),
      ['other_total', 'drop_me'],
    );
  });
  it('matches the family name, so a histogram is kept or dropped whole (all its lines)', () => {
    const h: MetricFamily = { kind: 'histogram', name: 'h_seconds', help: '', series: [{ labels: {}, buckets: [{ le: '+Inf', value: 1 }], sum: 1, count: 1 }] };
    const kept = run([h], opts({ include: /^h_seconds$/, histogramBuckets: true }));
    assert.deepEqual(
      kept.metrics.map((m) => m.name),
      ['h_seconds_bucket', 'h_seconds_sum', 'h_seconds_count', 'h_seconds_avg'],
    );
    const dropped = run([h], opts({ exclude: /^h_seconds$/ }));
    assert.deepEqual(dropped.metrics, []);
    assert.equal(dropped.derivedCount, 0);
    assert.deepEqual(
      dropped.skipped.map((s) => `${s.name}:${s.reason}`),
      ['h_seconds_bucket:filtered_by_exclude', 'h_seconds_sum:filtered_by_exclude', 'h_seconds_count:filtered_by_exclude'],
    );
  });
  it('filtered buckets report the filter reason, not histogram_buckets_disabled', () => {
    const h: MetricFamily = { kind: 'histogram', name: 'h', help: '', series: [{ labels: {}, buckets: [{ le: '1', value: 1 }], sum: 1, count: 1 }] };
    assert.deepEqual(reasons(run([h], opts({ exclude: /h/ }))), { filtered_by_exclude: 3 });
  });
  it('a global or sticky regex gives the same answer every time', () => {
    const include = /keep/g;
    const a = run(fams(), opts({ include }));
    const b = run(fams(), opts({ include }));
    assert.deepEqual(a, b);
    assert.equal(a.metrics.length, 2);
    assert.equal(run(fams(), opts({ exclude: /drop/y })).metrics.length, 3, 'sticky /drop/y at 0 matches drop_me only');
    // A stateful /_/g would resume at lastIndex 2 after a_x and then miss b_y.
    assert.deepEqual(
      run([gauge('a_x'), gauge('b_y')], opts({ include: /_/g })).metrics.map((m) => m.name),
      ['a_x', 'b_y'],
    );
    assert.equal(include.lastIndex, 0, "the caller's regex is not moved");
  });
});

describe('skip reasons', () => {
  it('invalid_metric_name: not a Prometheus name', () => {
    const r = run([gauge('123'), gauge('a b'), gauge('::'), gauge('ok')]);
    assert.deepEqual(
      r.skipped.map((s) => [s.name, s.reason]),
      [
        ['123', 'invalid_metric_name'],
        ['a b', 'invalid_metric_name'],
      ],
    );
    assert.deepEqual(
      r.metrics.map((m) => m.name),
      ['prom$..', 'ok'],
    );
  });
  it('invalid_metric_name: the posted name (with its suffix) is what must fit 256 characters', () => {
    const base = 'h'.repeat(250);
    const h: MetricFamily = { kind: 'histogram', name: base, help: '', series: [{ labels: {}, buckets: [{ le: '+Inf', value: 1 }], sum: 1, count: 1 }] };
    const r = run([h], opts({ histogramBuckets: true }));
    assert.deepEqual(r.skipped, [{ name: `${base}_bucket`, labels: { le: '+Inf' }, reason: 'invalid_metric_name' }], '257 chars');
    assert.deepEqual(
      r.metrics.map((m) => m.name.length),
      [254, 256, 254],
      '_sum, _count (exactly 256), _avg',
    );
  });
  it('non_finite_value: NaN, +Inf and -Inf', () => {
    const r = run([
      gauge(
        'g',
        { labels: { v: 'nan' }, value: NaN },
        { labels: { v: 'pinf' }, value: Infinity },
        { labels: { v: 'ninf' }, value: -Infinity },
        { labels: { v: 'ok' }, value: 1 },
      ),
    ]);
    assert.deepEqual(reasons(r), { non_finite_value: 3 });
    assert.deepEqual(
      r.skipped.map((s) => s.labels.v),
      ['nan', 'pinf', 'ninf'],
    );
    assert.equal(only(r, 'g').dimensions.v, 'ok');
  });
  it('too_many_dimensions: more than 20 after adding instance and extras', () => {
    const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, 'v']));
    const r = run([gauge('g19', { labels: labels(19) }), gauge('g20', { labels: labels(20) })]);
    assert.equal(Object.keys(only(r, 'g19').dimensions).length, 20, '19 labels + instance = 20 is fine');
    assert.deepEqual(r.skipped, [{ name: 'g20', labels: labels(20), reason: 'too_many_dimensions' }]);
    const withExtras = run([gauge('g', { labels: labels(18) })], opts({ extraDimensions: { env: 'p', team: 't' } }));
    assert.deepEqual(reasons(withExtras), { too_many_dimensions: 1 });
  });
  it("too_many_dimensions: more than 20 distinct keys over the streams of one metric name (OCI's metric group)", () => {
    const keys = (prefix: string, n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'v']));
    // 10 + 9 keys + instance = 20: fits; one more key in a third series makes 21.
    const r = run([
      gauge('g', { labels: keys('a', 10) }, { labels: keys('b', 9) }, { labels: keys('c', 1) }, { labels: keys('a', 3) }),
      gauge('other', { labels: keys('c', 1) }),
    ]);
    assert.deepEqual(r.skipped, [{ name: 'g', labels: { c0: 'v' }, reason: 'too_many_dimensions' }]);
    assert.equal(named(r, 'g').length, 3, "series within the group's keys still post");
    assert.equal(named(r, 'other').length, 1, 'another name is another group');
    const groupKeys = new Set(named(r, 'g').flatMap((m) => Object.keys(m.dimensions)));
    assert.equal(groupKeys.size, 20);
  });
  it('too_many_dimensions: empty-valued labels do not count', () => {
    const labels = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`l${i}`, i < 19 ? 'v' : '']));
    assert.equal(Object.keys(only(run([gauge('g', { labels })]), 'g').dimensions).length, 20);
  });
  it('invalid_dimension: keys with spaces, non-ASCII or control characters, or over 256 characters', () => {
    const r = run([
      gauge('space', { labels: { 'a b': '1' } }),
      gauge('accent', { labels: { café: '1' } }),
      gauge('tab', { labels: { 'a\tb': '1' } }),
      gauge('long', { labels: { ['k'.repeat(257)]: '1' } }),
      gauge('long256', { labels: { ['k'.repeat(256)]: '1' } }),
      gauge('empty', { labels: { '': '1' } }),
    ]);
    assert.deepEqual(
      r.skipped.map((s) => `${s.name}:${s.reason}`),
      ['space:invalid_dimension', 'accent:invalid_dimension', 'tab:invalid_dimension', 'long:invalid_dimension', 'empty:invalid_dimension'],
    );
    assert.deepEqual(
      r.metrics.map((m) => m.name),
      ['long256'],
    );
  });
  it('invalid_dimension: exported_ prefix pushing a key over 256 characters', () => {
    const k = 'x'.repeat(250);
    const r = run([gauge('g', { labels: { [k]: 'from-exposition' } })], opts({ extraDimensions: { [k]: 'extra' } }));
    assert.deepEqual(reasons(r), { invalid_dimension: 1 });
  });
  it('invalid_dimension: an empty le or quantile value cannot become a dimension', () => {
    const r = run([{ kind: 'histogram', name: 'h', help: '', series: [{ labels: {}, buckets: [{ le: '', value: 1 }] }] }], opts({ histogramBuckets: true }));
    assert.deepEqual(r.skipped, [{ name: 'h_bucket', labels: { le: '' }, reason: 'invalid_dimension' }]);
  });
  it('invalid_dimension: an invalid extra dimension key (not from settings) rejects every series', () => {
    const r = run([gauge('a'), gauge('b')], opts({ extraDimensions: { 'bad key': 'v' } }));
    assert.deepEqual(reasons(r), { invalid_dimension: 2 });
  });
  it('distinct Prometheus names never collide: a:b and a_b, _x and x are four streams', () => {
    const r = run([gauge('a:b', { value: 1 }), gauge('a_b', { value: 2 }), gauge('_x', { value: 3 }), gauge('x', { value: 4 })]);
    assert.deepEqual(
      r.metrics.map((m) => [m.name, m.datapoints[0].value]),
      [
        ['a.b', 1],
        ['a_b', 2],
        ['prom$_x', 3],
        ['x', 4],
      ],
    );
    assert.deepEqual(r.skipped, []);
  });
  it('duplicate_series: a histogram _sum and a gauge of the same sample name (Prometheus stores one series)', () => {
    const h: MetricFamily = { kind: 'histogram', name: 'h', help: '', series: [{ labels: {}, buckets: [], sum: 1, count: 1 }] };
    const r = run([h, gauge('h_sum', { value: 9 })]);
    assert.equal(only(r, 'h_sum').datapoints[0].value, 1, 'the first one wins');
    assert.deepEqual(r.skipped, [{ name: 'h_sum', labels: {}, reason: 'duplicate_series' }]);
  });
  it('duplicate_series: labels that differ only by an empty value, or a repeated series', () => {
    const r = run([gauge('g', { labels: { a: '1' } }, { labels: { a: '1', b: '' } }, { labels: { a: '1' } })]);
    assert.deepEqual(reasons(r), { duplicate_series: 2 });
    assert.deepEqual(
      r.skipped.map((s) => s.labels),
      [{ a: '1', b: '' }, { a: '1' }],
    );
  });
  it('duplicate_series: metadata is not part of the identity', () => {
    const a: MetricFamily = { kind: 'gauge', name: 'x_y', help: 'one', series: [{ labels: {}, value: 1 }] };
    const b: MetricFamily = { kind: 'gauge', name: 'x_y', help: 'two', series: [{ labels: {}, value: 1 }] };
    assert.deepEqual(reasons(run([a, b])), { duplicate_series: 1 });
  });
  it('a skipped non-finite sample does not block a later valid one of the same stream', () => {
    const r = run([gauge('g', { value: NaN }, { value: 3 })]);
    assert.equal(only(r, 'g').datapoints[0].value, 3);
    assert.deepEqual(reasons(r), { non_finite_value: 1 });
  });
  it('a real sample wins over a derived _avg with the same stream, in either order', () => {
    const h: MetricFamily = { kind: 'histogram', name: 'h', help: '', series: [{ labels: {}, buckets: [], sum: 10, count: 2 }] };
    for (const fams of [
      [h, gauge('h_avg', { value: 99 })],
      [gauge('h_avg', { value: 99 }), h],
    ]) {
      const r = run(fams);
      assert.equal(only(r, 'h_avg').datapoints[0].value, 99);
      assert.equal(r.derivedCount, 0);
      assert.deepEqual(r.skipped, []);
    }
  });
  it('two derived _avg with the same stream: the first is kept, nothing is skipped', () => {
    const h = (name: string, sum: number): MetricFamily => ({ kind: 'histogram', name, help: '', series: [{ labels: {}, buckets: [], sum, count: 1 }] });
    const r = run([h('a_b', 1), h('a_b', 2)]);
    assert.equal(only(r, 'a_b_avg').datapoints[0].value, 1);
    assert.equal(r.derivedCount, 1);
    assert.deepEqual(reasons(r), { duplicate_series: 2 }, 'a_b_sum and a_b_count of the second family');
  });
  it('reports every skip reason of the model', () => {
    const all: SkipReason[] = [
      'filtered_by_include',
      'filtered_by_exclude',
      'histogram_buckets_disabled',
      'non_finite_value',
      'too_many_dimensions',
      'invalid_metric_name',
      'invalid_dimension',
      'duplicate_series',
      'timestamp_out_of_window',
      'self_metric_collision',
      'in_spool',
    ];
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`l${i}`, 'v']));
    const r = run(
      [
        gauge('not_included'),
        gauge('x_excluded'),
        { kind: 'histogram', name: 'x_h', help: '', series: [{ labels: {}, buckets: [{ le: '1', value: 1 }] }] },
        gauge('x_nan', { value: NaN }),
        gauge('x_many', { labels: many }),
        gauge('x_bad:name', { labels: { 'a b': '1' } }),
        gauge('x_dup'),
        gauge('x_dup'),
        gauge('x_old', { timestampMs: NOW - 3 * HOUR }),
      ],
      opts({ include: /^x/, exclude: /excluded/ }),
    );
    const elsewhere: SkipReason[] = ['invalid_metric_name', 'self_metric_collision', 'in_spool'];
    assert.deepEqual(Object.keys(reasons(r)).sort(), [...all.filter((x) => !elsewhere.includes(x))].sort());
    assert.deepEqual(reasons(run([gauge('1')])), { invalid_metric_name: 1 });
    assert.deepEqual(reasons(run([gauge('up')])), { self_metric_collision: 1 });
    // A datapoint pending in the outage spool is left to its replay: never posted both fresh and replayed.
    const spooled = run([gauge('x_a'), gauge('x_b')], opts(), { ...TARGET, inSpool: (m) => m.name === 'x_b' });
    assert.deepEqual(reasons(spooled), { in_spool: 1 });
    assert.deepEqual(
      spooled.metrics.map((m) => m.name),
      ['x_a'],
    );
  });
});

describe('dimensions', () => {
  it('drops labels with empty values', () => {
    assert.deepEqual(only(run([gauge('g', { labels: { a: '', b: 'x' } })]), 'g').dimensions, { b: 'x', instance: '10.0.0.5:3000' });
  });
  it('keeps an exposition instance label as exported_instance', () => {
    const d = only(run([gauge('g', { labels: { instance: 'pod-7' } })]), 'g').dimensions;
    assert.deepEqual(d, { exported_instance: 'pod-7', instance: '10.0.0.5:3000' });
  });
  it('an empty exposition instance label is simply dropped', () => {
    assert.deepEqual(only(run([gauge('g', { labels: { instance: '' } })]), 'g').dimensions, { instance: '10.0.0.5:3000' });
  });
  it('repeats the prefix while the renamed label still clashes', () => {
    const d = only(run([gauge('g', { labels: { instance: 'a', exported_instance: 'b' } })]), 'g').dimensions;
    assert.deepEqual(d, { exported_exported_instance: 'a', exported_instance: 'b', instance: '10.0.0.5:3000' });
    const d3 = only(run([gauge('g', { labels: { instance: 'a', exported_instance: 'b', exported_exported_instance: 'c' } })]), 'g').dimensions;
    assert.deepEqual(d3, { exported_exported_exported_instance: 'a', exported_exported_instance: 'c', exported_instance: 'b', instance: '10.0.0.5:3000' });
  });
  it('renames labels that clash with an extra dimension', () => {
    const d = only(run([gauge('g', { labels: { env: 'dev' } })], opts({ extraDimensions: { env: 'prod' } })), 'g').dimensions;
    assert.deepEqual(d, { env: 'prod', exported_env: 'dev', instance: '10.0.0.5:3000' });
  });
  it('renames an le label on a bucket and a quantile label on a quantile line', () => {
    const r = run(
      [
        { kind: 'histogram', name: 'h', help: '', series: [{ labels: { le: 'weird' }, buckets: [{ le: '1', value: 1 }], sum: 1, count: 1 }] },
        { kind: 'summary', name: 's', help: '', series: [{ labels: { quantile: 'odd' }, quantiles: [{ quantile: '0.9', value: 1 }] }] },
      ],
      opts({ histogramBuckets: true }),
    );
    assert.deepEqual(only(r, 'h_bucket').dimensions, { exported_le: 'weird', instance: '10.0.0.5:3000', le: '1.0' });
    assert.deepEqual(only(r, 'h_sum').dimensions, { instance: '10.0.0.5:3000', le: 'weird' }, 'no le is added to _sum, so no clash');
    assert.deepEqual(only(r, 's').dimensions, { exported_quantile: 'odd', instance: '10.0.0.5:3000', quantile: '0.9' });
  });
  it('instance wins over an extra dimension called instance; le/quantile win over extras on their lines', () => {
    const r = run(
      [{ kind: 'histogram', name: 'h', help: '', series: [{ labels: {}, buckets: [{ le: '1', value: 1 }], sum: 1, count: 1 }] }],
      opts({ histogramBuckets: true, extraDimensions: { instance: 'override', le: 'extra' } }),
    );
    assert.deepEqual(only(r, 'h_bucket').dimensions, { instance: '10.0.0.5:3000', le: '1.0' });
    assert.deepEqual(only(r, 'h_sum').dimensions, { instance: '10.0.0.5:3000', le: 'extra' });
  });
  it('an empty target instance becomes "unknown" so every series keeps a dimension', () => {
    const r = run([gauge('g')], opts(), { instance: '', scrapeTimeMs: NOW });
    assert.deepEqual(only(r, 'g').dimensions, { instance: 'unknown' });
  });
  it('a label named __proto__ stays an ordinary dimension', () => {
    const labels: Labels = Object.fromEntries([
      ['__proto__', 'p'],
      ['toString', 't'],
    ]);
    const d = only(run([gauge('g', { labels })]), 'g').dimensions;
    assert.deepEqual(Object.entries(d), [
      ['__proto__', 'p'],
      ['instance', '10.0.0.5:3000'],
      ['toString', 't'],
    ]);
  });
  it('emits dimension keys in sorted order (deterministic)', () => {
    const d = only(run([gauge('g', { labels: { z: '1', a: '2', m: '3' } })]), 'g').dimensions;
    assert.deepEqual(Object.keys(d), ['a', 'instance', 'm', 'z']);
  });
});

describe('long and unicode dimension values (512 counted in UTF-16 units, the reading OCI never rejects)', () => {
  it('keeps values of up to 512 UTF-16 units as they are', () => {
    const v = 'v'.repeat(512);
    assert.equal(shortenDimensionValue(v), v);
    const emoji = '😀'.repeat(256); // 512 UTF-16 units, 256 code points
    assert.equal(shortenDimensionValue(emoji), emoji);
  });
  it('shortens an astral value of 300 code points (600 UTF-16 units): code points would have let it through', () => {
    const emoji = '😀'.repeat(300);
    const s = shortenDimensionValue(emoji);
    assert.ok(s.length <= 512, `${s.length} units`);
    assert.notEqual(s, emoji);
    const d = only(run([gauge('g', { labels: { e: emoji } })]), 'g').dimensions;
    assert.ok(d.e.length <= 512);
  });
  it('shortens longer values to exactly 512 units: a prefix, ~ and a hex hash', () => {
    const v = 'a'.repeat(513);
    const s = shortenDimensionValue(v);
    assert.equal(s.length, 512);
    assert.match(s, /^a{495}~[0-9a-f]{16}$/);
    assert.equal(shortenDimensionValue(v), s, 'deterministic');
  });
  it('keeps distinct long values distinct (even with a shared 1000-character prefix)', () => {
    const prefix = 'route=/api/products?'.repeat(50);
    const values = ['a', 'b', 'c', 'aa', ''].map((t) => prefix + t);
    const shortened = values.map(shortenDimensionValue);
    assert.equal(new Set(shortened).size, values.length);
    const r = run(values.map((v, i) => gauge(`g${i}`, { labels: { url: v } })).concat([gauge('same', ...values.map((v) => ({ labels: { url: v } })))]));
    assert.equal(named(r, 'same').length, values.length, 'no duplicate_series among distinct long values');
    for (const m of r.metrics) assert.ok(m.dimensions.url.length <= 512);
  });
  it('never splits a surrogate pair when shortening', () => {
    for (const lead of ['', 'x', 'xy']) {
      const v = lead + '😀'.repeat(600);
      const s = shortenDimensionValue(v);
      assert.ok(s.length === 512 || s.length === 511, `${s.length}`);
      assert.doesNotMatch(s, LONE_SURROGATE);
      assert.ok(s.startsWith(lead + '😀'));
      assert.match(s, /~[0-9a-f]{16}$/);
    }
  });
  it('posts unicode label values unchanged', () => {
    const d = only(run([gauge('g', { labels: { city: 'मुंबई', emoji: '🛒', mixed: 'naïve café' } })]), 'g').dimensions;
    assert.deepEqual(d, { city: 'मुंबई', emoji: '🛒', instance: '10.0.0.5:3000', mixed: 'naïve café' });
  });
  it('shortens long instance and extra dimension values too', () => {
    const r = run([gauge('g')], opts({ extraDimensions: { note: 'n'.repeat(400) } }), { instance: 'h'.repeat(600), scrapeTimeMs: NOW });
    assert.equal(only(r, 'g').dimensions.instance.length, 512);
  });
});

describe('le and quantile values in OpenMetrics float form (as Prometheus stores them)', () => {
  const hist = (les: string[]): MetricFamily => ({
    kind: 'histogram',
    name: 'h',
    help: '',
    series: [{ labels: {}, buckets: les.map((le, i) => ({ le, value: i })), sum: 1, count: 1 }],
  });
  it('normalises le: 1 -> 1.0, 1e3 -> 1000.0, 1000000 -> 1e+06, .5 -> 0.5, +inf -> +Inf; non-floats stay as written', () => {
    const r = run([hist(['1', '1e3', '1000000', '.5', '0.00001', '+inf', 'abc'])], opts({ histogramBuckets: true }));
    assert.deepEqual(
      named(r, 'h_bucket').map((m) => m.dimensions.le),
      ['1.0', '1000.0', '1e+06', '0.5', '1e-05', '+Inf', 'abc'],
    );
  });
  it('le="1" from one client and le="1.0" from another are one stream', () => {
    const a = run([hist(['1', '+Inf'])], opts({ histogramBuckets: true }));
    const b = run([hist(['1.0', '+Inf'])], opts({ histogramBuckets: true }));
    assert.deepEqual(named(a, 'h_bucket').map(streamOf), named(b, 'h_bucket').map(streamOf));
  });
  it('the same bound written twice in one series is one stream: the second is duplicate_series, reported as written', () => {
    const r = run([hist(['1', '1.0'])], opts({ histogramBuckets: true }));
    assert.deepEqual(r.skipped, [{ name: 'h_bucket', labels: { le: '1.0' }, reason: 'duplicate_series' }]);
  });
  it('normalises quantile: 0.50 -> 0.5, 1 -> 1.0; a skip reports the value as written', () => {
    const s: MetricFamily = {
      kind: 'summary',
      name: 's',
      help: '',
      series: [
        {
          labels: {},
          quantiles: [
            { quantile: '0.50', value: 1 },
            { quantile: '1', value: 2 },
            { quantile: '0.990', value: NaN },
          ],
        },
      ],
    };
    const r = run([s]);
    assert.deepEqual(
      named(r, 's').map((m) => m.dimensions.quantile),
      ['0.5', '1.0'],
    );
    assert.deepEqual(r.skipped, [{ name: 's', labels: { quantile: '0.990' }, reason: 'non_finite_value' }]);
  });
  it('a gauge label called le is not a bucket bound and stays as written', () => {
    assert.equal(only(run([gauge('g', { labels: { le: '1' } })]), 'g').dimensions.le, '1');
  });
});

describe('self-metric names in the exposition', () => {
  it('an unlabelled up or scrape_* sample would share the self-metric stream: skipped self_metric_collision', () => {
    const r = run(
      [gauge('up', { value: 0 }), gauge('scrape_duration_seconds', { value: 5 }), gauge('scrape_samples_scraped')],
      opts({ extraDimensions: { env: 'prod' } }),
    );
    assert.deepEqual(r.metrics, []);
    assert.deepEqual(
      r.skipped.map((s) => [s.name, s.reason]),
      [
        ['up', 'self_metric_collision'],
        ['scrape_duration_seconds', 'self_metric_collision'],
        ['scrape_samples_scraped', 'self_metric_collision'],
      ],
    );
  });
  it('state_ok may add a cause dimension: an exposition state_ok with only a cause label is skipped too', () => {
    const r = run([gauge('state_ok', { labels: { cause: 'unavailable' }, value: 0 }), gauge('state_ok', { labels: { other: 'x' } })]);
    assert.deepEqual(
      r.skipped.map((s) => [s.name, s.labels, s.reason]),
      [['state_ok', { cause: 'unavailable' }, 'self_metric_collision']],
    );
    assert.deepEqual(only(r, 'state_ok').dimensions, { instance: '10.0.0.5:3000', other: 'x' });
  });
  it('every self-metric declares the dimension keys it may add (the collision rule relies on it)', () => {
    for (const stateOk of [true, false, undefined]) {
      const report: TargetReport = {
        instance: 'i:1',
        scrapeTimeMs: NOW,
        up: true,
        durationMs: 1,
        samplesScraped: 1,
        posted: 1,
        skipped: 0,
        failed: 0,
        stateOk,
        stateCause: 'x',
      };
      for (const m of toSelfMetrics(report, opts())) {
        const declared = SELF_METRICS.find((x) => x.name === m.name)!.extraKeys ?? [];
        for (const k of Object.keys(m.dimensions)) assert.ok(k === 'instance' || declared.includes(k), `${m.name} adds ${k} without declaring it`);
      }
    }
  });
  it('a labelled up (e.g. federated from another Prometheus) is its own stream and is posted', () => {
    const r = run([gauge('up', { labels: { job: 'node', instance: 'db:9100' }, value: 1 })]);
    assert.deepEqual(only(r, 'up').dimensions, { exported_instance: 'db:9100', instance: '10.0.0.5:3000', job: 'node' });
  });
  it('no posted exposition stream equals a self-metric stream (the self-metrics built by toSelfMetrics)', () => {
    const report: TargetReport = { instance: TARGET.instance, scrapeTimeMs: NOW, up: true, durationMs: 1, samplesScraped: 1, posted: 1, skipped: 0, failed: 0 };
    const self = new Set(toSelfMetrics(report, opts({ extraDimensions: { env: 'x' } })).map(streamOf));
    const r = run(
      ['up', 'scrape_series_posted', 'scrape_series_skipped', 'scrape_series_failed', 'other'].map((n) => gauge(n)),
      opts({ extraDimensions: { env: 'x' } }),
    );
    assert.deepEqual(
      r.metrics.map((m) => m.name),
      ['other'],
    );
    for (const m of r.metrics) assert.ok(!self.has(streamOf(m)));
  });
});

describe('timestamps', () => {
  it('uses the scrape time for samples without their own timestamp', () => {
    assert.equal(only(run([gauge('g')]), 'g').datapoints[0].timestamp.getTime(), NOW);
  });
  it("uses a sample's own timestamp when OCI would accept it", () => {
    for (const own of [NOW - 1, NOW - 115 * MIN, NOW + 9 * MIN, NOW - 30 * MIN]) {
      assert.equal(datapointTimestampMs(own, NOW), own);
      assert.equal(only(run([gauge('g', { timestampMs: own })]), 'g').datapoints[0].timestamp.getTime(), own);
    }
  });
  it('never moves a sample in time: own timestamps too old, in seconds, or too far ahead are skipped timestamp_out_of_window', () => {
    const inSeconds = Math.floor(NOW / 1000);
    for (const own of [NOW - 115 * MIN - 1, NOW - 3 * HOUR, NOW + 9 * MIN + 1, NOW + 30 * MIN, NOW + HOUR, inSeconds, 0, NaN]) {
      assert.equal(datapointTimestampMs(own, NOW), undefined, String(own));
      const r = run([gauge('g', { labels: { a: '1' }, timestampMs: own }), gauge('ok')]);
      assert.deepEqual(r.skipped, [{ name: 'g', labels: { a: '1' }, reason: 'timestamp_out_of_window' }], String(own));
      assert.deepEqual(
        r.metrics.map((m) => m.name),
        ['ok'],
      );
    }
  });
  it('keeps each line of a histogram at its own time (buckets, _sum, _count); _avg at the time _sum and _count share', () => {
    const r = run(
      [
        {
          kind: 'histogram',
          name: 'h',
          help: '',
          series: [
            {
              labels: {},
              buckets: [
                { le: '1', value: 1, timestampMs: NOW - 1 * MIN },
                { le: '+Inf', value: 2 },
              ],
              sum: 3,
              count: 2,
              sumTimestampMs: NOW - 2 * MIN,
              countTimestampMs: NOW - 2 * MIN,
            },
          ],
        },
      ],
      opts({ histogramBuckets: true }),
    );
    assert.deepEqual(
      r.metrics.map((m) => [m.name, m.datapoints[0].timestamp.getTime()]),
      [
        ['h_bucket', NOW - MIN],
        ['h_bucket', NOW],
        ['h_sum', NOW - 2 * MIN],
        ['h_count', NOW - 2 * MIN],
        ['h_avg', NOW - 2 * MIN],
      ],
    );
  });
  it('no _avg when _sum and _count were stamped at different times; a summary line out of window is skipped alone', () => {
    const r = run([
      {
        kind: 'summary',
        name: 's',
        help: '',
        series: [{ labels: {}, quantiles: [{ quantile: '0.5', value: 1, timestampMs: NOW - 3 * HOUR }], sum: 3, count: 2, sumTimestampMs: NOW - MIN }],
      },
    ]);
    assert.deepEqual(
      r.metrics.map((m) => [m.name, m.datapoints[0].timestamp.getTime()]),
      [
        ['s_sum', NOW - MIN],
        ['s_count', NOW],
      ],
    );
    assert.equal(r.derivedCount, 0);
    assert.deepEqual(r.notDerived, { missing_value: 1 }, 'no _avg: _sum and _count stamped at different times');
    assert.deepEqual(r.skipped, [{ name: 's', labels: { quantile: '0.5' }, reason: 'timestamp_out_of_window' }]);
  });
});

describe('metadata, namespace, compartment, resource group', () => {
  it('puts HELP into metadata, cut to 256 characters', () => {
    const r = run([{ kind: 'gauge', name: 'g', help: 'h'.repeat(300), series: [{ labels: {}, value: 1 }] }]);
    assert.deepEqual(only(r, 'g').metadata, { help: 'h'.repeat(256) });
  });
  it('omits metadata for empty or blank HELP', () => {
    for (const help of ['', '   ']) {
      const r = run([{ kind: 'gauge', name: 'g', help, series: [{ labels: {}, value: 1 }] }]);
      assert.equal('metadata' in only(r, 'g'), false);
    }
  });
  it('never splits a surrogate pair when cutting HELP', () => {
    const help = 'x' + '📦'.repeat(200);
    const m = only(run([{ kind: 'gauge', name: 'g', help, series: [{ labels: {}, value: 1 }] }]), 'g');
    assert.equal(m.metadata!.help, 'x' + '📦'.repeat(127));
    assert.equal(truncateUtf16('ab', 5), 'ab');
  });
  it('copies namespace and compartment; resourceGroup only when set', () => {
    const without = only(run([gauge('g')]), 'g');
    assert.equal('resourceGroup' in without, false);
    assert.equal(without.namespace, 'bharatmart');
    assert.equal(without.compartmentId, COMPARTMENT);
    assert.equal('resourceGroup' in only(run([gauge('g')], opts({ resourceGroup: '' })), 'g'), false);
    assert.equal(only(run([gauge('g')], opts({ resourceGroup: 'shop.prod-1' })), 'g').resourceGroup, 'shop.prod-1');
  });
});

describe('BharatMart-like exposition', () => {
  it('maps the metric set with the default settings', () => {
    const fams = bharatMart();
    const r = run(fams, opts({ extraDimensions: { env: 'lab' } }));
    // 3 + 2*(12+2) + (7+2) + 1+1+1 + 2 + 1 + 1 + 1 + (2+2) = 52 sample lines, 31 of them buckets
    assert.equal(countLines(fams), 52);
    assert.deepEqual(reasons(r), { histogram_buckets_disabled: 31 });
    assert.equal(r.derivedCount, 4, 'two http_request_duration_seconds, one external_call_latency_ms, one summary');
    assert.equal(r.metrics.length, 52 - 31 + 4);
    const avg = named(r, 'http_request_duration_seconds_avg');
    assert.deepEqual(
      avg.map((m) => m.dimensions),
      [
        { env: 'lab', instance: '10.0.0.5:3000', method: 'GET', route: '/api/products', status_code: '200' },
        { env: 'lab', instance: '10.0.0.5:3000', method: 'POST', route: '/api/orders', status_code: '201' },
      ],
    );
    assert.equal(avg[0].datapoints[0].value, 12.5 / 111);
    assert.equal(only(r, 'external_call_latency_ms_avg').datapoints[0].value, 1234 / 6);
    assert.deepEqual(
      named(r, 'http_requests_total').map((m) => m.datapoints[0].value),
      [1027, 31, 2],
    );
    assert.equal(only(r, 'simulated_latency_ms').datapoints[0].value, 250);
    assert.equal(only(r, 'service_restarts_total').datapoints[0].value, 0);
    assert.deepEqual(only(r, 'orders_failed_total').metadata, { help: 'orders_failed_total help' });
  });
  it('posts every bucket with HISTOGRAM_BUCKETS=true', () => {
    const r = run(bharatMart(), opts({ histogramBuckets: true }));
    assert.deepEqual(r.skipped, []);
    assert.equal(r.metrics.length, 52 + 4);
    const les = named(r, 'http_request_duration_seconds_bucket')
      .filter((m) => m.dimensions.method === 'GET')
      .map((m) => m.dimensions.le);
    assert.deepEqual(les, ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1.0', '2.5', '5.0', '10.0', '+Inf']);
  });
  it('splits into at most 50 unique streams per call downstream: all streams are unique', () => {
    const r = run(bharatMart(), opts({ histogramBuckets: true }));
    assert.equal(new Set(r.metrics.map(streamOf)).size, r.metrics.length);
  });
});

describe('purity and determinism', () => {
  it('does not mutate its input and gives equal output for equal input', () => {
    const fams = bharatMart();
    const before = structuredClone(fams);
    const o = opts({ extraDimensions: { env: 'lab' }, histogramBuckets: true });
    const a = transformAll(fams, TARGET, o);
    const b = transformAll(fams, TARGET, o);
    assert.deepEqual(fams, before);
    assert.deepEqual(a, b);
    assert.notEqual(a.metrics[0].dimensions, b.metrics[0].dimensions, 'no shared mutable objects between calls');
  });
  // Speed is the benchmark's job (npm run bench); this checks that 100k distinct series all map.
  it('maps 100k distinct series, one metric each', () => {
    const series = Array.from({ length: 100_000 }, (_, i) => ({ labels: { id: String(i), route: `/r/${i % 50}` }, value: i }));
    const r = transformAll([{ kind: 'gauge', name: 'big', help: 'many series', series }], TARGET, opts());
    assert.equal(r.metrics.length, 100_000);
    assert.equal(new Set(r.metrics.map((m) => m.dimensions.id)).size, 100_000);
  });
});

describe('toSelfMetrics', () => {
  const report: TargetReport = {
    instance: '10.0.0.5:3000',
    scrapeTimeMs: NOW,
    up: true,
    durationMs: 1234,
    samplesScraped: 58,
    posted: 31,
    skipped: 31,
    failed: 0,
    derived: 0,
  };
  it('posts up, duration and the counts per target', () => {
    const ms = toSelfMetrics(report, opts({ extraDimensions: { env: 'lab' }, resourceGroup: 'rg' }));
    for (const m of ms) assertValidOciMetric(m);
    assert.deepEqual(
      ms.map((m) => [m.name, m.datapoints[0].value]),
      [
        ['up', 1],
        ['scrape_duration_seconds', 1.234],
        ['scrape_samples_scraped', 58],
        ['scrape_series_posted', 31],
        ['scrape_series_skipped', 31],
        ['scrape_series_failed', 0],
        ['scrape_series_derived', 0],
      ],
    );
    for (const m of ms) {
      assert.deepEqual(m.dimensions, { env: 'lab', instance: '10.0.0.5:3000' });
      assert.equal(m.datapoints[0].timestamp.getTime(), NOW);
      assert.equal(m.namespace, 'bharatmart');
      assert.equal(m.resourceGroup, 'rg');
    }
  });
  it('posts state_ok only when the state is on, with the cause as a dimension when 0', () => {
    assert.equal(
      toSelfMetrics(report, opts()).some((m) => m.name === 'state_ok'),
      false,
      'state off: no state_ok',
    );
    const ok = toSelfMetrics({ ...report, stateOk: true }, opts()).find((m) => m.name === 'state_ok')!;
    assert.deepEqual([ok.datapoints[0].value, ok.dimensions], [1, { instance: '10.0.0.5:3000' }]);
    const bad = toSelfMetrics({ ...report, stateOk: false, stateCause: 'not_authorized_or_not_found' }, opts()).find((m) => m.name === 'state_ok')!;
    assert.deepEqual([bad.datapoints[0].value, bad.dimensions], [0, { instance: '10.0.0.5:3000', cause: 'not_authorized_or_not_found' }]);
  });
  it('posts up=0 for a down target', () => {
    const ms = toSelfMetrics({ ...report, up: false, samplesScraped: 0, posted: 0, skipped: 0 }, opts());
    assert.equal(ms.find((m) => m.name === 'up')!.datapoints[0].value, 0);
    for (const m of ms) assertValidOciMetric(m);
  });
  it('stays valid with odd inputs: empty/long instance, invalid extras, non-finite duration', () => {
    const ms = toSelfMetrics({ ...report, instance: '', durationMs: NaN }, opts({ extraDimensions: { 'bad key': 'x', instance: 'y', ok: 'v' } }));
    for (const m of ms) assertValidOciMetric(m);
    assert.equal(
      ms.some((m) => m.name === 'scrape_duration_seconds'),
      false,
      'a NaN duration is left out, not posted as null',
    );
    assert.deepEqual(ms[0].dimensions, { instance: 'unknown', ok: 'v' });
    const long = toSelfMetrics({ ...report, instance: 'x'.repeat(1000) }, opts());
    for (const m of long) assertValidOciMetric(m);
  });
});

// ---------------------------------------------------------------------------------------------
// Property test: random families, random options -> invariant, validity, uniqueness.
// ---------------------------------------------------------------------------------------------

describe('property: random families', () => {
  const nameChar = fc.constantFrom(...'abcXYZ_:09.$-é🚀 '.split(/(?=[\s\S])/u));
  const nameArb = fc.oneof(
    fc.constantFrom('up', 'scrape_duration_seconds', 'a:b', 'a_b', '_a_b', 'h', 'h_avg', 'h_sum', 's', '123', '', 'x'.repeat(255)),
    fc.array(nameChar, { minLength: 0, maxLength: 12 }).map((cs) => cs.join('')),
  );
  const labelName = fc.oneof(
    fc.constantFrom('instance', 'exported_instance', 'le', 'quantile', 'env', 'route', 'a b', 'ключ', '__proto__', 'k'.repeat(257)),
    fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/),
  );
  const labelValue = fc.oneof(fc.constantFrom('', 'x', '+Inf', '🛒', 'v'.repeat(600), '😀'.repeat(520)), fc.string({ unit: 'binary', maxLength: 20 }));
  const mixedLabels = fc.array(fc.tuple(labelName, labelValue), { maxLength: 22 });
  const wideLabels = fc.array(fc.tuple(fc.stringMatching(/^[a-z]{1,3}$/), fc.constantFrom('v', '')), { minLength: 15, maxLength: 25 });
  const labelsArb = fc.oneof(mixedLabels, wideLabels, fc.constant([])).map((es) => Object.fromEntries<string>(es));
  const valueArb = fc.oneof(fc.double(), fc.constantFrom(0, 1, NaN, Infinity, -Infinity, 1e308));
  const tsArb = fc.option(fc.integer({ min: NOW - 3 * HOUR, max: NOW + HOUR }), { nil: undefined });
  const optCount = fc.option(fc.oneof(fc.nat(1000), fc.constantFrom(0, NaN, Infinity)), { nil: undefined });
  const optSum = fc.option(valueArb, { nil: undefined });
  /** Half the series stamp `_sum` and `_count` alike (so `_avg` is derived), half independently. */
  const sharedSumCountTime = <T extends { sumTimestampMs?: number; countTimestampMs?: number; sameTime: boolean }>({ sameTime, ...s }: T) =>
    sameTime ? { ...s, countTimestampMs: s.sumTimestampMs } : s;
  const helpArb = fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 300 }));
  const scalarFam = fc.record({
    kind: fc.constantFrom('counter' as const, 'gauge' as const, 'untyped' as const),
    name: nameArb,
    help: helpArb,
    series: fc.array(fc.record({ labels: labelsArb, value: valueArb, timestampMs: tsArb }), { maxLength: 4 }),
  });
  const histFam = fc.record({
    kind: fc.constant('histogram' as const),
    name: nameArb,
    help: helpArb,
    series: fc.array(
      fc
        .record({
          labels: labelsArb,
          buckets: fc.array(fc.record({ le: fc.constantFrom('0.1', '1', '1.0', '+Inf', ''), value: valueArb, timestampMs: tsArb }), { maxLength: 4 }),
          sum: optSum,
          count: optCount,
          sumTimestampMs: tsArb,
          countTimestampMs: tsArb,
          sameTime: fc.boolean(),
        })
        .map(sharedSumCountTime),
      { maxLength: 3 },
    ),
  });
  const summaryFam = fc.record({
    kind: fc.constant('summary' as const),
    name: nameArb,
    help: helpArb,
    series: fc.array(
      fc
        .record({
          labels: labelsArb,
          quantiles: fc.array(fc.record({ quantile: fc.constantFrom('0.5', '0.50', '0.9', '0.99'), value: valueArb, timestampMs: tsArb }), { maxLength: 3 }),
          sum: optSum,
          count: optCount,
          sumTimestampMs: tsArb,
          countTimestampMs: tsArb,
          sameTime: fc.boolean(),
        })
        .map(sharedSumCountTime),
      { maxLength: 3 },
    ),
  });
  const familiesArb = fc.array(fc.oneof(scalarFam, histFam, summaryFam), { maxLength: 8 }) as fc.Arbitrary<MetricFamily[]>;
  const optsArb = fc.record({
    histogramBuckets: fc.boolean(),
    include: fc.option(fc.constantFrom(/a/, /^h/, /:/, /^$/), { nil: undefined }),
    exclude: fc.option(fc.constantFrom(/b/, /_avg$/, /x/), { nil: undefined }),
    extraDimensions: fc.constantFrom(
      {},
      { env: 'prod' },
      { instance: 'i', le: 'l', route: 'r' },
      Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`x${i}`, 'v'])),
    ),
    resourceGroup: fc.option(fc.constantFrom('rg', 'shop.prod-1'), { nil: undefined }),
  });
  const targetArb = fc.record({ instance: fc.constantFrom('10.0.0.5:3000', '', 'h'.repeat(700)), scrapeTimeMs: fc.constant(NOW) });

  it('accounts for every sample and posts only valid, unique OCI metrics', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(familiesArb, optsArb, targetArb, (families, o, target) => {
        const r = run(families, opts(o), target);
        for (const x of r.skipped) seen.add(x.reason);
        if (r.derivedCount > 0) seen.add('derived');
        if (r.metrics.some((m) => Object.values(m.dimensions).some((v) => v.includes('~')))) seen.add('shortened');
        if (r.metrics.some((m) => Object.keys(m.dimensions).some((k) => k.startsWith('exported_')))) seen.add('exported');
        // Nothing derived without a histogram/summary, and derived names end in _avg.
        const derivable = families.some((f) => f.kind === 'histogram' || f.kind === 'summary');
        if (!derivable) assert.equal(r.derivedCount, 0);
        for (const s of r.skipped) assert.ok(typeof s.name === 'string' && s.reason.length > 0);
      }),
      { seed: 20261125, numRuns: 400 },
    );
    // The generator really exercises every path (otherwise the property says little).
    assert.deepEqual([...seen].sort(), [
      'derived',
      'duplicate_series',
      'exported',
      'filtered_by_exclude',
      'filtered_by_include',
      'histogram_buckets_disabled',
      'invalid_dimension',
      'invalid_metric_name',
      'non_finite_value',
      'self_metric_collision',
      'shortened',
      'timestamp_out_of_window',
      'too_many_dimensions',
    ]);
  });
});
