/**
 * The relabel engine and the RE2 translation. The first table is Prometheus' own
 * (model/relabel/relabel_test.go, TestRelabel), ported case by case; the rest pins the Go semantics
 * JavaScript would read differently. The comparison with the real server is in test/scrape-config-prometheus.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRe2, Re2Error } from '../src/relabel/re2';
import { expandTemplate, hashmod, relabel, relabelRule, RelabelConfigError, type RelabelRuleInput } from '../src/relabel/relabel';

const run = (input: Record<string, string>, rules: RelabelRuleInput[]) => relabel(input, rules.map(relabelRule));

describe('relabel: Prometheus TestRelabel table', () => {
  const cases: { input: Record<string, string>; rules: RelabelRuleInput[]; output?: Record<string, string> }[] = [
    {
      input: { a: 'foo', b: 'bar', c: 'baz' },
      rules: [{ source_labels: ['a'], regex: 'f(.*)', target_label: 'd', separator: ';', replacement: 'ch${1}-ch${1}', action: 'replace' }],
      output: { a: 'foo', b: 'bar', c: 'baz', d: 'choo-choo' },
    },
    {
      input: { a: 'foo', b: 'bar', c: 'baz' },
      rules: [
        { source_labels: ['a', 'b'], regex: 'f(.*);(.*)r', target_label: 'a', separator: ';', replacement: 'b${1}${2}m' },
        { source_labels: ['c', 'a'], regex: '(b).*b(.*)ba(.*)', target_label: 'd', separator: ';', replacement: '$1$2$2$3' },
      ],
      output: { a: 'boobam', b: 'bar', c: 'baz', d: 'boooom' },
    },
    {
      input: { a: 'foo' },
      rules: [
        { source_labels: ['a'], regex: '.*o.*', action: 'drop' },
        { source_labels: ['a'], regex: 'f(.*)', target_label: 'd', replacement: 'ch$1-ch$1' },
      ],
    },
    { input: { a: 'foo', b: 'bar' }, rules: [{ source_labels: ['a'], regex: '.*o.*', action: 'drop' }] },
    { input: { a: 'abc' }, rules: [{ source_labels: ['a'], regex: '.*(b).*', target_label: 'd', replacement: '$1' }], output: { a: 'abc', d: 'b' } },
    { input: { a: 'foo' }, rules: [{ source_labels: ['a'], regex: 'no-match', action: 'drop' }], output: { a: 'foo' } },
    { input: { a: 'foo' }, rules: [{ source_labels: ['a'], regex: 'f|o', action: 'drop' }], output: { a: 'foo' } },
    { input: { a: 'foo' }, rules: [{ source_labels: ['a'], regex: 'no-match', action: 'keep' }] },
    { input: { a: 'foo' }, rules: [{ source_labels: ['a'], regex: 'f.*', action: 'keep' }], output: { a: 'foo' } },
    // No replacement must be applied if there is no match.
    { input: { a: 'boo' }, rules: [{ source_labels: ['a'], regex: 'f', target_label: 'b', replacement: 'bar' }], output: { a: 'boo' } },
    {
      input: { a: 'foo', b: 'bar', c: 'baz' },
      rules: [{ source_labels: ['c'], target_label: 'd', separator: ';', action: 'hashmod', modulus: 1000 }],
      output: { a: 'foo', b: 'bar', c: 'baz', d: '976' },
    },
    { input: { a: 'foo\nbar' }, rules: [{ source_labels: ['a'], target_label: 'b', action: 'hashmod', modulus: 1000 }], output: { a: 'foo\nbar', b: '734' } },
    {
      input: { a: 'foo', b1: 'bar', b2: 'baz' },
      rules: [{ regex: '(b.*)', replacement: 'bar_${1}', action: 'labelmap' }],
      output: { a: 'foo', b1: 'bar', b2: 'baz', bar_b1: 'bar', bar_b2: 'baz' },
    },
    {
      input: { a: 'foo', __meta_my_bar: 'aaa', __meta_my_baz: 'bbb', __meta_other: 'ccc' },
      rules: [{ regex: '__meta_(my.*)', replacement: '${1}', action: 'labelmap' }],
      output: { a: 'foo', __meta_my_bar: 'aaa', __meta_my_baz: 'bbb', __meta_other: 'ccc', my_bar: 'aaa', my_baz: 'bbb' },
    },
    {
      input: { a: 'some-name-value' },
      rules: [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', replacement: '${2}', target_label: '${1}' }],
      output: { a: 'some-name-value', name: 'value' },
    },
    {
      input: { a: 'some-name-value' },
      rules: [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', replacement: '${3}', target_label: '${1}' }],
      output: { a: 'some-name-value' },
    },
    {
      input: { a: 'some-name-0' },
      rules: [
        { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '${3}' },
        { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '${3}' },
        { source_labels: ['a'], regex: 'some-([^-]+)(-[^,]+)', replacement: '${1}', target_label: '${3}' },
      ],
      output: { a: 'some-name-0' },
    },
    {
      input: { __meta_sd_tags: 'path:/secret,job:some-job,label:foo=bar' },
      rules: [
        { source_labels: ['__meta_sd_tags'], regex: '(?:.+,|^)path:(/[^,]+).*', replacement: '${1}', target_label: '__metrics_path__' },
        { source_labels: ['__meta_sd_tags'], regex: '(?:.+,|^)job:([^,]+).*', replacement: '${1}', target_label: 'job' },
        { source_labels: ['__meta_sd_tags'], regex: '(?:.+,|^)label:([^=]+)=([^,]+).*', replacement: '${2}', target_label: '${1}' },
      ],
      output: { __meta_sd_tags: 'path:/secret,job:some-job,label:foo=bar', __metrics_path__: '/secret', job: 'some-job', foo: 'bar' },
    },
    {
      input: { __meta_kubernetes_pod_container_port_name: 'foo', __meta_kubernetes_pod_annotation_XXX_metrics_port: '9091' },
      rules: [
        { regex: '^__meta_kubernetes_pod_container_port_name$', action: 'labeldrop' },
        {
          source_labels: ['__meta_kubernetes_pod_annotation_XXX_metrics_port'],
          regex: '(.+)',
          replacement: 'metrics',
          target_label: '__meta_kubernetes_pod_container_port_name',
        },
        { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: '^metrics$', action: 'keep' },
      ],
      output: { __meta_kubernetes_pod_annotation_XXX_metrics_port: '9091', __meta_kubernetes_pod_container_port_name: 'metrics' },
    },
    { input: { a: 'foo', b1: 'bar', b2: 'baz' }, rules: [{ regex: '(b.*)', action: 'labelkeep' }], output: { b1: 'bar', b2: 'baz' } },
    { input: { a: 'foo', b1: 'bar', b2: 'baz' }, rules: [{ regex: '(b.*)', action: 'labeldrop' }], output: { a: 'foo' } },
    {
      input: { foo: 'bAr123Foo' },
      rules: [
        { source_labels: ['foo'], action: 'uppercase', target_label: 'foo_uppercase' },
        { source_labels: ['foo'], action: 'lowercase', target_label: 'foo_lowercase' },
      ],
      output: { foo: 'bAr123Foo', foo_lowercase: 'bar123foo', foo_uppercase: 'BAR123FOO' },
    },
    {
      input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
      rules: [{ source_labels: ['__tmp_port'], action: 'keepequal', target_label: '__port1' }],
      output: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    },
    {
      input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
      rules: [{ source_labels: ['__tmp_port'], action: 'dropequal', target_label: '__port1' }],
    },
    {
      input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
      rules: [{ source_labels: ['__tmp_port'], action: 'dropequal', target_label: '__port2' }],
      output: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    },
    {
      input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
      rules: [{ source_labels: ['__tmp_port'], action: 'keepequal', target_label: '__port2' }],
    },
  ];
  cases.forEach((c, i) => {
    test(`case ${i}: ${c.output ? 'kept' : 'dropped'}`, () => {
      assert.deepEqual(run(c.input, c.rules), c.output);
    });
  });
});

describe('relabel: Prometheus TestRelabelValidate and TestTargetLabelValidity', () => {
  const refused: [RelabelRuleInput, RegExp][] = [
    [{ action: 'replace' }, /requires 'target_label' value/],
    [{ action: 'lowercase' }, /requires 'target_label' value/],
    [{ action: 'lowercase', target_label: '${3}' }, /"\$\{3\}" is invalid 'target_label'/],
    [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '0${3}' }, /"0\$\{3\}" is invalid 'target_label'/],
    [
      { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '-${3}' },
      /"-\$\{3\}" is invalid 'target_label' for replace action/,
    ],
    [{ action: 'hashmod', target_label: 'x' }, /requires non-zero modulus/],
    [{ action: 'keepequal', target_label: 'x', separator: ',' }, /requires only 'source_labels'/],
    [{ action: 'labeldrop', regex: 'a', target_label: 'x' }, /requires only 'regex'/],
    [{ action: 'labelmap', replacement: '-x' }, /invalid 'replacement'/],
    [{ action: 'Replacee', target_label: 'x' }, /unknown relabel action "Replacee"/],
  ];
  for (const [input, message] of refused) test(`refuses ${JSON.stringify(input)}`, () => assert.throws(() => relabelRule(input), message));
  test('accepts a templated target label', () => {
    assert.doesNotThrow(() => relabelRule({ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '${3}' }));
  });
  test('actions are case-insensitive, as Prometheus reads them', () => {
    assert.equal(relabelRule({ action: 'LabelDrop', regex: 'x' }).action, 'labeldrop');
  });
  const validity: [string, boolean][] = [
    ['-label', false],
    ['label', true],
    ['label${1}', true],
    ['${1}label', true],
    ['${1}', true],
    ['${', false],
    ['$', false],
    ['${}', false],
    ['foo${', false],
    ['$1', true],
    ['asd$2asd', true],
    ['-foo${1}bar-', false],
    ['_${1}_', true],
    ['foo${bar}foo', true],
  ];
  for (const [target, valid] of validity) {
    test(`target_label ${target} is ${valid ? 'valid' : 'invalid'}`, () => {
      const make = () => relabelRule({ source_labels: ['a'], target_label: target });
      if (valid) assert.doesNotThrow(make);
      else assert.throws(make, RelabelConfigError);
    });
  }
});

describe('relabel: Go semantics', () => {
  const m = (re: string, s: string) => {
    const c = compileRe2(re);
    const match = c.regex.exec(s);
    assert.ok(match, `${re} matches ${s}`);
    return { match, names: c.names };
  };
  test('regexp.Expand: $2_$1 is ${2_} (empty) then ${1}', () => {
    const { match, names } = m('(a)(b)', 'ab');
    assert.equal(expandTemplate('$2_$1', match, names), 'a');
    assert.equal(expandTemplate('${2}_${1}', match, names), 'b_a');
    assert.equal(expandTemplate('$$1 $ ${ $x ${1', match, names), '$1 $ ${  ${1');
    assert.equal(expandTemplate('$01 $3 $10', match, names), '  ');
  });
  test('named groups expand by name', () => {
    const { match, names } = m('(?P<first>a)(?P<2nd>b)', 'ab');
    assert.equal(expandTemplate('${2nd}-$first-$1-$2', match, names), 'b-a-a-b');
  });
  test('an empty replacement deletes the label; a missing source reads as empty', () => {
    assert.deepEqual(run({ a: 'x', b: 'y' }, [{ source_labels: ['a'], regex: 'x', target_label: 'b', replacement: '' }]), { a: 'x' });
    assert.deepEqual(run({ a: 'x' }, [{ source_labels: ['missing'], target_label: 'b', replacement: 'set' }]), { a: 'x', b: 'set' });
    assert.deepEqual(run({ a: 'x' }, [{ source_labels: ['missing', 'a'], regex: ';x', target_label: 'b', replacement: 'yes' }]), { a: 'x', b: 'yes' });
  });
  test('keepequal/dropequal: two missing labels are equal', () => {
    assert.deepEqual(run({ a: 'x' }, [{ source_labels: ['m1'], action: 'keepequal', target_label: 'm2' }]), { a: 'x' });
    assert.equal(run({ a: 'x' }, [{ source_labels: ['m1'], action: 'dropequal', target_label: 'm2' }]), undefined);
  });
  test('lowercase of a missing label deletes the target; Go maps each character alone', () => {
    assert.deepEqual(run({ a: 'x', t: 'old' }, [{ source_labels: ['missing'], action: 'lowercase', target_label: 't' }]), { a: 'x' });
    assert.deepEqual(run({ a: 'straße İ' }, [{ source_labels: ['a'], action: 'uppercase', target_label: 'u' }])?.u, 'STRAßE İ');
    assert.deepEqual(run({ a: 'İΣ' }, [{ source_labels: ['a'], action: 'lowercase', target_label: 'l' }])?.l, 'iσ');
  });
  test('regexes are fully anchored: labeldrop of revision keeps revision_date', () => {
    assert.deepEqual(run({ revision: '1', revision_date: '2' }, [{ regex: 'revision', action: 'labeldrop' }]), { revision_date: '2' });
  });
  test('hashmod: MD5, last 8 bytes big-endian, mod N (beyond 2^53)', () => {
    assert.equal(hashmod('baz', 1000n), 976n);
    assert.equal(hashmod('foo\nbar', 1000n), 734n);
    // md5("a") = 0cc175b9c0f1b6a831c399e269772661: low 8 bytes 0x31c399e269772661.
    assert.equal(hashmod('a', 2n ** 53n + 1n), 0x31c399e269772661n % (2n ** 53n + 1n));
  });
});

describe('RE2 translation', () => {
  const matches = (re: string, yes: string[], no: string[]) => {
    const r = compileRe2(re).regex;
    for (const s of yes) assert.ok(r.test(s), `${re} should match ${JSON.stringify(s)}`);
    for (const s of no) assert.ok(!r.test(s), `${re} should not match ${JSON.stringify(s)}`);
  };
  test('. excludes only \\n (not \\r or U+2028); (?s) includes it', () => {
    matches('a.b', ['a\rb', 'a\u2028b', 'a😀b'], ['a\nb', 'ab']);
    matches('(?s)a.b', ['a\nb'], []);
  });
  test('\\s is [\\t\\n\\f\\r ], not Unicode whitespace', () => {
    matches('\\s', [' ', '\t', '\n', '\f', '\r'], ['\v', '\u00a0', '\u2003']);
    matches('\\S', ['\v', '\u00a0'], [' ']);
    matches('[\\s]', [' '], ['\u00a0']);
  });
  test('\\d and \\w are ASCII', () => {
    matches('\\d+', ['0129'], ['٣']);
    matches('\\w+', ['aZ_9'], ['é']);
  });
  test('(?i) at the start, and on part of the regex', () => {
    matches('(?i)foo', ['FOO', 'fOo'], ['fo']);
    matches('foo(?i)bar', ['fooBAR'], ['FOObar']);
    matches('a(?i:b)c', ['aBc'], ['aBC', 'Abc']);
    matches('(?i:k)x', ['\u212ax', 'Kx'], ['kX']);
    matches('(?i:[a-c])d', ['Bd'], ['BD']);
    matches('x(?i)[^a]', ['xb'], ['xA', 'xa']);
    matches('(?i)a(?-i)b', ['Ab'], ['AB']);
  });
  test('(?m): ^ and $ at line ends; without it, the text ends only', () => {
    matches('(?m)a$\\n^b', ['a\nb'], []);
    matches('a$\\nb', [], ['a\nb']);
  });
  test('(?U) swaps greedy and lazy', () => {
    const m = compileRe2('(?U)(a+)(a*)').regex.exec('aaa');
    assert.deepEqual([m?.[1], m?.[2]], ['a', 'aa']);
    const g = compileRe2('(a+?)(a*)').regex.exec('aaa');
    assert.deepEqual([g?.[1], g?.[2]], ['a', 'aa']);
  });
  test('\\A, \\z, \\Q...\\E, octal, hex, POSIX and Unicode classes', () => {
    matches('\\Aab\\z', ['ab'], []);
    matches('\\Qa.b*\\E+', ['a.b*', 'a.b**'], ['axbb']);
    matches('\\101\\x42\\x{43}', ['ABC'], []);
    matches('[[:alpha:]][[:^digit:]][[:punct:]]', ['aa!', 'Z_.'], ['a1!']);
    matches('\\pL\\p{Greek}\\PL', ['aα1'], ['aa1']);
    matches('[]a]+', [']a]'], ['b']);
    matches('[a-c-e]+', ['a-e'], ['d']);
    matches('a{,3}', ['a{,3}'], ['aaa']);
    matches('^*a', ['a'], []);
    matches('x{2,3}', ['xx', 'xxx'], ['x', 'xxxx']);
    matches('\\pC', ['\u0001'], ['\u0378']);
  });
  const refused: [string, RegExp][] = [
    ['(?=a)', /lookaround/],
    ['(?<!a)b', /lookaround/],
    ['(?<n>a)', /\(\?P<name>/],
    ['a**', /nested repetition/],
    ['a++', /nested repetition/],
    ['a{2}{3}', /nested repetition/],
    ['x{1001}', /invalid repeat count/],
    ['\\Z', /\\z/],
    ['\\C', /\\C/],
    ['(a)\\1', /backreference/],
    ['\\8', /backreference/],
    ['[[:foo:]]', /invalid character class/],
    ['\\p{Nope}', /unknown Unicode class/],
    ['(?#c)', /Perl syntax/],
    ['(?-)', /Perl syntax/],
    ['(a', /missing closing \)/],
    ['a)', /unexpected \)/],
    ['[a', /missing closing \]/],
    ['[z-a]', /invalid character class range/],
    ['*', /missing argument/],
    ['(?P<a>x)(?P<a>y)', /duplicate/],
    ['x(?i)\\p{Greek}', /put \(\?i\) at the start/],
  ];
  for (const [re, message] of refused)
    test(`refuses ${re}`, () =>
      assert.throws(
        () => compileRe2(re),
        (e: Error) => e instanceof Re2Error && message.test(e.message),
      ));
});
