/**
 * Mutation fuzzing of parse + transform (in-process, seeded, thousands of runs): real expositions
 * (the BharatMart simulator's live /metrics text and the fixture files) are mutated line- and
 * byte-wise, then parsed and transformed. Properties:
 *  - parseExposition throws nothing but ExpositionError, with a line number inside the text;
 *  - every metric object the transform produces passes the emulator's copy of OCI's rules
 *    (validateMetricObject), so nothing OCI would reject is ever posted;
 *  - accounting: sample lines == metrics - derived + skipped; no two metrics share a stream;
 *  - identity: two distinct Prometheus series never map to one OCI stream (or a self-metric's)
 *    unless one is reported as a skip.
 * A failure prints fast-check's seed and the shrunk input, so it can be replayed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import type { Histogram } from 'prom-client';
import { startBharatMart, type BharatMart } from '../src/local/demo/bharatmart';
import { validateMetricObject } from '../src/local/emulator/validation';
import { ExpositionError, parseExposition } from '../src/parse/exposition';
import { streamKey } from '../src/transform/streams';
import { transformAll } from './helpers/transform';
import { toSelfMetrics } from '../src/transform/selfMetrics';
import { flattenSamples } from './helpers/flat-samples';
import type { TransformOptions } from '../src/types/model';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseSettings } from '../src/config/settings';
import { DeliveryFailure, runInvocation } from '../src/handler/pipeline';
import type { InvocationSummary } from '../src/handler/summary';
import { assertAccounted } from './helpers/reliability';

const FIXTURES = path.join(__dirname, 'fixtures', 'expositions');
const SEED = 20261125;
const SCRAPE_TIME = Date.parse('2026-11-25T12:00:00Z');

/** One mutation of an exposition's lines. */
type Mutation = (lines: string[]) => string[];

/** Values that stress number parsing and OCI's finite-number rule. */
const WEIRD_VALUES = [
  'NaN',
  '+Inf',
  '-Inf',
  'Inf',
  'inf',
  '1e308',
  '-1e308',
  '1e309',
  '5e-324',
  '-0',
  '0x1F',
  '1_000',
  '',
  '--1',
  'Infinity',
  '9'.repeat(400),
  '1.7976931348623157e+308',
  '.5',
  '5.',
  '+3',
  '1e',
  'null',
];
/** Labels that stress OCI's dimension rules (length, characters, reserved names, unicode). */
const WEIRD_LABELS = [
  'instance="spoof"',
  'le="0.5"',
  'quantile="0.9"',
  'exported_instance="x"',
  'a=""',
  '__name__="x"',
  'é="1"',
  'a b="1"',
  `long="${'v'.repeat(600)}"`,
  `emoji="${'🚀'.repeat(300)}"`,
  'nul="\\u0000"',
  `k${'k'.repeat(300)}="1"`,
  'a="1",a="2"',
  Array.from({ length: 25 }, (_, i) => `d${i}="${i}"`).join(','),
  'tab="a\tb"',
  'bs="\\\\"',
  'q="\\""',
  'nl="a\\nb"',
];

const lineIndex = (lines: string[], r: number) => (lines.length === 0 ? 0 : Math.floor(r * lines.length) % lines.length);

/** fast-check arbitrary for one mutation. */
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.double({ min: 0, max: 1, noNaN: true }).map(
    (r): Mutation =>
      (ls) =>
        ls.filter((_, i) => i !== lineIndex(ls, r)),
  ),
  fc.double({ min: 0, max: 1, noNaN: true }).map((r): Mutation => (ls) => {
    const i = lineIndex(ls, r);
    return [...ls.slice(0, i + 1), ...ls.slice(i)];
  }),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })).map(([a, b]): Mutation => (ls) => {
    const out = [...ls];
    const i = lineIndex(ls, a),
      j = lineIndex(ls, b);
    [out[i], out[j]] = [out[j], out[i]];
    return out;
  }),
  // Flip one bit of one character (bytes of the UTF-8 text, decoded again as the scraper does).
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 7 })).map(([r, bit]): Mutation => (ls) => {
    const buf = Buffer.from(ls.join('\n'), 'utf8');
    if (buf.length === 0) return ls;
    const at = Math.floor(r * buf.length) % buf.length;
    buf[at] = buf[at] ^ (1 << bit);
    return buf.toString('utf8').split('\n');
  }),
  // Insert garbage (arbitrary unicode, control characters, binary) inside a line.
  fc
    .tuple(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 20 }),
        fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b).toString('latin1')),
      ),
    )
    .map(([r, p, junk]): Mutation => (ls) => {
      const i = lineIndex(ls, r);
      const line = ls[i] ?? '';
      const at = Math.floor(p * (line.length + 1));
      const out = [...ls];
      out[i] = line.slice(0, at) + junk + line.slice(at);
      return out;
    }),
  // Replace the value of a sample line.
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...WEIRD_VALUES)).map(([r, v]): Mutation => (ls) => {
    const i = lineIndex(ls, r);
    const out = [...ls];
    const line = out[i] ?? '';
    if (!line.startsWith('#')) out[i] = line.replace(/(\}|^[^\s{]+)\s+\S+/, `$1 ${v}`);
    return out;
  }),
  // Add a weird label to a sample line.
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...WEIRD_LABELS)).map(([r, label]): Mutation => (ls) => {
    const i = lineIndex(ls, r);
    const out = [...ls];
    const line = out[i] ?? '';
    if (line.startsWith('#') || line.trim() === '') return out;
    out[i] = line.includes('{') ? line.replace('{', `{${label},`) : line.replace(/^(\S+)/, `$1{${label}}`);
    return out;
  }),
  // Rename a metric with unicode / colons / leading digits.
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('é', ':', '9', '-', '.', '$', 'x'.repeat(300), '🚀')).map(([r, s]): Mutation => (ls) => {
    const i = lineIndex(ls, r);
    const out = [...ls];
    out[i] = (out[i] ?? '').replace(/^([A-Za-z_:]\w*)/, (m) => s + m);
    return out;
  }),
  // An own timestamp, sometimes absurd.
  fc
    .tuple(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.constantFrom('0', '-1', String(SCRAPE_TIME), String(SCRAPE_TIME + 3_600_000), '1e20', '99999999999999999999', '1.5'),
    )
    .map(([r, ts]): Mutation => (ls) => {
      const i = lineIndex(ls, r);
      const out = [...ls];
      if (!(out[i] ?? '#').startsWith('#')) out[i] = `${out[i]} ${ts}`;
      return out;
    }),
  fc.constant<Mutation>((ls) => ls.map((l) => l + '\r')), // CRLF
  fc.double({ min: 0, max: 1, noNaN: true }).map((r): Mutation => (ls) => {
    // truncation mid-text
    const text = ls.join('\n');
    return text.slice(0, Math.floor(r * text.length)).split('\n');
  }),
  fc.constant<Mutation>((ls) => ['# TYPE dup counter', 'dup 1', '# TYPE dup gauge', 'dup 2', ...ls]), // TYPE twice
);

/** Transform options: with and without buckets, extra dimensions, filters. */
const optionsArb: fc.Arbitrary<TransformOptions> = fc.record({
  namespace: fc.constant('bharatmart'),
  compartmentId: fc.constant('ocid1.compartment.oc1..aaaaaaaafuzz'),
  extraDimensions: fc.constantFrom<Record<string, string>[]>({}, { env: 'fuzz' }, { env: 'x'.repeat(512), exported_instance: 'y' }),
  histogramBuckets: fc.boolean(),
  include: fc.constantFrom<(RegExp | undefined)[]>(undefined, /^(http|orders|process)_/, /./),
  exclude: fc.constantFrom<(RegExp | undefined)[]>(undefined, /_created$/, /^nodejs_/),
});

/** Runs one text through parse + transform and checks every property. */
function checkPipeline(text: string, opts: TransformOptions, instance = '127.0.0.1:3000'): void {
  let parsed;
  try {
    parsed = parseExposition(text);
  } catch (e) {
    assert.ok(e instanceof ExpositionError, `only ExpositionError may escape the parser, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    const lines = text.split('\n').length;
    assert.ok(Number.isInteger(e.line) && e.line >= 1 && e.line <= lines, `line ${e.line} is inside the text (${lines} lines)`);
    assert.match(e.message, /^line \d+: /);
    return;
  }
  const out = transformAll(parsed.families, { instance, scrapeTimeMs: SCRAPE_TIME }, opts);
  assert.equal(parsed.sampleCount, out.metrics.length - out.derivedCount + out.skipped.length, 'samples == metrics - derived + skipped');
  const streams = new Set<string>();
  for (const m of out.metrics) {
    const wire = JSON.parse(JSON.stringify(m)) as unknown; // what the SDK sends: Dates become RFC 3339 strings
    const { problems } = validateMetricObject(wire, SCRAPE_TIME);
    assert.deepEqual(problems, [], `OCI would reject ${JSON.stringify(wire).slice(0, 300)}`);
    const key = streamKey(m);
    assert.ok(!streams.has(key), `duplicate stream ${key.slice(0, 200)}`);
    streams.add(key);
  }
  // The publisher asks for batches of any size up to OCI's streams per call: the size changes nothing but the cut.
  const oneByOne = transformAll(parsed.families, { instance, scrapeTimeMs: SCRAPE_TIME }, opts, 1);
  assert.deepEqual(oneByOne.metrics, out.metrics, 'the same metrics, in the same order, whatever the batch size');
  assert.deepEqual([oneByOne.derivedCount, oneByOne.skipped, oneByOne.notDerived], [out.derivedCount, out.skipped, out.notDerived]);
}

describe('fuzz: mutated real expositions through parse + transform', () => {
  let shop: BharatMart;
  const corpus: string[] = [];
  before(async () => {
    shop = await startBharatMart({ seed: 7 });
    // Observations so histograms have non-trivial buckets (direct: API traffic has simulated latency).
    const h = shop.registry.getSingleMetric('http_request_duration_seconds') as Histogram<string>;
    for (let i = 0; i < 30; i++) h.observe({ method: 'GET', route: '/api/products', status_code: String(200 + (i % 3) * 100) }, i / 40);
    corpus.push(await shop.registry.metrics());
    for (const f of ['bharatmart.txt', 'quirks.txt', 'openmetrics-leftovers.txt']) corpus.push(readFileSync(path.join(FIXTURES, f), 'utf8'));
  });
  after(() => shop?.stop());

  test('the unmutated corpus parses, and every sample is posted or skipped', () => {
    for (const text of corpus) {
      const parsed = parseExposition(text);
      assert.ok(parsed.sampleCount > 0);
      checkPipeline(text, { namespace: 'bharatmart', compartmentId: 'ocid1.compartment.oc1..aaaaaaaafuzz', extraDimensions: {}, histogramBuckets: true });
    }
  });

  test('thousands of mutated expositions: only ExpositionError, only valid OCI objects, exact accounting', () => {
    let parsedOk = 0,
      rejected = 0;
    fc.assert(
      fc.property(fc.nat(corpus.length - 1), fc.array(mutationArb, { minLength: 1, maxLength: 6 }), optionsArb, (which, mutations, opts) => {
        const lines = mutations.reduce((ls, m) => m(ls), corpus[which].split('\n'));
        const text = lines.join('\n');
        try {
          parseExposition(text);
          parsedOk++;
        } catch {
          rejected++;
        }
        checkPipeline(text, opts);
      }),
      { seed: SEED, numRuns: 3000 },
    );
    // The mutations must exercise both paths, or the properties above prove little.
    assert.ok(parsedOk > 300 && rejected > 300, `parsed ${parsedOk}, rejected ${rejected}`);
  });

  test('arbitrary text (not derived from an exposition) never breaks the parser', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 400 }),
          fc.string({ unit: 'grapheme', maxLength: 400 }),
          fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b).toString('utf8')),
        ),
        (text) => {
          checkPipeline(text, { namespace: 'bharatmart', compartmentId: 'ocid1.compartment.oc1..aaaaaaaafuzz', extraDimensions: {}, histogramBuckets: true });
        },
      ),
      { seed: SEED + 1, numRuns: 2000 },
    );
  });

  test('mutated expositions served over HTTP through the invocation runner (dry run): a summary or a DeliveryFailure, never anything else', async () => {
    let body = '';
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    // With a compartment, so every object the dry run shows is one OCI would accept as it stands.
    const settings = parseSettings({
      METRICS_ENDPOINT: url,
      HISTOGRAM_BUCKETS: 'true',
      EXTRA_DIMENSIONS: 'env=fuzz',
      DRY_RUN: 'true',
      COMPARTMENT_OCID: 'ocid1.compartment.oc1..aaaaaaaafuzz',
    });
    const rt = {
      settings,
      log: () => undefined,
      postBatch: () => {
        throw new Error('a dry run never posts');
      },
      tokenSource: () => undefined,
    };
    let up = 0,
      down = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.nat(corpus.length - 1), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), async (which, mutations) => {
          body = mutations.reduce((ls, m) => m(ls), corpus[which].split('\n')).join('\n');
          let s: InvocationSummary;
          try {
            s = await runInvocation(rt, { dryRun: true });
            up++;
          } catch (e) {
            assert.ok(e instanceof DeliveryFailure, `only DeliveryFailure may escape, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
            assert.match(e.message, /the target is down \(.*invalid exposition: line \d+: /);
            s = e.summary;
            down++;
          }
          assertAccounted(s, 'fuzzed invocation');
          for (const m of s.metricData ?? []) {
            assert.deepEqual(validateMetricObject(JSON.parse(JSON.stringify(m)), Date.now()).problems, []);
          }
        }),
        { seed: SEED + 2, numRuns: 300 },
      );
    } finally {
      await new Promise((r) => server.close(r));
    }
    assert.ok(up > 30 && down > 30, `up ${up}, down ${down}`);
  });
});

/**
 * The series Prometheus would store for one exposition sample scraped with target labels
 * `added` (honor_labels=false): labels with empty values are absent; an exposed label that clashes
 * with a target label is renamed `exported_<name>` (shortest names first, the prefix repeated while
 * the name is taken), then the target labels are set. A histogram's `le` and a summary's
 * `quantile` compare as numbers (Prometheus normalises them). Written from Prometheus' scrape code,
 * not from the transform's.
 */
function prometheusIdentity(name: string, labels: Record<string, string>, boundLabel: 'le' | 'quantile' | undefined, added: Record<string, string>): string {
  const lset = new Map<string, string>();
  for (const [k, v] of Object.entries(labels)) {
    if (v === '') continue;
    if (k !== boundLabel) {
      lset.set(k, v);
      continue;
    }
    const n = /^[+-]?inf(inity)?$/i.test(v) ? (v.startsWith('-') ? -Infinity : Infinity) : Number(v);
    lset.set(k, Number.isNaN(n) ? v : `#${n}`);
  }
  const conflicting = Object.keys(added)
    .filter((k) => lset.has(k))
    .map((k): [string, string] => [k, lset.get(k)!]);
  for (const [k, v] of Object.entries(added)) lset.set(k, v);
  conflicting.sort(([a], [b]) => a.length - b.length);
  for (const [k, v] of conflicting) {
    let renamed = k;
    do renamed = `exported_${renamed}`;
    while (lset.has(renamed));
    lset.set(renamed, v);
  }
  return JSON.stringify([name, [...lset.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}

describe('fuzz: distinct input series never share an OCI stream unless reported as a skip', () => {
  // Tiny alphabets on purpose: names and labels that differ by one `:`/`_`, a leading `_`, an
  // empty value, `le="1"` vs `le="1.0"`, or an `instance` label are generated all the time.
  const nameArb = fc
    .tuple(fc.constantFrom('a', 'b', '_', ':'), fc.array(fc.constantFrom('a', '_', ':', '0'), { maxLength: 3 }))
    .map(([f, r]) => f + r.join(''));
  const labelNameArb = fc.constantFrom('a', 'b', '_a', 'instance', 'exported_instance', 'le', 'quantile', 'env');
  const labelValueArb = fc.constantFrom('', 'x', 'y', '1', '1.0', '😀'.repeat(300));
  const labelSetArb = fc.uniqueArray(fc.tuple(labelNameArb, labelValueArb), { selector: ([k]) => k, maxLength: 3 });
  const boundArb = fc.constantFrom('1', '1.0', '1e0', '0.5', '0.50', '+Inf', '+inf');
  const kindArb = fc.constantFrom('gauge', 'untyped', 'counter', 'histogram', 'summary', 'none');
  const familyArb = fc.record({
    name: nameArb,
    kind: kindArb,
    lines: fc.array(fc.tuple(labelSetArb, boundArb, fc.constantFrom('', '_sum', '_count', '_bucket')), { minLength: 1, maxLength: 5 }),
  });

  /** Renders families as exposition text; line kinds that do not fit the family become plain samples. */
  function render(families: { name: string; kind: string; lines: [[string, string][], string, string][] }[]): string {
    const out: string[] = [];
    for (const f of families) {
      if (f.kind !== 'none') out.push(`# TYPE ${f.name} ${f.kind}`);
      for (const [labels, bound, suffix] of f.lines) {
        const pairs = labels.filter(([k]) => k !== 'le' && k !== 'quantile').map(([k, v]) => `${k}="${v}"`);
        let name = f.name;
        if (f.kind === 'histogram') {
          name += suffix === '' ? '_bucket' : suffix;
          if (suffix === '' || suffix === '_bucket') pairs.push(`le="${bound}"`);
        } else if (f.kind === 'summary') {
          name += suffix === '_bucket' ? '' : suffix;
          if (suffix === '' || suffix === '_bucket') pairs.push(`quantile="${bound}"`);
        } else {
          for (const [k, v] of labels) if (k === 'le' || k === 'quantile') pairs.push(`${k}="${v}"`);
        }
        out.push(`${name}{${pairs.join(',')}} 1`);
      }
    }
    return `${out.join('\n')}\n`;
  }

  test('every posted stream comes from exactly one Prometheus series; repeats are duplicate_series; none is a self-metric stream', () => {
    let parsedOk = 0;
    const seenReasons = new Set<string>();
    fc.assert(
      fc.property(fc.uniqueArray(familyArb, { selector: (f) => f.name, minLength: 1, maxLength: 6 }), fc.boolean(), (families, buckets) => {
        const text = render(families);
        let parsed;
        try {
          parsed = parseExposition(text);
        } catch (e) {
          assert.ok(e instanceof ExpositionError, String(e));
          return;
        }
        parsedOk++;
        const targetLabels = { env: 'e', instance: '127.0.0.1:9' };
        const opts: TransformOptions = {
          namespace: 'fuzz',
          compartmentId: 'ocid1.compartment.oc1..aaaaaaaafuzz',
          extraDimensions: { env: 'e' },
          histogramBuckets: buckets,
        };
        const out = transformAll(parsed.families, { instance: targetLabels.instance, scrapeTimeMs: SCRAPE_TIME }, opts);
        // Identity of every sample line, then take out the samples skipped for any reason but duplicate_series.
        const typed = new Map(parsed.families.map((f) => [f.name, f.kind]));
        const bound = (sampleName: string): 'le' | 'quantile' | undefined => {
          if (sampleName.endsWith('_bucket') && typed.get(sampleName.slice(0, -7)) === 'histogram') return 'le';
          return typed.get(sampleName) === 'summary' ? 'quantile' : undefined;
        };
        const remaining = new Map<string, number>();
        for (const s of flattenSamples(parsed)) {
          const id = prometheusIdentity(s.name, s.labels, bound(s.name), targetLabels);
          remaining.set(id, (remaining.get(id) ?? 0) + 1);
        }
        let duplicates = 0;
        for (const skip of out.skipped) {
          seenReasons.add(skip.reason);
          if (skip.reason === 'duplicate_series') {
            duplicates++;
            continue;
          }
          const id = prometheusIdentity(skip.name, skip.labels, bound(skip.name), targetLabels);
          const n = remaining.get(id);
          assert.ok(n !== undefined && n > 0, `skip ${id} matches a sample`);
          if (n === 1) remaining.delete(id);
          else remaining.set(id, n - 1);
        }
        const lines = [...remaining.values()].reduce((a, b) => a + b, 0);
        const posted = out.metrics.length - out.derivedCount;
        // Each distinct remaining series is exactly one posted stream (so no two share one), and
        // every repeat of a series is reported as duplicate_series.
        assert.equal(posted, remaining.size, `distinct series ${remaining.size}, posted ${posted}\n${text}`);
        assert.equal(duplicates, lines - remaining.size, `repeats ${lines - remaining.size}, duplicate_series ${duplicates}\n${text}`);
        const streams = new Set(out.metrics.map((m) => streamKey(m)));
        assert.equal(streams.size, out.metrics.length, 'no stream twice');
        const report = { instance: '127.0.0.1:9', scrapeTimeMs: SCRAPE_TIME, up: true, durationMs: 1, samplesScraped: 1, posted: 1, skipped: 0, failed: 0 };
        for (const self of toSelfMetrics(report, opts)) assert.ok(!streams.has(streamKey(self)), `exposition posted on the self-metric stream ${self.name}`);
      }),
      { seed: SEED + 11, numRuns: 1000 },
    );
    assert.ok(parsedOk > 750, `parsed ${parsedOk}`);
    for (const r of ['duplicate_series', 'histogram_buckets_disabled']) assert.ok(seenReasons.has(r), `the generator produces ${r}`);
  });
});
