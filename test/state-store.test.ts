/**
 * The state store's rules over real backends (memory, file): conditional writes, a 412 race that
 * re-reads and keeps the newer scrape per target, bounded retries, corrupt/foreign/newer objects.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { decodeState, encodeState } from '../src/state/codec';
import { StateError } from '../src/state/errors';
import { fileBackend } from '../src/cli/state-file';
import { createStateStore, MAX_SAVE_ATTEMPTS, memoryBackend, withPacing, withTargets, type BlobBackend } from '../src/state/store';
import { emptyStateDocument, type StateDocument, type TargetState } from '../src/types/state';

const scrape = (t: number, v: number): TargetState => ({ t, f: { c_total: { k: 'c', s: { '[]': [v] } } } });
const signal = () => AbortSignal.timeout(60_000);

describe('state codec', () => {
  it('round-trips a document, gzip-compressed', () => {
    const doc: StateDocument = { ...emptyStateDocument(), targets: { a: scrape(1, 2) } };
    const bytes = encodeState(doc);
    assert.equal(bytes[0], 0x1f, 'gzip magic');
    assert.deepEqual(decodeState(bytes, 'x'), doc);
  });
  it('names corrupt, foreign and newer objects', () => {
    const reason = (bytes: Uint8Array) => {
      try {
        decodeState(bytes, 'obj');
        return 'decoded';
      } catch (e) {
        assert.ok(e instanceof StateError);
        return e.reason;
      }
    };
    assert.equal(reason(Buffer.from('plain text')), 'corrupt');
    assert.equal(reason(gzipSync('{not json')), 'corrupt');
    assert.equal(reason(gzipSync(JSON.stringify({ hello: 'world' }))), 'foreign');
    assert.equal(reason(gzipSync(JSON.stringify({ format: 'prom2oci-state', version: 2, targets: {} }))), 'unsupported_version');
    assert.equal(
      reason(gzipSync(JSON.stringify({ format: 'prom2oci-state', version: 1, targets: { a: { t: 1, f: { x: { k: 'c', s: { '[]': 'NaN' } } } } } }))),
      'corrupt',
    );
    assert.equal(reason(gzipSync(JSON.stringify({ format: 'prom2oci-state', version: 1, targets: { a: { t: 'soon', f: {} } } }))), 'corrupt');
  });
  it('reads the settled posting rate when it is well formed, and names any other pacing section corrupt', () => {
    const doc: StateDocument = { ...emptyStateDocument(), pacing: { rate: 24.5, at: 1_700_000_000_000 } };
    assert.deepEqual(decodeState(encodeState(doc), 'x'), doc);
    for (const pacing of [{}, 'fast', [], { rate: 0, at: 1 }, { rate: -3, at: 1 }, { rate: '24', at: 1 }, { rate: 24 }, { rate: 24, at: null }, null]) {
      const bytes = gzipSync(JSON.stringify({ format: 'prom2oci-state', version: 1, targets: {}, pacing }));
      assert.throws(
        () => decodeState(bytes, 'obj'),
        (e) => e instanceof StateError && e.reason === 'corrupt',
        JSON.stringify(pacing),
      );
    }
  });
  it('keeps the later settled rate when two invocations write it', () => {
    const older = { rate: 10, at: 1000 };
    const newer = { rate: 30, at: 2000 };
    const base = emptyStateDocument();
    assert.deepEqual(withPacing(older)({ ...base, pacing: newer }).pacing, newer);
    assert.deepEqual(withPacing(newer)({ ...base, pacing: older }).pacing, newer);
    assert.deepEqual(withPacing(older)(base).pacing, older);
  });
});

describe('state store (memory backend)', () => {
  it('first write is create-only; later writes need the version read', async () => {
    const store = createStateStore(memoryBackend());
    const s1 = await store.open(signal());
    assert.deepEqual(s1.doc.targets, {});
    assert.deepEqual(await s1.save(withTargets({ a: scrape(1, 1) }), signal()), { attempts: 1 });
    const s2 = await store.open(signal());
    assert.deepEqual(s2.doc.targets, { a: scrape(1, 1) });
  });
  it('overlapping invocations: the later writer re-reads, keeps the newer scrape per target, and writes both', async () => {
    const store = createStateStore(memoryBackend());
    await (await store.open(signal())).save(withTargets({ a: scrape(1, 1), b: scrape(1, 1) }), signal());
    const slow = await store.open(signal()); // started first, scraped a at t=2
    const fast = await store.open(signal()); // started later, scraped a at t=3 and b at t=3, wrote first
    await fast.save(withTargets({ a: scrape(3, 30), b: scrape(3, 30) }), signal());
    const saved = await slow.save(withTargets({ a: scrape(2, 20), c: scrape(2, 20) }), signal());
    assert.equal(saved.attempts, 2, 'one 412, one re-read, one retry');
    const final = (await store.open(signal())).doc.targets;
    assert.deepEqual(final, { a: scrape(3, 30), b: scrape(3, 30), c: scrape(2, 20) }, 'never rolled back');
  });
  it('a session saves twice (the scrape, then the spool) without a conflict with its own first write, on every backend', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prom2oci-state-'));
    try {
      for (const backend of [memoryBackend(), fileBackend(join(dir, 'state.json.gz'))]) {
        const store = createStateStore(backend);
        const session = await store.open(signal());
        assert.deepEqual(await session.save(withTargets({ a: scrape(1, 1) }), signal()), { attempts: 1 }, backend.where);
        assert.deepEqual(session.doc.targets, { a: scrape(1, 1) }, `${backend.where}: the session stands on what it wrote`);
        assert.deepEqual(await session.save(withTargets({ b: scrape(1, 2) }), signal()), { attempts: 1 }, `${backend.where}: no 412 from itself`);
        assert.deepEqual((await store.open(signal())).doc.targets, { a: scrape(1, 1), b: scrape(1, 2) }, backend.where);
        // Another writer after that is still seen: a 412, a re-read, both kept.
        await (await store.open(signal())).save(withTargets({ c: scrape(1, 3) }), signal());
        assert.deepEqual(await session.save(withTargets({ d: scrape(1, 4) }), signal()), { attempts: 2 }, backend.where);
        assert.deepEqual(Object.keys((await store.open(signal())).doc.targets).sort(), ['a', 'b', 'c', 'd'], backend.where);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('gives up after a bounded number of conflicts with a named cause', async () => {
    const inner = memoryBackend();
    let puts = 0;
    const alwaysRaced: BlobBackend = { where: 'raced', get: (s) => inner.get(s), put: () => Promise.resolve((puts++, false as const)) };
    const session = await createStateStore(alwaysRaced).open(signal());
    await assert.rejects(session.save(withTargets({ a: scrape(1, 1) }), signal()), (e: unknown) => e instanceof StateError && e.reason === 'conflict');
    assert.equal(puts, MAX_SAVE_ATTEMPTS);
  });
});

describe('state store (file backend)', () => {
  it('a corrupt file is reported and replaced; a foreign one is left alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prom2oci-state-'));
    try {
      const path = join(dir, 'state.bin');
      const store = createStateStore(fileBackend(path), { local: true });
      assert.deepEqual((await store.open(signal())).doc.targets, {}, 'missing file: no state yet');
      await writeFile(path, 'garbage');
      const session = await store.open(signal());
      assert.equal(session.problem?.reason, 'corrupt');
      await session.save(withTargets({ a: scrape(5, 5) }), signal());
      assert.deepEqual((await store.open(signal())).doc.targets, { a: scrape(5, 5) });
      await writeFile(path, gzipSync(JSON.stringify({ someone: 'else' })));
      await assert.rejects(store.open(signal()), (e: unknown) => e instanceof StateError && e.reason === 'foreign');
      assert.deepEqual(JSON.parse((await import('node:zlib')).gunzipSync(await readFile(path)).toString()), { someone: 'else' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
