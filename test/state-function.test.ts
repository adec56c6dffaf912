/**
 * The state between invocations through the real function process (Fn socket protocol, resource
 * principal, the emulator's Object Storage with verified signatures): derived series from the
 * previous invocation, a target restart, a 412 race, overlapping invocations, a stale, corrupt or
 * foreign state object, a missing bucket, a hanging Object Storage. Raw posting never stops.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { InvocationSummary } from '../src/handler/summary';
import type { LocalFunction } from '../src/local/fn-agent';
import type { StateDocument } from '../src/types/state';
import { startStack, type Stack } from './helpers/stack';
import { assertAccounted, summaryOf, waitForLine } from './helpers/reliability';

const BUCKET = 'fn-state';

/** A target whose exposition the test sets before each scrape. */
interface ScriptedTarget {
  url: string;
  body: string;
  /** While set, a request waits until this many requests have arrived (two invocations scraping at once). */
  barrier?: number;
  close(): Promise<void>;
}

async function startScriptedTarget(): Promise<ScriptedTarget> {
  const target: ScriptedTarget = { url: '', body: '', close: () => Promise.resolve() };
  const waiting: (() => void)[] = [];
  const server: Server = createServer((_req, res) => {
    waiting.push(() => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(target.body);
    });
    if (target.barrier === undefined || waiting.length >= target.barrier) for (const answer of waiting.splice(0)) answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  target.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return target;
}

/** An exposition with one counter and one histogram (buckets 0.1, 1, +Inf). */
function exposition(orders: number, buckets: [number, number, number], sum: number): string {
  return [
    '# TYPE orders_total counter',
    `orders_total ${orders}`,
    '# TYPE latency_seconds histogram',
    `latency_seconds_bucket{route="/a",le="0.1"} ${buckets[0]}`,
    `latency_seconds_bucket{route="/a",le="1"} ${buckets[1]}`,
    `latency_seconds_bucket{route="/a",le="+Inf"} ${buckets[2]}`,
    `latency_seconds_sum{route="/a"} ${sum}`,
    `latency_seconds_count{route="/a"} ${buckets[2]}`,
    '',
  ].join('\n');
}

describe('state between invocations, through the function process', () => {
  let stack: Stack;
  let target: ScriptedTarget;
  before(async () => {
    stack = await startStack();
    stack.emulator.objectStorage.createBucket(BUCKET);
    target = await startScriptedTarget();
  });
  after(async () => {
    await stack.close();
    await target.close();
  });

  const env = (over: Record<string, string> = {}) => ({
    METRICS_ENDPOINT: target.url,
    STATE_BUCKET: BUCKET,
    // The state object alone in the bucket: the pacing board's own object is tested in test/board-function.test.ts.
    PACING_BOARD: 'false',
    OBJECT_STORAGE_NAMESPACE: stack.emulator.objectStorage.namespace,
    // Bounds each state read and write (a conflict's re-read and retry included): far above the work
    // on a busy machine; the hanging Object Storage test sets its own.
    POST_TIMEOUT_MS: '30000',
    ...over,
  });
  const objects = () => stack.emulator.objectStorage.buckets.get(BUCKET)!;
  const stateDoc = (): StateDocument => {
    const [only] = [...objects().values()];
    return JSON.parse(gunzipSync(only.bytes).toString('utf8')) as StateDocument;
  };
  /** The value the emulator stored for a metric name in the last call (one stream). */
  const stored = (name: string) =>
    stack.emulator.accepted
      .filter((m) => m.name === name)
      .at(-1)
      ?.datapoints.at(-1);
  const invoke = async (fn: LocalFunction): Promise<InvocationSummary> => {
    const s = summaryOf(await fn.invoke());
    assertAccounted(s);
    return s;
  };
  const fresh = () => {
    stack.emulator.reset();
    stack.emulator.objectStorage.clearObjects();
    stack.emulator.objectStorage.beforePut = undefined;
    target.barrier = undefined;
  };

  test("a dry run reads the function's Object Storage state but never writes it (only the CLI's own state is written by a dry run)", async () => {
    fresh();
    target.body = exposition(100, [10, 20, 30], 9);
    const fn = await stack.startFn(env());
    await invoke(fn);
    const stored = stateDoc();
    target.body = exposition(160, [20, 40, 60], 18);
    const dry = summaryOf(await fn.invoke({ body: { dryRun: true } }));
    assert.equal(dry.dryRun, true);
    assert.ok(dry.derived > 0, 'derived from the stored scrape');
    assert.equal(dry.state?.written, false);
    assert.deepEqual(stateDoc(), stored, 'the stored state is untouched');
    assert.equal(stack.emulator.calls.filter((c) => c.route === 'objectstorage' && c.method === 'PUT').length, 1, 'only the real run wrote');
  });

  test('first invocation stores the scrape; the second derives rate, average and percentiles from it', async () => {
    fresh();
    const fn = await stack.startFn(env());
    target.body = exposition(100, [10, 20, 30], 10);
    const first = await invoke(fn);
    assert.deepEqual([first.state.read, first.state.written, first.derived], ['empty', true, 0]);
    assert.deepEqual(first.notDerived, { first_scrape: 5 }, 'one rate, one average, three quantiles');
    const t1 = stored('orders_total')!.timestamp;
    target.body = exposition(160, [12, 23, 34], 12); // +60 orders; bucket increases 2, 3, 4; sum +2
    const second = await invoke(fn);
    assert.deepEqual([second.state.read, second.state.written, second.derived, second.notDerived], ['ok', true, 5, {}]);
    const t2 = stored('orders_total')!.timestamp;
    const seconds = (new Date(t2).getTime() - new Date(t1).getTime()) / 1000;
    assert.ok(Math.abs(stored('orders_total_rate')!.value - 60 / seconds) < 1e-9, 'rate over the two scrape times');
    assert.equal(stored('latency_seconds_avg')!.value, 0.5);
    assert.equal(stored('latency_seconds_p50')!.value, 0.1);
    assert.equal(stored('latency_seconds_p99')!.value, 1);
    const ok = stack.emulator.accepted.filter((m) => m.name === 'state_ok').at(-1)!;
    assert.equal(ok.datapoints.at(-1)!.value, 1);
    assert.equal(objects().size, 1, 'one state object per function');
    assert.match([...objects().keys()][0], /^prom2oci\/state-[0-9a-f]{32}\.json\.gz$/);
    const osCalls = stack.emulator.calls.filter((c) => c.route === 'objectstorage');
    assert.deepEqual(
      osCalls.map((c) => `${c.method} ${c.status}`),
      ['GET 404', 'PUT 200', 'GET 200', 'PUT 200'],
      'one read and one write per invocation',
    );
    assert.ok(osCalls.every((c) => c.authKind === 'resource-principal'));
    await fn.stop();
  });

  test('a dry run before the first real run forecasts the derived series the real runs will post', async () => {
    fresh();
    const fn = await stack.startFn(env());
    target.body = exposition(100, [10, 20, 30], 10);
    const dry = summaryOf(await fn.invoke({ body: { dryRun: true } }));
    assert.equal(dry.dryRun, true);
    assert.deepEqual(dry.notDerived, { first_scrape: 5 });
    await invoke(fn);
    target.body = exposition(160, [12, 23, 34], 12);
    const steady = await invoke(fn);
    assert.equal(steady.derived, 5);
    assert.equal(dry.forecast.metricStreams, steady.forecast.metricStreams, 'the dry run foresaw the steady state');
    assert.equal(dry.forecast.postCallsPerInvocation, steady.forecast.postCallsPerInvocation);
    assert.equal(dry.forecast.derivedFromNextScrape, 5);
    assert.equal(steady.forecast.derivedFromNextScrape, 0);
    await fn.stop();
  });

  test('a target restart between invocations (counter and histogram reset): the increase is the new value', async () => {
    fresh();
    const fn = await stack.startFn(env());
    target.body = exposition(5000, [400, 900, 1000], 700);
    await invoke(fn);
    const t1 = new Date(stored('orders_total')!.timestamp).getTime();
    target.body = exposition(7, [1, 3, 4], 2); // restarted: 7 orders, 4 observations summing to 2
    const s = await invoke(fn);
    const seconds = (new Date(stored('orders_total')!.timestamp).getTime() - t1) / 1000;
    assert.equal(s.derived, 5);
    assert.ok(Math.abs(stored('orders_total_rate')!.value - 7 / seconds) < 1e-9, 'never negative');
    assert.equal(stored('latency_seconds_avg')!.value, 0.5);
    assert.ok(Math.abs(stored('latency_seconds_p50')!.value - (0.1 + 0.9 * (1 / 2))) < 1e-12, 'rank 2 of 4: half way through (0.1, 1]');
    await fn.stop();
  });

  test('a 412 race: another writer stores first; the function re-reads, keeps the newer scrape per target and retries', async () => {
    fresh();
    const fn = await stack.startFn(env());
    target.body = exposition(1, [1, 1, 1], 1);
    await invoke(fn);
    const name = [...objects().keys()][0];
    const other = { t: Date.now() + 3_600_000, f: {} };
    stack.emulator.objectStorage.beforePut = () => {
      stack.emulator.objectStorage.beforePut = undefined;
      const doc = stateDoc();
      // Another invocation (another target of a function sharing the object) wrote in between.
      stack.emulator.objectStorage.putDirect(BUCKET, name, gzipSync(JSON.stringify({ ...doc, targets: { ...doc.targets, otherTarget: other } })));
    };
    target.body = exposition(2, [2, 2, 2], 2);
    const s = await invoke(fn);
    assert.equal(s.state.written, true);
    assert.equal(s.state.writeAttempts, 2);
    const puts = stack.emulator.calls.filter((c) => c.route === 'objectstorage' && c.method === 'PUT').slice(-2);
    assert.deepEqual(
      puts.map((c) => [c.status, c.code]),
      [
        [412, 'IfMatchFailed'],
        [200, undefined],
      ],
    );
    const doc = stateDoc();
    assert.deepEqual(doc.targets.otherTarget, other, "the other writer's section is kept");
    assert.equal(Object.keys(doc.targets).length, 2);
    await fn.stop();
  });

  test('overlapping invocations of two containers never roll the state back', async () => {
    fresh();
    const [a, b] = await Promise.all([stack.startFn(env()), stack.startFn(env())]);
    target.body = exposition(10, [1, 2, 3], 1);
    await invoke(a);
    target.body = exposition(20, [2, 4, 6], 2);
    // Both scrapes are answered only once both have arrived: the two invocations surely overlap.
    target.barrier = 2;
    const results = await Promise.all([invoke(a), invoke(b)]);
    target.barrier = undefined;
    for (const s of results) {
      assert.equal(s.state.written, true, JSON.stringify(s.state));
      assert.equal(s.posted, s.series);
    }
    const newest = Math.max(...stack.emulator.accepted.filter((m) => m.name === 'orders_total').map((m) => new Date(m.datapoints[0].timestamp).getTime()));
    const [only] = Object.values(stateDoc().targets);
    assert.equal(only.t, newest, 'the stored scrape is the newest one');
    await Promise.all([a.stop(), b.stop()]);
  });

  test('a stale state (older than STATE_MAX_AGE_SECONDS) derives nothing and is replaced', async () => {
    fresh();
    const fn = await stack.startFn(env());
    target.body = exposition(1, [1, 1, 1], 1);
    await invoke(fn);
    const name = [...objects().keys()][0];
    const doc = stateDoc();
    for (const t of Object.values(doc.targets)) t.t -= 10 * 60_000; // the previous scrape 10 minutes earlier
    stack.emulator.objectStorage.putDirect(BUCKET, name, gzipSync(JSON.stringify(doc)));
    target.body = exposition(2, [2, 2, 2], 2);
    const s = await invoke(fn);
    assert.deepEqual([s.derived, s.notDerived], [0, { stale_state: 5 }]);
    assert.equal(s.state.written, true);
    target.body = exposition(3, [3, 3, 3], 3);
    assert.equal((await invoke(fn)).derived, 5, 'the next interval is derived again');
    await fn.stop();
  });

  test('a corrupt state object: raw series posted, the cause reported, the object replaced', async () => {
    fresh();
    const fn = await stack.startFn(env());
    target.body = exposition(1, [1, 1, 1], 1);
    await invoke(fn);
    const name = [...objects().keys()][0];
    stack.emulator.objectStorage.putDirect(BUCKET, name, Buffer.from('not a state object'));
    const s = await invoke(fn);
    assert.equal(s.posted, s.series);
    assert.ok(s.series > 0);
    assert.deepEqual([s.state.read, s.state.cause, s.state.written], ['failed', 'corrupt', true]);
    assert.deepEqual(s.notDerived, { state_failed: 5 });
    const ok = stack.emulator.accepted.filter((m) => m.name === 'state_ok').at(-1)!;
    assert.deepEqual([ok.datapoints.at(-1)!.value, ok.dimensions.cause], [0, 'corrupt']);
    await waitForLine(fn, (l) => l.includes('"level":"warn"') && l.includes('not gzip data'));
    assert.equal((await invoke(fn)).state.read, 'ok', 'replaced by a valid one');
    await fn.stop();
  });

  test('a foreign or newer-version object is never overwritten', async () => {
    fresh();
    const fn = await stack.startFn(env());
    target.body = exposition(1, [1, 1, 1], 1);
    await invoke(fn);
    const name = [...objects().keys()][0];
    for (const [content, cause] of [
      [{ mine: 'not yours' }, 'foreign'],
      [{ format: 'prom2oci-state', version: 99, targets: {} }, 'unsupported_version'],
    ] as const) {
      const put = stack.emulator.objectStorage.putDirect(BUCKET, name, gzipSync(JSON.stringify(content)));
      const s = await invoke(fn);
      assert.equal(s.posted, s.series);
      assert.deepEqual([s.state.cause, s.state.written], [cause, false]);
      assert.equal(objects().get(name)!.etag, put.etag, `${cause}: left alone`);
    }
    await fn.stop();
  });

  test('a missing bucket (or no policy): raw series posted; response, log and state_ok say why, with the IAM statement', async () => {
    fresh();
    const fn = await stack.startFn(env({ STATE_BUCKET: 'no-such-bucket' }));
    target.body = exposition(1, [1, 1, 1], 1);
    const s = await invoke(fn);
    assert.ok(s.ok && s.posted === s.series && s.series > 0);
    assert.deepEqual([s.state.read, s.state.cause, s.state.written], ['failed', 'not_authorized_or_not_found', false]);
    assert.match(s.state.error!, /404 BucketNotFound.*no-such-bucket/);
    assert.match(
      s.state.iamPolicy!,
      new RegExp(
        String.raw`^Allow dynamic-group .* to use objects in compartment .* where target\.bucket\.name = 'no-such-bucket'; Allow dynamic-group .* to` +
          String.raw` manage objects in compartment .* where all \{target\.bucket\.name = 'no-such-bucket', request\.permission = 'OBJECT_CREATE'\}$`,
      ),
    );
    assert.deepEqual(s.notDerived, { state_failed: 5 });
    const ok = stack.emulator.accepted.filter((m) => m.name === 'state_ok').at(-1)!;
    assert.deepEqual([ok.datapoints.at(-1)!.value, ok.dimensions.cause], [0, 'not_authorized_or_not_found']);
    const line = await waitForLine(fn, (l) => l.includes('"level":"warn"') && l.includes('no-such-bucket'));
    assert.match(line, /iamPolicy/);
    await fn.stop();
  });

  test('Object Storage hanging or failing (5xx): bounded by POST_TIMEOUT_MS, raw series posted', async () => {
    fresh();
    // Far below the 60 s hang, far above a PostMetricData call on a busy machine (1 s was not).
    const fn = await stack.startFn(env({ POST_TIMEOUT_MS: '10000' }));
    target.body = exposition(1, [1, 1, 1], 1);
    stack.emulator.enqueueFault({ hangMs: 60_000 }, 1, 'objectstorage');
    const hung = await invoke(fn);
    assert.equal(hung.posted, hung.series);
    assert.equal(hung.state.cause, 'timeout');
    stack.emulator.enqueueFault({ status: 503 }, 1, 'objectstorage');
    const failed = await invoke(fn);
    assert.equal(failed.posted, failed.series);
    assert.equal(failed.state.cause, 'unavailable');
    assert.match(failed.state.error!, /503/);
    await fn.stop();
  });
});
