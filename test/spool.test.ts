/**
 * The outage spool's rules (src/state/spool.ts): what is replayed (oldest first, only what OCI still
 * accepts), what is kept, what is dropped and why, with every entry accounted; original timestamps
 * survive the round trip; corrupt entries are never posted.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeSpool,
  encodeSpool,
  fromSpoolEntry,
  isSpoolEntry,
  mergeSpool,
  nextSpool,
  planReplay,
  SPOOL_EXPIRY_MARGIN_MS,
  toSpoolEntry,
  type ReplayOutcome,
  type SpoolEntry,
} from '../src/state/spool';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileBackend } from '../src/cli/state-file';
import { createStateStore, memoryBackend, withTargets } from '../src/state/store';
import { OCI_LIMITS } from '../src/transform/limits';
import type { OciMetric } from '../src/types/model';
import { UndeliveredSeries } from '../src/handler/data';
import { Outcome } from '../src/publish/publisher';

const NOW = Date.UTC(2026, 10, 30, 10, 0, 0);
const metric = (name: string, tMs: number, value = 1): OciMetric => ({
  namespace: 'ns',
  compartmentId: 'ocid1.compartment.oc1..x',
  name,
  dimensions: { instance: 'h:1' },
  datapoints: [{ timestamp: new Date(tMs), value }],
});

describe('outage spool', () => {
  test('an entry keeps the metric object and its original timestamp', () => {
    const m = { ...metric('a', NOW - 90_000, 2.5), resourceGroup: 'rg', metadata: { unit: 's' } };
    const e = toSpoolEntry(m);
    assert.deepEqual(e.points, [[NOW - 90_000, 2.5]]);
    assert.deepEqual(fromSpoolEntry(JSON.parse(JSON.stringify(e)) as SpoolEntry), m);
    assert.equal(isSpoolEntry(e), true);
  });

  test('replay: oldest first, only what OCI still accepts; older entries are expired, counted', () => {
    const window = OCI_LIMITS.maxPastMs - SPOOL_EXPIRY_MARGIN_MS;
    const spool = [metric('new', NOW - 60_000), metric('too-old', NOW - window - 1), metric('old', NOW - window + 1000)].map(toSpoolEntry);
    const { replay, expired } = planReplay(spool, NOW);
    assert.deepEqual(
      replay.map((e) => e.name),
      ['old', 'new'],
    );
    assert.equal(expired, 1);
  });

  test('next spool: posted entries leave, rejected ones are dropped with their reason, undelivered stay ahead of the fresh ones', () => {
    const replay = ['r1', 'r2', 'r3'].map((n, i) => toSpoolEntry(metric(n, NOW - 300_000 + i)));
    const fresh = ['f1', 'f2'].map((n) => toSpoolEntry(metric(n, NOW)));
    const { spool, counts } = nextSpool(replay, ['posted', 'rejected', 'undelivered'], fresh, 2, 100);
    assert.deepEqual(
      spool.map((e) => e.name),
      ['r3', 'f1', 'f2'],
    );
    assert.deepEqual(counts, { replayed: 3, posted: 1, dropped: { expired: 2, rejected: 1 }, pending: 3 });
    // Every entry is accounted: replayed + expired = posted + dropped + kept from the replay.
    assert.equal(counts.replayed + 2, counts.posted + (counts.dropped.expired ?? 0) + (counts.dropped.rejected ?? 0) + 1);
  });

  test('bounded: over the size the oldest are dropped as full, and the counts say so', () => {
    const fresh = Array.from({ length: 7 }, (_, i) => toSpoolEntry(metric(`f${i}`, NOW + i)));
    const { spool, counts } = nextSpool([], [], fresh, 0, 5);
    assert.deepEqual(
      spool.map((e) => e.name),
      ['f2', 'f3', 'f4', 'f5', 'f6'],
    );
    assert.deepEqual(counts.dropped, { full: 2 });
    assert.equal(counts.pending, 5);
  });

  test('merged with what another invocation stored meanwhile: its entries kept, ours replaced by their outcome', () => {
    const seen = ['a', 'b'].map((n, i) => toSpoolEntry(metric(n, NOW - 5000 + i)));
    const theirs = toSpoolEntry(metric('theirs', NOW - 4000));
    const old = toSpoolEntry(metric('old', NOW - OCI_LIMITS.maxPastMs));
    const fresh = [toSpoolEntry(metric('fresh', NOW))];
    const { spool, counts } = mergeSpool([old, ...seen, theirs], seen, ['posted', 'undelivered'], fresh, [old], 100);
    assert.deepEqual(
      spool.map((e) => e.name),
      ['b', 'theirs', 'fresh'],
    );
    assert.deepEqual(counts, { replayed: 2, posted: 1, dropped: { expired: 1 }, pending: 3 });
  });

  test("'as-planned' (nobody wrote the spool meanwhile) gives what merging the same stored spool entry by entry gives", () => {
    const stored = Array.from({ length: 12 }, (_, i) => toSpoolEntry(metric(`s${i}`, NOW - 60_000 + i)));
    const expired = [toSpoolEntry(metric('old', NOW - OCI_LIMITS.maxPastMs))];
    const outcomes: ReplayOutcome[] = stored.map((_, i) => (['posted', 'undelivered', 'rejected'] as const)[i % 3]);
    const fresh = [toSpoolEntry(metric('fresh', NOW))];
    for (const max of [100, 3]) {
      const full = mergeSpool([...expired, ...stored], stored, outcomes, fresh, expired, max);
      assert.deepEqual(mergeSpool('as-planned', stored, outcomes, fresh, expired, max), full, `max ${max}`);
    }
  });

  test('corrupt entries are not spool entries (never posted)', () => {
    for (const bad of [
      null,
      {},
      { ...toSpoolEntry(metric('a', NOW)), points: [] },
      { ...toSpoolEntry(metric('a', NOW)), points: [[NOW, 'x']] },
      { ...toSpoolEntry(metric('a', NOW)), dimensions: { a: 1 } },
    ]) {
      assert.equal(isSpoolEntry(bad), false, JSON.stringify(bad));
    }
  });

  test('the stored form: strings once, entries as index rows; the round trip is exact and malformed rows are dropped, never posted', () => {
    const entries = [
      toSpoolEntry({ ...metric('a', NOW - 90_000, 2.5), resourceGroup: 'rg', metadata: { unit: 's' } }),
      toSpoolEntry({ ...metric('b', NOW - 60_000, -0.125), dimensions: { instance: 'h:1', route: '/a"b\\c' } }),
      { ...toSpoolEntry(metric('a', NOW)), points: [[NOW - 1000, 1] as [number, number], [NOW, 2] as [number, number]] },
    ];
    const stored = encodeSpool(entries);
    const all = { max: 1000 };
    assert.deepEqual(decodeSpool(JSON.parse(JSON.stringify(stored)) as typeof stored, all), { entries, dropped: {} });
    // Each string once: namespace, compartment, rg, names, dimension keys and values, metadata.
    assert.equal(stored.s.filter((x) => x === 'ocid1.compartment.oc1..x').length, 1);
    assert.ok(JSON.stringify(stored).length < JSON.stringify(entries).length / 2, 'smaller than the objects');
    const good = stored.e[1];
    const bad: unknown[] = [
      null,
      'x',
      [],
      [0, 1, -1, 999, 0, 0, NOW, 1], // name index out of the table
      [0, 1, -1, 3, 2, 4, 5, 0, NOW, 1], // two dimensions announced, one given (the point is read as a pair)
      [0, 1, -1, 3, 0, 0], // no datapoint
      [0, 1, -1, 3, 0, 0, NOW], // half a datapoint
      [0, 1, -1, 3, 0, 0, NOW, 'x'],
      [0, 1, 7.5, 3, 0, 0, NOW, 1], // not an index
    ];
    // Malformed rows are dropped and counted (they used to vanish without a count).
    assert.deepEqual(decodeSpool({ s: stored.s, e: [...bad, good] as number[][] }, all), { entries: [entries[1]], dropped: { invalid: bad.length } });
    assert.deepEqual(decodeSpool({ s: ['1'], e: [good] }, all), { entries: [], dropped: { invalid: 1 } });
    assert.deepEqual(decodeSpool(undefined, all), { entries: [], dropped: {} });
  });

  test('read bounded: only the newest `max` entries are decoded, the older rest dropped as full; a second copy of a datapoint is dropped as duplicate', () => {
    const entries = Array.from({ length: 10 }, (_, i) => toSpoolEntry(metric(`m${i}`, NOW - 10_000 + i)));
    const stored = encodeSpool([...entries, entries[9], entries[8]]);
    const read = decodeSpool(stored, { max: 4 });
    assert.deepEqual(
      read.entries.map((e) => e.name),
      ['m6', 'm7', 'm9', 'm8'],
    );
    assert.deepEqual(read.dropped, { duplicate: 2, full: 6 });
  });

  test("entries for another namespace or compartment than the function's are dropped as foreign, never replayed there", () => {
    const mine = toSpoolEntry(metric('mine', NOW));
    const theirs = { ...toSpoolEntry(metric('theirs', NOW)), namespace: 'elsewhere' };
    const read = decodeSpool(encodeSpool([mine, theirs]), { max: 10, accepts: (e) => e.namespace === 'ns' && e.compartmentId === 'ocid1.compartment.oc1..x' });
    assert.deepEqual(
      read.entries.map((e) => e.name),
      ['mine'],
    );
    assert.deepEqual(read.dropped, { foreign: 1 });
  });

  test('a `__proto__` label survives the stored form as a label (it used to become the prototype and leave the dimensions)', () => {
    const dims = JSON.parse('{"__proto__":"x","instance":"h:1"}') as Record<string, string>;
    const e = toSpoolEntry({ ...metric('a', NOW), dimensions: dims });
    const [back] = decodeSpool(JSON.parse(JSON.stringify(encodeSpool([e]))) as ReturnType<typeof encodeSpool>, { max: 10 }).entries;
    assert.deepEqual(Object.keys(back.dimensions).sort(), ['__proto__', 'instance']);
    assert.equal(JSON.stringify(fromSpoolEntry(back).dimensions), '{"__proto__":"x","instance":"h:1"}');
  });

  test('a merge applied twice (a write whose answer was lost, re-applied) keeps each datapoint once', () => {
    const fresh = [toSpoolEntry(metric('f', NOW))];
    const first = mergeSpool([], [], [], fresh, [], 100);
    const again = mergeSpool(first.spool, [], [], fresh, [], 100);
    assert.deepEqual(again.spool, first.spool);
  });

  test("kept in the state document (memory and the CLI's state file): round trip, other sections untouched by a spool write", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-spool-'));
    try {
      for (const backend of [memoryBackend(), fileBackend(path.join(dir, 'state.gz'))]) {
        const store = createStateStore(backend);
        const signal = AbortSignal.timeout(60_000);
        const target = { t: NOW, f: {} };
        await (await store.open(signal)).save(withTargets({ k: target }), signal);
        const addSpool = (m: OciMetric) => async () =>
          (await store.open(signal)).save((latest) => {
            const had = decodeSpool(latest.spool, { max: 100 }).entries;
            return { ...latest, spool: encodeSpool(mergeSpool(had, [], [], [toSpoolEntry(m)], [], 100).spool) };
          }, signal);
        await addSpool(metric('a', NOW - 1000))();
        // A derived-series write (another section) keeps the spool, and vice versa.
        await (await store.open(signal)).save(withTargets({ k: { t: NOW + 1, f: {} } }), signal);
        await addSpool(metric('b', NOW))();
        const doc = (await store.open(signal)).doc;
        assert.deepEqual(
          decodeSpool(doc.spool, { max: 100 }).entries.map((e) => [e.name, e.points[0][0]]),
          [
            ['a', NOW - 1000],
            ['b', NOW],
          ],
          backend.where,
        );
        assert.equal(doc.targets.k.t, NOW + 1);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("an invocation's undelivered series (src/handler/data.ts)", () => {
  /** One metric per series number, its value the number. */
  const metric = (seq: number): OciMetric => ({
    namespace: 'app',
    compartmentId: 'ocid1.compartment.oc1..x',
    name: 'm',
    dimensions: { i: String(seq) },
    datapoints: [{ timestamp: new Date(NOW), value: seq }],
  });
  /** Records series [from, from + n) with one outcome for all, as the publisher hands them over. */
  const record = (u: UndeliveredSeries, from: number, n: number, outcome: Outcome): void =>
    u.record({ tag: from, metrics: Array.from({ length: n }, (_, i) => metric(from + i)) }, new Uint8Array(n).fill(outcome));

  test('only the newest SPOOL_MAX_SERIES are kept while collecting, in series order; the older ones are counted', () => {
    const u = new UndeliveredSeries(100);
    // Batches arrive out of order (calls in flight finish in any order); 5,000 undelivered in all.
    for (let b = 99; b >= 0; b--) record(u, b * 50, 50, Outcome.Undelivered);
    record(u, 5_000, 50, Outcome.Posted);
    const { entries, overMax } = u.entries(false);
    assert.equal(entries.length, 100);
    assert.equal(overMax, 4_900, 'every undelivered series is either kept or counted');
    assert.deepEqual(
      entries.map((e) => e.points[0][1]),
      Array.from({ length: 100 }, (_, i) => 4_900 + i),
    );
  });

  test('failed series are spooled only after a 401/404 stopped the posting, within the same bound', () => {
    const u = new UndeliveredSeries(100);
    record(u, 0, 80, Outcome.Failed);
    record(u, 80, 80, Outcome.Undelivered);
    assert.deepEqual({ n: u.entries(false).entries.length, over: u.entries(false).overMax }, { n: 80, over: 0 });
    const fatal = u.entries(true);
    assert.equal(fatal.entries.length, 100);
    assert.equal(fatal.overMax, 60);
    assert.equal(fatal.entries[0].points[0][1], 60, 'the oldest 60 did not fit');
  });
});
