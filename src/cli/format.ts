/**
 * How the CLI shows an invocation summary: one line (per cycle of `run` and `start`), a table
 * (`once`), and the metric objects a dry run would post. Reads the function's own summary type.
 */
import type { InvocationSummary } from '../handler/summary';
import type { OciMetric } from '../types/model';
import { forecastLines } from '../forecast/forecast';
import type { CardinalityReport } from '../forecast/cardinality';

/** The skip reasons as `reason=count` (or "none"). */
function skippedText(s: Pick<InvocationSummary, 'skipped'>): string {
  const parts = Object.entries(s.skipped).map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? 'none' : parts.join(' ');
}

/** Total of skipped samples over all reasons. */
export function skippedTotal(s: Pick<InvocationSummary, 'skipped'>): number {
  return Object.values(s.skipped).reduce((a, b) => a + (b ?? 0), 0);
}

/** One line: targets up, samples, posted, skipped, failed, duration. */
export function summaryLine(s: InvocationSummary): string {
  const up = s.targets.filter((t) => t.up).length;
  const skipped = skippedTotal(s);
  const failed = s.failed + s.undelivered;
  const down = s.targets.filter((t) => !t.up).map((t) => `${t.url}: ${t.error ?? 'down'}`);
  return (
    `targets ${up}/${s.targets.length} up, samples ${s.samples}, ${s.dryRun ? 'would post' : 'posted'} ${s.dryRun ? s.series : s.posted}, ` +
    `skipped ${skipped}${skipped > 0 ? ` (${skippedText(s)})` : ''}, failed ${failed}, ${Math.round(s.durationMs)} ms` +
    (down.length > 0 ? ` | down: ${down.join('; ')}` : '') +
    (s.errors.length > 0 ? ` | ${s.errors[0].message}` : '')
  );
}

/** The not-derived reasons as `reason=count` (or "none"). */
function notDerivedText(s: Pick<InvocationSummary, 'notDerived'>): string {
  const parts = Object.entries(s.notDerived).map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? 'none' : parts.join(' ');
}

/** The state line: where, read/written, and the error with its IAM statement. */
function stateText(s: Pick<InvocationSummary, 'state'>): string {
  const st = s.state;
  if (!st.enabled) return 'off (no derived series: set STATE_BUCKET, or --state-file with once)';
  const parts = [
    `${st.where ?? '?'}: read ${st.read ?? '-'}, ` +
      `${st.written ? `written${(st.writeAttempts ?? 1) > 1 ? ` after ${st.writeAttempts} attempts` : ''}` : 'not written'}`,
  ];
  if (st.error) parts.push(`error: ${st.error}`);
  if (st.iamPolicy) parts.push(`add: ${st.iamPolicy}`);
  return parts.join('; ');
}

/** Left-aligned text table. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** The summary as a human-readable block (what `once` prints without --json). */
export function summaryTable(s: InvocationSummary): string {
  const out: string[] = [];
  out.push(`${s.ok ? 'ok' : 'FAILED'}${s.dryRun ? ' (dry run: nothing posted)' : ''}: ${summaryLine(s)}`);
  out.push('');
  out.push(
    table(
      ['TARGET', 'UP', 'SAMPLES', 'SERIES', 'POSTED', 'SKIPPED', 'FAILED', 'MS', 'ERROR'],
      s.targets.map((t) => [
        t.url,
        t.up ? 'yes' : 'no',
        String(t.samples),
        String(t.series),
        String(t.posted),
        String(t.skipped),
        String(t.failed + t.undelivered),
        String(Math.round(t.durationMs)),
        t.error ?? '',
      ]),
    ),
  );
  out.push('');
  out.push(`samples ${s.samples} = series ${s.series} - derived ${s.derived} + skipped ${skippedTotal(s)}`);
  out.push(`series ${s.series} = posted ${s.posted} + failed ${s.failed} + undelivered ${s.undelivered}${s.dryRun ? ' (dry run: none posted)' : ''}`);
  out.push(`skipped: ${skippedText(s)}`);
  out.push(`derived ${s.derived}; not derived: ${notDerivedText(s)}`);
  out.push(`state: ${stateText(s)}`);
  out.push(
    `self-metrics: posted ${s.selfMetrics.posted}, failed ${s.selfMetrics.failed}; requests ${s.requests}, retries ${s.retries}, throttled ${s.throttled}`,
  );
  for (const e of s.errors.slice(0, 5)) out.push(`error: ${e.message} (${e.metrics} metrics)`);
  // Older functions (or hand-made summaries) may carry no forecast.
  if (s.dryRun && s.forecast) out.push('', ...forecastLines(s.forecast));
  if (s.cardinality) out.push('', ...cardinalityLines(s.cardinality));
  return out.join('\n');
}

/** A share as a percentage with one decimal. */
function percent(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}

/** A cost and its share of the monthly cost, or '-' without a price. */
function costText(c: { monthlyCost?: number; shareOfMonthlyCost?: number }): string {
  return c.monthlyCost === undefined ? '-' : `${c.monthlyCost} (${percent(c.shareOfMonthlyCost ?? 0)})`;
}

/** The cardinality report: per job, its top names, each with a table of its labels (src/forecast/cardinality.ts). */
function cardinalityLines(r: CardinalityReport): string[] {
  const out = [
    `cardinality of the ${r.totalStreams} metric streams${r.monthlyCost === undefined ? '' : ` (${r.monthlyCost} a month)`}: ` +
      'per job, the names with the most streams; per name, the labels with the most values. ' +
      'MERGED = streams that merge away if the label is dropped, COST = what they cost a month',
  ];
  for (const j of r.jobs) {
    out.push(
      `job ${j.job === '' ? '(implicit: METRICS_ENDPOINT and discovery)' : `"${j.job}"`}: ${j.streams} streams (${percent(j.shareOfStreams)}), ` +
        `${j.families} names${j.approximate ? ' (approximate)' : ''}, cost ${costText(j)}`,
    );
    for (const f of j.top) {
      out.push(`  ${f.name}: ${f.streams} streams (${percent(f.shareOfStreams)}), cost ${costText(f)}${f.approximate ? ' (approximate)' : ''}`);
      const rows = f.labels.map((l) => [
        l.label,
        `${l.values}${l.approximate ? '~' : ''}`,
        String(l.mergedStreams),
        percent(l.shareOfFamily),
        percent(l.shareOfStreams),
        costText(l),
      ]);
      out.push(...indent(table(['LABEL', 'VALUES', 'MERGED', 'OF NAME', 'OF ALL', 'COST'], rows), '    '));
    }
  }
  return out;
}

/** Each line of a block, indented. */
function indent(block: string, by: string): string[] {
  return block.split('\n').map((l) => by + l);
}

/** A metric object as `name{dim="v",...} value` (the last datapoint). */
function metricLine(m: OciMetric): string {
  const dims = Object.entries(m.dimensions)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  const last = m.datapoints[m.datapoints.length - 1];
  return `${m.name}{${dims}} ${last ? last.value : '(no datapoint)'}`;
}

/** Every metric a dry run would post, one per line, after a heading. */
export function metricListing(s: InvocationSummary): string {
  const metrics = s.metricData ?? [];
  const first = metrics[0];
  const where = first ? ` to namespace ${first.namespace}${first.resourceGroup ? ` (resource group ${first.resourceGroup})` : ''}` : '';
  return [
    `would post ${metrics.length} metric objects${where} (${s.series} series and ${metrics.length - s.series} self-metrics):`,
    ...metrics.map((m) => `  ${metricLine(m)}`),
  ].join('\n');
}
