import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { counterRate, evaluateMql, formatMql, matchesFilters, MqlError, parseInterval, parseMql, percentileOf } from '../src/local/emulator/mql';
import { runQuery } from '../src/local/emulator/api';
import { MetricStore, type MetricSeries } from '../src/local/emulator/store';

const MIN = 60_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % (60 * MIN)); // an hour boundary

/** A stored series of http_requests_total with the given dimensions and [offsetMs, value] points. */
function series(dimensions: Record<string, string>, points: [number, number][], name = 'http_requests_total'): MetricSeries {
  return {
    namespace: 'bharatmart',
    compartmentId: 'ocid1.compartment.oc1..x',
    name,
    dimensions,
    datapoints: points.map(([t, value]) => ({ timestamp: T0 + t, value })),
  };
}

/** Evaluates a query text over series for the first `minutes` minutes after T0. */
function run(text: string, data: MetricSeries[], minutes = 3) {
  return evaluateMql(parseMql(text), data, { from: T0, to: T0 + minutes * MIN });
}

/** Asserts that parsing fails with a message matching re. */
function rejects(text: string, re: RegExp): void {
  assert.throws(
    () => parseMql(text),
    (e: unknown) => e instanceof MqlError && re.test(e.message),
    text,
  );
}

describe('parseMql', () => {
  test('the form users type in OCI', () => {
    const q = parseMql('http_requests_total[1m]{route = "/api/orders"}.rate()');
    assert.equal(q.metric, 'http_requests_total');
    assert.equal(q.intervalMs, MIN);
    assert.deepEqual(q.filters, [[{ key: 'route', op: '=', value: '/api/orders' }]]);
    assert.equal(q.statistic, 'rate');
    assert.equal(q.grouping, undefined);
    assert.equal(q.localOnlyInterval, false);
  });

  test('grouping before or after the statistic, filters with and/or, percentile', () => {
    const q = parseMql(
      ' http_requests_total [5m] { method="GET" , status_code =~ "2*|3*" || route != "/health" } . groupBy( route , method ) . percentile( 0.9 ) ',
    );
    assert.equal(q.intervalMs, 5 * MIN);
    assert.deepEqual(q.filters, [
      [
        { key: 'method', op: '=', value: 'GET' },
        { key: 'status_code', op: '=~', value: '2*|3*' },
      ],
      [{ key: 'route', op: '!=', value: '/health' }],
    ]);
    assert.deepEqual(q.grouping, { kind: 'by', keys: ['route', 'method'] });
    assert.equal(q.statistic, 'percentile');
    assert.equal(q.percentile, 0.9);
    assert.deepEqual(parseMql('up[1h].max().grouping()').grouping, { kind: 'all' });
    assert.deepEqual(parseMql('up[1d]{a = "x" && b !~ "y*"}.last()').filters, [
      [
        { key: 'a', op: '=', value: 'x' },
        { key: 'b', op: '!~', value: 'y*' },
      ],
    ]);
  });

  test('formatMql round-trips to the same query', () => {
    for (const text of [
      'http_requests_total[1m]{route = "/api/orders"}.rate()',
      'a[5m]{x = "q\\"uote", y =~ "*z"}.groupBy(x).mean()',
      'b[1h]{x != "1" || y = "2"}.grouping().percentile(0.5)',
      'c[10s].count()',
    ]) {
      const q = parseMql(text);
      assert.deepEqual(parseMql(formatMql(q)), q, text);
    }
    assert.equal(formatMql(parseMql('x[1m]{ a="b"}.groupBy(a).sum()')), 'x[1m]{a = "b"}.groupBy(a).sum()');
  });

  test("intervals: OCI's values 1m-60m, 1h-24h, 1d; seconds only as a local extension", () => {
    assert.deepEqual(parseInterval('1m'), { ms: MIN, normalised: '1m' });
    assert.equal(parseInterval('60m').ms, 60 * MIN);
    assert.equal(parseInterval('24h').ms, 86_400_000);
    assert.equal(parseInterval('1d').ms, 86_400_000);
    assert.equal(parseMql('x[10s].mean()').localOnlyInterval, true);
    for (const bad of ['2d', '0m', '61m', '90m', '25h', '0h', '100m', '60s', '1440m'])
      rejects(`x[${bad}].mean()`, /is not a valid interval: OCI accepts 1m-60m, 1h-24h or 1d/);
    rejects('x[1w].mean()', /not an interval/);
    rejects('x[auto].mean()', /not an interval/);
  });

  test('clear errors for what the subset does not support', () => {
    rejects('', /empty/);
    rejects('http_requests_total.rate()', /expected an interval after the metric name/);
    rejects('http_requests_total[1m]', /statistic is required/);
    rejects('x[1m].topK(3)', /topK\(\) is not supported here; supported: grouping\(\), groupBy\(\).*rate\(\)/);
    rejects('x[1m].mean() > 80', /alarm conditions/);
    rejects('x[1m].mean() + y[1m].mean()', /arithmetic/);
    rejects('x[1m].mean().max()', /only one statistic/);
    rejects('x[1m].grouping().groupBy(a).max()', /only one grouping/);
    rejects('x[1m].groupBy().max()', /at least one dimension/);
    rejects('x[1m].percentile(90)', /between 0 and 1/);
    rejects('x[1m].mean(1)', /takes no arguments/);
    rejects('x[1m]{route = /api}.mean()', /value of route in double quotes/);
    rejects('x[1m]{route ~ "a"}.mean()', /expected =, !=, =~ or !~/);
    rejects('x[1m]{route = "a"', /expected , && \|\| or \}/);
    rejects('x[1m]{route = "a}.mean()', /unterminated string/);
  });

  test('metric names as OCI allows them: letters, digits, ., _, -, $ (what prom2oci posts for job:x and _x)', () => {
    assert.equal(parseMql('job.http_requests.rate5m[1m].mean()').metric, 'job.http_requests.rate5m');
    assert.equal(parseMql('prom$_leading[5m]{a = "b"}.max()').metric, 'prom$_leading');
    assert.equal(parseMql('my-metric.v2[1h].sum()').metric, 'my-metric.v2');
    for (const text of ['job.x.y[1m].rate()', 'prom$.colon_first[1m].increment()']) assert.deepEqual(parseMql(formatMql(parseMql(text))), parseMql(text));
    rejects('_x[1m].mean()', /expected a metric name/);
    rejects('9x[1m].mean()', /expected a metric name/);
  });

  test('avg() and increment() are statistics', () => {
    assert.equal(parseMql('x[1m].avg()').statistic, 'avg');
    assert.equal(parseMql('x[1m].increment()').statistic, 'increment');
    rejects('x[1m].increment(2)', /takes no arguments/);
  });

  test('errors carry the column of the problem', () => {
    assert.throws(
      () => parseMql('x[1m].nope()'),
      (e: unknown) => e instanceof MqlError && e.column === 7 && /column 7/.test(e.message),
    );
  });
});

describe('helpers', () => {
  test('counterRate: per-second increase; a decrease is a reset from 0', () => {
    const p = (t: number, value: number) => ({ timestamp: t * 1000, value });
    assert.equal(counterRate([p(0, 10), p(10, 30), p(20, 50)]), 2);
    // 100 -> 20 is a restart: the step adds 20 (counted from 0), not -80.
    assert.equal(counterRate([p(0, 90), p(10, 100), p(20, 20), p(30, 40)]), (10 + 20 + 20) / 30);
    assert.equal(counterRate([p(0, 1)]), undefined);
    assert.equal(counterRate([p(5, 1), p(5, 2)]), undefined);
  });

  test('percentileOf interpolates between closest ranks', () => {
    assert.equal(percentileOf([1, 2, 3, 4, 5], 0.5), 3);
    assert.equal(percentileOf([10, 0], 0.25), 2.5);
    assert.equal(percentileOf([7], 0.99), 7);
  });

  test('matchesFilters: =, !=, glob =~ with alternatives, !~, or-of-and', () => {
    const f = parseMql('x[1m]{route =~ "/api/*|/health", status_code != "500" || method = "POST"}.mean()').filters;
    assert.equal(matchesFilters({ route: '/api/orders', status_code: '200' }, f), true);
    assert.equal(matchesFilters({ route: '/health', status_code: '200' }, f), true);
    assert.equal(matchesFilters({ route: '/api/orders', status_code: '500' }, f), false);
    assert.equal(matchesFilters({ route: '/x', status_code: '500', method: 'POST' }, f), true);
    assert.equal(matchesFilters({ route: '/apiX' }, f), false);
    // Regex metacharacters in the pattern are literal, only * and | are special.
    assert.equal(matchesFilters({ v: 'a.b' }, parseMql('x[1m]{v =~ "a.b"}.mean()').filters), true);
    assert.equal(matchesFilters({ v: 'axb' }, parseMql('x[1m]{v =~ "a.b"}.mean()').filters), false);
    assert.equal(matchesFilters({}, parseMql('x[1m]{v !~ "a*"}.mean()').filters), true);
  });
});

describe('evaluateMql', () => {
  const orders = series({ route: '/api/orders', method: 'GET' }, [
    [0, 100],
    [20_000, 110],
    [40_000, 130], // minute 0
    [60_000, 160],
    [80_000, 200], // minute 1
    [140_000, 5], // minute 2: the counter restarted
  ]);
  const cart = series({ route: '/api/cart', method: 'GET' }, [
    [10_000, 1],
    [70_000, 4],
    [130_000, 10],
  ]);
  const other = series({ route: '/api/orders' }, [[0, 999]], 'orders_created_total');

  test('statistics per stream and window, windows labelled by their start', () => {
    const val = (stat: string) =>
      run(`http_requests_total[1m]{route = "/api/orders"}.${stat}`, [orders, cart, other])[0].points.map((p) => [p.timestamp - T0, p.value]);
    assert.deepEqual(val('mean()'), [
      [0, 340 / 3],
      [MIN, 180],
      [2 * MIN, 5],
    ]);
    assert.deepEqual(val('max()'), [
      [0, 130],
      [MIN, 200],
      [2 * MIN, 5],
    ]);
    assert.deepEqual(val('min()'), [
      [0, 100],
      [MIN, 160],
      [2 * MIN, 5],
    ]);
    assert.deepEqual(val('sum()'), [
      [0, 340],
      [MIN, 360],
      [2 * MIN, 5],
    ]);
    assert.deepEqual(val('count()'), [
      [0, 3],
      [MIN, 2],
      [2 * MIN, 1],
    ]);
    assert.deepEqual(val('last()'), [
      [0, 130],
      [MIN, 200],
      [2 * MIN, 5],
    ]);
    assert.deepEqual(val('percentile(0.5)'), [
      [0, 110],
      [MIN, 180],
      [2 * MIN, 5],
    ]);
  });

  test('avg() is mean(); increment() is the change within the window (rate x seconds), from the point before it', () => {
    const val = (stat: string) => run(`http_requests_total[1m]{route = "/api/orders"}.${stat}`, [orders])[0].points.map((p) => [p.timestamp - T0, p.value]);
    assert.deepEqual(val('avg()'), val('mean()'));
    // minute 0: 100 -> 110 -> 130 = 30; minute 1: from 130 (before) -> 160 -> 200 = 70; minute 2: 200 -> 5 is a reset: 5.
    assert.deepEqual(val('increment()'), [
      [0, 30],
      [MIN, 70],
      [2 * MIN, 5],
    ]);
  });

  test('Datapoint.count is the number of observations: count() sums it, sum() and mean() weight by it, percentile() too', () => {
    const weighted: MetricSeries = {
      namespace: 'bharatmart',
      compartmentId: 'ocid1.compartment.oc1..x',
      name: 'lat',
      dimensions: { a: '1' },
      datapoints: [
        { timestamp: T0, value: 10, count: 3 },
        { timestamp: T0 + 1000, value: 40 },
        { timestamp: T0 + 2000, value: 100, count: 6 },
      ],
    };
    const v = (stat: string) => run(`lat[1m].${stat}`, [weighted], 1)[0].points[0].value;
    assert.equal(v('count()'), 10);
    assert.equal(v('sum()'), 10 * 3 + 40 + 100 * 6);
    assert.equal(v('mean()'), (30 + 40 + 600) / 10, 'OCI: Mean = Sum / Count');
    assert.equal(v('max()'), 100);
    assert.equal(v('min()'), 10);
    // Observations: 10,10,10,40,100 x6 -> the median (rank 4.5 of 0..9) is 100, not the unweighted 40.
    assert.equal(v('percentile(0.5)'), 100);
    assert.ok(Math.abs(v('percentile(0.3)') - (10 + (40 - 10) * 0.7)) < 1e-9, 'rank 2.7: between the third 10 and the 40');
  });

  test('rate: starts from the previous window, handles a reset, per second', () => {
    const pts = run('http_requests_total[1m]{route = "/api/orders"}.rate()', [orders])[0].points;
    assert.deepEqual(
      pts.map((p) => p.timestamp - T0),
      [0, MIN, 2 * MIN],
    );
    assert.equal(pts[0].value, 30 / 40); // 100 -> 130 over 40 s
    assert.equal(pts[1].value, 70 / 40); // 130 (at 40 s) -> 200 (at 80 s)
    assert.equal(pts[2].value, 5 / 60); // 200 (at 80 s) -> 5 (reset: +5) at 140 s
  });

  test('rate with one sample per window (scrape interval = window) still gives a value', () => {
    const s = series({ route: '/a' }, [
      [0, 0],
      [MIN, 60],
      [2 * MIN, 180],
    ]);
    const pts = run('http_requests_total[1m].rate()', [s])[0].points;
    assert.deepEqual(
      pts.map((p) => [p.timestamp - T0, p.value]),
      [
        [MIN, 1],
        [2 * MIN, 2],
      ],
    );
  });

  test('rate does not reach back further than max(interval, 5 min)', () => {
    const s = series({ route: '/a' }, [
      [0, 0],
      [10 * MIN, 600],
    ]);
    assert.deepEqual(run('http_requests_total[1m].rate()', [s], 11)[0].points, []);
    assert.equal(run('http_requests_total[1h].rate()', [s], 60)[0].points[0].value, 1);
  });

  test('groupBy and grouping combine streams', () => {
    const byMethod = run('http_requests_total[1m].groupBy(method).sum()', [orders, cart]);
    assert.equal(byMethod.length, 1);
    assert.deepEqual(byMethod[0].dimensions, { method: 'GET' });
    assert.deepEqual(
      byMethod[0].points.map((p) => p.value),
      [341, 364, 15],
    );
    const all = run('http_requests_total[1m].grouping().rate()', [orders, cart]);
    assert.deepEqual(all[0].dimensions, {});
    // Sum of per-stream rates: orders 30/40, cart 0 (one point in minute 0, no earlier point).
    assert.equal(all[0].points[0].value, 30 / 40);
    assert.equal(all[0].points[1].value, 70 / 40 + 3 / 60);
    const mean = run('http_requests_total[1m].grouping().mean()', [orders, cart]);
    assert.equal(mean[0].points[0].value, 341 / 4);
    const max = run('http_requests_total[1m].grouping().max()', [orders, cart]);
    assert.deepEqual(
      max[0].points.map((p) => p.value),
      [130, 200, 10],
    );
    const byRoute = run('http_requests_total[1m].groupBy(route).count()', [orders, cart]);
    assert.deepEqual(
      byRoute.map((s) => s.dimensions.route),
      ['/api/cart', '/api/orders'],
    );
  });

  test('absent: 1 for windows without data of a stream seen in the range', () => {
    const s = series({ route: '/a' }, [
      [0, 1],
      [2 * MIN + 1, 2],
    ]);
    assert.deepEqual(
      run('http_requests_total[1m].absent()', [s])[0].points.map((p) => p.value),
      [0, 1, 0],
    );
    assert.deepEqual(run('http_requests_total[1m].absent()', [s, cart]).length, 2);
  });

  test('only the query metric and matching streams, within the range', () => {
    assert.equal(run('http_requests_total[1m].mean()', [orders, cart, other]).length, 2);
    assert.equal(run('orders_created_total[1m].mean()', [orders, cart, other]).length, 1);
    assert.equal(run('http_requests_total[1m]{route = "/nope"}.mean()', [orders]).length, 0);
    const late = evaluateMql(parseMql('http_requests_total[1m].mean()'), [orders], { from: T0 + 10 * MIN, to: T0 + 20 * MIN });
    assert.equal(late.length, 0);
  });

  test('too many windows is a clear error', () => {
    assert.throws(() => evaluateMql(parseMql('x[1s].mean()'), [], { from: 0, to: 86_400_000 }), /holds 86400 intervals of 1s \(at most 5000\)/);
  });
});

describe('the /emulator/api/query route', () => {
  test('runQuery evaluates over the store, reaching back for rate, with warnings', () => {
    const store = new MetricStore();
    const stored = (t: number, value: number, route: string) => ({
      namespace: 'bharatmart',
      compartmentId: 'c',
      name: 'http_requests_total',
      dimensions: { route },
      datapoints: [{ timestamp: T0 + t, value }],
      receivedAt: T0 + t,
    });
    store.add([stored(-30_000, 0, '/a'), stored(30_000, 60, '/a'), stored(30_000, 5, '/b')]);
    const params = new URLSearchParams({
      namespace: 'bharatmart',
      query: 'http_requests_total[1m]{route="/a"}.rate()',
      from: String(T0),
      to: String(T0 + MIN),
    });
    const r = runQuery(store, params);
    assert.equal(r.query, 'http_requests_total[1m]{route = "/a"}.rate()');
    assert.deepEqual(r.series, [{ dimensions: { route: '/a' }, points: [{ timestamp: T0, value: 1 }] }]);
    assert.deepEqual(r.warnings, []);
    const local = runQuery(store, new URLSearchParams({ namespace: 'bharatmart', query: 'http_requests_total[10s].count()', to: String(T0 + MIN) }));
    assert.match(local.warnings.join(), /OCI accepts intervals of 1m-60m, 1h-24h or 1d; 10s/);
    assert.match(runQuery(store, new URLSearchParams({ namespace: 'other', query: 'x[1m].mean()' })).warnings.join(), /no datapoints of x in namespace other/);
    assert.throws(() => runQuery(store, new URLSearchParams({ query: 'x[1m].mean()' })), /namespace is required/);
    assert.throws(() => runQuery(store, new URLSearchParams({ namespace: 'n', query: 'x[1m]' })), MqlError);
  });
});
