/**
 * Reliability, the invocation deadline, through the real function process: with `Fn-Deadline` a
 * few seconds away and a slow or throttling emulator, the function stops starting new work in time,
 * answers before the deadline (the agent would kill it at the deadline: it stays alive), and
 * reports what was not delivered. Every summary satisfies the accounting invariant.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalFunction } from '../src/local/fn-agent';
import { startFaultyTarget } from './helpers/faulty-target';
import { stackAndTargetForSuite, assertAccounted, summaryOf } from './helpers/reliability';
import { createHandler } from '../src/handler/handler';
import type { InvocationSummary } from '../src/handler/summary';

/** Invokes with a deadline `ms` from now; the agent gives up (and kills) at the deadline itself. */
async function invokeWithDeadline(fn: LocalFunction, ms: number) {
  const deadline = new Date(Date.now() + ms);
  const res = await fn.invoke({ deadline, timeoutMs: ms });
  const answeredAt = Date.now();
  assert.ok(answeredAt < deadline.getTime(), `answered ${deadline.getTime() - answeredAt} ms before the deadline`);
  assert.equal(fn.alive, true, 'never killed by the platform');
  return { res, marginMs: deadline.getTime() - answeredAt, deadlineMs: deadline.getTime() };
}

describe('reliability: the invocation deadline', () => {
  const fx = stackAndTargetForSuite();

  test('a slow emulator: new work stops in time, the summary arrives before the deadline, the rest is undelivered', async () => {
    fx.stack.emulator.reset();
    // 60 calls at 1.5 s each, two at a time, need 45 s: a 12 s deadline cuts them off even when a busy
    // machine spends several seconds scraping, parsing and loading the SDK first.
    fx.stack.emulator.options.latencyMs = 1500;
    try {
      const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=3000'), POST_CONCURRENCY: '2', POST_CALLS_PER_SECOND: '200' });
      const { res, deadlineMs } = await invokeWithDeadline(fn, 12_000);
      const s = summaryOf(res);
      assertAccounted(s, 'slow emulator');
      assert.equal(s.ok, true, 'partial success');
      assert.ok(s.posted > 0 && s.posted < 3000, `posted ${s.posted}`);
      assert.ok(s.undelivered > 0, 'what did not fit is reported as undelivered');
      assert.equal(s.failed, 0, 'nothing was rejected: undelivered is not failed');
      assert.ok(
        s.errors.some((e) => /deadline/.test(e.message)),
        JSON.stringify(s.errors),
      );
      assert.equal(s.selfMetrics.posted, 7, 'time was kept for the self-metrics');
      // The function starts no call in its last second; measured at the emulator a call also carries its transit time.
      const lastStart = Math.max(...fx.stack.emulator.calls.map((c) => c.time));
      assert.ok(lastStart < deadlineMs, `no call reached OCI after the deadline (last ${deadlineMs - lastStart} ms before)`);
      const stored = fx.stack.emulator.accepted.filter((m) => m.name === 'faulty_ok_total').length;
      // A call cut off by the deadline may still have been stored by OCI: at least what we report.
      assert.ok(stored >= s.posted && stored <= s.posted + 2 * 50, `stored ${stored}, posted ${s.posted}`);
      const undeliveredMetric = fx.stack.emulator.accepted.find((m) => m.name === 'scrape_series_failed')!;
      assert.equal(undeliveredMetric.datapoints[0].value, s.undelivered, 'undelivered series show in scrape_series_failed');
    } finally {
      fx.stack.emulator.options.latencyMs = 0;
    }
  });

  test('a throttling emulator: the 429 backoff never runs past the deadline', async () => {
    fx.stack.emulator.reset();
    fx.stack.emulator.options.rateLimitPerSecond = 2;
    try {
      const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=2000'), POST_CONCURRENCY: '8', POST_CALLS_PER_SECOND: '200' });
      // 40 calls at 2 per second need 20 s; 10 s leaves room for a slow start on a busy machine.
      const { res, deadlineMs } = await invokeWithDeadline(fn, 10_000);
      const s = summaryOf(res);
      assertAccounted(s, 'throttling emulator');
      assert.ok(
        fx.stack.emulator.calls.every((c) => c.time < deadlineMs),
        'no call reached OCI after the deadline',
      );
      assert.ok(s.throttled > 0);
      assert.ok(s.posted > 0 && s.undelivered > 0, `posted ${s.posted}, undelivered ${s.undelivered}`);
      assert.equal(s.posted + s.undelivered, 2000);
      assert.ok(s.errors.some((e) => /deadline/.test(e.message) && e.metrics > 0));
    } finally {
      fx.stack.emulator.options.rateLimitPerSecond = undefined;
    }
  });

  test('a deadline too close to scrape: a clear error in time, not a kill; the warm container carries on', async () => {
    fx.stack.emulator.reset();
    const slow = await startFaultyTarget();
    try {
      const fn = await fx.stack.startFn({ METRICS_ENDPOINT: slow.url('/slow-headers?ms=10000'), SCRAPE_TIMEOUT_MS: '1000' });
      // 4 s: the response margin (1 s) and the self-metrics reserve (2.5 s) leave 0.5 s for the scrape, under its 1 s timeout.
      const { res } = await invokeWithDeadline(fn, 4000);
      assert.equal(res.status, 502);
      // Whichever fires first, the scrape's own (cut) timeout or the deadline signal, the cause says "deadline".
      assert.match(
        (res.json as { detail: string }).detail,
        new RegExp(
          String.raw`the target is down .*(timed out after \d+ ms \(the invocation deadline left only that` +
            String.raw` for the scrape; raise the function timeout\)|aborted: the invocation deadline is near)`,
        ),
      );
      // The same warm container serves the next invocation (default 30 s deadline) normally.
      const next = await fn.invoke();
      assert.equal(next.status, 502);
      assert.match((next.json as { detail: string }).detail, /timed out after 1000 ms/);
      assert.equal(fn.alive, true);
      assert.equal(fx.stack.emulator.accepted.filter((m) => m.name === 'up').length, 2, 'up=0 posted by both invocations');
    } finally {
      await slow.close();
    }
  });

  test('an unparsable Fn-Deadline (Invalid Date from the FDK) falls back to FUNCTION_TIMEOUT_SECONDS', async () => {
    const lines: string[] = [];
    const handler = createHandler({ METRICS_ENDPOINT: fx.target.url('/ok?n=3'), DRY_RUN: 'true' }, (level, msg) => lines.push(`${level} ${msg}`));
    const s = (await handler('', { deadline: new Date(Number.NaN) })) as InvocationSummary;
    assert.equal(s.ok, true);
    assert.equal(s.targets[0].up, true, s.targets[0].error);
    assertAccounted(s, 'invalid deadline');
    assert.ok(lines.some((l) => l.startsWith('warn the Fn-Deadline header is not a date')));
  });

  test("the platform's deadline is used as given: 120 s (the deployed timeout) with FUNCTION_TIMEOUT_SECONDS 60, no warning", async () => {
    const lines: string[] = [];
    const handler = createHandler({ METRICS_ENDPOINT: fx.target.url('/ok?n=3'), DRY_RUN: 'true', FUNCTION_TIMEOUT_SECONDS: '60' }, (level, msg) =>
      lines.push(`${level} ${msg}`),
    );
    for (let i = 0; i < 2; i++) {
      const s = (await handler('', { deadline: new Date(Date.now() + 120_000) })) as InvocationSummary;
      assertAccounted(s, 'platform deadline');
      assert.equal(s.forecast.functionTimeoutSeconds, 120, 'the run has the time the platform gives it, not the 60 s fallback');
    }
    assert.deepEqual(
      lines.filter((l) => l.startsWith('warn')),
      [],
      'no warning on any invocation',
    );
  });
});
