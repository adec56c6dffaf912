import type { Labels, MetricFamily, SkippedSample } from '../types/model';
import type { DerivedLine } from './derive';
import { normalizeBoundLabel } from './floats';

/** The dimension a bucket or quantile line adds to its series' labels. */
interface StructuralLabel {
  key: 'le' | 'quantile';
  /** The value in OpenMetrics float form (`1` -> `1.0`), as Prometheus stores it: the dimension value. */
  value: string;
  /** The value as written in the exposition (what a skip record reports). */
  written: string;
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

/** The `_sum` and `_count` lines that are present, each at its own time. */
function sumCountLines(f: FamilyFields, s: { labels: Labels; sum?: number; count?: number; sumTimestampMs?: number; countTimestampMs?: number }): SampleLine[] {
  const lines: SampleLine[] = [];
  if (s.sum !== undefined) lines.push(suffixedLine(f, '_sum', s.labels, s.sum, s.sumTimestampMs));
  if (s.count !== undefined) lines.push(suffixedLine(f, '_count', s.labels, s.count, s.countTimestampMs));
  return lines;
}

/** The structural label of a bucket or quantile line; the normalised form is computed once per distinct text. */
function structuralLabel(key: StructuralLabel['key'], written: string, cache: Map<string, StructuralLabel>): StructuralLabel {
  let label = cache.get(written);
  if (label === undefined) cache.set(written, (label = { key, value: normalizeBoundLabel(written), written }));
  return label;
}

/**
 * Every sample line of a family in exposition order: per series, its buckets or quantiles, then
 * `_sum` and `_count`. Each line keeps its own timestamp. (Derived series come from derive.ts.)
 */
export function expandFamily(family: MetricFamily): SampleLine[] {
  const f: FamilyFields = { familyName: family.name, help: family.help };
  const bounds = new Map<string, StructuralLabel>();
  switch (family.kind) {
    case 'counter':
    case 'gauge':
    case 'untyped':
      return family.series.map((s) => scalarLine(f, s.labels, s.value, s.timestampMs));
    case 'histogram':
      return family.series.flatMap((s) => [
        ...s.buckets.map((b): SampleLine => ({
          kind: 'sample',
          ...f,
          sampleName: f.familyName + '_bucket',
          metricName: f.familyName + '_bucket',
          labels: s.labels,
          structural: structuralLabel('le', b.le, bounds),
          isBucket: true,
          value: b.value,
          timestampMs: b.timestampMs,
        })),
        ...sumCountLines(f, s),
      ]);
    case 'summary':
      return family.series.flatMap((s) => [
        ...s.quantiles.map((q): SampleLine => ({
          kind: 'sample',
          ...f,
          sampleName: f.familyName,
          metricName: f.familyName,
          labels: s.labels,
          structural: structuralLabel('quantile', q.quantile, bounds),
          isBucket: false,
          value: q.value,
          timestampMs: q.timestampMs,
        })),
        ...sumCountLines(f, s),
      ]);
  }
}

/** Only the sample lines of a family (what the accounting counts). */
export function sampleLines(family: MetricFamily): SampleLine[] {
  return expandFamily(family);
}

/** The skip record of a sample line: its exposition name and labels, `le`/`quantile` as written. */
export function skippedSample(line: SampleLine, reason: SkippedSample['reason']): SkippedSample {
  const labels = line.structural === undefined ? { ...line.labels } : { ...line.labels, [line.structural.key]: line.structural.written };
  return { name: line.sampleName, labels, reason };
}
