/**
 * The adaptive pacing controller (AIMD under the POST_CALLS_PER_SECOND ceiling), on a simulated
 * clock: its rules one by one, then whole runs against the emulator's own tenancy limiter (the
 * real TenancyRateLimiter, fed simulated times) with and without another poster in the tenancy.
 * Deterministic: simulated time, seeded jitter, no wall clock.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AdaptivePacer, burstOf, CLIMB_PER_SECOND, DECREASE_FACTOR, TENANCY_CALLS_PER_SECOND } from '../src/publish/pacing';
import { backoffMs } from '../src/publish/publisher';
import { TenancyRateLimiter, throttleEpisodes } from '../src/local/emulator/rate-limit';
import { mulberry32 } from '../src/local/demo/traffic';

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

  test('a 429 halves the rate once per episode; in-flight 429s do not compound', () => {
    const p = new AdaptivePacer(40);
    p.throttled(100, 150);
    assert.equal(p.rate, 40 * DECREASE_FACTOR);
    // Calls that started before the decrease was decided belong to the same episode.
    p.throttled(120, 170);
    p.throttled(149, 200);
    assert.equal(p.rate, 40 * DECREASE_FACTOR);
    assert.equal(p.stats().decreases, 1);
    // A call that started after it and still got 429: the tenancy is still too busy.
    p.throttled(160, 210);
    assert.equal(p.rate, 40 * DECREASE_FACTOR ** 2);
    assert.equal(p.burst, 1, 'no bursts once the tenancy showed it is busy');
  });

  test('after a decrease the next start waits one new interval', () => {
    const p = new AdaptivePacer(50);
    assert.equal(p.tryStart(1000), 0);
    p.throttled(1000, 1050);
    assert.equal(p.tryStart(1050), 1000 / 25);
    assert.equal(p.tryStart(1090), 0);
  });

  test('accepted calls climb back: fast up to the rate of the last 429, then by CLIMB_PER_SECOND per second, never above the ceiling', () => {
    const p = new AdaptivePacer(60);
    const rate = (): number => p.rate; // read anew each time: assert.equal would narrow p.rate to its literal
    for (let i = 0; i < 20; i++) p.accepted();
    assert.equal(rate(), 60, 'at the ceiling it stays there');
    p.throttled(0, 0);
    assert.equal(rate(), 30);
    // Below the edge (60) the gap closes with a 3 s time constant: one second of calls adds ~10 calls/s.
    for (let i = 0; i < 30; i++) p.accepted();
    assert.ok(p.rate > 36 && p.rate < 40, `fast recovery: ${p.rate}`);
    let seconds = 1;
    while (p.rate < 59) {
      const r = p.rate;
      for (let i = 0; i < Math.round(r); i++) p.accepted();
      seconds++;
    }
    assert.ok(seconds <= 12, `near the edge again after ${seconds} s of calls`);
    // Above the edge of a later, lower 429, probing is slow: +CLIMB_PER_SECOND per second of calls.
    p.throttled(100, 100);
    while (p.rate < 59) p.accepted();
    const before = p.rate;
    for (let i = 0; i < Math.round(before); i++) p.accepted();
    const step = p.rate - before;
    assert.ok(step > 0.9 * CLIMB_PER_SECOND && step < 1.1 * CLIMB_PER_SECOND, `probe step ${step}`);
    for (let i = 0; i < 10_000; i++) p.accepted();
    assert.equal(p.rate, 60);
    assert.ok(p.stats().minRate <= 30 && p.stats().decreases === 2);
  });

  test('the rate never falls below 1 call/s (or the ceiling when lower)', () => {
    const p = new AdaptivePacer(8);
    for (let t = 0; t < 20; t++) p.throttled(t * 1000 + 1, t * 1000 + 2);
    assert.equal(p.rate, 1);
    const low = new AdaptivePacer(0.5);
    low.throttled(0, 1);
    assert.equal(low.rate, 0.5);
    assert.throws(() => new AdaptivePacer(0), /positive/);
  });
});

/** What one simulated run produced. */
interface SimResult {
  calls: number;
  throttled: number;
  /** Accepted calls of ours per second over the run. */
  acceptedRate: number;
  /** Every 429 the tenancy answered (ours and the other poster's), simulated ms. */
  tenancy429s: number[];
  otherCalls: number;
  otherThrottled: number;
  stats: ReturnType<AdaptivePacer['stats']>;
}

/**
 * A publish run on simulated time, as the publisher does it: `concurrency` workers take batches,
 * wait for a start slot, the call reaches the tenancy limiter after `latencyMs` (plus up to
 * `jitterMs`, seeded), its answer comes back at once; a 429 is retried after the publisher's own
 * backoff. Optionally another poster sends `otherPerSecond` calls into the same tenancy, started
 * evenly spaced and arriving up to `jitterMs` late (timers and networks are not exact: with exact
 * arrivals the sliding window hides how long a neighbour can absorb the 429s before one is ours).
 */
function simulate(o: {
  ceiling: number;
  batches: number;
  concurrency: number;
  latencyMs: number;
  limit: number;
  otherPerSecond?: number;
  seed: number;
  jitterMs?: number;
  stray429AtCall?: number;
}): SimResult {
  const limiter = new TenancyRateLimiter();
  const pacer = new AdaptivePacer(o.ceiling);
  const random = mulberry32(o.seed); // seeded retry jitter
  const arrival = mulberry32(o.seed * 7919 + 1); // seeded arrival jitter
  const late = (): number => arrival() * (o.jitterMs ?? 0);
  const events: { t: number; seq: number; run: () => void }[] = [];
  let seq = 0;
  let now = 0;
  const at = (t: number, run: () => void): void => {
    events.push({ t, seq: seq++, run });
  };
  let queue = o.batches;
  let calls = 0,
    throttled = 0,
    accepted = 0,
    otherCalls = 0,
    otherThrottled = 0,
    lastAcceptedAt = 0;
  const tenancy429s: number[] = [];
  let done = 0;

  const attempt = (worker: () => void, tries: number): void => {
    const wait = pacer.tryStart(now);
    if (wait > 0) return at(now + wait, () => attempt(worker, tries));
    const started = now;
    const callNo = ++calls;
    at(now + o.latencyMs + late(), () => {
      const stray = callNo === o.stray429AtCall;
      if (!stray && limiter.admit('tenancy', o.limit, now)) {
        accepted++;
        lastAcceptedAt = now;
        pacer.accepted();
        worker();
      } else {
        throttled++;
        tenancy429s.push(now);
        pacer.throttled(started, now);
        const delay = backoffMs(tries, random);
        at(now + delay, () => attempt(worker, tries + 1));
      }
    });
  };
  const worker = (): void => {
    if (queue === 0) {
      done++;
      return;
    }
    queue--;
    attempt(worker, 1);
  };
  for (let i = 0; i < o.concurrency; i++) at(0, worker);
  if (o.otherPerSecond) {
    const every = 1000 / o.otherPerSecond;
    const phase = (every * ((o.seed % 5) + 1)) / 6; // the seed also sets the other poster's phase
    let sent = 0;
    const other = (): void => {
      if (done === o.concurrency) return;
      otherCalls++;
      at(now + late(), () => {
        if (!limiter.admit('tenancy', o.limit, now)) {
          otherThrottled++;
          tenancy429s.push(now);
        }
      });
      at(phase + ++sent * every, other); // started on a steady clock, each arriving a little late
    };
    at(phase, other);
  }
  while (events.length > 0) {
    let best = 0;
    for (let i = 1; i < events.length; i++) if (events[i].t < events[best].t || (events[i].t === events[best].t && events[i].seq < events[best].seq)) best = i;
    const [e] = events.splice(best, 1);
    now = e.t;
    e.run();
  }
  return { calls, throttled, acceptedRate: (accepted / lastAcceptedAt) * 1000, tenancy429s, otherCalls, otherThrottled, stats: pacer.stats() };
}

describe('AdaptivePacer against the tenancy limiter (simulated time)', () => {
  // The benchmark's throttled case: 100k samples = 2,083 calls, 50 ms latency, 8 in flight, 50/s per tenancy.
  const base = { batches: 2083, concurrency: 8, latencyMs: 50, limit: 50 };

  test('alone under a ceiling below the limit: no 429, >= 95% of the ceiling', () => {
    for (const seed of [1, 2, 3]) {
      const r = simulate({ ...base, ceiling: 48, seed });
      assert.equal(r.throttled, 0);
      assert.ok(r.acceptedRate >= 0.95 * 48, `rate ${r.acceptedRate.toFixed(1)}`);
      assert.equal(r.stats.decreases, 0);
    }
  });

  test('alone, a stray 429 costs little: the rate is back near the ceiling within seconds', () => {
    const r = simulate({ ...base, ceiling: 48, seed: 8, stray429AtCall: 200 });
    assert.equal(r.throttled, 1);
    assert.equal(r.stats.decreases, 1);
    assert.ok(r.acceptedRate >= 0.9 * 48, `rate ${r.acceptedRate.toFixed(1)}`);
  });

  test('alone with a ceiling above the limit: it settles under the limit, 429s rare', () => {
    const r = simulate({ ...base, ceiling: 200, seed: 4 });
    assert.ok(r.stats.decreases >= 1, 'it backed off');
    assert.ok(r.throttled < 0.02 * r.calls, `${r.throttled} 429s in ${r.calls} calls`);
    for (const e of throttleEpisodes(r.tenancy429s)) assert.ok(e.endMs - e.startMs <= 1000, `episode of ${e.endMs - e.startMs} ms`);
  });

  test('sharing the tenancy with a poster taking half of it: < 2% 429s, never over the limit for more than a second, nothing lost', () => {
    // Exact arrivals (seeds 5-7), then arrivals up to 5, 20 and 40 ms late (each with several seeds).
    const runs = [
      ...[5, 6, 7].map((seed) => ({ seed, jitterMs: 0 })),
      ...[5, 20, 40].flatMap((jitterMs) => [11, 12, 13, 14, 15, 16].map((seed) => ({ seed, jitterMs }))),
    ];
    for (const { seed, jitterMs } of runs) {
      const r = simulate({ ...base, ceiling: 48, otherPerSecond: TENANCY_CALLS_PER_SECOND / 2, seed, jitterMs });
      assert.equal(r.calls - r.throttled, base.batches, 'every batch accepted exactly once');
      assert.ok(r.throttled > 0 && r.stats.decreases > 0, 'the contention was seen and answered');
      assert.ok(r.throttled < 0.02 * r.calls, `${r.throttled} 429s in ${r.calls} calls (seed ${seed})`);
      const episodes = throttleEpisodes(r.tenancy429s);
      const longest = Math.max(...episodes.map((e) => e.endMs - e.startMs));
      assert.ok(longest <= 1000, `longest over-limit episode ${longest} ms (seed ${seed}, arrivals up to ${jitterMs} ms late)`);
      // It takes a real share, not a trickle: above a third of what the other leaves.
      assert.ok(r.acceptedRate > TENANCY_CALLS_PER_SECOND / 2 / 3, `rate ${r.acceptedRate.toFixed(1)}`);
      assert.ok(r.otherThrottled < 0.02 * r.otherCalls, `the other poster's 429s ${r.otherThrottled} of ${r.otherCalls}`);
    }
  });
});
