/**
 * The rules that drop families, samples or labels to save streams: METRICS_INCLUDE,
 * METRICS_EXCLUDE, HISTOGRAM_BUCKETS=false and a job's metric_relabel_configs. A dry run also
 * transforms each target without them, and its forecast shows what they save (`forecast.rules`).
 * A new rule that drops to save streams is switched off here too. Pure.
 */
import type { JobSampleRules, TransformOptions } from '../types/model';

/** The transform's options and a job's rules with every drop rule off; everything else as given. */
export function withoutDropRules(opts: TransformOptions, job: JobSampleRules | undefined): { opts: TransformOptions; job?: JobSampleRules } {
  const { include: _include, exclude: _exclude, ...rest } = opts;
  return { opts: { ...rest, histogramBuckets: true }, ...(job ? { job: { ...job, metricRelabel: [] } } : {}) };
}
