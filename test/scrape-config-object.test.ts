/**
 * SCRAPE_CONFIG_OBJECT through the real function process and the Object Storage twin (signatures
 * verified): a warm container revalidates the file by ETag (GetObject with If-None-Match, 304), so
 * an unchanged file is not downloaded again, counted by the bodies the twin served; a changed file
 * is used by the next invocation and keeps the function's state object; a missing object or bucket
 * (404), a refusal (403), a YAML error and an oversized file are clear errors naming the setting
 * (and the IAM statement); Object Storage not answering keeps the last copy; SCRAPE_CONFIG beside it
 * is a settings error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InvokeResult } from '../src/local/fn-agent';
import { summaryOf } from './helpers/reliability';
import { startStack, type Stack } from './helpers/stack';

const CONFIG_BUCKET = 'prom2oci-config';
const STATE_BUCKET = 'fn-state';
const OBJECT = 'jobs/prometheus.yml';
const DYNAMIC_GROUP = 'prom2oci-function';

/** The failure text of a 502 answer (`detail`), or the body. */
function detailOf(res: InvokeResult): string {
  assert.notEqual(res.status, 200, res.body);
  return (JSON.parse(res.body) as { detail?: string }).detail ?? res.body;
}

describe('SCRAPE_CONFIG_OBJECT in the function: ETag revalidation, changes, and clear errors', () => {
  let stack: Stack;
  let server: Server;
  let host = '';

  before(async () => {
    stack = await startStack();
    stack.emulator.objectStorage.createBucket(CONFIG_BUCKET);
    stack.emulator.objectStorage.createBucket(STATE_BUCKET);
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`# TYPE hits counter\nhits{path="${req.url}"} 1\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await stack.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const os = () => stack.emulator.objectStorage;
  const upload = (object: string, text: string, bucket = CONFIG_BUCKET) => os().putDirect(bucket, object, Buffer.from(text));
  const downloads = (object = OBJECT, bucket = CONFIG_BUCKET) => os().bodiesServed.get(`${bucket}/${object}`) ?? 0;
  const env = (over: Record<string, string> = {}) => ({
    SCRAPE_CONFIG_OBJECT: `${CONFIG_BUCKET}/${OBJECT}`,
    OBJECT_STORAGE_NAMESPACE: os().namespace,
    FUNCTION_DYNAMIC_GROUP: DYNAMIC_GROUP,
    POST_TIMEOUT_MS: '3000',
    ...over,
  });
  const job = (name: string, label: string) => `scrape_configs:
  - job_name: ${name}
    metrics_path: /${name}
    static_configs: [{ targets: ['${host}'], labels: { team: ${label} } }]
`;
  /** `job team` of every posted `hits` series. */
  const hits = (res: InvokeResult) => (summaryOf(res).metricData ?? []).filter((m) => m.name === 'hits').map((m) => `${m.dimensions.job} ${m.dimensions.team}`);

  test('unchanged: 304 and no download; changed: the next invocation uses it, and the state object stays', { timeout: 180_000 }, async () => {
    upload(OBJECT, job('shop', 'red'));
    const fn = await stack.startFn(env({ STATE_BUCKET }));
    const first = await fn.invoke({ body: { dryRun: true } });
    assert.deepEqual(hits(first), ['shop red']);
    assert.equal(summaryOf(first).scrapeConfig?.object?.read, 'downloaded');
    assert.equal(summaryOf(first).scrapeConfig?.object?.name, `oci://${CONFIG_BUCKET}@${os().namespace}/${OBJECT}`);
    assert.equal(downloads(), 1);

    const second = await fn.invoke({ body: { dryRun: true } });
    assert.deepEqual(hits(second), ['shop red'], 'the parsed copy of the container');
    assert.equal(summaryOf(second).scrapeConfig?.object?.read, 'unchanged');
    assert.equal(downloads(), 1, 'an unchanged file is not downloaded again');
    const conditional = stack.emulator.calls.filter((c) => c.route === 'objectstorage' && c.path.endsWith(encodeURIComponent(OBJECT)) && c.status === 304);
    assert.equal(conditional.length, 1, 'the second invocation asked with If-None-Match and got 304');

    // A posting run writes the state; the changed file must keep the same state object.
    const posting = await fn.invoke();
    assert.equal(posting.status, 200, posting.body);
    const stateObjects = () => [...(os().buckets.get(STATE_BUCKET)?.keys() ?? [])].filter((k) => k.startsWith('prom2oci/state-'));
    assert.equal(stateObjects().length, 1);
    const stateName = stateObjects()[0];

    upload(OBJECT, job('cart', 'blue'));
    const changed = await fn.invoke();
    assert.equal(changed.status, 200, changed.body);
    assert.equal(summaryOf(changed).scrapeConfig?.object?.read, 'downloaded');
    assert.deepEqual(
      summaryOf(changed).targets.map((t) => new URL(t.url).pathname),
      ['/cart'],
    );
    const stored = stack.emulator.query({ name: 'hits' }).map((s) => `${s.dimensions.job} ${s.dimensions.team}`);
    assert.ok(stored.includes('cart blue'), `the new job and labels were posted: ${stored.join(', ')}`);
    assert.equal(downloads(), 2);
    assert.deepEqual(stateObjects(), [stateName], 'a changed file keeps the state object (never keyed by the ETag)');
    await fn.stop();
  });

  test('Object Storage not answering: a warm container keeps the last copy, with a warning', { timeout: 120_000 }, async () => {
    upload(OBJECT, job('shop', 'green'));
    const fn = await stack.startFn(env());
    assert.deepEqual(hits(await fn.invoke({ body: { dryRun: true } })), ['shop green']);
    stack.emulator.enqueueFault({ status: 503, match: /prometheus\.yml/ }, 1, 'objectstorage');
    const kept = await fn.invoke({ body: { dryRun: true } });
    assert.deepEqual(hits(kept), ['shop green']);
    const report = summaryOf(kept).scrapeConfig?.object;
    assert.equal(report?.read, 'kept');
    assert.match(report?.warning ?? '', /503 .*the last copy read was used/);
    await fn.stop();

    // A cold container has no copy: the same fault is a clear error, without the request's signature a careless server echoed.
    stack.emulator.enqueueFault({ status: 503, match: /prometheus\.yml/, echoAuthorization: true }, 1, 'objectstorage');
    const cold = await stack.startFn(env());
    const res = await cold.invoke({ body: { dryRun: true } });
    assert.match(detailOf(res), /configuration error: SCRAPE_CONFIG_OBJECT: oci:\/\/.* could not be read: 503/);
    const echoed = stack.emulator.calls.filter((c) => c.route === 'objectstorage' && c.status === 503).length;
    assert.ok(echoed >= 1, 'the fault answered');
    // The echo carries the signature and, in keyId, the resource-principal token (ST$<JWT>).
    const secretShown = /signature=\\?"[A-Za-z0-9+/=]{20,}|ST\$ey[\w-]{20,}/;
    assert.doesNotMatch(detailOf(res), secretShown, 'no signature or token in the response');
    assert.doesNotMatch(res.body, secretShown);
    assert.doesNotMatch(cold.stdout.join('\n') + cold.stderr.join('\n'), secretShown, 'no signature or token in the log');
    await cold.stop();
  });

  test('a missing object, a missing bucket and a 403: errors naming the setting and the IAM statement', { timeout: 120_000 }, async () => {
    const missingObject = await stack.startFn(env({ SCRAPE_CONFIG_OBJECT: `${CONFIG_BUCKET}/nothing-here.yml` }));
    const noObject = detailOf(await missingObject.invoke({ body: { dryRun: true } }));
    assert.match(
      noObject,
      new RegExp(
        'configuration error: SCRAPE_CONFIG_OBJECT: Object Storage answered 404 ObjectNotFound to the read of ' +
          'oci://prom2oci-config@\\w+/nothing-here\\.yml: the object does not exist',
      ),
    );
    await missingObject.stop();

    const missingBucket = await stack.startFn(env({ SCRAPE_CONFIG_OBJECT: `no-such-bucket/${OBJECT}` }));
    const noBucket = detailOf(await missingBucket.invoke({ body: { dryRun: true } }));
    assert.match(noBucket, /SCRAPE_CONFIG_OBJECT: Object Storage answered 404 BucketNotFound .*the bucket no-such-bucket does not exist/);
    assert.ok(
      noBucket.includes(
        `"Allow dynamic-group ${DYNAMIC_GROUP} to read objects in compartment <the bucket's compartment> where target.bucket.name = 'no-such-bucket'"`,
      ),
      noBucket,
    );
    await missingBucket.stop();

    upload(OBJECT, job('shop', 'red'));
    stack.emulator.enqueueFault({ status: 403, code: 'NotAuthorized', match: /prometheus\.yml/ }, 1, 'objectstorage');
    const refused = await stack.startFn(env());
    const forbidden = detailOf(await refused.invoke({ body: { dryRun: true } }));
    assert.match(
      forbidden,
      /SCRAPE_CONFIG_OBJECT: Object Storage refused the read of oci:\/\/.*prometheus\.yml \(403 NotAuthorized\): add the policy statement/,
    );
    assert.ok(forbidden.includes(`to read objects in compartment <the bucket's compartment> where target.bucket.name = '${CONFIG_BUCKET}'`), forbidden);
    // No stack trace, and the process lives on: the next invocation reads the file.
    assert.doesNotMatch(forbidden, /\n\s+at /);
    assert.deepEqual(hits(await refused.invoke({ body: { dryRun: true } })), ['shop red']);
    await refused.stop();
  });

  test('a YAML error names the object, line and column, and is not downloaded again while unchanged', { timeout: 120_000 }, async () => {
    const bad = 'bad.yml';
    upload(bad, 'scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [x:1]\n  - job_name: b\n');
    const fn = await stack.startFn(env({ SCRAPE_CONFIG_OBJECT: `${CONFIG_BUCKET}/${bad}` }));
    const first = detailOf(await fn.invoke({ body: { dryRun: true } }));
    assert.match(first, /configuration error: SCRAPE_CONFIG_OBJECT: prom2oci-config\/bad\.yml line \d+, column \d+: invalid YAML/);
    const again = detailOf(await fn.invoke({ body: { dryRun: true } }));
    assert.equal(again, first);
    assert.equal(downloads(bad), 1, 'the broken file is remembered by its ETag');
    upload(bad, job('fixed', 'ok'));
    assert.deepEqual(hits(await fn.invoke({ body: { dryRun: true } })), ['fixed ok'], 'a corrected file is used by the next invocation');
    await fn.stop();
  });

  test(
    'a file over the cap, or over what the memory budget holds, is a named error; SCRAPE_CONFIG beside it is a settings error',
    { timeout: 120_000 },
    async () => {
      const big = 'big.yml';
      upload(big, `${job('shop', 'red')}# ${'x'.repeat(1024 * 1024)}\n`);
      const fn = await stack.startFn(env({ SCRAPE_CONFIG_OBJECT: `${CONFIG_BUCKET}/${big}` }));
      assert.match(
        detailOf(await fn.invoke({ body: { dryRun: true } })),
        /SCRAPE_CONFIG_OBJECT: oci:\/\/.*big\.yml is \d+ bytes, more than the 1048576 bytes \(1 MiB\) a function reads/,
      );
      await fn.stop();

      // Under the 1 MiB cap, but more than a 128 MB function's memory budget holds for a configuration: named, as a configuration error.
      const mid = 'mid.yml';
      upload(mid, `${job('shop', 'red')}# ${'x'.repeat(700 * 1024)}\n`);
      const small = await stack.startFn(env({ SCRAPE_CONFIG_OBJECT: `${CONFIG_BUCKET}/${mid}`, FN_MEMORY: '128' }));
      assert.match(
        detailOf(await small.invoke({ body: { dryRun: true } })),
        /configuration error: SCRAPE_CONFIG_OBJECT: memory budget: the scrape configuration \(0\.7 MB of text, .*\) is more than this function's 128 MB memory/,
      );
      await small.stop();

      const both = await stack.startFn(env({ SCRAPE_CONFIG: job('shop', 'red') }));
      assert.match(
        detailOf(await both.invoke({ body: { dryRun: true } })),
        /configuration error: SCRAPE_CONFIG_OBJECT: cannot be set together with SCRAPE_CONFIG/,
      );
      await both.stop();
      const noNamespace = await stack.startFn({ ...env(), OBJECT_STORAGE_NAMESPACE: '' });
      assert.match(detailOf(await noNamespace.invoke({ body: { dryRun: true } })), /OBJECT_STORAGE_NAMESPACE: is required with SCRAPE_CONFIG_OBJECT/);
      await noNamespace.stop();
    },
  );
});
