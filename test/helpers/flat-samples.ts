/**
 * The inverse view of a parsed exposition: one flat sample per exposition sample line, named as
 * exposed (`x_bucket` with `le`, `x_sum`, `x_count`, a summary's `x` with `quantile`). Used to
 * account for every sample (tests, accounting checks) without knowing the family shapes.
 */
import type { Labels, MetricFamily, ParsedExposition } from '../../src/types/model';
import { setLabel } from '../../src/parse/values';

/** One exposition sample. */
export interface FlatSample {
  name: string;
  labels: Labels;
  value: number;
  timestampMs?: number;
}

/** All samples of all families, family by family (the count equals `sampleCount`). */
export function flattenSamples(parsed: ParsedExposition): FlatSample[] {
  const out: FlatSample[] = [];
  for (const family of parsed.families) flattenFamily(family, out);
  return out;
}

/** Appends the samples of one family. */
function flattenFamily(family: MetricFamily, out: FlatSample[]): void {
  const { name } = family;
  if (family.kind === 'histogram') {
    for (const s of family.series) {
      for (const b of s.buckets) out.push(sample(`${name}_bucket`, withLabel(s.labels, 'le', b.le), b.value, b.timestampMs));
      if (s.sum !== undefined) out.push(sample(`${name}_sum`, s.labels, s.sum, s.sumTimestampMs));
      if (s.count !== undefined) out.push(sample(`${name}_count`, s.labels, s.count, s.countTimestampMs));
    }
  } else if (family.kind === 'summary') {
    for (const s of family.series) {
      for (const q of s.quantiles) out.push(sample(name, withLabel(s.labels, 'quantile', q.quantile), q.value, q.timestampMs));
      if (s.sum !== undefined) out.push(sample(`${name}_sum`, s.labels, s.sum, s.sumTimestampMs));
      if (s.count !== undefined) out.push(sample(`${name}_count`, s.labels, s.count, s.countTimestampMs));
    }
  } else {
    for (const s of family.series) out.push(sample(name, s.labels, s.value, s.timestampMs));
  }
}

/** A flat sample, with the timestamp only when there is one. */
function sample(name: string, labels: Labels, value: number, timestampMs: number | undefined): FlatSample {
  return timestampMs === undefined ? { name, labels, value } : { name, labels, value, timestampMs };
}

/** A copy of the labels with one more label. */
function withLabel(labels: Labels, name: string, value: string): Labels {
  const out: Labels = {};
  for (const n of Object.keys(labels)) setLabel(out, n, labels[n]);
  setLabel(out, name, value);
  return out;
}
