/**
 * The parse stage: Prometheus text exposition (format 0.0.4) in, metric families out.
 *
 * The required package `parse-prometheus-text-format` 1.1.1 reads the sample lines; a thin layer
 * around it (docs/mapping.md "What the parser accepts and refuses" lists the defects it covers) keeps HELP
 * and TYPE itself, validates each line like Prometheus' own parser, feeds the package histogram
 * and summary lines as untyped so no label is lost, and regroups them per label set.
 *
 * OpenMetrics leftovers: `# EOF` ends the exposition (anything after it is an error); exemplars
 * (`... # {trace_id="x"} 1`) are validated and dropped, the sample itself is kept.
 */
import type { ParsedExposition } from '../types/model';
import { ExpositionError } from './errors';
import { FamilyAssembler } from './families';
import { parseSampleLines } from './package-adapter';
import { LineScanner, SampleLimitError, type Declaration } from './scan';
import { decodeExposition } from './utf8';

export { ExpositionError, shownExpositionError } from './errors';
export { SampleLimitError } from './scan';

/**
 * Parses an exposition; throws ExpositionError (with the 1-based line) when it is malformed and
 * SampleLimitError when it has more than `sampleLimit` samples.
 */
export function parseExposition(text: string, sampleLimit = Infinity): ParsedExposition {
  const parser = new ExpositionParser({ sampleLimit });
  parser.pushText(text);
  return parser.end();
}

/** Lines per package call (measured by `npm run bench`: 1024 costs about half the layer time of one call for all). */
const CHUNK_LINES = 1024;
const NEWLINE = 0x0a;

/** What one chunk of sample lines added to a parse: samples, new families, body bytes read. */
interface ParseGrowth {
  samples: number;
  families: number;
  bytes: number;
}

/**
 * The exposition parsed as it arrives: bytes (or text) in pieces of any size; each piece's whole
 * lines are decoded, scanned and handed to the package in chunks, so neither the whole text nor
 * all its lines ever exist at once. The families are complete at end(), which is also where the
 * first error is thrown: a malformed exposition is refused as a whole, never half used.
 * A TYPE line applies to the samples after it (the samples before it are settled first), so the
 * result never depends on where the pieces were cut.
 */
export class ExpositionParser {
  private readonly declarations = new Map<string, Declaration>();
  private readonly scanner = new LineScanner(this.declarations);
  private readonly assembler = new FamilyAssembler(this.declarations);
  /** Sample lines waiting for the package, with their line numbers. */
  private lines: string[] = [];
  private lineNumbers: number[] = [];
  private sampleCount = 0;
  /** 1-based number of the next line. */
  private nextLineNo = 1;
  /** Bytes (or text) of an unfinished last line. */
  private carryBytes: Buffer[] = [];
  private carryText = '';
  private started = false;
  private error: ExpositionError | Error | undefined;
  /** Most samples accepted (SCRAPE_SAMPLE_LIMIT): the parse stops at the next one, so memory stays bounded. */
  private readonly sampleLimit: number;
  private readonly onSample = (line: string, lineNo: number): void => {
    if (this.sampleCount + this.lines.length >= this.sampleLimit) throw new SampleLimitError(this.sampleLimit);
    this.lines.push(line);
    this.lineNumbers.push(lineNo);
    if (this.lines.length >= CHUNK_LINES) this.flush();
  };
  private readonly onType = (): void => this.flush();
  /** Told what each chunk adds to what the parse holds; may throw to stop the parse (a memory budget). */
  private readonly onGrowth?: (growth: ParseGrowth) => void;
  /** Body bytes taken since the last chunk was handed on. */
  private pendingBytes = 0;

  constructor(opts: { sampleLimit?: number; onGrowth?: (growth: ParseGrowth) => void } = {}) {
    this.sampleLimit = opts.sampleLimit ?? Infinity;
    if (opts.onGrowth) this.onGrowth = opts.onGrowth;
  }

  /** Adds raw bytes of the body (UTF-8; invalid bytes are reported by line, see utf8.ts). */
  push(chunk: Buffer): void {
    if (this.error) return;
    this.pendingBytes += chunk.length;
    const cut = chunk.lastIndexOf(NEWLINE);
    if (cut < 0) {
      this.carryBytes.push(chunk);
      return;
    }
    const head = this.carryBytes.length > 0 ? Buffer.concat([...this.carryBytes, chunk.subarray(0, cut + 1)]) : chunk.subarray(0, cut + 1);
    this.carryBytes = cut + 1 < chunk.length ? [chunk.subarray(cut + 1)] : [];
    // A newline byte is never part of a multi-byte UTF-8 sequence: whole lines decode on their own.
    this.scanLines(decodeExposition(head));
  }

  /** Adds text (for callers that already have it). */
  pushText(text: string): void {
    if (this.error) return;
    this.pendingBytes += text.length;
    const cut = text.lastIndexOf('\n');
    if (cut < 0) {
      this.carryText += text;
      return;
    }
    const head = this.carryText + text.slice(0, cut + 1);
    this.carryText = text.slice(cut + 1);
    this.scanLines(head);
  }

  /** The parsed exposition; throws the first ExpositionError of the input. */
  end(): ParsedExposition {
    if (!this.error) {
      const rest = this.carryBytes.length > 0 ? decodeExposition(Buffer.concat(this.carryBytes)) : '';
      this.carryBytes = [];
      if (rest + this.carryText !== '') this.scanLines(rest + this.carryText + '\n');
      this.carryText = '';
      if (!this.error) this.guard(() => this.flush());
    }
    if (this.error) throw this.error;
    return { families: this.assembler.families, sampleCount: this.sampleCount };
  }

  /** Scans whole lines (the text ends with a newline); the first error stops the parse. */
  private scanLines(text: string): void {
    if (!this.started) {
      this.started = true;
      // A byte-order mark is not part of the first metric name.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.guard(() => {
      // The text ends with a newline, so split gives one empty string more than there are lines.
      this.nextLineNo += this.scanner.scanText(text, this.nextLineNo, this.onSample, this.onType) - 1;
    });
  }

  /** Hands the waiting sample lines to the package and the assembler. */
  private flush(): void {
    if (this.lines.length === 0) return;
    const lines = this.lines;
    const lineNumbers = this.lineNumbers;
    this.lines = [];
    this.lineNumbers = [];
    this.sampleCount += lines.length;
    const familiesBefore = this.assembler.families.length;
    // The package is called on chunks of lines: its many small results are consumed while still
    // young (cheaper garbage collection), and a chunk with duplicates falls back on its own.
    this.assembler.addChunk(lines, lineNumbers, parseSampleLines(lines, lineNumbers));
    if (this.onGrowth) {
      const bytes = this.pendingBytes;
      this.pendingBytes = 0;
      this.onGrowth({ samples: lines.length, families: this.assembler.families.length - familiesBefore, bytes });
    }
  }

  /** Runs a step, keeping its error (the parse stops at the first one). */
  private guard(step: () => void): void {
    try {
      step();
    } catch (e) {
      if (e instanceof ExpositionError) {
        const first = this.scanner.firstValidLine;
        e.beforeExposition = first === 0 || first >= e.line;
      }
      this.error = e as Error;
    }
  }
}
