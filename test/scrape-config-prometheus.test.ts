/**
 * Reference: a Prometheus configuration file against the real Prometheus server (Debian
 * `prometheus`). The same file and the same targets are given to Prometheus and to the real function
 * process (SCRAPE_CONFIG, dry run); the series Prometheus stores (HTTP API) must equal the metrics
 * the function would post: names, label sets and values, `up` included. The file covers every
 * relabel action, honor_labels both ways, sample_limit after metric relabelling, and a target
 * dropped by relabelling, which neither ever requests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startPrometheusServer, type RunningExporter } from './helpers/exporters';
import { summaryOf } from './helpers/reliability';
import { requireBinary } from './helpers/requires';
import { startStack, type Stack } from './helpers/stack';

const PROMETHEUS = '/usr/bin/prometheus';

const EXPOSITION = [
  '# TYPE http_requests_total counter',
  'http_requests_total{method="GET",code="200",path="/a"} 10',
  'http_requests_total{method="POST",code="ERR500",path="/b"} 3',
  '# TYPE go_goroutines gauge',
  'go_goroutines 7',
  '# TYPE temp gauge',
  'temp{env="exposed",job="exposed_job",instance="",exported_job="older"} 21.5',
  '# TYPE latency_seconds histogram',
  'latency_seconds_bucket{le="0.5"} 1',
  'latency_seconds_bucket{le="1.0"} 2',
  'latency_seconds_bucket{le="+Inf"} 3',
  'latency_seconds_sum 2.5',
  'latency_seconds_count 3',
  '',
].join('\n');

/** The configuration both are given. */
function config(a: string, b: string): string {
  return `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: relabel
    static_configs:
      - targets: ['${a}', '${b}']
        labels: { env: Prod, team: a-b, other: x }
    relabel_configs:
      - source_labels: [__address__]
        regex: '${b.replace(/\./g, '\\.')}'
        action: drop
      - source_labels: [env]
        target_label: env_lower
        action: lowercase
      - source_labels: [env]
        target_label: env_upper
        action: uppercase
      - source_labels: [__address__]
        target_label: shard
        modulus: 7
        action: hashmod
      - source_labels: [team]
        regex: '(\\w)-(\\w)'
        replacement: '$2_$1'
        target_label: swapped
      - source_labels: [team]
        regex: '(\\w)-(\\w)'
        replacement: '\${2}_\${1}'
        target_label: swapped_braced
      - regex: 'te(am)'
        replacement: 'x_\${1}'
        action: labelmap
      - source_labels: [env]
        target_label: env_copy
      - source_labels: [env]
        target_label: env_copy
        action: keepequal
      - source_labels: [env]
        target_label: team
        action: dropequal
      - source_labels: [missing_a]
        target_label: missing_b
        action: keepequal
      - regex: 'other'
        action: labeldrop
      - regex: '__.*|job|instance|env.*|team|shard|swapped.*|x_am'
        action: labelkeep
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'go_.*'
        action: drop
      - regex: path
        action: labeldrop
      - source_labels: [code]
        regex: '(?i)err.*'
        target_label: failed
        replacement: 'yes'
      - source_labels: [method]
        regex: '(.+)'
        target_label: __method__
  - job_name: honor
    honor_labels: true
    static_configs:
      - targets: ['${a}']
        labels: { env: static }
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'temp'
        action: keep
${limitedJob('limited', 7, a)}${limitedJob('limited_ok', 8, a)}`;
}

/** A job whose sample_limit is checked after dropping go_* (9 samples exposed, 8 after relabelling). */
function limitedJob(name: string, limit: number, target: string): string {
  return `  - job_name: ${name}
    sample_limit: ${limit}
    static_configs:
      - targets: ['${target}']
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'go_.*'
        action: drop
`;
}

/** A series as "name{k="v",...}" with sorted labels. */
function key(name: string, labels: Record<string, string>): string {
  const inner = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
  return `${name}{${inner}}`;
}

describe('reference: a Prometheus configuration file gives the series Prometheus stores', () => {
  let stack: Stack;
  const servers: Server[] = [];
  const requests = { a: 0, b: 0 };
  let prometheus: RunningExporter | undefined;

  async function serve(which: 'a' | 'b'): Promise<string> {
    const server = createServer((_req, res) => {
      requests[which]++;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(EXPOSITION);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await prometheus?.stop();
    await stack.close();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  test('every relabel action, honor_labels both ways, sample_limit, a dropped target', { timeout: 180_000 }, async (t) => {
    if (!requireBinary(t, PROMETHEUS, 'prometheus')) return;
    const a = await serve('a');
    const b = await serve('b');
    const text = config(a, b);
    prometheus = await startPrometheusServer({ configText: text });
    const api = prometheus.url.replace(/\/metrics$/, '');
    const query = async (expr: string) => {
      const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const json = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      assert.equal(json.status, 'success', expr);
      return json.data.result;
    };
    // Every job has been scraped (an event, polled): 4 targets (b is dropped), each with its samples stored.
    const until = Date.now() + 90_000;
    for (;;) {
      const up = await query('up');
      const temps = await query('temp');
      if (up.length === 4 && temps.length === 3) break;
      assert.ok(Date.now() < until, `Prometheus scraped every job (up: ${JSON.stringify(up)}, temp: ${JSON.stringify(temps)})`);
      await new Promise((r) => setTimeout(r, 100));
    }

    const fn = await stack.startFn({ SCRAPE_CONFIG: text, DRY_RUN: 'true', HISTOGRAM_BUCKETS: 'true', DERIVED_SERIES: 'none' });
    const s = summaryOf(await fn.invoke());

    // Prometheus' stored series, its own scrape_* report series aside.
    const theirs = new Map<string, number>();
    for (const r of await query('{__name__=~".+"}')) {
      const { __name__: name, ...labels } = r.metric;
      if (name.startsWith('scrape_')) continue;
      theirs.set(key(name, labels), Number(r.value[1]));
    }
    const ours = new Map<string, number>();
    for (const m of s.metricData ?? []) {
      if (m.name.startsWith('scrape_') || m.name === 'state_ok') continue;
      ours.set(key(m.name, m.dimensions), m.datapoints[0].value);
    }
    assert.deepEqual(
      [...ours.keys()].sort(),
      [...theirs.keys()].sort(),
      `the same series (names and label sets); ${JSON.stringify({ ...s, metricData: undefined })}`,
    );
    for (const [k, v] of theirs) assert.equal(ours.get(k), v, k);

    // The cases really differ, and the dropped target was never requested.
    assert.equal(requests.b, 0, 'the target dropped by relabel_configs is never requested');
    const relabelled = [...ours.keys()].find((k) => k.startsWith('http_requests_total{') && k.includes('failed="yes"'));
    assert.ok(relabelled?.includes('swapped="a"') && relabelled.includes('swapped_braced="b_a"'), `Go's $2_$1: ${relabelled}`);
    assert.ok(relabelled?.includes('__method__="POST"'), 'a __ label made by metric_relabel_configs is kept');
    assert.ok(
      [...ours.keys()].some((k) => k.startsWith('temp{') && k.includes('job="exposed_job"') && !k.includes('instance=')),
      'honor_labels: true',
    );
    assert.ok(
      [...ours.keys()].some((k) => k.startsWith('temp{') && k.includes('exported_exported_job="exposed_job"')),
      'honor_labels: false',
    );
    const limited = s.targets.find((x) => x.error?.includes('sample_limit'));
    assert.match(limited?.error ?? '', /sample_limit exceeded: 8 samples after metric_relabel_configs > sample_limit 7/);
    assert.equal(s.targets.filter((x) => x.up).length, 3);
    assert.deepEqual(
      s.scrapeConfig?.jobs.map((j) => [j.job, j.targets, j.dropped]),
      [
        ['relabel', 1, 1],
        ['honor', 1, 0],
        ['limited', 1, 0],
        ['limited_ok', 1, 0],
      ],
    );
    await fn.stop();
  });
});
