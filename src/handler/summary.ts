/**
 * The invocation's summary: per-target and total counts, the accounting invariants
 * (samples + derived = series + skipped, series = posted + failed + undelivered), whether anything
 * was delivered, and the log line. Pure: it counts what the runner hands it, no I/O, no clock.
 */
import type { SpoolCounts } from '../state/spool';
import { discoveryLogFields, type DiscoveryReport } from '../discovery/discovery';
import type { CostForecast } from '../forecast/forecast';
import type { CardinalityReport } from '../forecast/cardinality';
import { Outcome, type PublishResult } from '../publish/publisher';
import type { ScrapeResult } from '../scrape/scrape';
import type { StateFailureCause } from '../state/errors';
import type { NotDerivedCounts } from '../types/state';
import type { JobSampleRules, OciMetric, SkippedSample, SkipReason, TargetReport } from '../types/model';
import type { JobReport } from '../discovery/jobTargets';
import type { ScrapeAuth } from '../config/scrapeConfig';
import type { ConfigObjectReport } from '../config/configObject';
import type { TargetState } from '../types/state';
import type { TargetTransform } from '../transform/targetTransform';
import type { MemoryReport } from './memory';

/** The `event` field of the summary's log line: how a reader of the log (the CLI) recognises it. */
export const SUMMARY_LOG_EVENT = 'invocation_summary';

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
  /** Time of the read and of the write (ms); they overlap the scrape and the posting. */
  readMs?: number;
  writeMs?: number;
  /** Why the state could not be read or written. */
  error?: string;
  cause?: StateFailureCause;
  /** The IAM policy statement to add, when the failure is a 404 or an authorization error. */
  iamPolicy?: string;
  /** The stored sections that were in an unexpected shape (section -> why): replaced at the next write, the others used. */
  replaced?: Record<string, string>;
}

export interface TargetSummary {
  url: string;
  instance: string;
  /** The Prometheus job of a configuration file's target (absent for the implicit job of settings alone). */
  job?: string;
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

/** What the outage spool did this time (see src/state/spool.ts); its calls are in the invocation's requests. */
export interface SpoolSummary extends SpoolCounts {
  /** Of the entries added this time, the self-metrics (`up`, ...) OCI did not take: spooled like the data, so `up` has no hole after an outage. */
  selfMetrics?: number;
  /** Why the spool could not be stored (this invocation's undelivered series are then counted as dropped, not_stored). */
  error?: string;
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
  /** The outage spool (with a state store): earlier undelivered series replayed with their original timestamps, this invocation's kept. */
  spool?: SpoolSummary;
  /**
   * PostMetricData calls sent whole whose answer never came (reset, timeout): OCI may have stored
   * them. `resent`: series posted again by a retry, the one case a datapoint may reach OCI twice;
   * `undelivered`: series left undelivered after it (kept in the spool, whose replay may store them
   * twice). Absent when every call was answered.
   */
  lostAnswers?: { resent: number; undelivered: number; note: string };
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
   * The adaptive call rate: POST_CALLS_PER_SECOND is its ceiling; each 429 episode (at most one a second) halves it
   * (`decreases`), accepted calls climb it back; a 429 the function's own calls explain (arrivals bunched into one
   * of OCI's seconds) trims it by half a call/s instead (`trims`, absent when none). `minRate`/`finalRate` in calls/s.
   */
  pacing: {
    ceiling: number;
    minRate: number;
    finalRate: number;
    decreases: number;
    trims?: number;
    /** The most batches the data's posting held at once (in flight or waiting to be retried): how far POST_CONCURRENCY was used. */
    inFlightPeak?: number;
    /** The rate the invocation started at when it took the previous invocation's settled rate from the state, or a shard's share, or the board's (calls/s). */
    startRate?: number;
    /** The pacing board (PACING_BOARD with STATE_BUCKET): the peers it showed, the share it started at, what it left out. */
    board?: BoardSummary;
  };
  errors: { message: string; metrics: number }[];
  durationMs: number;
  /** What this configuration costs at one invocation a minute (from this invocation's counts). */
  forecast: CostForecast;
  /** OCI compute discovery: where the targets came from, churn, and any failure with its IAM fix. */
  discovery?: DiscoveryReport;
  /** The Prometheus configuration's jobs (SCRAPE_CONFIG): targets, dropped targets, notes. */
  scrapeConfig?: ScrapeConfigReport;
  /** With SHARD: which shard this function is, its targets and how many were left to the other shards (never requested). */
  shard?: ShardReport;
  /** The memory budget (src/handler/memory.ts): its ceiling, each item's peak, and what was refused, trimmed or cut to fit. */
  memory?: MemoryReport;
  /** Dry run only: per job, the names with the most streams and the labels that drive them (src/forecast/cardinality.ts). */
  cardinality?: CardinalityReport;
  /** Dry run only: the objects that would be posted (data, then self-metrics). */
  metricData?: OciMetric[];
  /** Dry run only: every skipped sample with its reason. */
  skippedSamples?: SkippedSample[];
  /**
   * Why nothing was delivered (`ok` false): only in the 200 answer of a run invoked by the trigger
   * (src/handler/handler.ts, triggerAnswer); any other caller gets a 502 with this text.
   */
  nothingDelivered?: string;
}

/** One target of this invocation: a METRICS_ENDPOINT entry or a discovered instance's exporter. */
/** What a Prometheus configuration (SCRAPE_CONFIG) came to this invocation (in the response). */
/** This function's shard (SHARD=i/N) and what the split left it. */
export interface ShardReport {
  /** `i/N`, as SHARD says. */
  shard: string;
  /** Targets of this shard. */
  targets: number;
  /** Targets of the other shards: never requested. */
  otherShards: number;
  /** Set when this shard has no target while the others have some. */
  note?: string;
}

export interface ScrapeConfigReport {
  /** SCRAPE_CONFIG_OBJECT: which object and version this invocation used, and whether it was downloaded. */
  object?: ConfigObjectReport;
  jobs: JobReport[];
  /** Keys accepted but not applied. */
  notes: string[];
  /** Set when no job has a target left: the cause of an empty run, never silent. */
  noTargets?: string;
}

export interface ScrapeTarget {
  url: URL;
  /** The Prometheus job (absent or '' = the implicit job of settings-only configuration: no `job` dimension). */
  job?: string;
  instance: string;
  /** A discovered instance's dimensions (resourceId, ...); a job's target: its labels but instance. */
  dimensions?: Record<string, string>;
  resourceId?: string;
  /** A job's target: the rules its samples go through, its timeout and OCI destination, or why it is not scraped. */
  config?: {
    rules: JobSampleRules;
    timeoutMs: number;
    /** Credentials from OCI Vault. */
    auth?: ScrapeAuth;
    refused?: string;
    namespace?: string;
    compartmentId?: string;
    resourceGroup?: string;
  };
}

/** Outcome of scrape + parse + transform for one target: what the summary counts from. */
export interface PreparedTarget {
  target: ScrapeTarget;
  scrape: ScrapeResult;
  samples: number;
  error?: string;
  /** The target's transform while the publisher pulls its batches; dropped once drained (see pipeline.ts). */
  transform?: TargetTransform;
  /** Dry run: the same families transformed with the drop rules off (what the forecast compares with); dropped once counted. */
  withoutDropRules?: TargetTransform;
  /** Series produced by the transform (samples mapped + derived), in publish order after the earlier targets'; final once drained. */
  series: number;
  /** How many of `series` are derived series. */
  derived: number;
  notDerived: NotDerivedCounts;
  /** This scrape's state for the next invocation, when there is one. */
  state?: TargetState;
  skipped: SkippedSample[];
}

/** The facts the self-metrics of one target are made from. */
export function selfMetricReport(target: TargetSummary, prepared: PreparedTarget, state: StateSummary): TargetReport {
  const stateOk = state.enabled ? state.error === undefined : undefined;
  return {
    instance: target.instance,
    dimensions: prepared.target.dimensions,
    scrapeTimeMs: prepared.scrape.scrapeTimeMs,
    up: target.up,
    durationMs: target.durationMs,
    samplesScraped: target.samples,
    posted: target.posted,
    skipped: target.skipped,
    failed: target.failed + target.undelivered,
    derived: target.derived,
    ...(stateOk === undefined ? {} : { stateOk }),
    ...(state.cause ? { stateCause: state.cause } : {}),
  };
}

/** Per-target counts, attributing publish outcomes by each target's index range. */
export function summariseTargets(prepared: PreparedTarget[], result: PublishResult | undefined, dryRun: boolean): TargetSummary[] {
  let offset = 0;
  return prepared.map((p) => {
    let posted = 0,
      failed = 0,
      undelivered = 0;
    if (result) {
      for (let i = offset; i < offset + p.series; i++) {
        const o = result.outcome[i];
        if (o === Outcome.Posted) posted++;
        else if (o === Outcome.Failed) failed++;
        else undelivered++;
      }
    } else if (!dryRun) undelivered = p.series;
    offset += p.series;
    const t: TargetSummary = {
      url: p.scrape.url,
      instance: p.scrape.instance,
      ...(p.target.job ? { job: p.target.job } : {}),
      ...(p.target.resourceId ? { resourceId: p.target.resourceId } : {}),
      up: p.error === undefined,
      samples: p.samples,
      durationMs: p.scrape.durationMs,
      series: p.series,
      derived: p.derived,
      notDerived: p.notDerived,
      posted,
      failed,
      undelivered,
      skipped: p.skipped.length,
    };
    if (p.error !== undefined) t.error = p.error;
    return t;
  });
}

/** The derived series not made, by reason, over every target. */
export function notDerivedOf(prepared: readonly Pick<PreparedTarget, 'notDerived'>[]): NotDerivedCounts {
  const notDerived: NotDerivedCounts = {};
  for (const p of prepared)
    for (const [reason, n] of Object.entries(p.notDerived) as [keyof NotDerivedCounts, number][]) notDerived[reason] = (notDerived[reason] ?? 0) + n;
  return notDerived;
}

/** Totals over targets plus the publish statistics. */
export function summarise(
  prepared: PreparedTarget[],
  targets: TargetSummary[],
  data: PublishResult | undefined,
  self: PublishResult | undefined,
  dryRun: boolean,
  durationMs: number,
  forecast: CostForecast,
  state: StateSummary,
  discovery?: DiscoveryReport,
): InvocationSummary {
  const skipped: Partial<Record<SkipReason, number>> = {};
  for (const p of prepared) for (const k of p.skipped) skipped[k.reason] = (skipped[k.reason] ?? 0) + 1;
  const notDerived = notDerivedOf(prepared);
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
    ...(discovery ? { discovery } : {}),
  };
  summary.ok = nothingDeliveredCause(summary, data) === undefined;
  return summary;
}

/** The response's word on the pacing board. */
export interface BoardSummary {
  /** Peers seen on the board when the posting started (other deployments sharing the bucket). */
  peers: number;
  /** The rate the board gave the start (calls/s), when it had peers. */
  shareRate?: number;
  /** Even splits taken while posting. */
  shares?: number;
  /** Objects under the board's prefix left out (malformed, too large, too many), each with why. */
  problems?: string[];
  /** A board call that failed (the invocation paced alone from there), with the IAM statement when OCI refused it. */
  error?: string;
  iamPolicy?: string;
}

/** Rounds to 2 decimals (rates in the summary). */
export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Why nothing was delivered, or undefined when something was (partial success is success). */
export function nothingDeliveredCause(s: InvocationSummary, data: PublishResult | undefined): string | undefined {
  const up = s.targets.filter((t) => t.up);
  if (s.targets.length === 0) {
    if (s.scrapeConfig?.noTargets) return `no targets: ${s.scrapeConfig.noTargets}`;
    // Discovery found nothing and nothing is listed: a failed discovery is a failure, and so are RUNNING
    // instances none of which became a target; an empty compartment is not.
    const d = s.discovery;
    if (d?.error) return `no targets: ${d.error}${d.iamStatement ? `; add the policy statement: ${d.iamStatement}` : ''}`;
    return d?.noTargets ? `no targets: ${d.noTargets}` : undefined;
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

/** Room kept in the log line for its time, level and message (a message is cut at 2,000 characters, src/log.ts). */
const LOG_LINE_ENVELOPE_BYTES = 2200;
/** Most publish errors the log line lists (each is one message with its count; the response has them all). */
const LOG_ERRORS_LISTED = 20;

/**
 * The summary as log fields (no metric bodies), within `maxBytes` of JSON (the memory budget's
 * share for the log line): the targets are listed in order while they fit, then counted
 * (`targetsListed` of `targetsCount`); the response keeps them all.
 */
export function logFields(s: InvocationSummary, maxBytes = Infinity): Record<string, unknown> {
  const { metricData: _m, skippedSamples: _k, forecast: _f, cardinality: _c, targets: _t, ...rest } = s;
  const base: Record<string, unknown> = {
    event: SUMMARY_LOG_EVENT,
    ...rest,
    ...(s.discovery ? { discovery: discoveryLogFields(s.discovery) } : {}),
    ...(s.errors.length > LOG_ERRORS_LISTED ? { errors: s.errors.slice(0, LOG_ERRORS_LISTED), errorsCount: s.errors.length } : {}),
  };
  let room = maxBytes - LOG_LINE_ENVELOPE_BYTES - JSON.stringify(base).length;
  const targets: Record<string, unknown>[] = [];
  for (const t of s.targets) {
    const line = { url: t.url, up: t.up, samples: t.samples, durationMs: t.durationMs, ...(t.error ? { error: t.error } : {}) };
    room -= JSON.stringify(line).length + 1;
    if (room < 0) break;
    targets.push(line);
  }
  const cut = targets.length < s.targets.length ? { targetsListed: targets.length, targetsCount: s.targets.length } : {};
  return { ...base, targets, ...cut };
}
