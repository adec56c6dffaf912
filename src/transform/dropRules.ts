/**
 * The rules a user writes to drop families, samples or labels: METRICS_INCLUDE, METRICS_EXCLUDE
 * and a job's metric_relabel_configs. A dry run also transforms each target without them, and its
 * forecast shows what they save (`forecast.rules`). A new rule of that kind is switched off here
 * too. HISTOGRAM_BUCKETS stays as set: it is the mapping's choice (off by default), not a rule. Pure.
 */
import type { JobSampleRules, TransformOptions } from '../types/model';

/** The transform's options and a job's rules with every drop rule off; everything else as given. */
export function withoutDropRules(opts: TransformOptions, job: JobSampleRules | undefined): { opts: TransformOptions; job?: JobSampleRules } {
  const { include: _include, exclude: _exclude, ...rest } = opts;
  return { opts: rest, ...(job ? { job: { ...job, metricRelabel: [] } } : {}) };
}
