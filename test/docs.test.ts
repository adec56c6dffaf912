/**
 * The user documentation's promises that can drift: docs/configuration.md is generated from the
 * settings table (scripts/docs-config.ts) and must be current; docs/troubleshooting.md starts from
 * the symptoms, each with its checks in order and their commands; docs/performance.md gives the
 * latest run's date and Node; every relative link reaches its file and heading, and the front page
 * reaches each user task in one click; docs/reliability.md has a row for each of issue 20's items and
 * names only tests that exist.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { SETTING_SPECS } from '../src/config/settings';
import { CONFIGURATION_PAGE, configurationPage } from '../scripts/docs-config';

/** The rows of the page's settings table: the key, and the default cell. */
function settingRows(page: string): { key: string; defaultCell: string }[] {
  return page
    .split('\n')
    .filter((l) => /^\| `[A-Z0-9_]+` \|/.test(l))
    .map((line) => {
      const cells = line.split(/ (?<!\\)\| /);
      return { key: cells[0].replace(/^\| `|`$/g, ''), defaultCell: cells[2] };
    });
}

describe('docs/configuration.md, generated from SETTINGS_TABLE', () => {
  test('is current (else: npm run docs:config)', () => {
    assert.equal(readFileSync(CONFIGURATION_PAGE, 'utf8'), configurationPage(), 'docs/configuration.md is stale: run `npm run docs:config`');
  });

  test('has one row per setting, in the table order, with its default or its requirement', () => {
    const rows = settingRows(configurationPage());
    assert.deepEqual(
      rows.map((r) => r.key),
      SETTING_SPECS.map((s) => s.key),
    );
    for (const spec of SETTING_SPECS) {
      const cell = rows.find((r) => r.key === spec.key)!.defaultCell;
      if (spec.default !== undefined) assert.equal(cell, `\`${spec.default}\``, spec.key);
      else if (spec.required !== undefined) assert.match(cell, /^required unless/, spec.key);
      else assert.equal(cell === 'none', spec.unset === undefined, `${spec.key}: unset means nothing, or what its row says (${cell})`);
    }
  });

  test('negative: a changed row makes the page stale, and the page shows the change', () => {
    const changed = SETTING_SPECS.map((s) => (s.key === 'POST_CONCURRENCY' ? { ...s, default: '5', description: 'changed' } : s));
    const page = configurationPage(changed);
    assert.notEqual(page, configurationPage());
    assert.match(page, /^\| `POST_CONCURRENCY` \| changed \| `5` \|/m);
  });

  test('cells stay one cell: a | is escaped, names and placeholders are code', () => {
    const line = configurationPage()
      .split('\n')
      .find((l) => l.startsWith('| `DRY_RUN` |'))!;
    assert.match(line, /true\\\|false/);
    assert.match(configurationPage(), /`<name>_bucket`/);
    assert.match(configurationPage(), /`DISCOVERY_COMPARTMENT_OCID`/);
  });
});

/** The sections of a markdown page by `## ` heading (code blocks skipped): heading -> body. */
function sections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  let inCode = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inCode = !inCode;
    const heading = !inCode && /^## (.*)$/.exec(line);
    if (heading) out.set((current = heading[1]), '');
    else if (current !== undefined) out.set(current, `${out.get(current)}${line}\n`);
  }
  return out;
}

/** Problems of a troubleshooting page: the symptoms first, in order, each with numbered checks that run commands, then the failure table. */
function troubleshootingProblems(markdown: string): string[] {
  const symptoms = ['No data in OCI', '`up` is 0', 'Gaps', '429s', 'The bill is higher than forecast', 'Derived series missing'];
  const found = sections(markdown);
  const headings = [...found.keys()];
  const problems: string[] = [];
  if (headings.slice(0, symptoms.length).join(' | ') !== symptoms.join(' | '))
    problems.push(`the page opens with the symptoms ${symptoms.join(', ')}; it has ${headings.join(', ')}`);
  for (const symptom of symptoms) {
    const body = found.get(symptom) ?? '';
    const checks = body.match(/^\d+\. \*\*/gm) ?? [];
    if (checks.length < 2) problems.push(`"${symptom}": fewer than two numbered checks`);
    if (!/```sh\n/.test(body) && !/`(fn|oci|terraform|npx|curl) [^`]+`/.test(body)) problems.push(`"${symptom}": no command to run`);
  }
  if (headings[symptoms.length] !== 'Every failure, by stage') problems.push('the failure table follows the symptoms');
  return problems;
}

describe('docs/troubleshooting.md, by symptom first', () => {
  test('the six symptoms open the page, each with its checks in order and their commands; the failure table follows', () => {
    assert.deepEqual(troubleshootingProblems(readFileSync(path.join(__dirname, '..', 'docs', 'troubleshooting.md'), 'utf8')), []);
  });

  test('negative: a page organised by stage, or a symptom without a command, is named', () => {
    const byStage = '# T\n\n## Every failure, by stage\n\n## No data in OCI\n\n1. **a**\n2. **b**\n';
    assert.match(troubleshootingProblems(byStage).join('\n'), /opens with the symptoms/);
    const noCommand = '## No data in OCI\n\n1. **look**\n2. **look again**\n';
    assert.match(troubleshootingProblems(noCommand).join('\n'), /"No data in OCI": no command to run/);
  });
});

/** Problems of docs/performance.md against the latest benchmark run and the image: the run's date and Node, and the image's Node when they differ. */
function performanceProblems(page: string, latest: string, dockerfile: string): string[] {
  const machine = /^Machine: (.*)$/m.exec(latest)?.[1] ?? '';
  const node = /Node v(\d+)\.\d+\.\d+/.exec(machine);
  const date = /(\d{4}-\d{2}-\d{2})T/.exec(machine)?.[1];
  const image = /^FROM fnproject\/node:(\d+)\s*$/m.exec(dockerfile)?.[1];
  const problems: string[] = [];
  if (!node || !date || !image) return [`cannot read the run's Node and date (${machine}) or the image's Node`];
  if (!page.includes(date)) problems.push(`the page does not give the latest run's date, ${date}`);
  if (!page.includes(`Node v${node[0].slice(6)}`)) problems.push(`the page does not give the latest run's Node, ${node[0]}`);
  if (node[1] !== image && !new RegExp(`image\\s+runs\\s+Node\\s+${image}\\b`).test(page))
    problems.push(`the run used Node ${node[1]} and the image runs Node ${image}: the page must say so`);
  return problems;
}

describe('docs/performance.md, the current figures', () => {
  const read = (file: string) => readFileSync(path.join(__dirname, '..', file), 'utf8');

  test("gives the latest run's date and Node version, and the image's Node when it differs", () => {
    assert.deepEqual(performanceProblems(read('docs/performance.md'), read('bench-results/latest.md'), read('Dockerfile')), []);
  });

  test('negative: a newer run, or an image on another Node, makes the page stale', () => {
    const page = read('docs/performance.md');
    const newer = read('bench-results/latest.md').replace(/Node v\d+\.\d+\.\d+(.*?)\d{4}-\d{2}-\d{2}T/, 'Node v24.1.0$12031-01-02T');
    const problems = performanceProblems(page, newer, 'FROM fnproject/node:24\n').join('\n');
    assert.match(problems, /latest run's date, 2031-01-02/);
    assert.match(problems, /latest run's Node, Node v24\.1\.0/);
    assert.match(performanceProblems(page, read('bench-results/latest.md'), 'FROM fnproject/node:26\n').join(), /the image runs Node 26: the page must say so/);
  });
});

/** A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const out = new Set<string>();
  let inCode = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inCode = !inCode;
    const heading = !inCode && /^#{1,6} (.*)$/.exec(line);
    if (!heading) continue;
    const base = heading[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    let anchor = base;
    for (let n = 1; out.has(anchor); n++) anchor = `${base}-${n}`;
    out.add(anchor);
  }
  return out;
}

/**
 * Pages another lane has promised and not written yet: a link to one is allowed while it is absent
 * (and checked like any other once it exists). Remove an entry when its page lands.
 */
const PROMISED_PAGES: Record<string, string> = {};

/** Problems of the relative links of `files` (repository paths): every target file exists, and every #anchor is a heading there. */
function linkProblems(files: string[], read: (file: string) => string | undefined): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const text = (read(file) ?? '').replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue;
      const [linkPath, anchor] = target.split('#');
      const resolved = linkPath ? path.posix.normalize(path.posix.join(path.posix.dirname(file), linkPath)) : file;
      const body = read(resolved);
      if (body === undefined) {
        if (!(resolved in PROMISED_PAGES)) problems.push(`${file}: ${target}: no such file`);
        continue;
      }
      if (anchor && resolved.endsWith('.md') && !anchorsOf(body).has(anchor)) problems.push(`${file}: ${target}: no such heading`);
    }
  }
  return problems;
}

describe('the documentation links', () => {
  const ROOT = path.join(__dirname, '..');
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(path.join(ROOT, file), 'utf8');
    } catch {
      return undefined;
    }
  };
  const pages = () => [
    'README.md',
    'terraform/README.md',
    ...readdirSync(path.join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
    ...readdirSync(path.join(ROOT, 'bench-results'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `bench-results/${f}`),
  ];

  test('every relative link of README.md, docs/ and bench-results/ reaches its file and heading', () => {
    assert.deepEqual(linkProblems(pages(), read), []);
  });

  test("the front page reaches each user task's page in one click", () => {
    const readme = read('README.md')!;
    for (const page of ['docs/local.md', 'docs/deploy.md', 'docs/configuration.md', 'docs/troubleshooting.md#no-data-in-oci'])
      assert.ok(readme.includes(`](${page})`), `README.md links to ${page}`);
  });

  test('negative: a missing file and a missing heading are named', () => {
    const files: Record<string, string> = {
      'docs/a.md': '# A\n\n## Two words\n\n[x](b.md) [y](#two-words) [z](#nope) [w](../README.md#x)\n',
      'README.md': '# R\n',
    };
    const problems = linkProblems(['docs/a.md'], (f) => files[f]).join('\n');
    assert.match(problems, /docs\/a\.md: b\.md: no such file/);
    assert.match(problems, /docs\/a\.md: #nope: no such heading/);
    assert.match(problems, /docs\/a\.md: \.\.\/README\.md#x: no such heading/);
    assert.doesNotMatch(problems, /two-words/);
  });
});

/** Lines of `text` that a merge left behind: conflict markers at the start of a line. */
function conflictMarkers(text: string): number[] {
  return text
    .split('\n')
    .map((line, i) => (/^(<{7} |>{7} |={7}$)/.test(line) ? i + 1 : 0))
    .filter((n) => n > 0);
}

describe('no merge left its conflict markers behind', () => {
  test('in any documentation, source, test, script or Terraform file', () => {
    const roots = ['README.md', 'docs', 'src', 'test', 'scripts', 'terraform', 'bench-results', '.ci'];
    const files = roots.flatMap((root) =>
      statSync(root).isDirectory() ? readdirSync(root, { recursive: true, encoding: 'utf8' }).map((f) => path.join(root, f)) : [root],
    );
    const found = files
      .filter((f) => /\.(md|ts|mjs|tf|ya?ml|json|sh)$|(^|\/)run$/.test(f) && statSync(f).isFile())
      .flatMap((f) => conflictMarkers(readFileSync(f, 'utf8')).map((line) => `${f}:${line}`));
    assert.deepEqual(found, []);
  });

  test('negative: each of the three markers is found', () => {
    assert.deepEqual(conflictMarkers('a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> main\n'), [2, 4, 6]);
    assert.deepEqual(conflictMarkers('a\n======= heading underline\n'), []);
  });
});

/** The tests docs/reliability.md names (`test/x.test.ts` "name") that no such file declares, and the items 1..n without a row. */
function reliabilityProblems(page: string, items: number, read: (file: string) => string | undefined): string[] {
  const problems: string[] = [];
  for (const [, file, quoted] of page.matchAll(/`(test\/[\w.-]+\.test\.ts)` "([^"]+)"/g)) {
    const name = quoted.replace(/\s+/g, ' '); // a name may wrap in the page's prose
    const text = read(file);
    if (text === undefined) problems.push(`${file}: no such file`);
    else if (![`'${name}'`, `"${name}"`, `\`${name}\``].some((quoted) => text.includes(quoted))) problems.push(`${file}: no test "${name}"`);
  }
  const rows = new Set([...page.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])));
  for (let i = 1; i <= items; i++) if (!rows.has(i)) problems.push(`item ${i}: no row`);
  return problems;
}

describe('docs/reliability.md, issue 20 item by item', () => {
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(path.join(__dirname, '..', file), 'utf8');
    } catch {
      return undefined;
    }
  };

  test('each of the 25 items has a row, and every test it names exists under that name', () => {
    assert.deepEqual(reliabilityProblems(read('docs/reliability.md')!, 25, read), []);
  });

  test('negative: a renamed test, a missing file and a missing item are named', () => {
    const files: Record<string, string> = { 'test/a.test.ts': "test('the real name', () => {});\n" };
    const page = '| 1 | x | `test/a.test.ts` "the old name" |\n| 2 | y | `test/b.test.ts` "z" |\n| 2 | y | `test/a.test.ts` "the real name" |\n';
    assert.deepEqual(
      reliabilityProblems(page, 3, (f) => files[f]),
      ['test/a.test.ts: no test "the old name"', 'test/b.test.ts: no such file', 'item 3: no row'],
    );
  });
});
