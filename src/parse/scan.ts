/**
 * The cheap line-level pass around the package: it splits lines (LF or CRLF), records HELP and
 * TYPE itself, validates every sample line against the format, strips exemplars, and rewrites
 * the rare label sets the package cannot read. Everything malformed becomes an ExpositionError.
 */
import type { Labels } from '../types/model';
import { ExpositionError, quote } from './errors';
import { COMMA_SPACE, diagnose, METRIC_NAME, PAIR_FULL, SAMPLE_LINE, SAMPLE_WITH_EXEMPLAR } from './grammar';
import { ANY_SURROGATE, LONE_SURROGATE } from './utf8';
import { ownCopy, setLabel, unescapeHelp, unescapeLabelValue } from './values';

type DeclaredKind = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

/** What HELP and TYPE lines said about one metric name. */
export interface Declaration {
  kind?: DeclaredKind;
  help?: string;
}

const KINDS: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const META = /^#[ \t]+(HELP|TYPE)[ \t]+(.*)$/;
const LEADING_WS = /^[ \t]+/;
const TRAILING_WS = /[ \t]+$/;

/** A target exposing more samples than SCRAPE_SAMPLE_LIMIT: the parse stops there (memory, not format). */
export class SampleLimitError extends Error {
  override name = 'SampleLimitError';
  constructor(readonly limit: number) {
    super(
      `more than ${limit} samples (SCRAPE_SAMPLE_LIMIT): nothing of this target was posted; filter the exposition on the target, or raise ` +
        `SCRAPE_SAMPLE_LIMIT together with the function's memory`,
    );
  }
}

/**
 * The line scan with its state (declarations, `# EOF`), fed text in pieces of whole lines: the
 * streaming parser hands it each piece as it is decoded. Throws ExpositionError at the first
 * malformed line.
 */
export class LineScanner {
  private eofLine = 0;
  /** The first line that was exposition (a valid sample, HELP or TYPE line); 0 = none yet. */
  firstValidLine = 0;

  constructor(readonly declarations: Map<string, Declaration>) {}

  /**
   * Scans `text` (whole lines; the first is line `firstLineNo`); calls `onSample` for each sample
   * line and `onType` before a TYPE line is recorded. Returns the number of lines scanned.
   */
  scanText(text: string, firstLineNo: number, onSample: (line: string, lineNo: number) => void, onType?: () => void): number {
    const lines = text.split('\n');
    // Invalid UTF-8 arrives as lone surrogates (see utf8.ts); text without any surrogate needs no per-line check.
    const mayHaveInvalidUtf8 = ANY_SURROGATE.test(text);
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i];
      if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
      const first = line.charCodeAt(0);
      if (first === 32 || first === 9) line = line.replace(LEADING_WS, '');
      if (line === '') continue;
      const lineNo = firstLineNo + i;
      if (this.eofLine > 0) throw new ExpositionError(lineNo, `unexpected content after "# EOF" (line ${this.eofLine})`);
      if (line.charCodeAt(0) === 35) {
        if (onType !== undefined && line.startsWith('TYPE', line.search(/[^# \t]/))) onType();
        const comment = scanComment(line.replace(TRAILING_WS, ''), lineNo, this.declarations);
        if (comment === 'eof') this.eofLine = lineNo;
        else if (comment === 'meta' && this.firstValidLine === 0) this.firstValidLine = lineNo;
        continue;
      }
      if (mayHaveInvalidUtf8) rejectInvalidUtf8(line, lineNo);
      const normalised = scanSample(line, lineNo);
      if (this.firstValidLine === 0) this.firstValidLine = lineNo;
      onSample(normalised, lineNo);
    }
    return lines.length;
  }
}

/** Records a HELP or TYPE line ('meta'); 'eof' for the OpenMetrics `# EOF` marker. Other comments are ignored ('comment'). */
function scanComment(line: string, lineNo: number, declarations: Map<string, Declaration>): 'eof' | 'meta' | 'comment' {
  if (line === '# EOF') return 'eof';
  const m = META.exec(line);
  if (!m) return 'comment';
  const keyword = m[1];
  const rest = m[2];
  const gap = rest.search(/[ \t]/);
  const name = gap < 0 ? rest : rest.slice(0, gap);
  const body = gap < 0 ? '' : rest.slice(gap).replace(LEADING_WS, '');
  if (!METRIC_NAME.test(name)) throw new ExpositionError(lineNo, `invalid metric name ${quote(name)} after ${keyword}`);
  let decl = declarations.get(name);
  if (!decl) declarations.set(ownCopy(name), (decl = {}));
  if (keyword === 'HELP') {
    // A repeated HELP replaces the earlier one, as in Prometheus' scrape (its metadata keeps the last).
    // Invalid UTF-8 in a HELP text becomes U+FFFD: Prometheus keeps HELP as opaque text, and metadata must be valid.
    decl.help = ownCopy(unescapeHelp(ANY_SURROGATE.test(body) ? body.replace(LONE_SURROGATES, '\uFFFD') : body));
    return 'meta';
  }
  if (body === '') throw new ExpositionError(lineNo, `expected a metric type after TYPE ${name}`);
  if (!KINDS.has(body)) throw new ExpositionError(lineNo, `invalid metric type ${quote(body)} for ${quote(name)}`);
  if (decl.kind !== undefined && decl.kind !== body) {
    throw new ExpositionError(lineNo, `second TYPE line for ${quote(name)} declares ${body}, the first declared ${decl.kind}`);
  }
  decl.kind = body as DeclaredKind;
  return 'meta';
}

const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/**
 * Fails a sample line that held invalid UTF-8 (a lone surrogate here), naming the byte and whether
 * it sits in a label value, as Prometheus' "invalid UTF-8 label value" does.
 */
function rejectInvalidUtf8(line: string, lineNo: number): void {
  const m = LONE_SURROGATE.exec(line);
  if (!m) return;
  const at = m.index;
  const code = line.charCodeAt(at);
  const what = code >= 0xdc80 && code <= 0xdcff ? `byte 0x${(code - 0xdc00).toString(16).toUpperCase()}` : 'an unpaired surrogate';
  const open = line.indexOf('{');
  const inLabels = open >= 0 && open < at && line.indexOf('}', at) > at;
  throw new ExpositionError(lineNo, `invalid UTF-8 ${inLabels ? 'label value' : 'in the sample line'}: ${what} at column ${at + 1}`);
}

/** Validates one sample line; returns it normalised for the package. */
function scanSample(line: string, lineNo: number): string {
  if (!SAMPLE_LINE.test(line)) {
    // Exemplars are OpenMetrics-only; they carry no sample, so they are dropped and the sample kept.
    const m = SAMPLE_WITH_EXEMPLAR.exec(line);
    if (!m) throw new ExpositionError(lineNo, diagnose(line));
    line = m[1];
  }
  const brace = line.indexOf('{');
  return brace >= 0 ? checkLabelSet(line, brace) : line;
}

/** Rewrites label sets with blanks after a comma, which the package throws on (valid in the format). */
function checkLabelSet(line: string, brace: number): string {
  return COMMA_SPACE.test(line) ? canonicalLine(line, brace) : line;
}

/**
 * Parses a validated line's label set exactly (slow path, for the few lines where the package's
 * labels cannot be trusted): rejects duplicate and reserved names, keeps `__proto__`.
 */
export function exactLabels(line: string, lineNo: number): Labels {
  const labels: Labels = {};
  const seen = new Set<string>();
  PAIR_FULL.lastIndex = line.indexOf('{') + 1;
  for (let m = PAIR_FULL.exec(line); m !== null; m = PAIR_FULL.exec(line)) {
    const name = m[1];
    if (seen.has(name)) throw new ExpositionError(lineNo, `duplicate label name ${quote(name)}`);
    if (name === '__name__') throw new ExpositionError(lineNo, RESERVED_NAME_LABEL);
    seen.add(name);
    setLabel(labels, name, unescapeLabelValue(m[2]));
  }
  return labels;
}

/** Prometheus adds the metric name as `__name__`, so an exposed one would be a duplicate. */
export const RESERVED_NAME_LABEL = 'label name "__name__" is reserved for the metric name';

/** Rewrites a validated line as `name{a="1",b="2"} value [ts]`: the package throws on blanks after commas. */
function canonicalLine(line: string, brace: number): string {
  const pairs: string[] = [];
  let end = brace + 1;
  PAIR_FULL.lastIndex = end;
  for (let m = PAIR_FULL.exec(line); m !== null; m = PAIR_FULL.exec(line)) {
    pairs.push(`${m[1]}="${m[2]}"`);
    end = PAIR_FULL.lastIndex;
  }
  const close = line.indexOf('}', end);
  const tail = line.slice(close + 1).replace(LEADING_WS, '');
  return `${line.slice(0, brace).replace(TRAILING_WS, '')}{${pairs.join(',')}} ${tail}`;
}
