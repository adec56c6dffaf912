/**
 * The parse stage: Prometheus text exposition (format 0.0.4) in, metric families out.
 *
 * The required package `parse-prometheus-text-format` 1.1.1 reads the sample lines; a thin layer
 * around it (see ../../shared/reference/prometheus-parser.md for the defects it covers) keeps HELP
 * and TYPE itself, validates each line like Prometheus' own parser, feeds the package histogram
 * and summary lines as untyped so no label is lost, and regroups them per label set.
 *
 * OpenMetrics leftovers: `# EOF` ends the exposition (anything after it is an error); exemplars
 * (`... # {trace_id="x"} 1`) are validated and dropped, the sample itself is kept.
 */
import type { ParsedExposition } from '../types/model';
import { assembleFamilies } from './families';
import { parseSampleLines } from './package-adapter';
import { scanExposition } from './scan';

export { ExpositionError } from './errors';

/** Parses an exposition; throws ExpositionError (with the 1-based line) when it is malformed. */
export function parseExposition(text: string): ParsedExposition {
  // A byte-order mark is not part of the first metric name.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const scanned = scanExposition(body);
  const raw = parseSampleLines(scanned.sampleLines, scanned.lineNumbers);
  return { families: assembleFamilies(scanned, raw), sampleCount: scanned.sampleLines.length };
}
