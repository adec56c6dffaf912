/**
 * The classic Prometheus text format (0.0.4) line grammar, as regular expressions. They run in
 * V8's native regex engine, which keeps validation far cheaper than the package's own
 * character-by-character scan (the parse cost `npm run bench` measures); `diagnose` explains a rejected line.
 */
import { quote } from './errors';
import { PROM_FLOAT_SRC } from './promFloat';

const WS = '[ \\t]';
const METRIC_NAME_SRC = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME_SRC = '[a-zA-Z_][a-zA-Z0-9_]*';
const LABEL_VALUE_SRC = '"(?:[^"\\\\]|\\\\.)*"';
const FLOAT_SRC = PROM_FLOAT_SRC;
const PAIR_SRC = `${LABEL_NAME_SRC}${WS}*=${WS}*${LABEL_VALUE_SRC}${WS}*(?:,${WS}*|(?=\\}))`;
const LABEL_SET_SRC = `\\{${WS}*(?:${PAIR_SRC})*\\}`;
// Each run of blanks is matched by exactly one token, so a failing line is rejected in linear time.
const SAMPLE_SRC = `${WS}*${METRIC_NAME_SRC}(?:${WS}*${LABEL_SET_SRC}${WS}*|${WS}+)${FLOAT_SRC}(?:${WS}+[0-9]+)?`;

export const METRIC_NAME = new RegExp(`^${METRIC_NAME_SRC}$`);
/** A complete, valid sample line (no exemplar). */
export const SAMPLE_LINE = new RegExp(`^${SAMPLE_SRC}${WS}*$`);
/** A sample line followed by an OpenMetrics exemplar; group 1 is the sample part. */
export const SAMPLE_WITH_EXEMPLAR = new RegExp(`^(${SAMPLE_SRC})${WS}+#${WS}*${LABEL_SET_SRC}${WS}*${FLOAT_SRC}(?:${WS}+${FLOAT_SRC})?${WS}*$`);
/** One label pair with its raw (still escaped) value in group 2 (sticky; slow path only). */
export const PAIR_FULL = new RegExp(`${WS}*(${LABEL_NAME_SRC})${WS}*=${WS}*"((?:[^"\\\\]|\\\\.)*)"${WS}*,?`, 'y');
/** A whitespace-after-comma sequence, which makes the package throw (valid in the format). */
export const COMMA_SPACE = /,[ \t]/;

const NAME_AT = new RegExp(`${WS}*(${METRIC_NAME_SRC})`, 'y');
const LABEL_NAME_AT = new RegExp(`${WS}*(${LABEL_NAME_SRC})`, 'y');
const FLOAT_EXACT = new RegExp(`^${FLOAT_SRC}$`);

/** Explains why a line that failed SAMPLE_LINE is malformed, in the words of Prometheus' parser. */
export function diagnose(line: string): string {
  NAME_AT.lastIndex = 0;
  const nameMatch = NAME_AT.exec(line);
  if (!nameMatch) return `invalid metric name at the start of ${quote(line.trimStart())}`;
  const name = nameMatch[1];
  let pos = skipWs(line, NAME_AT.lastIndex);
  if (line[pos] === '{') {
    const labelProblem = diagnoseLabels(line, pos + 1);
    if (typeof labelProblem === 'string') return labelProblem;
    pos = skipWs(line, labelProblem);
    if (pos >= line.length) return `expected a value after the label set of ${quote(name)}`;
  } else {
    if (pos >= line.length) return `expected a value after the metric name ${quote(name)}`;
    if (pos === NAME_AT.lastIndex) return `invalid character ${quote(line[pos])} after the metric name ${quote(name)}`;
  }
  const rest = line
    .slice(pos)
    .split(/[ \t]+/)
    .filter((t) => t !== '');
  if (!FLOAT_EXACT.test(rest[0])) return `invalid sample value ${quote(rest[0])} for ${quote(name)}`;
  if (rest.length > 1 && rest[1].startsWith('#')) return `malformed exemplar after the value of ${quote(name)}`;
  if (rest.length > 1 && !/^[0-9]+$/.test(rest[1])) return `invalid timestamp ${quote(rest[1])} for ${quote(name)}`;
  if (rest.length > 2) return `unexpected ${quote(rest[2])} after the timestamp of ${quote(name)}`;
  return `malformed sample line ${quote(line)}`;
}

/** Walks a label set from just after `{`; returns the index after `}` or the problem found. */
function diagnoseLabels(line: string, start: number): number | string {
  let pos = skipWs(line, start);
  for (;;) {
    if (line[pos] === '}') return pos + 1;
    if (pos >= line.length) return 'label set is not closed with "}"';
    LABEL_NAME_AT.lastIndex = pos;
    const m = LABEL_NAME_AT.exec(line);
    if (!m) return `invalid label name at ${quote(line.slice(pos))}`;
    pos = skipWs(line, LABEL_NAME_AT.lastIndex);
    if (line[pos] !== '=') return `expected "=" after the label name ${quote(m[1])}`;
    pos = skipWs(line, pos + 1);
    if (line[pos] !== '"') return `expected a quoted value for the label ${quote(m[1])}`;
    pos = closingQuote(line, pos + 1);
    if (pos < 0) return `unterminated value of the label ${quote(m[1])} (missing closing quote)`;
    pos = skipWs(line, pos + 1);
    if (line[pos] === ',') pos = skipWs(line, pos + 1);
    else if (line[pos] !== '}') return `expected "," or "}" after the value of the label ${quote(m[1])}`;
  }
}

/** Index of the closing quote of a label value starting at `pos`, or -1 when it is missing. */
function closingQuote(line: string, pos: number): number {
  for (let i = pos; i < line.length; i++) {
    if (line[i] === '\\') i++;
    else if (line[i] === '"') return i;
  }
  return -1;
}

/** First index at or after `pos` that is not a blank or tab. */
function skipWs(line: string, pos: number): number {
  while (pos < line.length && (line[pos] === ' ' || line[pos] === '\t')) pos++;
  return pos;
}
