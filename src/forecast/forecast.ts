/**
 * What a configuration will cost once it runs every minute, computed from one invocation's counts
 * (a dry run's, before anything is posted). Pure: no I/O, no clock.
 *
 * - metric streams: every series the transform produced plus the self-metrics (`up`, ...), plus
 *   the derived series this invocation could not make yet but the next one will (no previous
 *   scrape, a stale or unreadable state: a dry run before the first real run); each gets one
 *   datapoint per invocation, so datapoints per invocation = streams.
 * - datapoints per month: streams x invocations per month at one invocation a minute, over an
 *   average month of 730 hours (8,760 h / 12), the hours cloud price lists bill a month by.
 * - PostMetricData calls: at most OCI_LIMITS.maxStreamsPerCall streams per call, data and self-metrics posted separately.
 * - share of the tenancy's OCI_LIMITS.maxCallsPerSecond: averaged over the minute, and at the configured rate while
 *   posting (the rate is what other posters in the tenancy feel).
 * - posting time: the publisher's token bucket starts `burst` calls at once, then one per 1/rate,
 *   the rate being POST_CALLS_PER_SECOND capped at OCI's limit (the tenancy admits no more, whatever
 *   the setting) and kept just under it there, as the pacing does alone in the tenancy; the time
 *   is until the last call starts (latency not included).
 * - fits the timeout: scrape time (this invocation's) + posting time + the reserves, against the
 *   timeout, both as the invocation's budget (src/handler/budget.ts) has them.
 * - cost: (datapoints per month - free datapoints) x price per million, only when a price is set;
 *   beside it what OCI Functions bill, GB-seconds (memory x the scrape and posting time) per
 *   invocation and per month.
 * - what the rules save (dry run): the streams and cost without the rules that drop families,
 *   samples or labels (src/transform/dropRules.ts) against those with them.
 */
import type { TimeBudget } from '../handler/budget';
import { burstOf, cruiseRate } from '../publish/pacing';
import { OCI_LIMITS } from '../transform/limits';
import type { NotDerivedCounts, NotDerivedReason } from '../types/state';

/** Invocations in an average month at one a minute: 730 h x 60. */
export const INVOCATIONS_PER_MONTH = 730 * 60;

export interface ForecastInput {
  /** Data series one invocation posts (the transform's output). */
  dataStreams: number;
  /** The derived series the transform did not make, by reason (those of a missing previous scrape are made from the next one on). */
  notDerived?: NotDerivedCounts;
  /** Self-metrics one invocation posts (`up`, durations, counts per target). */
  selfStreams: number;
  /** How long scraping, parsing and transforming took in the measured invocation (ms). */
  scrapeMs: number;
  /** POST_CALLS_PER_SECOND, the pacing's ceiling: the tenancy never takes more than OCI's limit of it. */
  postCallsPerSecond: number;
  /** The function's memory (MB): OCI Functions bill memory x duration. */
  memoryMb: number;
  /** The invocation's budget: its timeout and the time it keeps back (response, self-metrics, spool). */
  budget: TimeBudget;
  /** Price per million ingested datapoints; undefined = not configured. */
  pricePerMillionDatapoints?: number;
  /** Datapoints per month that cost nothing (the tenancy's free allowance). */
  freeDatapointsPerMonth: number;
  /** Dry run: the data series (and derived series not made) the same scrape gives without the drop rules (src/transform/dropRules.ts). */
  withoutRules?: { dataStreams: number; notDerived?: NotDerivedCounts };
}

/** What the drop rules (METRICS_INCLUDE/EXCLUDE, metric_relabel_configs) save. */
interface RulesSaving {
  /** Streams (data + self-metrics) without the rules, and with them (= metricStreams). */
  streamsWithout: number;
  streamsWith: number;
  savedStreams: number;
  /** Monthly costs; absent when no price is configured. */
  monthlyCostWithout?: number;
  monthlyCostWith?: number;
  savedMonthlyCost?: number;
}

export interface CostForecast {
  metricStreams: number;
  /** Of the streams, derived series this invocation could not make but the next ones will (first scrape, stale or failed state). */
  derivedFromNextScrape: number;
  datapointsPerInvocation: number;
  invocationsPerMonth: number;
  datapointsPerMonth: number;
  postCallsPerInvocation: number;
  /** Average calls per second over a one-minute schedule. */
  averageCallsPerSecond: number;
  /** averageCallsPerSecond / OCI_LIMITS.maxCallsPerSecond, as a fraction (0.04 = 4% of the tenancy's limit). */
  averageShareOfTenancyLimit: number;
  /** POST_CALLS_PER_SECOND / OCI_LIMITS.maxCallsPerSecond while posting. */
  postingShareOfTenancyLimit: number;
  /**
   * The rate the calls start at alone in the tenancy: POST_CALLS_PER_SECOND, never more than OCI's
   * limit (a higher setting is capped there), and just under it at the limit itself (the pacing's cruise rate).
   */
  postingCallsPerSecond: number;
  /** Time to start every PostMetricData call at postingCallsPerSecond (s). */
  postingSeconds: number;
  /** Scrape time + posting time + reserves (s). */
  invocationSeconds: number;
  functionTimeoutSeconds: number;
  fitsFunctionTimeout: boolean;
  /**
   * What OCI Functions bill: the function's memory (GB) x the invocation's duration (s), the
   * duration taken as the scrape plus the posting (not the reserves, which are kept back, not spent);
   * per invocation, and per month at one invocation a minute.
   */
  gbSecondsPerInvocation: number;
  gbSecondsPerMonth: number;
  /** Monthly ingestion cost; undefined when no price is configured. */
  monthlyCost?: number;
  pricePerMillionDatapoints?: number;
  freeDatapointsPerMonth: number;
  /** Dry run: what the drop rules save (streams and cost without them, and with them). */
  rules?: RulesSaving;
  /** One line per fact a user must act on (timeout, tenancy limit, price unset). */
  notes: string[];
}

/**
 * Derived series missing only because this invocation had no usable previous scrape: the next
 * invocation makes them (the others, e.g. `no_observations` or `state_off`, stay missing).
 */
const DERIVED_NEXT_TIME: readonly NotDerivedReason[] = ['first_scrape', 'stale_state', 'state_failed'];

/** Calls needed for n streams at OCI_LIMITS.maxStreamsPerCall streams per call. */
function callsFor(streams: number): number {
  return Math.ceil(streams / OCI_LIMITS.maxStreamsPerCall);
}

/** Rounds to a few significant decimals so the JSON stays readable. */
function round(n: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The monthly ingestion cost of `streams` streams at one invocation a minute: datapoints beyond the free ones, at the price. */
export function monthlyCostOf(streams: number, pricePerMillionDatapoints: number, freeDatapointsPerMonth: number): number {
  return round((Math.max(0, streams * INVOCATIONS_PER_MONTH - freeDatapointsPerMonth) / 1e6) * pricePerMillionDatapoints, 4);
}

/** The data streams of an invocation: its series plus the derived ones it will make from the next scrape on. */
function dataStreamsOf(dataStreams: number, notDerived: NotDerivedCounts | undefined): number {
  return dataStreams + DERIVED_NEXT_TIME.reduce((n, reason) => n + (notDerived?.[reason] ?? 0), 0);
}

/** Streams and cost without the drop rules against with them (`streamsWith` = the forecast's metricStreams). */
function rulesSaving(input: ForecastInput, without: NonNullable<ForecastInput['withoutRules']>, streamsWith: number): RulesSaving {
  const streamsWithout = dataStreamsOf(without.dataStreams, without.notDerived) + input.selfStreams;
  const out: RulesSaving = { streamsWithout, streamsWith, savedStreams: streamsWithout - streamsWith };
  const price = input.pricePerMillionDatapoints;
  if (price !== undefined) {
    out.monthlyCostWithout = monthlyCostOf(streamsWithout, price, input.freeDatapointsPerMonth);
    out.monthlyCostWith = monthlyCostOf(streamsWith, price, input.freeDatapointsPerMonth);
    out.savedMonthlyCost = round(out.monthlyCostWithout - out.monthlyCostWith, 4);
  }
  return out;
}

/** The forecast for a configuration whose invocation produced these counts. */
export function forecastCost(input: ForecastInput): CostForecast {
  const dataStreams = dataStreamsOf(input.dataStreams, input.notDerived);
  const later = dataStreams - input.dataStreams;
  const streams = dataStreams + input.selfStreams;
  const calls = callsFor(dataStreams) + callsFor(input.selfStreams);
  const limit = OCI_LIMITS.maxCallsPerSecond;
  const setting = input.postCallsPerSecond;
  const rate = Math.min(cruiseRate(setting), limit);
  const postingSeconds = Math.max(0, calls - burstOf(rate)) / rate;
  const busySeconds = input.scrapeMs / 1000 + postingSeconds;
  const invocationSeconds = busySeconds + input.budget.reservedMs / 1000;
  const timeoutSeconds = input.budget.timeoutMs / 1000;
  const datapointsPerMonth = streams * INVOCATIONS_PER_MONTH;
  const averageCallsPerSecond = calls / 60;
  const gbSeconds = (input.memoryMb / 1024) * busySeconds;
  const notes: string[] = [];
  if (setting > limit) notes.push(`POST_CALLS_PER_SECOND=${setting} is above OCI's ${limit} calls/s per tenancy: the posting time is at ${limit}`);
  const fits = invocationSeconds <= timeoutSeconds;
  if (!fits) {
    notes.push(
      `posting ${calls} calls at ${round(rate, 2)} calls/s takes ${round(postingSeconds, 1)} s; with the scrape and reserves ` +
        `${round(invocationSeconds, 1)} s does not fit the ${timeoutSeconds} s timeout: ` +
        (setting < limit
          ? `raise POST_CALLS_PER_SECOND (at most ${limit} per tenancy, or auto) or post fewer series`
          : 'post fewer series (split the targets)'),
    );
  }
  if (averageCallsPerSecond > limit) notes.push(`${calls} calls a minute exceed the tenancy's ${limit} calls/s even spread evenly: post fewer series`);
  let monthlyCost: number | undefined;
  if (input.pricePerMillionDatapoints === undefined) {
    notes.push('no price configured (FORECAST_PRICE_PER_MILLION_DATAPOINTS): cost not computed');
  } else {
    monthlyCost = monthlyCostOf(streams, input.pricePerMillionDatapoints, input.freeDatapointsPerMonth);
  }
  const out: CostForecast = {
    metricStreams: streams,
    derivedFromNextScrape: later,
    datapointsPerInvocation: streams,
    invocationsPerMonth: INVOCATIONS_PER_MONTH,
    datapointsPerMonth,
    postCallsPerInvocation: calls,
    averageCallsPerSecond: round(averageCallsPerSecond),
    averageShareOfTenancyLimit: round(averageCallsPerSecond / limit),
    postingShareOfTenancyLimit: round(rate / limit),
    postingCallsPerSecond: round(rate, 2),
    postingSeconds: round(postingSeconds, 3),
    invocationSeconds: round(invocationSeconds, 3),
    functionTimeoutSeconds: timeoutSeconds,
    fitsFunctionTimeout: fits,
    gbSecondsPerInvocation: round(gbSeconds, 3),
    gbSecondsPerMonth: Math.round(gbSeconds * INVOCATIONS_PER_MONTH),
    freeDatapointsPerMonth: input.freeDatapointsPerMonth,
    notes,
  };
  if (monthlyCost !== undefined) {
    out.monthlyCost = monthlyCost;
    out.pricePerMillionDatapoints = input.pricePerMillionDatapoints;
  }
  if (input.withoutRules) out.rules = rulesSaving(input, input.withoutRules, streams);
  return out;
}

/** The forecast as a few human-readable lines (CLI). */
export function forecastLines(f: CostForecast): string[] {
  const pct = (x: number) => `${round(x * 100, 1)}%`;
  const later = f.derivedFromNextScrape > 0 ? ` (${f.derivedFromNextScrape} derived from the next scrape on)` : '';
  const lines = [
    `cost forecast at one invocation a minute (${f.invocationsPerMonth} a month):`,
    `  metric streams ${f.metricStreams}${later}, datapoints ${f.datapointsPerInvocation} per invocation, ` +
      `${f.datapointsPerMonth.toLocaleString('en-US')} per month`,
    `  PostMetricData calls ${f.postCallsPerInvocation} per invocation: ${pct(f.averageShareOfTenancyLimit)} of the tenancy's ` +
      `${OCI_LIMITS.maxCallsPerSecond} calls/s on average, ${pct(f.postingShareOfTenancyLimit)} while posting`,
    `  posting ${f.postingSeconds} s; invocation ~${f.invocationSeconds} s of the ${f.functionTimeoutSeconds} s timeout: ` +
      `${f.fitsFunctionTimeout ? 'fits' : 'DOES NOT FIT'}`,
    `  function time ${f.gbSecondsPerInvocation} GB-s per invocation, ${f.gbSecondsPerMonth.toLocaleString('en-US')} GB-s per month ` + '(memory x duration)',
  ];
  if (f.monthlyCost !== undefined) {
    lines.push(
      `  ingestion cost ${f.monthlyCost} a month at ${f.pricePerMillionDatapoints} per million datapoints beyond ` +
        `${f.freeDatapointsPerMonth.toLocaleString('en-US')} free`,
    );
  }
  if (f.rules) lines.push(rulesLine(f.rules));
  for (const n of f.notes) lines.push(`  note: ${n}`);
  return lines;
}

/** What the drop rules save, as one line (CLI). */
function rulesLine(r: RulesSaving): string {
  const cost =
    r.monthlyCostWithout === undefined ? '' : `, ingestion cost ${r.monthlyCostWithout} -> ${r.monthlyCostWith} a month (saves ${r.savedMonthlyCost})`;
  return (
    `  drop rules (METRICS_INCLUDE/EXCLUDE, metric_relabel_configs): metric streams ` +
    `${r.streamsWithout} without -> ${r.streamsWith} with (saves ${r.savedStreams})${cost}`
  );
}
