/**
 * The function's OCI rules (src/transform/limits.ts) and the emulator's independent copy
 * (src/local/emulator/validation.ts) agree at every boundary: what one accepts, the other accepts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countStreams, OCI_LIMITS as EMULATOR_LIMITS, validateMetricObject, validatePostBody } from '../src/local/emulator/validation';
import { parseSettings } from '../src/config/settings';
import { DIMENSION_KEY_RE, DIMENSION_SHARES, OCI_LIMITS, OCI_NAME_RE, OCI_NAMESPACE_RE, OCID_RE, RESERVED_NAMESPACE_PREFIX_RE } from '../src/transform/limits';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const COMPARTMENT = 'ocid1.compartment.oc1..aaaaaaaaexample';

/** A valid metric object with one field replaced. */
function metric(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    namespace: 'ns',
    compartmentId: COMPARTMENT,
    name: 'm',
    dimensions: { instance: 'a' },
    datapoints: [{ timestamp: new Date(NOW).toISOString(), value: 1 }],
    ...over,
  };
}

/** Whether the emulator accepts the object. */
function emulatorAccepts(m: Record<string, unknown>): boolean {
  return validateMetricObject(m, NOW).problems.length === 0;
}

/** Asserts that the function's verdict equals the emulator's for each case, and that both verdicts occur. */
function agree<T>(cases: T[], functionAccepts: (c: T) => boolean, toMetric: (c: T) => Record<string, unknown>): void {
  const verdicts = new Set<boolean>();
  for (const c of cases) {
    const ours = functionAccepts(c);
    verdicts.add(ours);
    assert.equal(emulatorAccepts(toMetric(c)), ours, `${JSON.stringify(c).slice(0, 80)}: function ${ours ? 'accepts' : 'rejects'} it, the emulator does not`);
  }
  assert.deepEqual([...verdicts].sort(), [false, true], 'the cases must cross the boundary');
}

describe('OCI rules: the function and the emulator agree at the boundaries', () => {
  it('metric names', () => {
    const cases = ['a', 'Z', 'a1', 'a.b_c-d$e', '1a', '_a', '.a', '$a', 'a b', 'a/b', 'a:b', 'é', 'aé', 'a\u0000'];
    agree(
      cases,
      (n) => OCI_NAME_RE.test(n),
      (n) => metric({ name: n }),
    );
  });

  it('resource groups', () => {
    const cases = ['rg', 'r.g-1_$', '1rg', 'r g'];
    agree(
      cases,
      (n) => OCI_NAME_RE.test(n),
      (n) => metric({ resourceGroup: n }),
    );
  });

  it('namespaces, with the reserved prefixes', () => {
    const cases = ['ns', 'n_1', 'N', '1ns', '_ns', 'n.s', 'n-s', 'oci_x', 'ORACLE_x', 'ocix', 'oraclex'];
    agree(
      cases,
      (n) => OCI_NAMESPACE_RE.test(n) && !RESERVED_NAMESPACE_PREFIX_RE.test(n),
      (n) => metric({ namespace: n }),
    );
  });

  it('compartment OCIDs', () => {
    const cases = [
      COMPARTMENT,
      'ocid1.compartment.oc1.phx.aaaa',
      'ocid1.compartment.oc1.phx.future.aaaa',
      'OCID1.Compartment.OC1..AAAA',
      'ocid1.compartment..x.aaaa',
      'ocid1.compartment.oc1.aaaa',
      'ocid2.compartment.oc1..aaaa',
      'ocid1.compartment.oc1..',
      'ocid1.compartment.oc1..a/b',
      'compartment',
    ];
    agree(
      cases,
      (id) => OCID_RE.test(id),
      (id) => metric({ compartmentId: id }),
    );
  });

  it('dimension keys: printable ASCII without spaces, at most the key length', () => {
    const max = OCI_LIMITS.maxDimensionKeyLength;
    const cases = ['k', '!', '~', 'a.b/c', 'k'.repeat(max), 'k'.repeat(max + 1), 'a b', '\x7f', 'é', 'a\tb'];
    agree(
      cases,
      (k) => DIMENSION_KEY_RE.test(k) && k.length <= max,
      (k) => metric({ dimensions: { [k]: 'v' } }),
    );
  });

  it('dimension values: non-empty, at most the value length in UTF-16 units', () => {
    const max = OCI_LIMITS.maxDimensionValueLength;
    const cases = ['v', 'v'.repeat(max), 'v'.repeat(max + 1), 'v'.repeat(max - 1) + '😀', 'v'.repeat(max - 2) + '😀', ''];
    agree(
      cases,
      (v) => v.length >= 1 && v.length <= max,
      (v) => metric({ dimensions: { k: v } }),
    );
  });

  it('dimensions per metric: from the minimum to the maximum', () => {
    const cases = [0, OCI_LIMITS.minDimensions, OCI_LIMITS.maxDimensions, OCI_LIMITS.maxDimensions + 1];
    const dims = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    agree(
      cases,
      (n) => n >= OCI_LIMITS.minDimensions && n <= OCI_LIMITS.maxDimensions,
      (n) => metric({ dimensions: dims(n) }),
    );
  });

  it('metadata keys and values: at most the metadata length', () => {
    const max = OCI_LIMITS.maxMetadataLength;
    const cases: [string, string][] = [
      ['help', 'x'.repeat(max)],
      ['help', 'x'.repeat(max + 1)],
      ['k'.repeat(max), 'x'],
      ['k'.repeat(max + 1), 'x'],
    ];
    agree(
      cases,
      ([k, v]) => k.length <= max && v.length <= max,
      ([k, v]) => metric({ metadata: { [k]: v } }),
    );
  });

  it('datapoint age and lead: the function keeps inside both limits', () => {
    const cases = [0, -(OCI_LIMITS.maxPastMs - 1), -OCI_LIMITS.maxPastMs, OCI_LIMITS.maxFutureMs - 1, OCI_LIMITS.maxFutureMs];
    agree(
      cases,
      (d) => d > -OCI_LIMITS.maxPastMs && d < OCI_LIMITS.maxFutureMs,
      (d) => metric({ datapoints: [{ timestamp: new Date(NOW + d).toISOString(), value: 1 }] }),
    );
    // The margins the transform applies to a sample's own timestamp stay inside OCI's window.
    assert.ok(OCI_LIMITS.pastSafetyMarginMs > 0 && OCI_LIMITS.pastSafetyMarginMs < OCI_LIMITS.maxPastMs);
    assert.ok(OCI_LIMITS.futureSafetyMarginMs > 0 && OCI_LIMITS.futureSafetyMarginMs < OCI_LIMITS.maxFutureMs);
  });

  it('streams per call: the maximum is accepted, one more is rejected', () => {
    const body = (n: number) => ({ metricData: Array.from({ length: n }, (_, i) => metric({ dimensions: { k: `v${i}` } })) });
    const max = OCI_LIMITS.maxStreamsPerCall;
    assert.equal(countStreams(body(max).metricData), max);
    assert.equal(validatePostBody(body(max), NOW).ok, true);
    const over = validatePostBody(body(max + 1), NOW);
    assert.equal(over.ok, false);
    assert.equal(EMULATOR_LIMITS.maxStreamsPerCall, max);
  });

  it('every limit both sides name has the same value', () => {
    assert.equal(EMULATOR_LIMITS.maxDimensions, OCI_LIMITS.maxDimensions);
    assert.equal(EMULATOR_LIMITS.maxDimensionKeyChars, OCI_LIMITS.maxDimensionKeyLength);
    assert.equal(EMULATOR_LIMITS.maxDimensionValueChars, OCI_LIMITS.maxDimensionValueLength);
    assert.equal(EMULATOR_LIMITS.maxMetadataChars, OCI_LIMITS.maxMetadataLength);
    assert.equal(EMULATOR_LIMITS.maxPastMs, OCI_LIMITS.maxPastMs);
    assert.equal(EMULATOR_LIMITS.maxFutureMs, OCI_LIMITS.maxFutureMs);
  });
});

describe("the settings take OCI's limits from the one module", () => {
  /** Settings with one key set beside a valid endpoint (and a compartment for discovery). */
  const settingsWith = (key: string, value: string) =>
    parseSettings({ METRICS_ENDPOINT: 'http://127.0.0.1:9100/metrics', COMPARTMENT_OCID: 'ocid1.compartment.oc1..aaaa', [key]: value });
  const list = (n: number, item: (i: number) => string) => Array.from({ length: n }, (_, i) => item(i)).join(',');

  it("what the settings add to a series (extra and instance dimensions, resourceId, instance) never exceeds OCI's dimensions alone", () => {
    const { maxExtraDimensions, maxInstanceDimensions } = DIMENSION_SHARES;
    assert.ok(maxExtraDimensions + maxInstanceDimensions + 2 <= OCI_LIMITS.maxDimensions);
  });

  it('EXTRA_DIMENSIONS: the share is accepted, one more refused; key and value at their lengths, one more refused', () => {
    const max = DIMENSION_SHARES.maxExtraDimensions;
    assert.equal(
      Object.keys(
        settingsWith(
          'EXTRA_DIMENSIONS',
          list(max, (i) => `k${i}=v`),
        ).extraDimensions,
      ).length,
      max,
    );
    assert.throws(
      () =>
        settingsWith(
          'EXTRA_DIMENSIONS',
          list(max + 1, (i) => `k${i}=v`),
        ),
      new RegExp(`at most ${max} extra dimensions`),
    );
    const key = 'k'.repeat(OCI_LIMITS.maxDimensionKeyLength);
    const value = 'v'.repeat(OCI_LIMITS.maxDimensionValueLength);
    assert.equal(settingsWith('EXTRA_DIMENSIONS', `${key}=${value}`).extraDimensions[key], value);
    assert.throws(() => settingsWith('EXTRA_DIMENSIONS', `${key}k=v`), new RegExp(`1-${OCI_LIMITS.maxDimensionKeyLength} printable ASCII`));
    assert.throws(() => settingsWith('EXTRA_DIMENSIONS', `k=${value}v`), new RegExp(`value of 1-${OCI_LIMITS.maxDimensionValueLength} characters`));
  });
});
