/**
 * TRANSFORM: the Prometheus families of one target -> OCI MetricDataDetails objects, handed out in
 * batches as the publisher asks for them (TargetTransform). Pure: no I/O, no clock, no environment.
 * The rules are docs/mapping.md's table; the steps and their order are in
 * docs/ARCHITECTURE.md. Every sample line ends as exactly one metric or one skip with a reason:
 * sample lines == series - derivedCount + skipped; a derived series that is not produced is counted
 * in notDerived, never skipped.
 */
import type { JobSampleRules, Labels, MetricFamily, OciMetric, SkippedSample, SkipReason, TargetContext, TransformOptions } from '../types/model';
import { jobSampleLabels } from './jobLabels';
import type { TargetState } from '../types/state';
import type { NotDerivedCounts } from '../types/state';
import { countNotDerived, deriveTarget, type DerivedLine } from './derive';
import { buildDimensions, targetDimensions } from './dimensions';
import { filterByExclude, filterByInclude, filterHistogramBuckets } from './filters';
import { OCI_LIMITS } from './limits';
import { metadataFor } from './metadata';
import { sanitizeMetricName } from './names';
import { expandFamily, skippedSample, type Line, type SampleLine } from './samples';
import { mayShareSelfMetricStream, selfDimensions } from './selfMetrics';
import { datapointTimestampMs } from './timestamps';
import { StreamKeys } from './streams';

/** A line that mapped to an OCI metric. */
interface Candidate {
  kind: 'metric';
  metric: OciMetric;
  /** The sample line it came from; undefined for a derived `_avg` series. */
  sample?: SampleLine;
}

/** A sample line that cannot be posted. */
interface Rejected {
  kind: 'skip';
  skip: SkippedSample;
}

/** Outcome of mapping one line; 'none' is a derived line whose name or dimensions are invalid (not a skip). */
type Mapped = Candidate | Rejected | { kind: 'none' };

/** Everything a line's mapping needs that is the same for every line of the target. */
interface MappingContext {
  opts: TransformOptions;
  scrapeTimeMs: number;
  /** instance + extra dimensions, computed once per target. */
  added: Record<string, string>;
  /** `added` plus one `le`/`quantile` value, by "key\0value" (read-only, shared by the lines of that bound). */
  addedByStructural: Map<string, Record<string, string>>;
  /** sanitizeMetricName results, memoised per call (names repeat across series). */
  names: Map<string, string | undefined>;
  /** metadataFor results by HELP text: one shared (never mutated) object per family, not per metric. */
  metadata: Map<string, Record<string, string> | undefined>;
  /** The Date of the last timestamp used: almost every datapoint of a target shares the scrape time. */
  lastDate?: Date;
  /** The dimensions of this target's self-metrics (`up`, `scrape_*`). */
  selfDimensions: Record<string, string>;
  /** A Prometheus job's rules (SCRAPE_CONFIG): the labels come from them, nothing is added after. */
  job?: JobSampleRules;
}

const NOTHING_ADDED: Record<string, string> = Object.freeze({});

/** A line's name and labels: a job's rules applied, or as exposed; undefined when metric_relabel_configs drop it. */
function labelled(ctx: MappingContext, line: Line): { name: string; labels: Labels; added: Record<string, string> } | undefined {
  if (!ctx.job) return { name: line.metricName, labels: line.labels, added: addedDimensionsFor(ctx, line) };
  const out = jobSampleLabels(ctx.job, line.metricName, line.labels, line.kind === 'sample' ? line.structural : undefined);
  return out && { ...out, added: NOTHING_ADDED };
}

/** sanitizeMetricName, memoised in the context. */
function ociName(ctx: MappingContext, name: string): string | undefined {
  if (!ctx.names.has(name)) ctx.names.set(name, sanitizeMetricName(name));
  return ctx.names.get(name);
}

/** Bound of MappingContext.addedByStructural (bucket bounds and quantiles are few in practice). */
const ADDED_BY_STRUCTURAL_MAX = 1000;

/** The dimensions added to a line: the target's, plus `le`/`quantile` (which win); one shared object per bound. */
function addedDimensionsFor(ctx: MappingContext, line: Line): Record<string, string> {
  if (line.kind === 'derived' || line.structural === undefined) return ctx.added;
  const id = `${line.structural.key}\u0000${line.structural.value}`;
  let added = ctx.addedByStructural.get(id);
  if (added === undefined) {
    added = { ...ctx.added, [line.structural.key]: line.structural.value };
    if (ctx.addedByStructural.size >= ADDED_BY_STRUCTURAL_MAX) ctx.addedByStructural.clear();
    ctx.addedByStructural.set(id, added);
  }
  return added;
}

/** metadataFor, memoised in the context. */
function metadataOf(ctx: MappingContext, help: string): Record<string, string> | undefined {
  if (!ctx.metadata.has(help)) ctx.metadata.set(help, metadataFor(help));
  return ctx.metadata.get(help);
}

/** A Date for timestampMs, reusing the previous one when equal (datapoint Dates are never mutated). */
function dateOf(ctx: MappingContext, timestampMs: number): Date {
  if (ctx.lastDate === undefined || ctx.lastDate.getTime() !== timestampMs) ctx.lastDate = new Date(timestampMs);
  return ctx.lastDate;
}

/** One OCI MetricDataDetails object with a single datapoint. */
function ociMetric(ctx: MappingContext, name: string, dimensions: Record<string, string>, help: string, value: number, timestampMs: number): OciMetric {
  const { namespace, compartmentId, resourceGroup } = ctx.opts;
  const metadata = metadataOf(ctx, help);
  // Built with a fixed field order (no spreads): one object shape for all, cheap to create and serialise.
  const metric: OciMetric = { namespace, compartmentId, name, dimensions, datapoints: [{ timestamp: dateOf(ctx, timestampMs), value }] };
  if (resourceGroup) metric.resourceGroup = resourceGroup;
  if (metadata) metric.metadata = metadata;
  return metric;
}

/** A candidate for the given name, dimensions, value and datapoint time. */
function candidate(ctx: MappingContext, line: Line, name: string, dimensions: Record<string, string>, value: number, timestampMs: number): Candidate {
  const metric = ociMetric(ctx, name, dimensions, line.help, value, timestampMs);
  return line.kind === 'sample' ? { kind: 'metric', metric, sample: line } : { kind: 'metric', metric };
}

/** A rejection of a sample line. */
function reject(line: SampleLine, reason: SkipReason): Rejected {
  return { kind: 'skip', skip: skippedSample(line, reason) };
}

/** Maps one sample line: checks name, value, timestamp, dimensions, then a clash with a self-metric. */
function mapSample(ctx: MappingContext, line: SampleLine): Mapped {
  // A job's target: its labels merged by honor_labels, then metric_relabel_configs (jobLabels.ts).
  const l = labelled(ctx, line);
  if (l === undefined) return reject(line, 'dropped_by_metric_relabel');
  // Name: injective `:` -> `.` and `prom$` prefix (names.ts); not a Prometheus name or too long once mapped.
  const name = ociName(ctx, l.name);
  if (name === undefined) return reject(line, 'invalid_metric_name');
  // Value: OCI takes finite numbers only (the SDK would send null).
  if (!Number.isFinite(line.value)) return reject(line, 'non_finite_value');
  // Time: the line's own timestamp inside OCI's window with margins, else the scrape time; never moved.
  const timestampMs = datapointTimestampMs(ctx.job?.honorTimestamps === false ? undefined : line.timestampMs, ctx.scrapeTimeMs);
  if (timestampMs === undefined) return reject(line, 'timestamp_out_of_window');
  // Dimensions: labels without empty values, plus instance, EXTRA_DIMENSIONS, le/quantile (dimensions.ts).
  const dims = buildDimensions(l.labels, l.added);
  if (!dims.ok) return reject(line, dims.reason);
  // A stream never carries two meanings: an exposition `up` on the self-metric's own stream is skipped.
  if (mayShareSelfMetricStream(name, dims.dimensions, ctx.selfDimensions)) return reject(line, 'self_metric_collision');
  return candidate(ctx, line, name, dims.dimensions, line.value, timestampMs);
}

/** Maps a derived line; it yields nothing (not a skip) when its name or dimensions are invalid. */
function mapDerived(ctx: MappingContext, line: DerivedLine): Mapped {
  // A job's metric_relabel_configs see a derived series under its own name (`x_rate`).
  const l = labelled(ctx, line);
  if (l === undefined) return { kind: 'none' };
  const name = ociName(ctx, l.name);
  const timestampMs = datapointTimestampMs(ctx.job?.honorTimestamps === false ? undefined : line.timestampMs, ctx.scrapeTimeMs);
  if (name === undefined || timestampMs === undefined || !Number.isFinite(line.value)) return { kind: 'none' };
  const dims = buildDimensions(l.labels, l.added);
  if (!dims.ok || mayShareSelfMetricStream(name, dims.dimensions, ctx.selfDimensions)) return { kind: 'none' };
  return candidate(ctx, line, name, dims.dimensions, line.value, timestampMs);
}

/**
 * OCI allows 20 "dimensions per metric group" (a metric name in a namespace and tenancy). Read in
 * the way that can never be rejected: the distinct dimension keys over all streams of one name,
 * not only the keys of one stream. Tracks those keys per name, first come first served.
 */
class MetricGroups {
  private readonly keysByName = new Map<string, Set<string>>();

  /** True when the metric's keys, added to its name's keys, stay within the limit. */
  fits(metric: OciMetric): boolean {
    const known = this.keysByName.get(metric.name);
    if (known === undefined) return true;
    let total = known.size;
    for (const key in metric.dimensions) if (!known.has(key)) total++;
    return total <= OCI_LIMITS.maxDimensions;
  }

  /** Records the metric's keys under its name (the caller checked fits() first). */
  add(metric: OciMetric): void {
    let known = this.keysByName.get(metric.name);
    if (known === undefined) this.keysByName.set(metric.name, (known = new Set()));
    for (const key in metric.dimensions) known.add(key);
  }
}

/** A derived line waiting for the end of the target, with the index of its family. */
interface PendingDerived {
  line: DerivedLine;
  family: number;
}

/**
 * One target's transform, pulled in batches: each next() maps only as many families as the batch
 * needs, so the OCI metrics of a target never exist all at once (the publisher asks for a batch
 * when it can send it). What is kept across batches is what the rules need: the streams taken
 * (duplicates, compact keys), the dimension keys per metric name (OCI's metric group) and the
 * derived lines, which are resolved after every sample of the target because a derived series
 * must not clash with any sample, later ones included. A family is dropped once it is expanded.
 * The derived series come after all samples of the target; a dry run (keepOrder, drainInOrder)
 * lists each family's derived series after its samples instead.
 */
export class TargetTransform {
  /** Series handed out so far (samples mapped + derived); final once next() returned undefined. */
  series = 0;
  /** Of `series`, the derived ones. */
  derivedCount = 0;
  /** Derived series not produced, by reason (final once next() returned undefined). */
  readonly notDerived: NotDerivedCounts;
  /** This scrape's state for the next invocation (known from the start). */
  readonly state?: TargetState;
  /** Skips of METRICS_INCLUDE/EXCLUDE (known from the start). */
  private readonly filterSkips: SkippedSample[];
  private readonly bucketSkips: SkippedSample[] = [];
  private readonly mappingSkips: SkippedSample[] = [];
  private readonly ctx: MappingContext;
  private readonly families: (MetricFamily | undefined)[];
  private readonly derivedByFamily?: Map<MetricFamily, DerivedLine[]>;
  private readonly inSpool: TargetContext['inSpool'];
  private readonly sampleStreams = new StreamKeys();
  private readonly groups = new MetricGroups();
  private readonly derived: PendingDerived[] = [];
  private derivedStreams?: Set<string>;
  private nextFamily = 0;
  private lines: Line[] = [];
  private nextLine = 0;
  private nextDerived = 0;
  /** The family index of each metric handed out, when the caller restores the family order (drainInOrder). */
  readonly emittedFamilies?: number[];

  constructor(families: MetricFamily[], target: TargetContext, opts: TransformOptions, keepOrder = false) {
    this.inSpool = target.inSpool;
    // METRICS_INCLUDE, then METRICS_EXCLUDE, on the family name: every sample of a dropped family is skipped.
    const included = filterByInclude(families, opts.include);
    const notExcluded = filterByExclude(included.kept, opts.exclude);
    this.filterSkips = included.skipped.length === 0 ? notExcluded.skipped : [...included.skipped, ...notExcluded.skipped];
    this.families = notExcluded.kept;
    this.ctx = {
      opts,
      scrapeTimeMs: target.scrapeTimeMs,
      added: targetDimensions(target.instance, opts.extraDimensions, target.dimensions),
      addedByStructural: new Map(),
      names: new Map(),
      metadata: new Map(),
      selfDimensions: selfDimensions(target.instance, opts.extraDimensions, target.dimensions, opts.shard),
      ...(target.job ? { job: target.job } : {}),
    };
    const derivation = opts.derive ? deriveTarget(notExcluded.kept, target.previous, target.scrapeTimeMs, opts.derive) : undefined;
    this.notDerived = derivation?.notDerived ?? {};
    if (derivation?.state) this.state = derivation.state;
    if (derivation && derivation.byFamily.size > 0) this.derivedByFamily = derivation.byFamily;
    if (keepOrder) this.emittedFamilies = [];
  }

  /** Every skipped sample so far: the filters', then the bucket switch's, then the mapping's. */
  get skipped(): SkippedSample[] {
    return [...this.filterSkips, ...this.bucketSkips, ...this.mappingSkips];
  }

  /** Number of skipped samples so far. */
  get skippedCount(): number {
    return this.filterSkips.length + this.bucketSkips.length + this.mappingSkips.length;
  }

  /** The next batch of at most `max` metrics; undefined when the target has no more. */
  next(max: number = OCI_LIMITS.maxStreamsPerCall): OciMetric[] | undefined {
    const out: OciMetric[] = [];
    while (out.length < max) {
      const metric = this.nextMetric();
      if (metric === undefined) break;
      out.push(metric);
    }
    return out.length > 0 ? out : undefined;
  }

  /** The next metric to hand out, mapping lines (and skipping) until one is admitted. */
  private nextMetric(): OciMetric | undefined {
    for (;;) {
      if (this.nextLine < this.lines.length) {
        const line = this.lines[this.nextLine++];
        if (line.kind === 'derived') continue;
        const mapped = mapSample(this.ctx, line);
        if (mapped.kind === 'skip') this.mappingSkips.push(mapped.skip);
        else if (mapped.kind === 'metric' && this.admitSample(mapped.metric, line)) return this.emit(mapped.metric, this.nextFamily - 1);
        continue;
      }
      if (this.nextFamily < this.families.length) {
        this.expandNextFamily();
        continue;
      }
      return this.nextDerivedMetric();
    }
  }

  /** Loads the next family's lines (its derived lines wait for the end); the family itself is released. */
  private expandNextFamily(): void {
    const index = this.nextFamily++;
    const family = this.families[index]!;
    this.families[index] = undefined;
    // HISTOGRAM_BUCKETS=false: every `_bucket` line is skipped before mapping.
    const lines = filterHistogramBuckets(expandFamily(family), this.ctx.opts.histogramBuckets);
    for (const skip of lines.skipped) this.bucketSkips.push(skip);
    this.lines = lines.kept;
    this.nextLine = 0;
    const derived = this.derivedByFamily?.get(family);
    if (derived) {
      this.derivedByFamily!.delete(family);
      for (const line of derived) this.derived.push({ line, family: index });
    }
  }

  /**
   * A sample whose stream was already taken is skipped as 'duplicate_series', one that breaks its
   * metric group as 'too_many_dimensions', one whose datapoint is pending in the spool as 'in_spool'.
   */
  private admitSample(metric: OciMetric, line: SampleLine): boolean {
    const key = this.sampleStreams.key(metric);
    if (this.sampleStreams.has(key)) {
      this.mappingSkips.push(skippedSample(line, 'duplicate_series'));
      return false;
    }
    if (!this.groups.fits(metric)) {
      this.mappingSkips.push(skippedSample(line, 'too_many_dimensions'));
      return false;
    }
    this.groups.add(metric);
    this.sampleStreams.add(key);
    // The same datapoint (stream and own timestamp) waits in the outage spool, which delivers it: never both.
    if (this.inSpool?.(metric)) {
      this.mappingSkips.push(skippedSample(line, 'in_spool'));
      return false;
    }
    return true;
  }

  /**
   * After every sample: the next derived series that clashes with no sample and no earlier derived
   * series and keeps its metric group within 20 dimension keys; the others are counted in notDerived.
   */
  private nextDerivedMetric(): OciMetric | undefined {
    this.derivedStreams ??= new Set();
    while (this.nextDerived < this.derived.length) {
      const { line, family } = this.derived[this.nextDerived];
      this.derived[this.nextDerived++] = undefined as unknown as PendingDerived;
      const mapped = mapDerived(this.ctx, line);
      if (mapped.kind !== 'metric') {
        countNotDerived(this.notDerived, 'invalid_series');
        continue;
      }
      const key = this.sampleStreams.key(mapped.metric);
      if (this.sampleStreams.has(key) || this.derivedStreams.has(key)) {
        countNotDerived(this.notDerived, 'duplicate_series');
      } else if (!this.groups.fits(mapped.metric)) {
        // More than 20 dimension keys over the streams of its name: OCI would reject it.
        countNotDerived(this.notDerived, 'invalid_series');
      } else {
        this.derivedStreams.add(key);
        this.groups.add(mapped.metric);
        this.derivedCount++;
        return this.emit(mapped.metric, family);
      }
    }
    this.derived.length = 0;
    return undefined;
  }

  /** Counts a metric handed out. */
  private emit(metric: OciMetric, family: number): OciMetric {
    this.series++;
    this.emittedFamilies?.push(family);
    return metric;
  }
}

/** Every metric of a transform made with keepOrder, each family's derived series right after its samples. */
export function drainInOrder(transform: TargetTransform): OciMetric[] {
  const all: OciMetric[] = [];
  for (let batch = transform.next(); batch; batch = transform.next()) for (const m of batch) all.push(m);
  // The samples come first, then the derived series, each in family order: merged back by family.
  const at = transform.emittedFamilies;
  if (at === undefined) throw new Error('drainInOrder needs a transform made with keepOrder');
  const samples = all.length - transform.derivedCount;
  const metrics: OciMetric[] = [];
  let d = samples;
  for (let s = 0; s < samples; s++) {
    while (d < all.length && at[d] < at[s]) metrics.push(all[d++]);
    metrics.push(all[s]);
  }
  while (d < all.length) metrics.push(all[d++]);
  return metrics;
}
