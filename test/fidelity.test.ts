/**
 * Fidelity end to end: the built function (`node dist/func.js` over the Fn socket protocol) scrapes
 * an adversarial exposition from a local target and posts, with real signed SDK requests, to the
 * emulator. Every sample lands in OCI under its own identity, at its own time, or is skipped with a
 * named reason; a malformed byte fails the scrape with its line number.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InvocationSummary } from '../src/handler/summary';
import type { OciMetric } from '../src/types/model';
import { assertAccounted } from './helpers/accounting';
import { startStack, type Stack } from './helpers/stack';

const MIN = 60_000;

/** A target whose body is built per request (so own timestamps are relative to the scrape). */
interface Target {
  url: string;
  serve(body: (nowMs: number) => string | Buffer): void;
  close(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  let make: (nowMs: number) => string | Buffer = () => '';
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(make(Date.now()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`,
    serve(body) {
      make = body;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('fidelity through the real function process', () => {
  let stack: Stack;
  let target: Target;
  before(async () => {
    stack = await startStack();
    target = await startTarget();
  });
  after(async () => {
    await stack?.close();
    await target?.close();
  });

  /** One real invocation (or a dry run) against the target; asserts the accounting. */
  async function invoke(env: Record<string, string> = {}, dryRun = false): Promise<InvocationSummary & { metricData?: OciMetric[] }> {
    const fn = await stack.startFn({ METRICS_ENDPOINT: target.url, ...env });
    const res = await fn.invoke(dryRun ? { body: { dryRun: true } } : undefined);
    assert.equal(res.status, 200, res.body);
    const s = res.json as InvocationSummary;
    assertAccounted(s);
    return s;
  }

  const accepted = (name: string) => stack.emulator.accepted.filter((m) => m.name === name);

  test('own timestamps outside OCI\'s window are skipped as timestamp_out_of_window, never posted "now"', async () => {
    stack.emulator.reset();
    target.serve(
      (now) =>
        [
          `stale_3h 1 ${now - 180 * MIN}`,
          `in_seconds 1 ${Math.floor(now / 1000)}`,
          `future_30m 1 ${now + 30 * MIN}`,
          `recent_10m 7 ${now - 10 * MIN}`,
          'no_timestamp 8',
        ].join('\n') + '\n',
    );
    const dry = await invoke({}, true);
    assert.equal(dry.skipped.timestamp_out_of_window, 3);
    assert.deepEqual(
      dry.skippedSamples!.filter((k) => k.reason === 'timestamp_out_of_window').map((k) => k.name),
      ['stale_3h', 'in_seconds', 'future_30m'],
    );
    const before = Date.now();
    const s = await invoke();
    assert.equal(s.skipped.timestamp_out_of_window, 3);
    assert.equal(s.posted, 2);
    for (const n of ['stale_3h', 'in_seconds', 'future_30m']) assert.deepEqual(accepted(n), [], `${n} is not posted`);
    const recent = accepted('recent_10m');
    assert.equal(recent.length, 1);
    const t = recent[0].datapoints[0].timestamp;
    assert.ok(t >= before - 11 * MIN && t <= Date.now() - 9 * MIN, 'posted at its own time, 10 minutes ago');
  });

  test('each line of a histogram keeps its own timestamp (buckets, _sum and _count)', async () => {
    stack.emulator.reset();
    const stamps = new Map<string, number>();
    target.serve((now) => {
      const ts = (k: string, minutesAgo: number) => {
        stamps.set(k, now - minutesAgo * MIN);
        return now - minutesAgo * MIN;
      };
      return (
        [
          '# TYPE lat histogram',
          `lat_bucket{le="0.5"} 1 ${ts('0.5', 1)}`,
          `lat_bucket{le="+Inf"} 2 ${ts('+Inf', 2)}`,
          `lat_sum 3 ${ts('sum', 3)}`,
          `lat_count 2 ${ts('count', 4)}`,
        ].join('\n') + '\n'
      );
    });
    const s = await invoke({ HISTOGRAM_BUCKETS: 'true' });
    assert.equal(s.posted, 4, '2 buckets, _sum, _count (no _avg: _sum and _count are stamped differently)');
    const at = (m: { datapoints: { timestamp: number }[] }) => m.datapoints[0].timestamp;
    const buckets = accepted('lat_bucket');
    assert.deepEqual(buckets.map((m) => [m.dimensions.le, at(m)]).sort(), [
      ['+Inf', stamps.get('+Inf')],
      ['0.5', stamps.get('0.5')],
    ]);
    assert.equal(at(accepted('lat_sum')[0]), stamps.get('sum'));
    assert.equal(at(accepted('lat_count')[0]), stamps.get('count'));
  });

  test('distinct Prometheus names stay distinct OCI streams (job:req:rate5m vs job_req_rate5m, _leading vs leading)', async () => {
    stack.emulator.reset();
    target.serve(() => 'job:req:rate5m 1\njob_req_rate5m 2\n_leading 3\nleading 4\n:colon_first 5\n');
    const s = await invoke();
    assert.deepEqual(s.skipped, {});
    assert.equal(s.posted, 5);
    const byName = Object.fromEntries(
      ['job.req.rate5m', 'job_req_rate5m', 'prom$_leading', 'leading', 'prom$.colon_first'].map((n) => [n, accepted(n).map((m) => m.datapoints[0].value)]),
    );
    assert.deepEqual(byName, { 'job.req.rate5m': [1], job_req_rate5m: [2], prom$_leading: [3], leading: [4], 'prom$.colon_first': [5] });
  });

  test('dimension values are measured in UTF-16 units: 300 emoji (600 units) are shortened, and OCI accepts them', async () => {
    stack.emulator.reset();
    target.serve(() => `emoji{v="${'😀'.repeat(300)}"} 1\nshort{v="${'😀'.repeat(256)}"} 1\n`);
    const s = await invoke();
    assert.equal(s.failed, 0);
    assert.equal(s.posted, 2);
    const long = accepted('emoji')[0].dimensions.v;
    assert.ok(long.length <= 512, `${long.length} UTF-16 units`);
    assert.match(long, /^(😀)+~[0-9a-f]{16}$/);
    assert.equal(accepted('short')[0].dimensions.v, '😀'.repeat(256), 'exactly 512 units is kept as is');
  });

  test('le="1" and le="1.0" (and quantile="0.50" / "0.5") from different clients are one stream', async () => {
    stack.emulator.reset();
    const expo = (le: string, q: string) => () =>
      `# TYPE h histogram\nh_bucket{le="${le}"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n# TYPE s summary\ns{quantile="${q}"} 1\ns_sum 1\ns_count 1\n`;
    target.serve(expo('1', '0.50'));
    await invoke({ HISTOGRAM_BUCKETS: 'true' });
    target.serve(expo('1.0', '0.5'));
    await invoke({ HISTOGRAM_BUCKETS: 'true' });
    const bucketStreams = stack.emulator.store.query({ name: 'h_bucket' });
    assert.deepEqual(bucketStreams.map((x) => [x.dimensions.le, x.datapoints.length]).sort(), [
      ['+Inf', 2],
      ['1.0', 2],
    ]);
    const quantileStreams = stack.emulator.store.query({ name: 's' });
    assert.deepEqual(
      quantileStreams.map((x) => [x.dimensions.quantile, x.datapoints.length]),
      [['0.5', 2]],
    );
  });

  test('an exposition sample named like a self-metric never shares its stream: skipped as self_metric_collision', async () => {
    stack.emulator.reset();
    target.serve(() => 'up 0\nscrape_duration_seconds 99\nup{job="node"} 1\n');
    const s = await invoke({ EXTRA_DIMENSIONS: 'env=test' });
    assert.equal(s.skipped.self_metric_collision, 2);
    const ups = accepted('up');
    assert.deepEqual(
      ups.map((m) => [m.dimensions.job ?? '-', m.datapoints[0].value]).sort(),
      [
        ['-', 1],
        ['node', 1],
      ],
      'the self-metric up=1 and the labelled exposition up',
    );
    assert.equal(accepted('scrape_duration_seconds').length, 1);
    assert.notEqual(accepted('scrape_duration_seconds')[0].datapoints[0].value, 99);
  });

  test("OCI's metric-group limit across targets: a stream that would take a name past 20 dimension keys fails with OCI's message, counted", async () => {
    stack.emulator.reset();
    const other = await startTarget();
    try {
      const labels = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}="v"`).join(',');
      target.serve(() => `wide{${labels('a', 12)}} 1\n`);
      other.serve(() => `wide{${labels('b', 10)}} 2\nnarrow 3\n`);
      const fn = await stack.startFn({ METRICS_ENDPOINT: `${target.url},${other.url}` });
      const res = await fn.invoke();
      assert.equal(res.status, 200, res.body);
      const s = res.json as InvocationSummary;
      assertAccounted(s);
      assert.equal(s.failed, 1);
      assert.match(s.errors.map((e) => e.message).join('\n'), /metric group .*wide.* 23 distinct dimension keys, at most 20/);
      // Whichever target's stream reached OCI first holds the group; the other one failed.
      assert.equal(accepted('wide').length, 1);
      assert.equal(accepted('narrow').length, 1);
    } finally {
      await other.close();
    }
  });

  test('invalid UTF-8 in a label value fails that scrape with the line number (up=0), never U+FFFD', async () => {
    stack.emulator.reset();
    target.serve(() => Buffer.concat([Buffer.from('good 1\nbad{path="/caf'), Buffer.from([0xe9]), Buffer.from('"} 1\n')]));
    const fn = await stack.startFn({ METRICS_ENDPOINT: target.url });
    const res = await fn.invoke();
    assert.equal(res.status, 502, res.body);
    assert.match(res.body, /invalid exposition: line 2: invalid UTF-8 label value: byte 0xE9/);
    assert.deepEqual(accepted('good'), [], 'nothing of a failed scrape is posted');
    assert.deepEqual(
      accepted('up').map((m) => m.datapoints[0].value),
      [0],
    );
    assert.ok(!stack.emulator.accepted.some((m) => Object.values(m.dimensions).some((v) => v.includes('\uFFFD'))));
  });
});
