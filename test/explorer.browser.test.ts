/**
 * The explorer page in a real browser: the demo stack (BharatMart with traffic, the ingestion
 * emulator, the built function invoked every 2 s over the Fn socket) started in this process, the
 * page loaded in headless Debian Chromium through playwright-core. Saves a screenshot to
 * test-artifacts/explorer.png (PROM2OCI_DOCS_SCREENSHOT=1 also writes docs/explorer.png).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { startDemo, type Demo } from '../src/local/demo/stack';
import { createExplorerHandler } from '../src/local/emulator/explorer/serve';
import { funcYamlTimeoutSeconds } from '../src/local/fn-agent';
import { startIngestionEmulator } from '../src/local/emulator/server';
import { CHROMIUM_PATH, launchChromium, type HeadlessChromium } from './helpers/browser';
import { requireBinary } from './helpers/requires';

const ROOT = path.resolve(__dirname, '..');
const FUNC = path.join(ROOT, 'dist/func.js');
const ARTIFACT = path.join(ROOT, 'test-artifacts/explorer.png');

/** Waits until the demo has made `n` invocations. */
async function invocations(demo: Demo, n: number, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (demo.history.length < n) {
    if (Date.now() > until)
      throw new Error(`only ${demo.history.length} invocations after ${timeoutMs} ms (last: ${JSON.stringify(demo.history.at(-1)?.error)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** GET /api/products answers (status 200) the simulator's own histogram recorded as slower than 1 s, read from its /metrics. */
async function slowProductAnswers(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const value = (series: string, le?: string) => {
    const line = text
      .split('\n')
      .find(
        (l) =>
          l.startsWith(`http_request_duration_seconds_${series}{`) &&
          l.includes('method="GET"') &&
          l.includes('route="/api/products"') &&
          l.includes('status_code="200"') &&
          (le === undefined || l.includes(`le="${le}"`)),
      );
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  return value('count') - value('bucket', '1');
}

/** Types an MQL expression and submits it; resolves when the chart title shows it. */
async function runMql(page: Page, mql: string, canonical: string): Promise<void> {
  await page.fill('#mql', mql);
  await page.click('#run');
  await page.waitForFunction((q) => document.getElementById('chart-title')?.textContent === q, canonical, { timeout: 60_000 });
}

/** The demo started with `options`, after `n` invocations, and its explorer page open in Chromium; both stopped after `body`. */
async function withExplorer(
  options: Omit<Parameters<typeof startDemo>[0], 'entry'>,
  n: number,
  body: (demo: Demo, page: Page, pageErrors: string[]) => Promise<void>,
): Promise<void> {
  assert.ok(existsSync(FUNC), `${FUNC} is missing: run npm run build (npm test does)`);
  const demo = await startDemo({ entry: FUNC, ...options });
  let browser: HeadlessChromium | undefined;
  try {
    await invocations(demo, n);
    browser = await launchChromium();
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(demo.explorerUrl);
    await body(demo, page, pageErrors);
  } finally {
    await browser?.close();
    await demo.stop();
  }
}

test('the explorer page charts http_requests_total, runs MQL and shows the invocations', { timeout: 600_000 }, async (t) => {
  if (!requireBinary(t, CHROMIUM_PATH, 'chromium')) return;
  assert.ok(existsSync(FUNC), `${FUNC} is missing: run npm run build (npm test does)`);
  const demo = await startDemo({ entry: FUNC, intervalMs: 2000 });
  let browser: HeadlessChromium | undefined;
  try {
    await invocations(demo, 3);
    browser = await launchChromium();
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      // The rejected query's 400 is expected; any other console error is not.
      if (m.type() === 'error' && !/status of 400 \(Bad Request\)/.test(m.text())) pageErrors.push(m.text());
    });
    // Nothing may be fetched from anywhere but the emulator (no CDN, no fonts).
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(demo.emulator.url) && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    await page.goto(`${demo.emulator.url}/`);
    assert.equal(page.url(), demo.explorerUrl, '/ redirects to the explorer');

    // The default view: the p99 latency of the last interval by route (derived from the previous
    // scrape kept in the emulator's Object Storage), the worst stream of each route.
    const P99 = 'http_request_duration_seconds_p99[1m].groupBy(route).max()';
    await page.waitForFunction(
      (q) => document.getElementById('chart-title')?.textContent === q && Number(document.getElementById('chart')?.dataset.points) > 0,
      P99,
      { timeout: 20_000 },
    );
    assert.equal(await page.inputValue('#mql'), P99);
    assert.equal(await page.inputValue('#namespace'), 'bharatmart');
    assert.equal(await page.inputValue('#metric'), 'http_request_duration_seconds_p99');
    assert.ok(Number(await page.getAttribute('#chart', 'data-series')) >= 2, 'several routes charted');
    assert.ok(demo.history.at(-1)!.summary!.state.written, 'the function keeps its state in Object Storage');

    // A latency incident in the simulator shows in the first invocation that scrapes after it.
    // The incident covers the next API requests of any route, and the background traffic or a chaos
    // event of its own can take it before these requests arrive: the test waits for the event it
    // needs, a slow /api/products answer in the simulator's histogram, and starts the incident again
    // until that happened (each round takes the 1.2 s of the slow requests).
    const injectedAt = Date.now();
    /** The p99 datapoints of /api/products the function posted, timestamped from `from` to `to`. */
    const productsP99 = (from: number, to: number) =>
      demo.emulator
        .query({ namespace: 'bharatmart', name: 'http_request_duration_seconds_p99', dimensions: { route: '/api/products' }, from, to })
        .flatMap((sr) => sr.datapoints);
    const slowBefore = await slowProductAnswers(demo.bharatmart.url);
    for (let incidents = 1; ; incidents++) {
      demo.bharatmart.injectLatency(1200, 6);
      await Promise.all(Array.from({ length: 4 }, () => fetch(`${demo.bharatmart.baseUrl}/api/products`)));
      if ((await slowProductAnswers(demo.bharatmart.url)) > slowBefore) break;
      assert.ok(incidents < 20, `no GET /api/products answer slower than 1 s after ${incidents} latency incidents of 1.2 s`);
    }
    const spikeDone = Date.now();
    // The spike is in the chart of the default view: one stream per route, each drawn with its
    // peak over the charted range. (Not the latest-values table: that shows the newest one-minute
    // bucket, which a minute boundary can roll past between two page refreshes.) Bounded far above
    // one invocation and one page refresh (5 s) on a busy machine.
    await page
      .waitForFunction(() => Number(document.querySelector('#chart g[data-label="route=/api/products"]')?.getAttribute('data-max')) >= 1, undefined, {
        timeout: 180_000,
      })
      .catch((e: Error) => {
        const since = demo.history.filter((r) => new Date(r.time).getTime() >= spikeDone);
        const posted = productsP99(injectedAt, Date.now()).map((p) => p.value);
        throw new Error(
          `the chart never showed the p99 spike of /api/products: ${since.length} invocations since the slow answers ` +
            `(${since.map((r) => `#${r.seq} ${r.ok ? 'ok' : (r.error ?? 'not ok')}`).join(', ')}), ` +
            `p99 posted since the incident ${JSON.stringify(posted)}; ${e.message}`,
        );
      });
    // Posted by the first invocation started after the slow requests had finished, or by one
    // started before that whose scrape came after them: every datapoint from the incident on to
    // the end of that first invocation.
    const next = demo.history.find((r) => new Date(r.time).getTime() >= spikeDone && r.summary)!;
    assert.ok(next, 'an invocation after the incident');
    const spiked = productsP99(injectedAt, new Date(next.time).getTime() + next.durationMs + 1);
    assert.ok(
      spiked.some((p) => p.value >= 1),
      `posted by invocation #${next.seq} at the latest: ${JSON.stringify(spiked)}`,
    );

    // The requests counter by route, as a rate: the form from here on.
    await page.selectOption('#metric', 'http_requests_total');
    await page.selectOption('#groupby', 'route');
    await page.waitForFunction(() => (document.getElementById('mql') as HTMLInputElement).value === 'http_requests_total[1m].groupBy(route).rate()');
    await page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.series) >= 3, undefined, { timeout: 20_000 });
    assert.ok(await page.locator('#legend .item', { hasText: 'route=/api/products' }).count(), 'legend names the route');

    // The form builds MQL: interval 10s (local only) and a filter on the route give several points per stream.
    await page.selectOption('#interval', '10s');
    await page.selectOption('#groupby', '');
    await page.selectOption('#filter-key', 'route');
    await page.selectOption('#filter-value', '/api/products');
    await page.click('#filter-add');
    await page.waitForFunction(() => (document.getElementById('mql') as HTMLInputElement).value.includes('{route = "/api/products"}'));
    assert.match(await page.inputValue('#mql'), /^http_requests_total\[10s\]\{route = "\/api\/products"\}\.rate\(\)$/);
    assert.match((await page.textContent('#query-warnings')) ?? '', /OCI accepts intervals of 1m-60m, 1h-24h or 1d/);
    // The MQL help says which behaviours are the emulator's own choice where OCI documents nothing.
    // Whitespace as the page shows it: the source's line breaks are not part of the text.
    const help = ((await page.textContent('details.help')) ?? '').replace(/\s+/g, ' ');
    assert.match(help, /1m-60m, 1h-24h, 1d/);
    assert.match(help, /increment\(\)/);
    assert.match(help, /Not documented by OCI, so the emulator's own choice, not OCI's behaviour: rate\(\)\/increment\(\) treat a decrease as a counter reset/);

    // The MQL box: the form users type in OCI. Wait until a stream has more than one point.
    await runMql(
      page,
      'http_requests_total[10s]{route = "/api/products"}.grouping().rate()',
      'http_requests_total[10s]{route = "/api/products"}.grouping().rate()',
    );
    await page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.maxSeriesPoints) > 1, undefined, { timeout: 90_000 });
    const path0 = await page.getAttribute('#chart .series g path', 'd');
    assert.ok(path0 && (path0.match(/L/g)?.length ?? 0) >= 1, `a line with more than one point: ${path0}`);
    assert.equal(await page.getAttribute('#chart', 'data-series'), '1');
    const latest = Number((await page.textContent('#latest tbody tr td.num'))?.replace(/[^\d.]/g, ''));
    assert.ok(latest > 0, 'latest rate of /api/products is positive');

    // What the subset does not support is a clear error, and the chart stays.
    await page.fill('#mql', 'http_requests_total[1m].topK(3)');
    await page.click('#run');
    await page.waitForSelector('#query-error:not([hidden])');
    assert.match((await page.textContent('#query-error')) ?? '', /Query error: topK\(\) is not supported here; supported: grouping\(\), groupBy\(\)/);

    // The invocations panel shows the last runs, newest first, with their counts.
    await runMql(page, 'http_requests_total[10s].groupBy(route).rate()', 'http_requests_total[10s].groupBy(route).rate()');
    await page.waitForFunction((seq) => Number(document.querySelector('#invocations tbody tr')?.getAttribute('data-seq')) >= seq, demo.history.at(-1)!.seq, {
      timeout: 60_000,
    });
    const firstRow = page.locator('#invocations tbody tr').first();
    assert.equal(await firstRow.getAttribute('data-ok'), 'true');
    assert.equal(await firstRow.locator('.badge').textContent(), 'ok');
    const cells = await firstRow.locator('td').allTextContents();
    assert.equal(cells[3], '1/1', 'targets up');
    assert.ok(Number(cells[5]) > 50, `posted ${cells[5]}`);
    assert.match(cells[6], /histogram_buckets_disabled: \d+/, 'skip reasons shown');
    assert.match((await firstRow.locator('.target.up').textContent()) ?? '', /^up 127\.0\.0\.1:\d+: \d+ samples in \d+ ms$/, 'up per target');
    assert.ok((await page.locator('#invocations tbody tr').count()) >= 3);
    assert.match((await page.textContent('#facts')) ?? '', /function every 2 s/);

    // The cost forecast of the newest invocation: its streams are what it posted (data + self-metrics).
    // Read in one evaluation: an auto-refresh cannot change the panel between the reads.
    await page.waitForFunction(() => /from invocation #\d+$/.test(document.getElementById('forecast-sub')?.textContent ?? ''), undefined, { timeout: 15_000 });
    const panel = await page.evaluate(() => ({
      sub: document.getElementById('forecast-sub')!.textContent,
      values: Object.fromEntries([...document.querySelectorAll('#forecast dd')].map((dd) => [(dd as HTMLElement).dataset.key, dd.textContent])) as Record<
        string,
        string
      >,
    }));
    const record = demo.history.find((r) => r.seq === Number(/#(\d+)$/.exec(panel.sub)![1]))!;
    const f = record.summary!.forecast;
    assert.equal(f.metricStreams, record.summary!.posted + record.summary!.selfMetrics.posted, 'streams = data posted + self-metrics posted');
    assert.equal(panel.values['Metric streams'], f.metricStreams.toLocaleString('en-US'));
    assert.equal(panel.values['Datapoints per month'], (f.metricStreams * 43_800).toLocaleString('en-US'));
    assert.equal(
      panel.values['PostMetricData calls per invocation'],
      String(Math.ceil(record.summary!.posted / 50) + Math.ceil(record.summary!.selfMetrics.posted / 50)),
    );
    // The Fn agent gives the function func.yaml's timeout as its deadline, as the platform does.
    const timeoutS = funcYamlTimeoutSeconds(FUNC);
    assert.ok(timeoutS !== undefined, 'func.yaml has a timeout');
    assert.match(panel.values['Fits the function timeout'] ?? '', new RegExp(`^yes \\(~[\\d.]+ s of ${timeoutS} s\\)$`));
    assert.equal(panel.values['Monthly ingestion cost'], 'no price configured');

    // The screenshot: a range that fits the short run.
    await page.selectOption('#range', '300000');
    await page.waitForFunction(() => /last 5 minutes/.test(document.getElementById('chart-sub')?.textContent ?? ''));
    await page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.maxSeriesPoints) > 1, undefined, { timeout: 60_000 });
    await mkdir(path.dirname(ARTIFACT), { recursive: true });
    await page.screenshot({ path: ARTIFACT, fullPage: true });
    if (process.env.PROM2OCI_DOCS_SCREENSHOT === '1') await copyFile(ARTIFACT, path.join(ROOT, 'docs/explorer.png'));

    // A target that goes away: the next invocations fail and the panel says why.
    await demo.bharatmart.stop();
    await page.waitForSelector('#invocations tbody tr[data-ok="false"]', { timeout: 20_000 });
    const failed = page.locator('#invocations tbody tr[data-ok="false"]').first();
    assert.equal(await failed.locator('.badge').textContent(), 'failed');
    assert.match((await failed.textContent()) ?? '', /the target is down \(http:\/\/127\.0\.0\.1:\d+\/metrics: connection refused\)/);
    assert.deepEqual(foreign, [], 'no request leaves the emulator');
    assert.deepEqual(pageErrors, [], 'no script errors on the page');
  } finally {
    await browser?.close();
    await demo.stop();
  }
});

test('--fleet: the explorer shows a discovered fleet, one up line per instance', { timeout: 120_000 }, async (t) => {
  if (!requireBinary(t, CHROMIUM_PATH, 'chromium')) return;
  await withExplorer({ intervalMs: 2000, fleet: 3, traffic: false }, 2, async (demo, page, pageErrors) => {
    await page.waitForFunction(() => /fleet 3 running instances \(discovery\)/.test(document.getElementById('facts')?.textContent ?? ''), undefined, {
      timeout: 20_000,
    });
    await runMql(page, 'up[1m].groupBy(resourceDisplayName).min()', 'up[1m].groupBy(resourceDisplayName).min()');
    await page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.series) === 3, undefined, { timeout: 20_000 });
    for (const name of ['bharatmart-1', 'bharatmart-2', 'bharatmart-3']) {
      assert.equal(await page.locator('#legend .item', { hasText: `resourceDisplayName=${name}` }).count(), 1, `a line for ${name}`);
    }
    // The invocations panel names every discovered target.
    assert.equal(await page.locator('#invocations tbody tr').first().locator('.target.up').count(), 3);
    assert.deepEqual(pageErrors, []);
  });
});

test(
  'the job filter (start --config examples/bharatmart.yml): choosing a job narrows the namespaces, names, expression, chart and cardinality report to it',
  { timeout: 300_000 },
  async (t) => {
    if (!requireBinary(t, CHROMIUM_PATH, 'chromium')) return;
    const text = readFileSync(path.join(ROOT, 'examples/bharatmart.yml'), 'utf8');
    await withExplorer({ intervalMs: 2000, scrapeConfig: { text, name: 'examples/bharatmart.yml' }, fixedPorts: false }, 2, async (demo, page, pageErrors) => {
      const optionsOf = (id: string) => page.$$eval(`#${id} option`, (os) => os.map((o) => (o as HTMLOptionElement).value));
      await page.waitForFunction(() => document.querySelectorAll('#job option').length === 3, undefined, { timeout: 30_000 });
      assert.deepEqual(await optionsOf('job'), ['', 'bharatmart', 'payments']);
      assert.match((await page.textContent('#job option[value="payments"]')) ?? '', /^payments \(payments\)$/);
      // All jobs: both namespaces; the default view is the shop's.
      assert.deepEqual((await optionsOf('namespace')).sort(), ['bharatmart', 'payments']);
      await page.waitForFunction(() => (document.getElementById('mql') as HTMLInputElement).value.startsWith('http_request_duration_seconds_p99'), undefined, {
        timeout: 30_000,
      });
      assert.doesNotMatch(await page.inputValue('#mql'), /job =/);

      // The payment gateway's job: its namespace only, its names only, the expression filtered by it.
      await page.selectOption('#job', 'payments');
      await page.waitForFunction(() => (document.getElementById('mql') as HTMLInputElement).value.includes('{job = "payments"}'), undefined, {
        timeout: 30_000,
      });
      assert.equal(await page.inputValue('#namespace'), 'payments');
      assert.deepEqual(await optionsOf('namespace'), ['payments']);
      const names = await optionsOf('metric');
      assert.ok(names.includes('payment_gateway_requests_total'), names.join(' '));
      assert.ok(!names.includes('http_requests_total'), 'no name of the other job');
      // The chart of that expression (not the one before it): its title is the query that ran.
      await page.waitForFunction(
        () =>
          /\{job = "payments"\}/.test(document.getElementById('chart-title')?.textContent ?? '') &&
          Number(document.getElementById('chart')?.dataset.series) > 0,
        undefined,
        { timeout: 30_000 },
      );
      const labels = await page.$$eval('#chart g[data-label]', (gs) => gs.map((g) => g.getAttribute('data-label') ?? ''));
      assert.ok(labels.length > 0 && labels.every((l) => /(^|, )job=payments(,|$)/.test(l)), labels.join(' | '));

      // The invocations panel lists the chosen job's targets only (the other's line is there, hidden).
      const targetLines = () =>
        page.$$eval('#invocations tbody tr:first-child .target', (ls) => ls.map((l) => [(l as HTMLElement).dataset.job, (l as HTMLElement).hidden]));
      await page.waitForFunction(() => document.querySelectorAll('#invocations tbody tr:first-child .target').length === 2, undefined, { timeout: 30_000 });
      assert.deepEqual((await targetLines()).sort(), [
        ['bharatmart', true],
        ['payments', false],
      ]);
      assert.match(
        (await page.textContent('#invocations tbody tr:first-child .target[data-job="payments"]')) ?? '',
        /^up \[payments\] payments-gateway-1: \d+ samples/,
      );

      // The cardinality report of a dry run: both jobs computed, the chosen one shown.
      await page.click('#dry-run');
      await page.waitForFunction(() => document.querySelectorAll('#cardinality .cardinality-job').length === 2, undefined, { timeout: 120_000 });
      const shown = await page.$$eval('#cardinality .cardinality-job', (ss) =>
        ss.filter((s) => !(s as HTMLElement).hidden).map((s) => (s as HTMLElement).dataset.job),
      );
      assert.deepEqual(shown, ['payments']);

      // The shop's job: back to its namespace and names.
      await page.selectOption('#job', 'bharatmart');
      await page.waitForFunction(() => (document.getElementById('mql') as HTMLInputElement).value.includes('{job = "bharatmart"}'), undefined, {
        timeout: 30_000,
      });
      assert.equal(await page.inputValue('#namespace'), 'bharatmart');
      assert.ok((await optionsOf('metric')).includes('http_requests_total'));
      const shopShown = await page.$$eval('#cardinality .cardinality-job', (ss) =>
        ss.filter((s) => !(s as HTMLElement).hidden).map((s) => (s as HTMLElement).dataset.job),
      );
      assert.deepEqual(shopShown, ['bharatmart']);

      // All jobs again: every namespace, no job filter.
      await page.selectOption('#job', '');
      await page.waitForFunction(() => !(document.getElementById('mql') as HTMLInputElement).value.includes('job ='), undefined, { timeout: 30_000 });
      assert.deepEqual((await optionsOf('namespace')).sort(), ['bharatmart', 'payments']);
      // The API the page reads: a namespace's names of one job's streams.
      const api = (job: string) =>
        fetch(`${demo.emulator.url}/emulator/api/metrics?namespace=bharatmart&dim.job=${job}`).then((r) => r.json() as Promise<string[]>);
      assert.deepEqual(await api('payments'), []);
      assert.ok((await api('bharatmart')).includes('http_requests_total'));
      assert.deepEqual(pageErrors, []);
    });
  },
);

test('the cardinality panel: "Dry run now" shows, per job, the top names and their labels as the function computed them', { timeout: 300_000 }, async (t) => {
  if (!requireBinary(t, CHROMIUM_PATH, 'chromium')) return;
  // One scheduled invocation (posting) at once; the dry run is the page's.
  await withExplorer({ intervalMs: 600_000, traffic: false }, 1, async (demo, page, pageErrors) => {
    assert.match((await page.textContent('#cardinality')) ?? '', /No dry run yet/);
    await page.click('#dry-run');
    await page.waitForSelector('#cardinality .cardinality-job', { timeout: 120_000 });
    const record = demo.history.find((r) => r.summary?.dryRun);
    assert.ok(record?.summary?.cardinality, 'the dry run is kept in the invocations, with its report');
    assert.equal(demo.history.filter((r) => r.summary?.dryRun).length, 1);
    const report = record.summary.cardinality;
    // The implicit job (METRICS_ENDPOINT): BharatMart's names, largest first, each with its labels.
    assert.deepEqual(
      report.jobs.map((j) => j.job),
      [''],
    );
    const shown = await page.$$eval('#cardinality .cardinality-job[data-job=""] tbody tr', (rows) =>
      rows.map((r) => {
        const d = (r as HTMLElement).dataset;
        return [d.name, d.label, Number(d.values), Number(d.merged)];
      }),
    );
    const expected = report.jobs[0].top.flatMap((f) => f.labels.map((l) => [f.name, l.label, l.values, l.mergedStreams]));
    assert.ok(expected.length > 0);
    assert.deepEqual(shown, expected);
    // The top label of the top name: route (or another) with more than one value, and its share shown.
    const top = report.jobs[0].top[0];
    assert.ok(top.streams > 1 && top.labels[0].values > 1, JSON.stringify(top));
    assert.match((await page.textContent('#cardinality-sub')) ?? '', new RegExp(`^${report.totalStreams} metric streams, from dry run #${record.seq}$`));
    assert.match((await page.textContent('#cardinality-rules')) ?? '', /^Drop rules \(METRICS_INCLUDE\/EXCLUDE, metric_relabel_configs\) save 0 streams/);
    assert.match(
      (await page.textContent(`#cardinality .cardinality-job h3`)) ?? '',
      new RegExp(`^implicit job \\(METRICS_ENDPOINT, discovery\\): ${report.jobs[0].streams} streams`),
    );
    assert.deepEqual(pageErrors, []);
  });
});

test('the explorer routes: redirect, assets, invocations JSON, nothing else served', async () => {
  const emu = await startIngestionEmulator({
    extraHandler: createExplorerHandler({ invocations: () => [{ seq: 1, ok: true }], info: () => ({ intervalMs: 60_000 }) }),
  });
  try {
    const root = await fetch(`${emu.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/explorer/');
    for (const [p, type] of [
      ['/explorer/', 'text/html'],
      ['/explorer/app.js', 'text/javascript'],
      ['/explorer/style.css', 'text/css'],
    ] as const) {
      const res = await fetch(emu.url + p);
      assert.equal(res.status, 200, p);
      assert.match(res.headers.get('content-type') ?? '', new RegExp(type));
      // The SVG namespace URI is a name, not a request.
      assert.doesNotMatch(await res.text(), /https?:\/\/(?!127\.0\.0\.1|www\.w3\.org\/2000\/svg)[a-z]/i, `${p} references no remote host`);
    }
    assert.deepEqual(await (await fetch(`${emu.url}/explorer/api/invocations`)).json(), { info: { intervalMs: 60_000 }, invocations: [{ seq: 1, ok: true }] });
    for (const p of ['/explorer/serve.ts', '/explorer/%2e%2e/serve.ts', '/explorer/../../package.json', '/explorer/nope.js']) {
      const res = await fetch(emu.url + p);
      assert.equal(res.status, 404, p);
      assert.doesNotMatch(await res.text(), /createExplorerHandler|"name": "prom2oci"/, p);
    }
    assert.equal((await fetch(`${emu.url}/explorer/`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${emu.url}/explorer/api/dry-run`, { method: 'POST' })).status, 404, 'no function to dry-run behind this page');
    // Paths that normalise out of /explorer/ are not the page's: the OCI side answers them 404.
    assert.ok(
      emu.calls.every((c) => c.status === 404 && !c.path.startsWith('/explorer')),
      JSON.stringify(emu.calls),
    );
  } finally {
    await emu.close();
  }
});
