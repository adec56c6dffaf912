/**
 * The state and spool phase of an invocation: the one read at the start (the previous scrape each
 * transform waits for, and the stored spool), the write of this scrape while the data is posted,
 * and after the fresh data the spool's replay and store. A state failure is recorded in the
 * `StateSummary` and never stops the posting: nothing here rejects.
 */
import { Outcome, publish, type AdaptivePacer, type PublishResult } from '../publish/publisher';
import { StateError } from '../state/errors';
import { targetStateKey } from '../state/keys';
import { decodeSpool, encodeSpool, fromSpoolEntry, mergeSpool, planReplay, type ReplayOutcome, type SpoolCounts, type SpoolEntry } from '../state/spool';
import { withPacing, withTargets, type StateSession, type StateStore } from '../state/store';
import { settledToStore, startFrom, type PacerStart } from '../publish/pacing';
import type { PreviousScrape, TargetState } from '../types/state';
import type { InvocationBudget } from './budget';
import type { Runtime } from './runtime';
import type { PreparedTarget, ScrapeTarget, SpoolSummary, StateSummary } from './summary';

/** The state read started at the beginning of an invocation. */
interface StateRead {
  session?: StateSession;
  error?: StateError;
}

/** True when a state store is configured (one that fails to be created counts: its read reports why). */
export function hasStateStore(rt: Runtime): boolean {
  try {
    return rt.stateStore?.() !== undefined;
  } catch {
    return true;
  }
}

/** The previous scrape of a target, once the state read (if any) has answered. */
export function previousScrapeOf(reading: Promise<StateRead> | undefined, state: StateSummary): (target: ScrapeTarget) => Promise<PreviousScrape> {
  return async (target) => {
    if (reading === undefined) return undefined;
    const read = await reading;
    if (read.error || !read.session) return state.enabled ? 'state_failed' : 'state_off';
    if (read.session.problem) return 'state_replaced';
    return read.session.doc.targets[targetStateKey(target)];
  };
}

/** Records a state failure in the summary (the first one wins: it is the cause of the rest). */
function noteStateError(state: StateSummary, e: unknown): StateError {
  const err = e instanceof StateError ? e : new StateError('unavailable', `the state store failed: ${(e as Error)?.message ?? String(e)}`);
  if (state.error === undefined) {
    state.error = err.message;
    state.cause = err.reason;
    if (err.iamPolicy) state.iamPolicy = err.iamPolicy;
  }
  return err;
}

/** Opens the state (one read), bounded by `timeoutMs`; never rejects. */
export async function readState(rt: Runtime, state: StateSummary, timeoutMs: number): Promise<StateRead> {
  let store: StateStore | undefined;
  try {
    store = rt.stateStore?.();
  } catch (e) {
    state.enabled = true;
    state.read = 'failed';
    return { error: noteStateError(state, e) };
  }
  if (store === undefined) return {};
  state.enabled = true;
  state.where = store.where;
  const signal = AbortSignal.timeout(timeoutMs);
  const started = performance.now();
  try {
    const session = await raceSignal(
      store.open(signal),
      signal,
      () => new StateError('timeout', `the state read of ${store.where} got no answer within ${timeoutMs} ms`),
    );
    state.readMs = Math.round(performance.now() - started);
    state.read = session.problem ? 'failed' : Object.keys(session.doc.targets).length > 0 ? 'ok' : 'empty';
    if (session.problem) noteStateError(state, session.problem);
    return { session };
  } catch (e) {
    state.read = 'failed';
    return { error: noteStateError(state, e) };
  }
}

/** Stores this scrape's per-target state (one conditional write, retried on conflicts); never rejects. */
export async function saveState(
  read: StateRead,
  targets: readonly ScrapeTarget[],
  prepared: PreparedTarget[],
  state: StateSummary,
  timeoutMs: number,
): Promise<void> {
  if (!read.session) return;
  const updates: Record<string, TargetState> = {};
  prepared.forEach((p, i) => {
    if (p.state) updates[targetStateKey(targets[i])] = p.state;
  });
  if (Object.keys(updates).length === 0) return;
  // The previous scrapes these replace are garbage from here on (the transform is done): freed
  // before the posting, where the memory peak of a large invocation is.
  for (const key of Object.keys(updates)) delete read.session.doc.targets[key];
  const signal = AbortSignal.timeout(timeoutMs);
  const started = performance.now();
  try {
    const saved = await raceSignal(
      read.session.save(withTargets(updates), signal),
      signal,
      () => new StateError('timeout', `the state write of ${state.where} got no answer within ${timeoutMs} ms`),
    );
    state.written = true;
    state.writeAttempts = saved.attempts;
    state.writeMs = Math.round(performance.now() - started);
  } catch (e) {
    noteStateError(state, e);
  }
}

/** Where the pacing starts: the rate the previous invocation settled on, kept in the state (when fresh). */
export function pacingStartOf(read: StateRead | undefined, nowMs: number): PacerStart | undefined {
  return read?.session && !read.session.problem ? startFrom(read.session.doc.pacing, nowMs) : undefined;
}

/**
 * Stores the rate this invocation settled on for the next one, when it differs from the stored one
 * (see settledToStore); bounded by `timeoutMs`. A failure is only logged: the next invocation then
 * starts from the older rate, or the top one, which costs speed, not data.
 */
export async function savePacing(rt: Runtime, read: StateRead | undefined, pacer: AdaptivePacer, nowMs: number, timeoutMs: number): Promise<void> {
  if (!read?.session) return;
  const next = settledToStore(pacer.settledRate, pacer.top, read.session.doc.pacing, nowMs);
  if (!next) return;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await raceSignal(read.session.save(withPacing(next), signal), signal, () => new StateError('timeout', `no answer within ${timeoutMs} ms`));
  } catch (e) {
    rt.log('warn', `the settled posting rate was not stored: ${(e as Error).message}`, { rate: next.rate });
  }
}

/** `work`, or a rejection with `timeout()` once `signal` aborts (a call that ignores its signal cannot hold the invocation). */
function raceSignal<T>(work: Promise<T>, signal: AbortSignal, timeout: () => Error): Promise<T> {
  if (signal.aborted) return Promise.reject(timeout());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(timeout());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** What the spool's replay and store did, and the calls its replay made. */
interface SpoolPhase {
  summary: SpoolSummary;
  calls: { requests: number; retries: number; throttled: number };
}

/**
 * The outage spool, after the fresh data: replays what earlier invocations could not deliver
 * (oldest first, same pacing, until the budget's `dataStopAt`), then stores what is still
 * undelivered, this invocation's included, with the original timestamps. Never rejects.
 */
export async function replayAndSpool(
  rt: Runtime,
  session: StateSession,
  undelivered: { entries: SpoolEntry[]; overMax: number },
  result: PublishResult | undefined,
  budget: InvocationBudget,
  pacer: AdaptivePacer,
): Promise<SpoolPhase> {
  const s = rt.settings;
  const now = budget.now;
  const stopAt = budget.dataStopAt;
  const storedSpool = session.doc.spool;
  const stored = decodeSpool(storedSpool, { max: s.spoolMaxSeries }).entries;
  const { replay, expiredEntries } = planReplay(stored, now());
  let outcomes: ReplayOutcome[] = [];
  const calls = { requests: 0, retries: 0, throttled: 0 };
  if (replay.length > 0 && !result?.fatal && stopAt - now() > 0) {
    const replayed = await publish(replay.map(fromSpoolEntry), rt.postBatch(), budget.publishOptions(stopAt, pacer));
    Object.assign(calls, { requests: replayed.requests, retries: replayed.retries, throttled: replayed.throttled });
    outcomes = Array.from(replayed.outcome, (o): ReplayOutcome =>
      o === Outcome.Posted ? 'posted' : o === Outcome.Failed && !replayed.fatal ? 'rejected' : 'undelivered',
    );
  }
  // Only the newest SPOOL_MAX_SERIES of the undelivered were kept: the others are counted as `full`.
  const { entries: fresh, overMax: freshOverMax } = undelivered;
  // Nothing spooled, nothing new: no write (a healthy invocation costs the state one read and one write).
  if (stored.length === 0 && fresh.length === 0 && freshOverMax === 0) return { summary: { replayed: 0, posted: 0, dropped: {}, pending: 0 }, calls };
  let counts: SpoolCounts | undefined;
  const timeoutMs = budget.spoolWriteTimeoutMs();
  try {
    await session.save((latest) => {
      // Unless another invocation wrote a spool meanwhile, the stored one is the one planned from.
      const base = latest.spool === storedSpool ? 'as-planned' : decodeSpool(latest.spool, { max: s.spoolMaxSeries }).entries;
      const merged = mergeSpool(base, replay, outcomes, fresh, expiredEntries, s.spoolMaxSeries);
      counts = merged.counts;
      if (freshOverMax > 0) counts.dropped.full = (counts.dropped.full ?? 0) + freshOverMax;
      return { ...latest, spool: encodeSpool(merged.spool) };
    }, AbortSignal.timeout(timeoutMs));
  } catch (e) {
    const posted = outcomes.filter((o) => o === 'posted').length;
    // The stored spool still holds what was just replayed: said, since the next invocation sends it again.
    const resent = posted > 0 ? `; ${posted} replayed series OCI accepted are still in the stored spool and will be sent again` : '';
    const why = (e as Error)?.message ?? String(e);
    const error = `the spool could not be stored (${why}): this invocation's ${fresh.length} undelivered series are not kept${resent}`;
    rt.log('warn', error);
    return {
      summary: {
        replayed: replay.length,
        posted,
        dropped: { ...(fresh.length > 0 ? { not_stored: fresh.length } : {}), ...(freshOverMax > 0 ? { full: freshOverMax } : {}) },
        pending: stored.length,
        error,
      },
      calls,
    };
  }
  const c = counts ?? { replayed: 0, posted: 0, dropped: {}, pending: 0 };
  if (Object.keys(c.dropped).length > 0) rt.log('warn', 'spool entries dropped', { dropped: c.dropped });
  return { summary: c, calls };
}
