/**
 * One invocation, start to end: the targets, their scrape (src/handler/prepare.ts), the state read
 * and write (src/handler/statePhase.ts), the posting, the spool, then the self-metrics (`up`,
 * durations, counts) and the summary. Wires the stages and holds no rules: every stop time and
 * reserve is the budget's (src/handler/budget.ts), every byte held is reserved from the memory budget (src/handler/memory.ts).
 */
import { cardinalityReport } from '../forecast/cardinality';
import { forecastCost, type ForecastInput } from '../forecast/forecast';
import { createPacer, Outcome, publish, publishBatches, type PublishResult } from '../publish/publisher';
import { anyDerived } from '../transform/derive';
import { toSelfMetrics } from '../transform/selfMetrics';
import { shardDimension } from '../discovery/shard';
import type { OciMetric, TransformOptions } from '../types/model';
import { InvocationBudget } from './budget';
import { MemoryBudget } from './memory';
import { DataSource, drainTarget, UndeliveredSeries, withoutDropRules } from './data';
import { toSpoolEntry, type SpoolEntry } from '../state/spool';
import { scrapeAll, targetsOf } from './prepare';
import { joinBoard, keepSharing, leaveBoard, startOnBoard } from './boardPhase';
import { targetOptions } from './jobs';
import type { Runtime } from './runtime';
import {
  destinationsOf,
  hasStateStore,
  pacingStartOf,
  readState,
  replaySpool,
  savePacing,
  saveState,
  storeSpool,
  targetStateOf,
  triggerRunAlready,
} from './statePhase';
import {
  logFields,
  notDerivedOf,
  nothingDeliveredCause,
  round2,
  selfMetricReport,
  summarise,
  summariseTargets,
  type InvocationSummary,
  type StateSummary,
} from './summary';

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

/** The trigger message of this invocation was run already (its key is in the state): nothing was done. */
export class DuplicateTrigger extends Error {
  override name = 'DuplicateTrigger';
  constructor(readonly trigger: string) {
    super(`the trigger message ${trigger} was run already`);
  }
}

/**
 * Runs one invocation; resolves a summary, or rejects with DeliveryFailure when nothing was
 * delivered, or DuplicateTrigger when `trigger` (the alarm message's key) was run already.
 */
export async function runInvocation(rt: Runtime, opts: { dryRun: boolean; deadline?: Date; trigger?: string }): Promise<InvocationSummary> {
  const s = rt.settings;
  const budget = new InvocationBudget(s, rt.now ?? Date.now, opts.deadline);
  const now = budget.now;
  const started = budget.startedAt;
  const selfShard = shardDimension(s.shard);
  const transformOptions: TransformOptions = {
    namespace: s.namespace,
    compartmentId: s.compartmentId,
    resourceGroup: s.resourceGroup,
    extraDimensions: s.extraDimensions,
    include: s.include,
    exclude: s.exclude,
    histogramBuckets: s.histogramBuckets,
    ...(anyDerived(s.derivedKinds) ? { derive: { kinds: s.derivedKinds, quantiles: s.histogramQuantiles, maxAgeMs: s.stateMaxAgeMs } } : {}),
    ...(selfShard !== undefined ? { shard: selfShard } : {}),
  };

  const state: StateSummary = { enabled: false, written: false };
  // Discovery runs first (the state is keyed by target URL, so it needs the targets), then the
  // state is read while the targets are scraped; each transform waits for it.
  // One memory budget for everything the run holds (src/handler/memory.ts): each part reserves from it by name.
  const memory = new MemoryBudget(s.memoryMb);
  const { targets: scrapeTargets, report: discovery, config: configReport, shard } = await targetsOf(rt, budget, memory);
  const spoolOn = !opts.dryRun && s.spoolMaxSeries > 0 && hasStateStore(rt);
  // A trigger message (a posting run with a state store) is de-duplicated before any scrape: the
  // state, which holds the keys of the messages run, is read first, and this key is stored with it.
  const trigger = opts.trigger !== undefined && !opts.dryRun && hasStateStore(rt) ? opts.trigger : undefined;
  const reading =
    transformOptions.derive || spoolOn || trigger !== undefined
      ? readState(rt, state, budget.stateTimeoutMs(), memory, spoolOn ? { destinations: destinationsOf(scrapeTargets, transformOptions) } : undefined)
      : undefined;
  if (trigger !== undefined && triggerRunAlready(await reading!, trigger)) {
    rt.log('info', 'trigger message run already: answered without a run', { trigger });
    throw new DuplicateTrigger(trigger);
  }
  // The pacing board (src/handler/boardPhase.ts): the heartbeat is written while the targets are scraped.
  const settled = reading ? reading.then((r) => pacingStartOf(r, now())) : Promise.resolve(undefined);
  const board = opts.dryRun ? undefined : joinBoard(rt, started, settled, budget.boardTimeoutMs());
  const prepared = await scrapeAll(rt, scrapeTargets, budget, memory, transformOptions, targetStateOf(reading, state), opts.dryRun);
  const scrapeMs = now() - started;
  // This scrape is stored while the data is posted; a state failure never stops the posting.
  const read = reading ? await reading : undefined;
  // One rate for the data and the self-metrics calls, starting where the previous invocation settled, or at the board's share.
  const pacingStart = opts.dryRun ? undefined : pacingStartOf(read, now());
  const boardShare = board ? await startOnBoard(rt, board, memory, s.postCallsPerSecond) : undefined;
  const pacer = createPacer(s.postCallsPerSecond, boardShare ?? pacingStart, s.shard?.count);
  const stopSharing = board ? keepSharing(rt, board, pacer, budget.dataStopAt) : undefined;
  // With a spool to replay, the same write claims it (see statePhase.ts).
  const saving = read && (!opts.dryRun || rt.dryRunWritesState === true) ? saveState(rt, read, scrapeTargets, prepared, state, budget, trigger) : undefined;
  let result: PublishResult | undefined;
  let dryRunData: OciMetric[] = [];
  const undeliveredOf = spoolOn ? new UndeliveredSeries(s.spoolMaxSeries) : undefined;
  // The series are counted as the transform is drained: the samples bound what this invocation can add.
  const samples = prepared.reduce((n, p) => n + p.samples, 0);
  if (spoolOn) budget.reserveSpool((read?.spool?.entries.length ?? 0) + Math.min(s.spoolMaxSeries, samples));
  let drained: { job: string; streams: OciMetric[] }[] = [];
  let withoutRules: ForecastInput['withoutRules'];
  if (opts.dryRun) {
    drained = prepared.map((p) => ({ job: p.target.job ?? '', streams: drainTarget(p) }));
    dryRunData = drained.flatMap((d) => d.streams);
    const baseline = prepared.map(withoutDropRules);
    withoutRules = { dataStreams: baseline.reduce((n, b) => n + b.series, 0), notDerived: notDerivedOf(baseline) };
  } else {
    const data = new DataSource(prepared);
    const stats = await publishBatches(data.next, rt.postBatch(), budget.publishOptions(budget.dataStopAt, pacer), (batch, outcomes) => {
      data.record(batch, outcomes);
      undeliveredOf?.record(batch, outcomes);
    });
    // No series at all: as if nothing was published (no calls, no outcomes).
    if (data.total > 0) result = { ...stats, outcome: data.outcomes() };
  }
  const dataStreams = prepared.reduce((n, p) => n + p.series, 0);
  await saving;
  const fresh = undeliveredOf?.entries(result?.fatal !== undefined) ?? { entries: [], overMax: 0 };
  const spooling = spoolOn && read?.session ? read : undefined;
  const replayed = spooling ? await replaySpool(rt, spooling, result, budget, pacer) : undefined;
  stopSharing?.();
  if (state.error) rt.log('warn', `derived series: ${state.error}`, { cause: state.cause, ...(state.iamPolicy ? { iamPolicy: state.iamPolicy } : {}) });
  const targets = summariseTargets(prepared, result, opts.dryRun);
  const self = targets.flatMap((t, i) => toSelfMetrics(selfMetricReport(t, prepared[i], state), targetOptions(prepared[i].target, transformOptions)));
  let selfResult: PublishResult | undefined;
  // After a 401/404 every call fails alike: the self-metrics are not sent into it, so it is reported once.
  if (!opts.dryRun)
    selfResult = result?.fatal
      ? notAttempted(self.length, result.fatal)
      : await publish(self, rt.postBatch(), budget.publishOptions(budget.selfMetricsStopAt, pacer));
  // The self-metrics OCI did not take join the spool like the data: after an outage `up` has no hole.
  const toSpool = withSelfMetrics(fresh, self, selfResult);
  const spoolSummary = spooling && replayed ? await storeSpool(rt, spooling, replayed, toSpool, budget) : undefined;
  const selfSpooled = toSpool.entries.length - fresh.entries.length;
  if (spoolSummary && spoolSummary.error === undefined && selfSpooled > 0) spoolSummary.selfMetrics = selfSpooled;
  if (!opts.dryRun && result && !result.fatal) await savePacing(rt, read, pacer, now(), budget.spoolWriteTimeoutMs());
  if (board) await leaveBoard(rt, board, pacer, budget.boardTimeoutMs());

  const forecast = forecastCost({
    dataStreams,
    notDerived: notDerivedOf(prepared),
    selfStreams: self.length,
    scrapeMs,
    postCallsPerSecond: s.postCallsPerSecond,
    memoryMb: s.memoryMb,
    budget,
    pricePerMillionDatapoints: s.forecastPricePerMillionDatapoints,
    freeDatapointsPerMonth: s.forecastFreeDatapointsPerMonth,
    ...(withoutRules ? { withoutRules } : {}),
  });
  const summary = summarise(prepared, targets, result, selfResult, opts.dryRun, now() - started, forecast, state, discovery);
  if (configReport) summary.scrapeConfig = configReport;
  if (shard) summary.shard = shard;
  if (spoolSummary) {
    summary.spool = spoolSummary;
    const calls = replayed?.stats;
    if (calls) {
      summary.requests += calls.requests;
      summary.retries += calls.retries;
      summary.throttled += calls.throttled;
    }
  }
  const lost = lostAnswersOf([result, replayed?.stats, selfResult]);
  if (lost) summary.lostAnswers = lost;
  const p = pacer.stats();
  summary.pacing = { ceiling: s.postCallsPerSecond, minRate: round2(p.minRate), finalRate: round2(p.rate), decreases: p.decreases };
  if (p.trims > 0) summary.pacing.trims = p.trims;
  if (result) summary.pacing.inFlightPeak = result.heldPeak;
  if (pacingStart || boardShare || pacer.startRate < pacer.top) summary.pacing.startRate = round2(pacer.startRate);
  if (board) summary.pacing.board = board.summary;
  if (discovery?.error)
    rt.log('warn', `discovery: ${discovery.error}`, { source: discovery.source, ...(discovery.iamStatement ? { iamStatement: discovery.iamStatement } : {}) });
  // RUNNING instances and no target of them (a tag typo): said even when static endpoints keep the run ok.
  else if (discovery?.noTargets) rt.log('warn', `discovery: ${discovery.noTargets}`, { source: discovery.source });
  if (opts.dryRun) {
    summary.metricData = [...dryRunData, ...self];
    summary.skippedSamples = prepared.flatMap((p) => p.skipped);
    summary.cardinality = cardinalityReport(drained, {
      totalStreams: forecast.metricStreams,
      pricePerMillionDatapoints: s.forecastPricePerMillionDatapoints,
      freeDatapointsPerMonth: s.forecastFreeDatapointsPerMonth,
    });
  }
  const cause = nothingDeliveredCause(summary, result);
  // The log line is the last thing the run makes: its share of the budget caps it (the targets listed first go first).
  const logBytes = memory.reserveUpTo('log', 1, memory.available('log'));
  summary.memory = memory.report();
  rt.log(cause ? 'error' : 'info', cause ? `invocation delivered nothing: ${cause}` : 'invocation complete', logFields(summary, logBytes));
  if (cause) throw new DeliveryFailure(cause, summary);
  return summary;
}

/** The undelivered series to spool plus the self-metrics OCI did not take (undelivered; failed too when a 401/404 stopped the posting). */
function withSelfMetrics(
  fresh: { entries: SpoolEntry[]; overMax: number },
  self: readonly OciMetric[],
  selfResult: PublishResult | undefined,
): { entries: SpoolEntry[]; overMax: number } {
  if (!selfResult) return fresh;
  const keep = (o: number) => o === Outcome.Undelivered || (o === Outcome.Failed && selfResult.fatal !== undefined);
  const entries = self.filter((_, i) => keep(selfResult.outcome[i])).map(toSpoolEntry);
  // First: over SPOOL_MAX_SERIES the first of equally old entries go first, and the data matters more than its self-metrics.
  return entries.length === 0 ? fresh : { entries: [...entries, ...fresh.entries], overMax: fresh.overMax };
}

/** The calls whose answer was lost, over the invocation's postings; undefined when every call was answered. */
function lostAnswersOf(results: readonly (Omit<PublishResult, 'outcome'> | undefined)[]): InvocationSummary['lostAnswers'] {
  let resent = 0;
  let undelivered = 0;
  for (const r of results) {
    resent += r?.lostAnswers?.resent ?? 0;
    undelivered += r?.lostAnswers?.undelivered ?? 0;
  }
  if (resent === 0 && undelivered === 0) return undefined;
  return {
    resent,
    undelivered,
    note:
      'PostMetricData calls were sent whole and their answer was lost (connection reset or timeout), so OCI may have stored them: ' +
      `${resent} series were posted again by a retry and may be stored twice; ${undelivered} were left undelivered after it (spooled, ` +
      'their replay may store them twice). This is the only case a datapoint can reach OCI twice.',
  };
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
    pacing: { rate: 0, minRate: 0, decreases: 0, trims: 0 },
    heldPeak: 0,
  };
}
