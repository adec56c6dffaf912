/**
 * The parse stage: Prometheus text exposition (format 0.0.4) in, metric families out.
 *
 * The required package `parse-prometheus-text-format` 1.1.1 reads the sample lines; a thin layer
 * around it (README "Parsing real expositions" lists the defects it covers) keeps HELP
 * and TYPE itself, validates each line like Prometheus' own parser, feeds the package histogram
 * and summary lines as untyped so no label is lost, and regroups them per label set.
 *
 * OpenMetrics leftovers: `# EOF` ends the exposition (anything after it is an error); exemplars
 * (`... # {trace_id="x"} 1`) are validated and dropped, the sample itself is kept.
 */
import type { ParsedExposition } from '../types/model';
import { FamilyAssembler } from './families';
import { parseSampleLines } from './package-adapter';
import { scanExposition } from './scan';

export { ExpositionError } from './errors';

/** Parses an exposition; throws ExpositionError (with the 1-based line) when it is malformed. */
export function parseExposition(text: string): ParsedExposition {
  // A byte-order mark is not part of the first metric name.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const scanned = scanExposition(body);
  const { sampleLines, lineNumbers } = scanned;
  const assembler = new FamilyAssembler(scanned);
  // The package is called on chunks of lines: its many small results are consumed while still
  // young (cheaper garbage collection), and a chunk with duplicates falls back on its own.
  for (let start = 0; start < sampleLines.length; start += CHUNK_LINES) {
    const end = Math.min(start + CHUNK_LINES, sampleLines.length);
    assembler.addChunk(start, parseSampleLines(sampleLines.slice(start, end), lineNumbers.slice(start, end)));
  }
  return { families: assembler.families, sampleCount: sampleLines.length };
}

/** Lines per package call (measured by `npm run bench`: 1024 costs about half the layer time of one call for all). */
const CHUNK_LINES = 1024;
