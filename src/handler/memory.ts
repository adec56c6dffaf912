/**
 * The memory half of an invocation's budget (the time half is ./budget.ts): one budget from
 * FN_MEMORY that everything a run holds reserves from by name, each item's ceiling, and the
 * measured costs the reservations are made of. No imports: settings (SPOOL_MAX_SERIES, the state's
 * bound) read its figures too.
 */
/**
 * Memory: one budget per invocation, from FN_MEMORY, that everything a run holds reserves from by
 * name (`MemoryItem`). The V8 heap of a function is about half its memory (the container's old
 * space; the tests bound it so, FUNCTION_HEAP_ARGS_256MB); the budget is half of that heap: the
 * rest is the runtime and the SDK, the posting's working set (one target drained at a time,
 * POST_CONCURRENCY batches, auto's above its minimum within postingHeldBytes, the requests) and
 * the transients no reservation outlives (a state object's text while it is decoded, a chunk being
 * parsed).
 */
const BUDGET_SHARE_OF_MEMORY = 1 / 4;
/**
 * The most each item may hold, as a share of the function's memory (the sum is above the budget's
 * share on purpose: each is a ceiling, and together they draw from the one budget, first come):
 *  - targets: every target's parsed exposition as it is read (1/5: the share a run of 12 x 100k
 *    samples at 256 MB was measured safe with, test/reliability-memory.test.ts);
 *  - state: the state document decoded (its JSON's bytes x STATE_HELD_BYTES_PER_JSON_BYTE);
 *  - spool: the spooled series read, SPOOL_BYTES_PER_SERIES each (SPOOL_MAX_SERIES follows from it);
 *  - listed: the targets listed (discovered, and a configuration's job targets), LISTED_TARGET_BYTES each;
 *  - config: a scrape configuration read at the invocation (CONFIG_HELD_BYTES_PER_BYTE of its text);
 *  - board: the pacing board's entries read (src/state/board.ts bounds them: 64 of at most 1 KiB);
 *  - log: the summary's log line.
 */
const ITEM_SHARE_OF_MEMORY = {
  targets: 1 / 5,
  state: 1 / 8,
  spool: 1 / 8,
  listed: 1 / 32,
  config: 1 / 16,
  board: 1 / 1024,
  log: 1 / 1024,
} as const;

/** What a run holds, by name: each reservation says which. */
type MemoryItem = keyof typeof ITEM_SHARE_OF_MEMORY;
/** The items in the order a run reserves them (the report lists them so). */
const MEMORY_ITEMS = Object.keys(ITEM_SHARE_OF_MEMORY) as MemoryItem[];

/**
 * What a parsed exposition holds, as measured (node --expose-gc, heapUsed after a parse): ~165
 * bytes a sample for the shortest series, ~540 for one family (HELP and TYPE) per sample; label
 * values and names are counted by the body's bytes.
 */
export const HELD_BYTES_PER_SAMPLE = 170;
export const HELD_BYTES_PER_FAMILY = 370;
/**
 * What a target holds before its first parsed chunk is counted: the socket's and the gunzip's
 * buffers, the unfinished line and the chunk of lines waiting for the parser (CHUNK_LINES). A
 * target that cannot reserve this much is not downloaded at all.
 */
export const TARGET_IN_FLIGHT_BYTES = 256 * 1024;
/**
 * A decoded state document holds ~2.4 bytes of heap per byte of its JSON (measured, node
 * --expose-gc, heapUsed after decodeState in a fresh process: 2.41 for the state of 10k samples,
 * 1.88 for 100k, 3.05 for a spool section); while it is decoded, the inflated bytes and the text are
 * held beside it (2 more). The state's JSON is read up to its item's share / this.
 */
export const STATE_HELD_BYTES_PER_JSON_BYTE = 3;
export const STATE_DECODE_BYTES_PER_JSON_BYTE = STATE_HELD_BYTES_PER_JSON_BYTE + 2;
/**
 * One spooled series, from the read to the write: 223 bytes a stored row and ~500 a decoded entry
 * (measured, node --expose-gc, heapUsed after decodeState then decodeSpool of 20,000 and 50,000
 * entries of the benchmark's exposition: 223 and 497-501), and at the write about as much again
 * (the fresh undelivered entry that may join it, the new stored row and its JSON). SPOOL_MAX_SERIES
 * follows from it (src/config/settings.ts, spoolSeriesBound).
 */
export const SPOOL_BYTES_PER_SERIES = 1536;
/**
 * One target in the run's list (discovered, or a configuration job's): 577 bytes a discovered
 * target itself (URL, dimensions, `__meta_oci_*` labels; measured, node --expose-gc, heapUsed after
 * discovery's targetsOf of 5,000 instances), and what the run makes of it (its scrape target,
 * result, summary, self-metrics, the listed instance): 4 KB in all, an upper bound.
 */
export const LISTED_TARGET_BYTES = 4096;
/**
 * A scrape configuration's parsed jobs, rules and targets per byte of its YAML (measured, node
 * --expose-gc, heapUsed after parseScrapeConfig: 8.8 for the demo's file repeated to 800 jobs, 13.6
 * without its comments; 3 for 1 MiB of static targets), rounded up: the config share holds
 * SCRAPE_CONFIG_OBJECT's 1 MiB at 256 MB.
 */
const CONFIG_HELD_BYTES_PER_BYTE = 16;
const MB = 1024 * 1024;

/** The memory budget ran out: the named reason a target (or a section) was not read whole. */
export class MemoryBudgetError extends Error {
  override name = 'MemoryBudgetError';
}

/** The figures of one function memory: the budget and each item's ceiling (bytes); docs/performance.md's table. */
export function memoryFigures(memoryMb: number): { budgetBytes: number; items: Record<MemoryItem, number> } {
  const items = {} as Record<MemoryItem, number>;
  for (const item of MEMORY_ITEMS) items[item] = Math.floor(memoryMb * MB * ITEM_SHARE_OF_MEMORY[item]);
  return { budgetBytes: Math.floor(memoryMb * MB * BUDGET_SHARE_OF_MEMORY), items };
}

/** The most spooled series a function of `memoryMb` MB holds: the spool's share / SPOOL_BYTES_PER_SERIES. */
export function spoolSeriesBound(memoryMb: number): number {
  return Math.floor(memoryFigures(memoryMb).items.spool / SPOOL_BYTES_PER_SERIES);
}

/** The most JSON a state object may inflate to in a function of `memoryMb` MB (its share, decoded). */
export function stateJsonBound(memoryMb: number): number {
  return Math.floor(memoryFigures(memoryMb).items.state / STATE_DECODE_BYTES_PER_JSON_BYTE);
}

/**
 * The most a posting's batches may hold (bytes) for POST_CONCURRENCY=auto to hold more of them than
 * its minimum (src/publish/inflight.ts): a sixteenth of the function's memory, outside the budget,
 * in the heap's other half with the rest of the posting's working set.
 */
const POSTING_SHARE_OF_MEMORY = 1 / 16;

/** What POST_CONCURRENCY=auto's batches may hold in a function of `memoryMb` MB (bytes). */
export function postingHeldBytes(memoryMb: number): number {
  return Math.floor(memoryMb * MB * POSTING_SHARE_OF_MEMORY);
}

/** The response's account of the memory budget: the ceiling, each item's peak, what was cut to fit. */
export interface MemoryReport {
  /** FN_MEMORY (MB). */
  memoryMb: number;
  budgetMb: number;
  /** Per item: its ceiling and the most it held this run (MB, 0.1). */
  items: Partial<Record<MemoryItem, { capMb: number; peakMb: number }>>;
  /** What was refused, trimmed or cut to stay within the budget, each with its item; absent when nothing was. */
  limited?: { item: MemoryItem; what: string }[];
}

/** MB to one decimal. */
function mb(n: number): number {
  return Math.round((n / MB) * 10) / 10;
}

/**
 * One memory budget per invocation, from FN_MEMORY (see above). A run reserves what it holds under
 * an item's name before (or as) it holds it: a reservation over the item's ceiling or the budget's
 * remainder is refused, and the caller refuses the work (a target up=0 with the reason), reads
 * less (the spool, the discovered list), or cuts (the log line), and says so (`limit`).
 */
export class MemoryBudget {
  readonly totalBytes: number;
  private readonly caps: Record<MemoryItem, number>;
  private usedBytes = 0;
  private readonly held = {} as Record<MemoryItem, number>;
  private readonly peak = {} as Record<MemoryItem, number>;
  private readonly limited: { item: MemoryItem; what: string }[] = [];

  constructor(readonly memoryMb: number) {
    const f = memoryFigures(memoryMb);
    this.totalBytes = f.budgetBytes;
    this.caps = f.items;
    for (const item of MEMORY_ITEMS) this.held[item] = this.peak[item] = 0;
  }

  /** Everything reserved now. */
  get used(): number {
    return this.usedBytes;
  }

  /** What `item` holds now. */
  heldBy(item: MemoryItem): number {
    return this.held[item];
  }

  /** What `item` may still take: its ceiling less what it holds, within the budget's remainder. */
  available(item: MemoryItem): number {
    return Math.max(0, Math.min(this.caps[item] - this.held[item], this.totalBytes - this.usedBytes));
  }

  /** Takes `bytes` for `item`; false (nothing taken) when that would exceed its ceiling or the budget. */
  reserve(item: MemoryItem, bytes: number): boolean {
    if (bytes > this.available(item)) return false;
    this.take(item, bytes);
    return true;
  }

  /** Takes as many units of `bytesEach` as fit for `item`, at most `wanted`; returns how many. */
  reserveUpTo(item: MemoryItem, bytesEach: number, wanted: number): number {
    const n = Math.max(0, Math.min(wanted, Math.floor(this.available(item) / bytesEach)));
    this.take(item, n * bytesEach);
    return n;
  }

  /**
   * Takes all `item` may take, for work whose size is known only once it is done (the state's read):
   * `settle` then keeps what it holds. Not a peak of the item's (the report shows what it held).
   */
  reserveAll(item: MemoryItem): number {
    const bytes = this.available(item);
    this.held[item] += bytes;
    this.usedBytes += bytes;
    return bytes;
  }

  /** Keeps `bytes` of a `reserveAll`'s `taken` (the rest given back). */
  settle(item: MemoryItem, taken: number, bytes: number): void {
    this.release(item, Math.max(0, taken - bytes));
    this.peak[item] = Math.max(this.peak[item], Math.min(taken, bytes));
  }

  /** Gives back bytes `item` took earlier. */
  release(item: MemoryItem, bytes: number): void {
    const given = Math.min(bytes, this.held[item]);
    this.held[item] -= given;
    this.usedBytes -= given;
  }

  /**
   * The scrape configuration's reservation, by the bytes of its text (SCRAPE_CONFIG; a configuration
   * read at the invocation, SCRAPE_CONFIG_OBJECT, calls this with the object's size before
   * downloading it): a refusal, which the caller reports as the configuration's error, when the
   * budget's config share cannot hold it.
   */
  reserveConfig(textBytes: number): MemoryBudgetError | undefined {
    const bytes = textBytes * CONFIG_HELD_BYTES_PER_BYTE;
    if (this.reserve('config', bytes)) return undefined;
    const f = (n: number) => (n / MB).toFixed(1);
    const what =
      `the scrape configuration (${f(textBytes)} MB of text, about ${f(bytes)} MB parsed) is more than this function's ${this.memoryMb} MB ` +
      `memory (FN_MEMORY) holds for it (${f(this.available('config'))} MB); split it over more functions or raise the memory`;
    this.limit('config', what);
    return new MemoryBudgetError(`memory budget: ${what}`);
  }

  /** Records what was refused, trimmed or cut to stay within the budget (the response lists it). */
  limit(item: MemoryItem, what: string): void {
    this.limited.push({ item, what });
  }

  /** The named reason a target (`what`) was refused: what the run holds, by item, against the budget. */
  refusal(what: string, heldBytes: number): MemoryBudgetError {
    const f = (n: number) => (n / MB).toFixed(1);
    const others = MEMORY_ITEMS.filter((i) => this.held[i] > 0)
      .map((i) => `${i} ${f(this.held[i])} MB`)
      .join(', ');
    return new MemoryBudgetError(
      `memory budget: ${what} was not read: the run holds ${f(this.usedBytes)} MB (${others || 'nothing else'}) of the ${f(this.totalBytes)} MB ` +
        `this function's ${this.memoryMb} MB memory (FN_MEMORY) allows, the targets at most ${f(this.caps.targets)} MB ` +
        `(this one had reached ${f(heldBytes)} MB); the others were posted. Raise the function's memory, lower SCRAPE_SAMPLE_LIMIT, ` +
        `or split the targets over more functions`,
    );
  }

  /** The account for the response. */
  report(): MemoryReport {
    const items: MemoryReport['items'] = {};
    for (const item of MEMORY_ITEMS) if (this.peak[item] > 0) items[item] = { capMb: mb(this.caps[item]), peakMb: mb(this.peak[item]) };
    return {
      memoryMb: this.memoryMb,
      budgetMb: mb(this.totalBytes),
      items,
      ...(this.limited.length > 0 ? { limited: [...this.limited] } : {}),
    };
  }

  private take(item: MemoryItem, bytes: number): void {
    this.held[item] += bytes;
    this.usedBytes += bytes;
    if (this.held[item] > this.peak[item]) this.peak[item] = this.held[item];
  }
}
