/**
 * A fixed-rate schedule: cycle k is due at start + k * interval, whatever each cycle took, so the
 * schedule does not drift (a setInterval, or a sleep after each cycle, drifts). Cycles never
 * overlap: a cycle due while the previous one still runs is skipped and reported, and the next
 * one keeps its original slot. stop() ends the schedule and waits for the cycle in flight.
 */

/** What a cycle is told about itself. */
interface CycleInfo {
  /** 1-based number of the slot (skipped slots are counted too). */
  cycle: number;
  /** When it was due (ms since epoch). */
  dueAt: number;
}

interface ScheduleOptions {
  intervalMs: number;
  /** Run the first cycle at once (default) or after one interval. */
  immediate?: boolean;
  /** Called for a slot skipped because the previous cycle is still running. */
  onSkip?: (info: CycleInfo & { runningCycle: number }) => void;
  /** Called when a cycle rejects (the schedule goes on). */
  onError?: (info: CycleInfo, error: unknown) => void;
  now?: () => number;
}

export interface Schedule {
  /** Stops scheduling and resolves once the cycle in flight (if any) has finished. */
  stop(): Promise<void>;
  /** Cycles started and slots skipped so far. */
  readonly started: number;
  readonly skipped: number;
  /** When the next cycle is due (ms since epoch), or undefined once stopped. */
  readonly nextDueAt: number | undefined;
}

/** Starts running `cycle` on a fixed-rate schedule. */
export function startSchedule(cycle: (info: CycleInfo) => Promise<void>, opts: ScheduleOptions): Schedule {
  const now = opts.now ?? Date.now;
  const origin = now();
  let slot = opts.immediate === false ? 1 : 0;
  let running: { cycle: number; done: Promise<void> } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let started = 0;
  let skipped = 0;

  /** Runs (or skips) the slot that is due, then arms the timer for the next slot. */
  const fire = (): void => {
    if (stopped) return;
    const info: CycleInfo = { cycle: slot + 1, dueAt: origin + slot * opts.intervalMs };
    if (running) {
      skipped++;
      opts.onSkip?.({ ...info, runningCycle: running.cycle });
    } else {
      started++;
      const done = Promise.resolve()
        .then(() => cycle(info))
        .catch((e: unknown) => opts.onError?.(info, e))
        .finally(() => {
          if (running?.done === done) running = undefined;
        });
      running = { cycle: info.cycle, done };
    }
    // The next slot is computed from the origin, not from now: no drift. Slots already in the
    // past (the process was paused) are not replayed one by one; the next future slot is taken.
    slot = Math.max(slot + 1, Math.floor((now() - origin) / opts.intervalMs) + 1);
    arm();
  };

  /** Sets the timer for the current slot. */
  const arm = (): void => {
    timer = setTimeout(fire, Math.max(0, origin + slot * opts.intervalMs - now()));
  };

  if (opts.immediate === false) arm();
  else fire();

  return {
    get started() {
      return started;
    },
    get skipped() {
      return skipped;
    },
    get nextDueAt() {
      return stopped ? undefined : origin + slot * opts.intervalMs;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.done;
    },
  };
}
