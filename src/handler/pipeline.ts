/**
 * One invocation, start to end: the targets, their scrape (src/handler/prepare.ts), the state read
 * and write (src/handler/statePhase.ts), the posting, the spool, then the self-metrics (`up`,
 * durations, counts) and the summary. Wires the stages and holds no rules: every stop time and
 * reserve is the budget's (src/handler/budget.ts).
 */
import { memoryMbOf } from '../config/settings';
import { cardinalityReport } from '../forecast/cardinality';
import { forecastCost, type ForecastInput } from '../forecast/forecast';
import { createPacer, Outcome, publish, publishBatches, type PublishResult } from '../publish/publisher';
import { anyDerived } from '../transform/derive';
import { toSelfMetrics } from '../transform/selfMetrics';
import type { OciMetric, TransformOptions } from '../types/model';
import { InvocationBudget, MemoryBudget } from './budget';
import { DataSource, drainTarget, UndeliveredSeries, withoutDropRules } from './data';
import { scrapeAll, targetsOf } from './prepare';
import { targetOptions } from './jobs';
import type { Runtime } from './runtime';
import { hasStateStore, pacingStartOf, previousScrapeOf, readState, replayAndSpool, savePacing, saveState } from './statePhase';
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

/** Runs one invocation; resolves a summary, or rejects with DeliveryFailure when nothing was delivered. */
export async function runInvocation(rt: Runtime, opts: { dryRun: boolean; deadline?: Date }): Promise<InvocationSummary> {
  const s = rt.settings;
  const budget = new InvocationBudget(s, rt.now ?? Date.now, opts.deadline);
  const now = budget.now;
  const started = budget.startedAt;
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
  const { targets: scrapeTargets, report: discovery, config: configReport } = await targetsOf(rt, budget);
  const state: StateSummary = { enabled: false, written: false };
  const spoolOn = !opts.dryRun && s.spoolMaxSeries > 0 && hasStateStore(rt);
  const reading = transformOptions.derive || spoolOn ? readState(rt, state, budget.stateTimeoutMs()) : undefined;
  const memory = new MemoryBudget(rt.memoryMb ?? memoryMbOf({}));
  const prepared = await scrapeAll(rt, scrapeTargets, budget, memory, transformOptions, previousScrapeOf(reading, state), opts.dryRun);
  const scrapeMs = now() - started;
  // This scrape is stored while the data is posted; a state failure never stops the posting.
  const read = reading ? await reading : undefined;
  // One rate for the data and the self-metrics calls, starting where the previous invocation settled.
  const pacingStart = opts.dryRun ? undefined : pacingStartOf(read, now());
  const pacer = createPacer(s.postCallsPerSecond, pacingStart);
  const saving = read && (!opts.dryRun || rt.dryRunWritesState === true) ? saveState(read, scrapeTargets, prepared, state, budget.stateTimeoutMs()) : undefined;
  let result: PublishResult | undefined;
  let dryRunData: OciMetric[] = [];
  const undeliveredOf = spoolOn ? new UndeliveredSeries(s.spoolMaxSeries) : undefined;
  // The series are counted as the transform is drained: the samples bound what this invocation can add.
  const samples = prepared.reduce((n, p) => n + p.samples, 0);
  if (spoolOn) budget.reserveSpool((read?.session?.doc.spool?.e.length ?? 0) + Math.min(s.spoolMaxSeries, samples));
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
  const spooled = spoolOn && read?.session ? await replayAndSpool(rt, read.session, fresh, result, budget, pacer) : undefined;
  if (state.error) rt.log('warn', `derived series: ${state.error}`, { cause: state.cause, ...(state.iamPolicy ? { iamPolicy: state.iamPolicy } : {}) });
  const targets = summariseTargets(prepared, result, opts.dryRun);
  const self = targets.flatMap((t, i) => toSelfMetrics(selfMetricReport(t, prepared[i], state), targetOptions(prepared[i].target, transformOptions)));
  let selfResult: PublishResult | undefined;
  // After a 401/404 every call fails alike: the self-metrics are not sent into it, so it is reported once.
  if (!opts.dryRun)
    selfResult = result?.fatal ? notAttempted(self.length, result.fatal) : await publish(self, rt.postBatch(), budget.publishOptions(budget.endMs, pacer));
  if (!opts.dryRun && result && !result.fatal) await savePacing(rt, read, pacer, now(), budget.spoolWriteTimeoutMs());

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
  if (spooled) {
    summary.spool = spooled.summary;
    summary.requests += spooled.calls.requests;
    summary.retries += spooled.calls.retries;
    summary.throttled += spooled.calls.throttled;
  }
  const p = pacer.stats();
  summary.pacing = { ceiling: s.postCallsPerSecond, minRate: round2(p.minRate), finalRate: round2(p.rate), decreases: p.decreases };
  if (pacingStart) summary.pacing.startRate = round2(pacer.startRate);
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
  rt.log(cause ? 'error' : 'info', cause ? `invocation delivered nothing: ${cause}` : 'invocation complete', logFields(summary));
  if (cause) throw new DeliveryFailure(cause, summary);
  return summary;
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
