/**
 * The one float grammar (src/parse/promFloat.ts), as the real Prometheus 2.42 reads a sample value
 * (test/reference-parser.test.ts checks the same spellings against the server), and its users:
 * the `le`/`quantile` normalisation keeps what Prometheus cannot read as written.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromFloat, timestampInRange } from '../src/parse/promFloat';
import { normalizeBoundLabel } from '../src/transform/floats';

describe("Prometheus' float grammar", () => {
  it('reads decimals, Inf/Infinity with a sign and NaN without one, in any letter case', () => {
    const read: [string, number][] = [
      ['1', 1],
      ['-1.5', -1.5],
      ['.5', 0.5],
      ['5.', 5],
      ['00012', 12],
      ['1.5E3', 1500],
      ['+.5e+2', 50],
      ['1e-400', 0],
      ['1.7976931348623157e308', Number.MAX_VALUE],
      ['Inf', Infinity],
      ['+inf', Infinity],
      ['-INFINITY', -Infinity],
      ['infinity', Infinity],
      ['-Infinity', -Infinity],
      ['nan', NaN],
      ['NaN', NaN],
    ];
    for (const [text, value] of read) assert.deepEqual(parsePromFloat(text), value, text);
  });
  it('refuses hex, underscores, a signed NaN, blanks, a bare exponent and a finite literal beyond float64', () => {
    for (const text of ['0x10', '0x1p4', '1_000', '+NaN', '-nan', ' 1', '1 ', '1e', 'e1', '', '.', '+', '1e400', '-1.8e308', 'Infinit', 'infinityy'])
      assert.equal(parsePromFloat(text), undefined, JSON.stringify(text));
  });
  it('timestamps: digits within int64, as ParseInt', () => {
    assert.ok(timestampInRange('9223372036854775807'));
    assert.ok(timestampInRange('0009223372036854775807'));
    assert.ok(!timestampInRange('9223372036854775808'));
    assert.ok(!timestampInRange('99999999999999999999'));
  });
  it('le/quantile: a float in OpenMetrics form, anything Prometheus cannot read kept as written', () => {
    assert.deepEqual(['1', '1e0', '+Inf', 'inf', '0.5', '-nan', '0x10', '1_0', 'abc'].map(normalizeBoundLabel), [
      '1.0',
      '1.0',
      '+Inf',
      '+Inf',
      '0.5',
      '-nan',
      '0x10',
      '1_0',
      'abc',
    ]);
  });
});
