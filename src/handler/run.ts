/**
 * One invocation, start to end: scrape every target concurrently, parse, transform, publish,
 * then post the self-metrics (`up`, durations, counts). Wires the stages; holds no mapping rules.
 */
import type { Settings } from '../config/settings';
import type { Logger } from '../log';
import { ExpositionError, ExpositionParser } from '../parse/exposition';
import { createPacer, Outcome, publish, type AdaptivePacer, type PublishOptions, type PublishResult } from '../publish/publisher';
import type { PostBatch } from '../publish/sink';
import { instancesOf, notScraped, scrapeTarget, type ScrapeResult } from '../scrape/scrape';
import { toOciMetrics } from '../transform/toOciMetrics';
import { toSelfMetrics } from '../transform/selfMetrics';
import type { OciMetric, SkippedSample, SkipReason, TransformOptions } from '../types/model';
import type { BearerTokenSource } from '../oci/secrets';
import { forecastCost, type CostForecast } from '../forecast/forecast';
import { StateError, type StateFailureCause } from '../state/errors';
import { withTargets, type StateSession, type StateStore } from '../state/store';
import { anyDerived, type NotDerivedCounts, type PreviousScrape } from '../transform/derive';
import type { TargetState } from '../types/state';
import { targetStateKey } from '../state/keys';
import type { DiscoveryReport, FleetDiscovery } from '../discovery/discovery';
import type { DiscoveredTarget } from '../discovery/targets';
import { mapConcurrently } from '../util/concurrency';

/** Time kept back at the end of an invocation to write the response (ms). */
const RESPONSE_MARGIN_MS = 1000;
/** Time kept back after the data phase for the self-metrics call (ms, upper bound). */
const SELF_METRICS_RESERVE_MS = 2500;

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

/** What happened to the state between invocations this time. */
export interface StateSummary {
  /** False when no state store is configured (STATE_BUCKET unset): nothing is derived. */
  enabled: boolean;
  /** Where the state is (e.g. oci://bucket@namespace/object). */
  where?: string;
  /** The read: 'ok' (a previous state), 'empty' (none yet), 'failed' (see error). */
  read?: 'ok' | 'empty' | 'failed';
  /** Whether this scrape was stored for the next invocation (never in a dry run). */
  written: boolean;
  /** Conditional writes made (more than 1 when another invocation wrote in between). */
  writeAttempts?: number;
  /** Why the state could not be read or written. */
  error?: string;
  cause?: StateFailureCause;
  /** The IAM policy statement to add, when the failure is a 404 or an authorization error. */
  iamPolicy?: string;
}

export interface TargetSummary {
  url: string;
  instance: string;
  /** The instance OCID of a discovered target. */
  resourceId?: string;
  up: boolean;
  /** Exposition samples read (scrape_samples_scraped). */
  samples: number;
  durationMs: number;
  error?: string;
  /** Series produced by the transform (samples mapped + derived series). */
  series: number;
  /** Of `series`, the derived ones (`_rate`, `_avg`, `_pNN`): samples = series - derived + skipped. */
  derived: number;
  /** Derived series not produced, by reason (first scrape, stale state, state off/failed...). */
  notDerived: NotDerivedCounts;
  posted: number;
  failed: number;
  undelivered: number;
  skipped: number;
}

export interface InvocationSummary {
  ok: boolean;
  dryRun: boolean;
  targets: TargetSummary[];
  /** Exposition samples over all targets. */
  samples: number;
  /** Series produced by the transform; series = posted + failed + undelivered. */
  series: number;
  /** Of `series`, the derived ones (`_rate`, `_avg`, `_pNN`; not exposition samples). */
  derived: number;
  /** Derived series not produced, by reason. */
  notDerived: NotDerivedCounts;
  /** The state between invocations (what the derived series are computed from). */
  state: StateSummary;
  posted: number;
  failed: number;
  /** Series not delivered because the deadline came first. */
  undelivered: number;
  /** Samples skipped, by reason; samples = series - derived + skipped total. */
  skipped: Partial<Record<SkipReason, number>>;
  /** Self-metrics (`up`, ...) posted and failed. */
  selfMetrics: { posted: number; failed: number };
  requests: number;
  retries: number;
  throttled: number;
  /**
   * The adaptive call rate: POST_CALLS_PER_SECOND is its ceiling; each 429 episode halves it
   * (`decreases`), accepted calls climb it back. `minRate`/`finalRate` in calls/s.
   */
  pacing: { ceiling: number; minRate: number; finalRate: number; decreases: number };
  errors: { message: string; metrics: number }[];
  durationMs: number;
  /** What this configuration costs at one invocation a minute (from this invocation's counts). */
  forecast: CostForecast;
  /** OCI compute discovery: where the targets came from, churn, and any failure with its IAM fix. */
  discovery?: DiscoveryReport;
  /** Dry run only: the objects that would be posted (data, then self-metrics). */
  metricData?: OciMetric[];
  /** Dry run only: every skipped sample with its reason. */
  skippedSamples?: SkippedSample[];
}

/** One target of this invocation: a METRICS_ENDPOINT entry or a discovered instance's exporter. */
interface Target {
  url: URL;
  instance: string;
  /** A discovered instance's dimensions (resourceId, ...). */
  dimensions?: Record<string, string>;
  resourceId?: string;
}

/** Outcome of scrape + parse + transform for one target. */
interface Prepared {
  target: Target;
  scrape: ScrapeResult;
  samples: number;
  error?: string;
  metrics: OciMetric[];
  /** How many of `metrics` are derived series. */
  derived: number;
  notDerived: NotDerivedCounts;
  /** This scrape's state for the next invocation, when there is one. */
  state?: TargetState;
  skipped: SkippedSample[];
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
  constructor(message: string, readonly summary: InvocationSummary) {
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
    compartmentId: s.compartmentId ?? 'ocid1.compartment.oc1..dryrun',
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
  const reading = transformOptions.derive ? readState(rt, state, Math.min(s.postTimeoutMs, Math.max(1, endMs - SELF_METRICS_RESERVE_MS - now()))) : undefined;
  const previousOf = async (url: URL): Promise<PreviousScrape> => {
    if (reading === undefined) return undefined;
    const read = await reading;
    if (read.error || !read.session) return state.enabled ? 'state_failed' : 'state_off';
    if (read.session.problem) return 'state_replaced';
    return read.session.doc.targets[targetStateKey(url)];
  };
  const prepared = await scrapeAll(rt, scrapeTargets, endMs - SELF_METRICS_RESERVE_MS, transformOptions, previousOf);
  const scrapeMs = now() - started;
  const pacer = createPacer(s.postCallsPerSecond); // one rate for the data and the self-metrics calls
  const data = prepared.flatMap((p) => p.metrics);
  // This scrape is stored while the data is posted; a state failure never stops the posting.
  const read = reading ? await reading : undefined;
  const saving = read && (!opts.dryRun || read.local) ? saveState(read, scrapeTargets.map((t) => t.url), prepared, state, Math.min(s.postTimeoutMs, Math.max(1, endMs - SELF_METRICS_RESERVE_MS - now()))) : undefined;
  let result: PublishResult | undefined;
  if (!opts.dryRun && data.length > 0) {
    result = await publish(data, rt.postBatch(), publishOptions(s, endMs - Math.min(SELF_METRICS_RESERVE_MS, s.postTimeoutMs), now, pacer));
  }
  await saving;
  if (state.error) rt.log('warn', `derived series: ${state.error}`, { cause: state.cause, ...(state.iamPolicy ? { iamPolicy: state.iamPolicy } : {}) });
  const targets = summariseTargets(prepared, result, opts.dryRun);
  const stateOk = state.enabled ? state.error === undefined : undefined;
  const self = targets.flatMap((t, i) =>
    toSelfMetrics(
      {
        instance: t.instance, dimensions: prepared[i]!.target.dimensions, scrapeTimeMs: prepared[i]!.scrape.scrapeTimeMs, up: t.up, durationMs: t.durationMs, samplesScraped: t.samples,
        posted: t.posted, skipped: t.skipped, failed: t.failed + t.undelivered, derived: t.derived,
        ...(stateOk === undefined ? {} : { stateOk }), ...(state.cause ? { stateCause: state.cause } : {}),
      },
      transformOptions,
    ),
  );
  let selfResult: PublishResult | undefined;
  // After a 401/404 every call fails alike: the self-metrics are not sent into it, so it is reported once.
  if (!opts.dryRun) selfResult = result?.fatal ? notAttempted(self.length, result.fatal) : await publish(self, rt.postBatch(), publishOptions(s, endMs, now, pacer));

  const forecast = forecastCost({
    dataStreams: data.length,
    selfStreams: self.length,
    scrapeMs,
    postCallsPerSecond: s.postCallsPerSecond,
    // The invocation's own deadline is the timeout the platform enforces, when it gave one.
    functionTimeoutMs: opts.deadline ? Math.round((deadlineMs - started) / 1000) * 1000 : s.functionTimeoutMs,
    reservedMs: RESPONSE_MARGIN_MS + SELF_METRICS_RESERVE_MS,
    pricePerMillionDatapoints: s.forecastPricePerMillionDatapoints,
    freeDatapointsPerMonth: s.forecastFreeDatapointsPerMonth,
  });
  const summary = summarise(prepared, targets, result, selfResult, opts.dryRun, now() - started, forecast, state);
  const p = pacer.stats();
  summary.pacing = { ceiling: s.postCallsPerSecond, minRate: round2(p.minRate), finalRate: round2(p.rate), decreases: p.decreases };
  if (discovery) {
    summary.discovery = discovery;
    summary.ok = nothingDeliveredCause(summary, result) === undefined;
    if (discovery.error) rt.log('warn', `discovery: ${discovery.error}`, { source: discovery.source, ...(discovery.iamStatement ? { iamStatement: discovery.iamStatement } : {}) });
  }
  if (opts.dryRun) {
    summary.metricData = [...data, ...self];
    summary.skippedSamples = prepared.flatMap((p) => p.skipped);
  }
  const cause = nothingDeliveredCause(summary, result);
  rt.log(cause ? 'error' : 'info', cause ? `invocation delivered nothing: ${cause}` : 'invocation complete', logFields(summary));
  if (cause) throw new DeliveryFailure(cause, summary);
  return summary;
}

/** A PublishResult for metrics not sent because an earlier call showed every call would fail (counted as failed). */
function notAttempted(n: number, fatal: string): PublishResult {
  return { outcome: new Uint8Array(n).fill(Outcome.Failed), posted: 0, failed: n, undelivered: 0, requests: 0, retries: 0, throttled: 0, errors: [], fatal, pacing: { rate: 0, minRate: 0, decreases: 0 } };
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
  try {
    const session = await raceSignal(store.open(signal), signal, () => new StateError('timeout', `the state read of ${store.where} got no answer within ${timeoutMs} ms`));
    state.read = session.problem ? 'failed' : Object.keys(session.doc.targets).length > 0 ? 'ok' : 'empty';
    if (session.problem) noteStateError(state, session.problem);
    return { session, local: store.local };
  } catch (e) {
    state.read = 'failed';
    return { error: noteStateError(state, e) };
  }
}

/** Stores this scrape's per-target state (one conditional write, retried on conflicts); never rejects. */
async function saveState(read: StateRead, endpoints: readonly URL[], prepared: Prepared[], state: StateSummary, timeoutMs: number): Promise<void> {
  if (!read.session) return;
  const updates: Record<string, TargetState> = {};
  prepared.forEach((p, i) => {
    if (p.state) updates[targetStateKey(endpoints[i]!)] = p.state;
  });
  if (Object.keys(updates).length === 0) return;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const saved = await raceSignal(read.session.save(withTargets(updates), signal), signal, () => new StateError('timeout', `the state write of ${state.where} got no answer within ${timeoutMs} ms`));
    state.written = true;
    state.writeAttempts = saved.attempts;
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
async function scrapeAll(rt: Runtime, targets: readonly Target[], stopAtMs: number, topts: TransformOptions, previousOf: (url: URL) => Promise<PreviousScrape>): Promise<Prepared[]> {
  const s = rt.settings;
  const now = rt.now ?? Date.now;
  const signal = AbortSignal.timeout(Math.max(1, stopAtMs - now()));
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
  return mapConcurrently(targets, s.scrapeConcurrency, async (target): Promise<Prepared> => {
      const { url, instance } = target;
      if (tokenError) {
        return { target, scrape: notScraped(url, tokenError, now(), instance), samples: 0, error: tokenError, metrics: [], derived: 0, notDerived: {}, skipped: [] };
      }
      const timeoutMs = Math.max(1, Math.min(s.scrapeTimeoutMs, stopAtMs - now()));
      // The body is parsed as it arrives (never held whole); a malformed one is refused at end().
      const parser = new ExpositionParser();
      const scrape = await scrapeTarget(url, { timeoutMs, maxBytes: s.scrapeMaxBytes, bearerToken: token, followRedirectsToOtherHosts: s.followRedirectsToOtherHosts, signal, instance, consume: parser });
      if (!scrape.ok) {
        // "timed out after 1 ms" alone would read like a bad SCRAPE_TIMEOUT_MS: say the deadline cut it.
        const cut = timeoutMs < s.scrapeTimeoutMs && /^timed out/.test(scrape.error);
        const error = cut ? `${scrape.error} (the invocation deadline left only that for the scrape; raise the function timeout)` : scrape.error;
        return { target, scrape: { ...scrape, error }, samples: 0, error, metrics: [], derived: 0, notDerived: {}, skipped: [] };
      }
      try {
        const parsed = parser.end();
        const previous = await previousOf(url);
        const out = toOciMetrics(parsed.families, { instance: scrape.instance, scrapeTimeMs: scrape.scrapeTimeMs, previous, dimensions: target.dimensions }, topts);
        const done: Prepared = { target, scrape, samples: parsed.sampleCount, metrics: out.metrics, derived: out.derivedCount, notDerived: out.notDerived, skipped: out.skipped };
        if (out.state) done.state = out.state;
        return done;
      } catch (e) {
        const msg = e instanceof ExpositionError ? `invalid exposition: ${e.message}` : `could not process the exposition: ${(e as Error).message}`;
        return { target, scrape, samples: 0, error: msg, metrics: [], derived: 0, notDerived: {}, skipped: [] };
      }
  });
}

/**
 * This invocation's targets: METRICS_ENDPOINT, then the discovered ones (a discovered URL that is
 * also listed statically is scraped once, with the instance's dimensions). `instance` follows the
 * one rule for all of them (host:port, the path added when host:port repeats).
 */
async function targetsOf(rt: Runtime, stopAtMs: number): Promise<{ targets: Target[]; report?: DiscoveryReport }> {
  const s = rt.settings;
  const fleet = rt.discovery?.();
  let discovered: DiscoveredTarget[] = [];
  let report: DiscoveryReport | undefined;
  if (fleet) {
    const now = rt.now ?? Date.now;
    ({ targets: discovered, report } = await fleet.targets(AbortSignal.timeout(Math.max(1, stopAtMs - now()))));
  }
  const found = new Set(discovered.map((t) => t.url.href));
  const all: Omit<Target, 'instance'>[] = [
    ...s.endpoints.filter((u) => !found.has(u.href)).map((url) => ({ url })),
    ...discovered.map((t) => ({ url: t.url, dimensions: t.dimensions, resourceId: t.resourceId })),
  ];
  const instances = instancesOf(all.map((t) => t.url));
  return { targets: all.map((t, i) => ({ ...t, instance: instances[i]! })), report };
}

/** Per-target counts, attributing publish outcomes by each target's index range. */
function summariseTargets(prepared: Prepared[], result: PublishResult | undefined, dryRun: boolean): TargetSummary[] {
  let offset = 0;
  return prepared.map((p) => {
    let posted = 0, failed = 0, undelivered = 0;
    if (result) {
      for (let i = offset; i < offset + p.metrics.length; i++) {
        const o = result.outcome[i];
        if (o === Outcome.Posted) posted++;
        else if (o === Outcome.Failed) failed++;
        else undelivered++;
      }
    } else if (!dryRun) undelivered = p.metrics.length;
    offset += p.metrics.length;
    const t: TargetSummary = {
      url: p.scrape.url, instance: p.scrape.instance, ...(p.target.resourceId ? { resourceId: p.target.resourceId } : {}), up: p.error === undefined, samples: p.samples,
      durationMs: p.scrape.durationMs, series: p.metrics.length, derived: p.derived, notDerived: p.notDerived, posted, failed, undelivered, skipped: p.skipped.length,
    };
    if (p.error !== undefined) t.error = p.error;
    return t;
  });
}

/** Totals over targets plus the publish statistics. */
function summarise(
  prepared: Prepared[],
  targets: TargetSummary[],
  data: PublishResult | undefined,
  self: PublishResult | undefined,
  dryRun: boolean,
  durationMs: number,
  forecast: CostForecast,
  state: StateSummary,
): InvocationSummary {
  const skipped: Partial<Record<SkipReason, number>> = {};
  for (const p of prepared) for (const k of p.skipped) skipped[k.reason] = (skipped[k.reason] ?? 0) + 1;
  const notDerived: NotDerivedCounts = {};
  for (const p of prepared) for (const [reason, n] of Object.entries(p.notDerived) as [keyof NotDerivedCounts, number][]) notDerived[reason] = (notDerived[reason] ?? 0) + n;
  const sum = (f: (t: TargetSummary) => number) => targets.reduce((a, t) => a + f(t), 0);
  const errors = [...(data?.errors ?? []), ...(self?.errors ?? []).map((e) => ({ message: `self-metrics: ${e.message}`, metrics: e.metrics }))];
  const summary: InvocationSummary = {
    ok: false,
    dryRun,
    targets,
    samples: sum((t) => t.samples),
    series: sum((t) => t.series),
    derived: sum((t) => t.derived),
    notDerived,
    state,
    posted: sum((t) => t.posted),
    failed: sum((t) => t.failed),
    undelivered: sum((t) => t.undelivered),
    skipped,
    selfMetrics: { posted: self?.posted ?? 0, failed: (self?.failed ?? 0) + (self?.undelivered ?? 0) },
    requests: (data?.requests ?? 0) + (self?.requests ?? 0),
    retries: (data?.retries ?? 0) + (self?.retries ?? 0),
    throttled: (data?.throttled ?? 0) + (self?.throttled ?? 0),
    pacing: { ceiling: 0, minRate: 0, finalRate: 0, decreases: 0 },
    errors,
    durationMs,
    forecast,
  };
  summary.ok = nothingDeliveredCause(summary, data) === undefined;
  return summary;
}

/** Rounds to 2 decimals (rates in the summary). */
function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Why nothing was delivered, or undefined when something was (partial success is success). */
function nothingDeliveredCause(s: InvocationSummary, data: PublishResult | undefined): string | undefined {
  const up = s.targets.filter((t) => t.up);
  if (s.targets.length === 0) {
    // Discovery found nothing and nothing is listed: a failed discovery is a failure, an empty fleet is not.
    return s.discovery?.error ? `no targets: ${s.discovery.error}${s.discovery.iamStatement ? `; add the policy statement: ${s.discovery.iamStatement}` : ''}` : undefined;
  }
  if (up.length === 0) {
    const each = s.targets.map((t) => `${t.url}: ${t.error}`).join('; ');
    return `${s.targets.length === 1 ? 'the target is' : `all ${s.targets.length} targets are`} down (${each})`;
  }
  if (s.dryRun) return undefined;
  if (s.series > 0 && s.posted === 0) {
    const first = data?.fatal ?? s.errors[0]?.message ?? 'unknown error';
    return `none of ${s.series} series was posted: ${first}`;
  }
  return undefined;
}

/** The summary as log fields (no metric bodies). */
export function logFields(s: InvocationSummary): Record<string, unknown> {
  const { metricData: _m, skippedSamples: _k, forecast: _f, ...rest } = s;
  return { ...rest, targets: s.targets.map((t) => ({ url: t.url, up: t.up, samples: t.samples, durationMs: t.durationMs, ...(t.error ? { error: t.error } : {}) })) };
}
