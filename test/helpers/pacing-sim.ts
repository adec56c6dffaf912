/**
 * Publish runs on simulated time against the emulator's own tenancy limiter (the real
 * TenancyRateLimiter, fed simulated times), as the publisher does them: `concurrency` workers take
 * batches, wait for a start slot of their AdaptivePacer, the call reaches the limiter after
 * `latencyMs` (plus up to `jitterMs`, seeded), its answer comes back at once; a 429 is retried after
 * the publisher's own backoff. Several posters (deployments) can share the tenancy, and another
 * poster may send `otherPerSecond` calls without ever backing off, started evenly spaced and
 * arriving up to `jitterMs` late (timers and networks are not exact: with exact arrivals the sliding
 * window hides how long a neighbour can absorb the 429s before one is ours). Deterministic.
 */
import { AdaptivePacer, type PacerStart } from '../../src/publish/pacing';
import { freshEntries, peersNow, BOARD_FIRST_REFRESH_MS, BOARD_REFRESH_MS, boardStart, evenShare, peersRate, type BoardEntry } from '../../src/publish/board';
import { backoffMs } from '../../src/publish/publisher';
import { AUTO_IN_FLIGHT, autoInFlight, nextLatencyMs } from '../../src/publish/inflight';
import { TenancyRateLimiter } from '../../src/local/emulator/rate-limit';
import { mulberry32 } from '../../src/local/demo/traffic';

/** One deployment of the function in the simulated tenancy. */
export interface SimPoster {
  ceiling: number;
  batches: number;
  /** Batches held at once; auto as the publisher's (src/publish/inflight.ts), its memory share never the bound. */
  concurrency: number | 'auto';
  /** The previous invocation's settled rate. */
  start?: PacerStart;
  /** This call (1-based) gets a 429 whatever the tenancy's count. */
  stray429AtCall?: number;
  /** When this poster begins (simulated ms). */
  beginMs?: number;
  /** It is one of that many shards (SHARD=i/N). */
  shards?: number;
  /**
   * It is on the run's pacing board (SimOptions.board) as `id`: its heartbeat (with `start`'s rate
   * as its settled one) is written at `beginMs`, its scrape takes `scrapeMs`, then it reads the
   * board and starts posting (its start: boardStart, or `start` with no peers), writes its rate and
   * reads the others' at each BOARD_REFRESH_MS moment of the board's clock while it posts, and its settled rate when done.
   */
  board?: { id: string; scrapeMs: number };
}

/** The shared pacing board of a simulated tenancy: entries by deployment, times on the board's clock. */
export type SimBoard = Map<string, BoardEntry>;

/** What one poster did. */
export interface SimPosterResult {
  calls: number;
  throttled: number;
  accepted: number;
  /** Accepted calls per second from its first start to its last acceptance. */
  acceptedRate: number;
  /** Simulated time of its last acceptance. */
  doneMs: number;
  /** Simulated times of its 429s and of its accepted calls. */
  own429s: number[];
  acceptedAt: number[];
  pacer: AdaptivePacer;
  /** The most batches it held at once. */
  heldPeak: number;
}

/** What one simulated run produced. */
export interface SimResult {
  posters: SimPosterResult[];
  /** Every 429 the tenancy answered (the posters' and the other poster's), simulated ms. */
  tenancy429s: number[];
  otherCalls: number;
  otherThrottled: number;
}

export interface SimOptions {
  posters: SimPoster[];
  latencyMs: number;
  limit: number;
  seed: number;
  otherPerSecond?: number;
  jitterMs?: number;
  /** A poster's timers fire up to this late (ms, seeded; a busy machine): a start the pacer said to wait for comes that much after. */
  timerLateMs?: number;
  /** Every call reaching the tenancy in [fromMs, toMs) gets 429 (a burst of them, whatever the rate). */
  faultWindow?: [number, number];
  /** The pacing board of the posters that have `board`; `boardEpochMs` is simulated time 0 on its clock (minutes go on). */
  board?: SimBoard;
  boardEpochMs?: number;
}

/** Runs the simulation to the end (every batch accepted). */
export function simulate(o: SimOptions): SimResult {
  const limiter = new TenancyRateLimiter();
  const random = mulberry32(o.seed); // seeded retry jitter
  const arrival = mulberry32(o.seed * 7919 + 1); // seeded arrival jitter
  const late = (): number => arrival() * (o.jitterMs ?? 0);
  const timers = mulberry32(o.seed * 104_729 + 3); // seeded timer lateness, drawn only when asked for
  const timerLate = (): number => (o.timerLateMs ? timers() * o.timerLateMs : 0);
  const events: { t: number; seq: number; run: () => void }[] = [];
  let seq = 0;
  let now = 0;
  const at = (t: number, run: () => void): void => {
    events.push({ t, seq: seq++, run });
  };
  const tenancy429s: number[] = [];
  let workersDone = 0;
  const workersOf = (p: SimPoster): number => (p.concurrency === 'auto' ? AUTO_IN_FLIGHT.max : p.concurrency);
  const workersTotal = o.posters.reduce((n, p) => n + workersOf(p), 0);
  const inFault = (t: number): boolean => o.faultWindow !== undefined && t >= o.faultWindow[0] && t < o.faultWindow[1];

  const results = o.posters.map((p): SimPosterResult => {
    const r = { calls: 0, throttled: 0, accepted: 0, acceptedRate: 0, doneMs: 0, own429s: [], acceptedAt: [], heldPeak: 0 } as Omit<
      SimPosterResult,
      'pacer'
    > as SimPosterResult;
    let pacer!: AdaptivePacer;
    let queue = p.batches;
    let running = workersOf(p);
    /** Batches held, the workers waiting to hold one (auto), the answers' latency estimate. */
    let held = 0;
    const waiting: (() => void)[] = [];
    let latencyMs: number | undefined;
    const holdLimit = (): number => (p.concurrency === 'auto' ? autoInFlight(pacer.rate, latencyMs, 0, Infinity) : p.concurrency);
    const board = o.board;
    const onBoard = p.board && board ? { ...p.board, board } : undefined;
    const boardNow = (): number => (o.boardEpochMs ?? 0) + now;
    const writeEntry = (fields: Partial<BoardEntry>): void => {
      if (!onBoard) return;
      const began = onBoard.board.get(onBoard.id)?.began ?? boardNow();
      onBoard.board.set(onBoard.id, { v: 1, began, at: boardNow(), ...(p.start ? { settled: p.start.rate } : {}), ...fields });
    };
    /** The other deployments' entries as a read finds them. */
    const peers = (): BoardEntry[] =>
      onBoard
        ? freshEntries(
            [...onBoard.board].filter(([id]) => id !== onBoard.id).map(([, e]) => e),
            boardNow(),
          )
        : [];
    const attempt = (worker: () => void, tries: number): void => {
      const wait = pacer.tryStart(now);
      if (wait > 0) return at(now + wait + timerLate(), () => attempt(worker, tries));
      const started = now;
      const callNo = ++r.calls;
      at(now + o.latencyMs + late(), () => {
        const refused = callNo === p.stray429AtCall || inFault(now);
        latencyMs = nextLatencyMs(latencyMs, now - started);
        if (!refused && limiter.admit('tenancy', o.limit, now)) {
          r.accepted++;
          r.doneMs = now;
          r.acceptedAt.push(now);
          pacer.accepted(now);
          held--;
          waiting.shift()?.();
          worker();
        } else {
          r.throttled++;
          r.own429s.push(now);
          tenancy429s.push(now);
          pacer.throttled(started, now);
          at(now + backoffMs(tries, random), () => attempt(worker, tries + 1));
        }
      });
    };
    const worker = (): void => {
      if (queue === 0) {
        workersDone++;
        if (--running === 0) writeEntry({ done: true, settled: pacer.settledRate });
        waiting.shift()?.();
        return;
      }
      if (held >= holdLimit()) return void waiting.push(worker);
      queue--;
      held++;
      r.heldPeak = Math.max(r.heldPeak, held);
      if (held < holdLimit()) waiting.shift()?.();
      attempt(worker, 1);
    };
    const refresh = (): void => {
      if (running === 0) return;
      writeEntry({ rate: pacer.heldRate });
      const seen = peers();
      const share = evenShare(pacer.heldRate, seen, boardNow(), p.ceiling);
      if (share !== undefined) pacer.shareAt(share, now);
      pacer.seePeers(peersRate(seen, boardNow(), pacer.rate));
      at(now + BOARD_REFRESH_MS, refresh);
    };
    const post = (): void => {
      const seen = onBoard ? peersNow(peers(), boardNow(), onBoard.board.get(onBoard.id)!.began) : [];
      const shared = boardStart(p.start?.rate, seen, p.ceiling);
      pacer = new AdaptivePacer(p.ceiling, shared ?? p.start, p.shards);
      r.pacer = pacer;
      if (onBoard) {
        pacer.seePeers(peersRate(seen, boardNow(), pacer.rate));
        writeEntry({ rate: pacer.heldRate });
        at(now + BOARD_FIRST_REFRESH_MS, refresh);
      }
      for (let i = 0; i < workersOf(p); i++) worker();
    };
    if (onBoard) {
      at(p.beginMs ?? 0, () => {
        onBoard.board.set(onBoard.id, { v: 1, began: boardNow(), at: boardNow(), ...(p.start ? { settled: p.start.rate } : {}) });
        at(now + onBoard.scrapeMs, post);
      });
    } else at(p.beginMs ?? 0, post);
    return r;
  });

  let otherCalls = 0;
  let otherThrottled = 0;
  if (o.otherPerSecond) {
    const every = 1000 / o.otherPerSecond;
    const phase = (every * ((o.seed % 5) + 1)) / 6; // the seed also sets the other poster's phase
    let sent = 0;
    const other = (): void => {
      if (workersDone === workersTotal) return;
      otherCalls++;
      at(now + late(), () => {
        if (inFault(now) || !limiter.admit('tenancy', o.limit, now)) {
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
  o.posters.forEach((p, i) => {
    const r = results[i];
    r.acceptedRate = (r.accepted / (r.doneMs - (p.beginMs ?? 0) - (p.board?.scrapeMs ?? 0))) * 1000;
  });
  return { posters: results, tenancy429s, otherCalls, otherThrottled };
}
