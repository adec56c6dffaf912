/**
 * The prom2oci CLI as a user runs it: spawned as a process (from the TypeScript sources through
 * tsx, and once through bin/prom2oci.js), against the real BharatMart simulator, the real
 * signature-verifying ingestion emulator with config-file credentials, and the built function.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCommandLine, parseDuration, readEnvFile, settingFlagNames } from '../src/cli/args';
import { startSchedule } from '../src/local/schedule';
import { SETTING_SPECS } from '../src/config/settings';
import { startBharatMart, type BharatMart } from '../src/local/demo/bharatmart';
import { makeConfigFile } from '../src/local/emulator/credentials';
import { startIngestionEmulator } from '../src/local/emulator/server';
import type { InvocationSummary } from '../src/handler/summary';
import { startFaultyTarget } from './helpers/faulty-target';
import { knownExposition, serveExposition } from './helpers/known-exposition';
import { servedAtLeast } from './helpers/wait';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');
const COMPARTMENT = 'ocid1.compartment.oc1..aaaaaaaaclitestcompartment';
// Node 20 itself reads `--env-file` anywhere on its command line when the file is missing; a
// file that exists reaches the CLI, so the env-file error is tested with a malformed one.
const BAD_ENV_FILE = path.join(tmpdir(), `prom2oci-cli-${process.pid}-bad.env`);

/** A running CLI process with its output collected. */
interface Cli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stdout matches re `count` times; rejects after timeoutMs with the output. */
  waitFor(re: RegExp, count?: number, timeoutMs?: number): Promise<void>;
}

/** Environment for the CLI: PATH/HOME only plus `env` (no settings leak in from the outside). */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
}

/** Spawns `node --import tsx src/cli/main.ts ...args`. */
function spawnCli(args: string[], env: Record<string, string> = {}, entry: string[] = ['--import', 'tsx', MAIN]): Cli {
  const child = spawn(process.execPath, [...entry, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    waiters.forEach((w) => w());
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(re, count = 1, timeoutMs = 20_000) {
      const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if ((out.match(g)?.length ?? 0) >= count) {
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} x${count}\n--- stdout ---\n${out}\n--- stderr ---\n${err}`)), timeoutMs);
        waiters.push(check);
        check();
      });
    },
  };
}

/** Runs the CLI to completion. */
async function runCli(args: string[], env: Record<string, string> = {}, entry?: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = spawnCli(args, env, entry);
  const { code } = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** No stack trace in the text (an "    at fn (file:line)" line). */
function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /^\s+at .+:\d+:\d+\)?$/m, text);
}

/** Resolves after ms. */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let shop: BharatMart;
before(async () => {
  shop = await startBharatMart({ traffic: { intervalMs: 50 } });
  // Let the traffic touch every route so the metric set is complete (75 requests: 1.5 s when idle).
  await servedAtLeast(shop, 75);
});
after(async () => {
  await shop.stop();
  await rm(BAD_ENV_FILE, { force: true });
});

describe('help and errors', () => {
  test('--help lists the commands; each command has its own --help; no command is exit 2', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    for (const cmd of ['once', 'run', 'invoke', 'start']) assert.match(top.stdout, new RegExp(`^  ${cmd} `, 'm'));
    for (const cmd of ['once', 'run', 'invoke', 'start']) {
      const r = await runCli([cmd, '--help']);
      assert.equal(r.code, 0, cmd);
      assert.match(r.stdout, new RegExp(`^usage: prom2oci ${cmd}`), cmd);
    }
    const once = await runCli(['once', '-h']);
    assert.match(once.stdout, /--compartment\s+COMPARTMENT_OCID/);
    assert.match(once.stdout, /--oci-config-file FILE\s+OCI_CONFIG_FILE/);
    assert.match(once.stdout, /--config\s+SCRAPE_CONFIG/);
    assert.equal((await runCli([])).code, 2);
    const unknown = await runCli(['deploy']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "deploy"/);
  });

  test('a wrong setting exits 2 naming the key (and the flag that gave it), never a stack trace', async () => {
    const cases: Array<{ args: string[]; env?: Record<string, string>; re: RegExp }> = [
      { args: ['once'], re: /configuration error: METRICS_ENDPOINT: is required/ },
      { args: ['once', '--endpoint', shop.url, '--compartment', 'nope'], re: /COMPARTMENT_OCID: expected an OCID.*\(given by --compartment\)/ },
      {
        args: ['once', '--dry-run'],
        env: { METRICS_ENDPOINT: shop.url, METRICS_NAMESPACE: 'oci_reserved' },
        re: /METRICS_NAMESPACE: "oci_reserved" uses a reserved prefix/,
      },
      {
        args: ['once', '--dry-run', '--endpoint', shop.url, '--set', 'SCRAPE_TIMEOUT_MS=fast'],
        re: /SCRAPE_TIMEOUT_MS: expected a whole number, got "fast" \(given by --set\)/,
      },
      {
        args: ['once', '--endpoint', shop.url, '--compartment', COMPARTMENT, '--oci-config-file', '/nonexistent/config'],
        re: /OCI_CONFIG_FILE: no usable OCI config \(\/nonexistent\/config/,
      },
      { args: ['once', '--no-such-flag'], re: /unknown flag --no-such-flag/ },
      { args: ['run', '--interval', 'soon', '--dry-run', '--endpoint', shop.url], re: /--interval: "soon" is not a duration/ },
      { args: ['invoke', '--env-file', BAD_ENV_FILE], re: /--env-file .*bad\.env line 2: expected KEY=VALUE/ },
    ];
    await writeFile(BAD_ENV_FILE, 'A=1\nnot a pair\n');
    for (const c of cases) {
      const r = await runCli(c.args, c.env);
      assert.equal(r.code, 2, `${c.args.join(' ')}\n${r.stderr}`);
      assert.match(r.stderr, c.re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assertNoStack(r.stderr);
    }
  });

  test('every target down: exit 1 with the cause, JSON on stdout with --json', async () => {
    const r = await runCli(['once', '--dry-run', '--json', '--endpoint', 'http://127.0.0.1:1/metrics']);
    assert.equal(r.code, 1);
    assert.deepEqual(JSON.parse(r.stdout), { ok: false, error: 'the target is down (http://127.0.0.1:1/metrics: connection refused)' });
    assert.match(r.stderr, /^prom2oci: the target is down/m);
    assertNoStack(r.stderr);
  });
});

describe('once --config FILE: a Prometheus configuration file', () => {
  test('its jobs are scraped: job and instance are dimensions, relabelling applies', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-cli-config-'));
    const file = path.join(dir, 'prometheus.yml');
    const host = new URL(shop.url).host;
    await writeFile(
      file,
      `scrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: ['${host}']\n        labels: { env: demo }\n` +
        `    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: 'process_.*|nodejs_.*'\n        action: drop\n`,
    );
    const r = await runCli(['once', '--dry-run', '--json', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as InvocationSummary;
    const data = s.metricData!.filter((m) => m.name !== 'up' && !m.name.startsWith('scrape_'));
    assert.ok(data.length > 0);
    for (const m of data) {
      assert.equal(m.dimensions.job, 'shop', m.name);
      assert.equal(m.dimensions.instance, host, m.name);
      assert.equal(m.dimensions.env, 'demo', m.name);
      assert.doesNotMatch(m.name, /^(process_|nodejs_)/, 'dropped by metric_relabel_configs');
    }
    assert.ok((s.skipped.dropped_by_metric_relabel ?? 0) > 0);
    assert.deepEqual(s.scrapeConfig?.jobs, [{ job: 'shop', targets: 1, dropped: 0 }]);
    await writeFile(file, 'scrape_configs:\n  - job_name: shop\n    ec2_sd_configs: [{region: x}]\n');
    const bad = await runCli(['once', '--dry-run', '--config', file]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--config .*prometheus\.yml line 3, column 5: scrape_configs\[0\]\.ec2_sd_configs: is not supported/);
    assertNoStack(bad.stderr);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('once', () => {
  test('--dry-run --json against BharatMart: every metric it would post, and the accounting adds up', async () => {
    const r = await runCli(['once', '--dry-run', '--json', '--endpoint', shop.url]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as InvocationSummary;
    assert.equal(s.ok, true);
    assert.equal(s.dryRun, true);
    assert.equal(s.posted, 0);
    const skipped = Object.values(s.skipped).reduce((a, b) => a + (b ?? 0), 0);
    assert.equal(s.samples, s.series - s.derived + skipped, 'samples = series - derived + skipped');
    assert.equal(s.skippedSamples?.length, skipped);
    const data = s.metricData!.filter(
      (m) =>
        ![
          'up',
          'scrape_duration_seconds',
          'scrape_samples_scraped',
          'scrape_series_posted',
          'scrape_series_skipped',
          'scrape_series_failed',
          'scrape_series_derived',
        ].includes(m.name),
    );
    assert.equal(data.length, s.series);
    const names = new Set(data.map((m) => m.name));
    for (const n of [
      'http_requests_total',
      'http_request_duration_seconds_sum',
      'http_request_duration_seconds_count',
      'external_call_latency_ms_count',
      'orders_created_total',
      'orders_success_total',
      'orders_failed_total',
      'payments_processed_total',
      'service_restarts_total',
      'simulated_latency_ms',
      'process_cpu_seconds_total',
    ]) {
      assert.ok(names.has(n), `would post ${n}`);
    }
    assert.equal(s.derived, 0, 'no state (no --state-file, no STATE_BUCKET): nothing derived');
    assert.ok((s.notDerived.state_off ?? 0) > 0 && Object.keys(s.notDerived).length === 1, JSON.stringify(s.notDerived));
    assert.equal(s.state.enabled, false);
    assert.ok(s.metricData!.some((m) => m.name === 'up' && m.datapoints[0].value === 1));
    assert.ok(data.every((m) => m.namespace === 'bharatmart' && m.dimensions.instance === new URL(shop.url).host));
  });

  test('--state-file keeps the previous scrape between runs: the second run derives rates, averages and percentiles', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-cli-state-'));
    try {
      const file = path.join(dir, 'state.gz');
      const first = JSON.parse((await runCli(['once', '--dry-run', '--json', '--endpoint', shop.url, '--state-file', file])).stdout) as InvocationSummary;
      assert.equal(first.derived, 0);
      assert.ok((first.notDerived.first_scrape ?? 0) > 0, JSON.stringify(first.notDerived));
      assert.equal(first.state.read, 'empty');
      assert.equal(first.state.written, true, 'a local state file is written in a dry run too');
      for (let i = 0; i < 5; i++) await fetch(`${shop.baseUrl}/api/products`); // observations between the two scrapes
      const r = await runCli(['once', '--dry-run', '--json', '--endpoint', shop.url, '--state-file', file]);
      assert.equal(r.code, 0, r.stderr);
      const second = JSON.parse(r.stdout) as InvocationSummary;
      assert.equal(second.state.read, 'ok');
      assert.ok(second.derived > 0);
      const names = new Set(second.metricData!.map((m) => m.name));
      for (const n of ['http_requests_total_rate', 'orders_created_total_rate', 'http_request_duration_seconds_p99', 'http_request_duration_seconds_p50'])
        assert.ok(names.has(n), `derives ${n}`);
      const skipped = Object.values(second.skipped).reduce((a, b) => a + (b ?? 0), 0);
      assert.equal(second.samples, second.series - second.derived + skipped);
      assert.match((await runCli(['once', '--dry-run', '--endpoint', shop.url, '--state-file', file])).stdout, /^state: file .*: read ok, written/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('output is complete through a pipe whatever its size, with a slow reader too (no cut at 64 KiB)', async () => {
    const target = await startFaultyTarget();
    try {
      const args = ['once', '--dry-run', '--json', '--endpoint', target.url('/ok?n=3000')];
      for (const entry of [undefined, [path.join(ROOT, 'bin/prom2oci.js')]]) {
        for (const slow of [false, true]) {
          const child = spawn(process.execPath, [...(entry ?? ['--import', 'tsx', MAIN]), ...args], {
            cwd: ROOT,
            env: cleanEnv({}),
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          const chunks: Buffer[] = [];
          let stderr = '';
          child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
          child.stdout.on('data', (c: Buffer) => {
            chunks.push(c);
            // A slow reader (jq on a big document): the pipe fills and the writer has to wait.
            if (slow) {
              child.stdout.pause();
              setTimeout(() => child.stdout.resume(), 5);
            }
          });
          const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
          const code = await closed;
          const out = Buffer.concat(chunks).toString('utf8');
          const what = `${entry ? 'bin' : 'tsx'}${slow ? ', slow reader' : ''}`;
          assert.equal(code, 0, `${what}: ${stderr}`);
          assert.ok(out.length > 256 * 1024, `${what}: a big document (${out.length} bytes)`);
          const s = JSON.parse(out) as InvocationSummary; // throws on a cut document
          assert.equal(s.series, 3000, what);
          assert.equal(s.metricData!.length, 3000 + 7, what);
        }
      }
    } finally {
      await target.close();
    }
  });

  test('--dry-run prints a table and one line per metric object', async () => {
    const r = await runCli(['once', '--dry-run', '--endpoint', shop.url, '--namespace', 'shop', '--include', '^(http_requests_total|orders_.*)$']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok \(dry run: nothing posted\): targets 1\/1 up, samples \d+, would post \d+, skipped \d+/);
    assert.match(r.stdout, /^TARGET\s+UP\s+SAMPLES/m);
    const m = /would post (\d+) metric objects to namespace shop \((\d+) series and (\d+) self-metrics\):/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const lines = r.stdout.split('\n').filter((l) => /^ {2}[a-z_]+\{.*\} -?[\d.e+-]+$/.test(l));
    assert.equal(lines.length, Number(m[1]));
    assert.ok(lines.some((l) => l.startsWith('  http_requests_total{instance=') && l.includes('route=')));
    assert.ok(
      lines.every((l) => /^ {2}(http_requests_total|orders_\w+|up|scrape_\w+)\{/.test(l)),
      'only included families and self-metrics',
    );
    assert.match(r.stdout, /skipped: .*filtered_by_include=\d+/);
    const streams = /metric streams (\d+), datapoints \1 per invocation, ([\d,]+) per month/.exec(r.stdout);
    assert.ok(streams, `forecast printed: ${r.stdout}`);
    assert.equal(Number(streams[1]), Number(m[1]), 'streams = metric objects it would post');
    assert.equal(Number(streams[2].replace(/,/g, '')), Number(m[1]) * 43_800);
    assert.match(r.stdout, /posting [\d.]+ s; invocation ~[\d.]+ s of the 60 s timeout: fits/);
    assert.match(r.stdout, /note: no price configured \(FORECAST_PRICE_PER_MILLION_DATAPOINTS\)/);
  });

  test('--dry-run --config: the cardinality report per job, and the forecast falling once the top label is dropped', async () => {
    const target = await serveExposition(knownExposition());
    const dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-cli-cardinality-'));
    try {
      const file = path.join(dir, 'prometheus.yml');
      const job = `scrape_configs:\n  - job_name: app\n    static_configs: [{targets: ['${target.host}']}]\n`;
      const price = ['--set', 'FORECAST_PRICE_PER_MILLION_DATAPOINTS=1', '--set', 'FORECAST_FREE_DATAPOINTS_PER_MONTH=0', '--set', 'HISTOGRAM_BUCKETS=true'];
      await writeFile(file, job);
      const r = await runCli(['once', '--dry-run', '--config', file, ...price]);
      assert.equal(r.code, 0, r.stderr);
      // 34 data streams + 7 self-metrics; http_requests_total's 21, of which dropping path merges 18.
      assert.match(r.stdout, /^cardinality of the 41 metric streams \(1\.7958 a month\)/m);
      assert.match(r.stdout, /^job "app": 34 streams \(82\.9%\), 5 names, cost 1\.4892 \(82\.9%\)$/m);
      assert.match(r.stdout, /^ {2}http_requests_total: 21 streams \(51\.2%\), cost 0\.9198 \(51\.2%\)$/m);
      assert.match(r.stdout, /^ {4}LABEL +VALUES +MERGED +OF NAME +OF ALL +COST$/m);
      assert.match(r.stdout, /^ {4}path +10 +18 +85\.7% +43\.9% +0\.7884 \(43\.9%\)$/m);
      assert.match(r.stdout, /drop rules \(METRICS_INCLUDE\/EXCLUDE, metric_relabel_configs\): metric streams 41 without -> 41 with \(saves 0\)/);
      await writeFile(file, `${job}    metric_relabel_configs:\n      - action: labeldrop\n        regex: path\n`);
      const dropped = await runCli(['once', '--dry-run', '--config', file, ...price]);
      assert.equal(dropped.code, 0, dropped.stderr);
      assert.match(dropped.stdout, /metric streams 41 without -> 23 with \(saves 18\), ingestion cost 1\.7958 -> 1\.0074 a month \(saves 0\.7884\)/);
      assert.match(dropped.stdout, /^ {2}http_requests_total: 3 streams/m);
      assert.doesNotMatch(dropped.stdout, /^ {4}path /m);
    } finally {
      await target.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('--dry-run with a price: the monthly cost beyond the free datapoints', async () => {
    const r = await runCli([
      'once',
      '--dry-run',
      '--json',
      '--endpoint',
      shop.url,
      '--set',
      'FORECAST_PRICE_PER_MILLION_DATAPOINTS=0.0025',
      '--set',
      'FORECAST_FREE_DATAPOINTS_PER_MONTH=1000000',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as InvocationSummary;
    const f = s.forecast;
    assert.equal(f.metricStreams, s.metricData!.length);
    assert.equal(f.monthlyCost, Math.round(((s.metricData!.length * 43_800 - 1_000_000) / 1e6) * 0.0025 * 1e4) / 1e4);
    assert.ok(f.monthlyCost > 0);
    const bad = await runCli(['once', '--dry-run', '--endpoint', shop.url, '--set', 'FORECAST_PRICE_PER_MILLION_DATAPOINTS=$1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /FORECAST_PRICE_PER_MILLION_DATAPOINTS: expected a non-negative decimal number like 0.0025, got "\$1"/);
  });

  test('posts to the emulator with OCI config-file auth (OCI_CONFIG_FILE, and --config/--profile)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-cli-'));
    const cfg = await makeConfigFile(path.join(dir, 'a'));
    const other = await makeConfigFile(path.join(dir, 'b'), { profile: 'LAB' });
    const emu = await startIngestionEmulator({ configKeys: { [cfg.keyId]: cfg.publicKeyPem, [other.keyId]: other.publicKeyPem } });
    try {
      const r = await runCli(['once', '--json', '--endpoint', shop.url, '--monitoring-endpoint', emu.url], {
        OCI_CONFIG_FILE: cfg.configPath,
        COMPARTMENT_OCID: COMPARTMENT,
      });
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout) as InvocationSummary;
      assert.equal(s.dryRun, false);
      assert.ok(s.posted > 50, `posted ${s.posted}`);
      assert.equal(s.posted, s.series);
      assert.equal(s.failed + s.undelivered, 0);
      assert.equal(emu.counters.metricsAccepted, s.posted + s.selfMetrics.posted);
      assert.ok(emu.calls.every((c) => c.authKind === 'config' && c.status === 200));
      const stored = emu.query({ namespace: 'bharatmart', name: 'http_requests_total', compartmentId: COMPARTMENT });
      assert.ok(stored.length > 3, 'http_requests_total streams stored');
      assert.equal(emu.query({ name: 'up' })[0]?.datapoints[0]?.value, 1);

      const byFlags = await runCli([
        'once',
        '--endpoint',
        shop.url,
        '--monitoring-endpoint',
        emu.url,
        '--compartment',
        COMPARTMENT,
        '--oci-config-file',
        other.configPath,
        '--profile',
        'LAB',
        '--namespace',
        'lab',
      ]);
      assert.equal(byFlags.code, 0, byFlags.stderr);
      assert.match(byFlags.stdout, /^ok: targets 1\/1 up, samples \d+, posted \d+/);
      assert.ok(emu.query({ namespace: 'lab' }).length > 0);
    } finally {
      await emu.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('run', () => {
  test('--interval 1s: one JSON line per cycle at a fixed rate; SIGTERM exits 0 promptly', async () => {
    const cli = spawnCli(['run', '--interval', '1s', '--dry-run', '--endpoint', shop.url]);
    await cli.waitFor(/"msg":"cycle complete"/, 3);
    const sentAt = Date.now();
    cli.child.kill('SIGTERM');
    const { code } = await cli.exited;
    assert.equal(code, 0, cli.stderr());
    // Far above a cycle in flight on a busy machine, far below an invocation's 120 s deadline.
    assert.ok(Date.now() - sentAt < 30_000, `stopped within 30 s (${Date.now() - sentAt} ms)`);
    const lines = cli
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const cycles = lines.filter((l) => l.msg === 'cycle complete');
    assert.ok(cycles.length >= 3);
    for (const c of cycles) {
      assert.equal(c.ok, true);
      assert.equal(c.targetsUp, 1);
      assert.equal(typeof c.samples, 'number');
      assert.match(String(c.summary), /^targets 1\/1 up/);
    }
    // Fixed rate: cycle k is due k - 1 seconds after the first, whatever each took (no drift); how
    // late each started is reported, so a busy machine shows in lateMs, never in the slots. A slot a
    // cycle overran (a very busy machine) is skipped and logged, never run late or twice.
    const numbers = cycles.map((c) => Number(c.cycle));
    const skipped = lines.filter((l) => l.msg === 'cycle skipped: the previous cycle is still running').map((l) => Number(l.cycle));
    assert.equal(numbers[0], 1);
    const due = cycles.map((c) => Date.parse(String(c.dueAt)));
    assert.deepEqual(
      due.map((d) => d - due[0]),
      numbers.map((n) => (n - 1) * 1000),
    );
    for (let n = 1; n <= numbers.at(-1)!; n++) assert.ok(numbers.includes(n) !== skipped.includes(n), `cycle ${n} ran or was skipped, once`);
    assert.ok(cycles.every((c) => typeof c.lateMs === 'number' && Number(c.lateMs) >= 0));
    assert.equal(lines.at(-1)!.msg, 'prom2oci run stopped');
    assert.equal(lines.at(-1)!.signal, 'SIGTERM');
  });

  test('a cycle that overruns is never overlapped: the due slot is skipped and logged; SIGINT finishes the cycle in flight', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let served = 0;
    const slow = http.createServer((_req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        served++;
        res.end('# TYPE slow_total counter\nslow_total 1\n');
      }, 1500);
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/metrics`;
    try {
      const cli = spawnCli(['run', '--interval', '1s', '--dry-run', '--endpoint', url]);
      await cli.waitFor(/"msg":"cycle skipped: the previous cycle is still running"/, 2);
      await cli.waitFor(/"msg":"cycle complete"/, 1);
      // Signal while a scrape is in flight (seen by the server): that cycle still completes and is logged.
      while (inFlight === 0) await sleep(10);
      const servedBefore = served;
      cli.child.kill('SIGINT');
      const { code } = await cli.exited;
      assert.equal(code, 0, cli.stderr());
      assert.equal(maxInFlight, 1, 'cycles never overlap');
      const lines = cli
        .stdout()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const stopAt = lines.findIndex((l) => String(l.msg).startsWith('stopping'));
      assert.ok(stopAt > 0);
      assert.ok(
        lines.slice(stopAt).some((l) => l.msg === 'cycle complete'),
        'the cycle in flight completed after the signal',
      );
      assert.equal(served, servedBefore + 1, 'the scrape in flight was answered, and no new cycle started');
      const skipped = lines.filter((l) => l.msg === 'cycle skipped: the previous cycle is still running');
      assert.ok(skipped.every((l) => typeof l.runningCycle === 'number' && Number(l.cycle) > Number(l.runningCycle)));
    } finally {
      await new Promise((r) => slow.close(r));
    }
  });
});

describe('invoke and start (need the build: npm run build)', () => {
  const built = existsSync(path.join(ROOT, 'dist/func.js'));

  test(
    'invoke --body {"dryRun":true}: the built function over the Fn socket, response printed',
    { skip: !built && 'dist/func.js missing: run npm run build' },
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-cli-env-'));
      try {
        const envFile = path.join(dir, 'fn.env');
        await writeFile(envFile, `# function config\nexport METRICS_ENDPOINT="${shop.url}"\nMETRICS_NAMESPACE=invoked\n`);
        const r = await runCli(['invoke', '--body', '{"dryRun":true}', '--env-file', envFile]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^HTTP 200 \(cold start \d+ ms, call \d+ ms, Fn-Call-Id [0-9a-f-]{36}\)\n/);
        assert.match(r.stdout, /^targets 1\/1 up, samples \d+, would post \d+/m);
        const body = JSON.parse(r.stdout.slice(r.stdout.indexOf('\n{') + 1)) as InvocationSummary;
        assert.equal(body.dryRun, true);
        assert.ok(body.metricData!.every((m) => m.namespace === 'invoked'));

        const json = await runCli(['invoke', '--json', '--body', '{"dryRun": true}', '--endpoint', shop.url]);
        assert.equal(json.code, 0, json.stderr);
        assert.equal((JSON.parse(json.stdout) as InvocationSummary).ok, true);

        // A function error is the FDK's 502 with the function's one-line cause: exit 1.
        const bad = await runCli(['invoke', '--body', '{"dryRun": "yes"}', '--endpoint', shop.url]);
        assert.equal(bad.code, 1);
        assert.match(bad.stdout, /^HTTP 502/);
        assert.match(bad.stdout, /"detail": "prom2oci: bad invocation: \\"dryRun\\" must be true or false/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    'start --interval 1s: explorer URL, one line per invocation, SIGINT stops every process and exits 0',
    { skip: !built && 'dist/func.js missing: run npm run build' },
    async () => {
      const cli = spawnCli(['start', '--interval', '1s', '--port', '0']);
      await cli.waitFor(/^\d\d:\d\d:\d\d #\d+ ok: targets 1\/1 up/m, 2, 30_000);
      const explorer = /explorer:\s+(http:\/\/127\.0\.0\.1:\d+\/explorer\/)/.exec(cli.stdout())![1];
      const page = await fetch(explorer);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /Metrics Explorer/);
      const inv = (await (await fetch(new URL('api/invocations', explorer))).json()) as { invocations: { seq: number; ok: boolean }[] };
      assert.ok(inv.invocations.length >= 2 && inv.invocations.every((i) => i.ok));
      const pid = Number(/function pid (\d+)/.exec(cli.stdout())![1]);
      assert.doesNotThrow(() => process.kill(pid, 0), 'function process running');
      const line = /^\d\d:\d\d:\d\d #1 ok: (.*)$/m.exec(cli.stdout())![1];
      assert.match(line, /^targets 1\/1 up, samples \d+, posted \d+, skipped \d+.*, failed 0, \d+ ms/);
      const sentAt = Date.now();
      cli.child.kill('SIGINT');
      const { code } = await cli.exited;
      assert.equal(code, 0, cli.stderr());
      // The stop waits up to 5 s for an invocation in flight, then ends the function, emulator and simulator:
      // bounded far above that on a busy machine, far below the invocation's 120 s deadline.
      assert.ok(Date.now() - sentAt < 30_000, `stopped within 30 s (${Date.now() - sentAt} ms)`);
      assert.match(cli.stdout(), /stopped: function, emulator and simulator are down/);
      assert.throws(() => process.kill(pid, 0), /ESRCH/, 'function process gone');
      await assert.rejects(fetch(explorer), 'emulator closed');
    },
  );

  test(
    "start --config FILE: the function reads the file from the emulator's Object Storage (SCRAPE_CONFIG_OBJECT), and an edit is used by the next invocation",
    { skip: !built && 'dist/func.js missing: run npm run build', timeout: 120_000 },
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-cli-config-'));
      const file = path.join(dir, 'prometheus.yml');
      const target = new URL(shop.url);
      const config = (job: string) =>
        `scrape_configs:\n  - job_name: ${job}\n    metrics_path: ${target.pathname}\n    static_configs: [{ targets: ['${target.host}'] }]\n`;
      const bad = path.join(dir, 'bad.yml');
      await writeFile(bad, 'scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [x:1]\n');
      const refused = await runCli(['start', '--config', bad]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /--config .*bad\.yml line \d+, column \d+: invalid YAML/);
      assertNoStack(refused.stderr);

      await writeFile(file, config('shop'));
      const cli = spawnCli(['start', '--interval', '1s', '--port', '0', '--config', file]);
      type Record = { ok: boolean; summary?: { scrapeConfig?: { object?: { read: string }; jobs: { job: string }[] } } };
      const records = async (): Promise<Record[]> => {
        const explorer = /explorer:\s+(http:\/\/127\.0\.0\.1:\d+\/explorer\/)/.exec(cli.stdout())![1];
        return ((await (await fetch(new URL('api/invocations', explorer))).json()) as { invocations: Record[] }).invocations;
      };
      const ok = /^\d\d:\d\d:\d\d #\d+ ok: targets 1\/1 up/gm;
      try {
        await cli.waitFor(ok, 2, 60_000);
        assert.match(
          cli.stdout(),
          /config:\s+\S*prometheus\.yml \(its jobs and namespaces\)\n\s+object:\s+prom2oci-state\/prom2oci\/scrape-config\.yml \(SCRAPE_CONFIG_OBJECT/,
        );
        const before = await records();
        assert.deepEqual(
          before[0].summary?.scrapeConfig?.jobs.map((j) => j.job),
          ['shop'],
          'the jobs of the file, not METRICS_ENDPOINT',
        );
        assert.equal(before[0].summary?.scrapeConfig?.object?.read, 'downloaded');
        assert.equal(before[1].summary?.scrapeConfig?.object?.read, 'unchanged', 'revalidated by ETag: not downloaded again');

        await writeFile(file, config('shop-edited'));
        // Two more invocations: the second one surely started after the edit.
        const seen = cli.stdout().match(ok)!.length;
        await cli.waitFor(ok, seen + 2, 60_000);
        const after = (await records()).slice(before.length);
        const changed = after.findIndex((r) => r.summary?.scrapeConfig?.jobs[0]?.job === 'shop-edited');
        assert.ok(changed >= 0, JSON.stringify(after.map((r) => r.summary?.scrapeConfig)));
        assert.equal(after[changed].summary?.scrapeConfig?.object?.read, 'downloaded');
        assert.ok(after.slice(changed).every((r) => r.ok && r.summary?.scrapeConfig?.jobs[0]?.job === 'shop-edited'));
      } finally {
        cli.child.kill('SIGINT');
        assert.equal((await cli.exited).code, 0, cli.stderr());
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  test('bin/prom2oci.js runs the CLI (dist/cli.js when built, else the sources through tsx)', async () => {
    const r = await runCli(['once', '--dry-run', '--json', '--endpoint', shop.url], {}, [path.join(ROOT, 'bin/prom2oci.js')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as InvocationSummary).ok, true);
    const help = await runCli(['--help'], {}, [path.join(ROOT, 'bin/prom2oci.js')]);
    assert.match(help.stdout, /^usage: prom2oci <command>/);
  });
});

describe('units: flags and schedule', () => {
  test('every setting has a flag; aliases, --x=v, --set, booleans, unknown flags', () => {
    const names = settingFlagNames();
    for (const spec of SETTING_SPECS) {
      if (spec.key === 'DRY_RUN') continue;
      assert.ok(Object.values(names).includes(spec.key), `a flag for ${spec.key}`);
      assert.equal(names[spec.key.toLowerCase().replace(/_/g, '-')], spec.key);
    }
    const a = parseCommandLine(
      ['--endpoint=http://a/metrics', '--compartment', 'ocid1.x', '--json', '--set', 'POST_CONCURRENCY=2', '--histogram-buckets', 'true'],
      { flags: { json: 'boolean' }, settings: true },
    );
    assert.deepEqual(a.settings, { METRICS_ENDPOINT: 'http://a/metrics', COMPARTMENT_OCID: 'ocid1.x', POST_CONCURRENCY: '2', HISTOGRAM_BUCKETS: 'true' });
    assert.deepEqual(a.settingFlags, {
      METRICS_ENDPOINT: '--endpoint',
      COMPARTMENT_OCID: '--compartment',
      POST_CONCURRENCY: '--set',
      HISTOGRAM_BUCKETS: '--histogram-buckets',
    });
    assert.equal(a.flags.json, true);
    assert.throws(() => parseCommandLine(['--endpoint'], { flags: {}, settings: true }), /--endpoint needs a value/);
    assert.throws(() => parseCommandLine(['--json=yes'], { flags: { json: 'boolean' } }), /--json takes no value/);
    assert.throws(() => parseCommandLine(['--endpoint', 'x'], { flags: {} }), /unknown flag --endpoint/);
    assert.throws(() => parseCommandLine(['--set', 'nokey'], { flags: {}, settings: true }), /--set expects KEY=VALUE/);
  });

  test('durations and env files', async () => {
    assert.equal(parseDuration('--interval', '60s'), 60_000);
    assert.equal(parseDuration('--interval', '1m'), 60_000);
    assert.equal(parseDuration('--interval', '500ms'), 500);
    assert.equal(parseDuration('--interval', '2'), 2000);
    assert.equal(parseDuration('--interval', '1.5h'), 5_400_000);
    assert.throws(() => parseDuration('--interval', '10ms'), /at least 100 ms/);
    assert.throws(() => parseDuration('--interval', '1 week'), /not a duration/);
    const file = path.join(tmpdir(), `prom2oci-cli-${process.pid}.env`);
    await writeFile(file, '# c\n\nexport A=1\nB = "two words"\nC=\'x=y\'\n');
    try {
      assert.deepEqual(readEnvFile(file), { A: '1', B: 'two words', C: 'x=y' });
    } finally {
      await rm(file, { force: true });
    }
  });

  test('startSchedule: fixed slots, no overlap (slots skipped while a cycle runs), stop waits for the cycle in flight', async () => {
    const starts: number[] = [];
    const skipped: number[] = [];
    let running = 0;
    let overlap = false;
    // Events, not sleeps: cycle 2 runs until two slots were skipped; the test stops once cycle 6 began.
    // Only a timer late by a whole interval (1 s) could change the slots.
    let releaseCycle2!: () => void;
    const cycle2Released = new Promise<void>((r) => (releaseCycle2 = r));
    let sixthStarted!: () => void;
    const sixth = new Promise<void>((r) => (sixthStarted = r));
    const schedule = startSchedule(
      async ({ cycle }) => {
        starts.push(cycle);
        running++;
        overlap ||= running > 1;
        if (cycle === 2) await cycle2Released;
        if (cycle === 6) sixthStarted();
        running--;
      },
      {
        intervalMs: 1000,
        onSkip: ({ cycle }) => {
          skipped.push(cycle);
          if (skipped.length === 2) releaseCycle2();
        },
      },
    );
    await sixth;
    await schedule.stop();
    assert.equal(overlap, false);
    assert.deepEqual(skipped, [3, 4]);
    assert.deepEqual(starts, [1, 2, 5, 6]);
    assert.equal(schedule.started, 4);
    assert.equal(schedule.skipped, 2);
    assert.equal(schedule.nextDueAt, undefined);

    let finished = false;
    const s2 = startSchedule(
      async () => {
        await sleep(150);
        finished = true;
      },
      { intervalMs: 1000 },
    );
    await sleep(20);
    await s2.stop();
    assert.equal(finished, true, 'stop() waited for the cycle in flight');
  });
});
