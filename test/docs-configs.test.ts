/**
 * The Prometheus configurations the user documentation shows are true: every one in README.md,
 * docs/*.md and examples/ is read by prom2oci and accepted by `promtool check config` (CI=true
 * fails when promtool is missing, it never skips there); and the cardinality walk-throughs (README,
 * docs/cost.md) run as written: each `$ npx prom2oci ...` command, with the YAML block above it as
 * `prometheus.yml` and its target served on 127.0.0.1 with the walk-through's app (ten paths:
 * test/helpers/known-exposition.ts), prints every output line the page shows, in order, and the
 * forecast falls.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { parseScrapeConfig } from '../src/config/scrapeConfig';
import { SETTING_SPECS } from '../src/config/settings';
import { knownExposition, serveExposition } from './helpers/known-exposition';
import { requireBinary } from './helpers/requires';
import { PROMTOOL, promtoolCheck } from './helpers/promtool';

const ROOT = path.resolve(__dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'prom2oci-docs-configs-'));

/** A fenced block of a page: its language, text and the line it starts on. */
interface Block {
  lang: string;
  text: string;
  line: number;
}

/** The fenced blocks of a markdown text, in order. */
function blocksOf(markdown: string): Block[] {
  const out: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith('```'); i++) body.push(lines[i]);
    out.push({ lang: open[1], text: `${body.join('\n')}\n`, line: start + 1 });
  }
  return out;
}

/** A YAML block that is (or tries to be) a Prometheus configuration: it names a job or scrape_configs. */
const isPrometheusConfig = (b: Block) => /^(ya?ml)$/.test(b.lang) && /^\s*(scrape_configs:|- job_name:|global:)/m.test(b.text);

/** The pages a user reads: README.md and docs/*.md. */
const PAGES = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const page = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

describe('every Prometheus configuration the README, docs/ and examples/ show passes promtool check config', () => {
  const configs = [
    ...PAGES.flatMap((file) =>
      blocksOf(page(file))
        .filter(isPrometheusConfig)
        .map((b) => ({ name: `${file}:${b.line}`, text: b.text })),
    ),
    ...readdirSync(path.join(ROOT, 'examples'))
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => ({ name: `examples/${f}`, text: readFileSync(path.join(ROOT, 'examples', f), 'utf8') })),
  ];

  test('the README shows a complete configuration, and the pages and examples have configurations at all', () => {
    assert.ok(
      configs.some((c) => c.name.startsWith('README.md:') && /scrape_configs:/.test(c.text)),
      'README.md shows a complete configuration',
    );
    for (const where of ['docs/scrape-config.md', 'docs/cost.md', 'examples/bharatmart.yml'])
      assert.ok(
        configs.some((c) => c.name.startsWith(where)),
        where,
      );
  });

  for (const c of configs) {
    test(`${c.name}: a whole file prom2oci reads and promtool accepts`, (t) => {
      assert.match(c.text, /^scrape_configs:|^global:/m, 'a whole file (global, scrape_configs), not a fragment');
      const parsed = parseScrapeConfig(c.text, c.name);
      assert.ok(parsed.jobs.length > 0);
      if (!requireBinary(t, PROMTOOL, 'prometheus')) return;
      const r = promtoolCheck(c.text, c.name);
      assert.ok(r.ok, r.output);
    });
  }

  test('no configuration hides in another kind of block (it would not be checked): show it as ```yaml', () => {
    const hidden = PAGES.flatMap((file) =>
      blocksOf(page(file))
        .filter((b) => !/^ya?ml$/.test(b.lang) && /^\s*scrape_configs:\s*$/m.test(b.text))
        .map((b) => `${file}:${b.line} (\`\`\`${b.lang})`),
    );
    assert.deepEqual(hidden, []);
  });

  test('negative: promtool refuses a broken file here (the check can fail)', (t) => {
    if (!requireBinary(t, PROMTOOL, 'prometheus')) return;
    const r = promtoolCheck('scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [a:1]}]\n    relabel_configs: [{action: nope}]\n', 'broken');
    assert.equal(r.ok, false, r.output);
  });
});

/** The walk-through steps of a page: each console command with the configuration shown above it and the output lines it shows. */
function walkThroughSteps(markdown: string): { config: string; command: string[]; shown: string[]; line: number }[] {
  const steps: { config: string; command: string[]; shown: string[]; line: number }[] = [];
  let config: string | undefined;
  for (const b of blocksOf(markdown)) {
    if (isPrometheusConfig(b)) config = b.text;
    if (b.lang !== 'console' || !/--config prometheus\.yml/.test(b.text)) continue;
    const [first, ...rest] = b.text.trimEnd().split('\n');
    const m = /^\$ npx prom2oci (.*)$/.exec(first);
    assert.ok(m && config, `line ${b.line}: a prom2oci command after a configuration`);
    steps.push({ config, command: m[1].split(/\s+/), shown: rest.filter((l) => l.trim() !== '' && l !== '...'), line: b.line });
  }
  return steps;
}

/** The lines not found, in order: a shown line ending in "..." is a prefix of the printed one. */
function missingInOrder(shown: readonly string[], printed: readonly string[]): string[] {
  const missing: string[] = [];
  let at = 0;
  for (const line of shown) {
    const prefix = line.endsWith('...') ? line.slice(0, -3) : undefined;
    const i = printed.findIndex((p, k) => k >= at && (prefix === undefined ? p.trimEnd() === line : p.startsWith(prefix)));
    if (i < 0) missing.push(line);
    else at = i + 1;
  }
  return missing;
}

/** The "metric streams N" figure of a dry run's forecast. */
const streamsOf = (out: string) => Number(/^ {2}metric streams (\d+),/m.exec(out)?.[1]);

describe('the cardinality walk-throughs run as written: see the top label, drop it, see the forecast fall', () => {
  let app: Awaited<ReturnType<typeof serveExposition>>;
  before(async () => {
    app = await serveExposition(knownExposition());
  });
  after(async () => {
    await app?.close();
  });

  /** The process environment without any setting (the page's command must give what it needs). */
  const cleanEnv = (): NodeJS.ProcessEnv => {
    const env = { ...process.env };
    for (const s of SETTING_SPECS) delete env[s.key];
    return env;
  };

  for (const file of ['README.md', 'docs/cost.md']) {
    test(`${file}: every step prints what the page shows, and the forecast falls`, { timeout: 180_000 }, async () => {
      const steps = walkThroughSteps(page(file));
      assert.ok(steps.length >= 2, `${file} has a walk-through of at least two dry runs`);
      const streams: number[] = [];
      for (const step of steps) {
        const targets = [...step.config.matchAll(/targets: \['([^']+)'\]/g)].map((m) => m[1]);
        assert.equal(targets.length, 1, `line ${step.line}: one target, served here by the walk-through's app`);
        const configFile = path.join(dir, `walk-${path.basename(file)}-${step.line}.yml`);
        writeFileSync(configFile, step.config.replace(targets[0], app.host));
        const args = step.command.map((a) => (a === 'prometheus.yml' ? configFile : a));
        assert.ok(args.includes('--dry-run'), 'a dry run: nothing posted');
        const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
          cwd: ROOT,
          env: cleanEnv(),
          encoding: 'utf8',
          maxBuffer: 16 << 20,
        });
        assert.deepEqual(
          missingInOrder(step.shown, r.stdout.split('\n')),
          [],
          `${file} line ${step.line}: lines the page shows that the command did not print`,
        );
        streams.push(streamsOf(r.stdout));
      }
      assert.ok(
        streams.every((n) => n > 0),
        String(streams),
      );
      assert.ok(streams.at(-1)! < streams[0], `the forecast fell: ${streams.join(' -> ')} streams`);
    });
  }

  test('negative: a figure the command does not print is found missing', () => {
    assert.deepEqual(missingInOrder(['  metric streams 41, datapoints 41 per invocation'], ['  metric streams 33, datapoints 33 per invocation']), [
      '  metric streams 41, datapoints 41 per invocation',
    ]);
    assert.deepEqual(missingInOrder(['b', 'a'], ['a', 'b']), ['a'], 'in order');
    assert.deepEqual(missingInOrder(['cardinality of the 33 ...'], ['cardinality of the 33 metric streams']), []);
  });
});
