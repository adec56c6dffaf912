/**
 * The pacing board's rules (src/publish/board.ts) and what the pacer does with them
 * (AdaptivePacer.seePeers, shareAt, heldRate): pure, on given times. The whole runs of several
 * deployments meeting on a board are in test/pacing.test.ts; the board's objects in Object Storage
 * in test/board-function.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOARD_REFRESH_MS,
  BOARD_STALE_MS,
  boardStart,
  encodeEntry,
  evenShare,
  freshEntries,
  parseEntry,
  peersNow,
  peersRate,
  tenancyFor,
  type BoardEntry,
} from '../src/publish/board';
import { AdaptivePacer, TENANCY_CALLS_PER_SECOND } from '../src/publish/pacing';

const now = 1_800_000_000_000;
const entry = (fields: Partial<BoardEntry> = {}): BoardEntry => ({ v: 1, began: now - 1000, at: now - 1000, ...fields });

describe('pacing board entries', () => {
  test('an entry round-trips; anything else is named, never thrown', () => {
    const e = entry({ settled: 12.5, rate: 11, done: true });
    assert.deepEqual(parseEntry(encodeEntry(e)), e);
    assert.deepEqual(parseEntry('{"v":1,"began":5,"at":6}'), { v: 1, began: 5, at: 6 });
    assert.deepEqual(parseEntry('not json'), { problem: 'not JSON' });
    assert.deepEqual(parseEntry('[1]'), { problem: 'not a JSON object' });
    assert.deepEqual(parseEntry('null'), { problem: 'not a JSON object' });
    assert.deepEqual(parseEntry('{"v":2,"began":5,"at":6}'), { problem: 'unknown version 2' });
    assert.deepEqual(parseEntry('{"v":1,"began":"5","at":6}'), { problem: 'no time' });
    // Rates that are not rates are left out, not trusted: a peer without a known rate counts as a fresh one.
    assert.deepEqual(parseEntry('{"v":1,"began":5,"at":6,"settled":-3,"rate":"x","done":"yes"}'), { v: 1, began: 5, at: 6 });
    assert.deepEqual(parseEntry('{"v":1,"began":5,"at":6,"settled":1e309}'), { v: 1, began: 5, at: 6 });
  });

  test('entries written more than BOARD_STALE_MS ago, or from the future, are left out', () => {
    const fresh = entry({ at: now - BOARD_STALE_MS });
    const stale = entry({ at: now - BOARD_STALE_MS - 1 });
    const future = entry({ at: now + BOARD_STALE_MS + 1 });
    assert.deepEqual(freshEntries([fresh, stale, future], now), [fresh]);
  });

  test("peers: those posting or about to, and those done whose last invocation began a minute before ours (the same trigger's round)", () => {
    const began = now - 1500;
    const heartbeat = entry({ began: now - 2000, at: now - 2000 });
    const posting = entry({ rate: 12, at: now - 8000, began: now - 30_000 });
    const lastRound = entry({ done: true, began: began - 60_000 + 900, at: began - 20_000, settled: 12 });
    const ranEarlier = entry({ done: true, began: began - 20_000, at: began - 5000, settled: 30 });
    const silent = entry({ rate: 12, at: now - 3 * BOARD_REFRESH_MS, began: now - 40_000 });
    assert.deepEqual(peersNow([heartbeat, posting, lastRound, ranEarlier, silent], now, began), [heartbeat, posting, lastRound]);
  });
});

describe('pacing board rules', () => {
  test('no peer: no board start (the deployment starts as without a board)', () => {
    assert.equal(boardStart(undefined, [], TENANCY_CALLS_PER_SECOND), undefined);
    assert.equal(boardStart(20, [], TENANCY_CALLS_PER_SECOND), undefined);
  });

  test('fresh peers: the share of the tenancy for k, 0.75 call/s per deployment past the first left free', () => {
    assert.equal(tenancyFor(1, TENANCY_CALLS_PER_SECOND), 49);
    assert.equal(tenancyFor(4, TENANCY_CALLS_PER_SECOND), 49 - 3 * 0.75);
    assert.deepEqual(boardStart(undefined, [entry()], TENANCY_CALLS_PER_SECOND), { peers: 1, rate: (49 - 0.75) / 2 });
    assert.deepEqual(boardStart(undefined, [entry(), entry(), entry()], TENANCY_CALLS_PER_SECOND), { peers: 3, rate: (49 - 2.25) / 4 });
    assert.equal(boardStart(undefined, [entry()], 10)?.rate, 10, 'a hard cap under the share is kept');
  });

  test('settled rates: their sum split evenly, never more in all than the tenancy for k (7.3, 13.2, 7.7 and 24: 11.69 each)', () => {
    const peers = [entry({ settled: 13.2 }), entry({ settled: 7.7 }), entry({ settled: 24 })];
    assert.equal(boardStart(7.3, peers, TENANCY_CALLS_PER_SECOND)?.rate, tenancyFor(4, TENANCY_CALLS_PER_SECOND) / 4);
    assert.equal(boardStart(7.3, [entry({ settled: 13.2 })], TENANCY_CALLS_PER_SECOND)?.rate, (7.3 + 13.2) / 2);
    // A low total stays low: the board never adds room none of them found.
    assert.equal(boardStart(5, [entry({ settled: 5 })], TENANCY_CALLS_PER_SECOND)?.rate, 5);
    // A peer without a settled rate counts at the fresh share.
    assert.equal(boardStart(10, [entry()], TENANCY_CALLS_PER_SECOND)?.rate, (10 + (49 - 0.75) / 2) / 2);
    assert.equal(boardStart(40, [entry({ settled: 40 })], TENANCY_CALLS_PER_SECOND)?.rate, (49 - 0.75) / 2);
  });

  test("the peers' rate: a posting peer's current rate, a peer about to post its share, none for one done or silent", () => {
    const posting = entry({ rate: 12, at: now - 3000 });
    const starting = entry({ settled: 20 });
    const fresh = entry();
    const done = entry({ rate: 12, done: true });
    const silent = entry({ rate: 12, at: now - 3 * BOARD_REFRESH_MS });
    assert.equal(peersRate([posting, starting, fresh, done, silent], now, 11), 12 + 11 + 11);
    assert.equal(peersRate([entry({ settled: 5 })], now, 11), 5);
  });

  test('while posting, the even split of the rates held now; none with no posting peer, or within 5%', () => {
    assert.equal(evenShare(6, [entry({ rate: 18, at: now - 2000 })], now, TENANCY_CALLS_PER_SECOND), 12);
    assert.equal(evenShare(18, [entry({ rate: 6, at: now - 2000 })], now, TENANCY_CALLS_PER_SECOND), 12);
    assert.equal(evenShare(12, [entry({ rate: 12.5 })], now, TENANCY_CALLS_PER_SECOND), undefined);
    assert.equal(evenShare(6, [entry({ settled: 18 })], now, TENANCY_CALLS_PER_SECOND), undefined, 'a peer not posting yet');
    assert.equal(evenShare(6, [entry({ rate: 18, done: true })], now, TENANCY_CALLS_PER_SECOND), undefined);
    assert.equal(evenShare(6, [entry({ rate: 18, at: now - 2 * BOARD_REFRESH_MS })], now, TENANCY_CALLS_PER_SECOND), undefined, 'its last refresh is too old');
    // A peer that missed the others at its start (49) and three at their share: capped at the tenancy for four.
    assert.equal(evenShare(49, [entry({ rate: 11.5 }), entry({ rate: 11.5 }), entry({ rate: 11.5 })], now, TENANCY_CALLS_PER_SECOND), tenancyFor(4, 50) / 4);
  });
});

describe('the pacer with board peers', () => {
  /** Drives a pacer at 24.5 calls/s into a cut whose calls after it are refused too; returns the settled rate after the second. */
  const cutWithRefusals = (p: AdaptivePacer, t0: number): number => {
    let t = t0;
    for (; t < t0 + 2000; t += 1000 / 24.5) {
      p.tryStart(t);
      p.accepted(t + 50);
    }
    p.throttled(t - 50, t); // the cut
    p.tryStart(t + 100);
    p.throttled(t + 100, t + 150); // started after it, refused
    p.tryStart(t + 300);
    p.accepted(t + 350);
    p.accepted(t + 1200); // the second is over
    return p.settledRate;
  };

  test("a 429 the peers' calls and ours explain keeps the edge (no board: the halved rate), once in 10 s; a second soon after: as without one", () => {
    const alone = new AdaptivePacer(TENANCY_CALLS_PER_SECOND, { rate: 24.5 });
    const halved = cutWithRefusals(alone, 0);
    assert.ok(halved < 24.5 / 2, `without peers: a busy tenancy, the halved rate: ${halved}`);
    const onBoard = new AdaptivePacer(TENANCY_CALLS_PER_SECOND, { rate: 24.5 });
    onBoard.seePeers(24);
    assert.ok(cutWithRefusals(onBoard, 0) >= 24.5 - 1 - 1e-9, `the peers explain it: ${onBoard.settledRate}`);
    const second = cutWithRefusals(onBoard, 5000);
    assert.ok(second < 24.5 / 2, `a second one 5 s later (a poster not on the board): the halved rate, ${second}`);
    const fewPeers = new AdaptivePacer(TENANCY_CALLS_PER_SECOND, { rate: 24.5 });
    fewPeers.seePeers(5);
    assert.equal(cutWithRefusals(fewPeers, 0), halved, 'peers too slow to explain it: as without a board');
  });

  test('the even split: the rate goes there and probes slowly from it; no raise right after a busy second', () => {
    const p = new AdaptivePacer(TENANCY_CALLS_PER_SECOND, { rate: 6 });
    p.shareAt(12, 0);
    assert.equal(p.rate, 12);
    assert.equal(p.settledRate, 12);
    assert.equal(p.heldRate, 12);
    p.shareAt(60, 0);
    assert.equal(p.rate, 49, 'never above the top');
    const busy = new AdaptivePacer(TENANCY_CALLS_PER_SECOND, { rate: 24.5 });
    cutWithRefusals(busy, 0);
    const low = busy.rate;
    assert.ok(low < 12.25, `a busy second: ${low}`);
    busy.shareAt(20, 4000);
    assert.equal(busy.rate, low, 'no raise within 10 s of a busy second');
    busy.shareAt(8, 4000);
    assert.equal(busy.rate, 8, 'lowering always');
    busy.shareAt(20, 20_000);
    assert.equal(busy.rate, 20, 'raised once the tenancy was quiet');
  });

  test("the rate held for the board is the one the pacer returns to within seconds after a lone cut, not the cut's dip", () => {
    const p = new AdaptivePacer(TENANCY_CALLS_PER_SECOND, { rate: 20 });
    p.throttled(1000, 1050);
    assert.equal(p.rate, 10);
    p.accepted(2200); // the second is over: a lone 429, the edge is the rate before
    assert.equal(p.heldRate, 19);
  });
});
