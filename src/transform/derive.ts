/**
 * DERIVED SERIES: from a target's previous scrape and this one, per series (pure: no I/O, no clock).
 *
 *  - counter `x`        -> `x_rate`  = increase / seconds between the two samples, like Prometheus'
 *                          irate(): a decrease is a reset, and the increase is then the new value.
 *  - histogram `x`      -> `x_avg`   = increase of `x_sum` / increase of `x_count`, each its own
 *                          counter as in irate(x_sum) / irate(x_count) (a decrease of either is its reset);
 *                          `x_pNN`   = histogram_quantile(q, increases of the buckets) for each q of
 *                          HISTOGRAM_QUANTILES, exactly as Prometheus computes it (bucketQuantile).
 *  - summary `x`        -> `x_avg`   = increase of `x_sum` / increase of `x_count`.
 *
 * A histogram's buckets' reset is judged by its `_count` (or the +Inf bucket when there is no
 * `_count`): when it went down the app restarted, and every increase of that series is its new
 * value. Otherwise each bucket is its own counter, as in Prometheus (a bucket that went down alone
 * counts as reset).
 *
 * Nothing is derived for a series without a previous sample, or whose previous sample is older than
 * STATE_MAX_AGE_SECONDS, or not older than this one; every derived series that is not produced is
 * counted under a NotDerivedReason. A series' time is its own timestamp (a histogram's or summary's:
 * that of `_count`, else `_sum`, else the +Inf bucket), else the scrape time; an own timestamp
 * outside OCI's window gives nothing ('missing_value'), as its samples are skipped. Bucket bounds
 * are compared in OpenMetrics float form (`1` and `1.0` are one bucket).
 */
import type { DeriveOptions, DerivedKinds, HistogramSeries, Labels, MetricFamily, ScalarSeries, SummarySeries } from '../types/model';
import type { FamilyState, NotDerivedCounts, NotDerivedReason, PreviousScrape, TargetState } from '../types/state';
import { parsePromFloat } from '../parse/promFloat';
import { normalizeBoundLabel } from './floats';
import { datapointTimestampMs } from './timestamps';

/** One derived value: a series of its own, not an exposition sample. */
export interface DerivedLine {
  kind: 'derived';
  familyName: string;
  help: string;
  /** The name to post under, before sanitizing, e.g. `x_rate`, `x_p99`. */
  metricName: string;
  labels: Labels;
  value: number;
  /** This sample's own timestamp, when it had one (as for the source series). */
  timestampMs?: number;
}

/** Adds n to a reason's count. */
export function countNotDerived(counts: NotDerivedCounts, reason: NotDerivedReason, n = 1): void {
  if (n > 0) counts[reason] = (counts[reason] ?? 0) + n;
}

/** True when any derived kind is on. */
export function anyDerived(kinds: DerivedKinds): boolean {
  return kinds.rate || kinds.avg || kinds.quantiles;
}

/**
 * The suffix of a quantile's series: `p` + 100*q with `.` written `_` (0.5 -> p50, 0.99 -> p99,
 * 0.999 -> p99_9, 0.9999 -> p99_99, 0.025 -> p2_5, 1 -> p100).
 */
export function quantileSuffix(q: number): string {
  const percent = Number((q * 100).toPrecision(12));
  return `p${String(percent).replace('.', '_')}`;
}

/** A label set's identity in the state: sorted pairs, empty values dropped (as Prometheus does). */
export function labelsKey(labels: Labels): string {
  const keys = Object.keys(labels)
    .filter((k) => labels[k] !== '')
    .sort();
  const flat: string[] = [];
  for (const k of keys) flat.push(k, labels[k]);
  return JSON.stringify(flat);
}

/** `le` as a number, in Prometheus' float grammar ("+Inf", "Inf", "1e3"...); NaN when it is not one (the bucket is then left out). */
export function parseBound(le: string): number {
  return parsePromFloat(le) ?? NaN;
}

/** Relative difference between bucket counts that Prometheus' histogram_quantile treats as float noise. */
const PRECISION_TOLERANCE = 1e-12;

/** One bucket for bucketQuantile. */
interface Bucket {
  upperBound: number;
  count: number;
}

/**
 * Prometheus' bucketQuantile (promql/quantile.go), step for step: sort by bound, the highest must
 * be +Inf, merge equal bounds, correct float precision errors (1e-12), force monotonic counts,
 * then interpolate linearly in the bucket holding rank q*observations (0 is the lower bound of
 * the first bucket when it is positive; the highest finite bound when the rank is in +Inf).
 * Returns NaN where Prometheus does (no observations, fewer than 2 buckets, no +Inf bucket).
 */
export function bucketQuantile(q: number, input: readonly Bucket[]): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  if (input.length === 0) return NaN;
  const sorted = input
    .map((b) => ({ upperBound: b.upperBound, count: b.count }))
    .sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0));
  if (sorted[sorted.length - 1].upperBound !== Infinity) return NaN;
  const buckets = coalesceBuckets(sorted);
  correctPrecisionErrors(buckets, PRECISION_TOLERANCE);
  ensureMonotonic(buckets);
  if (buckets.length < 2) return NaN;
  const observations = buckets[buckets.length - 1].count;
  if (observations === 0) return NaN;
  let rank = q * observations;
  // sort.Search over the first n-1 buckets: the first with count >= rank, else n-1.
  let b = buckets.length - 1;
  for (let i = 0; i < buckets.length - 1; i++) {
    if (buckets[i].count >= rank) {
      b = i;
      break;
    }
  }
  if (b === buckets.length - 1) return buckets[buckets.length - 2].upperBound;
  if (b === 0 && buckets[0].upperBound <= 0) return buckets[0].upperBound;
  let bucketStart = 0;
  const bucketEnd = buckets[b].upperBound;
  let count = buckets[b].count;
  if (b > 0) {
    bucketStart = buckets[b - 1].upperBound;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}

/** Merges buckets with the same bound (sorted input), adding their counts. */
function coalesceBuckets(buckets: Bucket[]): Bucket[] {
  const out: Bucket[] = [];
  for (const b of buckets) {
    const last = out[out.length - 1];
    if (last !== undefined && last.upperBound === b.upperBound) last.count += b.count;
    else out.push(b);
  }
  return out;
}

/** A count that differs from the previous one by a relative `tolerance` or less takes its value. */
function correctPrecisionErrors(buckets: Bucket[], tolerance: number): void {
  let prev = buckets[0].count;
  for (let i = 1; i < buckets.length; i++) {
    const curr = buckets[i].count;
    const delta = Math.abs(curr - prev);
    if (delta === 0) continue;
    if (delta / curr <= tolerance) buckets[i].count = prev;
    else prev = curr;
  }
}

/** The envelope of the counts: no bucket counts less than a lower one. */
function ensureMonotonic(buckets: Bucket[]): void {
  let max = buckets[0].count;
  for (let i = 1; i < buckets.length; i++) {
    if (buckets[i].count > max) max = buckets[i].count;
    else if (buckets[i].count < max) buckets[i].count = max;
  }
}

/** A finite number or null (the state's JSON has no NaN/Infinity). */
function finiteOrNull(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

/** The increase of a counter from prev to cur: a decrease is a reset (the increase is the new value). */
function counterIncrease(prev: number, cur: number): number {
  return cur < prev ? cur : cur - prev;
}

/** What deriving one family needs besides the family. */
interface FamilyDeriveContext {
  opts: DeriveOptions;
  scrapeTimeMs: number;
  /** The target's previous scrape time, when there is one. */
  previousTimeMs?: number;
  /** Why nothing can be derived for the whole target, if so. */
  targetReason?: NotDerivedReason;
  /** The previous scrape of this family (undefined: none, or the kind changed). */
  previous?: FamilyState;
  /** Keep this scrape's state (false when the state is off or failed). */
  keepState: boolean;
}

/** Output of deriving one family. */
interface FamilyDerivation {
  lines: DerivedLine[];
  state?: FamilyState;
  notDerived: NotDerivedCounts;
}

/** How many derived series a family's series would give with the kinds on. */
function perSeries(kind: MetricFamily['kind'], opts: DeriveOptions): number {
  if (kind === 'counter') return opts.kinds.rate ? 1 : 0;
  if (kind === 'histogram') return (opts.kinds.avg ? 1 : 0) + (opts.kinds.quantiles ? opts.quantiles.length : 0);
  if (kind === 'summary') return opts.kinds.avg ? 1 : 0;
  return 0;
}

/** The state kind letter of a family kind, or undefined for kinds nothing is derived from. */
function stateKind(kind: MetricFamily['kind']): FamilyState['k'] | undefined {
  return kind === 'counter' ? 'c' : kind === 'histogram' ? 'h' : kind === 'summary' ? 's' : undefined;
}

/** Derives one family's series and records this scrape's state (see top). */
function deriveFamily(family: MetricFamily, ctx: FamilyDeriveContext): FamilyDerivation {
  const out: FamilyDerivation = { lines: [], notDerived: {} };
  const per = perSeries(family.kind, ctx.opts);
  const k = stateKind(family.kind);
  if (per === 0 || k === undefined) return out;
  if (ctx.targetReason !== undefined && !ctx.keepState) {
    countNotDerived(out.notDerived, ctx.targetReason, per * family.series.length);
    return out;
  }
  const withBuckets = family.kind === 'histogram' && ctx.opts.kinds.quantiles;
  const state: FamilyState = { k, s: {} };
  const prev = ctx.previous?.k === k ? ctx.previous : undefined;
  for (const series of family.series) {
    const key = labelsKey(series.labels);
    const ownMs = ownTimestampOf(family.kind, series);
    const timeMs = datapointTimestampMs(ownMs, ctx.scrapeTimeMs);
    if (timeMs === undefined) {
      countNotDerived(out.notDerived, 'missing_value', per);
      continue;
    }
    if (ctx.keepState) record(state, key, family.kind, series, withBuckets, timeMs !== ctx.scrapeTimeMs ? timeMs : undefined);
    const reason = ctx.targetReason ?? intervalReason(prev, key, timeMs, ctx);
    if (reason !== undefined) {
      countNotDerived(out.notDerived, reason, per);
      continue;
    }
    const prevTimeMs = prev!.ts?.[key] ?? ctx.previousTimeMs!;
    const prevValues = prev!.s[key];
    const emit = (suffix: string, value: number | NotDerivedReason): void => {
      if (typeof value === 'string') countNotDerived(out.notDerived, value);
      else
        out.lines.push({
          kind: 'derived',
          familyName: family.name,
          help: family.help,
          metricName: family.name + suffix,
          labels: series.labels,
          value,
          timestampMs: ownMs,
        });
    };
    if (family.kind === 'counter') emit('_rate', rateOf(prevValues, series as ScalarSeries, (timeMs - prevTimeMs) / 1000));
    else if (family.kind === 'summary') {
      if (ctx.opts.kinds.avg) emit('_avg', averageOfIncrease(prevValues, series as SummarySeries));
    } else {
      const h = series as HistogramSeries;
      const reset = isReset(prevValues[1] ?? infBucket(prev!, key), h.count ?? bucketValue(h, '+Inf'));
      if (ctx.opts.kinds.avg) emit('_avg', averageOfIncrease(prevValues, h));
      if (ctx.opts.kinds.quantiles) {
        const increases = bucketIncreases(prev!, key, h, reset);
        for (const q of ctx.opts.quantiles) emit('_' + quantileSuffix(q), typeof increases === 'string' ? increases : quantileOf(q, increases));
      }
    }
  }
  if (ctx.keepState && Object.keys(state.s).length > 0) out.state = state;
  return out;
}

/** The own timestamp a series' derived values take: a scalar's; `_count`'s, else `_sum`'s, else the +Inf bucket's. */
function ownTimestampOf(kind: MetricFamily['kind'], series: MetricFamily['series'][number]): number | undefined {
  if (kind === 'counter' || kind === 'gauge' || kind === 'untyped') return (series as ScalarSeries).timestampMs;
  const s = series as HistogramSeries | SummarySeries;
  if (s.countTimestampMs !== undefined || s.sumTimestampMs !== undefined) return s.countTimestampMs ?? s.sumTimestampMs;
  if (kind === 'histogram') return (series as HistogramSeries).buckets.find((b) => parseBound(b.le) === Infinity)?.timestampMs;
  return undefined;
}

/** Why a series cannot be derived from its previous sample, or undefined when it can. */
function intervalReason(prev: FamilyState | undefined, key: string, timeMs: number, ctx: FamilyDeriveContext): NotDerivedReason | undefined {
  const values = prev?.s[key];
  if (prev === undefined || values === undefined || ctx.previousTimeMs === undefined) return 'first_scrape';
  const prevTimeMs = prev.ts?.[key] ?? ctx.previousTimeMs;
  if (timeMs <= prevTimeMs) return 'no_interval';
  if (timeMs - prevTimeMs > ctx.opts.maxAgeMs) return 'stale_state';
  return undefined;
}

/** Stores one series' values: what the derivations of the next scrape need. */
function record(
  state: FamilyState,
  key: string,
  kind: MetricFamily['kind'],
  series: MetricFamily['series'][number],
  withBuckets: boolean,
  ownTimeMs: number | undefined,
): void {
  if (kind === 'counter') state.s[key] = [finiteOrNull((series as ScalarSeries).value)];
  else if (kind === 'summary') state.s[key] = [finiteOrNull((series as SummarySeries).sum), finiteOrNull((series as SummarySeries).count)];
  else {
    const h = series as HistogramSeries;
    const values: (number | null)[] = [finiteOrNull(h.sum), finiteOrNull(h.count)];
    if (withBuckets) {
      const bounds = h.buckets.map((b) => normalizeBoundLabel(b.le));
      if (state.le === undefined) state.le = bounds;
      else if (!sameBounds(state.le, bounds)) (state.sl ??= {})[key] = bounds;
      for (const b of h.buckets) values.push(finiteOrNull(b.value));
    }
    state.s[key] = values;
  }
  if (ownTimeMs !== undefined) (state.ts ??= {})[key] = ownTimeMs;
}

/** True when two bound lists are equal. */
function sameBounds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((le, i) => le === b[i]);
}

/** A counter's rate over the interval (seconds > 0), or why there is none. */
function rateOf(prev: (number | null)[], series: ScalarSeries, seconds: number): number | NotDerivedReason {
  const before = prev[0];
  if (before === null || before === undefined || !Number.isFinite(series.value)) return 'missing_value';
  const rate = counterIncrease(before, series.value) / seconds;
  return Number.isFinite(rate) ? rate : 'missing_value';
}

/** True when a count went down (the app restarted); false when either is unknown. */
function isReset(prevCount: number | null | undefined, count: number | undefined): boolean {
  return prevCount !== null && prevCount !== undefined && count !== undefined && Number.isFinite(count) && count < prevCount;
}

/**
 * increase(sum) / increase(count) of a histogram or summary series, or why there is none. As
 * Prometheus' irate(x_sum) / irate(x_count): each of the two is its own counter, so a decrease of
 * either is a reset of that one (a `_sum` that went down while `_count` went up is its new value,
 * never a negative average).
 */
function averageOfIncrease(
  prev: (number | null)[],
  series: { sum?: number; count?: number; sumTimestampMs?: number; countTimestampMs?: number },
): number | NotDerivedReason {
  const [prevSum, prevCount] = prev;
  const { sum, count } = series;
  // A quotient of values observed at different times has no time of its own.
  if (series.sumTimestampMs !== series.countTimestampMs) return 'missing_value';
  if (sum === undefined || count === undefined || !Number.isFinite(sum) || !Number.isFinite(count)) return 'missing_value';
  if (prevSum === null || prevSum === undefined || prevCount === null || prevCount === undefined) return 'missing_value';
  const countIncrease = counterIncrease(prevCount, count);
  if (countIncrease <= 0) return 'no_observations';
  const avg = counterIncrease(prevSum, sum) / countIncrease;
  return Number.isFinite(avg) ? avg : 'missing_value';
}

/** A histogram series' bucket value by `le` as written, if present. */
function bucketValue(h: HistogramSeries, le: string): number | undefined {
  for (const b of h.buckets) if (parseBound(b.le) === parseBound(le)) return b.value;
  return undefined;
}

/** The previous +Inf bucket count of a series, when its buckets were kept. */
function infBucket(prev: FamilyState, key: string): number | null | undefined {
  const bounds = prev.sl?.[key] ?? prev.le;
  if (bounds === undefined) return undefined;
  const i = bounds.findIndex((le) => parseBound(le) === Infinity);
  return i < 0 ? undefined : prev.s[key][2 + i];
}

/** The increases of a histogram series' buckets since the previous scrape, or why there are none. */
function bucketIncreases(prev: FamilyState, key: string, h: HistogramSeries, reset: boolean): Bucket[] | NotDerivedReason {
  const prevBounds = prev.sl?.[key] ?? prev.le;
  const prevValues = prev.s[key];
  // A changed bucket layout has no previous sample per bucket: as on a first scrape.
  if (
    prevBounds === undefined ||
    prevValues.length !== 2 + prevBounds.length ||
    !sameBounds(
      prevBounds,
      h.buckets.map((b) => normalizeBoundLabel(b.le)),
    )
  )
    return 'first_scrape';
  const out: Bucket[] = [];
  for (let i = 0; i < h.buckets.length; i++) {
    const bound = parseBound(h.buckets[i].le);
    const cur = h.buckets[i].value;
    const before = prevValues[2 + i];
    // Prometheus drops a bucket whose `le` is not a number; a missing value has no increase.
    if (Number.isNaN(bound)) continue;
    if (before === null || before === undefined || !Number.isFinite(cur)) return 'missing_value';
    out.push({ upperBound: bound, count: reset ? cur : counterIncrease(before, cur) });
  }
  const current = h.buckets.map((b) => ({ upperBound: parseBound(b.le), count: b.value })).filter((b) => !Number.isNaN(b.upperBound));
  if (hasNegativePopulation(current) || hasNegativePopulation(out)) return 'invalid_buckets';
  return out;
}

/**
 * Whether cumulative bucket counts hold a negative population: a negative count, or a bucket with
 * fewer than a lower one beyond float noise (Prometheus' own 1e-12 relative tolerance). Prometheus'
 * histogram_quantile would force such counts monotonic and answer anyway; a percentile made from
 * buckets that contradict themselves is not posted (docs/mapping.md, the parser's decisions).
 */
function hasNegativePopulation(buckets: readonly Bucket[]): boolean {
  const sorted = [...buckets].sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0));
  let below = 0;
  for (const b of sorted) {
    if (b.count < below && below - b.count > PRECISION_TOLERANCE * Math.abs(below)) return true;
    below = Math.max(below, b.count);
  }
  return false;
}

/** One quantile from bucket increases, or why there is none. */
function quantileOf(q: number, buckets: Bucket[]): number | NotDerivedReason {
  if (buckets.some((b) => b.upperBound === Infinity) && buckets.every((b) => b.count === 0)) return 'no_observations';
  const v = bucketQuantile(q, buckets);
  // NaN with observations: no +Inf bucket or fewer than 2 buckets, as Prometheus answers.
  return Number.isFinite(v) ? v : 'missing_value';
}

/** The derivations of a whole target: its lines by family, this scrape's state, and the not-derived counts. */
interface TargetDerivation {
  byFamily: Map<MetricFamily, DerivedLine[]>;
  state?: TargetState;
  notDerived: NotDerivedCounts;
}

/** Derives every family of a target (families already filtered by METRICS_INCLUDE/EXCLUDE). */
export function deriveTarget(families: readonly MetricFamily[], previous: PreviousScrape, scrapeTimeMs: number, opts: DeriveOptions): TargetDerivation {
  const result: TargetDerivation = { byFamily: new Map(), notDerived: {} };
  if (!anyDerived(opts.kinds)) return result;
  const keepState = previous !== 'state_off' && previous !== 'state_failed';
  let targetReason: NotDerivedReason | undefined;
  let previousTimeMs: number | undefined;
  if (previous === 'state_off' || previous === 'state_failed') targetReason = previous;
  else if (previous === 'state_replaced') targetReason = 'state_failed';
  else if (previous === undefined) targetReason = 'first_scrape';
  else if (scrapeTimeMs - previous.t > opts.maxAgeMs) targetReason = 'stale_state';
  else previousTimeMs = previous.t;
  const state: TargetState = { t: scrapeTimeMs, f: {} };
  for (const family of families) {
    const prior = typeof previous === 'object' ? previous.f[family.name] : undefined;
    const d = deriveFamily(family, { opts, scrapeTimeMs, previousTimeMs, targetReason, previous: prior, keepState });
    if (d.lines.length > 0) result.byFamily.set(family, d.lines);
    if (d.state) state.f[family.name] = d.state;
    for (const [reason, n] of Object.entries(d.notDerived) as [NotDerivedReason, number][]) countNotDerived(result.notDerived, reason, n);
  }
  if (keepState) result.state = state;
  return result;
}
