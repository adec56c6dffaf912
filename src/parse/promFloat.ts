/**
 * The one float grammar: Prometheus' own, as its text parser reads a sample value (parseFloat in
 * model/textparse/promparse.go: Go's strconv.ParseFloat, without the forms Go added in 1.13).
 * Checked against the real Prometheus 2.42 server (test/reference-parser.test.ts):
 * - decimal: `1`, `-1.5`, `.5`, `5.`, `00012`, `1.5E3`, `+.5e+2`;
 * - `Inf`/`Infinity` with an optional sign and `NaN` without one, any letter case;
 * - refused: hex (`0x10`, `0x1p4`), underscores (`1_000`), a signed NaN (`-nan`), `1e`, and a
 *   finite literal beyond float64 (`1e400`: "value out of range"); `1e-400` is 0, as in Go.
 * The parser's line grammar, the `le`/`quantile` normalisation and the derivations' bucket bounds
 * all read numbers through this module.
 */

/** The grammar as a regular-expression source, for the line grammar's patterns. */
export const PROM_FLOAT_SRC = '(?:[+-]?(?:(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[Ii][Nn][Ff](?:[Ii][Nn][Ii][Tt][Yy])?)|[Nn][Aa][Nn])';

const PROM_FLOAT = new RegExp(`^${PROM_FLOAT_SRC}$`);

/**
 * The number of a token already matched by PROM_FLOAT_SRC; undefined when it is a finite literal
 * too large for a float64 (Go's ParseFloat answers ErrRange there, and Prometheus fails the scrape).
 */
export function floatOfToken(token: string): number | undefined {
  const n = +token;
  // The words JavaScript's Number() does not read (`inf`, `+INF`, `nan`...) end in n/N (NaN) or f/F.
  if (n !== n) {
    if ((token.charCodeAt(token.length - 1) | 0x20) === 0x6e) return NaN;
    return token.charCodeAt(0) === 0x2d ? -Infinity : Infinity;
  }
  if (n - n === 0) return n;
  // ±Infinity: the word `Infinity` (ends in y/Y), or a finite literal that overflowed.
  return (token.charCodeAt(token.length - 1) | 0x20) === 0x79 ? n : undefined;
}

/** A number as Prometheus reads one, or undefined when Prometheus refuses the text. */
export function parsePromFloat(text: string): number | undefined {
  return PROM_FLOAT.test(text) ? floatOfToken(text) : undefined;
}

const INT64_MAX = '9223372036854775807';

/** Whether a timestamp token (digits only, as the line grammar allows) fits Go's int64, as Prometheus' ParseInt requires. */
export function timestampInRange(digits: string): boolean {
  if (digits.length < INT64_MAX.length) return true;
  const significant = digits.replace(/^0+/, '');
  return significant.length < INT64_MAX.length || (significant.length === INT64_MAX.length && significant <= INT64_MAX);
}
