/**
 * Helpers of the reliability suites. The accounting invariant, asserted exactly on every invocation summary:
 *   per target and in total: posted + failed + undelivered == series (nothing posted in a dry run),
 *   samples == series - derived + skipped, and a down target has no series at all.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startFaultyTarget, type FaultyTarget } from './faulty-target';
import { startStack, type Stack } from './stack';
import type { InvocationSummary, TargetSummary } from '../../src/handler/summary';
import type { InvokeResult, LocalFunction } from '../../src/local/fn-agent';

/** Sum of a field over targets. */
function total(s: InvocationSummary, f: (t: TargetSummary) => number): number {
  return s.targets.reduce((a, t) => a + f(t), 0);
}

/** Asserts the invariant for one summary; `label` names the case in failure messages. */
export function assertAccounted(s: InvocationSummary, label = ''): void {
  const at = (m: string) => `${label ? label + ': ' : ''}${m}`;
  for (const t of s.targets) {
    const delivered = t.posted + t.failed + t.undelivered;
    assert.equal(
      delivered,
      s.dryRun ? 0 : t.series,
      at(`${t.url}: posted ${t.posted} + failed ${t.failed} + undelivered ${t.undelivered} == series ${t.series}`),
    );
    assert.equal(
      t.samples,
      t.series - t.derived + t.skipped,
      at(`${t.url}: samples ${t.samples} == series ${t.series} - derived ${t.derived} + skipped ${t.skipped}`),
    );
    if (!t.up) {
      assert.equal(t.series, 0, at(`${t.url}: a down target has no series`));
      assert.ok(t.error && t.error.length > 0, at(`${t.url}: a down target names its error`));
    }
  }
  assert.equal(
    s.series,
    total(s, (t) => t.series),
    at('series total'),
  );
  assert.equal(
    s.derived,
    total(s, (t) => t.derived),
    at('derived total'),
  );
  assert.equal(
    s.samples,
    total(s, (t) => t.samples),
    at('samples total'),
  );
  assert.equal(
    s.posted,
    total(s, (t) => t.posted),
    at('posted total'),
  );
  assert.equal(
    s.failed,
    total(s, (t) => t.failed),
    at('failed total'),
  );
  assert.equal(
    s.undelivered,
    total(s, (t) => t.undelivered),
    at('undelivered total'),
  );
  const skipped = Object.values(s.skipped).reduce((a, b) => a + (b ?? 0), 0);
  assert.equal(
    skipped,
    total(s, (t) => t.skipped),
    at('skipped by reason == skipped per target'),
  );
  assert.equal(s.samples, s.series - s.derived + skipped, at('samples == series - derived + skipped'));
  if (!s.dryRun) assert.equal(s.posted + s.failed + s.undelivered, s.series, at('posted + failed + undelivered == series'));
}

/** The summary inside a 502 FunctionFailure is not returned; this reads a 200 response's summary. */
export function summaryOf(res: InvokeResult): InvocationSummary {
  assert.equal(res.status, 200, `expected a summary, got ${res.status}: ${res.body.slice(0, 500)}`);
  return res.json as InvocationSummary;
}

/**
 * Waits for a stdout line of the function matching `pred` (the response can arrive over the socket
 * before the log line has crossed the stdout pipe), returning the newest match.
 */
export async function waitForLine(fn: LocalFunction, pred: (line: string) => boolean, timeoutMs = 3000): Promise<string> {
  const started = Date.now();
  for (;;) {
    const line = [...fn.stdout].reverse().find(pred);
    if (line) return line;
    assert.ok(Date.now() - started < timeoutMs, 'the expected log line was written');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The newest "invocation complete"/"invocation delivered nothing" log line of a function, parsed. */
export async function lastInvocationLog(fn: LocalFunction, after = 0): Promise<InvocationSummary & { level: string; msg: string }> {
  const started = Date.now();
  for (;;) {
    const lines = fn.stdout.slice(after).filter((l) => l.includes('"msg":"invocation '));
    if (lines.length > 0) return JSON.parse(lines[lines.length - 1]) as InvocationSummary & { level: string; msg: string };
    assert.ok(Date.now() - started < 3000, 'an invocation log line was written');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every byte a function let out: its stdout and stderr lines and the given responses (headers and bodies). */
export function capturedText(fn: LocalFunction, responses: InvokeResult[]): string {
  return [...fn.stdout, ...fn.stderr, ...responses.map((r) => JSON.stringify(r.headers) + '\n' + r.body)].join('\n');
}

/** A Stack and a target (a FaultyTarget unless given) for one suite: started before its tests, closed after them. */
export function stackAndTargetForSuite(): { stack: Stack; target: FaultyTarget };
export function stackAndTargetForSuite<T extends { close(): Promise<void> }>(startTarget: () => Promise<T>): { stack: Stack; target: T };
export function stackAndTargetForSuite(startTarget: () => Promise<{ close(): Promise<void> }> = startFaultyTarget): {
  stack: Stack;
  target: { close(): Promise<void> };
} {
  const fx = {} as { stack: Stack; target: { close(): Promise<void> } };
  before(async () => {
    fx.stack = await startStack();
    fx.target = await startTarget();
  });
  after(async () => {
    await fx.stack?.close();
    await fx.target?.close();
  });
  return fx;
}
