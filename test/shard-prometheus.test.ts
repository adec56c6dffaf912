/**
 * Reference: prom2oci's SHARD=i/N against the real Prometheus server (Debian `prometheus`). The
 * same targets are split by a Prometheus configuration that ends each job's relabel_configs with
 * `hashmod` (modulus N) on `__address__` + `keep` of i, one copy of each job per shard; Prometheus'
 * targets are read through its HTTP API (/api/v1/targets). For every i, the real function process
 * run with the plain configuration and SHARD=i/N has exactly the targets of Prometheus' shard i:
 * the same label sets (job, instance, static and relabelled labels) and the same URLs, and it
 * requests no target of another shard. The jobs cover plain host:port targets, an address made by
 * relabelling, and addresses without a port (hashed before the default port is added).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCountingExporters, startPrometheusServer, type CountingExporters, type RunningExporter } from './helpers/exporters';
import { summaryOf } from './helpers/reliability';
import { requireBinary } from './helpers/requires';
import { startStack, type Stack } from './helpers/stack';

const PROMETHEUS = '/usr/bin/prometheus';
const SHARDS = 3;
const EXPORTERS = 18;
/** Addresses without a port (nothing listens there: down, but targets all the same). */
const PORTLESS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];

/** The jobs, each given its `extra` relabel rules last (Prometheus' shard split, or none). */
function config(addresses: string[], extra: (job: string) => string): string {
  const ports = addresses.map((a) => a.split(':')[1]);
  return `global:
  scrape_interval: 1m
  scrape_timeout: 5s
scrape_configs:
  - job_name: plain
    static_configs:
      - targets: [${[...addresses, ...PORTLESS].map((a) => `'${a}'`).join(', ')}]
        labels: { team: core }
    relabel_configs:
${extra('plain')}
  - job_name: relabelled
    static_configs:
${ports.map((p, i) => `      - targets: ['svc-${i}']\n        labels: { port: '${p}' }`).join('\n')}
    relabel_configs:
      - source_labels: [port]
        regex: '(.+)'
        replacement: '127.0.0.1:$1'
        target_label: __address__
      - regex: port
        action: labeldrop
${extra('relabelled')}
`;
}

/** Prometheus' split for shard `i`: the job renamed per shard, then hashmod + keep, last. */
const prometheusSplit = (i: number) => () =>
  `      - source_labels: [__address__]
        modulus: ${SHARDS}
        target_label: __tmp_shard
        action: hashmod
      - source_labels: [__tmp_shard]
        regex: '${i}'
        action: keep`;

/** A target as "job url {labels}" with sorted labels and a normalised URL. */
function targetKey(job: string, url: string, labels: Record<string, string>): string {
  const inner = Object.keys(labels)
    .filter((k) => k !== 'job')
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
  return `${job} ${new URL(url).href} {${inner}}`;
}

describe("reference: SHARD=i/N splits the targets exactly as Prometheus' hashmod + keep", () => {
  let stack: Stack;
  let prometheus: RunningExporter | undefined;
  let exporters: CountingExporters;

  before(async () => {
    stack = await startStack();
    exporters = await startCountingExporters(EXPORTERS, () => '# TYPE shard_probe gauge\nshard_probe 1\n');
  });
  after(async () => {
    await prometheus?.stop();
    await stack.close();
    await exporters.close();
  });

  test(`every shard of ${SHARDS}: the same targets (labels and URLs) as Prometheus' shard, and no other requested`, { timeout: 240_000 }, async (t) => {
    if (!requireBinary(t, PROMETHEUS, 'prometheus')) return;
    const { addresses, requests } = exporters;
    const plain = config(addresses, () => '');
    // One Prometheus, one copy of each job per shard (job_<i>), each copy keeping its shard.
    const perShard = Array.from({ length: SHARDS }, (_, i) =>
      config(addresses, prometheusSplit(i))
        .replace(/^global:[\s\S]*?scrape_configs:\n/, '')
        .replace(/job_name: (\w+)/g, `job_name: $1_${i}`),
    );
    const text = `global:\n  scrape_interval: 1m\n  scrape_timeout: 5s\nscrape_configs:\n${perShard.join('')}`;
    prometheus = await startPrometheusServer({ configText: text });
    const api = prometheus.url.replace(/\/metrics$/, '');
    const candidates = addresses.length + PORTLESS.length + addresses.length;
    type Active = { labels: Record<string, string>; scrapeUrl: string; scrapePool: string };
    let active: Active[];
    // Prometheus' targets (an event, polled): every candidate active in exactly one shard's copy.
    const until = Date.now() + 120_000;
    for (;;) {
      const res = await fetch(`${api}/api/v1/targets?state=active`);
      const json = (await res.json()) as { status: string; data: { activeTargets: Active[] } };
      active = json.data.activeTargets;
      if (active.length === candidates) break;
      assert.ok(Date.now() < until, `Prometheus lists every target (${active.length} of ${candidates})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await prometheus.stop();
    prometheus = undefined;

    const covered: string[] = [];
    for (let i = 0; i < SHARDS; i++) {
      const theirs = active
        .filter((a) => a.scrapePool.endsWith(`_${i}`))
        .map((a) => {
          const job = a.labels.job.replace(/_\d+$/, '');
          return targetKey(job, a.scrapeUrl, { ...a.labels, job });
        })
        .sort();
      requests.clear();
      const fn = await stack.startFn({ SCRAPE_CONFIG: plain, SHARD: `${i}/${SHARDS}`, DRY_RUN: 'true', SCRAPE_TIMEOUT_MS: '5000' });
      const s = summaryOf(await fn.invoke({ deadline: new Date(Date.now() + 120_000) }));
      await fn.stop();
      // A target's labels are those of its `up` (the target's labels, and the function's `shard`); the targets and the `up`s are in the same order.
      const ups = (s.metricData ?? []).filter((m) => m.name === 'up');
      assert.equal(ups.length, s.targets.length);
      const labelsOf = (dims: Record<string, string>) => {
        const { shard, ...labels } = dims;
        assert.equal(shard, `${i}/${SHARDS}`, "every `up` names the function's shard");
        return labels;
      };
      const ours = s.targets.map((target, k) => targetKey(ups[k].dimensions.job, target.url, labelsOf(ups[k].dimensions))).sort();
      assert.ok(theirs.length > 0, `Prometheus' shard ${i} has targets`);
      assert.deepEqual(ours, theirs, `shard ${i}/${SHARDS}: the same targets as Prometheus' hashmod + keep`);
      assert.deepEqual(s.shard, { shard: `${i}/${SHARDS}`, targets: theirs.length, otherShards: candidates - theirs.length });
      // Never requested: no exporter outside the shard saw a request (Prometheus is stopped: these are prom2oci's).
      const mineAddresses = new Set(s.targets.map((x) => new URL(x.url).host));
      for (const address of requests.keys()) assert.ok(mineAddresses.has(address), `shard ${i} requested ${address}, a target of another shard`);
      assert.ok(requests.size > 0, `shard ${i} scraped its own targets`);
      covered.push(...ours);
    }
    assert.equal(covered.length, candidates, 'the shards together cover every target once');
    assert.equal(new Set(covered).size, candidates);
  });
});
