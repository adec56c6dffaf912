/**
 * The cost forecast (pure): streams, datapoints, calls, tenancy share, posting time, timeout fit and
 * cost, for a small configuration and for a fleet of 100k series.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSettings } from '../src/config/settings';
import { forecastCost, forecastLines, INVOCATIONS_PER_MONTH, type ForecastInput } from '../src/forecast/forecast';

const base: ForecastInput = {
  dataStreams: 0,
  selfStreams: 0,
  scrapeMs: 0,
  postCallsPerSecond: 20,
  memoryMb: 256,
  budget: { timeoutMs: 60_000, reservedMs: 3500 },
  freeDatapointsPerMonth: 0,
};

describe('forecastCost', () => {
  test('a month is 730 hours of one invocation a minute', () => {
    assert.equal(INVOCATIONS_PER_MONTH, 43_800);
  });

  test('one BharatMart-sized target: 1 data call + 1 self-metrics call, well inside everything', () => {
    const f = forecastCost({ ...base, dataStreams: 49, selfStreams: 6, scrapeMs: 120 });
    assert.equal(f.metricStreams, 55);
    assert.equal(f.datapointsPerInvocation, 55);
    assert.equal(f.datapointsPerMonth, 55 * 43_800);
    assert.equal(f.postCallsPerInvocation, 2);
    assert.equal(f.postingSeconds, 0, 'two calls fit the burst');
    assert.equal(f.fitsFunctionTimeout, true);
    assert.equal(f.averageShareOfTenancyLimit, Math.round((2 / 60 / 50) * 1e4) / 1e4);
    assert.equal(f.postingShareOfTenancyLimit, 0.4);
    assert.equal(f.monthlyCost, undefined);
    assert.deepEqual(f.notes, ['no price configured (FORECAST_PRICE_PER_MILLION_DATAPOINTS): cost not computed']);
  });

  test('a fleet of 200 targets x 500 series at 48 calls/s: 2,024 calls, ~42 s of posting, fits 60 s', () => {
    const f = forecastCost({ ...base, dataStreams: 100_000, selfStreams: 1200, scrapeMs: 5000, postCallsPerSecond: 48 });
    assert.equal(f.postCallsPerInvocation, 2000 + 24);
    // Burst at 48/s is 2 (48 + 2 = 50 per second at most), then one call every 1/48 s.
    assert.equal(f.postingSeconds, Math.round(((2024 - 2) / 48) * 1000) / 1000);
    assert.ok(f.postingSeconds > 42 && f.postingSeconds < 42.2);
    assert.equal(f.fitsFunctionTimeout, true);
    assert.ok(f.averageShareOfTenancyLimit > 0.67 && f.averageShareOfTenancyLimit < 0.68, String(f.averageShareOfTenancyLimit));
    assert.equal(f.postingShareOfTenancyLimit, 0.96);
  });

  test('the same fleet at the default 20 calls/s does not fit, and the note says what to change', () => {
    const f = forecastCost({ ...base, dataStreams: 100_000, selfStreams: 1200, scrapeMs: 5000, postCallsPerSecond: 20 });
    assert.equal(f.fitsFunctionTimeout, false);
    assert.ok(f.postingSeconds > 100);
    assert.match(
      f.notes[0],
      new RegExp(
        String.raw`posting 2024 calls at 20 calls/s takes 10\d\.\d s; .* does not` +
          String.raw` fit the 60 s timeout: raise POST_CALLS_PER_SECOND \(at most 50 per tenancy, or auto\)`,
      ),
    );
    assert.ok(forecastLines(f).some((l) => /DOES NOT FIT/.test(l)));
  });

  test("POST_CALLS_PER_SECOND above OCI's 50 is capped there: 1000 does not make 100k series post in 2 s (issue 20 item 13)", () => {
    const f = forecastCost({
      ...base,
      dataStreams: 100_000,
      selfStreams: 1200,
      scrapeMs: 5000,
      postCallsPerSecond: 1000,
      budget: { timeoutMs: 40_000, reservedMs: 3500 },
    });
    assert.equal(f.postingCallsPerSecond, 50);
    assert.equal(f.postingSeconds, Math.round(((2024 - 1) / 50) * 1000) / 1000, 'at 50 calls/s (burst 1), not 1000');
    assert.equal(f.fitsFunctionTimeout, false, '5 s scrape + 40.5 s posting + reserves do not fit 40 s');
    assert.equal(f.postingShareOfTenancyLimit, 1);
    assert.ok(
      f.notes.some((n) => /POST_CALLS_PER_SECOND=1000 is above OCI's 50 calls\/s per tenancy/.test(n)),
      f.notes.join('\n'),
    );
    assert.ok(
      f.notes.some((n) => /does not fit the 40 s timeout: post fewer series/.test(n)),
      f.notes.join('\n'),
    );
  });

  test("the default (auto = OCI's 50) posts just under the limit, as the pacing does alone", () => {
    const f = forecastCost({
      ...base,
      dataStreams: 100_000,
      selfStreams: 1200,
      scrapeMs: 5000,
      postCallsPerSecond: parseSettings({ METRICS_ENDPOINT: 'http://127.0.0.1:9/metrics', DRY_RUN: 'true' }).postCallsPerSecond,
    });
    assert.equal(f.postingCallsPerSecond, 49);
    assert.ok(f.postingSeconds > 41 && f.postingSeconds < 41.4, String(f.postingSeconds));
    assert.equal(f.fitsFunctionTimeout, true);
  });

  test('GB-seconds: memory x (scrape + posting), per invocation and per month at one a minute', () => {
    const f = forecastCost({ ...base, dataStreams: 100_000, selfStreams: 1200, scrapeMs: 5000, postCallsPerSecond: 48, memoryMb: 256 });
    const seconds = 5 + f.postingSeconds;
    assert.equal(f.gbSecondsPerInvocation, Math.round(0.25 * seconds * 1000) / 1000);
    assert.equal(f.gbSecondsPerMonth, Math.round(0.25 * seconds * 43_800));
    assert.ok(forecastLines(f).some((l) => /function time [\d.]+ GB-s per invocation, [\d,]+ GB-s per month/.test(l)));
    const small = forecastCost({ ...base, dataStreams: 49, selfStreams: 6, scrapeMs: 120, memoryMb: 512 });
    assert.equal(small.gbSecondsPerInvocation, 0.06, '120 ms at 0.5 GB');
  });

  test('more calls a minute than 50/s allows is named', () => {
    const f = forecastCost({ ...base, dataStreams: 50 * 3001, postCallsPerSecond: 50 });
    assert.ok(
      f.notes.some((n) => /exceed the tenancy's 50 calls\/s even spread evenly/.test(n)),
      f.notes.join('\n'),
    );
  });

  test('cost: datapoints beyond the free allowance times the price per million', () => {
    const f = forecastCost({ ...base, dataStreams: 10_000, selfStreams: 60, pricePerMillionDatapoints: 0.0025, freeDatapointsPerMonth: 100_000_000 });
    assert.equal(f.datapointsPerMonth, 10_060 * 43_800);
    assert.equal(f.monthlyCost, Math.round(((10_060 * 43_800 - 100_000_000) / 1e6) * 0.0025 * 1e4) / 1e4);
    const free = forecastCost({ ...base, dataStreams: 10, pricePerMillionDatapoints: 0.0025, freeDatapointsPerMonth: 500_000_000 });
    assert.equal(free.monthlyCost, 0, 'inside the free allowance costs nothing');
    assert.ok(forecastLines(f).some((l) => /ingestion cost [\d.]+ a month at 0.0025 per million datapoints beyond 100,000,000 free/.test(l)));
  });
});

describe('forecast: derived series not made yet', () => {
  test('those a previous scrape would give count (first scrape, stale or failed state); the rest do not', () => {
    const f = forecastCost({
      ...base,
      dataStreams: 40,
      selfStreams: 6,
      notDerived: { first_scrape: 30, stale_state: 2, state_failed: 1, no_observations: 4, state_off: 7, duplicate_series: 1 },
    });
    assert.equal(f.derivedFromNextScrape, 33);
    assert.equal(f.metricStreams, 40 + 33 + 6);
    assert.equal(f.postCallsPerInvocation, 2 + 1);
    assert.match(forecastLines(f).join('\n'), /metric streams 79 \(33 derived from the next scrape on\)/);
  });
});

describe('forecast settings', () => {
  const env = { METRICS_ENDPOINT: 'http://127.0.0.1:9/metrics', DRY_RUN: 'true' };
  test('price unset by default, free datapoints 0', () => {
    const s = parseSettings(env);
    assert.equal(s.forecastPricePerMillionDatapoints, undefined);
    assert.equal(s.forecastFreeDatapointsPerMonth, 0);
  });
  test('a decimal price is read; anything else names the key', () => {
    assert.equal(parseSettings({ ...env, FORECAST_PRICE_PER_MILLION_DATAPOINTS: '0.0025' }).forecastPricePerMillionDatapoints, 0.0025);
    for (const bad of ['-1', '1e-3', 'USD 1', '0,25']) {
      assert.throws(
        () => parseSettings({ ...env, FORECAST_PRICE_PER_MILLION_DATAPOINTS: bad }),
        /FORECAST_PRICE_PER_MILLION_DATAPOINTS: expected a non-negative decimal/,
        bad,
      );
    }
    assert.throws(() => parseSettings({ ...env, FORECAST_FREE_DATAPOINTS_PER_MONTH: 'lots' }), /FORECAST_FREE_DATAPOINTS_PER_MONTH: expected a whole number/);
  });
});
