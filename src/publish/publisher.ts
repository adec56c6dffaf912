/**
 * Publish stage: batches of at most 50 streams, a bounded number of calls in flight, a start rate
 * that adapts to the tenancy's load under the POST_CALLS_PER_SECOND ceiling (pacing.ts), retries with exponential backoff and full jitter for
 * 429/5xx/network errors until the invocation's deadline (the deadline, not an attempt count, bounds
 * them: a burst of errors must not drop data the deadline had time for), and a hard stop before it.
 * Every metric ends as posted, failed (with OCI's message) or undelivered (deadline), never lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { OciMetric } from '../types/model';
import { AdaptivePacer, burstOf, type PacerStats } from './pacing';
import { PostError, type PostBatch } from './sink';
import { OCI_LIMITS } from '../transform/limits';

export { AdaptivePacer, burstOf };

const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 5000;
const MAX_REPORTED_ERRORS = 5;

/** Per-metric outcome codes in PublishResult.outcome. */
export const Outcome = { Undelivered: 0, Posted: 1, Failed: 2 } as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface PublishOptions {
  /** The pacing ceiling (POST_CALLS_PER_SECOND); the rate adapts below it. */
  callsPerSecond: number;
  concurrency: number;
  postTimeoutMs: number;
  /** Absolute time (ms) after which no attempt starts and calls in flight are aborted. */
  stopAtMs: number;
  now?: () => number;
  random?: () => number;
  /** Rate controller shared by several publish runs of one invocation (data, then self-metrics). */
  pacer?: AdaptivePacer;
}

/** A fresh rate controller at its ceiling. */
export function createPacer(callsPerSecond: number): AdaptivePacer {
  return new AdaptivePacer(callsPerSecond);
}

export interface PublishResult {
  /** One Outcome per input metric, same order. */
  outcome: Uint8Array;
  posted: number;
  failed: number;
  undelivered: number;
  /** PostMetricData attempts made (retries included). */
  requests: number;
  retries: number;
  /** 429 responses seen (each was retried or reported). */
  throttled: number;
  /** The first few distinct error messages with the number of metrics each affected. */
  errors: { message: string; metrics: number }[];
  /** Set when a 401/404 stopped publishing: every further call would fail the same way. */
  fatal?: string;
  /** The rate controller at the end of the run. */
  pacing: PacerStats;
}

/** Shared state of one publish run. */
interface Run {
  opts: Required<Omit<PublishOptions, 'random' | 'pacer'>> & { random: () => number };
  post: PostBatch;
  metrics: OciMetric[];
  result: PublishResult;
  errorCounts: Map<string, number>;
  pacer: AdaptivePacer;
  stop: AbortController;
}

/** Splits [0, n) into index ranges of at most `size`. */
function batchRanges(n: number, size = OCI_LIMITS.maxStreamsPerCall): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < n; i += size) out.push([i, Math.min(n, i + size)]);
  return out;
}

/** Posts every metric; resolves when each has an outcome. Never throws. */
export async function publish(metrics: OciMetric[], post: PostBatch, options: PublishOptions): Promise<PublishResult> {
  const run: Run = {
    opts: { now: Date.now, random: Math.random, ...options },
    post,
    metrics,
    result: {
      outcome: new Uint8Array(metrics.length),
      posted: 0,
      failed: 0,
      undelivered: 0,
      requests: 0,
      retries: 0,
      throttled: 0,
      errors: [],
      pacing: { rate: 0, minRate: 0, decreases: 0 },
    },
    errorCounts: new Map(),
    pacer: options.pacer ?? createPacer(options.callsPerSecond),
    stop: new AbortController(),
  };
  const queue = batchRanges(metrics.length);
  const stopTimer = setTimeout(() => run.stop.abort(new Error('stopped before the invocation deadline')), Math.max(0, run.opts.stopAtMs - run.opts.now()));
  try {
    // Slow start: one call first, so a 401/404 (every call would fail alike) is seen once, not per
    // worker. The others start once that call is answered at all: if it is being retried (5xx, 429),
    // its backoff must not hold every other batch back.
    const first = queue.shift();
    let answered!: () => void;
    const firstAnswered = new Promise<void>((resolve) => (answered = resolve));
    const firstDone = first ? deliver(run, first, answered).finally(answered) : (answered(), Promise.resolve());
    await firstAnswered;
    // The first batch's slot becomes a worker when it is done, so at most `concurrency` are in flight.
    const workers = Array.from({ length: Math.min(run.opts.concurrency - 1, queue.length) }, () => worker(run, queue));
    await Promise.all([firstDone.then(() => worker(run, queue)), ...workers]);
  } finally {
    clearTimeout(stopTimer);
  }
  const r = run.result;
  for (let i = 0; i < r.outcome.length; i++) {
    if (r.outcome[i] === Outcome.Posted) r.posted++;
    else if (r.outcome[i] === Outcome.Failed) r.failed++;
    else r.undelivered++;
  }
  r.pacing = run.pacer.stats();
  r.errors = [...run.errorCounts].slice(0, MAX_REPORTED_ERRORS).map(([message, n]) => ({ message, metrics: n }));
  return r;
}

/** Takes batches from the queue until it is empty or the run stops. */
async function worker(run: Run, queue: [number, number][]): Promise<void> {
  for (let range = queue.shift(); range; range = queue.shift()) {
    if (run.stop.signal.aborted) {
      noteError(run, range, 'not delivered: the invocation deadline was reached', Outcome.Undelivered);
      continue;
    }
    await deliver(run, range);
  }
}

/** Delivers one batch with retries; records the outcome of each of its metrics. `onAnswer`: after the first attempt. */
async function deliver(run: Run, [from, to]: [number, number], onAnswer?: () => void): Promise<void> {
  const batch = run.metrics.slice(from, to);
  for (let attempt = 1; ; attempt++) {
    if (run.result.fatal) return noteError(run, [from, to], run.result.fatal, Outcome.Failed);
    if (!(await waitForSlot(run))) return noteError(run, [from, to], 'not delivered: the invocation deadline was reached', Outcome.Undelivered);
    run.result.requests++;
    const startedMs = run.opts.now();
    const remaining = run.opts.stopAtMs - run.opts.now();
    const signal = AbortSignal.any([AbortSignal.timeout(Math.max(1, Math.min(run.opts.postTimeoutMs, remaining))), run.stop.signal]);
    try {
      const { rejected, unreadable } = await run.post(batch, signal);
      run.pacer.accepted();
      for (let i = from; i < to; i++) run.result.outcome[i] = Outcome.Posted;
      if (unreadable) countError(run, unreadable, to - from);
      for (const r of rejected) {
        run.result.outcome[from + r.index] = Outcome.Failed;
        countError(run, r.message, 1);
      }
      return;
    } catch (e) {
      const err = e instanceof PostError ? e : new PostError(String(e), undefined, undefined, true);
      if (err.status === 429) {
        run.result.throttled++;
        run.pacer.throttled(startedMs, run.opts.now());
      }
      if (!err.retryable) {
        if (err.status === 401 || err.status === 404) run.result.fatal = err.message;
        return noteError(run, [from, to], err.message, Outcome.Failed);
      }
      onAnswer?.();
      const delay = backoffMs(attempt, run.opts.random);
      if (run.stop.signal.aborted || run.opts.now() + delay >= run.opts.stopAtMs) {
        return noteError(run, [from, to], `not delivered before the invocation deadline (last error: ${err.message})`, Outcome.Undelivered);
      }
      run.result.retries++;
      await sleepUnlessStopped(run, delay);
    }
  }
}

/** Exponential backoff with full jitter: uniform in [base/2, min(cap, base * 2^(attempt-1))]. */
export function backoffMs(attempt: number, random: () => number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return BACKOFF_BASE_MS / 2 + random() * (ceiling - BACKOFF_BASE_MS / 2);
}

/** Waits for a start slot of the rate controller; false if the run must stop first. */
async function waitForSlot(run: Run): Promise<boolean> {
  for (;;) {
    if (run.stop.signal.aborted) return false;
    const now = run.opts.now();
    const wait = run.pacer.tryStart(now);
    if (wait === 0) return true;
    if (now + wait >= run.opts.stopAtMs) return false;
    await sleepUnlessStopped(run, wait);
  }
}

/** Sleeps, waking early when the run stops. */
async function sleepUnlessStopped(run: Run, ms: number): Promise<void> {
  try {
    await sleep(ms, undefined, { signal: run.stop.signal });
  } catch {
    /* stopped: the caller checks run.stop */
  }
}

/** Marks a whole batch with one outcome and counts its error message. */
function noteError(run: Run, [from, to]: [number, number], message: string, outcome: Outcome): void {
  for (let i = from; i < to; i++) run.result.outcome[i] = outcome;
  countError(run, message, to - from);
}

/** Adds n affected metrics to an error message's count. */
function countError(run: Run, message: string, n: number): void {
  run.errorCounts.set(message, (run.errorCounts.get(message) ?? 0) + n);
}
