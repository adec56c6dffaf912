import type { Labels, MetricFamily, SkippedSample } from '../types/model';

/** The dimension a bucket or quantile line adds to its series' labels. */
export interface StructuralLabel {
  key: 'le' | 'quantile';
  value: string;
}

/** One exposition sample line, flattened out of its family: the transform's unit of accounting. */
export interface SampleLine {
  kind: 'sample';
  familyName: string;
  help: string;
  /** The exposition sample name, e.g. `foo_bucket` (what a SkippedSample reports). */
  sampleName: string;
  /** The name to post under, before sanitizing (a summary quantile posts as the family name). */
  metricName: string;
  /** The series' labels, without `le`/`quantile`. */
  labels: Labels;
  structural?: StructuralLabel;
  isBucket: boolean;
  value: number;
  timestampMs?: number;
}

/** A `<name>_avg` series computed from a histogram's or summary's sum and count: not a sample. */
export interface DerivedLine {
  kind: 'derived';
  familyName: string;
  help: string;
  metricName: string;
  labels: Labels;
  sum: number;
  count: number;
  timestampMs?: number;
}

export type Line = SampleLine | DerivedLine;

/** Common fields of every line of one family. */
type FamilyFields = Pick<SampleLine, 'familyName' | 'help'>;

/** A counter/gauge/untyped sample line. */
function scalarLine(f: FamilyFields, labels: Labels, value: number, timestampMs?: number): SampleLine {
  return { kind: 'sample', ...f, sampleName: f.familyName, metricName: f.familyName, labels, isBucket: false, value, timestampMs };
}

/** A `<family><suffix>` line (`_sum`, `_count`) of a histogram or summary series. */
function suffixedLine(f: FamilyFields, suffix: string, labels: Labels, value: number, timestampMs?: number): SampleLine {
  const name = f.familyName + suffix;
  return { kind: 'sample', ...f, sampleName: name, metricName: name, labels, isBucket: false, value, timestampMs };
}

/** The `_sum` and `_count` lines that are present, plus the derived `_avg` when both are. */
function sumCountLines(f: FamilyFields, s: { labels: Labels; sum?: number; count?: number; timestampMs?: number }): Line[] {
  const lines: Line[] = [];
  if (s.sum !== undefined) lines.push(suffixedLine(f, '_sum', s.labels, s.sum, s.timestampMs));
  if (s.count !== undefined) lines.push(suffixedLine(f, '_count', s.labels, s.count, s.timestampMs));
  if (s.sum !== undefined && s.count !== undefined) {
    lines.push({ kind: 'derived', ...f, metricName: f.familyName + '_avg', labels: s.labels, sum: s.sum, count: s.count, timestampMs: s.timestampMs });
  }
  return lines;
}

/**
 * Every line of a family in exposition order: per series, its buckets or quantiles, then
 * `_sum`, `_count` and the derived `_avg`.
 */
export function expandFamily(family: MetricFamily): Line[] {
  const f: FamilyFields = { familyName: family.name, help: family.help };
  switch (family.kind) {
    case 'counter':
    case 'gauge':
    case 'untyped':
      return family.series.map((s) => scalarLine(f, s.labels, s.value, s.timestampMs));
    case 'histogram':
      return family.series.flatMap((s) => [
        ...s.buckets.map((b): SampleLine => ({
          kind: 'sample', ...f, sampleName: f.familyName + '_bucket', metricName: f.familyName + '_bucket',
          labels: s.labels, structural: { key: 'le', value: b.le }, isBucket: true, value: b.value, timestampMs: s.timestampMs,
        })),
        ...sumCountLines(f, s),
      ]);
    case 'summary':
      return family.series.flatMap((s) => [
        ...s.quantiles.map((q): SampleLine => ({
          kind: 'sample', ...f, sampleName: f.familyName, metricName: f.familyName,
          labels: s.labels, structural: { key: 'quantile', value: q.quantile }, isBucket: false, value: q.value, timestampMs: s.timestampMs,
        })),
        ...sumCountLines(f, s),
      ]);
  }
}

/** Only the sample lines of a family (what the accounting counts). */
export function sampleLines(family: MetricFamily): SampleLine[] {
  return expandFamily(family).filter((l): l is SampleLine => l.kind === 'sample');
}

/** Number of exposition sample lines in a family (scrape_samples_scraped counts the same). */
export function countSampleLines(family: MetricFamily): number {
  return sampleLines(family).length;
}

/** The skip record of a sample line: its exposition name and labels, `le`/`quantile` included. */
export function skippedSample(line: SampleLine, reason: SkippedSample['reason']): SkippedSample {
  const labels = line.structural === undefined ? { ...line.labels } : { ...line.labels, [line.structural.key]: line.structural.value };
  return { name: line.sampleName, labels, reason };
}
