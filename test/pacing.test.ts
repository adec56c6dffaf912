/**
 * The adaptive pacing controller (AIMD under the POST_CALLS_PER_SECOND ceiling), on a simulated
 * clock: its rules one by one, then whole runs against the emulator's own tenancy limiter (the
 * real TenancyRateLimiter, fed simulated times: test/helpers/pacing-sim.ts) alone, beside another
 * poster, through a burst of 429s and as several deployments sharing a tenancy (alone, and meeting on
 * the pacing board of src/publish/board.ts).
 * Deterministic: simulated time, seeded jitter, no wall clock.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AdaptivePacer,
  burstOf,
  CLIMB_PER_SECOND,
  cruiseRate,
  DECREASE_FACTOR,
  EDGE_MARGIN,
  EPISODE_HOLD_MS,
  SETTLED_RATE_MAX_AGE_MS,
  settledToStore,
  shareOfTenancy,
  startFrom,
  TENANCY_CALLS_PER_SECOND,
} from '../src/publish/pacing';
import { throttleEpisodes } from '../src/local/emulator/rate-limit';
import { AUTO_IN_FLIGHT } from '../src/publish/inflight';
import { simulate, type SimBoard, type SimPosterResult, type SimResult } from './helpers/pacing-sim';
import { mulberry32 } from '../src/local/demo/traffic';

/** `calls` accepted calls, evenly spaced at the pacer's rate from `fromMs`; returns the time after the last. */
function acceptFor(p: AdaptivePacer, fromMs: number, calls: number): number {
  let t = fromMs;
  for (let i = 0; i < calls; i++) {
    t += 1000 / p.rate;
    p.accepted(t);
  }
  return t;
}

/** Accepted calls at the pacer's rate for `seconds` of simulated time; returns the time after the last. */
function acceptForSeconds(p: AdaptivePacer, fromMs: number, seconds: number): number {
  let t = fromMs;
  while (t < fromMs + seconds * 1000) {
    t += 1000 / p.rate;
    p.accepted(t);
  }
  return t;
}

/** How far under an edge the rate aims: EDGE_MARGIN of the tenancy's limit (1 call/s), whatever our own rate. */
const MARGIN = TENANCY_CALLS_PER_SECOND * EDGE_MARGIN;

describe('AdaptivePacer rules', () => {
  test('starts at the ceiling with a burst that keeps any second under the tenancy limit', () => {
    const p = new AdaptivePacer(48);
    assert.equal(p.rate, 48);
    assert.equal(p.burst, 2);
    assert.equal(p.tryStart(0), 0);
    assert.equal(p.tryStart(0), 0, 'the burst allows a second call at once');
    const wait = p.tryStart(0);
    assert.ok(wait > 0 && wait <= 1000 / 48 + 1e-9, `then one interval: ${wait}`);
    for (let rate = 1; rate <= TENANCY_CALLS_PER_SECOND; rate++)
      assert.ok(rate + burstOf(rate) <= TENANCY_CALLS_PER_SECOND + 1 && burstOf(rate) >= 1, `rate ${rate}`);
  });

  test("a ceiling at OCI's limit is kept just under it; one above it is the user's and used as it is", () => {
    assert.equal(cruiseRate(TENANCY_CALLS_PER_SECOND), TENANCY_CALLS_PER_SECOND - MARGIN);
    assert.equal(new AdaptivePacer(TENANCY_CALLS_PER_SECOND).rate, 49);
    assert.equal(cruiseRate(48), 48);
    assert.equal(cruiseRate(49.5), 49);
    assert.equal(cruiseRate(200), 200);
    const p = new AdaptivePacer(TENANCY_CALLS_PER_SECOND);
    acceptFor(p, 0, 10_000);
    assert.equal(p.rate, 49, 'it never climbs above it');
  });

  test('timers that fire late do not slow the schedule: a start up to 5 ms late keeps it, and no second holds more than 50 starts', () => {
    // A caller waits as told, but its timer fires 0-3 ms late (the ms it rounds to, a busy loop): each
    // late start used to push every later one back, 500 calls at 49/s started at 44-45/s.
    const p = new AdaptivePacer(TENANCY_CALLS_PER_SECOND);
    const starts: number[] = [];
    let now = 0;
    let late = 0;
    while (starts.length < 2000) {
      const wait = p.tryStart(now);
      if (wait === 0) starts.push(now);
      else now += wait + (late = (late + 1.37) % 3);
    }
    const rate = ((starts.length - 1) / (starts[starts.length - 1] - starts[0])) * 1000;
    assert.ok(rate >= 0.99 * p.top, `started at ${rate.toFixed(2)} calls/s of ${p.top}`);
    let most = 0;
    for (let a = 0, b = 0; b < starts.length; b++) {
      while (starts[b] - starts[a] >= 1000) a++;
      most = Math.max(most, b - a + 1);
    }
    assert.ok(most <= TENANCY_CALLS_PER_SECOND, `${most} starts in one second`);
  });

  test('at most one cut per second of 429s: 429s of calls started within EPISODE_HOLD_MS of a cut cut no further', () => {
    const p = new AdaptivePacer(40);
    p.throttled(100, 150);
    assert.equal(p.rate, 40 * DECREASE_FACTOR);
    // Calls in flight at the cut, and calls started within the hold: the tenancy still counts the second before the cut.
    p.throttled(120, 170);
    p.throttled(160, 210);
    p.throttled(150 + EPISODE_HOLD_MS - 1, 150 + EPISODE_HOLD_MS + 40);
    assert.equal(p.rate, 40 * DECREASE_FACTOR);
    assert.equal(p.stats().decreases, 1);
    // A call started after the hold and still refused: the tenancy is still too busy.
    p.throttled(150 + EPISODE_HOLD_MS, 150 + EPISODE_HOLD_MS + 50);
    assert.equal(p.rate, 40 * DECREASE_FACTOR ** 2);
    assert.equal(p.stats().decreases, 2);
    assert.equal(p.burst, 1, 'no bursts once the tenancy showed it is busy');
  });

  test('after a decrease the next start waits one new interval', () => {
    const p = new AdaptivePacer(40);
    assert.equal(p.tryStart(1000), 0);
    p.throttled(1000, 1050);
    assert.equal(p.tryStart(1050), 1000 / 20);
    assert.equal(p.tryStart(1100), 0);
  });

  test('a lone 429 (a moment at the limit): back just under the rate before it (1 call/s under) within seconds, then a slow climb', () => {
    const p = new AdaptivePacer(40);
    const rate = (): number => p.rate; // read anew each time: assert.equal would narrow p.rate to its literal
    p.throttled(1000, 1050);
    assert.equal(rate(), 20);
    let t = acceptForSeconds(p, 1050, 3);
    assert.ok(p.rate > 0.95 * (40 - MARGIN), `3 s after a lone 429: ${p.rate}`);
    t = acceptForSeconds(p, t, 10);
    const before = p.rate;
    assert.ok(before >= 40 - MARGIN - 0.01 && before < 40 - MARGIN + 11 * CLIMB_PER_SECOND, `just under the edge: ${before}`);
    acceptFor(p, t, Math.round(before));
    const step = p.rate - before;
    assert.ok(step > 0.9 * CLIMB_PER_SECOND && step < 1.1 * CLIMB_PER_SECOND, `probe step ${step}`);
    assert.equal(p.settledRate, 40 - MARGIN, 'the next invocation starts just under the edge, not where the probe went past it');
  });

  test('calls at the new rate refused among accepted ones (a busy tenancy): the new rate is the edge, probed slowly from just under it', () => {
    const p = new AdaptivePacer(48);
    p.throttled(1000, 1050); // cut to 24
    p.accepted(1100);
    p.throttled(1200, 1300); // started after the cut, refused: the tenancy has room for less
    p.accepted(1400);
    assert.equal(p.rate, 24, 'no climb within a second that refused calls at the new rate');
    const t = acceptForSeconds(p, 2100, 1);
    const r1 = p.rate;
    // Sitting at the edge keeps the tenancy at its limit, where a neighbour may take the 429s we would need to see.
    assert.ok(r1 > 24 - MARGIN && r1 < 24 - MARGIN + 2 * CLIMB_PER_SECOND, `just under the new rate, then a slow climb: ${r1}`);
    acceptForSeconds(p, t, 10);
    assert.ok(p.rate < 24 - MARGIN + 12 * CLIMB_PER_SECOND, `still slow: ${p.rate}`);
    assert.equal(p.settledRate, 24 - MARGIN);
  });

  test('a 2 s burst of nothing but 429s (whatever the rate) does not cripple the rest: back near the rate before within seconds', () => {
    // Issue 20 item 7: each 429 used to halve the rate again, to the floor of 1 call/s, and the
    // quick climb went only back up to the rate of the last 429, so the rest of the run crawled.
    const p = new AdaptivePacer(49);
    let t = acceptFor(p, 0, 100);
    // 2 s in which every call gets 429, four calls in flight, each retried after ~100-400 ms.
    for (let at = t; at < t + 2000; at += 25) p.throttled(at - 50, at);
    t += 2000;
    assert.ok(p.stats().decreases <= 3, `one cut per second of 429s: ${p.stats().decreases}`);
    assert.ok(p.stats().minRate >= 49 / 8, `min rate ${p.stats().minRate}`);
    t = acceptForSeconds(p, t, 4);
    assert.ok(p.rate >= 0.9 * 49, `4 s after the burst: ${p.rate.toFixed(1)} calls/s`);
    acceptForSeconds(p, t, 4);
    assert.ok(p.settledRate >= 0.95 * 49, `settled ${p.settledRate}`);
  });

  /** Starts calls at the pacer's pace from `from` until `untilMs`, handing each start time to `onStart`; returns the time reached. */
  function startAll(p: AdaptivePacer, from: number, untilMs: number, onStart: (t: number) => void): number {
    let now = from;
    while (now < untilMs) {
      const wait = p.tryStart(now);
      if (wait === 0) onStart(now);
      else now += wait;
    }
    return now;
  }

  test('alone at 49 calls/s, a 429 our own calls explain (arrivals bunched) is not cut for: the rate is trimmed by 0.5 call/s, the edge stays', () => {
    // Issue 23 item 3: alone at 49 calls/s a calm machine bunched 51 arrivals into one second about
    // once a minute; the cut halved the rate and the edge it took (1 call/s under 49) kept it near 48
    // for the rest of the run: 142,500 series missed their minute by 0.1-0.7 s. Calls started after
    // the 429 were refused too (the second still held the bunch): the same bunch, nothing more.
    const p = new AdaptivePacer(TENANCY_CALLS_PER_SECOND);
    let now = startAll(p, 0, 3000, (t) => p.accepted(t + 50));
    p.throttled(now - 50, now); // the bunch's 429
    const bunch = now;
    now = startAll(p, now, bunch + 300, (t) => p.throttled(t, t + 50)); // started after it, refused: the second still holds the bunch
    startAll(p, now, bunch + 5000, (t) => p.accepted(t + 50));
    assert.equal(p.stats().decreases, 0, 'no cut');
    assert.equal(p.stats().trims, 1, 'one trim: the 429s of the calls started after it are the same bunch');
    assert.equal(p.stats().minRate, TENANCY_CALLS_PER_SECOND - MARGIN - 0.5, 'a trim of 0.5 call/s, once');
    assert.ok(p.rate >= TENANCY_CALLS_PER_SECOND - MARGIN - 0.5, `after: ${p.rate.toFixed(2)} calls/s`);
    assert.equal(p.settledRate, TENANCY_CALLS_PER_SECOND - MARGIN, 'no edge taken from it: the next invocation starts at the top');
  });

  test('own 429s trim only while our own calls fill the second (about 48.5 calls/s and more): then a 429 cuts, as at 45 calls/s', () => {
    // Beside a neighbour of a few calls/s a function at the top gets 429s every second or so: one or
    // two trims, then the cuts as before.
    const p = new AdaptivePacer(TENANCY_CALLS_PER_SECOND);
    let now = startAll(p, 0, 3000, (t) => p.accepted(t + 50));
    const trimmedAt: number[] = [];
    while (p.stats().decreases === 0 && trimmedAt.length < 10) {
      trimmedAt.push(p.rate);
      p.throttled(now - 50, now);
      now = startAll(p, now, now + 1500, (t) => p.accepted(t + 50));
    }
    assert.equal(p.stats().decreases, 1, `cut after ${trimmedAt.length} 429s`);
    assert.ok(trimmedAt.length >= 2 && trimmedAt.length <= 3, `429s at ${trimmedAt.map((r) => r.toFixed(2)).join(', ')} calls/s`);
    const q = new AdaptivePacer(45);
    now = startAll(q, 0, 3000, (t) => q.accepted(t + 50));
    q.throttled(now - 50, now);
    assert.equal(q.stats().decreases, 1, 'at 45 calls/s a 429 cuts');
  });

  test('the rate never falls below 1 call/s (or the ceiling when lower)', () => {
    const p = new AdaptivePacer(8);
    for (let t = 0; t < 20; t++) p.throttled(t * 2000 + 1, t * 2000 + 2);
    assert.equal(p.rate, 1);
    const low = new AdaptivePacer(0.5);
    low.throttled(0, 1);
    assert.equal(low.rate, 0.5);
    assert.throws(() => new AdaptivePacer(0), /positive/);
  });

  test("an invocation starts at the previous one's settled rate, without bursts, and climbs from it slowly", () => {
    const p = new AdaptivePacer(50, { rate: 20 });
    assert.equal(p.rate, 20);
    assert.equal(p.burst, 1);
    acceptForSeconds(p, 0, 10);
    assert.ok(p.rate > 20 && p.rate < 20 + 11 * CLIMB_PER_SECOND, `slow from the start rate: ${p.rate}`);
    assert.equal(new AdaptivePacer(50, { rate: 500 }).rate, 49, 'never above the top rate');
    assert.equal(new AdaptivePacer(50, { rate: 0.01 }).rate, 1, 'never below the floor');
    assert.equal(new AdaptivePacer(30, { rate: 0 }).rate, 30, 'no rate: the ceiling');
  });

  test('a shard of N starts at its share of the tenancy at most (49 / N), without bursts, and climbs above it slowly; unsharded at the top', () => {
    const share = (TENANCY_CALLS_PER_SECOND - MARGIN) / 4;
    const p = new AdaptivePacer(TENANCY_CALLS_PER_SECOND, undefined, 4);
    assert.equal(p.rate, share);
    assert.equal(p.burst, 1, 'no burst into its sibling shards');
    assert.equal(new AdaptivePacer(TENANCY_CALLS_PER_SECOND, { rate: 24 }, 4).rate, share, 'a settled rate above its share: its share');
    assert.equal(new AdaptivePacer(TENANCY_CALLS_PER_SECOND, { rate: 8 }, 4).rate, 8, 'below it: the settled rate');
    assert.equal(new AdaptivePacer(TENANCY_CALLS_PER_SECOND, undefined, 1).rate, TENANCY_CALLS_PER_SECOND - MARGIN);
    assert.equal(new AdaptivePacer(10, undefined, 4).rate, 10, "a hard cap under the share is the function's own");
    assert.equal(new AdaptivePacer(200, undefined, 4).rate, 50, 'a raised tenancy limit: its share of that');
    assert.equal(shareOfTenancy(TENANCY_CALLS_PER_SECOND, 1000), 1, 'never under the floor');
    acceptForSeconds(p, 0, 10);
    assert.ok(p.rate > share && p.rate < share + 11 * CLIMB_PER_SECOND, `slowly above its share: ${p.rate}`);
  });
});

describe("the previous invocation's settled rate (state)", () => {
  const now = 1_800_000_000_000;
  test('an invocation starts from a fresh stored rate; a stale one (or one from the future) is ignored', () => {
    assert.deepEqual(startFrom({ rate: 24.5, at: now - 60_000 }, now), { rate: 24.5 });
    assert.deepEqual(startFrom({ rate: 24.5, at: now - SETTLED_RATE_MAX_AGE_MS }, now), { rate: 24.5 });
    assert.equal(startFrom({ rate: 24.5, at: now - SETTLED_RATE_MAX_AGE_MS - 1 }, now), undefined);
    assert.equal(startFrom({ rate: 24.5, at: now + SETTLED_RATE_MAX_AGE_MS + 1 }, now), undefined);
    assert.equal(startFrom(undefined, now), undefined);
  });
  test('the settled rate is stored when none is (unless at the top rate), when it moved by over 10%, or when the stored one is half its age old', () => {
    assert.deepEqual(settledToStore(24.567, 49, undefined, now), { rate: 24.57, at: now });
    assert.equal(settledToStore(49, 49, undefined, now), undefined, 'at the top rate with none stored: nothing to say, nothing written');
    assert.equal(settledToStore(26, 49, { rate: 24.5, at: now - 60_000 }, now), undefined, 'within 10%: no rewrite of the whole document');
    assert.deepEqual(settledToStore(28, 49, { rate: 24.5, at: now - 60_000 }, now), { rate: 28, at: now });
    assert.deepEqual(settledToStore(20, 49, { rate: 24.5, at: now - 60_000 }, now), { rate: 20, at: now });
    assert.deepEqual(settledToStore(49, 49, { rate: 24.5, at: now - 60_000 }, now), { rate: 49, at: now }, 'back at the top: the next starts there');
    assert.deepEqual(settledToStore(24.5, 49, { rate: 24.5, at: now - SETTLED_RATE_MAX_AGE_MS / 2 - 1 }, now), { rate: 24.5, at: now });
  });
});

/** Episodes of the tenancy's 429s longer than a moment (429s less than 1 s apart), ms. */
function longestEpisodeMs(times: number[]): number {
  return Math.max(0, ...throttleEpisodes(times).map((e) => e.endMs - e.startMs));
}

/** Accepted calls per second of one poster within [fromMs, toMs). */
function rateWithin(p: SimPosterResult, fromMs: number, toMs: number): number {
  return (p.acceptedAt.filter((t) => t >= fromMs && t < toMs).length / (toMs - fromMs)) * 1000;
}

describe('AdaptivePacer against the tenancy limiter (simulated time)', () => {
  // The benchmark's throttled case: 100k samples = 2,083 calls, 50 ms latency, 8 in flight, 50/s per tenancy.
  const base = { latencyMs: 50, limit: TENANCY_CALLS_PER_SECOND };
  const poster = { batches: 2083, concurrency: 8 };
  const free = TENANCY_CALLS_PER_SECOND / 2;
  // Exact arrivals (seeds 5-7), then arrivals up to 5, 20 and 40 ms late (each with several seeds).
  const sharedRuns = [
    ...[5, 6, 7].map((seed) => ({ seed, jitterMs: 0 })),
    ...[5, 20, 40].flatMap((jitterMs) => [11, 12, 13, 14, 15, 16].map((seed) => ({ seed, jitterMs }))),
  ];

  test("alone at the default ceiling (OCI's limit): no 429 with arrivals up to 20 ms late, >= 95% of the limit", () => {
    for (const jitterMs of [0, 5, 20])
      for (const seed of [1, 2, 3]) {
        const r = simulate({ ...base, seed, jitterMs, posters: [{ ...poster, ceiling: TENANCY_CALLS_PER_SECOND }] });
        const p = r.posters[0];
        assert.equal(p.throttled, 0, `seed ${seed}, jitter ${jitterMs}`);
        assert.ok(p.acceptedRate >= 0.95 * TENANCY_CALLS_PER_SECOND, `rate ${p.acceptedRate.toFixed(1)}`);
      }
    const late = simulate({ ...base, seed: 1, jitterMs: 40, posters: [{ ...poster, ceiling: TENANCY_CALLS_PER_SECOND }] }).posters[0];
    assert.ok(late.acceptedRate >= 0.9 * TENANCY_CALLS_PER_SECOND, `arrivals up to 40 ms late: ${late.acceptedRate.toFixed(1)}`);
  });

  test('POST_CONCURRENCY=auto alone at answers of 200-600 ms: >= 95% of the limit, as at 50 ms; a fixed 8 only 8 / latency', () => {
    for (const latencyMs of [200, 400, 600])
      for (const jitterMs of [0, 20])
        for (const seed of [1, 2, 3]) {
          const at = `${latencyMs} ms, jitter ${jitterMs}, seed ${seed}`;
          const auto = simulate({ ...base, latencyMs, seed, jitterMs, posters: [{ ...poster, concurrency: 'auto', ceiling: TENANCY_CALLS_PER_SECOND }] })
            .posters[0];
          assert.equal(auto.accepted, poster.batches, at);
          assert.ok(auto.acceptedRate >= 0.95 * TENANCY_CALLS_PER_SECOND, `auto ${auto.acceptedRate.toFixed(1)} calls/s (${at})`);
          assert.ok(auto.throttled <= 1, `auto: ${auto.throttled} 429s (${at})`);
          assert.ok(auto.heldPeak > AUTO_IN_FLIGHT.min && auto.heldPeak <= AUTO_IN_FLIGHT.max, `auto held ${auto.heldPeak} (${at})`);
          const fixed = simulate({ ...base, latencyMs, seed, jitterMs, posters: [{ ...poster, ceiling: TENANCY_CALLS_PER_SECOND }] }).posters[0];
          assert.ok(fixed.acceptedRate <= (8 * 1000) / latencyMs, `fixed 8: ${fixed.acceptedRate.toFixed(1)} calls/s (${at})`);
        }
  });

  test('auto at 200-600 ms answers beside a poster taking half the tenancy, from the settled rate: no run of 429s, >= 85% of the free half', () => {
    for (const latencyMs of [200, 400, 600])
      for (const { seed, jitterMs } of sharedRuns) {
        const at = `${latencyMs} ms, jitter ${jitterMs}, seed ${seed}`;
        const r = simulate({
          ...base,
          latencyMs,
          seed,
          jitterMs,
          otherPerSecond: free,
          posters: [{ ...poster, concurrency: 'auto', ceiling: TENANCY_CALLS_PER_SECOND, start: { rate: free - 1.5 } }],
        });
        const p = r.posters[0];
        assert.equal(p.accepted, poster.batches, at);
        assert.ok(p.throttled < 0.01 * p.calls, `${p.throttled} 429s in ${p.calls} calls (${at})`);
        assert.ok(p.acceptedRate >= 0.85 * free, `${p.acceptedRate.toFixed(1)} calls/s (${at})`);
        assert.ok(longestEpisodeMs(r.tenancy429s) <= 1000, `429s less than 1 s apart for ${longestEpisodeMs(r.tenancy429s)} ms (${at})`);
      }
  });

  test('alone, a stray 429 costs little: the rate is back near the ceiling within seconds', () => {
    // At 40 calls/s our own calls cannot fill the tenancy's second: the stray 429 cuts, once.
    const p = simulate({ ...base, seed: 8, posters: [{ ...poster, ceiling: 40, stray429AtCall: 200 }] }).posters[0];
    assert.equal(p.throttled, 1);
    assert.equal(p.pacer.stats().decreases, 1);
    assert.ok(p.acceptedRate >= 0.95 * 40, `rate ${p.acceptedRate.toFixed(1)}`);
  });

  test('142,500 series alone at the default (2,850 calls at 49/s): arrivals bunched by 21-25 ms cost no cut, the last accepted by 58.8 s', () => {
    // Issue 23 item 3. OCI's limit is 150,000 series a minute; 2,850 calls at 49/s take 58.2 s from
    // the first start. Arrivals more than 20.4 ms apart from their starts' spacing can put 51 calls into
    // one second: before, each such 429 halved the rate and left it 1 call/s under 49 (the edge), so
    // the last call was accepted at 59.3-59.9 s (21-25 ms) and 60.7 s (40 ms) in these runs.
    const limit = { batches: 2850, concurrency: 8, ceiling: TENANCY_CALLS_PER_SECOND };
    const late: string[] = [];
    for (const jitterMs of [21, 22, 25])
      for (let seed = 1; seed <= 8; seed++) {
        const p = simulate({ ...base, seed, jitterMs, timerLateMs: 3, posters: [limit] }).posters[0];
        assert.equal(p.accepted, limit.batches);
        assert.equal(p.pacer.stats().decreases, 0, `seed ${seed}, arrivals up to ${jitterMs} ms late: no cut`);
        if (p.doneMs > 58_800) late.push(`seed ${seed}/jitter ${jitterMs}: ${(p.doneMs / 1000).toFixed(2)} s`);
      }
    assert.deepEqual(late, []);
    for (let seed = 1; seed <= 8; seed++) {
      const r = simulate({ ...base, seed, jitterMs: 40, timerLateMs: 3, posters: [limit] });
      const p = r.posters[0];
      assert.ok(p.throttled < 0.01 * p.calls, `arrivals up to 40 ms late: ${p.throttled} 429s`);
      assert.ok(longestEpisodeMs(r.tenancy429s) <= 1000, `seed ${seed}: 429s less than 1 s apart for ${longestEpisodeMs(r.tenancy429s)} ms`);
      assert.ok(p.doneMs <= 60_300, `seed ${seed}, arrivals up to 40 ms late: the last accepted at ${(p.doneMs / 1000).toFixed(2)} s`);
    }
  });

  test('beside a poster at 1 or 2 calls/s (our own calls could fill the second): the trims give way to cuts, never over the limit for > 1 s', () => {
    // With own 429s 1 s apart allowed to trim, one run in 100 beside a poster at 1 call/s chained the
    // neighbour's 429s between ours into 1.4 s.
    const problems: string[] = [];
    for (const otherPerSecond of [1, 2])
      for (const jitterMs of [0, 5, 20, 40])
        for (let seed = 101; seed <= 125; seed++) {
          const r = simulate({ ...base, seed, jitterMs, otherPerSecond, posters: [{ ...poster, ceiling: TENANCY_CALLS_PER_SECOND }] });
          const p = r.posters[0];
          const longest = longestEpisodeMs(r.tenancy429s);
          const run = `other ${otherPerSecond}/s, seed ${seed}/jitter ${jitterMs}`;
          if (longest > 1000) problems.push(`${run}: 429s less than 1 s apart for ${longest.toFixed(0)} ms`);
          if (p.throttled >= 0.02 * p.calls) problems.push(`${run}: ${p.throttled} 429s in ${p.calls} calls`);
          if (p.acceptedRate < 0.85 * (TENANCY_CALLS_PER_SECOND - otherPerSecond)) problems.push(`${run}: ${p.acceptedRate.toFixed(1)} calls/s`);
        }
    assert.deepEqual(problems, []);
  });

  test('alone with a ceiling above the limit: it settles under the limit, 429s rare', () => {
    const r = simulate({ ...base, seed: 4, posters: [{ ...poster, ceiling: 200 }] });
    const p = r.posters[0];
    assert.ok(p.pacer.stats().decreases >= 2, 'it backed off');
    assert.ok(p.throttled < 0.02 * p.calls, `${p.throttled} 429s in ${p.calls} calls`);
    // 4x the room: two cuts, one second apart (the hold), then no stretch of 429s.
    const [start, ...later] = throttleEpisodes(r.tenancy429s);
    assert.ok(start.endMs - start.startMs <= 2100, `the start's episode: ${start.endMs - start.startMs} ms`);
    for (const e of later) assert.ok(e.endMs - e.startMs <= 1000, `episode of ${e.endMs - e.startMs} ms`);
  });

  test('a 2 s burst of 429s mid-run: the rate is back near its ceiling within seconds, nothing lost (issue 20 item 7)', () => {
    for (const seed of [1, 2, 3])
      for (const jitterMs of [0, 20]) {
        const r = simulate({ ...base, seed, jitterMs, faultWindow: [5000, 7000], posters: [{ ...poster, batches: 1000, ceiling: 48 }] });
        const p = r.posters[0];
        assert.equal(p.accepted, 1000, 'every batch accepted once');
        assert.ok(p.pacer.stats().decreases <= 3, `cuts ${p.pacer.stats().decreases}`);
        const after = rateWithin(p, 10_000, 15_000);
        assert.ok(after >= 0.9 * 48, `3-8 s after the burst: ${after.toFixed(1)} calls/s (seed ${seed})`);
      }
  });

  for (const ceiling of [48, TENANCY_CALLS_PER_SECOND]) {
    test(`beside a poster taking half the tenancy and never backing off, ceiling ${ceiling}: < 2% 429s, >= 85% of the free half, nothing lost`, () => {
      const over: string[] = [];
      for (const { seed, jitterMs } of sharedRuns) {
        const r = simulate({ ...base, seed, jitterMs, otherPerSecond: free, posters: [{ ...poster, ceiling }] });
        const p = r.posters[0];
        assert.equal(p.accepted, poster.batches, 'every batch accepted exactly once');
        assert.ok(p.throttled > 0 && p.pacer.stats().decreases > 0, 'the contention was seen and answered');
        assert.ok(p.throttled < 0.02 * p.calls, `${p.throttled} 429s in ${p.calls} calls (seed ${seed})`);
        assert.ok(p.acceptedRate >= 0.85 * free, `rate ${p.acceptedRate.toFixed(1)} (seed ${seed}, jitter ${jitterMs})`);
        assert.ok(r.otherThrottled < 0.05 * r.otherCalls, `the other poster's 429s ${r.otherThrottled} of ${r.otherCalls}`);
        const episodes = throttleEpisodes(r.tenancy429s);
        // The start into the busy tenancy: one cut, one second, not a chain of them.
        assert.ok(episodes[0].endMs - episodes[0].startMs <= 600, `the start's episode ${episodes[0].endMs - episodes[0].startMs} ms (seed ${seed})`);
        const longest = longestEpisodeMs(r.tenancy429s);
        if (longest > 1000) over.push(`seed ${seed}/jitter ${jitterMs}: ${longest.toFixed(0)} ms`);
      }
      assert.deepEqual(over, [], 'runs with 429s less than 1 s apart for over 1 s');
    });
  }

  test("started at the previous invocation's settled rate beside that poster: no burst into the busy tenancy, < 1% 429s", () => {
    const over: string[] = [];
    for (const { seed, jitterMs } of sharedRuns) {
      // The rate the invocation before (started fresh into the same tenancy) settled on.
      const settled = simulate({ ...base, seed, jitterMs, otherPerSecond: free, posters: [{ ...poster, ceiling: TENANCY_CALLS_PER_SECOND }] }).posters[0].pacer
        .settledRate;
      assert.ok(settled < free, `it settled under the free room: ${settled}`);
      const r = simulate({
        ...base,
        seed,
        jitterMs,
        otherPerSecond: free,
        posters: [{ ...poster, ceiling: TENANCY_CALLS_PER_SECOND, start: { rate: settled } }],
      });
      const p = r.posters[0];
      assert.equal(p.accepted, poster.batches);
      assert.ok(p.throttled < 0.01 * p.calls, `${p.throttled} 429s in ${p.calls} calls (seed ${seed})`);
      assert.ok(p.acceptedRate >= 0.85 * free, `rate ${p.acceptedRate.toFixed(1)}`);
      // Started at the ceiling, the first 2 s hold 14-18 of them (the burst into the busy tenancy).
      const early = r.tenancy429s.filter((t) => t < 2000);
      assert.ok(early.length <= 3, `429s in the first 2 s: ${early.map((t) => t.toFixed(0)).join(', ')} ms (seed ${seed})`);
      const longest = longestEpisodeMs(r.tenancy429s);
      if (longest > 1000) over.push(`seed ${seed}/jitter ${jitterMs}: ${longest.toFixed(0)} ms`);
    }
    assert.deepEqual(over, [], 'runs with 429s less than 1 s apart for over 1 s');
  });

  test('safe run after run: 100 seeds x 4 arrival jitters beside that poster, fresh or from the settled rate: never over the limit for > 1 s', () => {
    // Issue 23: one simulated run in ~21 chained the neighbour's 429s (each ~1 s apart: OCI's sliding
    // second at 99-100% of the limit) into 1.9 s, before one was ours. The cause: after a cut the rate
    // sat at the edge (or 2% of our own half under it: 1% of the tenancy) and probed on past it.
    const problems: string[] = [];
    let runs = 0;
    for (const jitterMs of [0, 5, 20, 40])
      for (let seed = 101; seed <= 200; seed++) {
        const fresh = simulate({ ...base, seed, jitterMs, otherPerSecond: free, posters: [{ ...poster, ceiling: TENANCY_CALLS_PER_SECOND }] });
        const start = { rate: fresh.posters[0].pacer.settledRate };
        const next = simulate({
          ...base,
          seed: seed + 1000,
          jitterMs,
          otherPerSecond: free,
          posters: [{ ...poster, ceiling: TENANCY_CALLS_PER_SECOND, start }],
        });
        for (const [name, r] of [
          ['fresh', fresh],
          [`from ${start.rate.toFixed(2)}`, next],
        ] as const) {
          runs++;
          const p = r.posters[0];
          const longest = longestEpisodeMs(r.tenancy429s);
          if (longest > 1000) problems.push(`seed ${seed}/jitter ${jitterMs} ${name}: 429s less than 1 s apart for ${longest.toFixed(0)} ms`);
          if (p.throttled >= 0.02 * p.calls) problems.push(`seed ${seed}/jitter ${jitterMs} ${name}: ${p.throttled} 429s in ${p.calls} calls`);
          if (p.acceptedRate < 0.85 * free) problems.push(`seed ${seed}/jitter ${jitterMs} ${name}: ${p.acceptedRate.toFixed(1)} calls/s`);
          if (p.accepted !== poster.batches) problems.push(`seed ${seed}/jitter ${jitterMs} ${name}: ${p.accepted} of ${poster.batches} accepted`);
        }
      }
    assert.equal(runs, 800);
    assert.deepEqual(problems, []);
  });

  for (const n of [2, 4]) {
    test(`${n} deployments sharing the tenancy, each started at its settled rate: together >= 90% of the limit, each >= 75% of its share, < 2% 429s`, () => {
      for (const jitterMs of [5, 20, 40])
        for (const seed of [1, 2, 3]) {
          const r = simulate({
            ...base,
            seed,
            jitterMs,
            posters: Array.from({ length: n }, () => ({ ceiling: TENANCY_CALLS_PER_SECOND, batches: 2000 / n, concurrency: 8, start: { rate: 49 / n } })),
          });
          // Measured while all of them post (the first to finish leaves room the others take only slowly).
          const end = Math.min(...r.posters.map((p) => p.doneMs));
          const rates = r.posters.map((p) => rateWithin(p, 5000, end));
          const together = rates.reduce((a, b) => a + b, 0);
          const share = TENANCY_CALLS_PER_SECOND / n;
          assert.ok(together >= 0.9 * TENANCY_CALLS_PER_SECOND, `together ${together.toFixed(1)} (seed ${seed}, jitter ${jitterMs})`);
          for (const [i, p] of r.posters.entries()) {
            assert.ok(rates[i] >= 0.75 * share, `deployment ${i}: ${rates[i].toFixed(1)} of a ${share} share (seed ${seed}, jitter ${jitterMs})`);
            assert.ok(p.throttled < 0.02 * p.calls, `deployment ${i}: ${p.throttled} 429s in ${p.calls} calls`);
            assert.equal(p.accepted, 2000 / n);
          }
        }
    });
  }
});

/**
 * `n` equal deployments of one tenancy (`shards`: the shards i/n of one configuration), each invoked
 * once a minute (begins spread over `staggerMs`, seeded: their scrapes take different times) for
 * `invocations` minutes, each invocation after the first started at the rate its previous one settled
 * on (the state object). With `board`, they share a pacing board (src/publish/board.ts) as the
 * function does: the heartbeat at the begin, the scrape (0.3-1.5 s, seeded), the board read and the
 * posting's start, the rate written and the others' read every 10 s, the settled rate at the end;
 * the board goes on from minute to minute. Returns the last minute.
 */
function deploymentsMinutes(
  n: number,
  seed: number,
  jitterMs: number,
  staggerMs: number,
  invocations: number,
  shards: boolean,
  board = false,
  otherPerSecond = 0,
): SimResult & { beginMs: number[] } {
  const begins = mulberry32(seed * 31 + jitterMs);
  const shared: SimBoard = new Map();
  let starts: ({ rate: number } | undefined)[] = Array.from({ length: n }, () => undefined);
  for (let minute = 1; ; minute++) {
    const beginMs = starts.map(() => Math.floor(begins() * staggerMs));
    const scrapeMs = starts.map(() => (board ? 300 + Math.floor(begins() * 1200) : 0));
    const r = simulate({
      latencyMs: 50,
      limit: TENANCY_CALLS_PER_SECOND,
      seed: seed * 10 + minute,
      jitterMs,
      ...(otherPerSecond > 0 ? { otherPerSecond } : {}),
      posters: beginMs.map((b, i) => ({
        ceiling: TENANCY_CALLS_PER_SECOND,
        batches: 2000 / n,
        concurrency: 8,
        start: starts[i],
        beginMs: b,
        shards: shards ? n : 1,
        ...(board ? { board: { id: `d${i}`, scrapeMs: scrapeMs[i] } } : {}),
      })),
      ...(board ? { board: shared, boardEpochMs: minute * 60_000 } : {}),
    });
    // The posting's start (the scrape after the begin), for the measurement window.
    if (minute === invocations) return { ...r, beginMs: beginMs.map((b, i) => b + scrapeMs[i]) };
    starts = r.posters.map((p) => ({ rate: p.pacer.settledRate }));
  }
}

/**
 * What one minute of `n` deployments missed: `safe` (429s under 2% each, no run of 429s over 1 s),
 * `fair` (together >= 90% of what is free, each >= 80% of its share of it) or `share` (each >= 80% of
 * its share); `otherPerSecond`: a poster not on any board that never backs off takes that much of the tenancy.
 */
function deploymentsProblems(n: number, invocations: number, shards: boolean, check: 'safe' | 'fair' | 'share', board = false, otherPerSecond = 0): string[] {
  const problems: string[] = [];
  const free = TENANCY_CALLS_PER_SECOND - otherPerSecond;
  const share = free / n;
  for (const jitterMs of [5, 20, 40])
    for (let seed = 1; seed <= 20; seed++) {
      const r = deploymentsMinutes(n, seed, jitterMs, 1000, invocations, shards, board, otherPerSecond);
      const run = `seed ${seed}/jitter ${jitterMs}`;
      r.posters.forEach((p) => assert.equal(p.accepted, 2000 / n, 'every batch accepted once'));
      if (check === 'safe') {
        r.posters.forEach((p, i) => {
          if (p.throttled >= 0.02 * p.calls) problems.push(`${run}: deployment ${i} ${p.throttled} 429s in ${p.calls} calls`);
        });
        const longest = longestEpisodeMs(r.tenancy429s);
        if (longest > 1000) problems.push(`${run}: 429s less than 1 s apart for ${longest.toFixed(0)} ms`);
        continue;
      }
      // While all of them post, after the start: the first to finish leaves room the others take only slowly.
      const from = Math.max(...r.beginMs) + 5000;
      const to = Math.min(...r.posters.map((p) => p.doneMs));
      const rates = r.posters.map((p) => rateWithin(p, from, to));
      const together = rates.reduce((a, b) => a + b, 0);
      if (check === 'fair' && together < 0.9 * free) problems.push(`${run}: together ${together.toFixed(1)} calls/s`);
      rates.forEach((q, i) => {
        if (q < 0.8 * share) problems.push(`${run}: deployment ${i} at ${((q / share) * 100).toFixed(0)}% of its share`);
      });
    }
  return problems;
}

describe('several deployments in one tenancy: safe and fair (issues 22 and 23)', () => {
  // Issue 23: two and four deployments at once, together >= 90% of the limit, none below 80% of its
  // fair share, 429s < 2%; issue 22: four shards, the tenancy over its limit for at most 1 s at a
  // time ("safe": 429s under 2% each, no run of 429s over 1 s). Each run: equal deployments invoked each minute, begins within 1 s of each other (seeded),
  // measured while all of them post, from 5 s after the last began; 20 seeds x arrivals 5, 20, 40 ms
  // late. The figures: docs/performance.md, "Several deployments in one tenancy".
  const minute = (invocations: number): string => `minute ${invocations} (${invocations === 1 ? 'started fresh' : 'each from its settled rate'})`;

  test('two deployments, minute 1: together >= 90%, each >= 80% of its share, < 2% 429s, no run of 429s over 1 s, in every run', () => {
    assert.deepEqual([...deploymentsProblems(2, 1, false, 'safe'), ...deploymentsProblems(2, 1, false, 'fair')], []);
  });

  // Before the shard's share, four shards' first minute was four functions at 49 calls/s: every run
  // had up to 4% 429s and runs of 429s up to 2.5 s (the benchmark: 1.4-2.5 s).
  for (const [n, invocations] of [
    [4, 1],
    [4, 5],
    [2, 5],
  ] as const)
    test(`${n} shards (SHARD=i/${n}), ${minute(invocations)}: < 2% 429s each and no run of 429s over 1 s, in every run`, () => {
      assert.deepEqual(deploymentsProblems(n, invocations, true, 'safe'), []);
    });

  // With a shared STATE_BUCKET the deployments meet on the pacing board (src/publish/board.ts): a
  // fresh start at the even split 48.25 / k (49 less 0.75 call/s per deployment past the first) for
  // the k seen, a later one at the even split of the rates they settled on together; 429s that the
  // peers' calls and ours explain leave the edge where it was; every 10 s (the first after 2 s) the
  // even split of the rates held now. Without it (the same runs, no board), as measured before:
  // deployments minute 5, two fail in 7 of 60 runs (one at 50% of its share, 72% used), four in 21
  // (one at 55%); four started fresh in all 60 (4.0% 429s, runs of 429s up to 2.5 s, one at 57%);
  // shards, started at 49 / N: two fail in 3 of 60 by minute 5 (one at 55%), four in 2 of 60 in
  // minute 1 (one at 78%) and 5 of 60 by minute 5 (one at 48%, 84% used). With it, none of the 360:
  // each >= 86% of its share, together >= 92%, 429s <= 0.6% each, runs of 429s <= 304 ms.
  for (const [n, invocations, shards] of [
    [2, 5, false],
    [4, 1, false],
    [4, 5, false],
    [2, 5, true],
    [4, 1, true],
    [4, 5, true],
  ] as const)
    test(`${n} ${shards ? 'shards' : 'deployments'} on a pacing board, ${minute(invocations)}: together >= 90%, each >= 80% of its share, safe, always`, () => {
      assert.deepEqual([...deploymentsProblems(n, invocations, shards, 'safe', true), ...deploymentsProblems(n, invocations, shards, 'fair', true)], []);
    });

  test('two deployments on a pacing board beside a poster at 25 calls/s that never backs off, minute 5: safe, each >= 80% of its share of the 25', () => {
    // The even split never adds room nobody found: the sum the deployments hold is split, and a
    // deployment whose own 429s just showed a busy tenancy takes no more. Without the board: 20 of
    // 60 runs failed (one at 44% of its share); with it none (each >= 87%, together 87-94% of the
    // free 25, 429s <= 0.3%, no run of 429s). The first minute of several
    // deployments beside such a poster is not safe either way (runs of 429s up to 3.6 s without
    // the board, 3.7 s with it): docs/performance.md, "Several deployments in one tenancy".
    assert.deepEqual([...deploymentsProblems(2, 5, false, 'safe', true, 25), ...deploymentsProblems(2, 5, false, 'share', true, 25)], []);
  });
});
