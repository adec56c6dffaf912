/**
 * Bytes of an exposition -> text, keeping invalid UTF-8 visible. Node's decoder turns each invalid
 * byte into U+FFFD, which a valid U+FFFD in the text would then be indistinguishable from. Here an
 * invalid byte becomes a lone low surrogate (U+DC80-U+DCFF, as Python's "surrogateescape" does):
 * valid UTF-8 can never produce one, so the parser can tell exactly which lines held invalid bytes
 * and fail the scrape with the line number, as Prometheus does ("invalid UTF-8 label value").
 */

/** Length of the valid UTF-8 sequence starting at a non-ASCII byte at `i`, or 0 when it is invalid. */
function sequenceLength(buf: Uint8Array, i: number): number {
  const b0 = buf[i];
  const continuation = (k: number) => i + k < buf.length && (buf[i + k] & 0xc0) === 0x80;
  if (b0 >= 0xc2 && b0 <= 0xdf) return continuation(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    if (!continuation(1) || !continuation(2)) return 0;
    const b1 = buf[i + 1];
    // Overlong forms and UTF-16 surrogates encoded as UTF-8 are invalid.
    if ((b0 === 0xe0 && b1 < 0xa0) || (b0 === 0xed && b1 >= 0xa0)) return 0;
    return 3;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    const b1 = buf[i + 1];
    // Overlong forms and code points above U+10FFFF are invalid.
    if ((b0 === 0xf0 && b1 < 0x90) || (b0 === 0xf4 && b1 >= 0x90)) return 0;
    return 4;
  }
  return 0;
}

/** Decodes with each invalid byte as a lone surrogate U+DC00 + byte (the slow path, only for invalid input). */
function decodeMarkingInvalid(buf: Buffer): string {
  const parts: string[] = [];
  let start = 0;
  let i = 0;
  while (i < buf.length) {
    if (buf[i] < 0x80) {
      i++;
      continue;
    }
    const length = sequenceLength(buf, i);
    if (length > 0) {
      i += length;
      continue;
    }
    if (start < i) parts.push(buf.toString('utf8', start, i));
    parts.push(String.fromCharCode(0xdc00 + buf[i]));
    start = ++i;
  }
  if (start < buf.length) parts.push(buf.toString('utf8', start, buf.length));
  return parts.join('');
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The exposition text; invalid UTF-8 bytes become lone surrogates (see the file comment). */
export function decodeExposition(buf: Buffer): string {
  const text = buf.toString('utf8');
  // Without U+FFFD in the result every byte was valid: the common case costs one search.
  if (!text.includes('\uFFFD')) return text;
  try {
    strictDecoder.decode(buf);
    return text;
  } catch {
    return decodeMarkingInvalid(buf);
  }
}

/** A lone surrogate: what decodeExposition makes of an invalid byte (valid text never has one). */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Any surrogate code unit: a cheap first test before looking for a lone one. */
export const ANY_SURROGATE = /[\uD800-\uDFFF]/;
