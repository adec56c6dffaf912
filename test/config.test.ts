/** Settings and invocation bodies: every bad value fails fast with a message naming the key. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkForPosting, ConfigError, defaultSampleLimit, parseSettings, SETTING_SPECS, SETTINGS_TABLE } from '../src/config/settings';
import { redactUrl } from '../src/util/redact';
import { InvocationError, parseInvocationBody } from '../src/handler/invocation';
import { createHandler, FunctionFailure } from '../src/handler/handler';
import { parseCommandLine, settingsEnv } from '../src/cli/args';
import { OCI_LIMITS } from '../src/transform/limits';

const base = { METRICS_ENDPOINT: 'http://127.0.0.1:9100/metrics', COMPARTMENT_OCID: 'ocid1.compartment.oc1..aaaaaaaabbbbbbbb' };

/** Asserts that the settings of a run that posts fail with a ConfigError for `key` whose message matches `re`. */
function rejects(env: Record<string, string>, key: string, re: RegExp): void {
  assert.throws(
    () => checkForPosting(parseSettings({ ...base, ...env })),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.key, key);
      assert.match(e.message, new RegExp(`^${key}: `));
      assert.match(e.message, re);
      return true;
    },
  );
}

/** What is wrong with one row of the settings table: no description, or a default its own parser refuses. */
function rowProblems(key: string, row: { default?: string; parse: (key: string, value: string) => unknown; description: string }): string[] {
  const problems: string[] = [];
  if (row.description.trim() === '') problems.push(`${key}: no description`);
  if (row.default !== undefined) {
    try {
      row.parse(key, row.default);
    } catch (e) {
      problems.push(`${key}: its default "${row.default}" does not parse: ${(e as Error).message}`);
    }
  }
  return problems;
}

describe('settings table', () => {
  test('every row has a description and a default its own parser accepts', () => {
    for (const [key, row] of Object.entries(SETTINGS_TABLE)) assert.deepEqual(rowProblems(key, row), [], key);
    // The check can fail: a default outside the row's own range, an empty description.
    assert.match(rowProblems('POST_CONCURRENCY', { ...SETTINGS_TABLE.POST_CONCURRENCY, default: '65' }).join(), /default "65" does not parse: .*from 1 to 64/);
    assert.match(rowProblems('DISCOVERY_SCHEME', { ...SETTINGS_TABLE.DISCOVERY_SCHEME, default: 'ftp' }).join(), /default "ftp" does not parse/);
    assert.deepEqual(rowProblems('DRY_RUN', { ...SETTINGS_TABLE.DRY_RUN, description: ' ' }), ['DRY_RUN: no description']);
  });

  test("a number's documented bounds are what its parser accepts: each bound, not one beyond, no fraction when whole", () => {
    const bounded = Object.entries(SETTINGS_TABLE).filter(([, row]) => row.parse.bounds !== undefined);
    assert.ok(bounded.length >= 10);
    for (const [key, row] of bounded) {
      const { min, max, whole } = row.parse.bounds!;
      assert.match(row.parse.accepts, new RegExp(`from ${min} to ${max}`), key);
      for (const ok of [min, max]) assert.doesNotThrow(() => row.parse(key, String(ok)), `${key} accepts ${ok}`);
      for (const bad of [min - 1, max + 1]) assert.throws(() => row.parse(key, String(bad)), ConfigError, `${key} refuses ${bad}`);
      if (whole) assert.throws(() => row.parse(key, String(min + 0.5)), ConfigError, `${key} refuses ${min + 0.5}`);
      else assert.doesNotThrow(() => row.parse(key, String(min + 0.5)), `${key} accepts ${min + 0.5}`);
    }
  });

  test('an unset key gets its default parsed by its own parser, in the field its row names', () => {
    const s = parseSettings({ ...base, DISCOVERY_COMPARTMENT_OCID: base.COMPARTMENT_OCID }) as unknown as Record<string, unknown>;
    const discovery = s.discovery as Record<string, unknown>;
    let checked = 0;
    for (const [key, row] of Object.entries(SETTINGS_TABLE) as [
      string,
      { field: string; default?: string; discovery?: true; parse: (k: string, v: string) => unknown },
    ][]) {
      if (row.default === undefined) continue;
      assert.deepEqual((row.discovery ? discovery : s)[row.field], row.parse(key, row.default), key);
      checked++;
    }
    assert.ok(checked >= 20, `${checked} rows with a default`);
  });

  test('the rules between settings name their key', () => {
    rejects({ METRICS_ENDPOINT: '' }, 'METRICS_ENDPOINT', /required .*unless DISCOVERY_COMPARTMENT_OCID, SCRAPE_CONFIG or SCRAPE_CONFIG_OBJECT is set/);
    assert.equal(parseSettings({ COMPARTMENT_OCID: base.COMPARTMENT_OCID, DISCOVERY_COMPARTMENT_OCID: base.COMPARTMENT_OCID }).endpoints.length, 0);
    rejects({ STATE_BUCKET: 'prom2oci-state' }, 'OBJECT_STORAGE_NAMESPACE', /required with STATE_BUCKET/);
    assert.equal(parseSettings({ ...base, STATE_BUCKET: 'b', OBJECT_STORAGE_NAMESPACE: 'ns' }).stateBucket, 'b');
    // SCRAPE_CONFIG_OBJECT: <bucket>/<object> (the object may hold slashes) in OBJECT_STORAGE_NAMESPACE, never beside SCRAPE_CONFIG.
    const object = { COMPARTMENT_OCID: base.COMPARTMENT_OCID, SCRAPE_CONFIG_OBJECT: 'cfg/jobs/prometheus.yml' };
    assert.deepEqual(parseSettings({ ...object, OBJECT_STORAGE_NAMESPACE: 'ns' }).scrapeConfigObject, { bucket: 'cfg', object: 'jobs/prometheus.yml' });
    rejects(object, 'OBJECT_STORAGE_NAMESPACE', /required with SCRAPE_CONFIG_OBJECT/);
    rejects(
      { ...object, OBJECT_STORAGE_NAMESPACE: 'ns', SCRAPE_CONFIG: 'scrape_configs: [{ job_name: a }]' },
      'SCRAPE_CONFIG_OBJECT',
      /cannot be set together with SCRAPE_CONFIG/,
    );
    for (const bad of ['cfg', 'cfg/', 'no spaces/x.yml', `cfg/${'x'.repeat(1025)}`, 'cfg/a\u0001b'])
      rejects({ ...object, SCRAPE_CONFIG_OBJECT: bad, OBJECT_STORAGE_NAMESPACE: 'ns' }, 'SCRAPE_CONFIG_OBJECT', /expected <bucket>\/<object>/);
  });
});

describe('settings', () => {
  test('defaults match the spec table', () => {
    const s = parseSettings(base);
    assert.equal(s.namespace, 'bharatmart');
    assert.equal(s.histogramBuckets, false);
    assert.equal(s.scrapeTimeoutMs, 10_000);
    assert.equal(s.postCallsPerSecond, OCI_LIMITS.maxCallsPerSecond, "the default ceiling is OCI's limit per tenancy (`auto`)");
    assert.equal(parseSettings({ ...base, POST_CALLS_PER_SECOND: 'AUTO' }).postCallsPerSecond, OCI_LIMITS.maxCallsPerSecond);
    assert.equal(parseSettings({ ...base, POST_CALLS_PER_SECOND: '12' }).postCallsPerSecond, 12, 'a number is a hard cap');
    for (const spec of SETTING_SPECS) assert.ok(spec.description.length > 0, spec.key);
  });

  test('several endpoints, extra dimensions, filters', () => {
    const s = parseSettings({
      ...base,
      METRICS_ENDPOINT: ' http://a:1/metrics , https://b/m ',
      EXTRA_DIMENSIONS: 'env=prod, app=shop',
      METRICS_INCLUDE: '^http_',
      HISTOGRAM_BUCKETS: 'TRUE',
    });
    assert.deepEqual(s.endpoints.map(String), ['http://a:1/metrics', 'https://b/m']);
    assert.deepEqual(s.extraDimensions, { env: 'prod', app: 'shop' });
    assert.ok(s.include!.test('http_requests_total'));
    assert.equal(s.histogramBuckets, true);
  });

  test('every bad value names its key', () => {
    rejects({ METRICS_ENDPOINT: '' }, 'METRICS_ENDPOINT', /required/);
    rejects({ METRICS_ENDPOINT: 'not a url' }, 'METRICS_ENDPOINT', /not a valid URL/);
    rejects({ METRICS_ENDPOINT: 'ftp://x/metrics' }, 'METRICS_ENDPOINT', /http or https/);
    rejects({ COMPARTMENT_OCID: '' }, 'COMPARTMENT_OCID', /required/);
    rejects({ COMPARTMENT_OCID: 'compartment-1' }, 'COMPARTMENT_OCID', /OCID/);
    rejects({ METRICS_NAMESPACE: 'my.ns' }, 'METRICS_NAMESPACE', /not a valid OCI namespace/);
    rejects({ METRICS_NAMESPACE: '1abc' }, 'METRICS_NAMESPACE', /starting with a letter/);
    rejects({ METRICS_NAMESPACE: 'oci_mine' }, 'METRICS_NAMESPACE', /reserved/);
    rejects({ METRICS_NAMESPACE: 'oracle_x' }, 'METRICS_NAMESPACE', /reserved/);
    rejects({ RESOURCE_GROUP: 'has space' }, 'RESOURCE_GROUP', /not valid/);
    rejects({ EXTRA_DIMENSIONS: 'novalue' }, 'EXTRA_DIMENSIONS', /key=value/);
    rejects({ EXTRA_DIMENSIONS: 'a=' }, 'EXTRA_DIMENSIONS', /value/);
    rejects({ EXTRA_DIMENSIONS: 'a=1,a=2' }, 'EXTRA_DIMENSIONS', /twice/);
    rejects({ EXTRA_DIMENSIONS: 'a b=1' }, 'EXTRA_DIMENSIONS', /without spaces/);
    rejects({ EXTRA_DIMENSIONS: 'instance=x' }, 'EXTRA_DIMENSIONS', /reserved/);
    rejects({ METRICS_INCLUDE: '(' }, 'METRICS_INCLUDE', /invalid regular expression/);
    rejects({ METRICS_EXCLUDE: '[a-' }, 'METRICS_EXCLUDE', /invalid regular expression/);
    rejects({ HISTOGRAM_BUCKETS: 'maybe' }, 'HISTOGRAM_BUCKETS', /true or false/);
    rejects({ SCRAPE_TIMEOUT_MS: '10s' }, 'SCRAPE_TIMEOUT_MS', /whole number/);
    rejects({ SCRAPE_TIMEOUT_MS: '5' }, 'SCRAPE_TIMEOUT_MS', /from 100/);
    rejects({ POST_CALLS_PER_SECOND: '0' }, 'POST_CALLS_PER_SECOND', /expected auto .* or a whole number from 1 to 1000, got "0"/);
    rejects({ SCRAPE_BEARER_TOKEN_SECRET_OCID: 'secret' }, 'SCRAPE_BEARER_TOKEN_SECRET_OCID', /OCID/);
    rejects({ OCI_MONITORING_ENDPOINT: 'nope' }, 'OCI_MONITORING_ENDPOINT', /not a valid URL/);
  });

  test('a dry run needs no compartment', () => {
    const s = parseSettings({ METRICS_ENDPOINT: base.METRICS_ENDPOINT, DRY_RUN: 'true' });
    assert.equal(s.compartmentId, undefined);
    assert.equal(s.dryRun, true);
    // The same settings cannot post: a real run is refused naming the key.
    assert.throws(() => checkForPosting(s), /^ConfigError: COMPARTMENT_OCID: is required/);
    assert.doesNotThrow(() => checkForPosting(parseSettings(base)));
  });

  test('URLs with credentials are never echoed in errors', () => {
    assert.throws(
      () => parseSettings({ ...base, METRICS_ENDPOINT: 'gopher://user:s3cret@host/metrics' }),
      (e: Error) => !e.message.includes('s3cret'),
    );
  });
});

describe('dry run, decided once', () => {
  test("an invocation's body decides, else DRY_RUN; a run that posts needs COMPARTMENT_OCID whatever DRY_RUN says", async () => {
    const logged: string[] = [];
    const handler = createHandler({ METRICS_ENDPOINT: base.METRICS_ENDPOINT, DRY_RUN: 'true' }, (_level, msg) => logged.push(msg));
    // {"dryRun": false} over DRY_RUN=true is a real run: refused before anything is scraped, naming the key.
    await assert.rejects(
      handler('{"dryRun": false}', { deadline: null }),
      (e: unknown) => e instanceof FunctionFailure && /^configuration error: COMPARTMENT_OCID: is required/.test(e.message),
    );
    assert.deepEqual(logged, ['configuration error: COMPARTMENT_OCID: is required (the OCID of the compartment that receives the metrics)']);
  });

  test("the CLI's --dry-run is DRY_RUN=true, read by the one parser", () => {
    const args = parseCommandLine(['--dry-run', '--endpoint', base.METRICS_ENDPOINT], { flags: { 'dry-run': 'boolean' }, settings: true });
    const s = parseSettings(settingsEnv({ DRY_RUN: 'false' }, args));
    assert.equal(s.dryRun, true);
    assert.equal(
      parseSettings(settingsEnv({ DRY_RUN: 'no' }, parseCommandLine(['--endpoint', base.METRICS_ENDPOINT], { flags: {}, settings: true }))).dryRun,
      false,
    );
    assert.throws(() => parseSettings({ ...base, DRY_RUN: 'perhaps' }), /^ConfigError: DRY_RUN: expected true or false, got "perhaps"/);
  });
});

describe('invocation body', () => {
  test('empty and JSON objects', () => {
    assert.deepEqual(parseInvocationBody(''), {});
    assert.deepEqual(parseInvocationBody('  '), {});
    assert.deepEqual(parseInvocationBody('{"dryRun":true}'), { dryRun: true });
    assert.deepEqual(parseInvocationBody(Buffer.from('{"dryRun":false,"other":1}')), { dryRun: false });
  });
  test('non-JSON, non-objects and wrong types are rejected with a clear message', () => {
    assert.throws(
      () => parseInvocationBody('dry run please'),
      (e: Error) => e instanceof InvocationError && /not JSON/.test(e.message),
    );
    assert.throws(() => parseInvocationBody('[1,2]'), /JSON object/);
    assert.throws(() => parseInvocationBody('"x"'), /JSON object/);
    assert.throws(() => parseInvocationBody('{"dryRun":"yes"}'), /"dryRun" must be true or false/);
  });
});

describe('URLs in messages', () => {
  test('credential-like query values never appear in setting errors', () => {
    const url = 'http://h:1/metrics?access_token=s3cr3t';
    assert.throws(
      () => parseSettings({ ...base, METRICS_ENDPOINT: `${url},${url}` }),
      (e: Error) => /listed twice/.test(e.message) && !e.message.includes('s3cr3t') && e.message.includes('access_token=redacted'),
    );
  });
  test('no credential reaches a setting error: "/" in an unencoded password, bad OCI_*_ENDPOINT values, pwd= and similar', () => {
    const secret = 'Sup3r/Secr3t';
    const cases: Record<string, string>[] = [
      { METRICS_ENDPOINT: `http://scraper:${secret}@10.0.0.5:9100/metrics` },
      { METRICS_ENDPOINT: `ftp://scraper:${secret}@10.0.0.5/metrics` },
      { METRICS_ENDPOINT: `http://10.0.0.5:9100/metrics?pwd=${secret},http://10.0.0.5:9100/metrics?pwd=${secret}` },
      { METRICS_ENDPOINT: `http://10.0.0.5:9100/metrics?X-Amz-Signature=${secret},http://10.0.0.5:9100/metrics?X-Amz-Signature=${secret}` },
      {
        METRICS_ENDPOINT: `http://10.0.0.5:9100/metrics?sessionid=${secret}&apikey=${secret},http://10.0.0.5:9100/metrics?sessionid=${secret}&apikey=${secret}`,
      },
      { OCI_MONITORING_ENDPOINT: `ftp://u:${secret}@telemetry` },
      { OCI_MONITORING_ENDPOINT: `telemetry-ingestion?token=${secret}` },
      { OCI_SECRETS_ENDPOINT: `https://u:${secret}@vault:99999` },
    ];
    for (const env of cases) {
      assert.throws(
        () => parseSettings({ ...base, ...env }),
        (e: Error) => {
          assert.ok(e instanceof ConfigError, e.message);
          assert.equal(e.message.includes('Secr3t'), false, `leaked: ${e.message}`);
          return true;
        },
      );
    }
  });

  test('the one redaction: user:password (even with "/", "?" or "#" unencoded) and credential-like query values', () => {
    const s = 'Sup3r/S?cr#t';
    for (const u of [
      `http://u:${s}@h:1/m`,
      `not a url //u:${s}@h`,
      `http://h/m?pwd=${s}`,
      `http://h/m?a=1;session_id=${s}`,
      `http://h/m?private_key=${s}&x=1`,
    ]) {
      const shown = redactUrl(u);
      assert.equal(shown.includes('Sup3r') || shown.includes('cr#t'), false, `${u} -> ${shown}`);
    }
    assert.equal(redactUrl('http://h:1/m?email=a@b&n=2'), 'http://h:1/m?email=a@b&n=2', 'an "@" in the query is not userinfo');
    assert.equal(redactUrl(new URL('http://u:p@h:1/m?token=x')), 'http://h:1/m?token=redacted');
  });
});

describe('limits that keep the process alive', () => {
  test('SCRAPE_MAX_BYTES over 512 MiB is refused (V8 cannot hold such a body as a string)', () => {
    assert.equal(parseSettings({ ...base, SCRAPE_MAX_BYTES: String(512 * 1024 * 1024) }).scrapeMaxBytes, 512 * 1024 * 1024);
    assert.throws(
      () => parseSettings({ ...base, SCRAPE_MAX_BYTES: String(512 * 1024 * 1024 + 1) }),
      /SCRAPE_MAX_BYTES: expected a number from 1024 to 536870912/,
    );
  });

  test("SPOOL_MAX_SERIES beyond what OCI's largest function can hold is refused (issue 20 item 4: 1,000,000 was accepted)", () => {
    // A spooled series needs about 8 KB of the function's memory: a million would need about 8 GB, over OCI's 3 GB functions.
    rejects({ SPOOL_MAX_SERIES: '1000000' }, 'SPOOL_MAX_SERIES', /expected|memory/i); // the bound's wording is the memory budget's
  });

  test('SCRAPE_SAMPLE_LIMIT: sized from FN_MEMORY when unset, as given when set', () => {
    assert.equal(parseSettings({ ...base, FN_MEMORY: '256' }).scrapeSampleLimit, defaultSampleLimit(256));
    assert.equal(parseSettings({ ...base, FN_MEMORY: '1024' }).scrapeSampleLimit, 4 * defaultSampleLimit(256));
    assert.equal(parseSettings({ ...base }).scrapeSampleLimit, defaultSampleLimit(256), 'outside OCI Functions: as a 256 MB function');
    assert.equal(parseSettings({ ...base, SCRAPE_SAMPLE_LIMIT: '5000' }).scrapeSampleLimit, 5000);
    assert.throws(() => parseSettings({ ...base, SCRAPE_SAMPLE_LIMIT: '0' }), /SCRAPE_SAMPLE_LIMIT: expected a number from 1/);
  });

  test('METRICS_INCLUDE/EXCLUDE run in linear time; patterns that cannot are refused naming the key', () => {
    const s = parseSettings({ ...base, METRICS_INCLUDE: '^(a+)+$' });
    const started = process.hrtime.bigint();
    assert.equal(s.include!.test(`${'a'.repeat(5000)}!`), false);
    assert.ok(process.hrtime.bigint() - started < 5_000_000_000n, 'a backtracking engine would take longer than the universe');
    assert.throws(() => parseSettings({ ...base, METRICS_INCLUDE: '(a)\\1' }), /METRICS_INCLUDE: the regular expression .* cannot be matched in linear time/);
    assert.throws(() => parseSettings({ ...base, METRICS_EXCLUDE: '^(?!node_)' }), /METRICS_EXCLUDE: .*lookahead/);
  });
});
