/**
 * Parse-stage benchmark (issue 6): the required package alone versus parseExposition on the same
 * generated 100k-sample exposition (3-5 labels, labelled histograms), medians of several
 * interleaved runs. Run: `node --expose-gc --import tsx scripts/bench-parse.ts [samples] [runs]`.
 */
import os from 'node:os';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { parseExposition } from '../src/parse/exposition';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const LES = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];

/** A realistic exposition: counters and gauges with 2-4 labels, labelled histograms with 3 labels plus `le`. */
export function generateExposition(targetSamples: number): string {
  const out: string[] = [];
  let samples = 0;
  for (let f = 0; samples < targetSamples; f++) {
    if (f % 4 === 3) samples += pushHistogram(out, `app_request_${f}_seconds`);
    else samples += pushScalar(out, `app_metric_${f}`, f % 4 === 0 ? 'counter' : 'gauge', f);
  }
  return `${out.join('\n')}\n`;
}

/** One labelled histogram family: 8 label sets, 12 buckets each, plus _sum and _count. */
function pushHistogram(out: string[], name: string): number {
  out.push(`# HELP ${name} Request latency.`, `# TYPE ${name} histogram`);
  for (let s = 0; s < 8; s++) {
    const labels = `method="${METHODS[s % 4]}",route="/api/v1/items/${s}",status_code="${200 + s}"`;
    let cumulative = 0;
    for (const le of LES) {
      cumulative += s + 1;
      out.push(`${name}_bucket{${labels},le="${le}"} ${cumulative}`);
    }
    out.push(`${name}_sum{${labels}} ${(cumulative * 0.123).toFixed(6)}`, `${name}_count{${labels}} ${cumulative}`);
  }
  return 8 * (LES.length + 2);
}

/** One counter or gauge family with 100 series of 2 or 4 labels. */
function pushScalar(out: string[], name: string, type: string, f: number): number {
  out.push(`# HELP ${name} Some ${type} number ${f}.`, `# TYPE ${name} ${type}`);
  for (let s = 0; s < 100; s++) {
    const extra = s % 2 ? `,pod="pod-${s % 7}",zone="zone-${s % 3}"` : '';
    out.push(`${name}{instance="host-${s}:9100",job="node"${extra}} ${s * 1.5 + f}`);
  }
  return 100;
}

/** Milliseconds one call takes (after a full GC when node runs with --expose-gc, so runs do not pay for each other). */
function time(fn: () => unknown): number {
  (globalThis as { gc?: () => void }).gc?.();
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Median of a list of numbers. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Runs both parsers side by side (alternating) and prints the table and the ratio. */
function main(): void {
  const samples = Number(process.argv[2] ?? 100_000);
  const runs = Number(process.argv[3] ?? 11);
  const text = generateExposition(samples);
  const parsed = parseExposition(text);
  const packageOnly: number[] = [];
  const layered: number[] = [];
  for (let i = 0; i < 2; i++) {
    parsePrometheusTextFormat(text);
    parseExposition(text);
  }
  for (let i = 0; i < runs; i++) {
    packageOnly.push(time(() => parsePrometheusTextFormat(text)));
    layered.push(time(() => parseExposition(text)));
  }
  const pkg = median(packageOnly);
  const ours = median(layered);
  const ratio = (ours - pkg) / pkg;
  console.log(`machine: ${os.cpus().length}x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
  console.log(`exposition: ${(text.length / 1e6).toFixed(1)} MB, ${parsed.sampleCount} samples, ${parsed.families.length} families, ${runs} runs`);
  console.log('| parser | median ms |');
  console.log('| --- | --- |');
  console.log(`| parse-prometheus-text-format alone (raw text, wrong result) | ${pkg.toFixed(1)} |`);
  console.log(`| parseExposition (package + layer) | ${ours.toFixed(1)} |`);
  console.log(`layer cost / package cost = ${ratio.toFixed(2)} (budget 0.50)`);
  console.log(`rss after the runs: ${Math.round(process.memoryUsage().rss / 1e6)} MB`);
}

if (require.main === module) main();
