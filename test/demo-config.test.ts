/**
 * `npm start -- --config examples/bharatmart.yml`: the demo's two apps (BharatMart and its payment
 * gateway) scraped as two jobs by the built function over the Fn socket, each into its own
 * namespace, with the file's relabel rules applied; the file's targets rewritten to where the apps
 * listen when their fixed ports are taken (and nothing else of the file changed).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseScrapeConfig } from '../src/config/scrapeConfig';
import { parseSettings } from '../src/config/settings';
import { stateObjectName } from '../src/state/keys';
import { DEMO_ADDRESSES, listedTargets, substituteTargets } from '../src/local/demo/demoConfig';
import { startDemo } from '../src/local/demo/stack';
import type { IngestionEmulator } from '../src/local/emulator/server';
import { waitUntil } from './helpers/wait';

const ROOT = path.resolve(__dirname, '..');
const FUNC = path.join(ROOT, 'dist/func.js');
const EXAMPLE = 'examples/bharatmart.yml';
const exampleText = readFileSync(path.join(ROOT, EXAMPLE), 'utf8');
const built = existsSync(FUNC);

describe('the demo addresses in a configuration file', () => {
  const text = `scrape_configs:
  - job_name: a
    static_configs:
      - targets: ['127.0.0.1:3000', "10.0.0.1:9100"]
        labels: { copy: '127.0.0.1:3000' }
      - targets:
          - 127.0.0.1:3001 # the gateway
    relabel_configs:
      - { source_labels: [__address__], regex: '127.0.0.1:3000', target_label: shop, replacement: yes }
`;
  test('only the targets of the lists are rewritten, quoted, every other byte kept', () => {
    assert.deepEqual(listedTargets(text), ['127.0.0.1:3000', '10.0.0.1:9100', '127.0.0.1:3001']);
    const out = substituteTargets(
      text,
      new Map([
        ['127.0.0.1:3000', '127.0.0.1:41000'],
        ['127.0.0.1:3001', '127.0.0.1:41001'],
      ]),
    );
    assert.equal(
      out,
      text
        .replace(`['127.0.0.1:3000', "10.0.0.1:9100"]`, `['127.0.0.1:41000', "10.0.0.1:9100"]`)
        .replace(`- 127.0.0.1:3001 # the gateway`, `- '127.0.0.1:41001' # the gateway`),
    );
    assert.equal(out.split('\n').length, text.split('\n').length, 'line numbers stay');
    const job = parseScrapeConfig(out, 'x').jobs[0];
    assert.deepEqual(
      job.staticConfigs.map((g) => g.targets),
      [['127.0.0.1:41000', '10.0.0.1:9100'], ['127.0.0.1:41001']],
    );
    assert.equal(job.staticConfigs[0].labels.copy, '127.0.0.1:3000', 'a label that looks like a target is not a target');
    assert.equal(substituteTargets(text, new Map()), text);
  });

  test("the state object's name of a file with relabel rules (a hashmod modulus is a bigint) is computed", () => {
    const settings = parseSettings({ SCRAPE_CONFIG: exampleText, COMPARTMENT_OCID: 'ocid1.compartment.oc1..aaaa' });
    assert.match(stateObjectName(settings), /^prom2oci\/state-[0-9a-f]{32}\.json\.gz$/);
  });

  test('examples/bharatmart.yml names both demo apps at their fixed addresses', () => {
    assert.deepEqual(listedTargets(exampleText).sort(), [DEMO_ADDRESSES.bharatmart, DEMO_ADDRESSES.payments].sort());
    const c = parseScrapeConfig(exampleText, EXAMPLE);
    assert.deepEqual(
      c.jobs.map((j) => j.name),
      ['bharatmart', 'payments'],
    );
  });
});

/** The emulator's stored dimension values of a namespace (all its metrics). */
const dimensionsOf = (emulator: IngestionEmulator, namespace: string) => emulator.store.dimensionValues(namespace);

describe('the demo with examples/bharatmart.yml (the built function)', { skip: !built && 'dist/func.js missing: run npm run build' }, () => {
  test('two jobs into two namespaces; both apps on moved ports, the file rewritten to them; the relabel rules applied', { timeout: 180_000 }, async () => {
    // Free ports always: both fixed addresses are "taken", so both targets must be rewritten.
    const demo = await startDemo({ entry: FUNC, intervalMs: 1000, scrapeConfig: { text: exampleText, name: EXAMPLE }, fixedPorts: false });
    try {
      await waitUntil(() => demo.history.length >= 2, 'two invocations', 120_000);
      const shop = new URL(demo.bharatmart.url).host;
      const gateway = new URL(demo.payments!.url).host;
      assert.deepEqual(demo.config!.moved, [
        [DEMO_ADDRESSES.bharatmart, shop],
        [DEMO_ADDRESSES.payments, gateway],
      ]);
      const last = demo.history.at(-1)!;
      assert.equal(last.ok, true, last.error ?? JSON.stringify(last.summary?.targets));
      assert.deepEqual(
        last.summary!.targets.map((t) => [t.url, t.up]),
        [
          [`http://${shop}/metrics`, true],
          [`http://${gateway}/metrics`, true],
        ],
        'the jobs in file order, each at the address it was rewritten to',
      );
      assert.deepEqual(
        last.summary!.targets.map((t) => t.job),
        ['bharatmart', 'payments'],
        "each target's job in the response",
      );
      const emulator = demo.emulator;
      assert.deepEqual(emulator.store.namespaces().sort(), ['bharatmart', 'payments']);
      const shopDims = dimensionsOf(emulator, 'bharatmart');
      const gatewayDims = dimensionsOf(emulator, 'payments');
      assert.deepEqual(shopDims.job, ['bharatmart']);
      assert.deepEqual(gatewayDims.job, ['payments']);
      // relabel_configs: a stable instance name for each job; the static label env.
      assert.deepEqual(shopDims.instance, ['bharatmart-1']);
      assert.deepEqual(gatewayDims.instance, ['payments-gateway-1']);
      assert.deepEqual(shopDims.env, ['demo']);
      // The shop's series are in its namespace only, the gateway's in its own.
      const shopNames = emulator.store.metricNames('bharatmart');
      const gatewayNames = emulator.store.metricNames('payments');
      assert.ok(shopNames.includes('http_requests_total') && !shopNames.includes('payment_gateway_requests_total'));
      assert.ok(gatewayNames.includes('payment_gateway_requests_total') && !gatewayNames.includes('http_requests_total'));
      assert.ok(gatewayNames.includes('up') && shopNames.includes('up'), "each target's up goes to its job's namespace");
      // metric_relabel_configs: the Node.js runtime's series dropped (and counted), the process ones kept.
      assert.ok(!shopNames.some((n) => n.startsWith('nodejs_')), shopNames.join(' '));
      assert.ok(shopNames.includes('process_cpu_seconds_total'));
      assert.ok((last.summary!.skipped.dropped_by_metric_relabel ?? 0) > 0);
      // The state between invocations: kept (a job with relabel rules once failed it: a hashmod modulus is a bigint),
      // so the second invocation derived the shop's per-interval latency.
      assert.equal(last.summary!.state.written, true, JSON.stringify(last.summary!.state));
      assert.ok(shopNames.includes('http_request_duration_seconds_p99'), shopNames.join(' '));
      assert.deepEqual(
        last.summary!.scrapeConfig!.jobs.map((j) => [j.job, j.targets, j.dropped]),
        [
          ['bharatmart', 1, 0],
          ['payments', 1, 0],
        ],
      );
    } finally {
      await demo.stop();
    }
  });

  test('prom2oci start --config examples/bharatmart.yml: the banner, two jobs up, two namespaces; SIGINT stops it', { timeout: 180_000 }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--config', EXAMPLE, '--port', '0', '--interval', '1s'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // Two invocations with both jobs up (events, not a window: the lines arrive when they do).
      await new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if ((out.match(/^\d\d:\d\d:\d\d #\d+ ok: targets 2\/2 up/gm) ?? []).length >= 2) resolve();
        };
        child.stdout.on('data', check);
        void exited.then((code) => reject(new Error(`start exited (${code}): ${out}${err}`)));
      });
      assert.match(out, new RegExp(`^  config: +${EXAMPLE.replace('.', '\\.')} \\(its jobs and namespaces\\)$`, 'm'));
      const apps = /^ {2}apps: +http:\/\/(127\.0\.0\.1:\d+)\/metrics \(BharatMart with traffic\), http:\/\/(127\.0\.0\.1:\d+)\/metrics/m.exec(out)!;
      assert.ok(apps, out);
      // Each app is at its fixed address, or the banner names the rewrite (the port was taken here).
      for (const [fixed, at] of [
        [DEMO_ADDRESSES.bharatmart, apps[1]],
        [DEMO_ADDRESSES.payments, apps[2]],
      ]) {
        if (fixed !== at) assert.ok(out.includes(`moved:     ${fixed} -> ${at}`), out);
      }
      const base = /ingestion: (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
      const namespaces = (await (await fetch(`${base}/emulator/api/namespaces`)).json()) as string[];
      assert.deepEqual(namespaces.sort(), ['bharatmart', 'payments']);
      const jobs = (await (await fetch(`${base}/emulator/api/dimensions?namespace=payments`)).json()) as Record<string, string[]>;
      assert.deepEqual(jobs.job, ['payments']);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, err);
    assert.match(out, /stopped: function, emulator and simulator are down/);
  });

  test('start --config: a bad file is refused before anything starts, naming the file and line; --fleet with it is a usage error', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        child.once('exit', (code) => resolve({ code, err }));
      });
    const missing = await run(['--config', 'examples/nope.yml']);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /^prom2oci start: --config: cannot read examples\/nope\.yml: ENOENT/);
    const both = await run(['--config', EXAMPLE, '--fleet', '2']);
    assert.equal(both.code, 2);
    assert.match(both.err, /--config and --fleet: choose one/);
    const bad = await run(['--config', 'package.json']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^prom2oci start: --config package\.json line \d+, column \d+: name: is not a key Prometheus knows here/);
  });
});
