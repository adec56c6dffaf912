/**
 * A sample of a Prometheus job's target gets its labels as Prometheus 2.42 gives them
 * (scrape/scrape.go mutateSampleLabels): the target's labels merged by `honor_labels`, then
 * `metric_relabel_configs` with `__name__`; then `sample_limit` and the label limits, counted after
 * metric relabelling, fail the whole target. Pure, no I/O.
 */
import type { JobSampleRules, Labels, MetricFamily } from '../types/model';
import { relabel } from '../relabel/relabel';
import { expandFamily, type SampleLine } from './samples';

const EXPORTED_PREFIX = 'exported_';

/** honor_labels: false. A clashing exposed label (non-empty) is kept as `exported_<name>`, the prefix repeated while taken. */
function mergeTargetWins(exposed: Labels, target: Labels): Labels {
  const out: Labels = { ...exposed };
  const conflicts: [string, string][] = [];
  for (const [k, v] of Object.entries(target)) {
    if (exposed[k]) conflicts.push([k, exposed[k]]);
    out[k] = v;
  }
  if (conflicts.length === 0) return out;
  // Prometheus resolves the shortest names first (a stable sort).
  conflicts.sort((a, b) => a[0].length - b[0].length);
  const renamed = new Set<string>();
  for (const [name, value] of conflicts) {
    let n = name;
    do n = EXPORTED_PREFIX + n;
    while (Object.hasOwn(exposed, n) || Object.hasOwn(target, n) || renamed.has(n));
    renamed.add(n);
    out[n] = value;
  }
  return out;
}

/** honor_labels: true. An exposed label wins, even an empty one (the label is then absent). */
function mergeExposedWins(exposed: Labels, target: Labels): Labels {
  const out: Labels = { ...exposed };
  for (const [k, v] of Object.entries(target)) if (!Object.hasOwn(exposed, k)) out[k] = v;
  return out;
}

/** A sample's name and labels after the job's rules, or undefined when metric_relabel_configs drop it. */
export function jobSampleLabels(
  rules: JobSampleRules,
  name: string,
  labels: Labels,
  structural?: { key: string; value: string; written: string },
): { name: string; labels: Labels } | undefined {
  const exposed: Labels = { ...labels, __name__: name };
  // Prometheus 2.x relabels `le`/`quantile` as written; the posted value stays the normalised one when untouched.
  if (structural) exposed[structural.key] = structural.written;
  const merged = rules.honorLabels ? mergeExposedWins(exposed, rules.targetLabels) : mergeTargetWins(exposed, rules.targetLabels);
  const out = relabel(merged, rules.metricRelabel);
  if (out === undefined || !out.__name__) return undefined;
  const { __name__: finalName, ...rest } = out;
  if (structural && rest[structural.key] === structural.written) rest[structural.key] = structural.value;
  return { name: finalName, labels: rest };
}

/** The lines of a sample, as the job's rules see them. */
function lineLabels(rules: JobSampleRules, line: SampleLine): { name: string; labels: Labels } | undefined {
  return jobSampleLabels(rules, line.metricName, line.labels, line.structural);
}

/**
 * Why the target fails as a whole, or undefined: more samples than `sample_limit` after metric
 * relabelling, or a sample over a label limit (Prometheus then stores none of the scrape).
 */
export function jobLimitError(rules: JobSampleRules, families: readonly MetricFamily[]): string | undefined {
  const { sampleLimit, labelLimit, labelNameLengthLimit, labelValueLengthLimit } = rules.limits;
  if (sampleLimit === 0 && labelLimit === 0 && labelNameLengthLimit === 0 && labelValueLengthLimit === 0) return undefined;
  let kept = 0;
  for (const family of families) {
    for (const line of expandFamily(family)) {
      const out = lineLabels(rules, line);
      if (!out) continue;
      kept++;
      const entries = Object.entries(out.labels);
      // Prometheus counts __name__ among the labels.
      if (labelLimit > 0 && entries.length + 1 > labelLimit)
        return `label_limit exceeded (metric: ${out.name}, number of labels: ${entries.length + 1}, limit: ${labelLimit})`;
      for (const [k, v] of entries) {
        if (labelNameLengthLimit > 0 && k.length > labelNameLengthLimit)
          return `label_name_length_limit exceeded (metric: ${out.name}, label name: ${k}, length: ${k.length}, limit: ${labelNameLengthLimit})`;
        // Go counts bytes.
        const bytes = Buffer.byteLength(v, 'utf8');
        if (labelValueLengthLimit > 0 && bytes > labelValueLengthLimit)
          return `label_value_length_limit exceeded (metric: ${out.name}, label name: ${k}, value length: ${bytes}, limit: ${labelValueLengthLimit})`;
      }
    }
  }
  if (sampleLimit > 0 && kept > sampleLimit) return `sample_limit exceeded: ${kept} samples after metric_relabel_configs > sample_limit ${sampleLimit}`;
  return undefined;
}
