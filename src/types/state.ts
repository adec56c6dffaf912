/**
 * The state kept between invocations: plain data, no behaviour. The transform reads a target's
 * previous scrape from it and returns this scrape's; the store (src/state) persists documents.
 */

/**
 * One metric family of a target's previous scrape, only what the derivations need.
 * Values are `null` where the exposition had none or a non-finite one.
 */
export interface FamilyState {
  /** 'c' counter, 'h' histogram, 's' summary: a family whose kind changed is not derived from. */
  k: 'c' | 'h' | 's';
  /** Histograms: the bucket bounds (`le` in OpenMetrics float form) of the family's first series. */
  le?: string[];
  /**
   * Labels key (see labelsKey) -> values: counter [value]; summary [sum, count];
   * histogram [sum, count, ...bucket counts in the order of `le` (or of `sl` for that series)].
   */
  s: Record<string, (number | null)[]>;
  /** Histograms: labels key -> bucket bounds of a series whose bounds differ from `le`. */
  sl?: Record<string, string[]>;
  /** Labels key -> the series' own timestamp (ms), for a series whose timestamp was not the scrape time. */
  ts?: Record<string, number>;
}

/** The previous scrape of one target. */
export interface TargetState {
  /** Scrape time (ms since epoch). */
  t: number;
  /** Family name -> its state. */
  f: Record<string, FamilyState>;
}

/**
 * The stored form of a spool (the state document's `spool` section): every distinct string once in
 * `s`, each entry a flat number array `[namespace, compartmentId (-1: none), resourceGroup (-1: none), name,
 * dimension count, key, value..., metadata count, key, value..., time ms, value, time ms, value...]`
 * whose strings are indexes into `s`. The same namespace, compartment, names and label values
 * repeat in every entry: stored once, the JSON is about 7x smaller than objects, and the decoded
 * entries share their strings (about 2.5x less heap).
 */
export interface StoredSpool {
  s: string[];
  e: number[][];
}

/**
 * The right to replay the spool, taken by a conditional write before any entry is sent, so two
 * overlapping invocations never both replay it; it lapses at `until` if its holder died.
 */
export interface SpoolClaim {
  /** The claiming invocation's id (its state session's). */
  by: string;
  /** When the claim lapses (ms since epoch): the holder's deadline plus a margin. */
  until: number;
}

/**
 * A target's previous scrape; undefined = none (first scrape). Or why there is none to use:
 * 'state_off'/'state_failed' (no state is returned either), 'state_replaced' (the stored state was
 * corrupt: nothing is derived, counted as 'state_failed', and this scrape's state is returned to replace it).
 */
export type PreviousScrape = TargetState | 'state_off' | 'state_failed' | 'state_replaced' | undefined;

/** The current version of StateDocument; a document with another version is not read or overwritten. */
export const STATE_VERSION = 1;
/** Marks a document as ours: an object without it is foreign and left alone. */
export const STATE_FORMAT = 'prom2oci-state';

/**
 * Everything kept between invocations of one function, in sections. Every section is validated on
 * read (src/state/codec.ts, STATE_SECTIONS: a new optional field is its type here and its row
 * there); one in an unexpected shape is named, replaced by its empty value, and the run goes on.
 */
export interface StateDocument {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  /** The token of the write that stored this version: a write whose answer was lost recognises itself. */
  w?: string;
  /** Target key (src/state/keys.ts) -> its previous scrape; only targets seen within the retention. */
  targets: Record<string, TargetState>;
  /** Series not delivered yet, with their original timestamps (src/state/spool.ts); absent = none. */
  spool?: StoredSpool;
  /** Who is replaying the spool now, if anyone. */
  claim?: SpoolClaim;
  /** The posting rate the last invocation settled on, for the next one to start at; absent = none yet. */
  pacing?: PacingState;
}

/** The posting rate an invocation settled on (src/publish/pacing.ts, AdaptivePacer.settledRate). */
export interface PacingState {
  /** PostMetricData calls per second, > 0. */
  rate: number;
  /** When that invocation ended (ms since epoch): an old rate says little about the tenancy now. */
  at: number;
}

/** An empty document. */
export function emptyStateDocument(): StateDocument {
  return { format: STATE_FORMAT, version: STATE_VERSION, targets: {} };
}

/** Why a derived series was not produced this invocation. */
export type NotDerivedReason =
  /** The series (or the target) has no previous scrape. */
  | 'first_scrape'
  /** The previous scrape is older than STATE_MAX_AGE_SECONDS. */
  | 'stale_state'
  /** No state store is configured (STATE_BUCKET unset). */
  | 'state_off'
  /** The state could not be read (the response's `state.error` says why). */
  | 'state_failed'
  /** A histogram/summary with no observation in the interval: no average or quantile exists. */
  | 'no_observations'
  /** This scrape's timestamp is not after the previous one. */
  | 'no_interval'
  /** A value needed (this scrape's or the previous one) is missing or not finite. */
  | 'missing_value'
  /**
   * A histogram whose buckets hold a negative population, this scrape or over the interval (a
   * negative count, or fewer than a lower bucket): no percentile is made from contradictory buckets.
   */
  | 'invalid_buckets'
  /** The derived name or dimensions are not valid for OCI. */
  | 'invalid_series'
  /** The derived stream equals an exposition sample's or an earlier derived one's. */
  | 'duplicate_series';

/** Derived series not produced, by reason. */
export type NotDerivedCounts = Partial<Record<NotDerivedReason, number>>;
