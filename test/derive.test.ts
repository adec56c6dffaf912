/**
 * Derived series, worked by hand: Prometheus' histogram_quantile() (bucketQuantile) on every edge,
 * irate()-like rates with resets, averages from increases, and why a series is not derived.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MetricFamily, TransformOptions } from '../src/types/model';
import type { TargetState } from '../src/types/state';
import { bucketQuantile, deriveTarget, labelsKey, parseBound, quantileSuffix } from '../src/transform/derive';
import type { DeriveOptions } from '../src/types/model';
import { transformAll } from './helpers/transform';

const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);
const MIN = 60_000;
const ALL: DeriveOptions = { kinds: { rate: true, avg: true, quantiles: true }, quantiles: [0.5, 0.9, 0.99], maxAgeMs: 5 * MIN };
const INF = Infinity;

const counter = (value: number, labels: Record<string, string> = {}, timestampMs?: number): MetricFamily => ({
  kind: 'counter',
  name: 'orders_total',
  help: 'Orders',
  series: [{ labels, value, timestampMs }],
});
const hist = (buckets: [string, number][], sum: number, count: number, labels: Record<string, string> = { route: '/a' }): MetricFamily => ({
  kind: 'histogram',
  name: 'latency_seconds',
  help: 'Latency',
  series: [{ labels, buckets: buckets.map(([le, value]) => ({ le, value })), sum, count }],
});
const summary = (sum: number, count: number): MetricFamily => ({
  kind: 'summary',
  name: 'rpc_seconds',
  help: '',
  series: [{ labels: {}, quantiles: [{ quantile: '0.5', value: 1 }], sum, count }],
});

/** Derives `cur` against the state of `prev` scraped `dtMs` earlier; returns name -> value and the not-derived counts. */
function derive(prev: MetricFamily[], cur: MetricFamily[], dtMs = MIN, opts = ALL) {
  const first = deriveTarget(prev, undefined, T0, opts);
  const second = deriveTarget(cur, first.state, T0 + dtMs, opts);
  const values: Record<string, number> = {};
  for (const lines of second.byFamily.values()) for (const l of lines) values[l.metricName] = l.value;
  return { values, notDerived: second.notDerived, state: second.state, firstNotDerived: first.notDerived };
}

describe('bucketQuantile: Prometheus histogram_quantile() by hand', () => {
  const b = (...pairs: [number, number][]) => pairs.map(([upperBound, count]) => ({ upperBound, count }));
  it('interpolates linearly inside the bucket holding rank q*observations, from 0 in the first', () => {
    const buckets = b([0.1, 2], [1, 3], [INF, 4]);
    assert.equal(bucketQuantile(0.5, buckets), 0.1, 'rank 2 = count of the first bucket: its upper bound');
    assert.ok(Math.abs(bucketQuantile(0.6, buckets) - 0.46) < 1e-12, 'rank 2.4: 0.1 + 0.9 * 0.4/1');
    assert.equal(bucketQuantile(0.25, buckets), 0.05, 'rank 1 in [0, 0.1]: half way');
  });
  it('returns the highest finite bound when the rank falls in the +Inf bucket', () => {
    assert.equal(bucketQuantile(0.99, b([0.1, 2], [1, 3], [INF, 4])), 1);
  });
  it('NaN without observations, without a +Inf bucket, or with fewer than 2 buckets; ±Inf for q outside [0, 1]', () => {
    assert.ok(Number.isNaN(bucketQuantile(0.5, b([1, 0], [INF, 0]))));
    assert.ok(Number.isNaN(bucketQuantile(0.5, b([1, 1], [2, 2]))));
    assert.ok(Number.isNaN(bucketQuantile(0.5, b([INF, 5]))));
    assert.ok(Number.isNaN(bucketQuantile(0.5, [])));
    assert.ok(Number.isNaN(bucketQuantile(NaN, b([1, 1], [INF, 1]))));
    assert.equal(bucketQuantile(-0.1, b([1, 1], [INF, 1])), -INF);
    assert.equal(bucketQuantile(1.1, b([1, 1], [INF, 1])), INF);
  });
  it('forces monotonic counts (the envelope) when buckets decrease', () => {
    // [5, 3, 6] -> [5, 5, 6]; rank 3 in the first bucket: 1 * 3/5.
    assert.equal(bucketQuantile(0.5, b([1, 5], [2, 3], [INF, 6])), 0.6);
  });
  it('returns a non-positive first bound as is (no interpolation from 0)', () => {
    assert.equal(bucketQuantile(0.25, b([-1, 2], [0, 3], [INF, 4])), -1);
  });
  it('sorts by bound and merges equal bounds', () => {
    assert.equal(bucketQuantile(0.5, b([INF, 4], [1, 1], [1, 1])), 1, 'merged bucket 1 holds 2 of 4: rank 2 at its top');
  });
  it('corrects float precision errors below 1e-12 (relative) before searching', () => {
    // Without the correction the rank 3+3e-13 would fall in (1, 2] and give 2.
    assert.equal(bucketQuantile(1, b([1, 3], [2, 3 + 3e-13], [INF, 3 + 3e-13])), 1);
  });
});

describe('naming and parsing helpers', () => {
  it('quantile suffixes: p + 100q with . written _', () => {
    assert.deepEqual([0.5, 0.9, 0.99, 0.999, 0.9999, 0.95, 0.025, 1, 0].map(quantileSuffix), [
      'p50',
      'p90',
      'p99',
      'p99_9',
      'p99_99',
      'p95',
      'p2_5',
      'p100',
      'p0',
    ]);
  });
  it('labels keys ignore order and empty values', () => {
    assert.equal(labelsKey({ b: '2', a: '1', c: '' }), labelsKey({ a: '1', b: '2' }));
    assert.notEqual(labelsKey({ a: '1' }), labelsKey({ a: '2' }));
  });
  it('le bounds as Prometheus parses them', () => {
    assert.deepEqual(['+Inf', 'Inf', 'inf', '-Inf', '0.5', '1e3', '1.0', '', 'abc'].map(parseBound), [INF, INF, INF, -INF, 0.5, 1000, 1, NaN, NaN]);
    // Prometheus' float grammar: no hex, no underscores, no blanks, no signed NaN, nothing beyond float64.
    assert.deepEqual(['0x10', '0x1p4', '1_0', ' 1', '1 ', '-nan', '1e400', '.5', '5.', 'INFINITY'].map(parseBound), [
      NaN,
      NaN,
      NaN,
      NaN,
      NaN,
      NaN,
      NaN,
      0.5,
      5,
      INF,
    ]);
  });
});

describe('counter _rate (irate over the two scrapes)', () => {
  it('increase per second between the scrapes', () => {
    assert.deepEqual(derive([counter(100)], [counter(160)]).values, { orders_total_rate: 1 });
  });
  it('a decrease is a reset: the increase is the new value', () => {
    assert.deepEqual(derive([counter(100)], [counter(30)]).values, { orders_total_rate: 0.5 });
  });
  it("uses the samples' own timestamps when the exposition gives them", () => {
    const r = derive([counter(10, {}, T0 - 30_000)], [counter(20, {}, T0 + MIN - 10_000)]);
    assert.deepEqual(r.values, { orders_total_rate: 10 / 80 }, '80 s between the own timestamps, not the 60 s between scrapes');
  });
  it('per series: a new label set is a first scrape', () => {
    const prev: MetricFamily = { kind: 'counter', name: 'c', help: '', series: [{ labels: { a: '1' }, value: 1 }] };
    const cur: MetricFamily = {
      kind: 'counter',
      name: 'c',
      help: '',
      series: [
        { labels: { a: '1' }, value: 61 },
        { labels: { a: '2' }, value: 5 },
      ],
    };
    const r = derive([prev], [cur]);
    assert.deepEqual(r.values, { c_rate: 1 });
    assert.deepEqual(r.notDerived, { first_scrape: 1 });
  });
});

describe('histogram _avg and _pNN from increases', () => {
  it('the per-interval mean, not the lifetime one (100000 s / 1e6 then 600 s over 600 observations)', () => {
    const r = derive([hist([['+Inf', 1e6]], 100_000, 1e6)], [hist([['+Inf', 1e6 + 600]], 100_600, 1e6 + 600)], MIN, {
      ...ALL,
      kinds: { rate: false, avg: true, quantiles: false },
    });
    assert.equal(r.values.latency_seconds_avg, 1);
  });
  it('quantiles from the bucket increases', () => {
    const prev = hist(
      [
        ['0.1', 10],
        ['1', 20],
        ['+Inf', 30],
      ],
      10,
      30,
    );
    const cur = hist(
      [
        ['0.1', 12],
        ['1', 23],
        ['+Inf', 34],
      ],
      12,
      34,
    ); // increases 2, 3, 4: sum 2 over 4
    const r = derive([prev], [cur]);
    assert.equal(r.values.latency_seconds_avg, 0.5);
    assert.equal(r.values.latency_seconds_p50, 0.1);
    assert.ok(Math.abs(r.values.latency_seconds_p90 - 1) < 1e-12, 'rank 3.6 > 3: the +Inf bucket, highest finite bound');
    assert.equal(r.values.latency_seconds_p99, 1);
  });
  it('no observation in the interval: no _avg and no quantile', () => {
    const h = hist(
      [
        ['1', 5],
        ['+Inf', 5],
      ],
      2,
      5,
    );
    const r = derive([h], [h]);
    assert.deepEqual(r.values, {});
    assert.deepEqual(r.notDerived, { no_observations: 4 });
  });
  it('a reset (_count went down): the new values are the increases', () => {
    const prev = hist(
      [
        ['1', 50],
        ['+Inf', 100],
      ],
      80,
      100,
    );
    const cur = hist(
      [
        ['1', 3],
        ['+Inf', 4],
      ],
      2,
      4,
    );
    const r = derive([prev], [cur]);
    assert.equal(r.values.latency_seconds_avg, 0.5);
    assert.ok(Math.abs(r.values.latency_seconds_p50 - 2 / 3) < 1e-12, 'rank 2 of 3 in [0, 1]');
  });
  it('_sum down while _count goes up: each is its own counter, as irate(_sum) / irate(_count) (never a negative average)', () => {
    // Prometheus: irate(x_sum) = 4 (a decrease is a reset: the new value), irate(x_count) = 2 over the same interval.
    const sumDown = derive([hist([['+Inf', 1]], 10, 1)], [hist([['+Inf', 3]], 4, 3)]);
    assert.equal(sumDown.values.latency_seconds_avg, 2);
    // _count reset while _sum went up: (12 - 10) / 2, as Prometheus' rate(sum) / rate(count).
    const countDown = derive([hist([['+Inf', 5]], 10, 5)], [hist([['+Inf', 2]], 12, 2)]);
    assert.equal(countDown.values.latency_seconds_avg, 1);
    const s = derive([summary(10, 1)], [summary(4, 3)], MIN, { ...ALL, kinds: { rate: false, avg: true, quantiles: false } });
    assert.equal(s.values.rpc_seconds_avg, 2);
  });
  it('a bucket that went down alone: a negative population over the interval, so no percentile (Prometheus would force the envelope)', () => {
    const prev = hist(
      [
        ['1', 10],
        ['2', 10],
        ['+Inf', 10],
      ],
      5,
      10,
    );
    const cur = hist(
      [
        ['1', 4],
        ['2', 12],
        ['+Inf', 12],
      ],
      7,
      12,
    ); // increases 4 (its own reset), 2, 2: the bucket le=2 would hold -2 observations of the interval
    const r = derive([prev], [cur]);
    assert.equal(r.values.latency_seconds_p50, undefined);
    assert.deepEqual(r.notDerived, { invalid_buckets: 3 });
    assert.equal(r.values.latency_seconds_avg, 1, 'the average does not read the buckets');
  });
  it('negative counts or bucket populations in the exposition itself: posted as they are, never a percentile', () => {
    const prev = hist(
      [
        ['1', 1],
        ['2', 2],
        ['+Inf', 3],
      ],
      1,
      3,
    );
    // Cumulative 5, 3, 9: the bucket le=2 holds -2 observations, though every bucket went up.
    const shrinking = hist(
      [
        ['1', 5],
        ['2', 3],
        ['+Inf', 9],
      ],
      4,
      9,
    );
    assert.deepEqual(derive([prev], [shrinking]).notDerived, { invalid_buckets: 3 });
    const negative = hist(
      [
        ['1', -5],
        ['2', -3],
        ['+Inf', -2],
      ],
      -1,
      -2,
    );
    const r = derive([prev], [negative]);
    assert.equal(r.values.latency_seconds_p50, undefined);
    assert.equal(r.notDerived.invalid_buckets, 3);
    // Float noise below Prometheus' 1e-12 relative tolerance is not a negative population.
    const noisy = hist(
      [
        ['1', 2],
        ['2', 3],
        ['+Inf', 6 - 6e-13],
      ],
      4,
      6,
    );
    const withNoise = derive([prev], [noisy]);
    assert.equal(withNoise.notDerived.invalid_buckets, undefined);
    assert.ok(Number.isFinite(withNoise.values.latency_seconds_p50));
  });
  it('a changed bucket layout: quantiles as on a first scrape, the average still', () => {
    const r = derive(
      [
        hist(
          [
            ['1', 1],
            ['+Inf', 2],
          ],
          1,
          2,
        ),
      ],
      [
        hist(
          [
            ['0.5', 1],
            ['1', 2],
            ['+Inf', 4],
          ],
          3,
          4,
        ),
      ],
    );
    assert.deepEqual(r.values, { latency_seconds_avg: 1 });
    assert.deepEqual(r.notDerived, { first_scrape: 3 });
  });
  it('no +Inf bucket: no quantile (Prometheus answers NaN)', () => {
    const r = derive([hist([['1', 1]], 1, 1)], [hist([['1', 3]], 3, 3)]);
    assert.deepEqual(r.values, { latency_seconds_avg: 1 });
    assert.deepEqual(r.notDerived, { missing_value: 3 });
  });
  it('a missing _sum: no _avg, the quantiles still', () => {
    const noSum = (c: number): MetricFamily => ({
      kind: 'histogram',
      name: 'h',
      help: '',
      series: [
        {
          labels: {},
          buckets: [
            { le: '1', value: c },
            { le: '+Inf', value: c },
          ],
          count: c,
        },
      ],
    });
    const r = derive([noSum(1)], [noSum(3)]);
    assert.equal(r.values.h_avg, undefined);
    assert.equal(r.values.h_p50, 0.5);
    assert.deepEqual(r.notDerived, { missing_value: 1 });
  });
});

describe('summary _avg', () => {
  it('increase of _sum over increase of _count; reset by _count', () => {
    assert.deepEqual(derive([summary(10, 100)], [summary(16, 103)]).values, { rpc_seconds_avg: 2 });
    assert.deepEqual(derive([summary(10, 100)], [summary(3, 2)]).values, { rpc_seconds_avg: 1.5 });
  });
});

describe('when nothing is derived', () => {
  const fams = [
    counter(1),
    hist(
      [
        ['1', 1],
        ['+Inf', 1],
      ],
      1,
      1,
    ),
    summary(1, 1),
  ];
  it('first scrape: every would-be derived series counted, the state returned', () => {
    const r = deriveTarget(fams, undefined, T0, ALL);
    assert.equal(r.byFamily.size, 0);
    assert.deepEqual(r.notDerived, { first_scrape: 1 + 4 + 1 });
    assert.deepEqual(Object.keys(r.state!.f).sort(), ['latency_seconds', 'orders_total', 'rpc_seconds']);
  });
  it('stale state: older than STATE_MAX_AGE_SECONDS', () => {
    const r = derive(fams, fams, 5 * MIN + 1);
    assert.deepEqual(r.values, {});
    assert.deepEqual(r.notDerived, { stale_state: 6 });
    assert.deepEqual(derive([counter(1)], [counter(2)], 5 * MIN).values, { orders_total_rate: 1 / 300 }, 'exactly the max age is still fresh');
  });
  it('no interval: the previous sample is not older than this one', () => {
    assert.deepEqual(derive([counter(1, {}, T0 + 5000)], [counter(2, {}, T0 + 5000)]).notDerived, { no_interval: 1 });
  });
  it('state off / failed: counted, no state returned; a replaced (corrupt) state: counted as failed, state returned', () => {
    for (const reason of ['state_off', 'state_failed'] as const) {
      const r = deriveTarget(fams, reason, T0, ALL);
      assert.deepEqual(r.notDerived, { [reason]: 6 });
      assert.equal(r.state, undefined);
    }
    const replaced = deriveTarget(fams, 'state_replaced', T0, ALL);
    assert.deepEqual(replaced.notDerived, { state_failed: 6 });
    assert.ok(replaced.state);
  });
  it('a family whose kind changed is a first scrape', () => {
    const gaugeNow: MetricFamily = { kind: 'gauge', name: 'orders_total', help: '', series: [{ labels: {}, value: 5 }] };
    const asCounter: MetricFamily = { kind: 'counter', name: 'x', help: '', series: [{ labels: {}, value: 5 }] };
    const prevState: TargetState = { t: T0, f: { x: { k: 'h', s: { '[]': [1, 1] } } } };
    assert.deepEqual(deriveTarget([asCounter, gaugeNow], prevState, T0 + MIN, ALL).notDerived, { first_scrape: 1 });
  });
  it('DERIVED_SERIES picks kinds, and the state keeps only what they need', () => {
    const rateOnly = derive(
      fams,
      fams.map((f) => f),
      MIN,
      { ...ALL, kinds: { rate: true, avg: false, quantiles: false } },
    );
    assert.deepEqual(Object.keys(rateOnly.state!.f), ['orders_total']);
    const avgOnly = derive(fams, fams, MIN, { ...ALL, kinds: { rate: false, avg: true, quantiles: false } });
    assert.equal(avgOnly.state!.f.latency_seconds.le, undefined, 'no buckets kept without quantiles');
    assert.deepEqual(avgOnly.state!.f.latency_seconds.s, { [labelsKey({ route: '/a' })]: [1, 1] });
    const none = deriveTarget(fams, undefined, T0, { ...ALL, kinds: { rate: false, avg: false, quantiles: false } });
    assert.deepEqual([none.notDerived, none.state], [{}, undefined]);
  });
});

describe('through the transform', () => {
  const topts: TransformOptions = { namespace: 'ns', compartmentId: 'ocid1.compartment.oc1..x', extraDimensions: {}, histogramBuckets: false, derive: ALL };
  it('derived series carry the source dimensions and are counted as derived; the lifetime _avg is gone', () => {
    const prev = transformAll(
      [
        counter(10, { route: '/a' }),
        hist(
          [
            ['1', 1],
            ['+Inf', 2],
          ],
          3,
          2,
        ),
      ],
      { instance: 'h:1', scrapeTimeMs: T0 },
      topts,
    );
    assert.equal(prev.derivedCount, 0);
    assert.equal(
      prev.metrics.some((m) => m.name.endsWith('_avg')),
      false,
      'no lifetime average on a first scrape',
    );
    const cur = transformAll(
      [
        counter(70, { route: '/a' }),
        hist(
          [
            ['1', 3],
            ['+Inf', 4],
          ],
          5,
          4,
        ),
      ],
      { instance: 'h:1', scrapeTimeMs: T0 + MIN, previous: prev.state },
      topts,
    );
    const rate = cur.metrics.find((m) => m.name === 'orders_total_rate')!;
    assert.deepEqual([rate.dimensions, rate.datapoints[0].value, rate.datapoints[0].timestamp.getTime()], [{ instance: 'h:1', route: '/a' }, 1, T0 + MIN]);
    assert.deepEqual(
      cur.metrics.filter((m) => m.name.startsWith('latency_seconds_')).map((m) => m.name),
      ['latency_seconds_sum', 'latency_seconds_count', 'latency_seconds_avg', 'latency_seconds_p50', 'latency_seconds_p90', 'latency_seconds_p99'],
    );
    assert.equal(cur.derivedCount, 5);
    assert.deepEqual(cur.notDerived, {});
    assert.equal(cur.metrics.length - cur.derivedCount + cur.skipped.length, 1 + 2 + 2, 'samples = series - derived + skipped');
  });
  it('a derived series that clashes with a sample is counted duplicate_series; one with invalid dimensions invalid_series', () => {
    const clash: MetricFamily = { kind: 'gauge', name: 'orders_total_rate', help: '', series: [{ labels: {}, value: 9 }] };
    const bad: MetricFamily = { kind: 'counter', name: 'bad_total', help: '', series: [{ labels: { 'k e y': 'v' }, value: 1 }] };
    const prev = transformAll([counter(1), bad], { instance: 'h:1', scrapeTimeMs: T0 }, topts);
    const cur = transformAll(
      [counter(2), clash, { ...bad, series: [{ labels: { 'k e y': 'v' }, value: 2 }] }],
      { instance: 'h:1', scrapeTimeMs: T0 + MIN, previous: prev.state },
      topts,
    );
    assert.equal(cur.metrics.find((m) => m.name === 'orders_total_rate')!.datapoints[0].value, 9, 'the real sample wins');
    assert.deepEqual(cur.notDerived, { duplicate_series: 1, invalid_series: 1 });
    assert.equal(cur.derivedCount, 0);
  });
});
