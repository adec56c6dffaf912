/**
 * The invocation summary on its own (pure): per-target attribution of publish outcomes, totals and
 * the accounting invariants, the nothing-delivered cause, the self-metric facts and the log line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { forecastCost } from '../src/forecast/forecast';
import { Outcome, type PublishResult } from '../src/publish/publisher';
import {
  logFields,
  nothingDeliveredCause,
  selfMetricReport,
  summarise,
  summariseTargets,
  SUMMARY_LOG_EVENT,
  type PreparedTarget,
  type StateSummary,
  type TargetSummary,
} from '../src/handler/summary';
import type { OciMetric, SkipReason } from '../src/types/model';
import type { DiscoveryReport } from '../src/discovery/discovery';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function metrics(n: number, name = 'm'): OciMetric[] {
  return Array.from({ length: n }, (_, i) => ({
    namespace: 'ns',
    compartmentId: 'ocid1.compartment.oc1..aaaa',
    name,
    dimensions: { instance: 'h:1', i: String(i) },
    datapoints: [{ timestamp: new Date(T0), value: i }],
  }));
}

/** A target that was scraped and transformed: `samples` read, `series` produced (of which `derived`), `skipped` reasons. */
function prepared(url: string, o: { series: number; derived?: number; samples?: number; skipped?: SkipReason[]; error?: string }): PreparedTarget {
  const instance = new URL(url).host;
  const skipped = (o.skipped ?? []).map((reason) => ({ name: 'x', labels: {}, reason }));
  const base = { url, instance, scrapeTimeMs: T0, durationMs: 12 };
  const scrape = o.error === undefined ? { ...base, ok: true as const, text: '', bytes: 10 } : { ...base, ok: false as const, error: o.error };
  const derived = o.derived ?? 0;
  const p: PreparedTarget = {
    target: { url: new URL(url), instance },
    scrape,
    samples: o.samples ?? o.series - derived + skipped.length,
    series: o.series,
    derived,
    notDerived: o.error === undefined ? { first_scrape: 1 } : {},
    skipped,
  };
  if (o.error !== undefined) p.error = o.error;
  return p;
}

/** A publish result with these outcomes, in order. */
function published(outcomes: Outcome[], extra: Partial<PublishResult> = {}): PublishResult {
  const count = (x: Outcome) => outcomes.filter((o) => o === x).length;
  return {
    outcome: Uint8Array.from(outcomes),
    posted: count(Outcome.Posted),
    failed: count(Outcome.Failed),
    undelivered: count(Outcome.Undelivered),
    requests: 2,
    retries: 1,
    throttled: 1,
    errors: [],
    pacing: { rate: 20, minRate: 10, decreases: 1, trims: 0 },
    heldPeak: 2,
    ...extra,
  };
}

const FORECAST = forecastCost({
  dataStreams: 5,
  selfStreams: 14,
  scrapeMs: 100,
  postCallsPerSecond: 20,
  memoryMb: 256,
  budget: { timeoutMs: 60_000, reservedMs: 3500 },
  freeDatapointsPerMonth: 0,
});
const STATE_OFF: StateSummary = { enabled: false, written: false };

describe('summary: per-target attribution', () => {
  it('each target gets the outcomes of its own index range of the data', () => {
    const p = [prepared('http://a:1/metrics', { series: 3 }), prepared('http://b:2/metrics', { series: 2, derived: 1 })];
    const { Posted: P, Failed: F, Undelivered: U } = Outcome;
    const targets = summariseTargets(p, published([P, F, U, U, P]), false);
    assert.deepEqual(
      targets.map((t) => [t.posted, t.failed, t.undelivered]),
      [
        [1, 1, 1],
        [1, 0, 1],
      ],
    );
    for (const t of targets) assert.equal(t.posted + t.failed + t.undelivered, t.series);
    assert.equal(targets[1].derived, 1);
  });

  it('without a publish result: a real run left everything undelivered, a dry run nothing', () => {
    const p = [prepared('http://a:1/metrics', { series: 4 })];
    assert.equal(summariseTargets(p, undefined, false)[0].undelivered, 4);
    assert.deepEqual(
      summariseTargets(p, undefined, true).map((t) => [t.posted, t.failed, t.undelivered]),
      [[0, 0, 0]],
    );
  });

  it('a down target is up=false with its error and no series', () => {
    const [t] = summariseTargets([prepared('http://a:1/metrics', { series: 0, error: 'connection refused' })], undefined, false);
    assert.equal(t.up, false);
    assert.equal(t.error, 'connection refused');
    assert.equal(t.series, 0);
  });
});

describe('summary: totals and invariants', () => {
  it('totals add up and samples + derived = series + skipped', () => {
    const p = [
      prepared('http://a:1/metrics', { series: 3, derived: 1, skipped: ['non_finite_value', 'duplicate_series'] }),
      prepared('http://b:2/metrics', { series: 2, skipped: ['non_finite_value'] }),
    ];
    const data = published([1, 1, 2, 1, 0], { errors: [{ message: 'Invalid name', metrics: 1 }] });
    const self = published([1, 1, 2], { errors: [{ message: 'boom', metrics: 1 }] });
    const targets = summariseTargets(p, data, false);
    const s = summarise(p, targets, data, self, false, 1234, FORECAST, STATE_OFF);
    assert.equal(s.ok, true);
    assert.equal(s.series, 5);
    assert.equal(s.derived, 1);
    assert.equal(s.samples + s.derived, s.series + Object.values(s.skipped).reduce((a, b) => a + b, 0));
    assert.equal(s.posted + s.failed + s.undelivered, s.series);
    assert.deepEqual(s.skipped, { non_finite_value: 2, duplicate_series: 1 });
    assert.deepEqual(s.notDerived, { first_scrape: 2 });
    assert.deepEqual(s.selfMetrics, { posted: 2, failed: 1 });
    assert.equal(s.requests, 4);
    assert.equal(s.retries, 2);
    assert.equal(s.throttled, 2);
    assert.deepEqual(s.errors, [
      { message: 'Invalid name', metrics: 1 },
      { message: 'self-metrics: boom', metrics: 1 },
    ]);
    assert.equal(s.durationMs, 1234);
  });
});

describe('summary: nothing delivered', () => {
  const down = (url: string) => prepared(url, { series: 0, error: 'refused' });

  it('every target down names each one', () => {
    const one = [down('http://a:1/metrics')];
    const s1 = summarise(one, summariseTargets(one, undefined, false), undefined, undefined, false, 1, FORECAST, STATE_OFF);
    assert.equal(s1.ok, false);
    assert.equal(nothingDeliveredCause(s1, undefined), 'the target is down (http://a:1/metrics: refused)');
    const two = [down('http://a:1/metrics'), down('http://b:2/metrics')];
    const s2 = summarise(two, summariseTargets(two, undefined, true), undefined, undefined, true, 1, FORECAST, STATE_OFF);
    assert.match(nothingDeliveredCause(s2, undefined)!, /^all 2 targets are down \(http:\/\/a:1\/metrics: refused; http:\/\/b:2\/metrics: refused\)$/);
  });

  it('series but none posted gives the fatal error first, else the first error', () => {
    const p = [prepared('http://a:1/metrics', { series: 2 })];
    const data = published([2, 2], { errors: [{ message: 'HTTP 400 bad', metrics: 2 }] });
    const s = summarise(p, summariseTargets(p, data, false), data, undefined, false, 1, FORECAST, STATE_OFF);
    assert.equal(s.ok, false);
    assert.equal(nothingDeliveredCause(s, data), 'none of 2 series was posted: HTTP 400 bad');
    assert.equal(nothingDeliveredCause(s, { ...data, fatal: 'HTTP 401: check the clock' }), 'none of 2 series was posted: HTTP 401: check the clock');
  });

  it('no targets: a failed discovery is the cause (with its IAM statement), an empty fleet is not a failure', () => {
    const report: DiscoveryReport = {
      compartmentId: 'ocid1.compartment.oc1..aaaa',
      includeSubcompartments: false,
      source: 'none',
      instances: 0,
      targets: 0,
      appeared: [],
      disappeared: [],
      problems: [],
      problemCount: 0,
    };
    const failed = summarise([], [], undefined, undefined, false, 1, FORECAST, STATE_OFF, { ...report, error: 'HTTP 404', iamStatement: 'Allow x' });
    assert.equal(failed.ok, false);
    assert.equal(failed.discovery?.error, 'HTTP 404');
    assert.equal(nothingDeliveredCause(failed, undefined), 'no targets: HTTP 404; add the policy statement: Allow x');
    const empty = summarise([], [], undefined, undefined, false, 1, FORECAST, STATE_OFF, report);
    assert.equal(empty.ok, true);
    assert.equal(nothingDeliveredCause(empty, undefined), undefined);
  });

  it('a partial success, and a dry run with a target up, are success', () => {
    const p = [prepared('http://a:1/metrics', { series: 2 })];
    const data = published([1, 2]);
    assert.equal(nothingDeliveredCause(summarise(p, summariseTargets(p, data, false), data, undefined, false, 1, FORECAST, STATE_OFF), data), undefined);
    assert.equal(
      nothingDeliveredCause(summarise(p, summariseTargets(p, undefined, true), undefined, undefined, true, 1, FORECAST, STATE_OFF), undefined),
      undefined,
    );
  });
});

describe('summary: self-metric facts and the log line', () => {
  const target: TargetSummary = {
    url: 'http://a:1/metrics',
    instance: 'a:1',
    up: true,
    samples: 7,
    durationMs: 30,
    series: 6,
    derived: 1,
    notDerived: {},
    posted: 3,
    failed: 1,
    undelivered: 2,
    skipped: 2,
  };

  const scraped = prepared('http://a:1/metrics', { series: 6, derived: 1 });
  scraped.target.dimensions = { resourceId: 'ocid1.instance.oc1.phx.aaaa' };

  it('failed counts the undelivered too; the state is reported only when it is on', () => {
    const off = selfMetricReport(target, scraped, STATE_OFF);
    assert.equal(off.failed, 3);
    assert.equal(off.samplesScraped, 7);
    assert.equal(off.scrapeTimeMs, T0);
    assert.deepEqual(off.dimensions, { resourceId: 'ocid1.instance.oc1.phx.aaaa' });
    assert.equal('stateOk' in off, false);
    const failed = selfMetricReport(target, scraped, { enabled: true, written: false, error: 'denied', cause: 'not_authorized' });
    assert.equal(failed.stateOk, false);
    assert.equal(failed.stateCause, 'not_authorized');
    assert.equal(selfMetricReport(target, scraped, { enabled: true, written: true }).stateOk, true);
  });

  it('the log fields carry the event, no metric bodies, and short targets', () => {
    const p = [prepared('http://a:1/metrics', { series: 1 })];
    const s = summarise(p, summariseTargets(p, undefined, true), undefined, undefined, true, 1, FORECAST, STATE_OFF);
    s.metricData = metrics(1);
    s.skippedSamples = [];
    const fields = logFields(s);
    assert.equal(fields.event, SUMMARY_LOG_EVENT);
    for (const k of ['metricData', 'skippedSamples', 'forecast']) assert.equal(k in fields, false, k);
    assert.deepEqual(fields.targets, [{ url: 'http://a:1/metrics', up: true, samples: 1, durationMs: 12 }]);
  });
});
