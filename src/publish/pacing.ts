/**
 * The start-rate controller of PostMetricData calls. OCI's limit (50 calls/s) is per tenancy and
 * shared with every other poster, so a fixed rate is either too slow alone or too fast when shared.
 * POST_CALLS_PER_SECOND is a ceiling; the rate is halved on a 429 and climbs back additively
 * (AIMD, as TCP does), quickly up to the rate where the 429 came and very slowly beyond it, so posters
 * sharing a tenancy settle on a share with few 429s, and a poster alone stays at its ceiling.
 * Pure: time is passed in, nothing sleeps here.
 */
import { OCI_LIMITS } from '../transform/limits';

/** OCI's PostMetricData limit per tenancy (calls per second). */
export const TENANCY_CALLS_PER_SECOND = OCI_LIMITS.maxCallsPerSecond;
/** A 429 multiplies the rate by this. */
export const DECREASE_FACTOR = 0.5;
/**
 * Additive climb above the rate of the last 429: calls/s gained per second of calls. Slow on purpose:
 * a poster that never backs off takes most of the 429s when the tenancy is just over its limit, so
 * our own 429 (the only signal we get) may come only after several of theirs. Crossing the limit at
 * 0.1 calls/s per second keeps those 429s seconds apart (each a moment over the limit, not a
 * stretch of them) until one is ours; at 1 call/s per second they came < 1 s apart and chained
 * into episodes of 1-4 s (seeded simulation with arrival jitter, test/pacing.test.ts).
 */
export const CLIMB_PER_SECOND = 0.1;
/**
 * Below the rate at which the last 429 came, the climb closes the gap with this time constant (s):
 * a poster alone hit by a stray 429 is back near its ceiling in seconds, not tens of seconds, and
 * only the probing above that rate is slow.
 */
const RECOVERY_SECONDS = 3;
/** The rate never falls below this (calls/s): a trickle keeps probing the tenancy. */
const MIN_CALLS_PER_SECOND = 1;

/** A snapshot of the controller, for summaries and tests. */
export interface PacerStats {
  /** Current start rate (calls/s). */
  rate: number;
  /** Lowest rate reached. */
  minRate: number;
  /** Number of multiplicative decreases (at most one per 429 episode). */
  decreases: number;
}

/**
 * Token bucket (GCRA) whose rate adapts. `tryStart()` hands out start slots; `accepted()` and
 * `throttled()` report how calls ended.
 */
export class AdaptivePacer {
  private rateNow: number;
  private minRate: number;
  /** The rate when the last decrease came (the known edge of the tenancy's room). */
  private edgeRate = 0;
  private decreases = 0;
  /** Theoretical start time of the next call (GCRA). */
  private nextStartMs = -Infinity;
  /** Start time of the first call that can reflect the last decrease: 429s of calls started earlier are the same episode. */
  private decreasedAtMs = -Infinity;
  private sawThrottle = false;

  constructor(readonly ceiling: number) {
    if (!(ceiling > 0)) throw new RangeError(`the pacing ceiling must be positive, got ${ceiling}`);
    this.rateNow = ceiling;
    this.minRate = ceiling;
  }

  /** Current rate (calls/s). */
  get rate(): number {
    return this.rateNow;
  }

  /**
   * Calls that may start back to back: a second's worth of the ceiling, but never so many that a
   * second could hold more than the tenancy's 50 (rate + burst <= 50), and none once a 429 showed
   * the tenancy is busy (a burst then lands on other posters' calls).
   */
  get burst(): number {
    return this.sawThrottle ? 1 : burstOf(this.ceiling);
  }

  /**
   * Takes a start slot at `nowMs` if one is free (returns 0), else returns how long to wait before
   * asking again. Nothing is reserved ahead: a caller that waited re-asks, so a decrease meanwhile
   * applies to it too.
   */
  tryStart(nowMs: number): number {
    const interval = 1000 / this.rateNow;
    const earliest = this.nextStartMs - (this.burst - 1) * interval;
    if (nowMs < earliest) return earliest - nowMs;
    this.nextStartMs = Math.max(this.nextStartMs, nowMs) + interval;
    return 0;
  }

  /**
   * A call was accepted: climb by CLIMB_PER_SECOND per second of calls at the current rate, or
   * faster while well below the rate of the last 429 (a 1/RECOVERY_SECONDS share of the gap per second).
   */
  accepted(): void {
    const perSecond = Math.max(CLIMB_PER_SECOND, (this.edgeRate - this.rateNow) / RECOVERY_SECONDS);
    this.rateNow = Math.min(this.ceiling, this.rateNow + perSecond / this.rateNow);
  }

  /**
   * A call that started at `startedMs` got 429 at `nowMs`. The first 429 of an episode halves the
   * rate and spaces the next start one new interval away; 429s of calls that started before that
   * decrease (already in flight) are the same episode and change nothing.
   */
  throttled(startedMs: number, nowMs: number): void {
    this.sawThrottle = true;
    if (startedMs < this.decreasedAtMs) return;
    this.edgeRate = this.rateNow;
    this.rateNow = Math.max(Math.min(MIN_CALLS_PER_SECOND, this.ceiling), this.rateNow * DECREASE_FACTOR);
    this.minRate = Math.min(this.minRate, this.rateNow);
    this.decreases++;
    this.decreasedAtMs = nowMs;
    this.nextStartMs = Math.max(this.nextStartMs, nowMs + 1000 / this.rateNow);
  }

  stats(): PacerStats {
    return { rate: this.rateNow, minRate: this.minRate, decreases: this.decreases };
  }
}

/**
 * Calls that may start at once at a given rate: as many as one second's worth, but never so many
 * that a second could see more than OCI's 50 calls per tenancy (rate + burst <= 50); at least 1.
 */
export function burstOf(callsPerSecond: number): number {
  return Math.max(1, Math.min(Math.floor(callsPerSecond), TENANCY_CALLS_PER_SECOND - Math.ceil(callsPerSecond)));
}
