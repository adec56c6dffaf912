/**
 * The pacing board: what deployments sharing a tenancy tell one another so their posting rates
 * split the tenancy evenly (issue 23). A deployment alone cannot know how many others post into its
 * tenancy, and the adaptive pacing's halvings leave whatever split chance made (one deployment at
 * 7 calls/s, another at 24, minute after minute). With a board, each deployment owns one small
 * entry in a shared Object Storage prefix (src/state/board.ts): when its invocation began (a
 * heartbeat, written before the scrape, so peers invoked by the same trigger see each other), the
 * rate it settled on, and while it posts its current rate.
 *
 *   boardStart()   where an invocation starts: the even split of what the deployments learnt
 *                  together (their settled rates, 49 / k for one that has none), never more in all
 *                  than they found room for, never above what it would start at alone;
 *   peersRate()    the calls/s the peers post at now: 429s those and our own calls explain are the
 *                  deployments' own doing (AdaptivePacer.seePeers), not a busy tenancy;
 *   parseEntry()   an entry as stored, or why it is not one (no stored object stops the function).
 *
 * Pure: time is passed in. No peers on the board: everything is as without it.
 */
import { cruiseRate, TENANCY_CALLS_PER_SECOND } from './pacing';

/** One deployment's entry (its own object: no two deployments write the same one). */
export interface BoardEntry {
  /** The format's version. */
  v: 1;
  /** When this deployment's current invocation began (ms since epoch). */
  began: number;
  /** When the entry was written (ms since epoch). */
  at: number;
  /** The rate its last invocation settled on (calls/s), when it knows one. */
  settled?: number;
  /** The rate it posts at now (calls/s), while it posts. */
  rate?: number;
  /** Its posting is over for this invocation. */
  done?: boolean;
}

/** An entry written longer ago than this (ms) is another deployment's past, not a peer: ignored. */
export const BOARD_STALE_MS = 2 * 60_000;
/** The most entries read: more are named and ignored (a board of a tenancy's deployments is small). */
export const BOARD_MAX_ENTRIES = 64;
/** The largest entry read (bytes): an entry is ~150; a larger object is not one, and is not downloaded. */
export const BOARD_ENTRY_MAX_BYTES = 1024;
/** While posting, each deployment writes the rate it holds and reads the others' this often (ms). */
export const BOARD_REFRESH_MS = 10_000;
/**
 * The first refresh comes this soon after the posting's start (ms): a peer whose heartbeat came after
 * our read (its invocation began later, our scrape was short) is seen within seconds, not ten.
 */
export const BOARD_FIRST_REFRESH_MS = 2_000;
/** A posting peer whose entry is older than this (ms) stopped writing (it ended, or failed): its rate is not counted now. */
const POSTING_FRESH_MS = 2.5 * BOARD_REFRESH_MS;
/** A peer's rate counts in the even split when written within this time (ms): its last refresh. */
const SHARE_FRESH_MS = 1.25 * BOARD_REFRESH_MS;
/**
 * What each deployment past the first leaves the tenancy (a share of its limit: 0.75 call/s). Each
 * one's calls are evenly spaced, but not in step with the others': a second can hold one call more
 * of each than its rate says (four at 12.25 calls/s: 13 each, 52 in one second), so k deployments
 * at 49 / k meet 429s one at 49 never does. With a full 1 call/s each, four together posted at 89%
 * of the limit in 2 of 60 simulated runs; with half of it, one of four fell to 79% of its share.
 */
const PEER_MARGIN = 0.015;

/** The entry as stored (JSON, one line). */
export function encodeEntry(e: BoardEntry): string {
  return JSON.stringify(e);
}

/** A finite number >= 0, or undefined. */
function rateOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1e6 ? v : undefined;
}

/** The entry of a stored object's text, or why it is not one. */
export function parseEntry(text: string): BoardEntry | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { problem: 'not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { problem: 'not a JSON object' };
  const r = raw as Record<string, unknown>;
  if (r.v !== 1) return { problem: `unknown version ${JSON.stringify(r.v)?.slice(0, 20)}` };
  const began = r.began;
  const at = r.at;
  if (typeof began !== 'number' || !Number.isFinite(began) || typeof at !== 'number' || !Number.isFinite(at)) return { problem: 'no time' };
  const entry: BoardEntry = { v: 1, began, at };
  const settled = rateOf(r.settled);
  const rate = rateOf(r.rate);
  if (settled !== undefined && settled > 0) entry.settled = settled;
  if (rate !== undefined) entry.rate = rate;
  if (r.done === true) entry.done = true;
  return entry;
}

/** The entries worth reading: written within BOARD_STALE_MS (and not from the future); older ones are other deployments' past. */
export function freshEntries(entries: readonly BoardEntry[], nowMs: number): BoardEntry[] {
  return entries.filter((e) => nowMs - e.at <= BOARD_STALE_MS && e.at - nowMs <= BOARD_STALE_MS);
}

/** The period of the trigger that invokes the deployments (ms): once a minute. */
const TRIGGER_PERIOD_MS = 60_000;
/** The deployments of one trigger round begin within this of each other (ms): cold starts, discovery. */
const ROUND_MS = 15_000;

/**
 * The peers that post while this invocation (begun at `began`) does: those posting now or about to
 * (an entry not done, written within POSTING_FRESH_MS), and those done whose last invocation began
 * one trigger period before ours (within ROUND_MS): invoked by the same minute's trigger, their
 * heartbeat of this round not written yet. A peer that ran at another moment (invoked by hand, or a
 * deployment that was replaced) is not one.
 */
export function peersNow(entries: readonly BoardEntry[], nowMs: number, began: number): BoardEntry[] {
  return freshEntries(entries, nowMs).filter((e) => (e.done ? Math.abs(began - TRIGGER_PERIOD_MS - e.began) <= ROUND_MS : nowMs - e.at <= POSTING_FRESH_MS));
}

/** What the board showed at the posting's start. */
interface BoardStart {
  /** Peers seen (deployments besides this one). */
  peers: number;
  /** The start rate it gives (calls/s). */
  rate: number;
}

/**
 * Where an invocation starts with `peers` on the board: the even split of what the k deployments
 * learnt together, their settled rates added up (49 / k for one that knows none: a fresh start is
 * its share of the tenancy, as a shard's), capped at the tenancy's cruise rate. A deployment that a
 * halving left low starts at the split, one that kept a high rate gives the difference back: the
 * total is what they found room for, only split evenly. Never above what it starts at alone (its
 * own settled rate, or the top) unless peers hold the rest: with no peers, undefined (as without a
 * board).
 */
export function boardStart(ownSettled: number | undefined, peers: readonly BoardEntry[], ceiling: number): BoardStart | undefined {
  if (peers.length === 0) return undefined;
  const k = peers.length + 1;
  const most = tenancyFor(k, ceiling);
  const total = Math.min(
    most,
    [ownSettled, ...peers.map((p) => p.settled)].reduce<number>((sum, s) => sum + (s ?? most / k), 0),
  );
  return { peers: peers.length, rate: Math.min(cruiseRate(ceiling), total / k) };
}

/**
 * The most `k` deployments post at together: the tenancy's cruise rate (49 calls/s, or the ceiling
 * that says the limit is higher) less PEER_MARGIN for each deployment past the first. One
 * deployment: its cruise rate, as without a board.
 */
export function tenancyFor(k: number, ceiling: number): number {
  return cruiseRate(Math.max(ceiling, TENANCY_CALLS_PER_SECOND)) - (k - 1) * TENANCY_CALLS_PER_SECOND * PEER_MARGIN;
}

/**
 * The calls/s the peers post at `nowMs`: a posting peer's current rate, one that began but has not
 * posted yet its settled rate (or `share`), none for a peer that is done or stopped writing.
 */
export function peersRate(peers: readonly BoardEntry[], nowMs: number, share: number): number {
  let sum = 0;
  for (const p of peers) {
    if (p.done || nowMs - p.at > POSTING_FRESH_MS) continue;
    sum += p.rate ?? Math.min(share, p.settled ?? share);
  }
  return sum;
}

/** A share differing from the rate held by less than this (of the share) is left as it is: no churn. */
const SHARE_TOLERANCE = 0.05;

/**
 * While posting: the even split of what the deployments posting now hold together (our `held` rate
 * and each peer's written at its last refresh), or undefined when no peer posts now or ours is
 * within SHARE_TOLERANCE of it. The sum stays what it is (at most tenancyFor k), so the tenancy's
 * load does not grow; a deployment a halving left low takes back what one that kept its rate gives
 * up within BOARD_REFRESH_MS, instead of the slow probe's minutes (AdaptivePacer.shareAt takes it
 * only when its own 429s did not just show a busy tenancy).
 */
export function evenShare(held: number, peers: readonly BoardEntry[], nowMs: number, ceiling: number): number | undefined {
  const posting = peers.filter((p) => p.rate !== undefined && !p.done && nowMs - p.at <= SHARE_FRESH_MS);
  if (posting.length === 0) return undefined;
  const k = posting.length + 1;
  const share =
    Math.min(
      tenancyFor(k, ceiling),
      posting.reduce((sum, p) => sum + (p.rate ?? 0), held),
    ) / k;
  return Math.abs(share - held) > SHARE_TOLERANCE * share ? share : undefined;
}
