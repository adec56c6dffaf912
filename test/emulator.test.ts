/**
 * The OCI ingestion/secrets emulator, driven by the real oci-monitoring / oci-secrets SDKs with
 * locally generated resource-principal and config-file credentials (loopback only, no mocks).
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as common from 'oci-common';
import { MonitoringClient, models } from 'oci-monitoring';
import { SecretsClient } from 'oci-secrets';
import {
  type ConfigFileCredentials,
  generateRsaPemPair,
  makeConfigFile,
  makeResourcePrincipal,
  type ResourcePrincipalCredentials,
} from '../src/local/emulator/credentials';
import { waitUntil } from './helpers/wait';
import { OCI_LIMITS } from '../src/transform/limits';
import { type IngestionEmulator, startIngestionEmulator } from '../src/local/emulator/server';
import { MetricStore } from '../src/local/emulator/store';

/** OCI's rules, from the function's one module (the emulator under test keeps its own copy). */
const { maxDimensions: MAX_DIMS, maxDimensionKeyLength: KEY, maxDimensionValueLength: VALUE, maxMetadataLength: META } = OCI_LIMITS;

const COMPARTMENT = 'ocid1.compartment.oc1..aaaaaaaatestcompartment';
const OTHER_COMPARTMENT = 'ocid1.compartment.oc1..aaaaaaaaothercompartment';
const RP_ENV_KEYS = ['OCI_RESOURCE_PRINCIPAL_VERSION', 'OCI_RESOURCE_PRINCIPAL_RPST', 'OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM', 'OCI_RESOURCE_PRINCIPAL_REGION'];

let dir: string;
let rp: ResourcePrincipalCredentials;
let cfg: ConfigFileCredentials;
let emu: IngestionEmulator;
const logLines: string[] = [];

/** Build an RP auth provider from a credential set (the builder reads process.env). */
function rpProvider(creds: ResourcePrincipalCredentials): common.ResourcePrincipalAuthenticationDetailsProvider {
  const saved = RP_ENV_KEYS.map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, creds.env);
  try {
    return common.ResourcePrincipalAuthenticationDetailsProvider.builder();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A MonitoringClient pointed at the emulator, circuit breaker off (errors are expected here). */
function monitoringClient(provider: common.AuthenticationDetailsProvider, url = emu.url): MonitoringClient {
  const client = new MonitoringClient(
    { authenticationDetailsProvider: provider },
    { circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }) },
  );
  client.endpoint = url;
  return client;
}

/** A valid metric object; fields can be overridden. */
function metric(overrides: Partial<models.MetricDataDetails> = {}, tsMs = Date.now()): models.MetricDataDetails {
  return {
    namespace: 'prom2oci_test',
    compartmentId: COMPARTMENT,
    name: 'http_requests_total',
    dimensions: { instance: 'localhost:9100', route: '/api/orders' },
    datapoints: [{ timestamp: new Date(tsMs), value: 42 }],
    ...overrides,
  };
}

/** Post and return the SDK response details, or the thrown error. */
async function post(
  client: MonitoringClient,
  metricData: models.MetricDataDetails[],
  batchAtomicity?: models.PostMetricDataDetails.BatchAtomicity,
): Promise<models.PostMetricDataResponseDetails> {
  const res = await client.postMetricData({ postMetricDataDetails: { metricData, batchAtomicity } });
  return res.postMetricDataResponseDetails;
}

/** The OciError (statusCode, serviceCode, message) a call rejects with. */
async function rejection(p: Promise<unknown>): Promise<{ statusCode?: number; serviceCode?: string; message?: string }> {
  try {
    await p;
  } catch (err) {
    return err as { statusCode?: number; serviceCode?: string; message?: string };
  }
  assert.fail('expected the call to fail');
}

/** Sign a PostMetricData request with the SDK's own signer (so tests can tamper with it). */
async function signedRequest(provider: common.AuthenticationDetailsProvider, body: string): Promise<{ url: string; headers: Headers }> {
  const url = `${emu.url}/20180401/metrics`;
  const headers = new Headers();
  const signer = new common.DefaultRequestSigner(provider);
  await signer.signHttpRequest({ method: 'POST', uri: url, headers, body });
  return { url, headers };
}

/** Keep the SDK's per-attempt console.warn lines out of the test output. */
const realWarn = console.warn;

before(async () => {
  console.warn = () => {};
  dir = await mkdtemp(join(tmpdir(), 'emulator-test-'));
  rp = await makeResourcePrincipal(join(dir, 'rp'), { region: 'eu-frankfurt-1' });
  cfg = await makeConfigFile(join(dir, 'cfg'), { profile: 'LOCAL' });
  emu = await startIngestionEmulator({
    trustedIssuers: [rp.issuerPublicKeyPem],
    configKeys: { [cfg.keyId]: cfg.publicKeyPem },
    log: (entry) => logLines.push(JSON.stringify(entry)),
  });
});

after(async () => {
  console.warn = realWarn;
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  emu.reset();
  emu.options.rateLimitPerSecond = undefined;
  emu.options.latencyMs = 0;
  emu.options.authorizedCompartments = undefined;
  emu.options.authorizedNamespaces = undefined;
  emu.options.maxStoredDatapoints = 1_000_000;
});

describe('credentials', () => {
  test('makeResourcePrincipal writes the env the SDK needs and an RPST with the claims OCI puts in one', async () => {
    assert.equal(rp.env.OCI_RESOURCE_PRINCIPAL_VERSION, '2.2');
    assert.equal(rp.env.OCI_RESOURCE_PRINCIPAL_REGION, 'eu-frankfurt-1');
    assert.ok(rp.env.OCI_RESOURCE_PRINCIPAL_RPST.startsWith('/'));
    const provider = rpProvider(rp);
    assert.equal(provider.getRegion().regionId, 'eu-frankfurt-1');
    assert.equal(await provider.getStringClaim('res_tenant'), rp.claims.res_tenant);
    assert.equal(await provider.getStringClaim('res_compartment'), rp.claims.res_compartment);
    assert.match(await provider.getKeyId(), /^ST\$[\w-]+\.[\w-]+\.[\w-]+$/);
    const jwk = JSON.parse(rp.claims.jwk) as Record<string, string>;
    assert.equal(jwk.kty, 'RSA');
    assert.ok(jwk.n.length > 300);
  });

  test('several resource principals can share one issuer (one trusted key for many functions)', async () => {
    const issuer = await generateRsaPemPair();
    const a = await makeResourcePrincipal(join(dir, 'shared-a'), { issuer });
    const b = await makeResourcePrincipal(join(dir, 'shared-b'), { issuer, tenancyId: a.claims.res_tenant });
    assert.equal(a.issuerPublicKeyPem, issuer.publicKeyPem);
    assert.notEqual(a.privateKeyPem, b.privateKeyPem);
    const local = await startIngestionEmulator({ trustedIssuers: [issuer.publicKeyPem] });
    try {
      for (const creds of [a, b]) assert.equal((await post(monitoringClient(rpProvider(creds), local.url), [metric()])).failedMetricsCount, 0);
      assert.deepEqual(
        local.calls.map((c) => c.tenancyId),
        [a.claims.res_tenant, a.claims.res_tenant],
      );
    } finally {
      await local.close();
    }
  });

  test('makeConfigFile writes a profile the SDK reads, with a correct fingerprint', async () => {
    const provider = new common.ConfigFileAuthenticationDetailsProvider(cfg.configPath, 'LOCAL');
    assert.equal(await provider.getKeyId(), cfg.keyId);
    assert.match(cfg.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    assert.equal(provider.getRegion().regionId, 'us-ashburn-1');
  });
});

describe('PostMetricData authentication', () => {
  test('resource principal: valid metrics are accepted and stored', async () => {
    const ts = Date.now() - 30_000;
    const res = await post(monitoringClient(rpProvider(rp)), [metric({}, ts), metric({ name: 'up', dimensions: { instance: 'a:1' } }, ts)]);
    assert.equal(res.failedMetricsCount, 0);
    assert.equal(emu.accepted.length, 2);
    assert.deepEqual(emu.accepted[0].datapoints, [{ timestamp: ts, value: 42 }]);
    assert.equal(emu.accepted[0].compartmentId, COMPARTMENT);
    const call = emu.calls.at(-1)!;
    assert.equal(call.status, 200);
    assert.equal(call.authKind, 'resource-principal');
    assert.equal(call.tenancyId, rp.claims.res_tenant);
    assert.equal(call.metricCount, 2);
    assert.equal(emu.counters.postMetricData, 1);
    assert.equal(emu.counters.byStatus['200'], 1);
  });

  test('config file: valid metrics are accepted and stored', async () => {
    const res = await post(monitoringClient(new common.ConfigFileAuthenticationDetailsProvider(cfg.configPath, 'LOCAL')), [metric()]);
    assert.equal(res.failedMetricsCount, 0);
    assert.equal(emu.accepted.length, 1);
    assert.equal(emu.calls.at(-1)!.authKind, 'config');
    assert.equal(emu.calls.at(-1)!.tenancyId, cfg.tenancyId);
  });

  test('an RPST signed by an untrusted issuer is rejected with 401', async () => {
    const stranger = await makeResourcePrincipal(join(dir, 'stranger'));
    const err = await rejection(post(monitoringClient(rpProvider(stranger)), [metric()]));
    assert.equal(err.statusCode, 401);
    assert.equal(err.serviceCode, 'NotAuthenticated');
    assert.match(String(err.message), /trusted issuer/);
    assert.equal(emu.accepted.length, 0);
  });

  test('an expired RPST is rejected with 401', async () => {
    const own = await makeResourcePrincipal(join(dir, 'expired2'), { ttlSeconds: -60 });
    emu.options.trustedIssuers.push(own.issuerPublicKeyPem);
    try {
      const err = await rejection(post(monitoringClient(rpProvider(own)), [metric()]));
      assert.equal(err.statusCode, 401);
      assert.match(String(err.message), /expired/);
      await own.renew(600);
      const res = await post(monitoringClient(rpProvider(own)), [metric()]);
      assert.equal(res.failedMetricsCount, 0);
    } finally {
      emu.options.trustedIssuers.pop();
    }
  });

  test('a config key id the emulator does not know is rejected with 401', async () => {
    const other = await makeConfigFile(join(dir, 'cfg-other'));
    const err = await rejection(post(monitoringClient(new common.ConfigFileAuthenticationDetailsProvider(other.configPath, 'DEFAULT')), [metric()]));
    assert.equal(err.statusCode, 401);
    assert.equal(err.serviceCode, 'NotAuthenticated');
  });

  test('a body that does not match x-content-sha256 is rejected with 401; the untampered request passes', async () => {
    const provider = rpProvider(rp);
    const body = JSON.stringify({ metricData: [metric()] });
    const good = await signedRequest(provider, body);
    const ok = await fetch(good.url, { method: 'POST', headers: good.headers, body });
    assert.equal(ok.status, 200);
    assert.ok(ok.headers.get('opc-request-id'));

    const tampered = await signedRequest(provider, body);
    const evil = body.replace('"value":42', '"value":99');
    assert.equal(evil.length, body.length);
    const res = await fetch(tampered.url, { method: 'POST', headers: tampered.headers, body: evil });
    assert.equal(res.status, 401);
    const json = (await res.json()) as { code: string; message: string };
    assert.equal(json.code, 'NotAuthenticated');
    assert.match(json.message, /x-content-sha256/);

    const resigned = await signedRequest(provider, body);
    resigned.headers.set('x-content-sha256', (await signedRequest(provider, evil)).headers.get('x-content-sha256')!);
    const forged = await fetch(resigned.url, { method: 'POST', headers: resigned.headers, body: evil });
    assert.equal(forged.status, 401);
    assert.match(((await forged.json()) as { message: string }).message, /signature does not verify/);
    assert.equal(emu.accepted.length, 1);
    assert.equal(emu.accepted[0].datapoints[0].value, 42);
  });

  test('an unsigned request gets 401, an unknown path 404', async () => {
    const res = await fetch(`${emu.url}/20180401/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { code: string }).code, 'NotAuthenticated');
    const other = await fetch(`${emu.url}/nope`);
    assert.equal(other.status, 404);
    assert.equal(emu.calls.at(-2)!.authKind, 'none');
  });

  test('a client clock more than 5 minutes off is rejected with 401 naming the clock', async () => {
    const skewed = await startIngestionEmulator({ trustedIssuers: [rp.issuerPublicKeyPem], now: () => Date.now() + 6 * 60_000 });
    try {
      const err = await rejection(post(monitoringClient(rpProvider(rp), skewed.url), [metric()]));
      assert.equal(err.statusCode, 401);
      assert.equal(err.serviceCode, 'NotAuthenticated');
      assert.match(String(err.message), /clock/);
      skewed.options.now = () => Date.now() + 4 * 60_000;
      const res = await post(monitoringClient(rpProvider(rp), skewed.url), [metric()]);
      assert.equal(res.failedMetricsCount, 0);
    } finally {
      await skewed.close();
    }
  });
});

/** One invalid metric per documented rule, with the message it must produce. */
function invalidCases(now: number): { label: string; metric: models.MetricDataDetails; message: RegExp }[] {
  const dims21: Record<string, string> = {};
  for (let i = 0; i < MAX_DIMS + 1; i++) dims21[`d${i}`] = 'v';
  return [
    { label: 'namespace starts with a digit', metric: metric({ namespace: '1prom' }), message: /namespace/ },
    { label: 'namespace with a dot', metric: metric({ namespace: 'prom.test' }), message: /namespace/ },
    { label: 'namespace oci_ prefix', metric: metric({ namespace: 'oci_prom' }), message: /reserved/ },
    { label: 'namespace oracle_ prefix', metric: metric({ namespace: 'oracle_prom' }), message: /reserved/ },
    { label: 'compartment missing', metric: metric({ compartmentId: '' }), message: /compartmentId is required/ },
    { label: 'compartment not an OCID', metric: metric({ compartmentId: 'my-compartment' }), message: /not an OCID/ },
    { label: 'name starts with a digit', metric: metric({ name: '9lives' }), message: /Invalid name/ },
    { label: 'name with a colon', metric: metric({ name: 'job:rate5m' }), message: /Invalid name/ },
    { label: 'name with a space', metric: metric({ name: 'a b' }), message: /Invalid name/ },
    { label: 'resourceGroup with a space', metric: metric({ resourceGroup: 'my group' }), message: /Invalid resourceGroup/ },
    { label: 'no dimensions', metric: metric({ dimensions: {} }), message: /at least 1 dimension/ },
    { label: `${MAX_DIMS + 1} dimensions`, metric: metric({ dimensions: dims21 }), message: new RegExp(`Too many dimensions: ${MAX_DIMS + 1}`) },
    { label: 'dimension key with a space', metric: metric({ dimensions: { 'a b': 'v' } }), message: /Invalid dimension key/ },
    { label: 'dimension key non-ASCII', metric: metric({ dimensions: { clé: 'v' } }), message: /Invalid dimension key/ },
    { label: 'dimension key too long', metric: metric({ dimensions: { ['k'.repeat(KEY + 1)]: 'v' } }), message: /Invalid dimension key/ },
    { label: 'empty dimension value', metric: metric({ dimensions: { a: '' } }), message: /must not be empty/ },
    { label: 'dimension value too long', metric: metric({ dimensions: { a: 'é'.repeat(VALUE + 1) } }), message: new RegExp(`longer than ${VALUE}`) },
    // 257 code points but 514 UTF-16 units: the emulator takes the reading OCI can never be stricter than.
    {
      label: 'dimension value of emoji, within the limit in code points, over it in UTF-16 units',
      metric: metric({ dimensions: { a: '😀'.repeat(VALUE / 2 + 1) } }),
      message: new RegExp(`longer than ${VALUE}`),
    },
    { label: 'metadata key too long', metric: metric({ metadata: { ['m'.repeat(META + 1)]: 'v' } }), message: /metadata key/ },
    { label: 'metadata value too long', metric: metric({ metadata: { help: 'x'.repeat(META + 1) } }), message: /metadata 'help'/ },
    { label: 'no datapoints', metric: metric({ datapoints: [] }), message: /at least 1 datapoint/ },
    { label: 'timestamp over 2 hours old', metric: metric({}, now - OCI_LIMITS.maxPastMs - 60_000), message: /2 hours in the past/ },
    { label: 'timestamp over 10 minutes ahead', metric: metric({}, now + OCI_LIMITS.maxFutureMs + 60_000), message: /10 minutes in the future/ },
    { label: 'NaN value (sent as null)', metric: metric({ datapoints: [{ timestamp: new Date(now), value: NaN }] }), message: /not a finite number/ },
    { label: 'Infinity value (sent as null)', metric: metric({ datapoints: [{ timestamp: new Date(now), value: Infinity }] }), message: /not a finite number/ },
    { label: 'count 0', metric: metric({ datapoints: [{ timestamp: new Date(now), value: 1, count: 0 }] }), message: /count/ },
    { label: 'negative count', metric: metric({ datapoints: [{ timestamp: new Date(now), value: 1, count: -3 }] }), message: /count/ },
  ];
}

/** Valid objects at the edges of every rule: all must be accepted. */
function edgeCases(now: number): models.MetricDataDetails[] {
  const dims20: Record<string, string> = {};
  for (let i = 0; i < MAX_DIMS; i++) dims20[`d${i}`] = 'v';
  return [
    metric({ name: 'a.b_c-d$e', resourceGroup: 'rg.1-x$' }),
    metric({ name: 'twenty', dimensions: dims20 }),
    metric({ name: 'long_key', dimensions: { ['k'.repeat(KEY)]: 'é'.repeat(VALUE), le: '+Inf' } }),
    metric({ name: 'emoji', dimensions: { a: '😀'.repeat(VALUE / 2) } }),
    metric({ metadata: { ['m'.repeat(META)]: 'x'.repeat(META) } }),
    metric({ name: 'old' }, now - OCI_LIMITS.maxPastMs + 60_000),
    metric({ name: 'ahead' }, now + OCI_LIMITS.maxFutureMs - 60_000),
    metric({ name: 'weighted', datapoints: [{ timestamp: new Date(now), value: -1.5e300, count: 2 }] }),
  ];
}

describe('PostMetricData validation', () => {
  test('NON_ATOMIC: every rule violation comes back in failedMetrics with a message; valid ones are stored', async () => {
    const now = Date.now();
    const bad = invalidCases(now);
    const good = edgeCases(now);
    const res = await post(monitoringClient(rpProvider(rp)), [...good, ...bad.map((b) => b.metric)]);
    assert.equal(res.failedMetricsCount, bad.length);
    assert.equal(res.failedMetrics?.length, bad.length);
    bad.forEach((b, i) => {
      const failed = res.failedMetrics![i];
      assert.match(failed.message, b.message, `${b.label}: ${failed.message}`);
      assert.ok(failed.metricData, `${b.label}: the object is echoed back`);
    });
    assert.equal(emu.accepted.length, good.length);
    assert.deepEqual(
      emu.accepted.map((m) => m.name),
      good.map((m) => m.name),
    );
    assert.equal(emu.counters.metricsFailed, bad.length);
    assert.equal(emu.calls.at(-1)!.failedCount, bad.length);
  });

  test('ATOMIC: one invalid object rejects the call with 400 InvalidParameter and nothing is stored', async () => {
    const now = Date.now();
    const err = await rejection(
      post(monitoringClient(rpProvider(rp)), [metric(), invalidCases(now)[7].metric], models.PostMetricDataDetails.BatchAtomicity.Atomic),
    );
    assert.equal(err.statusCode, 400);
    assert.equal(err.serviceCode, 'InvalidParameter');
    assert.match(String(err.message), /metricData\[1\].*Invalid name/);
    assert.equal(emu.accepted.length, 0);
    const ok = await post(monitoringClient(rpProvider(rp)), [metric()], models.PostMetricDataDetails.BatchAtomicity.Atomic);
    assert.equal(ok.failedMetricsCount, 0);
    assert.equal(emu.accepted.length, 1);
  });

  test('NON_ATOMIC: a request in which every object is invalid is 400 InvalidParameter (OCI needs one valid object); nothing stored', async () => {
    const now = Date.now();
    const bad = invalidCases(now)
      .slice(0, 3)
      .map((c) => c.metric);
    const err = await rejection(post(monitoringClient(rpProvider(rp)), bad));
    assert.equal(err.statusCode, 400);
    assert.equal(err.serviceCode, 'InvalidParameter');
    assert.match(String(err.message), /No valid metric object in the request \(3 invalid\); metricData\[0\]: Invalid namespace/);
    assert.equal(emu.accepted.length, 0);
    const mixed = await post(monitoringClient(rpProvider(rp)), [...bad, metric()]);
    assert.equal(mixed.failedMetricsCount, 3, 'one valid object is enough: 200 with the others in failedMetrics');
    assert.equal(emu.accepted.length, 1);
  });

  test('metric group: at most 20 distinct dimension keys over all streams of one name (across requests); other names are other groups', async () => {
    const client = monitoringClient(rpProvider(rp));
    const keys = (prefix: string, n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'v']));
    assert.equal((await post(client, [metric({ name: 'grp', dimensions: keys('a', MAX_DIMS - 8) })])).failedMetricsCount, 0);
    // A later request: 8 new keys fit (20), the ninth in the same request does not; a stream within the keys still does.
    const res = await post(client, [
      metric({ name: 'grp', dimensions: keys('b', 8) }),
      metric({ name: 'grp', dimensions: keys('c', 1) }),
      metric({ name: 'grp', dimensions: { ...keys('a', 2), ...keys('b', 2) } }),
      metric({ name: 'other', dimensions: keys('c', 1) }),
      metric({ name: 'grp', namespace: 'prom2oci_other', dimensions: keys('c', 1) }),
    ]);
    assert.equal(res.failedMetricsCount, 1);
    assert.match(
      res.failedMetrics![0].message,
      new RegExp(
        `Too many dimensions for the metric group prom2oci_test/grp: its streams would use ${MAX_DIMS + 1} distinct dimension keys, at most ${MAX_DIMS}`,
      ),
    );
    assert.deepEqual(res.failedMetrics![0].metricData.dimensions, { c0: 'v' });
    assert.equal(emu.accepted.length, 5);
    emu.reset();
    assert.equal((await post(client, [metric({ name: 'grp', dimensions: keys('c', 1) })])).failedMetricsCount, 0, 'reset forgets the groups');
  });

  test('Datapoint.count is kept and used as the number of observations by the query API (count, sum, mean = sum / count)', async () => {
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const at = (s: number) => new Date(Math.min(minute + s * 1000, Date.now()));
    const res = await post(monitoringClient(rpProvider(rp)), [
      metric({
        name: 'weighted',
        datapoints: [
          { timestamp: at(0), value: 10, count: 3 },
          { timestamp: at(1), value: 40 },
        ],
      }),
      metric({ name: 'weighted', datapoints: [{ timestamp: at(2), value: 100, count: 6 }] }),
    ]);
    assert.equal(res.failedMetricsCount, 0);
    assert.deepEqual(
      emu.accepted.flatMap((m) => m.datapoints.map((d) => d.count ?? 1)),
      [3, 1, 6],
    );
    const value = async (stat: string) => {
      const q = new URLSearchParams({ namespace: 'prom2oci_test', query: `weighted[1m].${stat}`, from: String(minute - 60_000), to: String(minute + 60_000) });
      const body = (await (await fetch(`${emu.url}/emulator/api/query?${q}`)).json()) as { series: { points: { timestamp: number; value: number }[] }[] };
      return body.series[0].points.find((p) => p.timestamp === minute)!.value;
    };
    assert.equal(await value('count()'), 10);
    assert.equal(await value('sum()'), 670);
    assert.equal(await value('mean()'), 67);
  });

  test('more than 50 unique streams in one call is 400 LimitExceeded; 50, or repeats of one stream, pass', async () => {
    const client = monitoringClient(rpProvider(rp));
    const streams = (n: number): models.MetricDataDetails[] => Array.from({ length: n }, (_, i) => metric({ dimensions: { series: String(i) } }));
    const err = await rejection(post(client, streams(OCI_LIMITS.maxStreamsPerCall + 1)));
    assert.equal(err.statusCode, 400);
    assert.equal(err.serviceCode, 'LimitExceeded');
    assert.equal(emu.accepted.length, 0);
    assert.equal((await post(client, streams(OCI_LIMITS.maxStreamsPerCall))).failedMetricsCount, 0);
    const sameStream = Array.from({ length: OCI_LIMITS.maxStreamsPerCall + 10 }, (_, i) => metric({ metadata: { n: String(i) } }));
    assert.equal((await post(client, sameStream)).failedMetricsCount, 0);
    assert.equal(emu.accepted.length, 2 * OCI_LIMITS.maxStreamsPerCall + 10);
  });

  test('a body that is not JSON is 400 CannotParseRequest; no metricData is 400 MissingParameter', async () => {
    const provider = rpProvider(rp);
    for (const [body, code] of [
      ['{"metricData": [', 'CannotParseRequest'],
      ['{}', 'MissingParameter'],
      ['{"metricData": []}', 'InvalidParameter'],
    ] as const) {
      const { url, headers } = await signedRequest(provider, body);
      const res = await fetch(url, { method: 'POST', headers, body });
      assert.equal(res.status, 400, body);
      assert.equal(((await res.json()) as { code: string }).code, code);
    }
  });

  test('a compartment without a policy is 404 NotAuthorizedOrNotFound, nothing stored', async () => {
    emu.options.authorizedCompartments = [COMPARTMENT];
    const client = monitoringClient(rpProvider(rp));
    const err = await rejection(post(client, [metric(), metric({ compartmentId: OTHER_COMPARTMENT })]));
    assert.equal(err.statusCode, 404);
    assert.equal(err.serviceCode, 'NotAuthorizedOrNotFound');
    assert.equal(emu.accepted.length, 0);
    assert.equal((await post(client, [metric()])).failedMetricsCount, 0);
    emu.options.authorizedNamespaces = ['another_ns'];
    assert.equal((await rejection(post(client, [metric()]))).statusCode, 404);
  });
});

describe('faults', () => {
  test('more calls per second than the tenancy limit get 429 TooManyRequests; the sliding second moves with the clock', async () => {
    // The rate limit's clock is the emulator's injected monotonic clock: the test moves it instead of sleeping.
    let clockMs = 5_000;
    emu.options.monotonicNow = () => clockMs;
    try {
      emu.options.rateLimitPerSecond = 3;
      const client = monitoringClient(rpProvider(rp));
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => post(client, [metric()])));
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      const throttled = results.filter((r) => r.status === 'rejected' && (r.reason as { statusCode?: number }).statusCode === 429).length;
      assert.equal(ok, 3);
      assert.equal(throttled, 3);
      assert.equal(emu.counters.throttled, 3);
      clockMs += 999;
      assert.equal((await rejection(post(client, [metric()]))).statusCode, 429, 'still inside the second');
      clockMs += 1;
      assert.equal((await post(client, [metric()])).failedMetricsCount, 0, 'a second after the first admitted call');
    } finally {
      emu.options.monotonicNow = () => performance.now();
    }
  });

  test('enqueued 503s answer the next calls, then service resumes', async () => {
    emu.enqueueFault({ status: 503 }, 2);
    const client = monitoringClient(rpProvider(rp));
    for (let i = 0; i < 2; i++) {
      const err = await rejection(post(client, [metric()]));
      assert.equal(err.statusCode, 503);
      assert.equal(err.serviceCode, 'ServiceUnavailable');
    }
    assert.equal((await post(client, [metric()])).failedMetricsCount, 0);
    assert.deepEqual(
      emu.calls.map((c) => [c.status, c.fault ?? null]),
      [
        [503, 'status'],
        [503, 'status'],
        [200, null],
      ],
    );
    assert.equal(emu.accepted.length, 1);
  });

  test('the SDK retries an injected 429 when asked to, and the data arrives', async () => {
    emu.enqueueFault({ status: 429, message: 'slow down' });
    const client = monitoringClient(rpProvider(rp));
    client.endpoint = emu.url;
    const res = await client.postMetricData({
      postMetricDataDetails: { metricData: [metric()] },
      retryConfiguration: { terminationStrategy: new common.MaxAttemptsTerminationStrategy(3), delayStrategy: new common.FixedTimeDelayStrategy(0.05) },
    });
    assert.equal(res.postMetricDataResponseDetails.failedMetricsCount, 0);
    assert.deepEqual(
      emu.calls.map((c) => c.status),
      [429, 200],
    );
  });

  test('a reset connection is a network error without a status', async () => {
    emu.enqueueFault({ reset: true });
    const err = await rejection(post(monitoringClient(rpProvider(rp)), [metric()]));
    assert.equal(err.statusCode, undefined);
    assert.equal(emu.calls.at(-1)!.fault, 'reset');
    assert.equal(emu.calls.at(-1)!.status, 0);
    assert.equal(emu.accepted.length, 0);
  });

  test('a hung call never answers: a caller timeout fires first, the socket is dropped after hangMs', async () => {
    emu.enqueueFault({ hangMs: 400 });
    const client = monitoringClient(rpProvider(rp));
    const started = Date.now();
    const timedOut = await Promise.race([
      post(client, [metric()]).then(
        () => 'answered',
        () => 'failed',
      ),
      new Promise((r) => setTimeout(() => r('timeout'), 150)),
    ]);
    assert.equal(timedOut, 'timeout');
    emu.enqueueFault({ hangMs: 200 });
    const err = await rejection(post(client, [metric()]));
    assert.equal(err.statusCode, undefined);
    assert.ok(Date.now() - started >= 200);
    // The first hang (400 ms) ends on its own and is then recorded: an event, waited for.
    await waitUntil(() => emu.calls.filter((c) => c.fault === 'hang').length === 2, 'both hung calls recorded');
    assert.equal(emu.pendingFaults(), 0);
  });

  test('a hung call ends when the client gives up, and one hung across reset() is not recorded after it', async () => {
    emu.enqueueFault({ hangMs: 30_000 });
    const aborted = await fetch(`${emu.url}/20180401/metrics`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(100) }).catch((e: Error) => e.name);
    assert.equal(aborted, 'TimeoutError');
    await waitUntil(() => emu.calls.at(-1)?.fault === 'hang', 'the abandoned hung call recorded');
    assert.ok(emu.calls.at(-1)!.durationMs < 5000);

    emu.enqueueFault({ hangMs: 300 });
    const hung = fetch(`${emu.url}/20180401/metrics`, { method: 'POST', body: '{}' }).catch(() => 'dropped');
    await waitUntil(() => emu.pendingFaults() === 0, 'the call took its hang');
    emu.reset();
    assert.equal(await hung, 'dropped');
    // The hung call's handler ends once its socket is dropped; its record would be written then. Wait
    // for that end (every handler finished) rather than a window, then check nothing was recorded.
    await emu.idle();
    assert.equal(emu.calls.length, 0);
    assert.equal(emu.counters.calls, 0);
  });

  test('latencyMs delays every answer', async () => {
    emu.options.latencyMs = 150;
    const started = performance.now();
    await post(monitoringClient(rpProvider(rp)), [metric()]);
    assert.ok(performance.now() - started >= 150);
    assert.ok(emu.calls.at(-1)!.durationMs >= 150);
  });

  test('latencyMs with 20 calls in flight at once: no listener-leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    // Long enough that the 20 calls sleep at the same time even when signing them is slow.
    emu.options.latencyMs = 3000;
    try {
      const client = monitoringClient(rpProvider(rp));
      await Promise.all(Array.from({ length: 20 }, () => post(client, [metric()])));
      assert.equal(emu.counters.postMetricData, 20);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('close() returns even with a hung connection open', async () => {
    const local = await startIngestionEmulator({ trustedIssuers: [rp.issuerPublicKeyPem] });
    local.enqueueFault({ hangMs: 60_000 });
    const pending = post(monitoringClient(rpProvider(rp), local.url), [metric()]).catch((e: unknown) => e);
    await waitUntil(() => local.pendingFaults() === 0, 'the call took its hang');
    const started = Date.now();
    await local.close();
    assert.ok(Date.now() - started < 20_000, 'close() does not wait for the 60 s hang');
    assert.equal(((await pending) as { statusCode?: number }).statusCode, undefined);
  });
});

describe('Vault secrets', () => {
  const SECRET_ID = 'ocid1.vaultsecret.oc1.eu-frankfurt-1.amaaaaaatokensecret';

  /** A SecretsClient pointed at the emulator, with RP auth and no retries. */
  function secretsClient(): SecretsClient {
    const client = new SecretsClient(
      { authenticationDetailsProvider: rpProvider(rp) },
      { circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }) },
    );
    client.endpoint = emu.url;
    return client;
  }

  /** Fetch a secret's decoded content and version. */
  async function readSecret(client: SecretsClient, id: string): Promise<{ value: string; version: number }> {
    const res = await client.getSecretBundle({ secretId: id, retryConfiguration: { terminationStrategy: new common.MaxAttemptsTerminationStrategy(1) } });
    const content = res.secretBundle.secretBundleContent as { content?: string };
    return { value: Buffer.from(content.content ?? '', 'base64').toString('utf8'), version: res.secretBundle.versionNumber };
  }

  test('GetSecretBundle returns the secret (base64), versions on rotation, and counts fetches', async () => {
    emu.secrets.set(SECRET_ID, 's3cr3t-token\n');
    const client = secretsClient();
    assert.deepEqual(await readSecret(client, SECRET_ID), { value: 's3cr3t-token\n', version: 1 });
    emu.secrets.set(SECRET_ID, 'rotated');
    assert.deepEqual(await readSecret(client, SECRET_ID), { value: 'rotated', version: 2 });
    assert.equal(emu.secretFetchCounts.get(SECRET_ID), 2);
    assert.equal(emu.counters.secretFetches, 2);
    assert.equal(emu.calls.at(-1)!.authKind, 'resource-principal');
  });

  test('a missing or unauthorised secret is 404 NotAuthorizedOrNotFound', async () => {
    emu.secrets.set(SECRET_ID, 'x');
    emu.deniedSecrets.add(SECRET_ID);
    try {
      const client = secretsClient();
      for (const id of [SECRET_ID, 'ocid1.vaultsecret.oc1..unknown']) {
        const err = await rejection(readSecret(client, id));
        assert.equal(err.statusCode, 404);
        assert.equal(err.serviceCode, 'NotAuthorizedOrNotFound');
      }
    } finally {
      emu.deniedSecrets.delete(SECRET_ID);
    }
  });

  test('an unsigned GetSecretBundle is 401, and an injected secrets fault answers the next fetch', async () => {
    emu.secrets.set(SECRET_ID, 'x');
    const res = await fetch(`${emu.url}/20190301/secretbundles/${SECRET_ID}`);
    assert.equal(res.status, 401);
    emu.enqueueFault({ status: 500 }, 1, 'secrets');
    const err = await rejection(readSecret(secretsClient(), SECRET_ID));
    assert.equal(err.statusCode, 500);
  });

  test('neither secret values nor tokens nor keys appear in the emulator log', async () => {
    emu.secrets.set(SECRET_ID, 'very-secret-value');
    await readSecret(secretsClient(), SECRET_ID);
    await post(monitoringClient(rpProvider(rp)), [metric()]);
    const all = logLines.join('\n');
    assert.ok(logLines.length > 0);
    const token = (await rpProvider(rp).getKeyId()).slice(3);
    for (const needle of ['very-secret-value', Buffer.from('very-secret-value').toString('base64'), token, token.split('.')[2], 'PRIVATE KEY']) {
      assert.equal(all.includes(needle), false, `log leaks ${needle.slice(0, 12)}...`);
    }
  });
});

describe('store', () => {
  test('query filters by namespace, name, dimensions and time, merging a stream across posts', async () => {
    const client = monitoringClient(rpProvider(rp));
    const t0 = Date.now() - 60_000;
    await post(client, [metric({}, t0), metric({ dimensions: { instance: 'localhost:9100', route: '/api/cart' } }, t0)]);
    await post(client, [metric({}, t0 + 30_000)]);
    const series = emu.query({ namespace: 'prom2oci_test', name: 'http_requests_total', dimensions: { route: '/api/orders' } });
    assert.equal(series.length, 1);
    assert.deepEqual(
      series[0].datapoints.map((d) => d.timestamp),
      [t0, t0 + 30_000],
    );
    assert.equal(emu.query({ dimensions: { route: '/api/orders' }, from: t0 + 1 }).at(0)?.datapoints.length, 1);
    assert.equal(emu.query({ namespace: 'prom2oci_test' }).length, 2);
    assert.deepEqual(emu.store.namespaces(), ['prom2oci_test']);
    assert.deepEqual(emu.store.dimensionValues('prom2oci_test', 'http_requests_total').route, ['/api/cart', '/api/orders']);
  });

  test('the /emulator/api/ JSON routes answer from the store without being recorded as OCI calls', async () => {
    await post(monitoringClient(rpProvider(rp)), [metric(), metric({ name: 'up', dimensions: { instance: 'a:1' } })]);
    const callsBefore = emu.calls.length;
    const get = async (path: string): Promise<unknown> => {
      const res = await fetch(`${emu.url}/emulator/api/${path}`);
      assert.equal(res.status, 200, path);
      return res.json();
    };
    assert.deepEqual(await get('namespaces'), ['prom2oci_test']);
    assert.deepEqual(await get('metrics?namespace=prom2oci_test'), ['http_requests_total', 'up']);
    const series = (await get(`series?namespace=prom2oci_test&name=http_requests_total&dim.route=${encodeURIComponent('/api/orders')}`)) as {
      datapoints: unknown[];
    }[];
    assert.equal(series.length, 1);
    assert.equal(series[0].datapoints.length, 1);
    assert.equal(((await get('calls?limit=1')) as unknown[]).length, 1);
    assert.equal(((await get('stats')) as { store: { metrics: number } }).store.metrics, 2);
    assert.equal((await fetch(`${emu.url}/emulator/api/series?from=yesterday`)).status, 400);
    assert.equal(emu.calls.length, callsBefore);
  });

  test('extraHandler serves extra local routes before the OCI APIs', async () => {
    const local = await startIngestionEmulator({
      extraHandler: (req, res) => {
        if (req.url !== '/') return false;
        res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>explorer</h1>');
        return true;
      },
    });
    try {
      assert.equal(await (await fetch(`${local.url}/`)).text(), '<h1>explorer</h1>');
      assert.equal((await fetch(`${local.url}/20180401/metrics`, { method: 'POST', body: '{}' })).status, 401);
      assert.equal(local.calls.length, 1);
    } finally {
      await local.close();
    }
  });

  test('maxStoredDatapoints can be lowered at run time; the emulator keeps the newest', async () => {
    emu.options.maxStoredDatapoints = 2;
    await post(
      monitoringClient(rpProvider(rp)),
      ['a', 'b', 'c'].map((name) => metric({ name })),
    );
    assert.deepEqual(
      emu.accepted.map((m) => m.name),
      ['b', 'c'],
    );
    assert.equal(emu.store.stats().droppedDatapoints, 1);
  });

  test('the store is bounded: the oldest datapoints are dropped first', () => {
    const store = new MetricStore(3);
    for (let i = 0; i < 5; i++) {
      store.add([{ namespace: 'n', compartmentId: COMPARTMENT, name: 'm', dimensions: { a: 'b' }, datapoints: [{ timestamp: i, value: i }], receivedAt: i }]);
    }
    assert.deepEqual(
      store.all().map((m) => m.datapoints[0].value),
      [2, 3, 4],
    );
    assert.deepEqual(store.stats(), { metrics: 3, datapoints: 3, droppedDatapoints: 2 });
  });
});
