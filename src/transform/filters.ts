import type { MetricFamily, SkippedSample, SkipReason } from '../types/model';
import { sampleLines, skippedSample, type Line } from './samples';

/** What a filter step keeps, and a skip record for every sample it removed. */
interface Filtered<T> {
  kept: T[];
  skipped: SkippedSample[];
}

/** Tests name against re without depending on (or moving) a global/sticky regex's lastIndex. */
function matchesName(re: RegExp, name: string): boolean {
  const stateless = re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, '')) : re;
  return stateless.test(name);
}

/** Keeps families for which keep() holds; every sample of the others is skipped with reason. */
function partitionFamilies(families: MetricFamily[], keep: (f: MetricFamily) => boolean, reason: SkipReason): Filtered<MetricFamily> {
  const out: Filtered<MetricFamily> = { kept: [], skipped: [] };
  for (const family of families) {
    if (keep(family)) out.kept.push(family);
    else out.skipped.push(...sampleLines(family).map((l) => skippedSample(l, reason)));
  }
  return out;
}

/** METRICS_INCLUDE: only families whose name matches are kept (all are kept when unset). */
export function filterByInclude(families: MetricFamily[], include: RegExp | undefined): Filtered<MetricFamily> {
  return partitionFamilies(families, (f) => include === undefined || matchesName(include, f.name), 'filtered_by_include');
}

/** METRICS_EXCLUDE: families whose name matches are dropped (none when unset). */
export function filterByExclude(families: MetricFamily[], exclude: RegExp | undefined): Filtered<MetricFamily> {
  return partitionFamilies(families, (f) => exclude === undefined || !matchesName(exclude, f.name), 'filtered_by_exclude');
}

/** HISTOGRAM_BUCKETS=false: every `_bucket` line is skipped; other lines pass. */
export function filterHistogramBuckets(lines: Line[], bucketsEnabled: boolean): Filtered<Line> {
  if (bucketsEnabled) return { kept: lines, skipped: [] };
  const out: Filtered<Line> = { kept: [], skipped: [] };
  for (const line of lines) {
    if (line.kind === 'sample' && line.isBucket) out.skipped.push(skippedSample(line, 'histogram_buckets_disabled'));
    else out.kept.push(line);
  }
  return out;
}
