/**
 * The state and spool phase of an invocation: the one read at the start (the previous scrape each
 * transform waits for, and the stored spool), the write of this scrape while the data is posted,
 * and after the fresh data the spool's replay and store. A state failure is recorded in the
 * `StateSummary` and never stops the posting: nothing here rejects.
 */
import type { Settings } from '../config/settings';
import { Outcome, publishBatches, type AdaptivePacer, type PublishResult } from '../publish/publisher';
import { StateError } from '../state/errors';
import { targetStateKey } from '../state/keys';
import {
  addDropped,
  claimSpool,
  decodeSpool,
  encodeSpool,
  fromSpoolEntry,
  mergeSpool,
  planReplay,
  releaseClaim,
  spoolKey,
  toSpoolEntry,
  type ReplayOutcome,
  type SpoolCounts,
  type SpoolEntry,
} from '../state/spool';
import { withPacing, withTargets, type StateSession, type StateStore } from '../state/store';
import { rememberTrigger, seenTrigger } from '../state/trigger';
import { settledToStore, startFrom, type PacerStart } from '../publish/pacing';
import { OCI_LIMITS } from '../transform/limits';
import type { OciMetric, TransformOptions } from '../types/model';
import { targetOptions } from './jobs';
import type { PreviousScrape, StoredSpool, TargetState } from '../types/state';
import type { InvocationBudget } from './budget';
import { SPOOL_BYTES_PER_SERIES, STATE_DECODE_BYTES_PER_JSON_BYTE, STATE_HELD_BYTES_PER_JSON_BYTE, type MemoryBudget } from './memory';
import type { Runtime } from './runtime';
import type { PreparedTarget, ScrapeTarget, SpoolSummary, StateSummary } from './summary';

/** The spool as read at the start: its entries (bounded, checked) and the datapoints they hold. */
interface ReadSpool {
  entries: SpoolEntry[];
  /** Entries dropped on read (invalid, duplicate, foreign, full), counted in the spool summary. */
  dropped: SpoolCounts['dropped'];
  /** The stored section these were decoded from (the claim says whether it is still the one replayed). */
  section: StoredSpool | undefined;
  /** The most entries decoded: SPOOL_MAX_SERIES, or less when the memory budget holds less. */
  max: number;
}

/** The state read started at the beginning of an invocation. */
interface StateRead {
  session?: StateSession;
  error?: StateError;
  /** The stored spool, when the spool is on. */
  spool?: ReadSpool;
  /** Where this invocation posts (destinationsOf): a spool entry for anywhere else is dropped as foreign. */
  destinations?: ReadonlySet<string>;
  /** The claim on the spool's replay made with this scrape's write (see saveState). */
  claim?: ReturnType<typeof claimSpool>;
}

/** How the spool is read for this function: at most its bound, only into the destinations it posts to. */
function spoolReadOptions(s: Settings, destinations: ReadonlySet<string>): { max: number; accepts: (e: SpoolEntry) => boolean } {
  return {
    max: s.spoolMaxSeries,
    // An entry is replayed only where this function posts: a tampered or copied object must not post elsewhere.
    accepts: (e) => destinations.has(destinationKey(e.namespace, e.compartmentId)),
  };
}

/** A namespace and compartment as one key. */
function destinationKey(namespace: string, compartmentId: string | undefined): string {
  return JSON.stringify([namespace, compartmentId ?? '']);
}

/** Where this invocation posts: the settings' namespace and compartment, and each job target's own (SCRAPE_CONFIG's `__oci_*` labels). */
export function destinationsOf(targets: readonly ScrapeTarget[], base: TransformOptions): Set<string> {
  const out = new Set([destinationKey(base.namespace, base.compartmentId)]);
  for (const t of targets) {
    const o = targetOptions(t, base);
    out.add(destinationKey(o.namespace, o.compartmentId));
  }
  return out;
}

/** True when a state store is configured (one that fails to be created counts: its read reports why). */
export function hasStateStore(rt: Runtime): boolean {
  try {
    return rt.stateStore?.() !== undefined;
  } catch {
    return true;
  }
}

/** What a target's transform needs from the state read: its previous scrape, and which datapoints wait in the spool. */
export function targetStateOf(
  reading: Promise<StateRead> | undefined,
  state: StateSummary,
): (target: ScrapeTarget) => Promise<{ previous: PreviousScrape; inSpool?: (m: OciMetric) => boolean }> {
  let inSpool: ((m: OciMetric) => boolean) | undefined;
  let made = false;
  return async (target) => {
    if (reading === undefined) return { previous: undefined };
    const read = await reading;
    if (!made) {
      made = true;
      inSpool = spooledDatapoints(read.spool?.entries ?? []);
    }
    const withSpool = inSpool ? { inSpool } : {};
    if (read.error || !read.session) return { previous: state.enabled ? 'state_failed' : 'state_off', ...withSpool };
    const replaced = read.session.replaced ?? {};
    if ('targets' in replaced || 'document' in replaced) return { previous: 'state_replaced', ...withSpool };
    return { previous: read.session.doc.targets[targetStateKey(target)], ...withSpool };
  };
}

/** A check for metrics whose datapoint (stream and timestamp) is one of these entries'; undefined when there are none. */
function spooledDatapoints(entries: readonly SpoolEntry[]): ((m: OciMetric) => boolean) | undefined {
  if (entries.length === 0) return undefined;
  const times = new Set<number>();
  const keys = new Set<string>();
  for (const e of entries) {
    times.add(e.points[0][0]);
    keys.add(spoolKey(e));
  }
  // Most fresh samples carry the scrape time, which no spooled entry has: the key is made only on a time match.
  return (m) => {
    const t = m.datapoints[0]?.timestamp.getTime();
    return t !== undefined && times.has(t) && keys.has(spoolKey(toSpoolEntry(m)));
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

/**
 * Opens the state (one read), bounded by `timeoutMs` and by the memory budget: the read takes the
 * state's share of it while the object is read and decoded (its JSON is read up to what that
 * holds), then keeps what the decoded document holds; the spool's entries are decoded up to
 * SPOOL_MAX_SERIES and what the budget's spool share holds (the older rest is dropped as `full`,
 * and named in the response's `memory.limited`). Never rejects.
 */
export async function readState(
  rt: Runtime,
  state: StateSummary,
  timeoutMs: number,
  memory: MemoryBudget,
  spool?: { destinations: ReadonlySet<string> },
): Promise<StateRead> {
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
  // Taken now (before any target's parse draws from the budget), given back down to what the document holds once decoded.
  const reading = memory.reserveAll('state');
  try {
    const session = await raceSignal(
      store.open(signal, Math.floor(reading / STATE_DECODE_BYTES_PER_JSON_BYTE)),
      signal,
      () => new StateError('timeout', `the state read of ${store.where} got no answer within ${timeoutMs} ms`),
    );
    memory.settle('state', reading, session.jsonBytes * STATE_HELD_BYTES_PER_JSON_BYTE);
    state.readMs = Math.round(performance.now() - started);
    const replaced = session.replaced ?? {};
    if (replaced.document === 'too_large') memory.limit('state', session.problem?.message ?? 'the state object was too large to read');
    state.read = 'targets' in replaced || 'document' in replaced ? 'failed' : Object.keys(session.doc.targets).length > 0 ? 'ok' : 'empty';
    if (session.problem) {
      noteStateError(state, session.problem);
      state.replaced = { ...replaced };
    }
    const read: StateRead = { session };
    if (spool) {
      read.destinations = spool.destinations;
      const section = session.doc.spool;
      const stored = section?.e.length ?? 0;
      const wanted = Math.min(rt.settings.spoolMaxSeries, stored);
      const max = memory.reserveUpTo('spool', SPOOL_BYTES_PER_SERIES, wanted);
      if (max < wanted)
        memory.limit(
          'spool',
          `${max} of the ${stored} stored spool entries read (the newest; SPOOL_MAX_SERIES ${rt.settings.spoolMaxSeries}): the memory budget ` +
            `holds no more beside the state; the older ${stored - max} are dropped as full`,
        );
      read.spool = { ...decodeSpool(section, { ...spoolReadOptions(rt.settings, spool.destinations), max }), section, max };
    }
    return read;
  } catch (e) {
    memory.release('state', reading);
    state.read = 'failed';
    return { error: noteStateError(state, e) };
  }
}

/** True when the state read holds the key of this trigger message: a repeated delivery, run already. */
export function triggerRunAlready(read: StateRead, trigger: string): boolean {
  return seenTrigger(read.session?.doc.trigger, trigger);
}

/**
 * Stores this scrape's per-target state, dropping the targets not seen within STATE_MAX_AGE_SECONDS,
 * and the key of the trigger message this run answers (a repeated delivery is then not run again),
 * and claims the spool's replay in the same conditional write when there is a spool to replay (one
 * write, retried on conflicts); never rejects. Without a claim, nothing of the spool is replayed.
 */
export async function saveState(
  rt: Runtime,
  read: StateRead,
  targets: readonly ScrapeTarget[],
  prepared: PreparedTarget[],
  state: StateSummary,
  budget: InvocationBudget,
  trigger?: string,
): Promise<void> {
  const session = read.session;
  if (!session) return;
  const updates: Record<string, TargetState> = {};
  prepared.forEach((p, i) => {
    if (p.state) updates[targetStateKey(targets[i])] = p.state;
  });
  const hasUpdates = Object.keys(updates).length > 0;
  const spool = read.spool;
  const section = spool?.section;
  const claiming = section !== undefined && section.e.length > 0;
  // A document with sections in an unexpected shape is repaired by this write, even with nothing else to store.
  if (!hasUpdates && !claiming && session.problem === undefined && trigger === undefined) return;
  // The previous scrapes these replace are garbage from here on (the transform is done): freed
  // before the posting, where the memory peak of a large invocation is.
  for (const key of Object.keys(updates)) delete session.doc.targets[key];
  const nowMs = budget.now();
  const keep = withTargets(updates, { nowMs, maxAgeMs: rt.settings.stateMaxAgeMs });
  if (claiming && spool) {
    // Trimmed to what was read only when the read dropped something (full, invalid...): otherwise the stored form is written as it is.
    const trimmed = Object.keys(spool.dropped).length > 0 ? encodeSpool(spool.entries) : section;
    read.claim = claimSpool(session.id, budget.deadlineMs, nowMs, { section, trimmed });
  }
  const claim = read.claim;
  const timeoutMs = budget.stateTimeoutMs();
  const signal = AbortSignal.timeout(timeoutMs);
  const started = performance.now();
  try {
    const saved = await raceSignal(
      session.save((latest) => {
        const next = claim ? claim.change(keep(latest)) : keep(latest);
        return trigger === undefined ? next : { ...next, trigger: rememberTrigger(next.trigger, trigger) };
      }, signal),
      signal,
      () => new StateError('timeout', `the state write of ${state.where} got no answer within ${timeoutMs} ms`),
    );
    if (hasUpdates) state.written = true;
    state.writeAttempts = saved.attempts;
    state.writeMs = Math.round(performance.now() - started);
  } catch (e) {
    // Not known to be claimed: nothing is replayed this time (the next invocation does it).
    delete read.claim;
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

/** What the spool's replay did: the entries sent again (oldest first), those too old to send, each one's outcome, the calls. */
interface SpoolReplay {
  replay: SpoolEntry[];
  expired: SpoolEntry[];
  outcomes: ReplayOutcome[];
  /** Entries dropped on read (invalid, duplicate, foreign, full). */
  dropped: SpoolCounts['dropped'];
  /** The stored spool they come from (when unchanged at the write, no keys need comparing). */
  section: StoredSpool | undefined;
  /** The replay's publish statistics, when it posted. */
  stats?: Omit<PublishResult, 'outcome'>;
}

/**
 * The outage spool's replay, after the fresh data: what this invocation claimed (see saveState) is
 * sent again, oldest first, same pacing, until the budget's `dataStopAt`; the metrics are made
 * batch by batch, never all at once. Without the claim (another invocation holds it, or the claim
 * write failed) nothing is replayed. Never rejects.
 */
export async function replaySpool(
  rt: Runtime,
  read: StateRead,
  result: PublishResult | undefined,
  budget: InvocationBudget,
  pacer: AdaptivePacer,
): Promise<SpoolReplay> {
  const claimed = read.claim?.claimed();
  const spool = read.spool;
  const none: SpoolReplay = { replay: [], expired: [], outcomes: [], dropped: spool?.dropped ?? {}, section: spool?.section };
  if (claimed === undefined || spool === undefined) return none;
  // Another writer may have added entries between the read and the claim: the claim covers what it stored.
  const decoded =
    claimed === spool.section
      ? spool
      : { ...decodeSpool(claimed, { ...spoolReadOptions(rt.settings, read.destinations ?? new Set()), max: spool.max }), section: claimed };
  const { replay, expiredEntries } = planReplay(decoded.entries, budget.now());
  const out: SpoolReplay = { replay, expired: expiredEntries, outcomes: [], dropped: decoded.dropped, section: decoded.section };
  const stopAt = budget.dataStopAt;
  if (replay.length === 0 || result?.fatal || stopAt - budget.now() <= 0) return out;
  const outcome = new Uint8Array(replay.length);
  let from = 0;
  const stats = await publishBatches(
    () => {
      if (from >= replay.length) return undefined;
      const batch = { metrics: replay.slice(from, from + OCI_LIMITS.maxStreamsPerCall).map(fromSpoolEntry), tag: from };
      from += batch.metrics.length;
      return batch;
    },
    rt.postBatch(),
    budget.publishOptions(stopAt, pacer),
    (batch, outcomes) => outcome.set(outcomes, batch.tag),
  );
  out.stats = stats;
  out.outcomes = Array.from(outcome, (o): ReplayOutcome =>
    o === Outcome.Posted ? 'posted' : o === Outcome.Failed && !stats.fatal ? 'rejected' : 'undelivered',
  );
  return out;
}

/**
 * Stores the spool after the posting: the replayed entries still undelivered, what other
 * invocations added meanwhile, and this invocation's undelivered series (data and self-metrics),
 * each datapoint once and at most SPOOL_MAX_SERIES; the claim is released in the same write.
 * Never rejects.
 */
export async function storeSpool(
  rt: Runtime,
  read: StateRead,
  replayed: SpoolReplay,
  undelivered: { entries: SpoolEntry[]; overMax: number },
  budget: InvocationBudget,
): Promise<SpoolSummary> {
  const s = rt.settings;
  const session = read.session!;
  const { replay, outcomes, expired, section } = replayed;
  const { entries: fresh, overMax: freshOverMax } = undelivered;
  const held = read.claim?.claimed() !== undefined;
  const droppedOnRead = replayed.dropped;
  // Nothing spooled, nothing new, no claim to release: no write (a healthy invocation costs the state one read and one write).
  if (!held && fresh.length === 0 && freshOverMax === 0) return { replayed: 0, posted: 0, dropped: {}, pending: read.spool?.entries.length ?? 0 };
  let counts: SpoolCounts | undefined;
  const readOptions = spoolReadOptions(s, read.destinations ?? new Set());
  try {
    await session.save((latest) => {
      // Unless another invocation wrote a spool since the claim, the stored one is the one planned from.
      const latestSpool = held && latest.spool === section ? undefined : decodeSpool(latest.spool, readOptions);
      const merged = mergeSpool(latestSpool?.entries ?? 'as-planned', replay, outcomes, fresh, expired, s.spoolMaxSeries);
      counts = merged.counts;
      // What the holder's read dropped is counted once; an invocation without the claim counts what its own read of the latest dropped.
      addDropped(counts.dropped, held ? droppedOnRead : (latestSpool?.dropped ?? {}));
      if (freshOverMax > 0) addDropped(counts.dropped, { full: freshOverMax });
      const next = { ...latest, spool: encodeSpool(merged.spool) };
      return releaseClaim(next, session.id, budget.now());
    }, AbortSignal.timeout(budget.spoolWriteTimeoutMs()));
  } catch (e) {
    const posted = outcomes.filter((o) => o === 'posted').length;
    // The stored spool still holds what was just replayed: said, since the next invocation sends it again.
    const resent = posted > 0 ? `; ${posted} replayed series OCI accepted are still in the stored spool and will be sent again` : '';
    const why = (e as Error)?.message ?? String(e);
    const error = `the spool could not be stored (${why}): this invocation's ${fresh.length} undelivered series are not kept${resent}`;
    rt.log('warn', error);
    return {
      replayed: replay.length,
      posted,
      dropped: { ...(fresh.length > 0 ? { not_stored: fresh.length } : {}), ...(freshOverMax > 0 ? { full: freshOverMax } : {}) },
      pending: read.spool?.entries.length ?? 0,
      error,
    };
  }
  const c = counts ?? { replayed: 0, posted: 0, dropped: {}, pending: 0 };
  if (Object.keys(c.dropped).length > 0) rt.log('warn', 'spool entries dropped', { dropped: c.dropped });
  return c;
}
