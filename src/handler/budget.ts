/**
 * One invocation's time budget: every stop time and every reserve, in one place. The pipeline asks
 * it when each phase must stop, and the forecast reads the same reserves to say whether a
 * configuration fits the timeout.
 *
 *   start ─ discovery ─▶ discoveryStopAt ─ scrape, state read ─▶ scrapeStopAt
 *         ─ posting (fresh, then the spool's replay) ─▶ dataStopAt
 *         ─ self-metrics ─▶ selfMetricsStopAt ─ spool reserve (its write) ─▶ endMs ─ response margin ─▶ deadline
 *   (without a spool the reserve is 0: the self-metrics post until endMs)
 */
import type { Settings } from '../config/settings';
import type { AdaptivePacer, PublishOptions } from '../publish/publisher';
import { postingHeldBytes } from './memory';

/** The longest one call of the pacing board may take (ms): its objects are ~150 bytes (boardTimeoutMs). */
const BOARD_CALL_MS = 5000;
/** Time kept back at the end of an invocation to write the response (ms). */
const RESPONSE_MARGIN_MS = 1000;
/** Time kept back after the data phase for the self-metrics call (ms, upper bound). */
const SELF_METRICS_RESERVE_MS = 2500;
/**
 * Time kept back after the posting for the outage spool: decoding, merging and encoding it are CPU
 * work no deadline can interrupt, so the posting stops early enough for them (a 50k spool with the
 * ingestion down ran past its 40 s deadline, and the spool was lost). Per entry stored or possibly
 * added, about 6x the bench's calm-machine cost (~13 us per entry), plus the write itself; at most
 * a third of the time left when the posting starts.
 */
const SPOOL_RESERVE_BASE_MS = 1000;
const SPOOL_RESERVE_MS_PER_ENTRY = 0.08;
const SPOOL_RESERVE_MAX_SHARE = 1 / 3;
/** Share of the scrape window discovery may take when the window is shorter than two SCRAPE_TIMEOUT_MS. */
const DISCOVERY_MAX_SHARE = 1 / 2;

/** What the cost forecast reads of the budget. */
export interface TimeBudget {
  /** The function timeout the invocation runs under (ms). */
  readonly timeoutMs: number;
  /** Time kept back from the work: the response margin, the self-metrics and the spool (ms). */
  readonly reservedMs: number;
}

/** The stop times and reserves of one invocation, from its deadline (or FUNCTION_TIMEOUT_MS). */
export class InvocationBudget implements TimeBudget {
  readonly startedAt: number;
  readonly deadlineMs: number;
  /** The end of the work (the deadline less the response margin); the self-metrics post until here. */
  readonly endMs: number;
  /** When discovery, the scrape and the state I/O ahead of the posting stop (the self-metrics' time is kept). */
  readonly scrapeStopAt: number;
  /**
   * When discovery stops: it may use the window up to `scrapeStopAt` only as far as the scrape
   * keeps SCRAPE_TIMEOUT_MS after it, and at most half of it when the window is shorter than two
   * scrape timeouts, so a hung Compute API never leaves the static targets no time.
   */
  readonly discoveryStopAt: number;
  /** When the posting would stop without a spool to keep time for. */
  readonly postUntil: number;
  readonly timeoutMs: number;
  /** Time kept for the spool's work after the posting; set once by `reserveSpool`. */
  private spoolReserveMs = 0;

  constructor(
    private readonly settings: Settings,
    readonly now: () => number,
    deadline?: Date,
  ) {
    this.startedAt = now();
    this.deadlineMs = deadline?.getTime() ?? this.startedAt + settings.functionTimeoutMs;
    this.endMs = this.deadlineMs - RESPONSE_MARGIN_MS;
    this.scrapeStopAt = this.endMs - SELF_METRICS_RESERVE_MS;
    const window = this.scrapeStopAt - this.startedAt;
    this.discoveryStopAt = this.startedAt + Math.round(Math.max(window * DISCOVERY_MAX_SHARE, window - settings.scrapeTimeoutMs));
    this.postUntil = this.endMs - Math.min(SELF_METRICS_RESERVE_MS, settings.postTimeoutMs);
    // The invocation's own deadline is the timeout the platform enforces, when it gave one.
    this.timeoutMs = deadline ? Math.round((this.deadlineMs - this.startedAt) / 1000) * 1000 : settings.functionTimeoutMs;
  }

  /**
   * Keeps time after the posting for the spool's work on this many entries (stored, plus at most
   * those this invocation can add); called when the posting starts.
   */
  reserveSpool(entries: number): void {
    const postingMs = this.postUntil - this.now();
    // Whole milliseconds: the stop times become AbortSignal.timeout() delays, which must be integers.
    this.spoolReserveMs = Math.round(Math.max(0, Math.min(postingMs * SPOOL_RESERVE_MAX_SHARE, SPOOL_RESERVE_BASE_MS + entries * SPOOL_RESERVE_MS_PER_ENTRY)));
  }

  /** When the data (fresh, then replayed) stops being posted. */
  get dataStopAt(): number {
    return this.postUntil - this.spoolReserveMs;
  }

  /** When the self-metrics stop being posted: the spool's reserve is kept after them, since their undelivered ones join the spool. */
  get selfMetricsStopAt(): number {
    return this.endMs - this.spoolReserveMs;
  }

  get reservedMs(): number {
    return RESPONSE_MARGIN_MS + SELF_METRICS_RESERVE_MS + this.spoolReserveMs;
  }

  /** An abort signal that fires at `stopAt`. */
  signalAt(stopAt: number): AbortSignal {
    return AbortSignal.timeout(this.msUntil(stopAt));
  }

  /** Time left until `stopAt` (at least 1 ms: an AbortSignal.timeout() delay). */
  msUntil(stopAt: number): number {
    return Math.max(1, stopAt - this.now());
  }

  /** One state read or write ahead of the posting: POST_TIMEOUT_MS, cut at the scrape's stop time. */
  stateTimeoutMs(): number {
    return Math.min(this.settings.postTimeoutMs, this.msUntil(this.scrapeStopAt));
  }

  /**
   * One call of the pacing board (src/handler/boardPhase.ts): a small object, so at most
   * BOARD_CALL_MS; the posting waits for the board's read before it starts, and a hanging Object
   * Storage must not take more of the minute than that.
   */
  boardTimeoutMs(): number {
    return Math.min(BOARD_CALL_MS, this.spoolWriteTimeoutMs());
  }

  /** The spool's write after the posting: POST_TIMEOUT_MS, cut at the end of the work. */
  spoolWriteTimeoutMs(): number {
    return Math.max(1, Math.min(this.settings.postTimeoutMs, this.endMs - this.now()));
  }

  /** One target's scrape: SCRAPE_TIMEOUT_MS, cut at the scrape's stop time. */
  scrapeTimeoutMs(own: number = this.settings.scrapeTimeoutMs): number {
    return Math.max(1, Math.min(own, this.scrapeStopAt - this.now()));
  }

  /** Publisher options for a posting that stops at `stopAtMs`. */
  publishOptions(stopAtMs: number, pacer: AdaptivePacer): PublishOptions {
    const s = this.settings;
    return {
      callsPerSecond: s.postCallsPerSecond,
      concurrency: s.postConcurrency,
      heldBytesMax: postingHeldBytes(s.memoryMb),
      postTimeoutMs: s.postTimeoutMs,
      stopAtMs,
      now: this.now,
      pacer,
    };
  }
}
