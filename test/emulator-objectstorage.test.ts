/**
 * The emulator's Object Storage through the real oci-objectstorage SDK: signatures verified (a
 * tampered one is refused), ETags, If-Match / If-None-Match answered with 412, 404 for a missing
 * bucket or object, HeadObject, and fault injection on the route.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as common from 'oci-common';
import { ObjectStorageClient } from 'oci-objectstorage';
import { makeConfigFile } from '../src/local/emulator/credentials';
import { startIngestionEmulator, type IngestionEmulator } from '../src/local/emulator/server';

let dir: string;
let emu: IngestionEmulator;
let client: ObjectStorageClient;
let ns: string;

/** The SDK error's status and service code, or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    const err = e as { statusCode?: number; serviceCode?: string };
    return `${err.statusCode} ${err.serviceCode}`;
  }
}

/** Reads a GetObject body. */
async function text(value: unknown): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of value as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

describe('emulator: Object Storage GetObject / PutObject / HeadObject', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prom2oci-os-'));
    const cfg = await makeConfigFile(dir);
    emu = await startIngestionEmulator({ configKeys: { [cfg.keyId]: cfg.publicKeyPem } });
    emu.objectStorage.createBucket('b1');
    ns = emu.objectStorage.namespace;
    const provider = new common.ConfigFileAuthenticationDetailsProvider(cfg.configPath, 'DEFAULT');
    client = new ObjectStorageClient(
      { authenticationDetailsProvider: provider },
      { circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }), retryConfiguration: common.NoRetryConfigurationDetails },
    );
    client.endpoint = emu.url;
  });
  after(async () => {
    await emu.close();
    await rm(dir, { recursive: true, force: true });
  });

  const at = { namespaceName: '', bucketName: 'b1', objectName: 'dir/state.json.gz' };
  const req = () => ({ ...at, namespaceName: ns });

  test('create-only put, conditional overwrite by ETag, 412 for a stale ETag or an existing object', async () => {
    assert.equal(await outcome(client.getObject(req())), '404 ObjectNotFound');
    const created = await client.putObject({ ...req(), putObjectBody: Buffer.from('v1'), ifNoneMatch: '*' });
    assert.ok(created.eTag);
    assert.equal(await outcome(client.putObject({ ...req(), putObjectBody: Buffer.from('again'), ifNoneMatch: '*' })), '412 IfNoneMatchFailed');
    const got = await client.getObject(req());
    assert.equal(got.eTag, created.eTag);
    assert.equal(await text(got.value), 'v1');
    const second = await client.putObject({ ...req(), putObjectBody: Buffer.from('v2'), ifMatch: created.eTag });
    assert.notEqual(second.eTag, created.eTag);
    assert.equal(await outcome(client.putObject({ ...req(), putObjectBody: Buffer.from('lost'), ifMatch: created.eTag })), '412 IfMatchFailed');
    const head = await client.headObject(req());
    assert.deepEqual([head.eTag, head.contentLength], [second.eTag, 2]);
    assert.equal(await text((await client.getObject(req())).value), 'v2');
    assert.equal(
      await outcome(client.putObject({ ...req(), objectName: 'absent', putObjectBody: Buffer.from('x'), ifMatch: 'some-etag' })),
      '412 IfMatchFailed',
    );
  });

  test('404 for a missing bucket, a denied bucket (no policy) and another namespace', async () => {
    assert.equal(await outcome(client.getObject({ ...req(), bucketName: 'nope' })), '404 BucketNotFound');
    assert.equal(await outcome(client.putObject({ ...req(), bucketName: 'nope', putObjectBody: Buffer.from('x') })), '404 BucketNotFound');
    emu.objectStorage.createBucket('secret');
    emu.objectStorage.deniedBuckets.add('secret');
    assert.equal(await outcome(client.getObject({ ...req(), bucketName: 'secret' })), '404 BucketNotFound');
    assert.equal(await outcome(client.getObject({ ...req(), namespaceName: 'othertenancy' })), '404 NamespaceNotFound');
  });

  test('requests are signature-checked: an unsigned or tampered request is 401', async () => {
    const url = `${emu.url}/n/${ns}/b/b1/o/${encodeURIComponent(at.objectName)}`;
    assert.equal((await fetch(url)).status, 401);
    const signed = emu.calls.filter((c) => c.route === 'objectstorage' && c.status !== 401);
    assert.ok(signed.length > 0 && signed.every((c) => c.authKind === 'config'));
    const put = await fetch(url, {
      method: 'PUT',
      body: 'x',
      headers: {
        authorization: 'Signature version="1",keyId="a/b/c",algorithm="rsa-sha256",headers="date (request-target) host",signature="AAAA"',
        date: new Date().toUTCString(),
      },
    });
    assert.equal(put.status, 401);
  });

  test('faults on the route: 503, then a hang the client abandons', async () => {
    emu.enqueueFault({ status: 503 }, 1, 'objectstorage');
    assert.equal(await outcome(client.getObject(req())), '503 ServiceUnavailable');
    emu.enqueueFault({ hangMs: 60_000 }, 1, 'objectstorage');
    const controller = new AbortController();
    const gaveUp = outcome(fetch(`${emu.url}/n/${ns}/b/b1/o/x`, { signal: controller.signal }));
    while (!emu.calls.some((c) => c.route === 'objectstorage' && c.fault === 'hang') && emu.pendingFaults('objectstorage') > 0)
      await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    assert.match(await gaveUp, /undefined/);
    assert.equal(await outcome(client.getObject(req())), 'ok', 'the next call is served');
  });
});
