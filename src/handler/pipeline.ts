/**
 * One invocation, start to end: scrape every target concurrently, parse, transform, publish,
 * then post the self-metrics (`up`, durations, counts). Wires the stages; holds no mapping rules.
 */
import { setMaxListeners } from 'node:events';
import type { Settings } from '../config/settings';
import type { Logger } from '../log';
import { ExpositionError, ExpositionParser, SampleLimitError, shownExpositionError } from '../parse/exposition';
import { createPacer, Outcome, publish, publishBatches, type AdaptivePacer, type PublishOptions, type PublishResult } from '../publish/publisher';
import type { PostBatch } from '../publish/sink';
import { hideCredentials, instancesOf, notScraped, scrapeTarget } from '../scrape/scrape';
import { TargetTransform } from '../transform/targetTransform';
import { DataSource, drainTarget, UndeliveredSeries } from './data';
import { toSelfMetrics } from '../transform/selfMetrics';
import type { OciMetric, TransformOptions } from '../types/model';
import type { BearerTokenSource } from '../oci/secrets';
import { forecastCost } from '../forecast/forecast';
import { StateError } from '../state/errors';
import { withTargets, type StateSession, type StateStore } from '../state/store';
import { decodeSpool, encodeSpool, fromSpoolEntry, mergeSpool, planReplay, type ReplayOutcome, type SpoolCounts, type SpoolEntry } from '../state/spool';
import { anyDerived } from '../transform/derive';
import type { PreviousScrape } from '../types/state';
import type { TargetState } from '../types/state';
import { targetStateKey } from '../state/keys';
import {
  logFields,
  nothingDeliveredCause,
  round2,
  selfMetricReport,
  summarise,
  summariseTargets,
  type InvocationSummary,
  type PreparedTarget,
  type ScrapeTarget,
  type StateSummary,
  type SpoolSummary,
} from './summary';
import type { DiscoveryReport, FleetDiscovery } from '../discovery/discovery';
import type { DiscoveredTarget } from '../discovery/targets';
import { mapConcurrently } from '../util/concurrency';

/** Time kept back at the end of an invocation to write the response (ms). */
const RESPONSE_MARGIN_MS = 1000;
/** Time kept back after the data phase for the self-metrics call (ms, upper bound). */
const SELF_METRICS_RESERVE_MS = 2500;
/**
 * Time kept back after the posting for the outage spool: decoding, merging and encoding it are CPU
 * work no deadline can interrupt, so the posting stops early enough for them (a 50k spool with the
 * ingestion down ran past its 40 s deadline, and the spool was lost). Per entry stored or possibly
 * added, about 6x the bench's calm-machine cost (~13 us per entry), plus the write itself; at most
 * a third of the time left when the posting starts.
 */
const SPOOL_RESERVE_BASE_MS = 1000;
const SPOOL_RESERVE_MS_PER_ENTRY = 0.08;
const SPOOL_RESERVE_MAX_SHARE = 1 / 3;

/** What the runner needs from the outside; created once per warm container. */
export interface Runtime {
  settings: Settings;
  log: Logger;
  /** The PostMetricData call (created lazily, reused). */
  postBatch(): PostBatch;
  /** The bearer token source when a secret is configured. */
  tokenSource(): BearerTokenSource | undefined;
  /** The state store (created lazily, reused); undefined when it is off. Throws StateError when it cannot be created. */
  stateStore?(): StateStore | undefined;
  /** OCI compute discovery when DISCOVERY_COMPARTMENT_OCID is set (created lazily, reused while warm). */
  discovery?(): FleetDiscovery | undefined;
  now?: () => number;
}

/** The state read started at the beginning of an invocation. */
interface StateRead {
  session?: StateSession;
  error?: StateError;
  /** The store is this process's own (a dry run may write it). */
  local?: boolean;
}

/** The invocation failed to deliver anything; the message names why (shown to the caller). */
export class DeliveryFailure extends Error {
  override name = 'DeliveryFailure';
  constructor(
    message: string,
    readonly summary: InvocationSummary,
  ) {
    super(message);
  }
}

/** Runs one invocation; resolves a summary, or rejects with DeliveryFailure when nothing was delivered. */
export async function runInvocation(rt: Runtime, opts: { dryRun: boolean; deadline?: Date }): Promise<InvocationSummary> {
  const now = rt.now ?? Date.now;
  const started = now();
  const s = rt.settings;
  const deadlineMs = opts.deadline?.getTime() ?? started + s.functionTimeoutMs;
  const endMs = deadlineMs - RESPONSE_MARGIN_MS;
  const transformOptions: TransformOptions = {
    namespace: s.namespace,
    compartmentId: s.compartmentId,
    resourceGroup: s.resourceGroup,
    extraDimensions: s.extraDimensions,
    include: s.include,
    exclude: s.exclude,
    histogramBuckets: s.histogramBuckets,
    ...(anyDerived(s.derivedKinds) ? { derive: { kinds: s.derivedKinds, quantiles: s.histogramQuantiles, maxAgeMs: s.stateMaxAgeMs } } : {}),
  };

  // Discovery runs first (the state is keyed by target URL, so it needs the targets), then the
  // state is read while the targets are scraped; each transform waits for it.
  const { targets: scrapeTargets, report: discovery } = await targetsOf(rt, endMs - SELF_METRICS_RESERVE_MS);
  const state: StateSummary = { enabled: false, written: false };
  const spoolOn = !opts.dryRun && s.spoolMaxSeries > 0 && hasStateStore(rt);
  const reading =
    transformOptions.derive || spoolOn ? readState(rt, state, Math.min(s.postTimeoutMs, Math.max(1, endMs - SELF_METRICS_RESERVE_MS - now()))) : undefined;
  const previousOf = async (target: ScrapeTarget): Promise<PreviousScrape> => {
    if (reading === undefined) return undefined;
    const read = await reading;
    if (read.error || !read.session) return state.enabled ? 'state_failed' : 'state_off';
    if (read.session.problem) return 'state_replaced';
    return read.session.doc.targets[targetStateKey(target)];
  };
  const prepared = await scrapeAll(rt, scrapeTargets, endMs - SELF_METRICS_RESERVE_MS, transformOptions, previousOf, opts.dryRun);
  const scrapeMs = now() - started;
  const pacer = createPacer(s.postCallsPerSecond); // one rate for the data and the self-metrics calls
  // This scrape is stored while the data is posted; a state failure never stops the posting.
  const read = reading ? await reading : undefined;
  const saving =
    read && (!opts.dryRun || read.local)
      ? saveState(read, scrapeTargets, prepared, state, Math.min(s.postTimeoutMs, Math.max(1, endMs - SELF_METRICS_RESERVE_MS - now())))
      : undefined;
  let result: PublishResult | undefined;
  let dryRunData: OciMetric[] = [];
  const undeliveredOf = spoolOn ? new UndeliveredSeries(s.spoolMaxSeries) : undefined;
  const postUntil = endMs - Math.min(SELF_METRICS_RESERVE_MS, s.postTimeoutMs);
  // The series are counted as the transform is drained: the samples bound what this invocation can add.
  const samples = prepared.reduce((n, p) => n + p.samples, 0);
  const spoolReserve = spoolOn ? spoolReserveMs((read?.session?.doc.spool?.e.length ?? 0) + Math.min(s.spoolMaxSeries, samples), postUntil - now()) : 0;
  // When the data (fresh, then replayed) stops being posted.
  const dataStopAt = postUntil - spoolReserve;
  if (opts.dryRun) {
    dryRunData = prepared.flatMap(drainTarget);
  } else {
    const data = new DataSource(prepared);
    const stats = await publishBatches(data.next, rt.postBatch(), publishOptions(s, dataStopAt, now, pacer), (batch, outcomes) => {
      data.record(batch, outcomes);
      undeliveredOf?.record(batch, outcomes);
    });
    // No series at all: as if nothing was published (no calls, no outcomes).
    if (data.total > 0) result = { ...stats, outcome: data.outcomes() };
  }
  const dataStreams = prepared.reduce((n, p) => n + p.series, 0);
  await saving;
  const fresh = undeliveredOf?.entries(result?.fatal !== undefined) ?? { entries: [], overMax: 0 };
  const spooled = spoolOn && read?.session ? await replayAndSpool(rt, read.session, fresh, result, dataStopAt, endMs, now, pacer) : undefined;
  if (state.error) rt.log('warn', `derived series: ${state.error}`, { cause: state.cause, ...(state.iamPolicy ? { iamPolicy: state.iamPolicy } : {}) });
  const targets = summariseTargets(prepared, result, opts.dryRun);
  const self = targets.flatMap((t, i) => toSelfMetrics(selfMetricReport(t, prepared[i], state), transformOptions));
  let selfResult: PublishResult | undefined;
  // After a 401/404 every call fails alike: the self-metrics are not sent into it, so it is reported once.
  if (!opts.dryRun)
    selfResult = result?.fatal ? notAttempted(self.length, result.fatal) : await publish(self, rt.postBatch(), publishOptions(s, endMs, now, pacer));

  const forecast = forecastCost({
    dataStreams,
    selfStreams: self.length,
    scrapeMs,
    postCallsPerSecond: s.postCallsPerSecond,
    // The invocation's own deadline is the timeout the platform enforces, when it gave one.
    functionTimeoutMs: opts.deadline ? Math.round((deadlineMs - started) / 1000) * 1000 : s.functionTimeoutMs,
    reservedMs: RESPONSE_MARGIN_MS + SELF_METRICS_RESERVE_MS + spoolReserve,
    pricePerMillionDatapoints: s.forecastPricePerMillionDatapoints,
    freeDatapointsPerMonth: s.forecastFreeDatapointsPerMonth,
  });
  const summary = summarise(prepared, targets, result, selfResult, opts.dryRun, now() - started, forecast, state, discovery);
  if (spooled) {
    summary.spool = spooled.summary;
    summary.requests += spooled.calls.requests;
    summary.retries += spooled.calls.retries;
    summary.throttled += spooled.calls.throttled;
  }
  const p = pacer.stats();
  summary.pacing = { ceiling: s.postCallsPerSecond, minRate: round2(p.minRate), finalRate: round2(p.rate), decreases: p.decreases };
  if (discovery?.error)
    rt.log('warn', `discovery: ${discovery.error}`, { source: discovery.source, ...(discovery.iamStatement ? { iamStatement: discovery.iamStatement } : {}) });
  if (opts.dryRun) {
    summary.metricData = [...dryRunData, ...self];
    summary.skippedSamples = prepared.flatMap((p) => p.skipped);
  }
  const cause = nothingDeliveredCause(summary, result);
  rt.log(cause ? 'error' : 'info', cause ? `invocation delivered nothing: ${cause}` : 'invocation complete', logFields(summary));
  if (cause) throw new DeliveryFailure(cause, summary);
  return summary;
}

/** True when a state store is configured (one that fails to be created counts: its read reports why). */
function hasStateStore(rt: Runtime): boolean {
  try {
    return rt.stateStore?.() !== undefined;
  } catch {
    return true;
  }
}

/** The time kept for the spool's work after the posting (see SPOOL_RESERVE_MS_PER_ENTRY) for this many entries. */
function spoolReserveMs(entries: number, postingBudgetMs: number): number {
  // Whole milliseconds: the stop times become AbortSignal.timeout() delays, which must be integers.
  return Math.round(Math.max(0, Math.min(postingBudgetMs * SPOOL_RESERVE_MAX_SHARE, SPOOL_RESERVE_BASE_MS + entries * SPOOL_RESERVE_MS_PER_ENTRY)));
}

/**
 * The outage spool, after the fresh data: replays what earlier invocations could not deliver
 * (oldest first, same pacing, until `stopAt`), then stores what is still undelivered, this
 * invocation's included, with the original timestamps. Never rejects.
 */
async function replayAndSpool(
  rt: Runtime,
  session: StateSession,
  undelivered: { entries: SpoolEntry[]; overMax: number },
  result: PublishResult | undefined,
  stopAt: number,
  endMs: number,
  now: () => number,
  pacer: AdaptivePacer,
): Promise<{ summary: SpoolSummary; calls: { requests: number; retries: number; throttled: number } }> {
  const s = rt.settings;
  const storedSpool = session.doc.spool;
  const stored = decodeSpool(storedSpool, { max: s.spoolMaxSeries }).entries;
  const { replay, expiredEntries } = planReplay(stored, now());
  let outcomes: ReplayOutcome[] = [];
  const calls = { requests: 0, retries: 0, throttled: 0 };
  if (replay.length > 0 && !result?.fatal && stopAt - now() > 0) {
    const replayed = await publish(replay.map(fromSpoolEntry), rt.postBatch(), publishOptions(s, stopAt, now, pacer));
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
  const timeoutMs = Math.max(1, Math.min(s.postTimeoutMs, endMs - now()));
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

/** A PublishResult for metrics not sent because an earlier call showed every call would fail (counted as failed). */
function notAttempted(n: number, fatal: string): PublishResult {
  return {
    outcome: new Uint8Array(n).fill(Outcome.Failed),
    posted: 0,
    failed: n,
    undelivered: 0,
    requests: 0,
    retries: 0,
    throttled: 0,
    errors: [],
    fatal,
    pacing: { rate: 0, minRate: 0, decreases: 0 },
  };
}

/** Publisher options from settings and a stop time. */
function publishOptions(s: Settings, stopAtMs: number, now: () => number, pacer: AdaptivePacer): PublishOptions {
  return { callsPerSecond: s.postCallsPerSecond, concurrency: s.postConcurrency, postTimeoutMs: s.postTimeoutMs, stopAtMs, now, pacer };
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
async function readState(rt: Runtime, state: StateSummary, timeoutMs: number): Promise<StateRead> {
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
    return { session, local: store.local };
  } catch (e) {
    state.read = 'failed';
    return { error: noteStateError(state, e) };
  }
}

/** Stores this scrape's per-target state (one conditional write, retried on conflicts); never rejects. */
async function saveState(read: StateRead, targets: readonly ScrapeTarget[], prepared: PreparedTarget[], state: StateSummary, timeoutMs: number): Promise<void> {
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

/** Fetches the bearer token (if any), then scrapes, parses and transforms every target concurrently. */
async function scrapeAll(
  rt: Runtime,
  targets: readonly ScrapeTarget[],
  stopAtMs: number,
  topts: TransformOptions,
  previousOf: (target: ScrapeTarget) => Promise<PreviousScrape>,
  keepOrder: boolean,
): Promise<PreparedTarget[]> {
  const s = rt.settings;
  const now = rt.now ?? Date.now;
  const signal = AbortSignal.timeout(Math.max(1, stopAtMs - now()));
  // Every scrape listens to it: one listener per target is expected, not a leak.
  setMaxListeners(targets.length + 10, signal);
  let token: string | undefined;
  let tokenError: string | undefined;
  const source = rt.tokenSource();
  if (source) {
    try {
      // Reading the token is part of the scrape: a Vault that does not answer gets SCRAPE_TIMEOUT_MS, not the whole invocation.
      const t = await source.get(AbortSignal.any([signal, AbortSignal.timeout(s.scrapeTimeoutMs)]));
      token = t.token;
      if (t.stale) rt.log('warn', `using the previous bearer token: ${t.stale}`);
    } catch (e) {
      tokenError = (e as Error).message;
    }
  }
  // At most SCRAPE_CONCURRENCY targets at once: a fleet must not open hundreds of sockets (and hold
  // hundreds of expositions in memory) at the same moment.
  return mapConcurrently(targets, s.scrapeConcurrency, async (target): Promise<PreparedTarget> => {
    const { url, instance } = target;
    if (tokenError) {
      return {
        target,
        scrape: notScraped(url, tokenError, now(), instance),
        samples: 0,
        error: tokenError,
        series: 0,
        derived: 0,
        notDerived: {},
        skipped: [],
      };
    }
    const timeoutMs = Math.max(1, Math.min(s.scrapeTimeoutMs, stopAtMs - now()));
    // The body is parsed as it arrives (never held whole); a malformed one is refused at end().
    const parser = new ExpositionParser({ sampleLimit: s.scrapeSampleLimit });
    const scrape = await scrapeTarget(url, {
      timeoutMs,
      maxBytes: s.scrapeMaxBytes,
      bearerToken: token,
      followRedirectsToOtherHosts: s.followRedirectsToOtherHosts,
      signal,
      instance,
      consume: parser,
    });
    if (!scrape.ok) {
      // "timed out after 1 ms" alone would read like a bad SCRAPE_TIMEOUT_MS: say the deadline cut it.
      const cut = timeoutMs < s.scrapeTimeoutMs && /^timed out/.test(scrape.error);
      const error = cut ? `${scrape.error} (the invocation deadline left only that for the scrape; raise the function timeout)` : scrape.error;
      return { target, scrape: { ...scrape, error }, samples: 0, error, series: 0, derived: 0, notDerived: {}, skipped: [] };
    }
    try {
      const parsed = parser.end();
      const previous = await previousOf(target);
      // The metrics are made batch by batch as the publisher takes them (a dry run keeps their order for the response).
      const transform = new TargetTransform(
        parsed.families,
        { instance: scrape.instance, scrapeTimeMs: scrape.scrapeTimeMs, previous, dimensions: target.dimensions },
        topts,
        keepOrder,
      );
      const done: PreparedTarget = {
        target,
        scrape,
        samples: parsed.sampleCount,
        transform,
        series: 0,
        derived: 0,
        notDerived: transform.notDerived,
        skipped: [],
      };
      if (transform.state) done.state = transform.state;
      return done;
    } catch (e) {
      const msg =
        e instanceof ExpositionError
          ? `invalid exposition: ${shownExpositionError(e)}`
          : e instanceof SampleLimitError
            ? e.message
            : `could not process the exposition: ${(e as Error).message}`;
      // An exposition error quotes the target's line, which may echo the token back.
      return { target, scrape, samples: 0, error: hideCredentials(msg, { bearerToken: token, url }), series: 0, derived: 0, notDerived: {}, skipped: [] };
    }
  });
}

/**
 * This invocation's targets: METRICS_ENDPOINT, then the discovered ones (a discovered URL that is
 * also listed statically is scraped once, with the instance's dimensions). `instance` follows the
 * one rule for all of them (host:port, the path added when host:port repeats).
 */
async function targetsOf(rt: Runtime, stopAtMs: number): Promise<{ targets: ScrapeTarget[]; report?: DiscoveryReport }> {
  const s = rt.settings;
  const fleet = rt.discovery?.();
  let discovered: DiscoveredTarget[] = [];
  let report: DiscoveryReport | undefined;
  if (fleet) {
    const now = rt.now ?? Date.now;
    ({ targets: discovered, report } = await fleet.targets(AbortSignal.timeout(Math.max(1, stopAtMs - now()))));
  }
  const found = new Set(discovered.map((t) => t.url.href));
  const all: Omit<ScrapeTarget, 'instance'>[] = [
    ...s.endpoints.filter((u) => !found.has(u.href)).map((url) => ({ url })),
    ...discovered.map((t) => ({ url: t.url, dimensions: t.dimensions, resourceId: t.resourceId })),
  ];
  const instances = instancesOf(all.map((t) => t.url));
  return { targets: all.map((t, i) => ({ ...t, instance: instances[i] })), report };
}
