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
import { claimSpool, decodeSpool, encodeSpool, releaseClaim, SPOOL_CLAIM_MARGIN_MS, toSpoolEntry } from '../src/state/spool';
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
    assert.deepEqual(decodeState(bytes, 'x'), { doc, replaced: {}, jsonBytes: JSON.stringify(doc).length });
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
  });
  const v1 = (rest: Record<string, unknown>) => gzipSync(JSON.stringify({ format: 'prom2oci-state', version: 1, targets: {}, ...rest }));
  it('a malformed previous scrape is dropped and named; the other targets are kept', () => {
    const good = scrape(1, 2);
    for (const bad of [
      { t: 1, f: { x: { k: 'c', s: { '[]': 'NaN' } } } },
      { t: 'soon', f: {} },
      { t: 1, f: {}, extra: 1 },
    ]) {
      const { doc, replaced } = decodeState(v1({ targets: { a: bad, b: good } }), 'x');
      assert.deepEqual(doc.targets, { b: good }, JSON.stringify(bad));
      assert.match(replaced.targets, /1 malformed previous scrape/);
    }
  });
  it('every section is validated on read: one in an unexpected shape is named and replaced, the others kept (a {} spool used to stop every run)', () => {
    const targets = { a: scrape(1, 2) };
    for (const spool of [{}, 'x', 42, null, { s: ['a'] }, { s: ['a'], e: 'rows' }, { s: [1], e: [] }]) {
      const { doc, replaced } = decodeState(v1({ targets, spool }), 'x');
      assert.deepEqual(doc, { format: 'prom2oci-state', version: 1, targets }, JSON.stringify(spool));
      assert.deepEqual(Object.keys(replaced), ['spool'], JSON.stringify(spool));
    }
    for (const claim of [{}, { by: '', until: 1 }, { by: 'x', until: 'later' }, 'x']) {
      assert.deepEqual(Object.keys(decodeState(v1({ targets, claim }), 'x').replaced), ['claim'], JSON.stringify(claim));
    }
    assert.deepEqual(decodeState(v1({ targets, w: 7 }), 'x').replaced, { w: 'not a write token' });
    const unknown = decodeState(v1({ targets, surprise: { a: 1 } }), 'x');
    assert.deepEqual(unknown.doc, { format: 'prom2oci-state', version: 1, targets });
    assert.deepEqual(Object.keys(unknown.replaced), ['surprise']);
    assert.deepEqual(Object.keys(decodeState(v1({ targets: [1, 2] }), 'x').replaced), ['targets']);
  });
  it('the first stored spool form (a list of entry objects), which the code claims to read, is read', () => {
    const entry = { namespace: 'ns', compartmentId: 'c', name: 'm', dimensions: { a: 'b' }, points: [[1000, 2]] };
    const { doc, replaced } = decodeState(v1({ spool: [entry, { bad: 1 }] }), 'x');
    assert.deepEqual(replaced, {});
    assert.deepEqual(decodeSpool(doc.spool, { max: 10 }).entries, [entry]);
  });
  it('decompression is capped: an object inflating beyond the bound is too_large, never inflated whole', () => {
    const bomb = gzipSync(JSON.stringify({ format: 'prom2oci-state', version: 1, targets: {}, pad: 'x'.repeat(5_000_000) }));
    assert.ok(bomb.length < 10_000, 'a small object');
    assert.throws(
      () => decodeState(bomb, 'x', 1_000_000),
      (e: unknown) => e instanceof StateError && e.reason === 'too_large',
    );
  });
  it('reads the settled posting rate when it is well formed; any other pacing section is named and dropped, the rest kept', () => {
    const doc: StateDocument = { ...emptyStateDocument(), targets: { a: scrape(1, 2) }, pacing: { rate: 24.5, at: 1_700_000_000_000 } };
    assert.deepEqual(decodeState(encodeState(doc), 'x'), { doc, replaced: {}, jsonBytes: JSON.stringify(doc).length });
    for (const pacing of [
      {},
      'fast',
      [],
      { rate: 0, at: 1 },
      { rate: -3, at: 1 },
      { rate: '24', at: 1 },
      { rate: 24 },
      { rate: 24, at: null },
      null,
      { rate: 9, at: 1, x: 1 },
    ]) {
      const bytes = gzipSync(JSON.stringify({ format: 'prom2oci-state', version: 1, targets: { a: scrape(1, 2) }, pacing }));
      const read = decodeState(bytes, 'obj');
      assert.deepEqual(Object.keys(read.replaced), ['pacing'], JSON.stringify(pacing));
      assert.equal(read.doc.pacing, undefined);
      assert.deepEqual(read.doc.targets, { a: scrape(1, 2) }, 'the previous scrapes are kept');
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
  it('a write whose answer was lost (stored, then 412 on the repeat) is recognised by its token: the change is not applied twice', async () => {
    const inner = memoryBackend();
    let lose = false;
    // Object Storage's backend repeats a write that got no answer; the repeat then meets its own version: 412.
    const lossy: BlobBackend = {
      where: 'lossy',
      get: (s) => inner.get(s),
      put: async (bytes, etag, s) => {
        const stored = await inner.put(bytes, etag, s);
        return lose && stored !== false ? false : stored;
      },
    };
    const store = createStateStore(lossy);
    const entry = (name: string) =>
      toSpoolEntry({ namespace: 'ns', compartmentId: 'c', name, dimensions: { a: 'b' }, datapoints: [{ timestamp: new Date(1000), value: 1 }] });
    let applied = 0;
    const appendSpool = (name: string) => (latest: StateDocument) => {
      applied++;
      const had = decodeSpool(latest.spool, { max: 100 }).entries;
      return { ...latest, spool: encodeSpool([...had, entry(name)]) };
    };
    lose = true;
    const session = await store.open(signal());
    assert.deepEqual(await session.save(appendSpool('a'), signal()), { attempts: 1 });
    assert.equal(applied, 1, "applied once: the re-read document carried this write's token");
    lose = false;
    const doc = (await store.open(signal())).doc;
    assert.deepEqual(
      decodeSpool(doc.spool, { max: 100 }).entries.map((e) => e.name),
      ['a'],
    );
  });
  it('a failed write leaves its change pending: the next write of the session stores it (a failed state write used to erase the previous scrape)', async () => {
    const inner = memoryBackend();
    let fail = false;
    const flaky: BlobBackend = {
      where: 'flaky',
      get: (s) => inner.get(s),
      put: (bytes, etag, s) => (fail ? Promise.reject(new StateError('unavailable', '503')) : inner.put(bytes, etag, s)),
    };
    const store = createStateStore(flaky);
    await (await store.open(signal())).save(withTargets({ a: scrape(1, 1) }), signal());
    const session = await store.open(signal());
    delete session.doc.targets.a; // the pipeline frees the previous scrapes it replaces before posting
    fail = true;
    await assert.rejects(session.save(withTargets({ a: scrape(2, 2) }), signal()));
    fail = false;
    await session.save((latest) => ({ ...latest, spool: encodeSpool([]) }), signal());
    assert.deepEqual((await store.open(signal())).doc.targets, { a: scrape(2, 2) });
  });
  it('retention: a write keeps only the targets seen within the maximum age', async () => {
    const store = createStateStore(memoryBackend());
    await (await store.open(signal())).save(withTargets({ gone: scrape(1_000, 1), recent: scrape(250_000, 1) }), signal());
    await (await store.open(signal())).save(withTargets({ now: scrape(300_000, 1) }, { nowMs: 300_000, maxAgeMs: 100_000 }), signal());
    assert.deepEqual(Object.keys((await store.open(signal())).doc.targets).sort(), ['now', 'recent']);
  });
  it('overlapping invocations: only one claims the spool; a claim lapses after its time; its holder releases it', async () => {
    const store = createStateStore(memoryBackend());
    const entry = toSpoolEntry({
      namespace: 'ns',
      compartmentId: 'c',
      name: 'm',
      dimensions: { a: 'b' },
      datapoints: [{ timestamp: new Date(1000), value: 1 }],
    });
    await (await store.open(signal())).save((d) => ({ ...d, spool: encodeSpool([entry]) }), signal());
    const a = await store.open(signal());
    const b = await store.open(signal());
    const claimA = claimSpool(a.id, 10_000, 5_000);
    const claimB = claimSpool(b.id, 10_000, 5_000);
    await a.save(claimA.change, signal());
    assert.equal(await b.save(claimB.change, signal()).then((r) => r.attempts), 2, 'b met a 412 and re-read');
    assert.ok(claimA.claimed(), 'a holds the claim');
    assert.equal(claimB.claimed(), undefined, 'b saw a live claim and did not take it');
    // a dies: after its claim lapses, another invocation may claim.
    const c = await store.open(signal());
    const late = claimSpool(c.id, 80_000, 10_000 + SPOOL_CLAIM_MARGIN_MS + 1);
    await c.save(late.change, signal());
    assert.ok(late.claimed());
    await c.save((d) => releaseClaim(d, c.id, 80_000), signal());
    assert.equal((await store.open(signal())).doc.claim, undefined);
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
      const store = createStateStore(fileBackend(path));
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
