/**
 * The pacing board through the real function process (Fn socket protocol, resource principal, the
 * emulator's Object Storage with verified signatures, the real oci-objectstorage SDK): functions
 * sharing a STATE_BUCKET see one another and start at their share; a later start splits the rates
 * they settled on; while posting they take the even split; a malformed, huge or foreign object under
 * the board's prefix is named and left out, a refused call named with its policy statement (the run
 * paces alone); without a bucket, or with PACING_BOARD=false, there is no board. The rules themselves:
 * test/board.test.ts; whole runs of several deployments: test/pacing.test.ts.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InvocationSummary } from '../src/handler/summary';
import type { LocalFunction } from '../src/local/fn-agent';
import { BOARD_PREFIX } from '../src/state/board';
import { parseEntry, type BoardEntry } from '../src/publish/board';
import { assertAccounted, stackAndTargetForSuite, summaryOf } from './helpers/reliability';

const BUCKET = 'fn-board';

/** A target that answers once `ready()` holds, checked at each request and each time `check()` is called. */
interface GatedTarget {
  url: string;
  body: string;
  ready: () => boolean;
  check(): void;
  close(): Promise<void>;
}

async function startGatedTarget(body: string): Promise<GatedTarget> {
  const waiting: (() => void)[] = [];
  const target: GatedTarget = {
    url: '',
    body,
    ready: () => true,
    check() {
      if (target.ready()) for (const answer of waiting.splice(0)) answer();
    },
    close: () => Promise.resolve(),
  };
  const server: Server = createServer((_req, res) => {
    waiting.push(() => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(target.body);
    });
    target.check();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  target.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return target;
}

/** 20 gauges: one call each invocation. */
const EXPOSITION = Array.from({ length: 20 }, (_, i) => `# TYPE g${i} gauge\ng${i} ${i}`).join('\n') + '\n';

describe('the pacing board, through the function process', () => {
  const fx = stackAndTargetForSuite(() => startGatedTarget(EXPOSITION));
  before(() => fx.stack.emulator.objectStorage.createBucket(BUCKET));

  const env = (over: Record<string, string> = {}) => ({
    METRICS_ENDPOINT: fx.target.url,
    STATE_BUCKET: BUCKET,
    OBJECT_STORAGE_NAMESPACE: fx.stack.emulator.objectStorage.namespace,
    DERIVED_SERIES: 'none',
    POST_TIMEOUT_MS: '30000',
    ...over,
  });
  const objects = () => fx.stack.emulator.objectStorage.buckets.get(BUCKET)!;
  const boardNames = () => [...objects().keys()].filter((k) => k.startsWith(BOARD_PREFIX));
  const entryOf = (name: string): BoardEntry => {
    const e = parseEntry(objects().get(name)!.bytes.toString('utf8'));
    assert.ok(!('problem' in e), `${name}: ${JSON.stringify(e)}`);
    return e;
  };
  const invoke = async (fn: LocalFunction): Promise<InvocationSummary> => {
    const s = summaryOf(await fn.invoke());
    assertAccounted(s);
    assert.equal(s.posted, s.samples, 'every sample posted');
    return s;
  };
  const fresh = () => {
    fx.stack.emulator.reset();
    fx.stack.emulator.objectStorage.clearObjects();
    fx.stack.emulator.objectStorage.beforePut = undefined;
    fx.target.ready = () => true;
  };
  /** A peer's entry, as another deployment writes it. */
  const putPeer = (name: string, fields: Partial<BoardEntry>) => {
    const now = Date.now();
    fx.stack.emulator.objectStorage.putDirect(BUCKET, `${BOARD_PREFIX}${name}.json`, Buffer.from(JSON.stringify({ v: 1, began: now, at: now, ...fields })));
  };

  test('two functions sharing a bucket, invoked together: each sees the other and starts at its share of the tenancy, not at 49 calls/s', async () => {
    fresh();
    // Two deployments of different targets (another path: another state object, another board entry).
    const a = await fx.stack.startFn(env());
    const b = await fx.stack.startFn(env({ METRICS_ENDPOINT: `${fx.target.url}?b` }));
    // Invoked by the same trigger: each scrape is answered once both heartbeats are on the board.
    fx.target.ready = () => boardNames().length >= 2;
    fx.stack.emulator.objectStorage.beforePut = () => setImmediate(() => fx.target.check());
    const [sa, sb] = await Promise.all([invoke(a), invoke(b)]);
    const share = (49 - 0.75) / 2;
    for (const [name, s] of [
      ['a', sa],
      ['b', sb],
    ] as const) {
      assert.equal(s.pacing.board?.peers, 1, `${name} saw the other: ${JSON.stringify(s.pacing.board)}`);
      assert.equal(s.pacing.board?.shareRate, Math.round(share * 100) / 100, name);
      assert.equal(s.pacing.startRate, Math.round(share * 100) / 100, `${name} started at its share`);
      assert.equal(s.pacing.board?.error, undefined);
    }
    // Each wrote its own entry (named after its state object), done, with the rate it settled on.
    assert.equal(boardNames().length, 2);
    for (const name of boardNames()) {
      const e = entryOf(name);
      assert.equal(e.done, true, name);
      assert.ok(e.settled !== undefined && e.settled > 0 && e.settled <= share + 0.1, `${name}: settled ${e.settled}`);
    }
  });

  test('a later start splits what the deployments settled on: a peer that kept a high rate gives a low one room', async () => {
    fresh();
    const fn = await fx.stack.startFn(env());
    // Another deployment on the board, fresh: the share of two.
    putPeer('other', { settled: 10 });
    const first = await invoke(fn);
    // (its own settled rate: none, so the fresh share 24.125) + 10, split in two
    assert.equal(first.pacing.board?.peers, 1);
    assert.equal(first.pacing.startRate, Math.round((((49 - 0.75) / 2 + 10) / 2) * 100) / 100);
    const own = boardNames().find((n) => !n.endsWith('/other.json'))!;
    const settled = entryOf(own).settled!;
    assert.ok(Math.abs(settled - (first.pacing.startRate ?? NaN)) < 0.5, `it settled near its start: ${settled}`);
    // The next minute the peer had settled at 30: the sum is split evenly, so this one starts above its own settled rate.
    putPeer('other', { settled: 30 });
    const second = await invoke(fn);
    assert.equal(second.pacing.board?.peers, 1);
    const expected = (settled + 30) / 2;
    assert.ok(Math.abs(second.pacing.startRate! - expected) < 0.02, `started at ${second.pacing.startRate}, the split ${expected}`);
    assert.ok(second.pacing.startRate! > settled + 5, 'above what it settled on alone');
  });

  test('while posting, the even split of the rates held now: a peer that posts at 4 calls/s is given room after 2 s', async () => {
    fresh();
    fx.target.body = Array.from({ length: 3000 }, (_, i) => `g${i} ${i}`).join('\n') + '\n';
    try {
      const fn = await fx.stack.startFn(env());
      putPeer('slow', { settled: 4, rate: 4 });
      const s = await invoke(fn);
      const start = ((49 - 0.75) / 2 + 4) / 2; // the fresh share of two and the peer's settled 4, split
      assert.equal(s.pacing.startRate, Math.round(start * 100) / 100);
      // 60 calls at ~14 calls/s: the first refresh (2 s in) takes the even split of ~14 and the peer's 4.
      assert.equal(s.pacing.board?.shares, 1, JSON.stringify(s.pacing.board));
      assert.ok(s.pacing.finalRate < 10 && s.pacing.finalRate > 8.5, `the split of what the two hold: ${s.pacing.finalRate}`);
      const own = boardNames().find((n) => !n.endsWith('/slow.json'))!;
      assert.equal(entryOf(own).done, true);
    } finally {
      fx.target.body = EXPOSITION;
    }
  });

  test('a malformed, a huge and a foreign object under the board prefix: each named, left out, and the run goes on', async () => {
    fresh();
    const os = fx.stack.emulator.objectStorage;
    os.putDirect(BUCKET, `${BOARD_PREFIX}bad.json`, Buffer.from('{"v":1,"began":'));
    os.putDirect(BUCKET, `${BOARD_PREFIX}huge.json`, Buffer.alloc(64 * 1024, 'x'));
    os.putDirect(BUCKET, `${BOARD_PREFIX}foreign.json`, Buffer.from(JSON.stringify({ v: 7, began: Date.now(), at: Date.now() })));
    os.putDirect(BUCKET, `${BOARD_PREFIX}old.json`, Buffer.from('not even JSON'), new Date(Date.now() - 10 * 60_000));
    const fn = await fx.stack.startFn(env());
    const s = await invoke(fn);
    const board = s.pacing.board!;
    assert.equal(board.peers, 0, 'none of them is a peer');
    assert.equal(board.error, undefined);
    const problems = (board.problems ?? []).join('\n');
    assert.match(problems, /bad\.json: not JSON/);
    assert.match(problems, /huge\.json: larger than 1024 bytes \(65536\)/);
    assert.match(problems, /foreign\.json: unknown version 7/);
    assert.doesNotMatch(problems, /old\.json/, 'a stale object is not even downloaded');
    assert.equal(os.bodiesServed.get(`${BUCKET}/${BOARD_PREFIX}huge.json`), undefined, 'the huge one was not downloaded');
    assert.equal(os.bodiesServed.get(`${BUCKET}/${BOARD_PREFIX}old.json`), undefined);
    assert.equal(s.pacing.startRate, undefined, 'no peers: it starts as alone, at the top');
    assert.ok(
      fn.stderr.concat(fn.stdout).some((l) => /pacing board: 3 object\(s\) left out/.test(l)),
      'a named warning in the log',
    );
  });

  test("Object Storage refuses the board's list: named with the policy statement, the run paces alone and posts everything", async () => {
    fresh();
    fx.stack.emulator.enqueueFault({ status: 403, code: 'NotAuthorizedOrNotFound', method: 'GET', match: /\/o\?/ }, 1, 'objectstorage');
    const fn = await fx.stack.startFn(env({ FUNCTION_DYNAMIC_GROUP: 'prom2oci-fn' }));
    putPeer('other', { settled: 10 });
    const s = await invoke(fn);
    const board = s.pacing.board!;
    assert.match(board.error ?? '', /Object Storage answered 403 NotAuthorizedOrNotFound to the pacing board's list/);
    assert.match(board.iamPolicy ?? '', /Allow dynamic-group prom2oci-fn to use objects in .* where target\.bucket\.name = 'fn-board'/);
    assert.equal(board.peers, 0, 'no peer known: paced alone');
    assert.equal(s.pacing.startRate, undefined, 'started as alone');
    assert.ok(
      fn.stderr.concat(fn.stdout).some((l) => l.includes('pacing board: Object Storage answered 403')),
      'a named warning in the log',
    );
  });

  test('PACING_BOARD=false, or no bucket: no board (no object, no Object Storage call), as before', async () => {
    fresh();
    const off = await fx.stack.startFn(env({ PACING_BOARD: 'false' }));
    const s = await invoke(off);
    assert.equal(s.pacing.board, undefined);
    assert.deepEqual(boardNames(), []);
    fx.stack.emulator.reset();
    const noBucket = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url, DERIVED_SERIES: 'none' });
    const t = await invoke(noBucket);
    assert.equal(t.pacing.board, undefined);
    assert.equal(t.pacing.startRate, undefined);
    assert.equal(fx.stack.emulator.calls.filter((c) => c.route === 'objectstorage').length, 0);
  });
});
