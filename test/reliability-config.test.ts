/**
 * Reliability, bad configuration and bad invocations, through the real function process: every
 * setting with a wrong value fails the invocation at once with a message naming the key (no stack
 * trace, nothing scraped, nothing posted, the container stays up); bodies that are not JSON or give
 * a known key a wrong type are refused; unknown keys (a Notifications alarm message) run normally.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SETTING_SPECS } from '../src/config/settings';
import { stackAndTargetForSuite, assertAccounted, summaryOf, waitForLine } from './helpers/reliability';

/** key -> wrong values (each must be refused naming the key). Every SETTING_SPECS key is here. */
const BAD: Record<string, string[]> = {
  METRICS_ENDPOINT: ['ftp://10.0.0.5/metrics', 'not a url', ' , ', 'http://10.0.0.5:9100/metrics, http://10.0.0.5:9100/metrics'],
  COMPARTMENT_OCID: ['my-compartment'],
  METRICS_NAMESPACE: ['my.namespace', 'oci_metrics', '9lives'],
  RESOURCE_GROUP: ['1group'],
  EXTRA_DIMENSIONS: ['env', 'instance=a', 'a=1,a=2', 'has space=x'],
  METRICS_INCLUDE: ['(unclosed', '(a)\\1'],
  METRICS_EXCLUDE: ['[a-'],
  HISTOGRAM_BUCKETS: ['maybe'],
  SCRAPE_TIMEOUT_MS: ['10s', '5'],
  SCRAPE_MAX_BYTES: ['-1', '1e9', '536870913'],
  SCRAPE_SAMPLE_LIMIT: ['0', 'many'],
  SPOOL_MAX_SERIES: ['-1', 'lots'],
  SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS: ['sometimes'],
  SCRAPE_BEARER_TOKEN_SECRET_OCID: ['my-secret'],
  SECRET_CACHE_TTL_SECONDS: ['forever'],
  OCI_MONITORING_ENDPOINT: ['telemetry-ingestion', 'ftp://x'],
  OCI_SECRETS_ENDPOINT: ['vault'],
  POST_CALLS_PER_SECOND: ['0', 'fast', '1001', 'auto-ish'],
  POST_CONCURRENCY: ['1000'],
  POST_TIMEOUT_MS: ['abc'],
  FUNCTION_TIMEOUT_SECONDS: ['1.5'],
  FUNCTION_DYNAMIC_GROUP: ['two words', "'domain'/name"],
  SHARD: ['3/3', '-1/2', '1/0', 'a/b'],
  SCRAPE_CONFIG: ['scrape_configs: [', 'scrape_configs:\n  - job_name: a\n    static_configs: x'],
  SCRAPE_CONFIG_OBJECT: ['prometheus.yml', 'prom2oci-config/', 'my bucket/prometheus.yml'],
  DRY_RUN: ['perhaps'],
  FORECAST_PRICE_PER_MILLION_DATAPOINTS: ['cheap', '-1'],
  FORECAST_FREE_DATAPOINTS_PER_MONTH: ['-5', 'lots'],
  DERIVED_SERIES: ['rates', 'none,rate'],
  HISTOGRAM_QUANTILES: ['99', '0.5,0.50', '-0.1'],
  STATE_BUCKET: ['my bucket'],
  PACING_BOARD: ['sometimes'],
  OBJECT_STORAGE_NAMESPACE: ['My-Namespace'],
  OCI_OBJECT_STORAGE_ENDPOINT: ['objectstorage'],
  STATE_MAX_AGE_SECONDS: ['0', '5m'],
  SCRAPE_CONCURRENCY: ['0', 'many'],
  DISCOVERY_COMPARTMENT_OCID: ['prod'],
  DISCOVERY_INCLUDE_SUBCOMPARTMENTS: ['all'],
  DISCOVERY_TAG: ['app=', 'a.b.c=x', 'has space=x'],
  DISCOVERY_SCHEME: ['ftp'],
  DISCOVERY_PORT: ['0', '70000'],
  DISCOVERY_PATH: ['metrics'],
  DISCOVERY_PORT_TAG: ['a.b.c'],
  DISCOVERY_PATH_TAG: ['with space'],
  DISCOVERY_VNIC: ['v'.repeat(300)],
  DISCOVERY_DIMENSIONS: ['hostname', 'tag:'],
  DISCOVERY_TTL_SECONDS: ['1m'],
  DISCOVERY_TIMEOUT_MS: ['50'],
  OCI_COMPUTE_ENDPOINT: ['iaas'],
  OCI_IDENTITY_ENDPOINT: ['identity'],
};

describe('reliability: bad configuration and bad invocations', () => {
  const fx = stackAndTargetForSuite();

  test('every setting of SETTING_SPECS has wrong values in this suite', () => {
    assert.deepEqual(Object.keys(BAD).sort(), SETTING_SPECS.map((s) => s.key).sort());
  });

  test('every setting with a wrong value fails fast naming the key: nothing scraped or posted, no stack trace', async () => {
    fx.stack.emulator.reset();
    const cases = Object.entries(BAD).flatMap(([key, values]) => values.map((value) => ({ key, value })));
    cases.push({ key: 'METRICS_ENDPOINT', value: '' }); // missing entirely
    // A few processes at a time keeps this quick on two cores.
    for (let i = 0; i < cases.length; i += 4) {
      await Promise.all(
        cases.slice(i, i + 4).map(async ({ key, value }) => {
          const env: Record<string, string> = { METRICS_ENDPOINT: fx.target.url('/ok'), SCRAPE_BEARER_TOKEN_SECRET_OCID: '', [key]: value };
          const fn = await fx.stack.startFn(env);
          const res = await fn.invoke();
          const what = `${key}=${JSON.stringify(value)}`;
          assert.equal(res.status, 502, `${what}: ${res.body}`);
          const detail = (res.json as { detail: string }).detail;
          assert.match(detail, new RegExp(`^prom2oci: configuration error: ${key}: `), `${what} -> ${detail}`);
          const out = [...fn.stdout, ...fn.stderr].join('\n');
          assert.doesNotMatch(out + res.body, /\n\s+at /, `${what}: no stack trace`);
          await waitForLine(fn, (l) => l.includes('"level":"error"') && l.includes(`"key":"${key}"`)); // logged with its key
          assert.equal(fn.alive, true);
          await fn.stop();
        }),
      );
    }
    assert.equal(fx.stack.emulator.counters.calls, 0, 'nothing reached OCI');
    assert.equal(fx.target.hits.get('/ok') ?? 0, 0, 'no target was scraped');
  });

  test('a body that is not JSON or gives dryRun a wrong type is refused; nothing is scraped or posted', async () => {
    fx.stack.emulator.reset();
    const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok') });
    const bad: { body: string | object; contentType?: string; cause: RegExp }[] = [
      { body: 'not json', contentType: 'text/plain', cause: /not JSON/ },
      { body: '{"dryRun": tru', contentType: 'application/json', cause: /not JSON/ },
      { body: { dryRun: 'yes' }, cause: /"dryRun" must be true or false .*got "yes"/ },
      { body: { dryRun: 1 }, cause: /"dryRun" must be true or false/ },
      { body: '[true]', contentType: 'application/json', cause: /must be a JSON object/ },
      { body: '"dryRun"', contentType: 'application/json', cause: /must be a JSON object/ },
      { body: 'x'.repeat(100_000), contentType: 'text/plain', cause: /not JSON.*\.\.\."$/ },
    ];
    for (const b of bad) {
      const res = await fn.invoke({ body: b.body, contentType: b.contentType });
      assert.equal(res.status, 502, JSON.stringify(b.body).slice(0, 60));
      const detail = (res.json as { detail: string }).detail;
      assert.match(detail, /^prom2oci: bad invocation: /);
      assert.match(detail, b.cause);
      assert.ok(detail.length < 400, 'a huge body is not echoed back');
    }
    assert.equal(fx.stack.emulator.counters.calls, 0);
    assert.equal(fx.target.hits.get('/ok') ?? 0, 0);
    assert.equal(fn.alive, true);
  });

  test('unknown keys are ignored: a Notifications alarm message runs a normal invocation', async () => {
    fx.stack.emulator.reset();
    const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=7') });
    const alarm = {
      dedupeKey: '5a8b0e2c-1f2d-4c3b-9a7e-3f6d2a1b0c9d',
      title: 'prom2oci-schedule',
      body: 'tick',
      type: 'OK_TO_FIRING',
      severity: 'INFO',
      timestampEpochMillis: Date.now(),
      timestamp: new Date().toISOString(),
      alarmMetaData: [{ id: 'ocid1.alarm.oc1..x', status: 'FIRING', severity: 'INFO', query: 'x[1m].count() >= 0', dimensions: [] }],
      version: 1.5,
    };
    const s = summaryOf(await fn.invoke({ body: alarm }));
    assertAccounted(s, 'alarm message');
    assert.equal(s.dryRun, false);
    assert.equal(s.posted, 7);
    assert.equal(fx.stack.emulator.accepted.filter((m) => m.name === 'faulty_ok_total').length, 7);
    // An unknown key next to a valid dryRun still honours dryRun.
    const dry = summaryOf(await fn.invoke({ body: { dryRun: true, somethingElse: [1, 2] } }));
    assert.equal(dry.dryRun, true);
    assertAccounted(dry, 'dry run with unknown keys');
  });
});
