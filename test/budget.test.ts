/**
 * The invocation's time budget (pure but for an injected clock): the stop time of each phase and
 * each reserve, and what the forecast reads of it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSettings } from '../src/config/settings';
import { InvocationBudget } from '../src/handler/budget';
import { forecastCost } from '../src/forecast/forecast';

const env = { METRICS_ENDPOINT: 'http://127.0.0.1:9/metrics', FUNCTION_TIMEOUT_SECONDS: '60', POST_TIMEOUT_MS: '10000', SCRAPE_TIMEOUT_MS: '5000' };

/** A clock the test moves by hand. */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('invocation budget', () => {
  test('stop times from FUNCTION_TIMEOUT_MS: response margin 1 s, self-metrics 2.5 s', () => {
    const c = clock();
    const b = new InvocationBudget(parseSettings(env), c.now);
    assert.equal(b.deadlineMs, 1_060_000);
    assert.equal(b.endMs, 1_059_000);
    assert.equal(b.scrapeStopAt, 1_056_500);
    assert.equal(b.postUntil, 1_056_500);
    assert.equal(b.dataStopAt, b.postUntil, 'no spool reserve until one is asked for');
    assert.equal(b.reservedMs, 3500);
    assert.equal(b.timeoutMs, 60_000);
  });

  test('a short POST_TIMEOUT_MS keeps less for the self-metrics', () => {
    const b = new InvocationBudget(parseSettings({ ...env, POST_TIMEOUT_MS: '1000' }), clock().now);
    assert.equal(b.postUntil, b.endMs - 1000);
  });

  test("the platform's deadline wins, and is the forecast's timeout rounded to the second", () => {
    const c = clock();
    const b = new InvocationBudget(parseSettings(env), c.now, new Date(1_000_000 + 29_700));
    assert.equal(b.deadlineMs, 1_029_700);
    assert.equal(b.timeoutMs, 30_000);
  });

  test('the spool reserve: 1 s + 0.08 ms per entry, at most a third of the posting time, whole ms', () => {
    const c = clock();
    const b = new InvocationBudget(parseSettings(env), c.now);
    b.reserveSpool(50_000);
    assert.equal(b.dataStopAt, b.postUntil - 5000);
    assert.equal(b.reservedMs, 3500 + 5000);
    c.advance(50_000); // 6.5 s left for the posting: a third of it
    b.reserveSpool(50_000);
    assert.equal(b.dataStopAt, b.postUntil - Math.round(6500 / 3));
    b.reserveSpool(3);
    assert.equal(b.dataStopAt, b.postUntil - 1000);
  });

  test('timeouts of the state I/O, the scrape and the spool write are cut at their stop times, never below 1 ms', () => {
    const c = clock();
    const b = new InvocationBudget(parseSettings(env), c.now);
    assert.equal(b.stateTimeoutMs(), 10_000);
    assert.equal(b.scrapeTimeoutMs(), 5000);
    c.advance(54_000);
    assert.equal(b.stateTimeoutMs(), 2500);
    assert.equal(b.scrapeTimeoutMs(), 2500);
    assert.equal(b.spoolWriteTimeoutMs(), 5000);
    c.advance(10_000);
    assert.equal(b.stateTimeoutMs(), 1);
    assert.equal(b.scrapeTimeoutMs(), 1);
    assert.equal(b.spoolWriteTimeoutMs(), 1);
  });

  test('discovery keeps SCRAPE_TIMEOUT_MS for the scrape, and at most half a window shorter than two scrape timeouts', () => {
    const long = new InvocationBudget(parseSettings(env), clock().now);
    assert.equal(long.discoveryStopAt, long.scrapeStopAt - 5000, '56.5 s window: the scrape keeps its 5 s');
    const short = new InvocationBudget(parseSettings({ ...env, FUNCTION_TIMEOUT_SECONDS: '10' }), clock().now);
    assert.equal(short.discoveryStopAt - short.startedAt, 3250, '6.5 s window: half of it');
  });

  test('the forecast reads the same reserves and timeout', () => {
    const b = new InvocationBudget(parseSettings(env), clock().now);
    b.reserveSpool(50_000);
    const input = { dataStreams: 0, selfStreams: 0, postCallsPerSecond: 20, memoryMb: 256, budget: b, freeDatapointsPerMonth: 0 };
    const f = forecastCost({ ...input, scrapeMs: 51_500 });
    assert.equal(f.invocationSeconds, 51.5 + 8.5);
    assert.equal(f.fitsFunctionTimeout, true);
    const over = forecastCost({ ...input, scrapeMs: 51_501 });
    assert.equal(over.fitsFunctionTimeout, false);
  });
});
