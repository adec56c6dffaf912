/**
 * The start-rate controller of PostMetricData calls. OCI's limit (50 calls/s) is per tenancy and
 * shared with every other poster, so a fixed rate is either too slow alone or too fast when shared.
 * POST_CALLS_PER_SECOND is a ceiling (by default OCI's limit itself, see cruiseRate); the rate is
 * halved on a 429 and climbs back (AIMD, as TCP does):
 * - one cut per second at most: OCI counts calls per second, so for a second after a cut the
 *   tenancy still counts the calls made before it, and the 429s of that second say nothing new;
 * - what that second showed sets the edge, the rate the tenancy has room for (closeEpisode): a
 *   lone 429 (a moment at the limit) leaves it at the rate before the cut; calls at the new rate
 *   refused among accepted ones (a neighbour, other deployments) put it at the new rate; a second
 *   of nothing but 429s (a burst of them whatever the rate) teaches nothing and leaves it as it was;
 * - below the edge the rate closes the gap to just under it (EDGE_MARGIN of the tenancy's limit,
 *   1 call/s) within seconds (RECOVERY_SECONDS); from there it probes slowly (CLIMB_PER_SECOND), so
 *   posters sharing a tenancy cross its limit gently and settle on a share with few 429s; the next
 *   invocation starts just under the edge, not where the probe went past it;
 * - a 429 our own calls explain (alone near the top, arrivals bunched into one of OCI's seconds) is
 *   not cut for: the rate is trimmed by half a call/s and the edge stays (ownBunch).
 * An invocation may start at the rate the previous one settled on (PacerStart), instead of
 * bursting into a tenancy that was busy a minute ago; a shard (SHARD=i/N) starts at its share of
 * the tenancy at most (shareOfTenancy). Pure: time is passed in, nothing sleeps here.
 * The seeded simulations of test/pacing.test.ts (the emulator's own limiter, simulated time) chose
 * the constants; the benchmark measures them against the emulator.
 */
import { OCI_LIMITS } from '../transform/limits';
import type { PacingState } from '../types/state';

/** OCI's PostMetricData limit per tenancy (calls per second). */
export const TENANCY_CALLS_PER_SECOND = OCI_LIMITS.maxCallsPerSecond;
/** A 429 multiplies the rate by this. */
export const DECREASE_FACTOR = 0.5;
/**
 * After a cut, 429s of calls started within this time (ms) belong to the same episode: the
 * tenancy's one-second window still holds the calls made before the cut.
 */
export const EPISODE_HOLD_MS = 1000;
/**
 * Additive climb near the edge: calls/s gained per second of calls. Slow on purpose: a poster that
 * never backs off takes most of the 429s when the tenancy is just over its limit, so our own 429
 * (the only signal we get) may come only after several of theirs: with OCI's sliding second, a
 * tenancy at 99-100% of its limit refuses a call about once a second, and a neighbour whose calls
 * land where the window is full can take them all for many seconds (429s less than 1 s apart
 * chain into one long episode). The slower the crossing, the rarer that is within an invocation:
 * at 0.05 one simulated shared run in 30 chained 1-3.5 s of them; at 0.02, none in 2,400 (with
 * EDGE_MARGIN counted against the tenancy). 1 call/s per second chained episodes of 1-4 s.
 */
export const CLIMB_PER_SECOND = 0.02;
/**
 * How far under the edge the rate aims, as a share of the tenancy's limit (2% of 50 = 1 call/s),
 * not of our own rate: how often arrivals a few ms late put a 51st call into some second depends on
 * the whole tenancy's load. A tenancy at 98% of its limit (ours plus the others') has no run of 429s
 * less than 1 s apart in the seeded simulations with arrivals up to 40 ms late; at 99% it has them in
 * every run at 40 ms, and 2% of half the tenancy (a 25 calls/s neighbour) is only 1%.
 */
export const EDGE_MARGIN = 0.02;
/** Below the edge, the climb closes the gap to just under it with this time constant (s). */
const RECOVERY_SECONDS = 1;
/**
 * How late a start may be (ms) and still keep the schedule. Timers fire late, by the millisecond
 * they round to and more on a busy machine: when each late start pushed the next one back, 500 calls
 * at 49/s started at 44-45/s on the shared 2-core machine (a tenth of the tenancy lost, and 142,500
 * series no longer fit a minute); with 5 ms, at 48.7. Any second still holds at most 50 starts
 * (5 < 50 intervals - 1000 ms at 49/s); what it takes from the margin for late arrivals leaves 15 ms.
 */
const START_SLACK_MS = 5;
/**
 * Our own 429s (ownBunch). OCI counts calls over a sliding second at its end, where arrivals are
 * never as evenly spaced as the starts: alone at 49 calls/s, arrivals bunched by a few ms put a 51st
 * call into some second now and then (on a calm machine once a minute). Halving the rate for it, and
 * taking the rate before it for the edge (1 call/s under it), cost 142,500 series their minute: 47.8-48.3
 * calls/s over the run instead of 49. Such a 429 (our own other calls started within OWN_BUNCH_MS of the
 * second before its call fill the tenancy's second: nobody else's are needed to explain it) trims the rate
 * by OWN_TRIM instead, and the edge stays; at 48.5 arrivals must bunch by 31 ms to put 51 calls into a
 * second, at 49 by 21. Counted within 25 ms of that second, our own calls fill it only while we start
 * about 48.5 calls/s or more: beside a neighbour of a few calls/s one or two trims, then its 429s cut as
 * any other. Counted within 60 or 100 ms, beside a poster at 2 calls/s 7 runs in 100 had 429s less
 * than 1 s apart for 1.1-1.3 s (seeded simulation). The rule before (45 of our calls started in the 1.1 s
 * before, for the edge after a cut) held only because it counted the last 45 starts, those after the call
 * included; counted over every start it took the start's 429s beside a poster at 10 calls/s for ours
 * (15 runs in 100 then had 429s less than 1 s apart for over 1 s).
 */
const OWN_BUNCH_MS = 25;
/** How much an own 429 trims the rate (calls/s): 1% of the tenancy's limit; the slow climb (CLIMB_PER_SECOND) takes it back. */
const OWN_TRIM = 0.5;
/** How long our own start times are kept (ms): a 429 is judged by the starts around its call's, and its answer may come seconds later. */
const RECENT_STARTS_MS = 5000;
/**
 * A 429 of a call that had, with the pacing board's peers' calls (seePeers), a tenancy's second
 * (PEERS_FILL_SHARE of it, the rest the bunching) started in this time before it (ms) is the
 * deployments' own doing (explainedByPeers).
 */
const PEERS_WINDOW_MS = 1100;
const PEERS_FILL_SHARE = 0.9;
/**
 * A 429 that the pacing board's peers and we explain is taken as the board's own doing at most once
 * in this time (ms): a second one soon after shows a poster the board does not know (seePeers).
 */
const PEERS_EXPLAIN_MS = 10_000;
/** The pacing board's even split does not raise the rate within this time (ms) after a cut's second that showed a busy tenancy (shareAt). */
const BUSY_QUIET_MS = 10_000;
/** The rate never falls below this (calls/s): a trickle keeps probing the tenancy. */
const MIN_CALLS_PER_SECOND = 1;

/** A snapshot of the controller, for summaries and tests. */
export interface PacerStats {
  /** Current start rate (calls/s). */
  rate: number;
  /** Lowest rate reached. */
  minRate: number;
  /** Number of multiplicative decreases (at most one per second of 429s). */
  decreases: number;
  /** Number of 429s our own calls explained, each trimming the rate by OWN_TRIM instead of a decrease. */
  trims: number;
}

/** Where an invocation's controller starts when the previous one left a settled rate. */
export interface PacerStart {
  /** The previous invocation's settled rate (calls/s); capped at the top rate. */
  rate: number;
}

/** The second after a cut, and what it showed. */
interface Episode {
  /** When the cut was decided (ms). */
  cutMs: number;
  /** When the episode ends (EPISODE_HOLD_MS after the cut). */
  untilMs: number;
  /** The rate before the cut, and right after it. */
  rateBefore: number;
  rateAfter: number;
  /** Calls accepted during the episode. */
  accepted: number;
  /** 429s of calls started after the cut (at the new rate), but for those our own calls alone explain. */
  refusedAfterCut: number;
  /** The cut's 429 is explained by the pacing board's peers' calls and ours (seePeers): the deployments' own doing. */
  byPeers: boolean;
}

/**
 * Token bucket (GCRA) whose rate adapts. `tryStart()` hands out start slots; `accepted()` and
 * `throttled()` report how calls ended.
 */
export class AdaptivePacer {
  /** The highest rate used: the ceiling, or just under OCI's limit when the ceiling is that limit (cruiseRate). */
  readonly top: number;
  /** The rate the controller started at (calls/s). */
  readonly startRate: number;
  private rateNow: number;
  private minRate: number;
  /** The rate the last 429s showed too high (0 = none seen); the climb aims just under it. */
  private edgeRate = 0;
  private decreases = 0;
  /** Theoretical start time of the next call (GCRA). */
  private nextStartMs = -Infinity;
  /** 429s of calls started before this time belong to the last cut's episode (no further cut). */
  private holdUntilMs = -Infinity;
  /** The last cut's episode, until what it showed is taken into the edge. */
  private episode: Episode | undefined;
  /** The last closed episode was a burst: nothing got through during it. */
  private inBurst = false;
  private sawThrottle = false;
  /** Start times of the calls of the last RECENT_STARTS_MS, oldest first. */
  private readonly recentStarts: number[] = [];
  /** When the last own 429 trimmed the rate (ownBunch), and the calls accepted since. */
  private lastOwnMs = -Infinity;
  private acceptedSinceOwn = 0;
  /** The calls/s the other deployments of the pacing board post at (src/publish/board.ts), 0 without a board. */
  private peersRate = 0;
  /** When a cut was last taken as the board's own doing (explainedByPeers). */
  private lastByPeersMs = -Infinity;
  /** When the last cut's second that showed a busy tenancy ended. */
  private lastBusyMs = -Infinity;
  private trims = 0;
  /** What own trims took from the rate and the climb has not given back yet (calls/s): not the tenancy's doing. */
  private ownTrimmed = 0;

  /**
   * `start`: the previous invocation's settled rate, started at instead of the top (and probed slowly
   * from); `shards`: this function is one of that many shards (SHARD=i/N) and starts at its share of
   * the tenancy at most.
   */
  constructor(
    readonly ceiling: number,
    start?: PacerStart,
    shards = 1,
  ) {
    if (!(ceiling > 0)) throw new RangeError(`the pacing ceiling must be positive, got ${ceiling}`);
    this.top = cruiseRate(ceiling);
    const highest = Math.min(this.top, shareOfTenancy(ceiling, shards));
    const from = start && start.rate > 0 ? Math.min(highest, Math.max(MIN_CALLS_PER_SECOND, start.rate)) : highest;
    this.startRate = from;
    this.rateNow = from;
    this.minRate = from;
    // Started below the top from the previous invocation's settled rate: the tenancy was busy then, so no bursts.
    if (from < this.top) this.sawThrottle = true;
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
   * applies to it too. A start up to START_SLACK_MS late keeps the schedule: the next slot is one
   * interval after the one it was due at, not after the moment the timer fired.
   */
  tryStart(nowMs: number): number {
    const interval = 1000 / this.rateNow;
    const earliest = this.nextStartMs - (this.burst - 1) * interval;
    if (nowMs < earliest) return earliest - nowMs;
    this.nextStartMs = Math.max(this.nextStartMs, nowMs - Math.min(START_SLACK_MS, interval / 4)) + interval;
    this.recentStarts.push(nowMs);
    while (this.recentStarts[0] < nowMs - RECENT_STARTS_MS) this.recentStarts.shift();
    return 0;
  }

  /**
   * Our own other calls started within OWN_BUNCH_MS of the second before `startedMs` (and after it)
   * are a whole tenancy's second: arrivals bunched by up to OWN_BUNCH_MS put them all into the
   * refused call's second, so nobody else's calls are needed to explain its 429.
   */
  private ownCallsFill(startedMs: number): boolean {
    let n = 0;
    for (const t of this.recentStarts) if (t > startedMs - 1000 - OWN_BUNCH_MS && t < startedMs + OWN_BUNCH_MS) n++;
    return n > Math.max(TENANCY_CALLS_PER_SECOND, this.ceiling); // the refused call's own start is among them
  }

  /**
   * A cut's 429 that the board's peers' calls and ours explain, and no other did in the last
   * PEERS_EXPLAIN_MS: deployments that share the tenancy at 92-98% of its limit meet such a 429
   * rarely (a second in which each one's calls happen to bunch). A second one soon after says the
   * tenancy holds more than the board knows (a poster not on it): it sets the edge as without a board.
   */
  private explainedByPeers(startedMs: number, nowMs: number): boolean {
    if (this.peersRate <= 0 || nowMs - this.lastByPeersMs < PEERS_EXPLAIN_MS) return false;
    let n = (this.peersRate * PEERS_WINDOW_MS) / 1000;
    for (const t of this.recentStarts) if (t > startedMs - PEERS_WINDOW_MS && t <= startedMs) n++;
    if (n < Math.ceil(PEERS_FILL_SHARE * Math.max(TENANCY_CALLS_PER_SECOND, this.ceiling))) return false;
    this.lastByPeersMs = nowMs;
    return true;
  }

  /**
   * The pacing board's peers post at `callsPerSecond` together (src/publish/board.ts): a 429 that
   * their calls and ours explain is the deployments' own doing, as a bunch of our own calls is: it
   * leaves the edge at the rate before the cut, instead of the halved rate one deployment would
   * then keep (and store) while the others keep theirs. Only peers' known calls count: a poster not
   * on the board still sets the edge as before.
   */
  seePeers(callsPerSecond: number): void {
    this.peersRate = Math.max(0, callsPerSecond);
  }

  /**
   * A call was accepted at `nowMs`: climb by the calls/s per second of calls that climbPerSecond
   * gives at this rate. Within a cut's second, only while no call started after the cut was refused.
   */
  accepted(nowMs: number): void {
    this.acceptedSinceOwn++;
    this.closeEpisode(nowMs);
    const ep = this.episode;
    if (ep) ep.accepted++;
    if (ep?.refusedAfterCut) return;
    const before = this.rateNow;
    this.rateNow = Math.min(this.top, this.rateNow + this.climbPerSecond() / this.rateNow);
    this.ownTrimmed = Math.max(0, this.ownTrimmed - (this.rateNow - before));
  }

  /** Calls/s gained per second of calls: fast up to just under the edge, slow across it and beyond. */
  private climbPerSecond(): number {
    const edge = this.episode ? this.episode.rateBefore : this.edgeRate; // within a cut's second: as if it were a lone 429
    const target = underEdge(edge);
    return this.rateNow < target ? Math.max(CLIMB_PER_SECOND, (target - this.rateNow) / RECOVERY_SECONDS) : CLIMB_PER_SECOND;
  }

  /**
   * A call that started at `startedMs` got 429 at `nowMs`. The first 429 of an episode halves the
   * rate and spaces the next start one new interval away; 429s of calls started within
   * EPISODE_HOLD_MS after that are the same episode: they cut no further, but one of a call started
   * after the cut holds the rate at the cut's and spaces the next start again.
   */
  throttled(startedMs: number, nowMs: number): void {
    this.sawThrottle = true;
    if (startedMs < this.holdUntilMs) {
      const ep = this.episode;
      if (ep && startedMs >= ep.cutMs) {
        if (!ep.byPeers && !this.ownCallsFill(startedMs)) ep.refusedAfterCut++;
        this.rateNow = Math.min(this.rateNow, ep.rateAfter);
        this.nextStartMs = Math.max(this.nextStartMs, nowMs + 1000 / this.rateNow);
      }
      return;
    }
    if (this.ownBunch(startedMs, nowMs)) return;
    this.closeEpisode(Infinity);
    // Nothing got through in the second after an own 429: it began a burst of 429s, not a bunch.
    if (Number.isFinite(this.lastOwnMs) && this.acceptedSinceOwn === 0) this.inBurst = true;
    const rateBefore = this.rateNow;
    this.rateNow = Math.max(Math.min(MIN_CALLS_PER_SECOND, this.ceiling), rateBefore * DECREASE_FACTOR);
    this.minRate = Math.min(this.minRate, this.rateNow);
    this.decreases++;
    this.holdUntilMs = nowMs + EPISODE_HOLD_MS;
    const byPeers = this.explainedByPeers(startedMs, nowMs);
    this.episode = { cutMs: nowMs, untilMs: this.holdUntilMs, rateBefore, rateAfter: this.rateNow, accepted: 0, refusedAfterCut: 0, byPeers };
    this.nextStartMs = Math.max(this.nextStartMs, nowMs + 1000 / this.rateNow);
  }

  /**
   * A 429 our own calls explain (ownCallsFill): no cut, the edge stays, the rate is trimmed by
   * OWN_TRIM; the call is retried (the publisher's backoff) and the next start waits one interval, so
   * the bunch thins. A 429 within a second of it is of the same bunch (the tenancy's second still
   * holds it), as a cut's are (EPISODE_HOLD_MS). Any other 429 cuts.
   */
  private ownBunch(startedMs: number, nowMs: number): boolean {
    const sinceLast = nowMs - this.lastOwnMs;
    if (sinceLast < EPISODE_HOLD_MS) return true;
    if (!this.ownCallsFill(startedMs)) return false;
    this.lastOwnMs = nowMs;
    this.acceptedSinceOwn = 0;
    this.trims++;
    this.ownTrimmed += Math.min(OWN_TRIM, this.rateNow - MIN_CALLS_PER_SECOND);
    this.rateNow = Math.max(MIN_CALLS_PER_SECOND, this.rateNow - OWN_TRIM);
    this.minRate = Math.min(this.minRate, this.rateNow);
    this.nextStartMs = Math.max(this.nextStartMs, nowMs) + 1000 / this.rateNow;
    return true;
  }

  /**
   * Once a cut's second is over, what it showed sets the edge:
   * - calls got through and none started at the new rate was refused: the 429 was a moment at the
   *   limit: the rate before the cut;
   * - nothing got through (a burst of 429s whatever the rate, every call backing off): nothing
   *   learnt about the rate, the edge stays (or is the rate before the cut, if higher);
   * - some refused, some accepted: the tenancy is busy and has room for less (a neighbour, other
   *   deployments): the new rate, and the rate goes just under it at once (sitting at it keeps the
   *   tenancy at its limit, where the neighbour may take the 429s we would need to see); unless it is
   *   the end of such a burst, which teaches nothing either.
   */
  private closeEpisode(nowMs: number): void {
    const ep = this.episode;
    if (!ep || nowMs < ep.untilMs) return;
    const burst = ep.accepted === 0;
    if (burst || (this.inBurst && ep.refusedAfterCut > 0)) this.edgeRate = Math.max(this.edgeRate, ep.rateBefore);
    else if (ep.refusedAfterCut === 0) this.edgeRate = ep.rateBefore;
    else {
      this.edgeRate = ep.rateAfter;
      this.lastBusyMs = ep.untilMs;
      this.rateNow = Math.min(this.rateNow, underEdge(this.edgeRate));
      this.minRate = Math.min(this.minRate, this.rateNow);
    }
    this.inBurst = burst;
    this.episode = undefined;
  }

  /**
   * The rate the next invocation may start at: just under the edge the 429s showed when there was
   * one (the rate may be mid-climb after a cut, or have probed past it while a neighbour took the
   * 429s: starting there would start at the tenancy's limit), else the rate reached, less none of
   * what own trims took (our own bunched arrivals say nothing of the tenancy's room: a stored 48.5
   * would start the next invocation of 142,500 series under 49 and cost it a quarter of a second).
   * A cut in the last second counts as a busy tenancy's (the halved rate), unless the board's peers explain it.
   */
  get settledRate(): number {
    // A cut's second still open at the end: what it shows is not known yet, unless the board's peers and we explain it.
    const ep = this.episode;
    const edge = ep ? Math.max(this.edgeRate, ep.byPeers && ep.refusedAfterCut === 0 ? ep.rateBefore : ep.rateAfter) : this.edgeRate;
    if (edge === 0) return Math.min(this.top, this.rateNow + this.ownTrimmed);
    return Math.min(this.top, underEdge(edge));
  }

  /**
   * The rate this pacer holds now for the pacing board: the current one, or the rate it is on its
   * way back to within seconds after a cut (a peer that shares by it must not take a dip for room given up).
   */
  get heldRate(): number {
    return Math.max(this.rateNow, this.settledRate);
  }

  /**
   * Moves to `callsPerSecond`, the pacing board's even split of what the deployments hold together
   * (src/publish/board.ts, evenShare): the rate goes there at once and is the new edge's just-under,
   * so it probes slowly from there. An open cut's second is not concluded (it was part of the
   * split's sum); its 429s still cut no further. Not taken (false) when it would raise the rate
   * within a cut's second, or within BUSY_QUIET_MS after one that showed a busy tenancy.
   */
  shareAt(callsPerSecond: number, nowMs: number): boolean {
    // No more than it holds while a cut's second is open, or soon after one that showed a busy tenancy: the board's sum may be more than the tenancy has.
    if (callsPerSecond > this.rateNow && (this.episode !== undefined || nowMs - this.lastBusyMs < BUSY_QUIET_MS)) return false;
    this.episode = undefined;
    this.inBurst = false;
    this.rateNow = Math.min(this.top, Math.max(Math.min(MIN_CALLS_PER_SECOND, this.ceiling), callsPerSecond));
    this.minRate = Math.min(this.minRate, this.rateNow);
    this.edgeRate = this.rateNow + TENANCY_CALLS_PER_SECOND * EDGE_MARGIN;
    return true;
  }

  stats(): PacerStats {
    return { rate: this.rateNow, minRate: this.minRate, decreases: this.decreases, trims: this.trims };
  }
}

/** A stored settled rate older than this (ms) says little about the tenancy now: the invocation starts at its top rate. */
export const SETTLED_RATE_MAX_AGE_MS = 10 * 60_000;
/** The stored rate is rewritten when the new one differs by more than this share, or is half its max age old. */
const SETTLED_RATE_CHANGE = 0.1;

/** Where an invocation starts from the state's settled rate: undefined when there is none, or it is too old (or from the future). */
export function startFrom(stored: PacingState | undefined, nowMs: number): PacerStart | undefined {
  if (!stored || nowMs - stored.at > SETTLED_RATE_MAX_AGE_MS || stored.at - nowMs > SETTLED_RATE_MAX_AGE_MS) return undefined;
  return { rate: stored.rate };
}

/**
 * The settled rate to store at the end of an invocation, or undefined when there is nothing to
 * say (none stored and the rate is the top one, where an invocation starts anyway) or the stored
 * one still holds (within SETTLED_RATE_CHANGE of it, and fresh): writing it rewrites the whole
 * state document, so it is not done every minute for nothing.
 */
export function settledToStore(settledRate: number, topRate: number, stored: PacingState | undefined, nowMs: number): PacingState | undefined {
  if (stored === undefined && settledRate >= topRate) return undefined;
  const fresh = stored !== undefined && nowMs - stored.at <= SETTLED_RATE_MAX_AGE_MS / 2 && stored.at <= nowMs;
  if (fresh && Math.abs(settledRate - stored.rate) <= SETTLED_RATE_CHANGE * stored.rate) return undefined;
  return { rate: Math.round(settledRate * 100) / 100, at: nowMs };
}

/**
 * The highest rate the pacer uses under a ceiling. OCI's 50 calls/s is counted over a sliding second
 * at OCI's end, where arrivals are never as evenly spaced as the starts: at exactly 50 calls/s a few ms
 * of jitter put a 51st call into some second (seeded simulation: 3-4 cuts in 45 s at 5-40 ms of
 * jitter, none at 49). So a ceiling at or under the limit is kept EDGE_MARGIN under the limit; a
 * ceiling above it says the tenancy's limit is higher, and is used as it is.
 */
export function cruiseRate(ceiling: number): number {
  return ceiling > TENANCY_CALLS_PER_SECOND ? ceiling : Math.min(ceiling, underEdge(TENANCY_CALLS_PER_SECOND));
}

/**
 * The highest start rate of one of `shards` shards: its share of the tenancy's cruise rate (49 / N
 * calls/s; of the ceiling when that says the tenancy's limit is higher), never under the floor. The
 * shards of one configuration are invoked by the same minute's trigger: started at 49 calls/s each
 * they burst into one another (four shards: the tenancy over its limit for 1.4-2.5 s), and which of
 * them the halvings hit is chance; a shard that came out at 24 calls/s stored that and started there
 * again, keeping the others under their share (7.3, 13.2, 7.7 and 24 calls/s, minute after minute).
 * Started at their shares, together they start at what one function alone does.
 */
export function shareOfTenancy(ceiling: number, shards: number): number {
  return Math.max(Math.min(MIN_CALLS_PER_SECOND, ceiling), cruiseRate(Math.max(ceiling, TENANCY_CALLS_PER_SECOND)) / Math.max(1, shards));
}

/** Just under an edge: EDGE_MARGIN of the tenancy's limit below it (1 call/s), never under the floor. */
function underEdge(edge: number): number {
  return Math.max(MIN_CALLS_PER_SECOND, edge - TENANCY_CALLS_PER_SECOND * EDGE_MARGIN);
}

/**
 * Calls that may start at once at a given rate: as many as one second's worth, but never so many
 * that a second could see more than OCI's 50 calls per tenancy (rate + burst <= 50); at least 1.
 */
export function burstOf(callsPerSecond: number): number {
  return Math.max(1, Math.min(Math.floor(callsPerSecond), TENANCY_CALLS_PER_SECOND - Math.ceil(callsPerSecond)));
}
