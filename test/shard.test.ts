/**
 * Shards (SHARD=i/N): the setting and its errors, the split (Prometheus' hashmod of the address
 * after target relabelling, mod N) for settings targets, a configuration's jobs and discovered
 * instances, and each shard's own state object. Then through the real function process: a shard
 * requests only its own targets, says which shard it is and how many targets it left to the others,
 * and keeps its state, spool and trigger keys in an object of its own, and its self-metrics carry a
 * `shard` dimension (its stopped-posting alarm selects it). The comparison with the real
 * Prometheus server's `hashmod` + `keep` split is test/shard-prometheus.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ConfigError, parseSettings } from '../src/config/settings';
import { parseScrapeConfig } from '../src/config/scrapeConfig';
import { jobTargets } from '../src/discovery/jobTargets';
import { inShard, type Shard } from '../src/discovery/shard';
import { relabel, relabelRule } from '../src/relabel/relabel';
import { evaluateMql, parseMql } from '../src/local/emulator/mql';
import { stateObjectName } from '../src/state/keys';
import { selfDimensions } from '../src/transform/selfMetrics';
import type { InvocationSummary } from '../src/handler/summary';
import type { StateDocument } from '../src/types/state';
import { assertAccounted, summaryOf } from './helpers/reliability';
import { startStack, type Stack } from './helpers/stack';
import { startCountingExporters, type CountingExporters } from './helpers/exporters';

const COMPARTMENT = 'ocid1.compartment.oc1..aaaaaaaaprom2ocitestcompartment';

/** The shards of N. */
const shardsOf = (count: number): Shard[] => Array.from({ length: count }, (_, index) => ({ index, count }));

describe('SHARD: the setting', () => {
  const base = { METRICS_ENDPOINT: 'http://127.0.0.1:9100/metrics' };

  test('i/N is read; unset is every target', () => {
    assert.deepEqual(parseSettings({ ...base, SHARD: '2/4' }).shard, { index: 2, count: 4 });
    assert.deepEqual(parseSettings({ ...base, SHARD: ' 0/1 ' }).shard, { index: 0, count: 1 });
    assert.equal(parseSettings(base).shard, undefined);
  });

  test('a clear error naming SHARD for every bad form', () => {
    const cases: [string, RegExp][] = [
      ['3/3', /^SHARD: i must be from 0 to 2 \(the shards of 3 are 0\/3 \.\.\. 2\/3\), got 3\/3$/],
      ['-1/2', /^SHARD: expected i\/N, shard i of N shards \(e\.g\. 0\/4 \.\.\. 3\/4\), got "-1\/2"$/],
      ['1/0', /^SHARD: N \(the number of shards\) must be from 1 to 1000, got 0$/],
      ['a/b', /^SHARD: expected i\/N.*got "a\/b"$/],
      ['1', /^SHARD: expected i\/N.*got "1"$/],
      ['1/2/3', /^SHARD: expected i\/N/],
      ['0/1001', /^SHARD: N \(the number of shards\) must be from 1 to 1000, got 1001$/],
      ['1.5/4', /^SHARD: expected i\/N/],
    ];
    for (const [value, re] of cases)
      assert.throws(
        () => parseSettings({ ...base, SHARD: value }),
        (e: unknown) => e instanceof ConfigError && e.key === 'SHARD' && re.test(e.message),
        value,
      );
  });
});

describe("the self-metrics' shard dimension", () => {
  test("it wins a clash with a target label `shard`; without a shard that label stays; never past 20 dimensions with state_ok's cause", () => {
    assert.deepEqual(selfDimensions('h:1', {}, { shard: 'blue' }, '1/4'), { instance: 'h:1', shard: '1/4' });
    assert.deepEqual(selfDimensions('h:1', {}, { shard: 'blue' }), { shard: 'blue', instance: 'h:1' });
    const own = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`d${i}`, 'v']));
    // instance + 17 + shard + cause = 20: room; with 18 the shard is left out (the series stays postable).
    assert.equal(selfDimensions('h:1', {}, own(17), '1/4').shard, '1/4');
    assert.equal(selfDimensions('h:1', {}, own(18), '1/4').shard, undefined);
  });
});

describe('the split', () => {
  const addresses = Array.from({ length: 300 }, (_, i) => `10.${i % 7}.${Math.floor(i / 7)}.${(i * 37) % 251}:${9100 + (i % 3)}`);

  test("a target is in shard i exactly when a hashmod rule on __address__ (Prometheus' action) gives i; every target in exactly one shard", () => {
    for (const count of [1, 2, 3, 4, 7]) {
      const sizes = new Array<number>(count).fill(0);
      for (const address of addresses) {
        const hashRule = relabelRule({ source_labels: ['__address__'], modulus: count, target_label: '__tmp_hash', action: 'hashmod' });
        const byRule = Number(relabel({ __address__: address }, [hashRule])!.__tmp_hash);
        const mine = shardsOf(count).filter((s) => inShard(address, s));
        assert.deepEqual(
          mine.map((s) => s.index),
          [byRule],
          `${address} of ${count}`,
        );
        sizes[byRule]++;
      }
      // MD5 spreads 300 addresses over every shard (not one shard taking all).
      if (count > 1) assert.ok(Math.min(...sizes) > 300 / count / 2, `${count}: ${sizes.join()}`);
    }
    assert.ok(inShard('anything', undefined), 'no shard: every target');
  });

  test("a configuration's jobs: the address after target relabelling decides, before the default port; target_limit counts the shard's targets", () => {
    const cfg = parseScrapeConfig(
      `scrape_configs:
  - job_name: static
    target_limit: 7
    static_configs:
      - targets: [${addresses
        .slice(0, 12)
        .map((a) => `'${a}'`)
        .join(', ')}]
  - job_name: relabelled
    static_configs:
${['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((n) => `      - targets: ['svc-${n}']\n        labels: { host: 'host-${n}.example' }`).join('\n')}
    relabel_configs:
      - source_labels: [host]
        target_label: __address__
  - job_name: discovered
    static_configs:
      - labels: { __oci_discovery__: 'true' }
`,
      'test',
    );
    const discovered = Array.from({ length: 10 }, (_, i) => ({
      url: new URL(`http://10.9.0.${i + 1}:9100/metrics`),
      resourceId: `ocid1.instance.oc1..d${i}`,
      metaLabels: {},
    }));
    const all = jobTargets(cfg.jobs, discovered);
    assert.equal(all.targets.length, 30);
    assert.equal(all.targets.filter((t) => t.refused).length, 12, 'unsharded, the static job is over its target_limit of 7');
    const seen = new Map<string, number>();
    for (const shard of shardsOf(3)) {
      const mine = jobTargets(cfg.jobs, discovered, shard);
      for (const t of mine.targets) {
        const key = `${t.job.name} ${t.url.href}`;
        assert.equal(seen.has(key), false, `${key} in two shards`);
        seen.set(key, shard.index);
        // The relabelled address (host-x.example, no port yet) is what is hashed, not svc-x nor host-x.example:80.
        const address = t.job.name === 'relabelled' ? t.url.hostname : t.url.host;
        assert.ok(inShard(address, shard), `${key} hashed by ${address}`);
      }
      // target_limit counts the shard's own targets (as after a hashmod + keep in Prometheus): no shard here has more than 7.
      const ownStatic = mine.targets.filter((t) => t.job.name === 'static');
      assert.ok(
        ownStatic.length > 0 && ownStatic.length <= 7 && ownStatic.every((t) => !t.refused),
        `shard ${shard.index}: ${ownStatic.length} static targets`,
      );
      for (const r of mine.reports) {
        const total = all.reports.find((x) => x.job === r.job)!;
        assert.equal(r.targets + (r.otherShards ?? 0), total.targets, `${r.job}: this shard's + the others' = every target`);
        assert.equal(r.dropped, total.dropped, 'the shard split is not counted as dropped');
      }
    }
    assert.deepEqual([...seen.keys()].sort(), all.targets.map((t) => `${t.job.name} ${t.url.href}`).sort(), 'the shards together are every target');
  });
});

describe("each shard's own state object", () => {
  const endpoints = 'http://127.0.0.1:9100/metrics,http://10.0.0.6:3000/metrics';
  const cfg = "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['127.0.0.1:9100', '10.0.0.7:9100']\n";

  test('SHARD unset (and 0/1, every target) keeps the name earlier versions gave; each shard of N has its own', () => {
    // The names ef711b3 (before SHARD) gave these settings.
    const before = {
      endpoints: 'prom2oci/state-be8408faa0ee97642c1b4399bfb0c364.json.gz',
      config: 'prom2oci/state-fd6809c91f3de289c237644fefd7d67f.json.gz',
    };
    const settings = (extra: Record<string, string>) => parseSettings({ COMPARTMENT_OCID: COMPARTMENT, ...extra });
    assert.equal(stateObjectName(settings({ METRICS_ENDPOINT: endpoints })), before.endpoints);
    assert.equal(stateObjectName(settings({ SCRAPE_CONFIG: cfg, COMPARTMENT_OCID: '' })), before.config);
    assert.equal(stateObjectName(settings({ METRICS_ENDPOINT: endpoints, SHARD: '0/1' })), before.endpoints);
    const names = new Set<string>([before.endpoints]);
    for (const n of [2, 4]) for (let i = 0; i < n; i++) names.add(stateObjectName(settings({ METRICS_ENDPOINT: endpoints, SHARD: `${i}/${n}` })));
    assert.equal(names.size, 1 + 2 + 4, 'no two shards (of any N) share an object, nor with the unsharded function');
  });
});

describe('shards through the real function process', () => {
  const BUCKET = 'shard-state';
  const FLEET = 'ocid1.compartment.oc1..aaaaaaaaprom2ocishardfleet';
  const ALARM = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'notifications', 'alarm-repeat.json'), 'utf8')) as Record<string, unknown>;
  let stack: Stack;
  let exporters: CountingExporters;
  before(async () => {
    stack = await startStack();
    stack.emulator.objectStorage.createBucket(BUCKET);
    // The ports are the system's: retry until the first 12 addresses give every shard of 3 and
    // shard 2/4 a target (one draw misses one with probability ~5%, which failed CI once).
    const covered = (addresses: string[]) => {
      const first = addresses.slice(0, 12);
      return shardsOf(3).every((s) => first.some((a) => inShard(a, s))) && first.some((a) => inShard(a, { index: 2, count: 4 }));
    };
    for (let attempt = 0; ; attempt++) {
      exporters = await startCountingExporters(16, (i) => `# TYPE exporter_index gauge\nexporter_index ${i}\n`);
      if (covered(exporters.addresses)) break;
      await exporters.close();
      assert.ok(attempt < 100, 'no draw of ports covered every shard');
    }
  });
  after(async () => {
    await stack.close();
    await exporters.close();
  });

  // Each shard's state object (the shards' pacing board, in the same bucket, is tested in test/board-function.test.ts).
  const stateEnv = () => ({
    STATE_BUCKET: BUCKET,
    OBJECT_STORAGE_NAMESPACE: stack.emulator.objectStorage.namespace,
    POST_CALLS_PER_SECOND: '1000',
    PACING_BOARD: 'false',
  });
  const deadline = () => new Date(Date.now() + 120_000);

  test('METRICS_ENDPOINT split over 3 shards: each requests only its targets, names its shard, keeps its own state and trigger keys', async () => {
    const static_ = exporters.addresses.slice(0, 12);
    const endpoints = static_.map((a) => `http://${a}/metrics`).join(',');
    const byShard = shardsOf(3).map((s) => static_.filter((a) => inShard(a, s)));
    assert.ok(
      byShard.every((a) => a.length > 0),
      'every shard has targets here',
    );
    const objectsBefore = () => new Set(stack.emulator.objectStorage.buckets.get(BUCKET)!.keys());
    const message = JSON.stringify(ALARM);
    for (const shard of shardsOf(3)) {
      exporters.requests.clear();
      const fn = await stack.startFn({ METRICS_ENDPOINT: endpoints, SHARD: `${shard.index}/3`, ...stateEnv() });
      const known = objectsBefore();
      const res = await fn.invoke({ body: message, contentType: 'application/json', deadline: deadline() });
      const s = summaryOf(res);
      assertAccounted(s, `shard ${shard.index}`);
      const mine = byShard[shard.index];
      assert.deepEqual(s.shard, { shard: `${shard.index}/3`, targets: mine.length, otherShards: 12 - mine.length });
      assert.deepEqual(s.targets.map((t) => new URL(t.url).host).sort(), [...mine].sort());
      assert.deepEqual([...exporters.requests.keys()].sort(), [...mine].sort(), 'the targets of the other shards are never requested');
      assert.equal(s.posted, mine.length);
      assert.equal(s.pacing.startRate, 333.33, 'a shard starts at its share of the tenancy (here the ceiling, 1000 / 3): the shards are invoked together');
      // Its own state object: a new one, holding this message's key (the other shards ran the same message).
      const added = [...objectsBefore()].filter((k) => !known.has(k));
      assert.equal(added.length, 1, `shard ${shard.index} wrote an object of its own (${[...objectsBefore()].join()})`);
      const doc = JSON.parse(gunzipSync(stack.emulator.objectStorage.buckets.get(BUCKET)!.get(added[0])!.bytes).toString('utf8')) as StateDocument;
      assert.equal(doc.trigger?.length, 1);
      // The same message again, to this shard: run already.
      const again = await fn.invoke({ body: message, contentType: 'application/json', deadline: deadline() });
      assert.equal(again.status, 200);
      assert.ok((again.json as { duplicate?: string }).duplicate, `shard ${shard.index}: the repeat is answered without a run`);
      await fn.stop();
    }
    assert.equal(stack.emulator.objectStorage.buckets.get(BUCKET)!.size, 3);
    // Unset: every target, and the object earlier versions used (none of the shards').
    const fn = await stack.startFn({ METRICS_ENDPOINT: endpoints, ...stateEnv() });
    const s = summaryOf(await fn.invoke({ body: message, contentType: 'application/json', deadline: deadline() }));
    assert.equal(s.shard, undefined);
    assert.equal(s.targets.length, 12);
    assert.equal(s.posted, 12, 'the message is new to the unsharded function: it runs');
    assert.equal(s.pacing.startRate, undefined, 'unsharded, with no settled rate: at its ceiling');
    assert.equal(stack.emulator.objectStorage.buckets.get(BUCKET)!.size, 4);
    await fn.stop();
  });

  test(
    'the self-metrics carry shard = i/N (N > 1): the per-shard alarm selects a live shard and finds a dead one missing; ' +
      'SHARD unset or 0/1: the dimensions of before',
    async () => {
      const static_ = exporters.addresses.slice(0, 12);
      const endpoints = static_.map((a) => `http://${a}/metrics`).join(',');
      const mine = static_.filter((a) => inShard(a, { index: 2, count: 4 }));
      assert.ok(mine.length > 0, 'shard 2/4 has targets here');
      /** The self-metrics one invocation posted (read from the ingestion twin), with the summary. */
      const postedBy = async (env: Record<string, string>) => {
        const from = stack.emulator.accepted.length;
        const fn = await stack.startFn({ METRICS_ENDPOINT: endpoints, POST_CALLS_PER_SECOND: '1000', ...env });
        const s = summaryOf(await fn.invoke({ deadline: deadline() }));
        await fn.stop();
        assertAccounted(s, JSON.stringify(env));
        const self = stack.emulator.accepted.slice(from).filter((m) => ['up', 'scrape_duration_seconds', 'scrape_series_posted'].includes(m.name));
        return { s, self, ups: self.filter((m) => m.name === 'up') };
      };
      const sharded = await postedBy({ SHARD: '2/4' });
      assert.equal(sharded.s.posted, mine.length);
      assert.deepEqual(sharded.ups.map((m) => m.dimensions.instance).sort(), [...mine].sort());
      for (const m of sharded.self) assert.deepEqual(Object.keys(m.dimensions).sort(), ['instance', 'shard'], m.name);
      for (const m of sharded.self) assert.equal(m.dimensions.shard, '2/4', m.name);
      // The data keeps its own dimensions: the shard is the function's, not the target's.
      const data = stack.emulator.accepted.filter((m) => m.name === 'exporter_index');
      assert.ok(data.length > 0 && data.every((m) => !('shard' in m.dimensions)));

      // The per-shard alarm's selection (terraform/alarms.tf, function_stopped_posting_per_shard), read by the MQL of the twin.
      const series = stack.emulator.store.query({ name: 'up' });
      const selected = (shard: string) => {
        const t = Math.max(...sharded.ups.map((m) => m.datapoints[0].timestamp));
        return evaluateMql(parseMql(`up[1m]{shard = "${shard}"}.grouping().count()`), series, { from: t - 60_000, to: t + 60_000 });
      };
      assert.equal(selected('2/4')[0]?.points.at(-1)?.value, mine.length, 'the live shard: its targets');
      assert.deepEqual(selected('1/4'), [], 'a shard that posted nothing has no data: its absent() alarm fires, whatever the others post');

      for (const env of [{}, { SHARD: '0/1' }] as Record<string, string>[]) {
        const one = await postedBy(env);
        assert.equal(one.ups.length, 12, JSON.stringify(env));
        for (const m of one.self) assert.deepEqual(Object.keys(m.dimensions), ['instance'], `${JSON.stringify(env)} ${m.name}`);
      }
    },
  );

  test("discovered instances (settings, and a job's __oci_discovery__ group) are split too; a shard without targets says so, not a failure", async () => {
    const fleet = stack.emulator.fleet;
    fleet.instances.clear();
    const ports = exporters.addresses.map((a) => a.split(':')[1]);
    for (const [i, port] of ports.entries())
      fleet.addInstance({ compartmentId: FLEET, displayName: `vm-${i}`, privateIp: '127.0.0.1', freeformTags: { prom2oci: 'scrape', prometheus_port: port } });
    const discovery = { DISCOVERY_COMPARTMENT_OCID: FLEET, DISCOVERY_TAG: 'prom2oci=scrape', OCI_COMPUTE_ENDPOINT: stack.emulator.url, DRY_RUN: 'true' };
    const config = `scrape_configs:
  - job_name: fleet
    static_configs:
      - labels: { __oci_discovery__: 'true' }
`;
    for (const extra of [{}, { SCRAPE_CONFIG: config }] as Record<string, string>[]) {
      const union: string[] = [];
      for (const shard of shardsOf(2)) {
        exporters.requests.clear();
        const fn = await stack.startFn({ ...discovery, ...extra, SHARD: `${shard.index}/2` });
        const s = summaryOf(await fn.invoke({ deadline: deadline() }));
        const mine = exporters.addresses.filter((a) => inShard(a, shard));
        assert.deepEqual(s.targets.map((t) => new URL(t.url).host).sort(), [...mine].sort(), JSON.stringify(extra));
        assert.deepEqual([...exporters.requests.keys()].sort(), [...mine].sort());
        assert.deepEqual(s.shard, { shard: `${shard.index}/2`, targets: mine.length, otherShards: 16 - mine.length });
        if ('SCRAPE_CONFIG' in extra)
          assert.deepEqual(s.scrapeConfig?.jobs, [{ job: 'fleet', targets: mine.length, dropped: 0, otherShards: 16 - mine.length }]);
        union.push(...mine);
        await fn.stop();
      }
      assert.deepEqual(union.sort(), [...exporters.addresses].sort());
    }
    // One target, many shards: the empty shards answer ok and say why they scrape nothing.
    const only = exporters.addresses[0];
    const empty = shardsOf(8).find((s) => !inShard(only, s))!;
    const fn = await stack.startFn({ METRICS_ENDPOINT: `http://${only}/metrics`, SHARD: `${empty.index}/8`, DRY_RUN: 'true' });
    const s: InvocationSummary = summaryOf(await fn.invoke({ deadline: deadline() }));
    assert.equal(s.ok, true);
    assert.equal(s.targets.length, 0);
    assert.match(s.shard?.note ?? '', new RegExp(`^no target of shard ${empty.index}/8: all 1 targets belong to the other shards`));
    await fn.stop();
  });
});
