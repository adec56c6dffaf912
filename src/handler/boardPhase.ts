/**
 * The pacing board's part of an invocation (rules: src/publish/board.ts; objects: src/state/board.ts):
 *   joinBoard()     at the begin, while the targets are scraped: the heartbeat (this invocation
 *                   began, with the rate the previous one settled on), so peers invoked by the same
 *                   trigger see it before they post;
 *   startOnBoard()  just before the posting: the peers' entries, and the start they give;
 *   keepSharing()   while posting, every BOARD_REFRESH_MS (the first after BOARD_FIRST_REFRESH_MS):
 *                   the rate held written, the peers' read, the even split taken;
 *   leaveBoard()    at the end: the settled rate, done.
 * Nothing here rejects: a board that fails is named in the summary (`pacing.board.error`) and the
 * invocation paces as without one.
 */
import type { AdaptivePacer, PacerStart } from '../publish/pacing';
import { BOARD_FIRST_REFRESH_MS, BOARD_REFRESH_MS, boardStart, evenShare, peersNow, peersRate, type BoardEntry } from '../publish/board';
import { BoardError, type PacingBoard } from '../state/board';
import type { MemoryBudget } from './memory';
import type { Runtime } from './runtime';
import { round2, type BoardSummary } from './summary';

/** What the board is doing this invocation. */
interface BoardPhase {
  board: PacingBoard;
  began: number;
  /** The heartbeat's write (never rejects). */
  joined: Promise<void>;
  /** The previous invocation's settled rate, carried by every write of this one. */
  settled?: number;
  summary: BoardSummary;
  peers: BoardEntry[];
  timeoutMs: number;
}

/** The one word per distinct problem the summary keeps. */
const MAX_PROBLEMS = 5;
/** What the board's read holds at most (bytes): its entries and the list's page (src/state/board.ts bounds them). */
const BOARD_HELD_BYTES = 128 * 1024;

/** Records a failed board call (the first one; the invocation paces alone from there) and logs it. */
function noteFailure(rt: Runtime, phase: BoardPhase, e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  if (phase.summary.error === undefined) {
    phase.summary.error = message;
    if (e instanceof BoardError && e.iamPolicy) phase.summary.iamPolicy = e.iamPolicy;
    rt.log('warn', `pacing board: ${message}`, e instanceof BoardError && e.iamPolicy ? { iamPolicy: e.iamPolicy } : {});
  }
}

/** Writes this deployment's entry, bounded; a failure is noted. */
async function write(rt: Runtime, phase: BoardPhase, fields: Partial<BoardEntry>): Promise<boolean> {
  const now = (rt.now ?? Date.now)();
  const entry: BoardEntry = { v: 1, began: phase.began, at: now, ...(phase.settled !== undefined ? { settled: phase.settled } : {}), ...fields };
  try {
    await phase.board.write(entry, AbortSignal.timeout(phase.timeoutMs));
    return true;
  } catch (e) {
    noteFailure(rt, phase, e);
    return false;
  }
}

/** Reads the peers' entries, bounded; undefined when the read failed (noted). */
async function readPeers(rt: Runtime, phase: BoardPhase): Promise<BoardEntry[] | undefined> {
  try {
    const read = await phase.board.read((rt.now ?? Date.now)(), AbortSignal.timeout(phase.timeoutMs));
    if (read.problems.length > 0) {
      const known = new Set(phase.summary.problems ?? []);
      const fresh = read.problems.filter((p) => !known.has(p));
      if (fresh.length > 0) {
        phase.summary.problems = [...known, ...fresh].slice(0, MAX_PROBLEMS);
        rt.log('warn', `pacing board: ${fresh.length} object(s) left out: ${fresh.slice(0, MAX_PROBLEMS).join('; ')}`);
      }
    }
    return read.entries;
  } catch (e) {
    noteFailure(rt, phase, e);
    return undefined;
  }
}

/**
 * Joins the board at the invocation's begin, when it has one (PACING_BOARD with STATE_BUCKET, a
 * posting run): the heartbeat is written once `settled` (the previous invocation's settled rate, from
 * the state read) is known, while the targets are scraped.
 */
export function joinBoard(rt: Runtime, began: number, settled: Promise<PacerStart | undefined>, timeoutMs: number): BoardPhase | undefined {
  let board: PacingBoard | undefined;
  try {
    board = rt.pacingBoard?.();
  } catch (e) {
    rt.log('warn', `pacing board: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
  if (!board) return undefined;
  const phase: BoardPhase = { board, began, joined: Promise.resolve(), summary: { peers: 0 }, peers: [], timeoutMs };
  phase.joined = settled
    .then(async (start) => {
      if (start) phase.settled = start.rate;
      await write(rt, phase, {});
    })
    .catch((e: unknown) => noteFailure(rt, phase, e));
  return phase;
}

/**
 * Just before the posting: the peers on the board and the start they give (the even split of what
 * the deployments settled on; undefined with no peers, a failed read, or no room in the memory budget).
 */
export async function startOnBoard(rt: Runtime, phase: BoardPhase, memory: MemoryBudget, ceiling: number): Promise<PacerStart | undefined> {
  await phase.joined;
  if (phase.summary.error !== undefined) return undefined;
  if (!memory.reserve('board', BOARD_HELD_BYTES)) {
    phase.summary.error = `the memory budget has no room for the pacing board's read (${BOARD_HELD_BYTES / 1024} KiB): paced alone`;
    memory.limit('board', phase.summary.error);
    return undefined;
  }
  const entries = await readPeers(rt, phase);
  if (!entries) return undefined;
  const peers = peersNow(entries, (rt.now ?? Date.now)(), phase.began);
  phase.peers = peers;
  phase.summary.peers = peers.length;
  const start = boardStart(phase.settled, peers, ceiling);
  if (!start) return undefined;
  phase.summary.shareRate = round2(start.rate);
  return { rate: start.rate };
}

/**
 * While posting: the pacer learns the peers' calls now, and every BOARD_REFRESH_MS (the first after
 * BOARD_FIRST_REFRESH_MS) writes the rate it holds, reads the peers' and takes the even split.
 * Returns the stop (when the posting is over); a failed call ends the refreshes, and none is
 * scheduled past `untilMs` (the posting's stop time), whatever happens to the invocation.
 */
export function keepSharing(rt: Runtime, phase: BoardPhase, pacer: AdaptivePacer, untilMs: number): () => void {
  const now = rt.now ?? Date.now;
  pacer.seePeers(peersRate(phase.peers, now(), pacer.rate));
  let stopped = phase.summary.error !== undefined;
  let timer: NodeJS.Timeout | undefined;
  const refresh = async (): Promise<void> => {
    const held = pacer.heldRate;
    if (stopped || !(await write(rt, phase, { rate: held }))) return;
    const peers = await readPeers(rt, phase);
    if (stopped || !peers) return;
    const share = evenShare(pacer.heldRate, peers, now(), pacer.ceiling);
    if (share !== undefined && pacer.shareAt(share, now())) phase.summary.shares = (phase.summary.shares ?? 0) + 1;
    pacer.seePeers(peersRate(peers, now(), pacer.rate));
    schedule(BOARD_REFRESH_MS);
  };
  const schedule = (ms: number): void => {
    if (stopped || now() + ms > untilMs) return;
    timer = setTimeout(() => void refresh(), ms);
    timer.unref();
  };
  if (!stopped) void write(rt, phase, { rate: pacer.heldRate }).then((ok) => ok && schedule(BOARD_FIRST_REFRESH_MS));
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

/** At the end: the settled rate for the peers' next start, and done (bounded by `timeoutMs`). */
export async function leaveBoard(rt: Runtime, phase: BoardPhase, pacer: AdaptivePacer, timeoutMs: number): Promise<void> {
  if (phase.summary.error !== undefined) return;
  phase.timeoutMs = timeoutMs;
  await write(rt, phase, { done: true, settled: round2(pacer.settledRate) });
}
