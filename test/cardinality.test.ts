/**
 * The cardinality report (pure, src/forecast/cardinality.ts): exact counts on a known exposition
 * put through the real transform, the definitions of a label's merged streams and cost, per job,
 * and what the bounded counting does past its bounds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cardinalityReport, type StreamGroup } from '../src/forecast/cardinality';
import { INVOCATIONS_PER_MONTH } from '../src/forecast/forecast';
import { parseExposition } from '../src/parse/exposition';
import type { TransformOptions } from '../src/types/model';
import { knownExposition } from './helpers/known-exposition';
import { transformAll } from './helpers/transform';

const OPTS: TransformOptions = { namespace: 'app', compartmentId: 'ocid1.compartment.oc1..aaaa', extraDimensions: {}, histogramBuckets: true };

/** The streams the real transform makes of an exposition for one target. */
function streamsOf(text: string, instance: string) {
  return transformAll(parseExposition(text).families, { instance, scrapeTimeMs: Date.now() }, OPTS).metrics;
}

describe('cardinalityReport', () => {
  const streams = streamsOf(knownExposition(), '10.0.0.5:9100');
  // 34 data streams + 6 self-metrics; 1 per million datapoints, nothing free.
  const cost = { totalStreams: 40, pricePerMillionDatapoints: 1, freeDatapointsPerMonth: 0 };
  const perStream = INVOCATIONS_PER_MONTH / 1e6;

  test('per name: exact stream counts, largest first, as Prometheus counts series by metric name', () => {
    assert.equal(streams.length, 34);
    const r = cardinalityReport([{ job: '', streams }], cost);
    assert.equal(r.totalStreams, 40);
    assert.equal(r.monthlyCost, Math.round(40 * perStream * 1e4) / 1e4);
    assert.equal(r.jobs.length, 1);
    const job = r.jobs[0];
    assert.equal(job.job, '');
    assert.equal(job.streams, 34);
    assert.equal(job.families, 5);
    assert.equal(job.approximate, undefined);
    assert.deepEqual(
      job.top.map((f) => [f.name, f.streams]),
      [
        ['http_requests_total', 21],
        ['req_duration_seconds_bucket', 8],
        ['req_duration_seconds_count', 2],
        ['req_duration_seconds_sum', 2],
        ['process_cpu_seconds_total', 1],
      ],
    );
    assert.equal(job.top[0].shareOfStreams, 0.525);
    assert.equal(job.top[0].monthlyCost, Math.round(21 * perStream * 1e4) / 1e4);
    assert.equal(job.top[0].shareOfMonthlyCost, 0.525);
  });

  test('per label: distinct values, and the streams that would merge away if it were dropped', () => {
    const job = cardinalityReport([{ job: '', streams }], cost).jobs[0];
    const http = job.top[0];
    assert.deepEqual(
      http.labels.map((l) => [l.label, l.values, l.streams, l.mergedStreams, l.shareOfFamily]),
      [
        // Without path: GET 200, POST 200, GET 500 remain of 21.
        ['path', 10, 21, 18, Math.round((18 / 21) * 1e4) / 1e4],
        // Without method: 10 paths x 200 + /p0 500 = 11 remain.
        ['method', 2, 21, 10, Math.round((10 / 21) * 1e4) / 1e4],
        // Without status: only GET /p0 200 and 500 merge.
        ['status', 2, 21, 1, Math.round((1 / 21) * 1e4) / 1e4],
        ['instance', 1, 21, 0, 0],
      ],
    );
    const path = http.labels[0];
    assert.equal(path.shareOfStreams, 0.45);
    assert.equal(path.monthlyCost, Math.round(18 * perStream * 1e4) / 1e4);
    assert.equal(path.shareOfMonthlyCost, 0.45);
    assert.equal(path.approximate, undefined);
    const buckets = job.top[1];
    assert.deepEqual(
      buckets.labels.map((l) => [l.label, l.values, l.mergedStreams]),
      [
        ['le', 4, 6],
        ['route', 2, 4],
        ['instance', 1, 0],
      ],
    );
    assert.deepEqual(job.top[4].labels, [
      { label: 'instance', values: 1, streams: 1, mergedStreams: 0, shareOfFamily: 0, shareOfStreams: 0, monthlyCost: 0, shareOfMonthlyCost: 0 },
    ]);
  });

  test('per job: two targets of one job add up, another job is apart; the top is cut at topFamilies and topLabels', () => {
    const groups: StreamGroup[] = [
      { job: 'app', streams },
      { job: 'app', streams: streamsOf(knownExposition(), '10.0.0.6:9100') },
      { job: 'node', streams: streamsOf('# TYPE up_x gauge\nup_x{cpu="0"} 1\nup_x{cpu="1"} 1\n', '10.0.0.7:9100') },
    ];
    const r = cardinalityReport(groups, { totalStreams: 70 + 2, freeDatapointsPerMonth: 0 }, { topFamilies: 2, topLabels: 2 });
    assert.deepEqual(
      r.jobs.map((j) => [j.job, j.streams, j.families, j.top.length]),
      [
        ['app', 68, 5, 2],
        ['node', 2, 1, 1],
      ],
    );
    const http = r.jobs[0].top[0];
    assert.equal(http.streams, 42);
    // Two instances now: dropping instance merges the second target's 21 streams into the first's.
    assert.deepEqual(
      http.labels.map((l) => [l.label, l.values, l.mergedStreams]),
      [
        ['path', 10, 36],
        ['instance', 2, 21],
      ],
    );
    assert.equal(r.monthlyCost, undefined, 'no price: no cost');
    assert.equal(http.monthlyCost, undefined);
    assert.equal(http.labels[0].shareOfMonthlyCost, undefined);
  });

  test('the free allowance: what a label saves is the cost beyond the allowance', () => {
    const free = { totalStreams: 40, pricePerMillionDatapoints: 1, freeDatapointsPerMonth: 30 * INVOCATIONS_PER_MONTH };
    const http = cardinalityReport([{ job: '', streams }], free).jobs[0].top[0];
    // 40 streams, 30 free: 10 cost; dropping path (18) leaves 22, inside the allowance: saves all 10.
    assert.equal(http.labels[0].monthlyCost, Math.round(10 * perStream * 1e4) / 1e4);
    assert.equal(http.labels[0].shareOfMonthlyCost, 1);
    assert.equal(http.labels[2].monthlyCost, Math.round(1 * perStream * 1e4) / 1e4);
  });

  test('past the sketch size: estimated and flagged; exact up to it', () => {
    const big = Array.from({ length: 5000 }, (_, i) => ({ name: 'orders_total', dimensions: { order: `o-${i}`, shop: `s${i % 4}` } }));
    const exact = cardinalityReport([{ job: '', streams: big }], { totalStreams: 5000, freeDatapointsPerMonth: 0 }, { sketchSize: 5000 }).jobs[0].top[0];
    assert.deepEqual(
      exact.labels.map((l) => [l.label, l.values, l.mergedStreams, l.approximate]),
      [
        ['order', 5000, 4996, undefined],
        ['shop', 4, 0, undefined],
      ],
    );
    const est = cardinalityReport([{ job: '', streams: big }], { totalStreams: 5000, freeDatapointsPerMonth: 0 }, { sketchSize: 256 }).jobs[0].top[0];
    assert.equal(est.approximate, true);
    const [order, shop] = est.labels;
    assert.equal(order.approximate, true);
    assert.ok(Math.abs(order.values - 5000) < 5000 * 0.25, `order ~5000 values, estimated ${order.values}`);
    assert.equal(order.mergedStreams, 4996, 'the streams without order are 4: exact');
    // shop has 4 values (exact), so at most 5000 - 5000/4 could merge; the estimate of the rest is clamped to that.
    assert.equal(shop.values, 4);
    assert.ok(shop.mergedStreams <= 5000 * 0.25, `shop merges ${shop.mergedStreams}`);
  });

  test('more names than counted one by one: the heavy name is still found, the job flagged approximate', () => {
    const heavy = Array.from({ length: 300 }, (_, i) => ({ name: 'heavy', dimensions: { id: String(i) } }));
    const light = Array.from({ length: 200 }, (_, i) => ({ name: `light_${i}`, dimensions: {} }));
    const mixed = [...light.slice(0, 100), ...heavy, ...light.slice(100)];
    const job = cardinalityReport([{ job: 'j', streams: mixed }], { totalStreams: 500, freeDatapointsPerMonth: 0 }, { trackedFamilies: 8, topFamilies: 1 })
      .jobs[0];
    assert.equal(job.approximate, true);
    assert.equal(job.streams, 500);
    assert.deepEqual(
      job.top.map((f) => [f.name, f.streams]),
      [['heavy', 300]],
      'recounted exactly in the second pass',
    );
  });
});
