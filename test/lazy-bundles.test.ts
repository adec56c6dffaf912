/**
 * The cold start stays where it is: the built function (`dist/func.js`, over the Fn socket) reads only
 * the SDK bundle a configuration needs. State (Object Storage) and discovery (Compute, Identity) live
 * in bundles of their own that a function without them never reads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack, type Stack } from './helpers/stack';
import { startBharatMart, type BharatMart } from '../src/local/demo/bharatmart';
import type { LocalFunction } from '../src/local/fn-agent';

const PROBE = path.join(__dirname, 'helpers', 'bundle-probe.cjs');

/** The bundles the process has read so far (asks the probe; waits for its line, not a time window). */
async function bundlesRead(fn: LocalFunction): Promise<string[]> {
  const before = fn.stderr.length;
  process.kill(fn.pid, 'SIGUSR2');
  for (let waited = 0; waited < 60_000; waited += 20) {
    const line = fn.stderr.slice(before).find((l) => l.startsWith('bundle-probe '));
    if (line) return JSON.parse(line.slice('bundle-probe '.length)) as string[];
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the probe never answered');
}

describe('SDK bundles load only when configured', () => {
  let stack: Stack;
  let app: BharatMart;
  before(async () => {
    stack = await startStack();
    app = await startBharatMart();
  });
  after(async () => {
    await stack.close();
    await app.stop();
  });

  test('a plain function posts with the SDK bundle alone', async () => {
    const fn = await stack.startFn({ METRICS_ENDPOINT: app.url }, ['--require', PROBE]);
    // The SDK bundle may already be loading: the function prepares its client once the socket is ready.
    assert.deepEqual(
      (await bundlesRead(fn)).filter((b) => b !== 'oci-sdk.js'),
      [],
      'no feature bundle before the first call',
    );
    const res = await fn.invoke();
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(await bundlesRead(fn), ['oci-sdk.js']);
  });

  test('a dry-run function reads no bundle, before or after its first call', async () => {
    const fn = await stack.startFn({ METRICS_ENDPOINT: app.url, DRY_RUN: 'true' }, ['--require', PROBE]);
    const res = await fn.invoke();
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(await bundlesRead(fn), []);
  });

  test('a state bucket adds the state bundle, and only it', async () => {
    const fn = await stack.startFn(
      { METRICS_ENDPOINT: app.url, STATE_BUCKET: 'prom2oci-lazy', OBJECT_STORAGE_NAMESPACE: stack.emulator.objectStorage.namespace },
      ['--require', PROBE],
    );
    const res = await fn.invoke();
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(await bundlesRead(fn), ['oci-sdk.js', 'oci-state.js']);
  });
});
