/**
 * Runs the required `parse-prometheus-text-format` package on the normalised sample lines and
 * returns exactly one raw sample per line, in order. The package merges consecutive samples with
 * equal labels (duplicates); when that happens, or when it throws, each line is parsed on its own
 * so that no sample is lost and a failure names its line.
 */
import parsePrometheusTextFormat, { type RawMetric } from 'parse-prometheus-text-format';
import { ExpositionError, quote } from './errors';

/** One raw sample per input line: the sample name and the package's strings. */
export interface PackageSamples {
  names: string[];
  metrics: RawMetric[];
}

/** Parses sample lines (no comments, no TYPE) so that every line comes back as one metric. */
export function parseSampleLines(lines: string[], lineNumbers: number[]): PackageSamples {
  return parseInBulk(lines) ?? parseLineByLine(lines, lineNumbers);
}

/** One package call for the whole text; undefined if the package merged lines or threw. */
function parseInBulk(lines: string[]): PackageSamples | undefined {
  if (lines.length === 0) return { names: [], metrics: [] };
  let families;
  try {
    // Without TYPE lines every family is untyped, so no histogram/summary folding happens, and
    // the final newline keeps the package from dropping the last sample.
    families = parsePrometheusTextFormat(`${lines.join('\n')}\n`);
  } catch {
    return undefined;
  }
  const names: string[] = [];
  const metrics: RawMetric[] = [];
  for (const family of families) {
    for (const metric of family.metrics) {
      names.push(family.name);
      metrics.push(metric);
    }
  }
  return metrics.length === lines.length ? { names, metrics } : undefined;
}

/** One package call per line: slower, but nothing can merge and an error has a line number. */
function parseLineByLine(lines: string[], lineNumbers: number[]): PackageSamples {
  const names: string[] = [];
  const metrics: RawMetric[] = [];
  for (let i = 0; i < lines.length; i++) {
    let families;
    try {
      families = parsePrometheusTextFormat(`${lines[i]}\n`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new ExpositionError(lineNumbers[i], `the parser rejected the sample: ${quote(message, 120)}`);
    }
    if (families.length !== 1 || families[0].metrics.length !== 1 || families[0].metrics[0].value === undefined) {
      throw new ExpositionError(lineNumbers[i], 'the parser did not return exactly one sample for this line');
    }
    names.push(families[0].name);
    metrics.push(families[0].metrics[0]);
  }
  return { names, metrics };
}
