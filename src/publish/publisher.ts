/**
 * Publish stage: batches of at most 50 streams, a bounded number of calls in flight, a start rate
 * that adapts to the tenancy's load under the POST_CALLS_PER_SECOND ceiling (pacing.ts), retries with exponential backoff and full jitter for
 * 429/5xx/network errors until the invocation's deadline (the deadline, not an attempt count, bounds
 * them: a burst of errors must not drop data the deadline had time for), and a hard stop before it.
 * Every metric ends as posted, failed (with OCI's message) or undelivered (deadline), never lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { OciMetric } from '../types/model';
import { AdaptivePacer, burstOf, type PacerStart, type PacerStats } from './pacing';
import { PostError, type PostBatch } from './sink';
import { AUTO_IN_FLIGHT, autoInFlight, batchBodyBytes, HELD_BYTES_PER_BODY_BYTE, nextLatencyMs } from './inflight';
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
  /** Batches held at once (in flight or waiting to be retried): a number, or auto (inflight.ts) within `heldBytesMax`. */
  concurrency: number | 'auto';
  /** What auto's batches may hold above its minimum (bytes); without it, auto holds at most its minimum. */
  heldBytesMax?: number;
  postTimeoutMs: number;
  /** Absolute time (ms) after which no attempt starts and calls in flight are aborted. */
  stopAtMs: number;
  now?: () => number;
  random?: () => number;
  /** Rate controller shared by several publish runs of one invocation (data, then self-metrics). */
  pacer?: AdaptivePacer;
}

/** A fresh rate controller at its ceiling, or at the previous invocation's settled rate; a shard of `shards` at its share at most. */
export function createPacer(callsPerSecond: number, start?: PacerStart, shards = 1): AdaptivePacer {
  return new AdaptivePacer(callsPerSecond, start, shards);
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
  /**
   * Series of batches whose call was sent whole and got no answer (reset, timeout), so OCI may have
   * stored them: `resent`, posted by a later attempt (the one case a datapoint may reach OCI twice),
   * and `undelivered`, left undelivered after it (a replay from the spool may store them twice).
   */
  lostAnswers?: { resent: number; undelivered: number };
  /** The rate controller at the end of the run. */
  pacing: PacerStats;
  /** The most batches held at once (in flight or waiting to be retried). */
  heldPeak: number;
}

/** One batch of at most 50 metrics; `tag` is the caller's (where its outcomes go). */
export interface PublishBatch {
  metrics: OciMetric[];
  tag: number;
}

/**
 * Where batches come from: called when a call slot is free, so a batch is built only when it can
 * be sent (backpressure: at most `concurrency` batches exist at once). undefined = no more.
 */
export type BatchSource = () => PublishBatch | undefined;

/** Receives the outcome of each metric of a batch (same order), once per batch. */
type OutcomeSink = (batch: PublishBatch, outcomes: Uint8Array) => void;

/** Publish statistics without per-metric outcomes (see publishBatches). */
type PublishStats = Omit<PublishResult, 'outcome'>;

/** Shared state of one publish run. */
interface Run {
  opts: Required<Omit<PublishOptions, 'random' | 'pacer' | 'heldBytesMax'>> & { random: () => number; heldBytesMax: number };
  post: PostBatch;
  record: OutcomeSink;
  result: PublishStats & Required<Pick<PublishStats, 'lostAnswers'>>;
  errorCounts: Map<string, number>;
  pacer: AdaptivePacer;
  stop: AbortController;
  holds: Holds;
}

/** The batches a run holds (in flight or waiting to be retried) and the workers waiting to take one. */
interface Holds {
  count: number;
  waiting: (() => void)[];
  /** Auto only: the answers' latency estimate (ms) and the most one batch held (bytes). */
  latencyMs?: number;
  batchHeldBytes: number;
}

/** Posts every metric; resolves when each has an outcome. Never throws. */
export async function publish(metrics: OciMetric[], post: PostBatch, options: PublishOptions): Promise<PublishResult> {
  const outcome = new Uint8Array(metrics.length);
  const size = OCI_LIMITS.maxStreamsPerCall;
  let from = 0;
  const source: BatchSource = () => {
    if (from >= metrics.length) return undefined;
    const batch = { metrics: metrics.slice(from, from + size), tag: from };
    from += size;
    return batch;
  };
  const stats = await publishBatches(source, post, options, (batch, outcomes) => outcome.set(outcomes, batch.tag));
  return { ...stats, outcome };
}

/**
 * Posts every batch the source gives until it gives no more; resolves when each metric has an
 * outcome (reported to `record`). Never throws.
 */
export async function publishBatches(next: BatchSource, post: PostBatch, options: PublishOptions, record: OutcomeSink): Promise<PublishStats> {
  const run: Run = {
    opts: { now: Date.now, random: Math.random, heldBytesMax: 0, ...options },
    post,
    record,
    result: {
      posted: 0,
      failed: 0,
      undelivered: 0,
      requests: 0,
      retries: 0,
      throttled: 0,
      errors: [],
      pacing: { rate: 0, minRate: 0, decreases: 0, trims: 0 },
      lostAnswers: { resent: 0, undelivered: 0 },
      heldPeak: 0,
    },
    errorCounts: new Map(),
    pacer: options.pacer ?? createPacer(options.callsPerSecond),
    stop: new AbortController(),
    holds: { count: 0, waiting: [], batchHeldBytes: 0 },
  };
  const stopTimer = setTimeout(() => run.stop.abort(new Error('stopped before the invocation deadline')), Math.max(0, run.opts.stopAtMs - run.opts.now()));
  try {
    // Slow start: one call first, so a 401/404 (every call would fail alike) is seen once, not per
    // worker. The others start once that call is answered at all: if it is being retried (5xx, 429),
    // its backoff must not hold every other batch back.
    await takeHold(run);
    const first = take(run, next);
    let answered!: () => void;
    const firstAnswered = new Promise<void>((resolve) => (answered = resolve));
    const firstDone = first ? deliver(run, first, answered).finally(answered) : (answered(), Promise.resolve());
    await firstAnswered;
    // The first batch's worker goes on when it is done: `workers` take batches, each one held at a time.
    const workers = first ? Array.from({ length: workerCount(run.opts.concurrency) - 1 }, () => worker(run, next)) : [];
    await Promise.all([firstDone.then(() => (letGo(run), first ? worker(run, next) : undefined)), ...workers]);
  } finally {
    clearTimeout(stopTimer);
  }
  const r = run.result;
  r.pacing = run.pacer.stats();
  r.errors = [...run.errorCounts].slice(0, MAX_REPORTED_ERRORS).map(([message, n]) => ({ message, metrics: n }));
  return r;
}

/** Workers of a run: a fixed number each hold one batch at a time; auto's wait for its limit (takeHold). */
function workerCount(concurrency: number | 'auto'): number {
  return concurrency === 'auto' ? AUTO_IN_FLIGHT.max : concurrency;
}

/** Batches the run may hold now. */
function holdLimit(run: Run): number {
  const c = run.opts.concurrency;
  if (c !== 'auto') return c;
  return autoInFlight(run.pacer.rate, run.holds.latencyMs, run.holds.batchHeldBytes, run.opts.heldBytesMax);
}

/** Waits until the run may hold one more batch, and holds it; when the limit has risen, the next waiting worker may too. */
async function takeHold(run: Run): Promise<void> {
  const h = run.holds;
  while (h.count >= holdLimit(run)) await new Promise<void>((resolve) => h.waiting.push(resolve));
  h.count++;
  run.result.heldPeak = Math.max(run.result.heldPeak, h.count);
  if (h.count < holdLimit(run)) h.waiting.shift()?.();
}

/** A held batch is done (or none was taken): one waiting worker may take the next. */
function letGo(run: Run): void {
  run.holds.count--;
  run.holds.waiting.shift()?.();
}

/** The source's next batch; under auto, its held bytes bound how many more may be held. */
function take(run: Run, next: BatchSource): PublishBatch | undefined {
  const batch = next();
  if (batch && run.opts.concurrency === 'auto') {
    run.holds.batchHeldBytes = Math.max(run.holds.batchHeldBytes, batchBodyBytes(batch.metrics) * HELD_BYTES_PER_BODY_BYTE);
  }
  return batch;
}

/** Takes batches from the source until it has no more; after the stop each is marked undelivered. */
async function worker(run: Run, next: BatchSource): Promise<void> {
  for (;;) {
    await takeHold(run);
    const batch = take(run, next);
    if (!batch) return letGo(run);
    if (run.stop.signal.aborted) noteError(run, batch, 'not delivered: the invocation deadline was reached', Outcome.Undelivered);
    else await deliver(run, batch);
    letGo(run);
  }
}

/** Delivers one batch with retries; records the outcome of each of its metrics. `onAnswer`: after the first attempt. */
async function deliver(run: Run, batch: PublishBatch, onAnswer?: () => void): Promise<void> {
  const n = batch.metrics.length;
  /** An earlier attempt was sent whole and got no answer: OCI may hold this batch already. */
  let answerLost = false;
  const lostUndelivered = (): void => {
    if (answerLost) run.result.lostAnswers.undelivered += n;
  };
  for (let attempt = 1; ; attempt++) {
    if (run.result.fatal) return noteError(run, batch, run.result.fatal, Outcome.Failed);
    if (!(await waitForSlot(run))) {
      lostUndelivered();
      return noteError(run, batch, 'not delivered: the invocation deadline was reached', Outcome.Undelivered);
    }
    run.result.requests++;
    const startedMs = run.opts.now();
    const remaining = run.opts.stopAtMs - run.opts.now();
    const signal = AbortSignal.any([AbortSignal.timeout(Math.max(1, Math.min(run.opts.postTimeoutMs, remaining))), run.stop.signal]);
    try {
      const { rejected, unreadable } = await run.post(batch.metrics, signal);
      noteLatency(run, startedMs);
      run.pacer.accepted(run.opts.now());
      const outcomes = new Uint8Array(n).fill(Outcome.Posted);
      if (answerLost) run.result.lostAnswers.resent += n - rejected.length;
      if (unreadable) countError(run, unreadable, n);
      for (const r of rejected) {
        outcomes[r.index] = Outcome.Failed;
        countError(run, r.message, 1);
      }
      return settle(run, batch, outcomes);
    } catch (e) {
      const err = e instanceof PostError ? e : new PostError(String(e), undefined, undefined, true);
      answerLost ||= err.answerLost;
      if (err.status !== undefined) noteLatency(run, startedMs);
      if (err.status === 429) {
        run.result.throttled++;
        run.pacer.throttled(startedMs, run.opts.now());
      }
      if (!err.retryable) {
        if (err.status === 401 || err.status === 404) run.result.fatal = err.message;
        return noteError(run, batch, err.message, Outcome.Failed);
      }
      onAnswer?.();
      const delay = backoffMs(attempt, run.opts.random);
      if (run.stop.signal.aborted || run.opts.now() + delay >= run.opts.stopAtMs) {
        lostUndelivered();
        return noteError(run, batch, `not delivered before the invocation deadline (last error: ${err.message})`, Outcome.Undelivered);
      }
      run.result.retries++;
      await sleepUnlessStopped(run, delay);
    }
  }
}

/** An answer came for a call started at `startedMs`: auto's latency estimate takes it (a call with no answer says nothing of it). */
function noteLatency(run: Run, startedMs: number): void {
  if (run.opts.concurrency === 'auto') run.holds.latencyMs = nextLatencyMs(run.holds.latencyMs, run.opts.now() - startedMs);
}

/** Counts a batch's outcomes and hands them to the caller. */
function settle(run: Run, batch: PublishBatch, outcomes: Uint8Array): void {
  for (const o of outcomes) {
    if (o === Outcome.Posted) run.result.posted++;
    else if (o === Outcome.Failed) run.result.failed++;
    else run.result.undelivered++;
  }
  run.record(batch, outcomes);
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
function noteError(run: Run, batch: PublishBatch, message: string, outcome: Outcome): void {
  countError(run, message, batch.metrics.length);
  settle(run, batch, new Uint8Array(batch.metrics.length).fill(outcome));
}

/** Adds n affected metrics to an error message's count. */
function countError(run: Run, message: string, n: number): void {
  run.errorCounts.set(message, (run.errorCounts.get(message) ?? 0) + n);
}
