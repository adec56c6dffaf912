/**
 * Reliability, memory: the function process with its heap bounded as in a 256 MB function survives
 * the worst exposition the default limits let through (SCRAPE_MAX_BYTES and SCRAPE_SAMPLE_LIMIT
 * unset): the shortest series up to the sample limit, label values as long as OCI allows filling the
 * byte cap, and one family (with HELP and TYPE) per sample up to the limit. Each is scraped, posted
 * and accounted, and the process stays under the function's memory.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultSampleLimit, parseSettings, SETTINGS_TABLE } from '../src/config/settings';
import type { LocalFunction } from '../src/local/fn-agent';
import { encodeState } from '../src/state/codec';
import { stateObjectName } from '../src/state/keys';
import { encodeSpool, type SpoolEntry } from '../src/state/spool';
import { emptyStateDocument, type StateDocument } from '../src/types/state';
import { generateExposition } from '../scripts/bench/exposition';
import { closedPort, COMPARTMENT, FUNCTION_HEAP_ARGS_256MB } from './helpers/stack';
import { assertAccounted, stackAndTargetForSuite, summaryOf, waitForLine } from './helpers/reliability';

const MEMORY_MB = 256;
const LIMIT = defaultSampleLimit(MEMORY_MB);
/** The default SCRAPE_MAX_BYTES, less room for the last line. */
const BYTES = Number(SETTINGS_TABLE.SCRAPE_MAX_BYTES.default) - 4096;
/** Publishing as fast as the emulator takes it: the memory peak is the point, not the pace. */
const FAST = { POST_CALLS_PER_SECOND: '1000', POST_CONCURRENCY: '8', POST_TIMEOUT_MS: '60000', FUNCTION_TIMEOUT_SECONDS: '600' };

/** The function's peak RSS stayed within the memory of the function it plays. */
function assertPeakWithinMemory(fn: LocalFunction): void {
  const peak = fn.peakRssBytes()!;
  assert.ok(peak < MEMORY_MB * 1024 * 1024, `peak RSS ${Math.round(peak / 1048576)} MB within the function's ${MEMORY_MB} MB`);
}

describe('reliability: the worst expositions at the default limits, heap bounded as in a 256 MB function', () => {
  const fx = stackAndTargetForSuite();

  const shapes = [
    { name: `short series up to the sample limit (${LIMIT})`, path: `/short?n=${LIMIT}`, samples: LIMIT },
    { name: 'label values of 500 characters filling SCRAPE_MAX_BYTES', path: `/long-labels?bytes=${BYTES}&len=500`, samples: undefined },
    { name: `one family with HELP and TYPE per sample up to the sample limit (${LIMIT})`, path: `/families?n=${LIMIT}`, samples: LIMIT },
  ];

  for (const shape of shapes) {
    test(shape.name, async () => {
      fx.stack.emulator.reset();
      const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url(shape.path), ...FAST }, FUNCTION_HEAP_ARGS_256MB, { memoryMb: MEMORY_MB });
      // A deadline far above the work on a busy machine: only a crash or a hang can fail it.
      const res = await fn.invoke({ deadline: new Date(Date.now() + 600_000) });
      const s = summaryOf(res);
      assertAccounted(s, shape.name);
      const t = s.targets[0];
      assert.equal(t.up, true, t.error);
      if (shape.samples !== undefined) assert.equal(t.samples, shape.samples);
      else assert.ok(t.samples > 30_000, `${t.samples} samples`);
      assert.equal(s.posted, s.series, JSON.stringify(s.errors));
      assert.equal(fn.alive, true);
      assertPeakWithinMemory(fn);
      await fn.stop();
    });
  }
});

describe("reliability: OCI's 150,000 series a minute at the default limits, heap bounded as in a 256 MB function", () => {
  const fx = stackAndTargetForSuite();

  test("one target of 150,000 samples shaped like a busy service's /metrics (about 20 MB): admitted, every series posted, within the memory", async () => {
    // Issue 23 item 3: one invocation posts up to 150,000 series a minute (OCI's 50 calls/s x 50). At
    // the old defaults (SCRAPE_SAMPLE_LIMIT 102,400 at 256 MB, SCRAPE_MAX_BYTES 16 MiB) such a target was refused whole.
    const expo = generateExposition(150_000);
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(expo.text);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      fx.stack.emulator.reset();
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
      const fn = await fx.stack.startFn({ METRICS_ENDPOINT: url, HISTOGRAM_BUCKETS: 'true', ...FAST }, FUNCTION_HEAP_ARGS_256MB, { memoryMb: MEMORY_MB });
      const res = await fn.invoke({ deadline: new Date(Date.now() + 600_000) });
      const s = summaryOf(res);
      assertAccounted(s, '150,000 samples');
      const t = s.targets[0];
      assert.equal(t.up, true, t.error);
      assert.equal(t.samples, expo.samples);
      assert.equal(s.series, expo.samples, 'every sample a series (HISTOGRAM_BUCKETS=true)');
      assert.equal(s.posted, s.series, JSON.stringify(s.errors));
      assertPeakWithinMemory(fn);
      await fn.stop();
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('reliability: one memory budget for all targets together, heap bounded as in a 256 MB function', () => {
  const fx = stackAndTargetForSuite();

  test('12 targets of 100k samples each (every one within SCRAPE_SAMPLE_LIMIT): what fits is posted, the others are up=0 with the reason', async () => {
    const n = 100_000;
    assert.ok(n <= LIMIT, 'each target alone is within the default sample limit');
    const urls = Array.from({ length: 12 }, (_, i) => fx.target.url(`/short?n=${n}&target=${i}`));
    // Twelve parses at once on a busy 2-core machine: a scrape timeout far above the work.
    const env = { METRICS_ENDPOINT: urls.join(','), ...FAST, SCRAPE_TIMEOUT_MS: '300000' };
    const fn = await fx.stack.startFn(env, FUNCTION_HEAP_ARGS_256MB, { memoryMb: MEMORY_MB });
    // Before the budget every parsed target was held until the posting: a heap OOM, nothing posted, not even `up`.
    const res = await fn.invoke({ deadline: new Date(Date.now() + 600_000) });
    assert.equal(res.status, 200, res.body.slice(0, 500));
    const s = summaryOf(res);
    assertAccounted(s, '12 x 100k');
    const up = s.targets.filter((t) => t.up);
    const refused = s.targets.filter((t) => !t.up);
    assert.ok(up.length >= 1, 'what fits is posted');
    assert.ok(refused.length >= 1, 'the rest is refused');
    for (const t of up) assert.equal(t.samples, n);
    const reason = new RegExp(
      String.raw`^memory budget: this target's exposition was not read: the run holds .* of the 64\.0 MB this function's 256 MB memory ` +
        String.raw`\(FN_MEMORY\) allows, the targets at most 51\.2 MB`,
    );
    for (const t of refused) assert.match(t.error!, reason);
    assert.equal(s.posted, up.length * n, JSON.stringify(s.errors));
    const ups = fx.stack.emulator.accepted.filter((m) => m.name === 'up');
    assert.equal(ups.length, 12, 'an up for every target');
    assert.equal(ups.filter((m) => m.datapoints[0].value === 0).length, refused.length);
    assert.equal(fn.alive, true);
    assertPeakWithinMemory(fn);
    await fn.stop();
  });
});

/**
 * Every part of a run reserves from the one budget (src/handler/memory.ts): a download is cut at the
 * reservation, the decoded state and the spool read hold their share (the targets get the rest), the
 * discovered list is truncated and the log line capped, each named in the response.
 */
describe('reliability: everything a run holds reserves from the one memory budget, heap bounded as in a 256 MB function', () => {
  const fx = stackAndTargetForSuite();
  const BUCKET = 'fn-state';
  const NAMESPACE = 'bharatmart';
  const MB = 1024 * 1024;

  /** A function with its state in the emulator's bucket, heap as in 256 MB; `env` adds to (or overrides) it. */
  const startStateFn = (env: Record<string, string>, nodeArgs: string[] = FUNCTION_HEAP_ARGS_256MB): Promise<LocalFunction> => {
    fx.stack.emulator.reset();
    fx.stack.emulator.objectStorage.clearObjects();
    fx.stack.emulator.objectStorage.createBucket(BUCKET);
    return fx.stack.startFn(
      { STATE_BUCKET: BUCKET, OBJECT_STORAGE_NAMESPACE: fx.stack.emulator.objectStorage.namespace, NAMESPACE, ...FAST, SCRAPE_TIMEOUT_MS: '300000', ...env },
      nodeArgs,
      { memoryMb: MEMORY_MB },
    );
  };
  /** Stores `doc` where a function of these settings reads its state. */
  const putState = (env: Record<string, string>, doc: StateDocument): void => {
    const name = stateObjectName(parseSettings({ NAMESPACE, COMPARTMENT_OCID: COMPARTMENT, ...env }));
    fx.stack.emulator.objectStorage.putDirect(BUCKET, name, encodeState(doc));
  };
  /** `n` spool entries of 30-minute-old series (about 73 bytes of JSON each, stored). */
  const spooled = (n: number): SpoolEntry[] =>
    Array.from({ length: n }, (_, i) => ({
      namespace: NAMESPACE,
      compartmentId: COMPARTMENT,
      name: 'old_total',
      dimensions: { series: String(i), instance: 'old:9100' },
      points: [[Date.now() - 30 * 60_000 + (i % 1000), i]],
    }));
  /** The refusal of a target by the memory budget, naming what the run holds. */
  const REFUSED = /^memory budget: this target's exposition was not read: the run holds /;

  test('a target whose body never ends is cut at its reservation: refused with the reason, its connection closed, not read on', async () => {
    let sent = 0;
    let closed!: () => void;
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    // Distinct short series without end, written as fast as the reader takes them.
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      let k = 0;
      const more = (): void => {
        while (!res.destroyed) {
          const lines: string[] = [];
          for (let j = 0; j < 4096; j++, k++) lines.push(`endless{i="${k}"} 1\n`);
          const chunk = lines.join('');
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
      };
      res.on('close', closed);
      more();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endless = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    try {
      // Nothing else bounds it: no sample limit to speak of, 512 MiB of body allowed, five minutes.
      const env = {
        METRICS_ENDPOINT: [endless, fx.target.url('/short?n=10')].join(','),
        ...FAST,
        SCRAPE_TIMEOUT_MS: '300000',
        SCRAPE_SAMPLE_LIMIT: '100000000',
        SCRAPE_MAX_BYTES: String(512 * MB),
      };
      const fn = await fx.stack.startFn(env, FUNCTION_HEAP_ARGS_256MB, { memoryMb: MEMORY_MB });
      const s = summaryOf(await fn.invoke({ deadline: new Date(Date.now() + 600_000) }));
      assertAccounted(s, 'endless');
      const [cut, small] = s.targets;
      assert.equal(cut.up, false);
      // Without the cut, the download went on to SCRAPE_MAX_BYTES (or the timeout) outside the budget, and that was its error.
      assert.match(cut.error!, REFUSED);
      assert.equal(small.up, true, small.error);
      await connectionClosed;
      // The budget's 51.2 MB for targets is ~290k of these samples, ~6 MB of body: the rest was never asked for.
      assert.ok(sent < 64 * MB, `${Math.round(sent / MB)} MB sent before the connection was closed`);
      assert.ok(s.memory!.limited === undefined, 'a refused target is named in its own error');
      assert.equal(fn.alive, true);
      await fn.stop();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('the decoded state holds its share: a target that would fit beside a small state is refused beside a large one', async () => {
    // 115,000 stored entries (no spool: SPOOL_MAX_SERIES=0, only the document is read): 6.0 MB of JSON,
    // ~18 MB held decoded (3 bytes per byte). The target, 260,000 short series, takes ~48.5 MB of
    // the 51.2 MB the targets may hold: with the state's 18 MB it is over the 64 MB budget.
    const big = fx.target.url('/short?n=260000');
    const env = {
      METRICS_ENDPOINT: [big, fx.target.url('/short?n=10')].join(','),
      SPOOL_MAX_SERIES: '0',
      DERIVED_SERIES: 'rate',
      SCRAPE_SAMPLE_LIMIT: '300000',
    };
    const fn = await startStateFn(env);
    putState(env, { ...emptyStateDocument(), spool: encodeSpool(spooled(115_000)) });
    const s = summaryOf(await fn.invoke({ deadline: new Date(Date.now() + 600_000) }));
    assertAccounted(s, 'large state');
    assert.equal(s.state.error, undefined, 'the state was read');
    const state = s.memory!.items.state!;
    assert.ok(state.peakMb >= 17, `the decoded state held ${state.peakMb} MB`);
    const [refused, small] = s.targets;
    assert.equal(refused.up, false, 'without the state in the budget it fit, and was posted');
    assert.match(refused.error!, REFUSED);
    assert.match(refused.error!, /state \d+\.\d MB/);
    assert.equal(small.up, true, small.error);
    assert.equal(fn.alive, true);
    assertPeakWithinMemory(fn);
    await fn.stop();
  });

  test('a big state, a big spool and many targets in 256 MB: named partial failures, the spool read up to what fits, no OOM', async () => {
    // 60,000 spooled entries (SPOOL_MAX_SERIES, unset, is the 21,845 that 256 MB holds: 32 MB of the
    // budget), 150 stale targets in the state, and four targets of 50,000 samples beside a small one.
    const bigs = Array.from({ length: 4 }, (_, i) => fx.target.url(`/short?n=50000&target=${i}`));
    const env = { METRICS_ENDPOINT: [...bigs, fx.target.url('/short?n=10')].join(','), DERIVED_SERIES: 'rate' };
    const fn = await startStateFn(env);
    const stale = { t: Date.now() - 60 * 60_000, f: { x: { k: 'c' as const, s: { '[]': [1] } } } };
    const targets = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`gone${i}`, stale]));
    putState(env, { ...emptyStateDocument(), targets, spool: encodeSpool(spooled(60_000)) });
    const res = await fn.invoke({ deadline: new Date(Date.now() + 600_000) });
    const s = summaryOf(res);
    assertAccounted(s, 'big state, spool and targets');
    assert.equal(s.state.error, undefined);
    const m = s.memory!;
    assert.ok(m.items.state && m.items.spool && m.items.targets, JSON.stringify(m));
    for (const [item, i] of Object.entries(m.items)) assert.ok(i.peakMb <= i.capMb, `${item}: ${i.peakMb} MB within its ${i.capMb} MB`);
    // The spool is read up to SPOOL_MAX_SERIES and what the budget holds; the older rest dropped as full, counted.
    const read = (s.spool?.posted ?? 0) + (s.spool?.pending ?? 0) - (s.spool?.selfMetrics ?? 0);
    assert.ok(read <= 21_845, `${read} spooled entries kept or posted`);
    assert.ok((s.spool?.dropped.full ?? 0) >= 60_000 - 21_845);
    // Beside the state and the spool not every big target fits: each one that does not is named (or the spool was trimmed to fit, and named).
    const refused = s.targets.filter((t) => !t.up);
    for (const t of refused) assert.match(t.error!, REFUSED);
    const spoolTrimmed = (m.limited ?? []).some((l) => l.item === 'spool');
    assert.ok(refused.length >= 1 || spoolTrimmed, `a target refused or the spool trimmed: ${JSON.stringify(m)}`);
    assert.equal(s.targets.at(-1)!.up, true, 'the small target is posted');
    assert.equal(fn.alive, true);
    assertPeakWithinMemory(fn);
    await fn.stop();
  });

  test('the discovered list is truncated to what the budget holds (a problems[] entry), and the summary log line is capped', async () => {
    // FN_MEMORY=16 (a small number to keep the fleet small): the share for the targets listed holds 128
    // of 4 KB, the log line's share is 16 KB. 150 instances, each an exporter port nothing listens on.
    const fleet = fx.stack.emulator.fleet;
    fleet.instances.clear();
    fx.stack.emulator.reset();
    const closed = await closedPort();
    const FLEET = 'ocid1.compartment.oc1..aaaaaaaamemorybudgetfleet';
    for (let i = 0; i < 150; i++)
      fleet.addInstance({ compartmentId: FLEET, privateIp: `127.0.13.${i + 1}`, freeformTags: { app: 'budget', prometheus_port: `${closed}` } });
    const fn = await fx.stack.startFn(
      {
        DISCOVERY_COMPARTMENT_OCID: FLEET,
        DISCOVERY_TAG: 'app=budget',
        DISCOVERY_TIMEOUT_MS: '120000',
        OCI_COMPUTE_ENDPOINT: fx.stack.emulator.url,
        METRICS_ENDPOINT: fx.target.url('/short?n=10'),
        SCRAPE_CONCURRENCY: '4',
        SCRAPE_TIMEOUT_MS: '60000',
      },
      undefined,
      { memoryMb: 16 },
    );
    const logged = fn.stdout.length;
    const s = summaryOf(await fn.invoke({ deadline: new Date(Date.now() + 600_000) }));
    assertAccounted(s, 'truncated fleet');
    const d = s.discovery!;
    assert.equal(d.targets, 150, 'discovery found them all');
    assert.equal(s.targets.length, 1 + 128, 'the static target and the 128 the budget holds');
    assert.match(
      d.problems[0].problem,
      /^memory budget: 22 of the 150 discovered targets were not scraped: this function's 16 MB memory \(FN_MEMORY\) holds 128/,
    );
    assert.ok(s.memory!.limited!.some((l) => l.item === 'listed'));
    assert.equal(s.targets[0].up, true);
    // The log line: within the log's 16 KB, the targets listed while they fit, then counted.
    const line = await waitForLine(fn, (l) => fn.stdout.indexOf(l) >= logged && l.includes('"event":"invocation_summary"'), 30_000);
    assert.ok(Buffer.byteLength(line) <= 16 * 1024, `${Buffer.byteLength(line)} bytes`);
    const fields = JSON.parse(line) as { targets: unknown[]; targetsListed: number; targetsCount: number };
    assert.equal(fields.targetsCount, 129);
    assert.ok(fields.targetsListed < 129 && fields.targetsListed === fields.targets.length && fields.targetsListed > 10, `${fields.targetsListed} listed`);
    assert.equal(fn.alive, true);
    await fn.stop();
  });

  test("a configuration's job targets beyond the budget are not scraped, named in the configuration's notes", async () => {
    // FN_MEMORY=16 again: the share for the targets listed holds 128 of 4 KB. One job of the target
    // that answers, one of 300 on a port nothing listens on.
    const closed = await closedPort();
    const good = new URL(fx.target.url('/short'));
    const many = Array.from({ length: 300 }, (_, i) => `'127.0.14.${i + 1}:${closed}'`).join(', ');
    const config = [
      'scrape_configs:',
      '  - job_name: good',
      `    metrics_path: ${good.pathname}`,
      `    static_configs: [{ targets: ['${good.host}'] }]`,
      '  - job_name: many',
      `    static_configs: [{ targets: [${many}] }]`,
    ].join('\n');
    const fn = await fx.stack.startFn({ SCRAPE_CONFIG: config, SCRAPE_CONCURRENCY: '4', SCRAPE_TIMEOUT_MS: '60000' }, undefined, { memoryMb: 16 });
    const s = summaryOf(await fn.invoke({ deadline: new Date(Date.now() + 600_000) }));
    assertAccounted(s, 'truncated configuration');
    assert.equal(s.targets.length, 128, 'the first 128 of the 301 listed targets');
    assert.equal(s.targets[0].up, true, s.targets[0].error);
    const note = /^memory budget: 173 of the 301 targets of the configuration's jobs were not scraped: this function's 16 MB memory \(FN_MEMORY\) holds 128/;
    assert.ok(
      s.scrapeConfig!.notes.some((n) => note.test(n)),
      JSON.stringify(s.scrapeConfig!.notes),
    );
    assert.ok(s.memory!.limited!.some((l) => l.item === 'listed'));
    assert.equal(fn.alive, true);
    await fn.stop();
  });
});
