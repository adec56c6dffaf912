/**
 * TRANSFORM: the Prometheus families of one target -> OCI MetricDataDetails objects. Pure: no I/O,
 * no clock, no environment. The rules are README's "Mapping: Prometheus -> OCI" table; the steps
 * and their order are in docs/ARCHITECTURE.md. Every sample line ends as exactly one metric or one
 * skip with a reason: sum(sample lines) == metrics.length - derivedCount + skipped.length; a
 * derived series that is not produced is counted in notDerived, never skipped.
 */
import type { MetricFamily, OciMetric, SkippedSample, SkipReason, TargetContext, TransformOptions, TransformResult } from '../types/model';
import { countNotDerived, deriveTarget, type DerivedLine, type NotDerivedCounts } from './derive';
import { buildDimensions, targetDimensions } from './dimensions';
import { filterByExclude, filterByInclude, filterHistogramBuckets } from './filters';
import { OCI_LIMITS } from './limits';
import { metadataFor } from './metadata';
import { sanitizeMetricName } from './names';
import { expandFamily, skippedSample, type Line, type SampleLine } from './samples';
import { mayShareSelfMetricStream, selfDimensions } from './selfMetrics';
import { datapointTimestampMs } from './timestamps';

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

/** True when two dimension sets are equal (key order aside). */
function sameDimensions(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && b[k] === a[k]);
}

/** A rejection of a sample line. */
function reject(line: SampleLine, reason: SkipReason): Rejected {
  return { kind: 'skip', skip: skippedSample(line, reason) };
}

/** Maps one sample line: checks name, value, timestamp, dimensions, then a clash with a self-metric. */
function mapSample(ctx: MappingContext, line: SampleLine): Mapped {
  // Name: injective `:` -> `.` and `prom$` prefix (names.ts); not a Prometheus name or too long once mapped.
  const name = ociName(ctx, line.metricName);
  if (name === undefined) return reject(line, 'invalid_metric_name');
  // Value: OCI takes finite numbers only (the SDK would send null).
  if (!Number.isFinite(line.value)) return reject(line, 'non_finite_value');
  // Time: the line's own timestamp inside OCI's window with margins, else the scrape time; never moved.
  const timestampMs = datapointTimestampMs(line.timestampMs, ctx.scrapeTimeMs);
  if (timestampMs === undefined) return reject(line, 'timestamp_out_of_window');
  // Dimensions: labels without empty values, plus instance, EXTRA_DIMENSIONS, le/quantile (dimensions.ts).
  const dims = buildDimensions(line.labels, addedDimensionsFor(ctx, line));
  if (!dims.ok) return reject(line, dims.reason);
  // A stream never carries two meanings: an exposition `up` on the self-metric's own stream is skipped.
  if (mayShareSelfMetricStream(name, dims.dimensions, ctx.selfDimensions)) return reject(line, 'self_metric_collision');
  return candidate(ctx, line, name, dims.dimensions, line.value, timestampMs);
}

/** Maps a derived line; it yields nothing (not a skip) when its name or dimensions are invalid. */
function mapDerived(ctx: MappingContext, line: DerivedLine): Mapped {
  const name = ociName(ctx, line.metricName);
  const timestampMs = datapointTimestampMs(line.timestampMs, ctx.scrapeTimeMs);
  if (name === undefined || timestampMs === undefined || !Number.isFinite(line.value)) return { kind: 'none' };
  const dims = buildDimensions(line.labels, addedDimensionsFor(ctx, line));
  if (!dims.ok || mayShareSelfMetricStream(name, dims.dimensions, ctx.selfDimensions)) return { kind: 'none' };
  return candidate(ctx, line, name, dims.dimensions, line.value, timestampMs);
}

/** Maps one line to a candidate metric, a skip, or nothing. */
function mapLine(ctx: MappingContext, line: Line): Mapped {
  return line.kind === 'sample' ? mapSample(ctx, line) : mapDerived(ctx, line);
}

/** FNV-1a over a string, continuing from `hash` (32-bit). */
function fnv1a(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}

/** A 32-bit hash of a stream's identity (name + dimensions in key order); equal streams hash equally. */
function streamHash(metric: OciMetric): number {
  let h = fnv1a(0x811c9dc5, metric.name);
  const dims = metric.dimensions;
  // The separators (code units 0 and 1) keep "ab"+"c" apart from "a"+"bc"; collisions are resolved by comparison.
  for (const key of Object.keys(dims)) h = fnv1a(fnv1a(h ^ 1, key) ^ 2, dims[key]);
  return h;
}

/** True when two metrics are the same OCI stream: same name and equal dimensions. */
function sameStream(a: OciMetric, b: OciMetric): boolean {
  return a.name === b.name && sameDimensions(a.dimensions, b.dimensions);
}

/**
 * A set of streams keyed by a hash of name + dimensions, with exact comparison on collision. It
 * holds the metrics themselves rather than a serialised key per stream: on 100k series that is
 * tens of MB less at the transform's memory peak.
 */
class StreamSet {
  private readonly byHash = new Map<number, OciMetric | OciMetric[]>();

  /** True when a metric with the same stream was added. */
  has(metric: OciMetric): boolean {
    const found = this.byHash.get(streamHash(metric));
    if (found === undefined) return false;
    return Array.isArray(found) ? found.some((m) => sameStream(m, metric)) : sameStream(found, metric);
  }

  /** Adds a metric's stream (the caller checked has() first). */
  add(metric: OciMetric): void {
    const hash = streamHash(metric);
    const found = this.byHash.get(hash);
    if (found === undefined) this.byHash.set(hash, metric);
    else if (Array.isArray(found)) found.push(metric);
    else this.byHash.set(hash, [found, metric]);
  }
}

/** The state of one transform run: mapped metrics in order, skips in order, and the streams seen. */
interface Resolution {
  /** Metrics in exposition order; derived ones are still candidates (see resolveDerived). */
  ordered: OciMetric[];
  /** Indexes in `ordered` of derived `_avg` candidates. */
  derivedAt: number[];
  /** Skips of steps 5-6, in exposition order. */
  skipped: SkippedSample[];
  /** Streams of the posted samples. */
  sampleStreams: StreamSet;
  /** Dimension keys used per metric name (OCI's metric group), over everything posted. */
  groups: MetricGroups;
  /** Derived series not produced, by reason. */
  notDerived: NotDerivedCounts;
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

/**
 * Takes one mapped line: a sample whose stream was already posted is skipped as
 * 'duplicate_series'; a derived series waits for resolveDerived (it must not clash with any sample,
 * including later ones).
 */
function admit(res: Resolution, mapped: Mapped): void {
  if (mapped.kind === 'skip') {
    res.skipped.push(mapped.skip);
    return;
  }
  if (mapped.kind !== 'metric') {
    countNotDerived(res.notDerived, 'invalid_series');
    return;
  }
  if (mapped.sample === undefined) {
    res.derivedAt.push(res.ordered.length);
    res.ordered.push(mapped.metric);
    return;
  }
  if (res.sampleStreams.has(mapped.metric)) {
    res.skipped.push(skippedSample(mapped.sample, 'duplicate_series'));
    return;
  }
  if (!res.groups.fits(mapped.metric)) {
    res.skipped.push(skippedSample(mapped.sample, 'too_many_dimensions'));
    return;
  }
  res.groups.add(mapped.metric);
  res.sampleStreams.add(mapped.metric);
  res.ordered.push(mapped.metric);
}

/**
 * The final metrics, in order: a derived series that clashes with any posted sample, or an earlier
 * derived one, or would take its metric group over 20 dimension keys, is left out.
 */
function resolveDerived(res: Resolution): { metrics: OciMetric[]; derivedCount: number } {
  if (res.derivedAt.length === 0) return { metrics: res.ordered, derivedCount: 0 };
  const dropped = new Set<number>();
  const derivedStreams = new StreamSet();
  for (const i of res.derivedAt) {
    const m = res.ordered[i];
    if (res.sampleStreams.has(m) || derivedStreams.has(m)) {
      dropped.add(i);
      countNotDerived(res.notDerived, 'duplicate_series');
    } else if (!res.groups.fits(m)) {
      // More than 20 dimension keys over the streams of its name: OCI would reject it.
      dropped.add(i);
      countNotDerived(res.notDerived, 'invalid_series');
    } else {
      derivedStreams.add(m);
      res.groups.add(m);
    }
  }
  const metrics = dropped.size === 0 ? res.ordered : res.ordered.filter((_m, i) => !dropped.has(i));
  return { metrics, derivedCount: res.derivedAt.length - dropped.size };
}

/** Transforms one target's families into OCI metrics, accounting for every sample. */
export function toOciMetrics(families: MetricFamily[], target: TargetContext, opts: TransformOptions): TransformResult {
  // METRICS_INCLUDE, then METRICS_EXCLUDE, on the family name: every sample of a dropped family is skipped.
  const included = filterByInclude(families, opts.include);
  const notExcluded = filterByExclude(included.kept, opts.exclude);
  const ctx: MappingContext = {
    opts,
    scrapeTimeMs: target.scrapeTimeMs,
    added: targetDimensions(target.instance, opts.extraDimensions, target.dimensions),
    addedByStructural: new Map(),
    names: new Map(),
    metadata: new Map(),
    selfDimensions: selfDimensions(target.instance, opts.extraDimensions, target.dimensions),
  };
  const res: Resolution = { ordered: [], derivedAt: [], skipped: [], sampleStreams: new StreamSet(), groups: new MetricGroups(), notDerived: {} };
  const derivation = opts.derive ? deriveTarget(notExcluded.kept, target.previous, target.scrapeTimeMs, opts.derive) : undefined;
  if (derivation) res.notDerived = derivation.notDerived;
  const bucketSkips: SkippedSample[] = [];
  // One family at a time: its lines and mapping results are garbage before the next one is expanded.
  for (const family of notExcluded.kept) {
    // HISTOGRAM_BUCKETS=false: every `_bucket` line is skipped before mapping.
    const lines = filterHistogramBuckets(expandFamily(family), opts.histogramBuckets);
    for (const skip of lines.skipped) bucketSkips.push(skip);
    for (const line of lines.kept) admit(res, mapLine(ctx, line));
    for (const line of derivation?.byFamily.get(family) ?? []) admit(res, mapLine(ctx, line));
  }
  const resolved = resolveDerived(res);
  return {
    metrics: resolved.metrics,
    derivedCount: resolved.derivedCount,
    notDerived: res.notDerived,
    ...(derivation?.state ? { state: derivation.state } : {}),
    skipped: [...included.skipped, ...notExcluded.skipped, ...bucketSkips, ...res.skipped],
  };
}
