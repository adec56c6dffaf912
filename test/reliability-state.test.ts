/**
 * The state and the spool as an unlucky network and a hostile bucket would have them, through the
 * real function process with its state in the emulator's Object Storage: corrupt and oversized
 * objects, answers lost after the write was stored, overlapping invocations, a failed write
 * followed by another. In none may a datapoint reach OCI twice (beyond the one named case: a
 * PostMetricData call whose own answer was lost), be lost, or the function stop.
 *
 * The target stamps its samples with the timestamp the test sets (the exposition's third field),
 * so every datapoint can be found again in the emulator by series and time.
 */
import { beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import type { InvocationSummary } from '../src/handler/summary';
import type { LocalFunction } from '../src/local/fn-agent';
import { decodeState, encodeState } from '../src/state/codec';
import { stateObjectName } from '../src/state/keys';
import { decodeSpool, encodeSpool, type SpoolEntry } from '../src/state/spool';
import { emptyStateDocument, type StateDocument } from '../src/types/state';
import { assertAccounted, stackAndTargetForSuite, summaryOf } from './helpers/reliability';
import { startStampedTarget } from './helpers/stamped-target';
import { waitUntil } from './helpers/wait';
import { COMPARTMENT, FUNCTION_HEAP_ARGS_256MB, type Stack } from './helpers/stack';

const BUCKET = 'fn-state';
const NAMESPACE = 'bharatmart';
const NAME = 'state_ok_total';
const SERIES = 10;
const MINUTE = 60_000;
/** Invocations whose ingestion answers: the first loads the SDK and the state bundle; they end when done. */
const LONG_DEADLINE_MS = 120_000;
/** Invocations whose ingestion fails: the publisher retries until the deadline (minus the reserves), so this sets their length. */
const OUTAGE_DEADLINE_MS = 8000;

/** Every stored datapoint of the test's family: series -> timestamps, in arrival order. */
function storedTimes(stack: Stack, name = NAME): Map<string, number[]> {
  const bySeries = new Map<string, number[]>();
  for (const m of stack.emulator.accepted) {
    if (m.name !== name) continue;
    const key = m.dimensions.series ?? JSON.stringify(m.dimensions);
    bySeries.set(key, [...(bySeries.get(key) ?? []), ...m.datapoints.map((d) => d.timestamp)]);
  }
  return bySeries;
}

/** Asserts each series holds exactly these timestamps, each once. */
function assertEachOnce(stack: Stack, stamps: number[], label: string): void {
  const stored = storedTimes(stack);
  assert.equal(stored.size, SERIES, `${label}: every series stored`);
  for (const [series, times] of stored)
    assert.deepEqual(
      [...times].sort((a, b) => a - b),
      [...stamps].sort((a, b) => a - b),
      `${label}: series ${series} holds each datapoint once`,
    );
}

/** Spool entries as an outage would have left them: one per series at `stampMs`. */
function spooled(stampMs: number, over: Partial<SpoolEntry> = {}): SpoolEntry[] {
  return Array.from({ length: SERIES }, (_, i) => ({
    namespace: NAMESPACE,
    compartmentId: COMPARTMENT,
    name: NAME,
    dimensions: { series: String(i), instance: 'old:9100' },
    points: [[stampMs, i + 1]] as [number, number][],
    ...over,
  }));
}

describe('reliability: the state and the spool against an unlucky network and a hostile bucket', () => {
  const fx = stackAndTargetForSuite(() => startStampedTarget(NAME, SERIES));
  beforeEach(() => {
    const emu = fx.stack.emulator;
    emu.reset();
    emu.objectStorage.clearObjects();
    emu.objectStorage.createBucket(BUCKET);
    fx.target.extra = [];
    fx.target.barrier = undefined;
    fx.target.stampMs = Date.now() - 5 * MINUTE;
  });

  /** The function's state object name. */
  const objectName = () => stateObjectName({ endpoints: [new URL(fx.target.url)], namespace: NAMESPACE, compartmentId: COMPARTMENT });
  /** Puts a state document (or raw bytes) where the function reads its state. */
  const putState = (doc: StateDocument | Buffer) =>
    fx.stack.emulator.objectStorage.putDirect(BUCKET, objectName(), Buffer.isBuffer(doc) ? doc : encodeState(doc));
  /** The stored state document. */
  const storedState = () => decodeState(fx.stack.emulator.objectStorage.buckets.get(BUCKET)!.get(objectName())!.bytes, 'test');
  /** A function with its state in the bucket. */
  const startFn = (env: Record<string, string> = {}, nodeArgs?: string[]): Promise<LocalFunction> =>
    fx.stack.startFn(
      {
        METRICS_ENDPOINT: fx.target.url,
        STATE_BUCKET: BUCKET,
        OBJECT_STORAGE_NAMESPACE: fx.stack.emulator.objectStorage.namespace,
        // The faults queued here are the state's own calls: the pacing board's are tested in test/board-function.test.ts.
        PACING_BOARD: 'false',
        DERIVED_SERIES: 'none',
        POST_TIMEOUT_MS: '3000',
        POST_CALLS_PER_SECOND: '200',
        POST_CONCURRENCY: '1',
        ...env,
      },
      nodeArgs,
    );
  /** One invocation's summary (a 502's from its log line). */
  const invoke = async (fn: LocalFunction, deadlineMs = LONG_DEADLINE_MS): Promise<InvocationSummary> => {
    const logged = fn.stdout.length;
    const res = await fn.invoke({ deadline: new Date(Date.now() + deadlineMs) });
    if (res.status === 200) {
      const s = summaryOf(res);
      assertAccounted(s);
      return s;
    }
    assert.equal(res.status, 502, `a summary or a named failure, never a crash: ${res.status} ${res.body.slice(0, 300)}`);
    assert.doesNotMatch(res.body, /Cannot read properties|TypeError|heap/, 'a named failure');
    for (let i = 0; i < 300; i++) {
      const line = fn.stdout.slice(logged).find((l) => l.includes('"event":"invocation_summary"'));
      if (line) return JSON.parse(line) as InvocationSummary;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail('an invocation summary was logged');
  };
  /** An invocation while ingestion answers 503 to everything. */
  const invokeDown = async (fn: LocalFunction): Promise<InvocationSummary> => {
    fx.stack.emulator.enqueueFault({ status: 503 }, 1_000_000, 'metrics');
    try {
      return await invoke(fn, OUTAGE_DEADLINE_MS);
    } finally {
      fx.stack.emulator.clearFaults('metrics');
    }
  };

  test('a spool section in an unexpected shape ({}, a string, a number) never stops the function: named, replaced; the first stored form is read', async () => {
    const fn = await startFn();
    for (const spool of [{}, 'garbage', 42]) {
      putState({ ...emptyStateDocument(), spool } as unknown as StateDocument);
      const s = await invoke(fn);
      assert.equal(s.posted, SERIES, `${JSON.stringify(spool)}: the data is posted`);
      assert.match(s.state.error ?? '', /spool/, `${JSON.stringify(spool)}: the corrupt section is named`);
      assert.equal(s.state.cause, 'corrupt');
      // Replaced: the next invocation reads a sound object.
      fx.target.stampMs += MINUTE;
      const next = await invoke(fn);
      assert.equal(next.state.error, undefined, `${JSON.stringify(spool)}: the object was repaired`);
    }
    // The first stored form, a list of entry objects, which the code claims to read: replayed.
    const old = Date.now() - 20 * MINUTE;
    putState({ ...emptyStateDocument(), spool: spooled(old) } as unknown as StateDocument);
    fx.stack.emulator.reset();
    const s = await invoke(fn);
    assert.equal(s.state.error, undefined);
    assert.deepEqual({ replayed: s.spool?.replayed, posted: s.spool?.posted }, { replayed: SERIES, posted: SERIES });
    assert.equal(fn.alive, true);
  });

  test('a spool PutObject whose answer is lost (stored, then reset): the retry recognises its own write, nothing spooled or posted twice', async () => {
    const fn = await startFn();
    await invoke(fn); // warm: the SDK and the state bundle load
    const emu = fx.stack.emulator;
    emu.reset();
    const down = fx.target.stampMs;
    emu.enqueueFault({ lostAnswer: true, method: 'PUT' }, 1, 'objectstorage');
    const outage = await invokeDown(fn);
    assert.equal(outage.undelivered, SERIES);
    assert.equal(emu.calls.filter((c) => c.fault === 'lost_answer').length, 1, 'the spool write was stored and its answer lost');
    assert.equal(outage.spool?.error, undefined, 'the write counts as stored');
    // The stored rows, counted as written (decodeSpool would drop a second copy as a duplicate).
    const rows = storedState().doc.spool?.e.length ?? 0;
    const stored = decodeSpool(storedState().doc.spool, { max: 1000 }).entries;
    assert.equal(rows, stored.length, 'nothing spooled twice: every stored row is a distinct datapoint');
    assert.equal(stored.filter((e) => e.name === NAME).length, SERIES, 'each undelivered series spooled once');
    const selfMetrics = stored.length - SERIES; // the self-metrics OCI did not take are spooled too
    assert.equal(outage.spool!.pending, SERIES + selfMetrics, 'the response counts what is stored');
    const back = (fx.target.stampMs = down + MINUTE);
    const s = await invoke(fn);
    assert.equal(s.spool?.posted, SERIES + selfMetrics);
    assert.equal(s.spool?.pending, 0);
    assertEachOnce(fx.stack, [down, back], 'after recovery');
  });

  test('two overlapping invocations with the same spool: one claims and replays it, the other posts its own data only; each datapoint once', async () => {
    const [a, b] = [await startFn(), await startFn()];
    const old = Date.now() - 20 * MINUTE;
    putState({ ...emptyStateDocument(), spool: encodeSpool(spooled(old)) });
    fx.target.barrier = 2; // both scrapes wait for each other: both invocations read the state first
    const [sa, sb] = await Promise.all([invoke(a), invoke(b)]);
    fx.target.barrier = undefined;
    const replayed = (sa.spool?.replayed ?? 0) + (sb.spool?.replayed ?? 0);
    assert.equal(replayed, SERIES, `the spool replayed once between them (${sa.spool?.replayed} + ${sb.spool?.replayed})`);
    assert.equal((sa.spool?.posted ?? 0) + (sb.spool?.posted ?? 0), SERIES);
    const stored = storedTimes(fx.stack);
    for (const [series, times] of stored) assert.equal(times.filter((t) => t === old).length, 1, `series ${series}: the spooled datapoint stored once`);
    assert.equal(storedState().doc.claim, undefined, 'the claim was released');
    assert.equal(decodeSpool(storedState().doc.spool, { max: 100 }).entries.length, 0, 'the spool is empty');
  });

  test('a restart mid-invocation (the claim holder killed while posting): the spool waits for its claim to lapse, then is replayed once', async () => {
    const old = Date.now() - 20 * MINUTE;
    putState({ ...emptyStateDocument(), spool: encodeSpool(spooled(old)) });
    const emu = fx.stack.emulator;
    // A's first PostMetricData call hangs; A is killed once it holds the claim (stored by its scrape's write).
    emu.enqueueFault({ hangMs: 600_000 }, 1, 'metrics');
    const a = await startFn();
    const answered = a.invoke({ deadline: new Date(Date.now() + LONG_DEADLINE_MS) }).then(
      () => 'answered',
      () => 'killed',
    );
    await waitUntil(() => emu.pendingFaults('metrics') === 0 && storedState().doc.claim !== undefined, 'A posting, its claim stored');
    await a.stop();
    assert.equal(await answered, 'killed');
    assert.ok(storedState().doc.claim!.until > Date.now(), "the killed holder's claim is live until its deadline plus the margin");
    // B, while that claim is live: its own data only; the spool is kept for later.
    const b = await startFn();
    fx.target.stampMs += MINUTE;
    const whileClaimed = await invoke(b);
    assert.equal(whileClaimed.spool?.replayed ?? 0, 0, 'nothing replayed under another live claim');
    assert.equal(whileClaimed.posted, SERIES);
    assert.equal(decodeSpool(storedState().doc.spool, { max: 100 }).entries.length, SERIES, 'the spool is kept');
    // The claim lapses (its holder's deadline plus the margin passes): moved into the past rather than waited for.
    const doc = storedState().doc;
    putState({ ...doc, claim: { ...doc.claim!, until: Date.now() - 1 } });
    fx.target.stampMs += MINUTE;
    const after = await invoke(b);
    assert.equal(after.spool?.replayed, SERIES);
    // A's own minute died with it (never posted, never spooled); every other datapoint is stored once.
    assertEachOnce(fx.stack, [old, fx.target.stampMs - MINUTE, fx.target.stampMs], 'the spool, B and the next minute');
    assert.equal(storedState().doc.claim, undefined, 'the claim was released');
  });

  test('a sample with its own timestamp is never both posted fresh and replayed', async () => {
    const fn = await startFn();
    await invoke(fn);
    fx.stack.emulator.reset();
    const stamp = fx.target.stampMs;
    const outage = await invokeDown(fn);
    assert.ok(outage.spool!.pending >= SERIES);
    // The target has not moved on: the same datapoints again, with ingestion back.
    const s = await invoke(fn);
    assertEachOnce(fx.stack, [stamp], 'same timestamp twice');
    assert.equal(s.skipped.in_spool, SERIES, 'the fresh copies are left to the replay');
    assert.equal(s.spool?.posted, outage.spool?.pending);
  });

  test('a `__proto__` label survives the spool: the replayed datapoint lands in its own stream', async () => {
    const fn = await startFn();
    await invoke(fn);
    fx.stack.emulator.reset();
    fx.target.extra = [`proto_total{__proto__="x",series="p"} 7 ${fx.target.stampMs}`];
    await invokeDown(fn);
    fx.target.extra = [];
    fx.target.stampMs += MINUTE;
    await invoke(fn);
    const replayed = fx.stack.emulator.accepted.filter((m) => m.name === 'proto_total');
    assert.equal(replayed.length, 1);
    assert.equal(replayed[0].dimensions.__proto__, 'x', JSON.stringify(replayed[0].dimensions));
  });

  test('tampered spool entries: another namespace or compartment is not posted there, a duplicate once, malformed rows counted', async () => {
    const fn = await startFn();
    const old = Date.now() - 20 * MINUTE;
    const good = spooled(old);
    const foreign = spooled(old + 1, { namespace: 'elsewhere' }).slice(0, 2);
    const otherCompartment = spooled(old + 2, { compartmentId: 'ocid1.compartment.oc1..aaaaaaaaother' }).slice(0, 1);
    const stored = encodeSpool([...good, good[0], ...foreign, ...otherCompartment]);
    stored.e.push([0, 1, -1, 999, 0, 0, old, 1], [0, 1, -1, 3, 0, 0, old]);
    putState({ ...emptyStateDocument(), spool: stored });
    const s = await invoke(fn);
    const misplaced = fx.stack.emulator.accepted.filter((m) => m.namespace === 'elsewhere' || m.compartmentId !== COMPARTMENT);
    assert.equal(misplaced.length, 0, `posted into another namespace or compartment: ${JSON.stringify(misplaced.map((m) => [m.namespace, m.compartmentId]))}`);
    assertEachOnce(fx.stack, [old, fx.target.stampMs], 'the good entries and this minute');
    assert.deepEqual(s.spool?.dropped, { duplicate: 1, foreign: 3, invalid: 2 });
    assert.equal(s.spool?.posted, SERIES);
  });

  test('a failed state write followed by a spool write keeps the previous scrape (it used to be erased)', async () => {
    const fn = await startFn({ DERIVED_SERIES: 'rate' });
    await invoke(fn);
    fx.target.stampMs += MINUTE;
    // The state write (the first PutObject) fails; the ingestion is down, so the spool is written after it.
    fx.stack.emulator.enqueueFault({ status: 503, method: 'PUT' }, 1, 'objectstorage');
    const outage = await invokeDown(fn);
    assert.match(outage.state.error ?? '', /503|failed/);
    assert.equal(outage.spool?.error, undefined);
    fx.target.stampMs += MINUTE;
    const s = await invoke(fn);
    assert.equal(s.notDerived.first_scrape, undefined, `the previous scrape was kept: ${JSON.stringify(s.notDerived)}`);
    assert.ok(s.derived > 0);
  });

  test('the state keeps only targets seen within STATE_MAX_AGE_SECONDS', async () => {
    const fn = await startFn({ DERIVED_SERIES: 'rate' });
    const stale = { t: Date.now() - 60 * MINUTE, f: { x: { k: 'c' as const, s: { '[]': [1] } } } };
    const targets = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`gone${i}`, stale]));
    putState({ ...emptyStateDocument(), targets });
    await invoke(fn);
    assert.equal(Object.keys(storedState().doc.targets).length, 1, 'only the target scraped now');
  });

  test('a state object that inflates beyond the memory bound is named too_large and replaced; the run goes on', async () => {
    const fn = await startFn({}, FUNCTION_HEAP_ARGS_256MB);
    // 300 MiB of JSON whitespace inside a valid document, as gzip members (gunzip reads them one after another): about 0.3 MB stored.
    const spaces = gzipSync(Buffer.alloc(1024 * 1024, 0x20), { level: 9 });
    const bomb = Buffer.concat([gzipSync('{"format":"prom2oci-state","version":1,"targets":{}'), ...Array<Buffer>(300).fill(spaces), gzipSync('}')]);
    assert.ok(bomb.length < 1024 * 1024, `${bomb.length} bytes stored`);
    putState(bomb);
    const s = await invoke(fn);
    const peakMb = Math.round(fn.peakRssBytes()! / 1024 / 1024);
    assert.ok(peakMb < 256, `peak RSS ${peakMb} MB within a 256 MB function: never inflated whole`);
    assert.equal(s.posted, SERIES);
    assert.equal(s.state.cause, 'too_large');
    fx.target.stampMs += MINUTE;
    assert.equal((await invoke(fn)).state.error, undefined, 'replaced');
  });

  test('a spool far larger than SPOOL_MAX_SERIES is read only up to it (the rest dropped as full), with the heap of a 256 MB function', async () => {
    // The functions here run with FN_MEMORY=128 (the local agent's default): SPOOL_MAX_SERIES may be 10,922 there.
    const fn = await startFn({ SPOOL_MAX_SERIES: '10000' }, FUNCTION_HEAP_ARGS_256MB);
    const old = Date.now() - 30 * MINUTE;
    // 55,000 entries, 2.9 MB of JSON: within what the memory budget's state share decodes at 128 MB (3.2 MB; a larger object is too_large).
    const entries: SpoolEntry[] = Array.from({ length: 55_000 }, (_, i) => ({
      namespace: NAMESPACE,
      compartmentId: COMPARTMENT,
      name: 'old_total',
      dimensions: { series: String(i), instance: 'old:9100' },
      points: [[old + (i % 1000), i]],
    }));
    putState({ ...emptyStateDocument(), spool: encodeSpool(entries) });
    const s = await invoke(fn);
    assert.equal(s.posted, SERIES, 'the fresh data is posted');
    assert.equal(s.spool?.dropped.full, 45_000, 'the oldest beyond SPOOL_MAX_SERIES dropped as full, counted');
    assert.equal((s.spool?.posted ?? 0) + (s.spool?.pending ?? 0), 10_000);
    assert.equal(fn.alive, true);
  });

  test('a PostMetricData call whose answer is lost is sent again: the one duplicate allowed, counted and named in the response', async () => {
    const fn = await startFn();
    await invoke(fn);
    fx.stack.emulator.reset();
    fx.target.stampMs += MINUTE;
    fx.stack.emulator.enqueueFault({ lostAnswer: true }, 1, 'metrics');
    const s = await invoke(fn);
    assert.equal(s.posted, SERIES);
    assert.equal(s.lostAnswers?.resent, SERIES, 'the batch sent again after its answer was lost');
    assert.match(s.lostAnswers?.note ?? '', /twice/);
  });

  test('self-metrics are spooled: after an outage `up` has no hole', async () => {
    const fn = await startFn();
    await invoke(fn);
    fx.stack.emulator.reset();
    const down = await invokeDown(fn);
    fx.target.stampMs += MINUTE;
    await invoke(fn);
    const up = fx.stack.emulator.accepted.filter((m) => m.name === 'up').flatMap((m) => m.datapoints.map((d) => d.timestamp));
    assert.equal(new Set(up).size, 2, `up of the outage minute and of this one: ${JSON.stringify(up)}`);
    assert.ok(down.spool!.pending > SERIES, 'the self-metrics joined the spool');
  });
});
