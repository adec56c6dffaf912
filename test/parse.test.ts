/**
 * Unit tests of the parse stage: every defect of parse-prometheus-text-format 1.1.1 listed in
 * docs/mapping.md "What the parser accepts and refuses" is covered by the layer around it, plus the format's
 * corners (escapes, CRLF, specials, timestamps) and line-numbered errors for malformed input.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { ExpositionError, parseExposition } from '../src/parse/exposition';
import { flattenSamples } from './helpers/flat-samples';
import { decodeExposition } from '../src/parse/utf8';
import type { HistogramSeries, MetricFamily, ScalarSeries, SummarySeries } from '../src/types/model';

const FIXTURES = join(__dirname, 'fixtures', 'expositions');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

/** The one family with that name (fails when absent or ambiguous). */
function family(text: string, name: string): MetricFamily {
  const found = parseExposition(text).families.filter((f) => f.name === name);
  assert.equal(found.length, 1, `exactly one family ${name}`);
  return found[0];
}

/** The series of a histogram family. */
function histogram(text: string, name: string): HistogramSeries[] {
  const f = family(text, name);
  assert.equal(f.kind, 'histogram');
  return f.series;
}

/** The series of a summary family. */
function summary(text: string, name: string): SummarySeries[] {
  const f = family(text, name);
  assert.equal(f.kind, 'summary');
  return f.series;
}

/** The series of a counter, gauge or untyped family. */
function scalars(text: string, name: string): ScalarSeries[] {
  const f = family(text, name);
  assert.ok(f.kind !== 'histogram' && f.kind !== 'summary', `${name} is scalar`);
  return f.series;
}

/** Asserts that parsing throws an ExpositionError for that line with a message matching. */
function assertLineError(text: string, line: number, message: RegExp): void {
  assert.throws(
    () => parseExposition(text),
    (err: unknown) => {
      assert.ok(err instanceof ExpositionError, `an ExpositionError, got ${String(err)}`);
      assert.equal(err.line, line, `line of: ${err.message}`);
      assert.match(err.message, new RegExp(`^line ${line}: `));
      assert.match(err.message, message);
      return true;
    },
  );
}

const LABELLED_HISTOGRAM = `# HELP rt Request time.
# TYPE rt histogram
rt_bucket{method="GET",le="0.5"} 1
rt_bucket{method="GET",le="1"} 2
rt_bucket{method="GET",le="10"} 3
rt_bucket{method="GET",le="+Inf"} 4
rt_sum{method="GET"} 5.5
rt_count{method="GET"} 4
rt_bucket{method="POST",le="0.5"} 0
rt_bucket{method="POST",le="1"} 0
rt_bucket{method="POST",le="10"} 1
rt_bucket{method="POST",le="+Inf"} 1
rt_sum{method="POST"} 7
rt_count{method="POST"} 1
`;

test('defect: labelled histogram series keep their labels, sum and count and do not overwrite each other', () => {
  const series = histogram(LABELLED_HISTOGRAM, 'rt');
  assert.deepEqual(series, [
    {
      labels: { method: 'GET' },
      buckets: [
        { le: '0.5', value: 1 },
        { le: '1', value: 2 },
        { le: '10', value: 3 },
        { le: '+Inf', value: 4 },
      ],
      sum: 5.5,
      count: 4,
    },
    {
      labels: { method: 'POST' },
      buckets: [
        { le: '0.5', value: 0 },
        { le: '1', value: 0 },
        { le: '10', value: 1 },
        { le: '+Inf', value: 1 },
      ],
      sum: 7,
      count: 1,
    },
  ]);
  assert.equal(family(LABELLED_HISTOGRAM, 'rt').help, 'Request time.');
  assert.equal(parseExposition(LABELLED_HISTOGRAM).sampleCount, 12);
});

test('defect: labelled summary series keep their labels, sum and count', () => {
  const text = `# TYPE q summary
q{svc="a",quantile="0.5"} 1
q{svc="a",quantile="0.99"} 2
q_sum{svc="a"} 30
q_count{svc="a"} 10
q{svc="b",quantile="0.5"} 3
q{svc="b",quantile="0.99"} 4
q_sum{svc="b"} 40
q_count{svc="b"} 20
`;
  assert.deepEqual(summary(text, 'q'), [
    {
      labels: { svc: 'a' },
      quantiles: [
        { quantile: '0.5', value: 1 },
        { quantile: '0.99', value: 2 },
      ],
      sum: 30,
      count: 10,
    },
    {
      labels: { svc: 'b' },
      quantiles: [
        { quantile: '0.5', value: 3 },
        { quantile: '0.99', value: 4 },
      ],
      sum: 40,
      count: 20,
    },
  ]);
});

test('defect: _count and _sum before the buckets or quantiles', () => {
  const h = `# TYPE h histogram\nh_count{a="1"} 3\nh_sum{a="1"} 1.5\nh_bucket{a="1",le="1"} 2\nh_bucket{a="1",le="+Inf"} 3\n`;
  assert.deepEqual(histogram(h, 'h'), [
    {
      labels: { a: '1' },
      buckets: [
        { le: '1', value: 2 },
        { le: '+Inf', value: 3 },
      ],
      sum: 1.5,
      count: 3,
    },
  ]);
  const s = `# TYPE s summary\ns_count 9\ns_sum 4\ns{quantile="0.5"} 0.25\n`;
  assert.deepEqual(summary(s, 's'), [{ labels: {}, quantiles: [{ quantile: '0.5', value: 0.25 }], sum: 4, count: 9 }]);
});

test('defect: a missing final newline does not drop the last sample', () => {
  assert.deepEqual(scalars('a 1\nb 2', 'b'), [{ labels: {}, value: 2 }]);
  assert.equal(histogram(`# TYPE h histogram\nh_bucket{le="+Inf"} 3\nh_count 3`, 'h')[0].count, 3);
  assert.equal(parseExposition('only_line{x="y"} 7').sampleCount, 1);
});

test('defect: blanks after commas, trailing commas and blanks around "=" in label sets', () => {
  const text = 'm{a="1", b="2",\tc="3"} 1\nm{ a = "4" , b="5" ,} 2\nm{a="x, y",  b="z"} 3\n';
  assert.deepEqual(scalars(text, 'm'), [
    { labels: { a: '1', b: '2', c: '3' }, value: 1 },
    { labels: { a: '4', b: '5' }, value: 2 },
    { labels: { a: 'x, y', b: 'z' }, value: 3 },
  ]);
});

test('defect: empty HELP is accepted; HELP escapes \\\\ and \\n are unescaped, others kept', () => {
  assert.equal(family('# HELP e\n# TYPE e gauge\ne 1\n', 'e').help, '');
  assert.equal(family('# HELP e \n# TYPE e gauge\ne 1\n', 'e').help, '');
  assert.equal(family('# HELP e a \\\\ b \\n c \\" d \\t\ne 1\n', 'e').help, 'a \\ b \n c \\" d \\t');
});

test('defect: garbage lines are errors with their 1-based line number', () => {
  assertLineError('ok 1\nthis is garbage\n', 2, /invalid sample value "is"/);
  assertLineError('ok 1\n\nfoo{a="b 1\n', 3, /unterminated value of the label "a"/);
  assertLineError('# TYPE m gauge\nm{a="1"}\n', 2, /expected a value after the label set/);
  assertLineError('m\n', 1, /expected a value after the metric name/);
  assertLineError('m{a="1"} 1 2 3\n', 1, /unexpected "3" after the timestamp/);
  assertLineError('m{a="1"} 1 1.5\n', 1, /invalid timestamp "1.5"/);
  assertLineError('m 0x10\n', 1, /invalid sample value "0x10"/);
  assertLineError('m{1a="x"} 1\n', 1, /invalid label name/);
  assertLineError('m{a-b="x"} 1\n', 1, /expected "=" after the label name "a"/);
  assertLineError('m{a=x} 1\n', 1, /expected a quoted value for the label "a"/);
  assertLineError('m{a="1" b="2"} 1\n', 1, /expected "," or "}" after the value of the label "a"/);
  assertLineError('m{a="1"\n', 1, /not closed|expected/);
  assertLineError('9m 1\n', 1, /invalid metric name/);
  assertLineError('m.x 1\n', 1, /invalid character "\." after the metric name "m"/);
  assertLineError('m 1\nm 2\n# TYPE x histogram extra\n', 3, /invalid metric type "histogram extra"/);
  assertLineError('# TYPE x foo\n', 1, /invalid metric type "foo"/);
  assertLineError('# TYPE x\n', 1, /expected a metric type/);
  assertLineError('# TYPE x-y counter\n', 1, /invalid metric name "x-y" after TYPE/);
  assertLineError('# HELP 1x text\n', 1, /invalid metric name "1x" after HELP/);
  assertLineError('# TYPE x counter\n# TYPE x gauge\n', 2, /second TYPE line for "x"/);
  assertLineError('m{a="1",a="2"} 1\n', 1, /duplicate label name "a"/);
  assertLineError('m{b="1",a="x=y",b="2"} 1\n', 1, /duplicate label name "b"/);
  assertLineError('m{__name__="x"} 1\n', 1, /__name__/);
  assertLineError('m 1 # {a="b"\n', 1, /malformed exemplar/);
});

test('ExpositionError is an Error with a name and line', () => {
  try {
    parseExposition('a 1\nb\n');
    assert.fail('no error');
  } catch (err) {
    assert.ok(err instanceof Error);
    assert.ok(err instanceof ExpositionError);
    assert.equal(err.name, 'ExpositionError');
    assert.equal(err.line, 2);
    assert.equal(err.message, 'line 2: expected a value after the metric name "b"');
  }
});

test('defect: a __proto__ label is kept as an ordinary label', () => {
  const [s] = scalars('m{__proto__="x",a="1"} 1\n', 'm');
  assert.deepEqual(Object.keys(s.labels), ['__proto__', 'a']);
  assert.equal(Object.getOwnPropertyDescriptor(s.labels, '__proto__')?.value, 'x');
  assert.equal(Object.getPrototypeOf(s.labels), Object.prototype);
  const [h] = histogram('# TYPE h histogram\nh_bucket{__proto__="p",le="+Inf"} 1\nh_count{__proto__="p"} 1\n', 'h');
  assert.equal(Object.getOwnPropertyDescriptor(h.labels, '__proto__')?.value, 'p');
  assert.equal(h.count, 1, 'the _count joins the same series');
  assert.deepEqual(flattenSamples(parseExposition('m{__proto__="x"} 1\n'))[0].labels, JSON.parse('{"__proto__":"x"}'));
});

test('defect: timestamps are kept, also inside histograms and summaries', () => {
  assert.deepEqual(scalars('m{a="1"} 3 1700000000123\nm{a="2"} 4\n', 'm'), [
    { labels: { a: '1' }, value: 3, timestampMs: 1700000000123 },
    { labels: { a: '2' }, value: 4 },
  ]);
  const h = histogram('# TYPE h histogram\nh_bucket{le="+Inf"} 1 1700000000000\nh_sum 2 1700000000000\nh_count 1 1700000000000\n', 'h')[0];
  assert.deepEqual([h.buckets[0].timestampMs, h.sumTimestampMs, h.countTimestampMs], [1700000000000, 1700000000000, 1700000000000]);
  const s = summary('# TYPE s summary\ns{quantile="0.5"} 1 1700000000001\ns_count 1 1700000000001\n', 's')[0];
  assert.deepEqual([s.quantiles[0].timestampMs, s.sumTimestampMs, s.countTimestampMs], [1700000000001, undefined, 1700000000001]);
});

test("each line of a histogram or summary keeps its own timestamp (not the first line's)", () => {
  const h = histogram('# TYPE h histogram\nh_bucket{le="1"} 1 1000\nh_bucket{le="+Inf"} 2 2000\nh_sum 3 3000\nh_count 2\n', 'h')[0];
  assert.deepEqual(
    h.buckets.map((b) => b.timestampMs),
    [1000, 2000],
  );
  assert.deepEqual([h.sumTimestampMs, h.countTimestampMs], [3000, undefined]);
  const s = summary('# TYPE s summary\ns_count 2 5000\ns{quantile="0.5"} 1\ns{quantile="0.9"} 1 6000\ns_sum 3 7000\n', 's')[0];
  assert.deepEqual(
    s.quantiles.map((q) => q.timestampMs),
    [undefined, 6000],
  );
  assert.deepEqual([s.sumTimestampMs, s.countTimestampMs], [7000, 5000]);
  const flat = flattenSamples(parseExposition('# TYPE h histogram\nh_bucket{le="+Inf"} 2 2000\nh_sum 3 3000\nh_count 2 4000\n'));
  assert.deepEqual(
    flat.map((f) => f.timestampMs),
    [2000, 3000, 4000],
  );
});

test('OpenMetrics leftovers: x_total of counter x, _created untyped, exemplars dropped, # EOF ends the text', () => {
  const parsed = parseExposition(fixture('openmetrics-leftovers.txt'));
  assert.deepEqual(
    parsed.families.map((f) => [f.kind, f.name]),
    [
      ['counter', 'om_requests_total'],
      ['untyped', 'om_requests_created'],
      ['histogram', 'om_latency'],
    ],
  );
  const [total] = parsed.families[0].series as ScalarSeries[];
  assert.deepEqual(total, { labels: { code: '200' }, value: 42 }, 'the exemplar is not taken as a timestamp');
  assert.equal(parsed.families[0].help, 'Requests, OpenMetrics style.');
  assert.deepEqual((parsed.families[2].series[0] as HistogramSeries).buckets, [
    { le: '0.5', value: 3 },
    { le: '+Inf', value: 4 },
  ]);
  assert.equal(parsed.sampleCount, 6);
  assertLineError('a 1\n# EOF\nb 2\n', 3, /after "# EOF" \(line 2\)/);
  assert.equal(parseExposition('a 1\n# EOF\n\n').sampleCount, 1);
});

test('defect check: label value escapes \\\\ \\" \\n are unescaped, unknown escapes kept literally', () => {
  const [s] = scalars('m{a="C:\\\\Temp\\\\",b="say \\"hi\\"",c="x\\ny",d="tab\\t"} 1\n', 'm');
  assert.deepEqual(s.labels, { a: 'C:\\Temp\\', b: 'say "hi"', c: 'x\ny', d: 'tab\\t' });
});

test('CRLF line endings parse like LF; error lines are counted the same', () => {
  const lf = fixture('bharatmart.txt');
  assert.deepEqual(parseExposition(lf.replace(/\n/g, '\r\n')), parseExposition(lf));
  assertLineError('a 1\r\n\r\nb{x="1} 2\r\n', 3, /unterminated/);
});

test('a value or timestamp beyond what Prometheus reads (float64, int64) fails the parse with its line, as in Prometheus', () => {
  for (const [line, message] of [
    ['m 1e400', /^line 2: sample value "1e400" of "m" is out of range$/],
    ['m{a="b"} -1.8e308', /^line 2: sample value "-1.8e308" of "m" is out of range$/],
    ['m 1 9223372036854775808', /^line 2: timestamp "9223372036854775808" of "m" is out of range$/],
  ] as const) {
    assert.throws(
      () => parseExposition(`ok 1\n${line}\n`),
      (e: unknown) => e instanceof ExpositionError && message.test(e.message),
      line,
    );
  }
  const edge = parseExposition('m 1.7976931348623157e308 9223372036854775807\n').families[0].series[0] as ScalarSeries;
  assert.equal(edge.value, Number.MAX_VALUE);
});

test("a TYPE line after samples of its name: the name's samples stay untyped, before and after it, every one kept", () => {
  const parsed = parseExposition(
    'x_bucket{le="1"} 1\n# TYPE x histogram\nx_bucket{le="1",a="b"} 1\nx_bucket{le="+Inf",a="b"} 2\nm 1\n# TYPE m counter\nm{a="b"} 2\n',
  );
  assert.deepEqual(
    parsed.families.map((f) => [f.name, f.kind, f.series.length]),
    [
      ['x_bucket', 'untyped', 3],
      ['m', 'untyped', 2],
    ],
  );
  assert.equal(parsed.sampleCount, 5);
});

test('label values: \\\\, \\" and \\n are escapes, any other backslash is kept as written (as Prometheus does)', () => {
  const labels = (parseExposition('m{a="x\\ty",b="p\\\\q",c="n\\nl",d="q\\""} 1\n').families[0].series[0] as ScalarSeries).labels;
  assert.deepEqual(labels, { a: 'x\\ty', b: 'p\\q', c: 'n\nl', d: 'q"' });
});

test('+Inf, -Inf, NaN and other float spellings become numbers', () => {
  const text = [
    'pinf +Inf',
    'ninf -Inf',
    'nan NaN',
    'lnan nan',
    'inf Inf',
    'infinity -Infinity',
    'exp 1.5e-3',
    'dot .5',
    'trail 5.',
    'neg -0.25',
    'tiny 1e-400',
    'int 12345678901234567890',
  ].join('\n');
  const values = Object.fromEntries(parseExposition(text).families.map((f) => [f.name, (f.series[0] as ScalarSeries).value]));
  assert.deepEqual(values, {
    pinf: Infinity,
    ninf: -Infinity,
    nan: NaN,
    lnan: NaN,
    inf: Infinity,
    infinity: -Infinity,
    exp: 0.0015,
    dot: 0.5,
    trail: 5,
    neg: -0.25,
    tiny: 0,
    int: Number('12345678901234567890'),
  });
  assert.deepEqual(histogram('# TYPE h histogram\nh_bucket{le="+Inf"} NaN\nh_sum -Inf\n', 'h')[0], {
    labels: {},
    buckets: [{ le: '+Inf', value: NaN }],
    sum: -Infinity,
  });
});

test('samples without a fitting TYPE become untyped families named by the sample', () => {
  const parsed = parseExposition('# HELP lone Just help.\nlone 1\nfree_bucket{le="1"} 2\nfree_sum 3\n# TYPE g gauge\ng 4\ng_sum 5\n');
  assert.deepEqual(
    parsed.families.map((f) => [f.kind, f.name, f.help]),
    [
      ['untyped', 'lone', 'Just help.'],
      ['untyped', 'free_bucket', ''],
      ['untyped', 'free_sum', ''],
      ['gauge', 'g', ''],
      ['untyped', 'g_sum', ''],
    ],
  );
});

test('lines that do not fit their histogram or summary are kept as untyped samples', () => {
  const parsed = parseExposition('# TYPE h histogram\nh_bucket{a="1"} 1\nh_bucket{le="+Inf"} 2\n# TYPE s summary\ns 3\ns{quantile="0.9"} 4\n');
  assert.deepEqual(
    parsed.families.map((f) => [f.kind, f.name, f.series.length]),
    [
      ['untyped', 'h_bucket', 1],
      ['histogram', 'h', 1],
      ['untyped', 's', 1],
      ['summary', 's', 1],
    ],
  );
  assert.equal(flattenSamples(parsed).length, parsed.sampleCount);
});

test('duplicate samples are kept, never merged or overwritten', () => {
  assert.deepEqual(
    scalars('m 1\nm 2\nm{a="1"} 3\nm{a="1"} 4\n', 'm').map((s) => s.value),
    [1, 2, 3, 4],
  );
  const h = histogram('# TYPE h histogram\nh_sum 1\nh_sum 2\nh_bucket{le="1"} 1\nh_bucket{le="1"} 2\n', 'h');
  assert.deepEqual(h, [
    { labels: {}, buckets: [{ le: '1', value: 1 }], sum: 1 },
    { labels: {}, buckets: [{ le: '1', value: 2 }], sum: 2 },
  ]);
});

test('label order does not split a series; interleaved series are grouped', () => {
  const text =
    '# TYPE h histogram\nh_bucket{b="2",a="1",le="1"} 1\nh_bucket{x="9",le="1"} 5\nh_bucket{le="+Inf",a="1",b="2"} 2\nh_sum{a="1",b="2"} ' +
    '3\nh_count{b="2",a="1"} 2\nh_count{x="9"} 5\n';
  assert.deepEqual(histogram(text, 'h'), [
    {
      labels: { b: '2', a: '1' },
      buckets: [
        { le: '1', value: 1 },
        { le: '+Inf', value: 2 },
      ],
      sum: 3,
      count: 2,
    },
    { labels: { x: '9' }, buckets: [{ le: '1', value: 5 }], count: 5 },
  ]);
});

test('comments, blank lines, leading blanks, tabs, empty braces', () => {
  const parsed = parseExposition('# just a comment\n\n   \n  a 1\n\tb{x="1"}\t2\t1700000000000\nc{} 3\n#HELP not_meta\n');
  assert.deepEqual(flattenSamples(parsed), [
    { name: 'a', labels: {}, value: 1 },
    { name: 'b', labels: { x: '1' }, value: 2, timestampMs: 1700000000000 },
    { name: 'c', labels: {}, value: 3 },
  ]);
  assert.deepEqual(parseExposition(''), { families: [], sampleCount: 0 });
  assert.deepEqual(parseExposition('# TYPE unused counter\n'), { families: [], sampleCount: 0 });
});

test('fixtures: every sample line is accounted for and the families are as exposed', () => {
  for (const file of ['bharatmart.txt', 'quirks.txt', 'openmetrics-leftovers.txt']) {
    const parsed = parseExposition(fixture(file));
    assert.equal(flattenSamples(parsed).length, parsed.sampleCount, file);
  }
  const bharat = parseExposition(fixture('bharatmart.txt'));
  assert.equal(bharat.sampleCount, 73);
  const kinds = Object.fromEntries(bharat.families.map((f) => [f.name, `${f.kind}/${f.series.length}`]));
  assert.deepEqual(kinds, {
    http_requests_total: 'counter/4',
    http_request_duration_seconds: 'histogram/3',
    external_call_latency_ms: 'histogram/2',
    orders_created_total: 'counter/1',
    orders_success_total: 'counter/1',
    orders_failed_total: 'counter/2',
    payments_processed_total: 'counter/2',
    chaos_events_total: 'counter/2',
    service_restarts_total: 'counter/1',
    simulated_latency_ms: 'gauge/1',
    nodejs_gc_duration_seconds: 'histogram/2',
    rpc_duration_seconds: 'summary/2',
  });
  const quirks = parseExposition(fixture('quirks.txt'));
  assert.equal(quirks.sampleCount, 20);
  assert.deepEqual(flattenSamples(quirks).at(-1), { name: 'quirk_last_line_without_newline', labels: { x: 'y' }, value: 10 });
});

test('the pinned package still has the defects this layer covers (guards the tests above)', () => {
  const raw = parsePrometheusTextFormat(LABELLED_HISTOGRAM);
  assert.equal(raw[0].metrics.length, 1, 'labelled histogram series collapse into one');
  assert.equal(raw[0].metrics[0].labels, undefined, 'and lose their labels');
  assert.throws(() => parsePrometheusTextFormat('m{a="1", b="2"} 1\n'));
  assert.throws(() => parsePrometheusTextFormat('# HELP e\ne 1\n'));
  assert.throws(() => parsePrometheusTextFormat('# TYPE h histogram\nh_count 1\nh_bucket{le="+Inf"} 1\n'), TypeError);
  assert.equal(parsePrometheusTextFormat('a 1\nb 2').length, 1, 'the last sample is dropped without a final newline');
  assert.doesNotThrow(() => parsePrometheusTextFormat('this is garbage\n'));
});

test('mutated expositions: every sample is in the families, or the parse fails with an ExpositionError', () => {
  const base = fixture('bharatmart.txt') + fixture('quirks.txt');
  const mutation = fc.record({
    at: fc.nat({ max: base.length }),
    cut: fc.nat({ max: 4 }),
    insert: fc.constantFrom('', ' ', ',', '"', '\\', '{', '}', '=', '#', '\n', '\r\n', 'x', '1', ' # {a="b"} 1', '__proto__="p",', '\u0000'),
  });
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
      let text = base;
      for (const m of mutations) {
        const at = Math.min(m.at, text.length);
        text = text.slice(0, at) + m.insert + text.slice(at + m.cut);
      }
      try {
        const parsed = parseExposition(text);
        assert.equal(flattenSamples(parsed).length, parsed.sampleCount);
      } catch (err) {
        assert.ok(err instanceof ExpositionError, `only ExpositionError may escape, got ${String(err)}`);
        assert.ok(err.line >= 1 && err.line <= text.split('\n').length);
      }
    }),
    { numRuns: 2000, seed: 20261125 },
  );
});

test('every line the format allows is read exactly (generated lines: names, escapes, blanks, value spellings)', () => {
  const blank = fc.constantFrom('', ' ', '\t', '  ');
  const labelName = fc
    .oneof(fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/), fc.constantFrom('__proto__', 'le', 'constructor', 'toString'))
    .filter((n) => n !== '__name__');
  const labelValue = fc.string({
    unit: fc.constantFrom('a', 'Z', '"', '\\', '\n', ',', ', ', '=', '{', '}', ' ', '\t', '#', ' # ', 'é', '😀', 'n'),
    maxLength: 8,
  });
  const pair = fc.record({ name: labelName, value: labelValue, before: blank, after: blank });
  const value = fc.oneof(
    fc.double().map((d) => String(d)),
    fc.integer().map((i) => String(i)),
    fc.constantFrom('+Inf', '-Inf', 'Inf', 'inf', '-infinity', 'NaN', 'nan', '.5', '5.', '-1.5E3', '+2'),
  );
  const line = fc.record({
    lead: blank,
    name: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,10}$/),
    braces: fc.boolean(),
    pairs: fc.uniqueArray(pair, { selector: (p) => p.name, maxLength: 5 }),
    trailingComma: fc.boolean(),
    gap: fc.constantFrom(' ', '\t', ' \t'),
    value,
    timestamp: fc.option(fc.nat(), { nil: undefined }),
    tail: blank,
  });
  const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const expectedValue = (v: string): number => (/nan/i.test(v) ? NaN : /inf/i.test(v) ? (v.startsWith('-') ? -Infinity : Infinity) : Number(v));
  fc.assert(
    fc.property(line, (l) => {
      const hasLabels = l.braces || l.pairs.length > 0;
      const set = l.pairs.map((p) => `${p.before}${p.name}${p.after}=${p.before}"${escape(p.value)}"${p.after}`).join(',');
      const labelSet = hasLabels ? `{${set}${l.trailingComma && l.pairs.length > 0 ? ',' : ''}}` : '';
      const text = `${l.lead}${l.name}${labelSet}${l.gap}${l.value}${l.timestamp === undefined ? '' : ` ${l.timestamp}`}${l.tail}`;
      const parsed = parseExposition(text);
      assert.equal(parsed.sampleCount, 1);
      const samples = flattenSamples(parsed);
      assert.equal(samples.length, 1, text);
      assert.equal(samples[0].name, l.name);
      assert.deepEqual(samples[0].labels, Object.fromEntries(l.pairs.map((p) => [p.name, p.value])), text);
      assert.ok(Object.is(samples[0].value, expectedValue(l.value)) || samples[0].value === expectedValue(l.value), text);
      assert.equal(samples[0].timestampMs, l.timestamp);
    }),
    { numRuns: 3000, seed: 4242 },
  );
});

/** The parse error of an exposition given as bytes (as a scrape receives it). */
function bytesError(bytes: Buffer): ExpositionError {
  try {
    parseExposition(decodeExposition(bytes));
  } catch (e) {
    assert.ok(e instanceof ExpositionError, String(e));
    return e;
  }
  assert.fail('expected an ExpositionError');
}

test('invalid UTF-8 in a label value fails the parse with its line number, like Prometheus', () => {
  const body = Buffer.concat([Buffer.from('# HELP m help\nm{a="ok"} 1\nm{a="b'), Buffer.from([0xff]), Buffer.from('c"} 2\n')]);
  const e = bytesError(body);
  assert.equal(e.line, 3);
  assert.match(e.message, /^line 3: invalid UTF-8 label value: byte 0xFF at column 7$/);
  // Truncated sequences, overlong forms and encoded surrogates are invalid too.
  for (const bad of [[0xc3], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]]) {
    const err = bytesError(Buffer.concat([Buffer.from('m{a="'), Buffer.from(bad), Buffer.from('"} 1\n')]));
    assert.match(err.message, /^line 1: invalid UTF-8 label value: byte 0x[0-9A-F]{2}/, JSON.stringify(bad));
  }
  // Outside a label set it is still an error with the line number.
  assert.match(
    bytesError(Buffer.concat([Buffer.from('ok 1\nm'), Buffer.from([0xfe]), Buffer.from(' 1\n')])).message,
    /^line 2: invalid UTF-8 in the sample line/,
  );
});

test('valid UTF-8 (a real U+FFFD, astral characters) passes; invalid UTF-8 in HELP becomes U+FFFD; comments are ignored', () => {
  const valid = Buffer.from('m{a="\uFFFD😀मुंबई"} 1\n', 'utf8');
  assert.equal(decodeExposition(valid), valid.toString('utf8'));
  assert.deepEqual(flattenSamples(parseExposition(decodeExposition(valid)))[0].labels, { a: '\uFFFD😀मुंबई' });
  const help = Buffer.concat([
    Buffer.from('# HELP m caf'),
    Buffer.from([0xe9]),
    Buffer.from('\n# just a comment '),
    Buffer.from([0xff]),
    Buffer.from('\nm 1\n'),
  ]);
  const fam = parseExposition(decodeExposition(help)).families[0];
  assert.equal(fam.help, 'caf\uFFFD');
});
