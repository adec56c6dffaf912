/**
 * The cardinality report of a dry run: per job, the metric names with the most OCI metric streams
 * and, for each, the labels (dimensions) with the most distinct values and what each one costs.
 * Modelled on Prometheus' TSDB status page (/api/v1/status/tsdb: seriesCountByMetricName,
 * labelValueCountByLabelName), computed from the streams the dry run would post. Pure: no I/O.
 *
 * Definitions (docs/cost.md repeats them for users):
 * - a stream is one metric object the dry run would post: a distinct name + dimension set after
 *   the mapping (the transform has already de-duplicated a target's streams);
 * - a family is one OCI metric name (as on Prometheus' page, a histogram's `_bucket`, `_sum` and
 *   `_count` are three);
 * - a label's `mergedStreams` is how many of the family's streams would merge away if the label
 *   were dropped: streams - distinct streams with that dimension removed (the merged ones would be
 *   skipped as `duplicate_series`: a dropped label never sums values);
 * - its `shareOfFamily` is mergedStreams / the family's streams, `shareOfStreams` mergedStreams /
 *   every stream of the invocation (self-metrics included, as in the forecast);
 * - its `monthlyCost` is the forecast's monthly cost now minus the cost with those streams gone
 *   (so the free allowance is taken into account), `shareOfMonthlyCost` that over the cost now.
 *
 * Bounded memory, whatever the exposition: two passes over the streams. The first counts streams
 * per name with a Misra-Gries summary of at most `trackedFamilies` counters per job (exact while a
 * job has no more names than that; beyond, every name with more than streams/trackedFamilies
 * streams is still found). The second recounts the top names exactly and, per label, counts
 * distinct values and distinct streams-without-the-label with k-minimum-values sketches of at most
 * 2 x `sketchSize` hashes each: exact up to `sketchSize` distinct items, an estimate (about
 * 1/sqrt(sketchSize) relative error) beyond, flagged `approximate`.
 */
import { monthlyCostOf } from './forecast';

/** The streams of one target, with the job it belongs to ('' = the implicit job of settings-only configuration). */
export interface StreamGroup {
  job: string;
  streams: readonly { name: string; dimensions: Record<string, string> }[];
}

/** What a stream costs: the forecast's inputs. */
interface CostModel {
  /** Every stream the invocation posts (data + self-metrics): the forecast's metricStreams. */
  totalStreams: number;
  pricePerMillionDatapoints?: number;
  freeDatapointsPerMonth: number;
}

interface CardinalityOptions {
  /** Names reported per job (Prometheus' page: 10). */
  topFamilies: number;
  /** Labels reported per name. */
  topLabels: number;
  /** Names counted per job in the first pass. */
  trackedFamilies: number;
  /** Distinct items a sketch counts exactly. */
  sketchSize: number;
}

const CARDINALITY_DEFAULTS: CardinalityOptions = { topFamilies: 10, topLabels: 10, trackedFamilies: 10_000, sketchSize: 256 };

/** Labels of one name beyond this many are not counted (OCI allows 20 dimensions per metric name). */
const MAX_LABELS_PER_FAMILY = 64;

interface LabelCardinality {
  label: string;
  /** Distinct values over the family's streams. */
  values: number;
  /** Streams of the family that carry the label. */
  streams: number;
  /** Streams that would merge away if the label were dropped. */
  mergedStreams: number;
  shareOfFamily: number;
  shareOfStreams: number;
  /** What those streams cost a month; absent when no price is configured. */
  monthlyCost?: number;
  shareOfMonthlyCost?: number;
  /** Set when a count is a sketch's estimate. */
  approximate?: true;
}

interface FamilyCardinality {
  name: string;
  streams: number;
  shareOfStreams: number;
  monthlyCost?: number;
  shareOfMonthlyCost?: number;
  labels: LabelCardinality[];
  approximate?: true;
}

interface JobCardinality {
  /** The Prometheus job; '' = the implicit job (settings-only configuration). */
  job: string;
  streams: number;
  shareOfStreams: number;
  monthlyCost?: number;
  shareOfMonthlyCost?: number;
  /** Distinct names seen (an upper bound when `approximate`: a name counted out and seen again counts twice). */
  families: number;
  top: FamilyCardinality[];
  /** Set when the job had more names than were counted one by one. */
  approximate?: true;
}

export interface CardinalityReport {
  /** The streams the shares are of (the forecast's metricStreams). */
  totalStreams: number;
  monthlyCost?: number;
  jobs: JobCardinality[];
}

/** 2^52: stream hashes are sums of pair hashes modulo this (exact in a double). */
const HASH_SPACE = 2 ** 52;

/** A 52-bit string hash (cyrb53, two 32-bit lanes). */
function hash52(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 >>> 0) * 2 ** 20 + ((h1 >>> 0) & 0xfffff);
}

/**
 * Counts distinct hashes (k minimum values): every hash while there are at most k, then the k
 * smallest, from which the count is estimated. Holds at most 2k + 1 hashes.
 */
class DistinctSketch {
  private hashes = new Set<number>();
  private cut = Infinity;
  private saturated = false;

  constructor(private readonly k: number) {}

  add(h: number): void {
    if (h >= this.cut || this.hashes.has(h)) return;
    this.hashes.add(h);
    if (this.hashes.size > 2 * this.k) this.shrink();
  }

  /** The distinct count, exact unless `approximate`. */
  count(): { n: number; approximate: boolean } {
    if (!this.saturated && this.hashes.size <= this.k) return { n: this.hashes.size, approximate: false };
    this.shrink();
    return { n: Math.round(((this.k - 1) * HASH_SPACE) / (this.cut + 1)), approximate: true };
  }

  /** Keeps the k smallest hashes. */
  private shrink(): void {
    const kept = [...this.hashes].sort((a, b) => a - b).slice(0, this.k);
    this.hashes = new Set(kept);
    this.cut = kept[kept.length - 1];
    this.saturated = true;
  }
}

/** Per-name stream counts of one job: exact up to `capacity` names, Misra-Gries beyond. */
class NameCounts {
  readonly counts = new Map<string, number>();
  total = 0;
  /** Names ever seen while exact, or a lower bound once counters were decremented. */
  seen = 0;
  decremented = false;

  constructor(private readonly capacity: number) {}

  add(name: string): void {
    this.total++;
    const n = this.counts.get(name);
    if (n !== undefined) {
      this.counts.set(name, n + 1);
      return;
    }
    this.seen++;
    if (this.counts.size < this.capacity) {
      this.counts.set(name, 1);
      return;
    }
    // Full: the newcomer and every counter lose one (amortised O(1): decrements never exceed additions).
    this.decremented = true;
    for (const [k, v] of this.counts) {
      if (v <= 1) this.counts.delete(k);
      else this.counts.set(k, v - 1);
    }
  }

  /** The names with the highest counts. */
  top(n: number): string[] {
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, n)
      .map(([k]) => k);
  }
}

/** One label of a top name: its values and the streams without it. */
interface LabelCounts {
  streams: number;
  values: DistinctSketch;
  withoutIt: DistinctSketch;
}

/** The second pass's counts for one top name. */
class FamilyCounts {
  streams = 0;
  readonly labels = new Map<string, LabelCounts>();
  overflow = false;

  constructor(private readonly sketchSize: number) {}

  add(dimensions: Record<string, string>): void {
    this.streams++;
    // A stream's hash is the sum of its pairs' hashes: removing one label is a subtraction.
    const keys: string[] = [];
    const pairs: number[] = [];
    let all = 0;
    for (const key in dimensions) {
      const value = dimensions[key];
      const h = hash52(`${key}\u0000${value}`);
      keys.push(key);
      pairs.push(h);
      all = (all + h) % HASH_SPACE;
    }
    for (let i = 0; i < keys.length; i++) {
      const c = this.label(keys[i]);
      if (c === undefined) continue;
      c.streams++;
      c.values.add(hash52(dimensions[keys[i]]));
      c.withoutIt.add((all - pairs[i] + HASH_SPACE) % HASH_SPACE);
    }
  }

  private label(key: string): LabelCounts | undefined {
    let c = this.labels.get(key);
    if (c === undefined) {
      if (this.labels.size >= MAX_LABELS_PER_FAMILY) {
        this.overflow = true;
        return undefined;
      }
      c = { streams: 0, values: new DistinctSketch(this.sketchSize), withoutIt: new DistinctSketch(this.sketchSize) };
      this.labels.set(key, c);
    }
    return c;
  }
}

/** Rounds a share to 4 decimals. */
function share(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : 0;
}

/** The monthly cost `streams` drive out of the total, and its share of the total cost; {} without a price. */
function costOf(streams: number, cost: CostModel): { monthlyCost?: number; shareOfMonthlyCost?: number } {
  const price = cost.pricePerMillionDatapoints;
  if (price === undefined) return {};
  const now = monthlyCostOf(cost.totalStreams, price, cost.freeDatapointsPerMonth);
  const saved = Math.round((now - monthlyCostOf(Math.max(0, cost.totalStreams - streams), price, cost.freeDatapointsPerMonth)) * 10_000) / 10_000;
  return { monthlyCost: saved, shareOfMonthlyCost: share(saved, now) };
}

/**
 * Streams merged away by dropping a label, from the sketches: streams - distinct streams without
 * it, never more than a label of `values` values (plus absent) can merge: streams - streams/values.
 */
function mergedBy(familyStreams: number, c: LabelCounts): { merged: number; values: number; approximate: boolean } {
  const values = c.values.count();
  const without = c.withoutIt.count();
  let merged = Math.max(0, familyStreams - Math.min(familyStreams, without.n));
  if (!values.approximate) {
    const classes = values.n + (c.streams < familyStreams ? 1 : 0);
    merged = Math.min(merged, familyStreams - Math.ceil(familyStreams / classes));
  }
  return { merged, values: values.n, approximate: values.approximate || without.approximate };
}

/** One top name's entry. */
function familyEntry(name: string, f: FamilyCounts, cost: CostModel, topLabels: number): FamilyCardinality {
  const labels = [...f.labels.entries()].map(([label, c]): LabelCardinality => {
    const m = mergedBy(f.streams, c);
    return {
      label,
      values: m.values,
      streams: c.streams,
      mergedStreams: m.merged,
      shareOfFamily: share(m.merged, f.streams),
      shareOfStreams: share(m.merged, cost.totalStreams),
      ...costOf(m.merged, cost),
      ...(m.approximate ? { approximate: true as const } : {}),
    };
  });
  labels.sort((a, b) => b.values - a.values || b.mergedStreams - a.mergedStreams || (a.label < b.label ? -1 : 1));
  const approximate = f.overflow || labels.some((l) => l.approximate);
  return {
    name,
    streams: f.streams,
    shareOfStreams: share(f.streams, cost.totalStreams),
    ...costOf(f.streams, cost),
    labels: labels.slice(0, topLabels),
    ...(approximate ? { approximate: true as const } : {}),
  };
}

/** The report over the groups' streams (read twice), with the shares and costs of `cost`. */
export function cardinalityReport(groups: readonly StreamGroup[], cost: CostModel, options: Partial<CardinalityOptions> = {}): CardinalityReport {
  const o = { ...CARDINALITY_DEFAULTS, ...options };
  // Pass 1: streams per name, per job.
  const byJob = new Map<string, NameCounts>();
  for (const g of groups) {
    let names = byJob.get(g.job);
    if (names === undefined) byJob.set(g.job, (names = new NameCounts(o.trackedFamilies)));
    for (const s of g.streams) names.add(s.name);
  }
  // Pass 2: the top names of each job, counted exactly, with their labels.
  const detail = new Map<string, Map<string, FamilyCounts>>();
  for (const [job, names] of byJob) detail.set(job, new Map(names.top(o.topFamilies).map((n) => [n, new FamilyCounts(o.sketchSize)])));
  for (const g of groups) {
    const families = detail.get(g.job)!;
    for (const s of g.streams) families.get(s.name)?.add(s.dimensions);
  }
  const jobs = [...byJob.entries()].map(([job, names]): JobCardinality => {
    const top = [...detail.get(job)!.entries()]
      .map(([name, f]) => familyEntry(name, f, cost, o.topLabels))
      .sort((a, b) => b.streams - a.streams || (a.name < b.name ? -1 : 1));
    return {
      job,
      streams: names.total,
      shareOfStreams: share(names.total, cost.totalStreams),
      ...costOf(names.total, cost),
      families: names.seen,
      top,
      ...(names.decremented ? { approximate: true as const } : {}),
    };
  });
  jobs.sort((a, b) => b.streams - a.streams || (a.job < b.job ? -1 : 1));
  const price = cost.pricePerMillionDatapoints;
  return {
    totalStreams: cost.totalStreams,
    ...(price === undefined ? {} : { monthlyCost: monthlyCostOf(cost.totalStreams, price, cost.freeDatapointsPerMonth) }),
    jobs,
  };
}
