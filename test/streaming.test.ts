/**
 * The streaming parser against the whole-text one: bytes fed in arbitrary pieces (inside lines,
 * inside UTF-8 sequences, one byte at a time) give what parseExposition gives on the whole text,
 * errors and their line numbers included; a scrape that hands its body to the parser never holds it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { ExpositionError, ExpositionParser, parseExposition } from '../src/parse/exposition';
import { scrapeTarget } from '../src/scrape/scrape';
import { generateExposition } from '../scripts/bench/exposition';
import { startTextTarget } from '../scripts/bench/target';

const FIXTURES = path.join(__dirname, 'fixtures', 'expositions');
const texts = [
  ...['bharatmart.txt', 'openmetrics-leftovers.txt', 'quirks.txt'].map((f) => readFileSync(path.join(FIXTURES, f), 'utf8')),
  generateExposition(3000).text,
  '\uFEFF# HELP g Ünïcode in HELP ✓\n# TYPE g gauge\r\ng{l="日本語 ✓"} 1\r\ng{l="b"} 2', // BOM, CRLF, multi-byte, no final newline
];

/** Bytes cut at the given fractions (sorted, deduplicated), in order. */
function pieces(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    out.push(bytes.subarray(from, to));
    from = to;
  }
  return out;
}

/** parseExposition's result or its error (message with the line). */
function whole(text: string): unknown {
  try {
    return parseExposition(text);
  } catch (e) {
    return { error: (e as Error).message, line: (e as ExpositionError).line };
  }
}

/** The streaming parser's result or error, fed `chunks`. */
function streamed(chunks: Buffer[]): unknown {
  const parser = new ExpositionParser();
  for (const c of chunks) parser.push(c);
  try {
    return parser.end();
  } catch (e) {
    return { error: (e as Error).message, line: (e as ExpositionError).line };
  }
}

describe('ExpositionParser: bytes in any pieces parse as the whole text', () => {
  test('fixtures and a generated exposition, cut anywhere (inside lines and UTF-8 sequences too)', () => {
    for (const text of texts) {
      const bytes = Buffer.from(text, 'utf8');
      const expected = whole(text);
      assert.ok(!(expected as { error?: string }).error, 'the fixture parses');
      fc.assert(
        fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }), (cuts) => {
          assert.deepEqual(streamed(pieces(bytes, cuts)), expected);
        }),
        { numRuns: 30, seed: 15 },
      );
      assert.deepEqual(streamed([...bytes].map((b) => Buffer.from([b]))), expected, 'one byte at a time');
    }
  });

  test('a malformed line is reported with its number however the body was cut, and only at the end', () => {
    const text = texts[3].split('\n');
    text.splice(2500, 0, 'broken{a="1" 2');
    const bad = text.join('\n');
    const expected = whole(bad) as { error: string; line: number };
    assert.equal(expected.line, 2501);
    for (const cuts of [[0.1, 0.5, 0.9], [0.3333], []]) assert.deepEqual(streamed(pieces(Buffer.from(bad), cuts)), expected);
    const parser = new ExpositionParser();
    assert.doesNotThrow(() => parser.push(Buffer.from(bad)), 'push never throws: the scrape reads on');
    assert.throws(() => parser.end(), ExpositionError);
  });

  test('invalid UTF-8 split across pieces is still found on its line', () => {
    const bytes = Buffer.concat([Buffer.from('# TYPE g gauge\ng{a="ok"} 1\ng{a="'), Buffer.from([0xc3, 0x28]), Buffer.from('"} 2\n')]);
    const one = streamed([bytes]) as { error?: string; line?: number };
    assert.equal(one.line, 3, JSON.stringify(one));
    for (let cut = 1; cut < bytes.length; cut++) assert.deepEqual(streamed([bytes.subarray(0, cut), bytes.subarray(cut)]), one, `cut at ${cut}`);
  });
});

test('a scrape with a consumer streams the body into it (gzip too) and keeps no text', async () => {
  const target = await startTextTarget();
  try {
    const text = texts[3];
    target.serve(text);
    const parser = new ExpositionParser();
    const r = await scrapeTarget(new URL(target.url), { timeoutMs: 20_000, maxBytes: 16 * 1024 * 1024, consume: parser });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.text, '', 'no text kept');
    assert.equal(r.bytes, Buffer.byteLength(text));
    assert.deepEqual(parser.end(), parseExposition(text));
  } finally {
    await target.close();
  }
});
