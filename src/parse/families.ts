/**
 * Regroups the flat, one-per-line samples into metric families. Histogram and summary lines were
 * handed to the package as untyped, so each keeps its labels; here they are folded per label set
 * (without `le`/`quantile`), in any line order, which also makes `_count` before the buckets work.
 */
import type { HistogramSeries, Labels, MetricFamily, SummarySeries } from '../types/model';
import type { PackageSamples } from './package-adapter';
import { ExpositionError, quote } from './errors';
import { exactLabels, RESERVED_NAME_LABEL, type Declaration } from './scan';
import { floatOfToken, timestampInRange } from './promFloat';
import { ownCopy, setLabel } from './values';

type ScalarFamily = Extract<MetricFamily, { kind: 'counter' | 'gauge' | 'untyped' }>;
type HistogramFamily = Extract<MetricFamily, { kind: 'histogram' }>;
type SummaryFamily = Extract<MetricFamily, { kind: 'summary' }>;

/** Where the samples of one sample name go. */
type SampleDestination =
  | { role: 'scalar'; family: ScalarFamily }
  | { role: 'bucket' | 'histogram_sum' | 'histogram_count'; family: HistogramFamily; name: string }
  | { role: 'quantile' | 'summary_sum' | 'summary_count'; family: SummaryFamily; name: string };

/**
 * The package's labels for a line, unless they may have lost a pair: its plain object keeps only
 * the last of duplicate names and drops `__proto__`. Each pair has exactly one `=` outside quotes,
 * so as many keys as `=` signs proves nothing was lost; otherwise the line is re-read exactly.
 */
function trustedLabels(raw: Labels | undefined, line: string, lineNo: number): Labels {
  let keys = 0;
  if (raw !== undefined) {
    for (const name in raw) {
      if (name === '__name__') throw new ExpositionError(lineNo, RESERVED_NAME_LABEL);
      keys++;
    }
  }
  if (keys === countEquals(line)) return raw ?? {};
  return exactLabels(line, lineNo);
}

/** Number of `=` characters in a line. */
function countEquals(line: string): number {
  let count = 0;
  for (let at = line.indexOf('='); at >= 0; at = line.indexOf('=', at + 1)) count++;
  return count;
}

/** Sets a histogram's or summary's `_sum` and that line's own timestamp. */
function setSum(s: HistogramSeries | SummarySeries, value: number, timestampMs: number | undefined): void {
  s.sum = value;
  if (timestampMs !== undefined) s.sumTimestampMs = timestampMs;
}

/** Sets a histogram's or summary's `_count` and that line's own timestamp. */
function setCount(s: HistogramSeries | SummarySeries, value: number, timestampMs: number | undefined): void {
  s.count = value;
  if (timestampMs !== undefined) s.countTimestampMs = timestampMs;
}

/** Accumulates samples into families, in order of their first sample; one instance per exposition. */
export class FamilyAssembler {
  readonly families: MetricFamily[] = [];
  private readonly byKey = new Map<string, MetricFamily>();
  private readonly targets = new Map<string, SampleDestination>();
  private readonly histogramSeries = new Map<HistogramFamily, Map<string, HistogramSeries[]>>();
  private readonly summarySeries = new Map<SummaryFamily, Map<string, SummarySeries[]>>();

  /** Distinct label values seen, each once (flat). */
  private readonly strings = new Map<string, string>();

  /** The shared copy of a label value. */
  private intern(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    this.strings.set(s, s);
    return s;
  }

  /** `declarations`: what HELP and TYPE lines said; the scan may still be adding to it. */
  constructor(private readonly declarations: Map<string, Declaration>) {}

  /** Adds the package's samples for the sample lines `lines` (one raw sample each, same order). */
  addChunk(lines: readonly string[], lineNumbers: readonly number[], raw: PackageSamples): void {
    const { names, metrics } = raw;
    for (let i = 0; i < metrics.length; i++) {
      const metric = metrics[i];
      const labels = trustedLabels(metric.labels, lines[i], lineNumbers[i]);
      // The package builds each value one character at a time (a rope per value): keep one flat copy per distinct value.
      for (const k in labels) if (k !== '__proto__') labels[k] = this.intern(labels[k]);
      const value = floatOfToken(metric.value as string);
      if (value === undefined) throw new ExpositionError(lineNumbers[i], `sample value ${quote(metric.value as string)} of ${quote(names[i])} is out of range`);
      const ts = metric.timestamp_ms;
      if (ts !== undefined && !timestampInRange(ts)) throw new ExpositionError(lineNumbers[i], `timestamp ${quote(ts)} of ${quote(names[i])} is out of range`);
      this.add(names[i], labels, value, ts === undefined ? undefined : +ts);
    }
  }

  /** Adds one sample line's content. */
  add(name: string, labels: Labels, value: number, timestampMs: number | undefined): void {
    let target = this.targets.get(name);
    if (!target) {
      name = ownCopy(name); // kept as a key: must not pin the package's input text
      this.targets.set(name, (target = this.resolve(name)));
    }
    switch (target.role) {
      case 'scalar':
        this.addSeries(target.family, timestampMs === undefined ? { labels, value } : { labels, value, timestampMs });
        return;
      case 'bucket':
        return this.addBucket(target.family, target.name, labels, value, timestampMs);
      case 'histogram_sum':
      case 'histogram_count': {
        const isSum = target.role === 'histogram_sum';
        const s = this.histogram(target.family, labels, undefined, (h) => (isSum ? h.sum : h.count) === undefined);
        if (isSum) setSum(s, value, timestampMs);
        else setCount(s, value, timestampMs);
        return;
      }
      case 'quantile':
        return this.addQuantile(target.family, target.name, labels, value, timestampMs);
      case 'summary_sum':
      case 'summary_count': {
        const isSum = target.role === 'summary_sum';
        const s = this.summary(target.family, labels, undefined, (q) => (isSum ? q.sum : q.count) === undefined);
        if (isSum) setSum(s, value, timestampMs);
        else setCount(s, value, timestampMs);
        return;
      }
    }
  }

  /** A `_bucket` line: needs `le`; without it the line is kept as an untyped sample. */
  private addBucket(family: HistogramFamily, name: string, labels: Labels, value: number, ts: number | undefined): void {
    const le = Object.prototype.hasOwnProperty.call(labels, 'le') ? labels.le : undefined;
    if (le === undefined) return this.addUntyped(name, labels, value, ts);
    const s = this.histogram(family, labels, 'le', (h) => !h.buckets.some((b) => b.le === le));
    s.buckets.push(ts === undefined ? { le, value } : { le, value, timestampMs: ts });
  }

  /** A summary's own-name line: needs `quantile`; without it the line is kept as an untyped sample. */
  private addQuantile(family: SummaryFamily, name: string, labels: Labels, value: number, ts: number | undefined): void {
    const quantile = Object.prototype.hasOwnProperty.call(labels, 'quantile') ? labels.quantile : undefined;
    if (quantile === undefined) return this.addUntyped(name, labels, value, ts);
    const s = this.summary(family, labels, 'quantile', (q) => !q.quantiles.some((x) => x.quantile === quantile));
    s.quantiles.push(ts === undefined ? { quantile, value } : { quantile, value, timestampMs: ts });
  }

  /** Keeps a line that does not fit its declared family as an untyped sample of its own name. */
  private addUntyped(name: string, labels: Labels, value: number, ts: number | undefined): void {
    const family = this.family('untyped', name, this.declarations.get(name)?.help) as ScalarFamily;
    this.addSeries(family, ts === undefined ? { labels, value } : { labels, value, timestampMs: ts });
  }

  /** The histogram series for a label set whose slot (this `le`, `_sum` or `_count`) is still free. */
  private histogram(family: HistogramFamily, labels: Labels, skip: string | undefined, isFree: (s: HistogramSeries) => boolean): HistogramSeries {
    return this.freeSeries(this.histogramSeries, family, labels, skip, isFree, newHistogramSeries);
  }

  /** The summary series for a label set whose slot (this `quantile`, `_sum` or `_count`) is still free. */
  private summary(family: SummaryFamily, labels: Labels, skip: string | undefined, isFree: (s: SummarySeries) => boolean): SummarySeries {
    return this.freeSeries(this.summarySeries, family, labels, skip, isFree, newSummarySeries);
  }

  /**
   * The first series of a label set (without the `skip` label) whose slot is still free. A repeated
   * slot starts a second series with the same labels, so a duplicate stays visible to the transform
   * (which skips it with a reason) instead of overwriting a value.
   */
  private freeSeries<F extends HistogramFamily | SummaryFamily>(
    byFamily: Map<F, Map<string, F['series'][number][]>>,
    family: F,
    labels: Labels,
    skip: string | undefined,
    isFree: (s: F['series'][number]) => boolean,
    fresh: (labels: Labels) => F['series'][number],
  ): F['series'][number] {
    let bySet = byFamily.get(family);
    if (!bySet) byFamily.set(family, (bySet = new Map<string, F['series'][number][]>()));
    const key = seriesKey(labels, skip);
    let candidates = bySet.get(key);
    if (!candidates) bySet.set(key, (candidates = []));
    let s = candidates.find(isFree);
    if (!s) {
      s = fresh(withoutLabel(labels, skip));
      candidates.push(s);
      this.addSeries(family, s);
    }
    return s;
  }

  /** Appends a series; a family enters the output with its first series, so none is ever empty. */
  private addSeries<F extends MetricFamily>(family: F, series: F['series'][number]): void {
    if (family.series.length === 0) this.families.push(family);
    (family.series as F['series'][number][]).push(series);
  }

  /** Decides once per sample name which family and role its lines have. */
  private resolve(name: string): SampleDestination {
    const decl = this.declarations.get(name);
    const kind = decl?.kind;
    if (kind === 'counter' || kind === 'gauge' || kind === 'untyped') {
      return { role: 'scalar', family: this.family(kind, name, decl?.help) as ScalarFamily };
    }
    if (kind === 'summary') return { role: 'quantile', family: this.family('summary', name, decl?.help) as SummaryFamily, name };
    const suffixed = this.resolveSuffixed(name);
    if (suffixed) return suffixed;
    return { role: 'scalar', family: this.family('untyped', name, decl?.help) as ScalarFamily };
  }

  /** `x_bucket`, `x_sum`, `x_count` of a declared histogram/summary `x`, and `x_total` of a declared counter `x`. */
  private resolveSuffixed(name: string): SampleDestination | undefined {
    const cut = name.lastIndexOf('_');
    if (cut <= 0) return undefined;
    const base = name.slice(0, cut);
    const suffix = name.slice(cut);
    const decl = this.declarations.get(base);
    const kind = decl?.kind;
    if (kind === 'histogram') {
      const family = this.family('histogram', base, decl?.help) as HistogramFamily;
      if (suffix === '_bucket') return { role: 'bucket', family, name };
      if (suffix === '_sum') return { role: 'histogram_sum', family, name };
      if (suffix === '_count') return { role: 'histogram_count', family, name };
    } else if (kind === 'summary') {
      const family = this.family('summary', base, decl?.help) as SummaryFamily;
      if (suffix === '_sum') return { role: 'summary_sum', family, name };
      if (suffix === '_count') return { role: 'summary_count', family, name };
    } else if (kind === 'counter' && suffix === '_total') {
      // OpenMetrics names the family `x` and the sample `x_total`: keep the sample's name, as Prometheus does.
      return { role: 'scalar', family: this.family('counter', name, decl?.help) as ScalarFamily };
    }
    return undefined;
  }

  /** The family of a kind and name, created on first use (it is listed once it has a series). */
  private family(kind: MetricFamily['kind'], name: string, help: string | undefined): MetricFamily {
    const key = `${kind}\u0000${name}`;
    const known = this.byKey.get(key);
    if (known) return known;
    const family = { kind, name, help: help ?? '', series: [] } as MetricFamily;
    this.byKey.set(key, family);
    return family;
  }
}

/** A new histogram series with no buckets yet. */
function newHistogramSeries(labels: Labels): HistogramSeries {
  return { labels, buckets: [] };
}

/** A new summary series with no quantiles yet. */
function newSummarySeries(labels: Labels): SummarySeries {
  return { labels, quantiles: [] };
}

/** A canonical key for a label set without one label: sorted by name, so label order does not matter. */
function seriesKey(labels: Labels, skip: string | undefined): string {
  let key = '';
  let previous = '';
  for (const n in labels) {
    if (n === skip) continue;
    // Client libraries write labels in a fixed (usually sorted) order; sort only when needed.
    if (n < previous) return sortedSeriesKey(labels, skip);
    previous = n;
    key += `${n}\u0000${labels[n]}\u0001`;
  }
  return key;
}

/** seriesKey for label sets written out of name order. */
function sortedSeriesKey(labels: Labels, skip: string | undefined): string {
  let key = '';
  for (const n of Object.keys(labels).sort()) if (n !== skip) key += `${n}\u0000${labels[n]}\u0001`;
  return key;
}

/** A copy of the labels without one label (`le` or `quantile`). */
function withoutLabel(labels: Labels, skip: string | undefined): Labels {
  const out: Labels = {};
  for (const n of Object.keys(labels)) if (n !== skip) setLabel(out, n, labels[n]);
  return out;
}
