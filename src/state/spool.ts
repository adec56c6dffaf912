/**
 * The outage spool: series that could not be delivered (deadline reached while OCI throttled,
 * failed with 5xx, hung or was unreachable; or a 401/404 that an IAM fix may cure), kept with their
 * original timestamps so later invocations deliver them. Pure logic over plain data: where the
 * entries live (the state document's `spool` section) is the caller's.
 *
 *   claimSpool()  the right to replay, taken by a conditional write before any entry is sent: of
 *                 overlapping invocations only one replays; a claim lapses at its holder's deadline
 *                 (plus a margin) if the holder died.
 *   decodeSpool() the stored entries, at most `max` (the newest), each checked: a malformed row, a
 *                 second copy of a datapoint (same stream and timestamp) and an entry for another
 *                 namespace or compartment than this function's are dropped and counted.
 *   planReplay()  what to send again this time: oldest first, only what OCI still accepts (its window
 *                 for past datapoints minus a margin); older entries are dropped as `expired`.
 *   mergeSpool()  the spool after an invocation, applied to the latest stored one: the replayed
 *                 entries that are still undelivered, the entries others added, plus this
 *                 invocation's undelivered series, each datapoint once; over `maxEntries` the oldest
 *                 are dropped as `full`. A series OCI accepted (2xx) is never kept.
 *
 * Every entry ends as posted, rejected (OCI refused it for good), expired, full, or dropped as
 * invalid/duplicate/foreign on read: the counts say so.
 */
import { OCI_LIMITS } from '../transform/limits';
import { streamKey } from '../transform/streams';
import type { OciMetric } from '../types/model';
import type { SpoolClaim, StateDocument, StoredSpool } from '../types/state';

/** One undelivered series: the metric object as it was to be posted, timestamps as ms. */
export interface SpoolEntry extends Omit<OciMetric, 'datapoints'> {
  /** Datapoints: [timestamp ms, value][] (the original timestamps). */
  points: [number, number][];
}

/**
 * Why a spooled series was given up: never silently. `invalid`: a malformed stored row; `duplicate`:
 * a second copy of a datapoint already pending; `foreign`: an entry for a namespace or compartment
 * this function does not post to (a tampered or copied object); `not_stored`: the spool write failed.
 */
type SpoolDropReason = 'expired' | 'full' | 'rejected' | 'not_stored' | 'invalid' | 'duplicate' | 'foreign';

/** What one invocation did with the spool. */
export interface SpoolCounts {
  /** Entries sent again this time. */
  replayed: number;
  /** Of those, accepted by OCI. */
  posted: number;
  /** Entries given up, by reason. */
  dropped: Partial<Record<SpoolDropReason, number>>;
  /** Entries kept for the next invocation. */
  pending: number;
}

/** The margin kept inside OCI's window for past datapoints: a replayed point must still be accepted when it arrives. */
export const SPOOL_EXPIRY_MARGIN_MS = 10 * 60 * 1000;

/** An OciMetric as a spool entry. */
export function toSpoolEntry(m: OciMetric): SpoolEntry {
  const e: SpoolEntry = {
    namespace: m.namespace,
    compartmentId: m.compartmentId,
    name: m.name,
    dimensions: m.dimensions,
    points: m.datapoints.map((d) => [new Date(d.timestamp).getTime(), d.value]),
  };
  if (m.resourceGroup !== undefined) e.resourceGroup = m.resourceGroup;
  if (m.metadata !== undefined) e.metadata = m.metadata;
  return e;
}

/** A spool entry as the OciMetric to post again, with its original timestamps. */
export function fromSpoolEntry(e: SpoolEntry): OciMetric {
  const m: OciMetric = {
    namespace: e.namespace,
    compartmentId: e.compartmentId,
    name: e.name,
    dimensions: e.dimensions,
    datapoints: e.points.map(([t, value]) => ({ timestamp: new Date(t), value })),
  };
  if (e.resourceGroup !== undefined) m.resourceGroup = e.resourceGroup;
  if (e.metadata !== undefined) m.metadata = e.metadata;
  return m;
}

/** The oldest timestamp of an entry (ms). */
function oldest(e: SpoolEntry): number {
  return e.points.reduce((a, [t]) => Math.min(a, t), Infinity);
}

/** The entries to replay (oldest first) and those too old for OCI now. */
export function planReplay(spool: readonly SpoolEntry[], nowMs: number): { replay: SpoolEntry[]; expired: number; expiredEntries: SpoolEntry[] } {
  const cutoff = nowMs - (OCI_LIMITS.maxPastMs - SPOOL_EXPIRY_MARGIN_MS);
  const replay = spool.filter((e) => oldest(e) >= cutoff).sort((a, b) => oldest(a) - oldest(b));
  const expiredEntries = spool.filter((e) => oldest(e) < cutoff);
  return { replay, expired: expiredEntries.length, expiredEntries };
}

/** Per-entry result of a replay (same order as `replay`): posted, rejected for good, or still undelivered. */
export type ReplayOutcome = 'posted' | 'rejected' | 'undelivered';

/**
 * The spool after an invocation: undelivered replayed entries first (they are the oldest), then this
 * invocation's undelivered series; the oldest beyond `maxEntries` are dropped. Returns the counts.
 */
export function nextSpool(
  replay: readonly SpoolEntry[],
  outcomes: readonly ReplayOutcome[],
  fresh: readonly SpoolEntry[],
  expired: number,
  maxEntries: number,
): { spool: SpoolEntry[]; counts: SpoolCounts } {
  const kept: SpoolEntry[] = [];
  let posted = 0;
  let rejected = 0;
  replay.forEach((e, i) => {
    const o = outcomes[i] ?? 'undelivered';
    if (o === 'posted') posted++;
    else if (o === 'rejected') rejected++;
    else kept.push(e);
  });
  kept.push(...fresh);
  const full = Math.max(0, kept.length - maxEntries);
  const spool = full > 0 ? kept.slice(full) : kept;
  const dropped: SpoolCounts['dropped'] = {};
  if (expired > 0) dropped.expired = expired;
  if (rejected > 0) dropped.rejected = rejected;
  if (full > 0) dropped.full = full;
  return { spool, counts: { replayed: replay.length, posted, dropped, pending: spool.length } };
}

/** Identity of an entry: its stream (src/transform/streams.ts) and first timestamp, i.e. the datapoint. */
export function spoolKey(e: SpoolEntry): string {
  return `${streamKey(e)}@${e.points[0]?.[0]}`;
}

/** Entries with each datapoint once (the first copy kept) and how many copies were dropped. */
function distinct(entries: readonly SpoolEntry[]): { entries: SpoolEntry[]; duplicates: number } {
  const seen = new Set<string>();
  const out: SpoolEntry[] = [];
  for (const e of entries) {
    const key = spoolKey(e);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return { entries: out, duplicates: entries.length - out.length };
}

/** Adds counts of dropped entries. */
export function addDropped(into: SpoolCounts['dropped'], more: SpoolCounts['dropped']): void {
  for (const [reason, n] of Object.entries(more) as [SpoolDropReason, number][]) if (n > 0) into[reason] = (into[reason] ?? 0) + n;
}

/**
 * nextSpool() applied to the latest stored spool (another invocation may have written since this one
 * read it): entries this invocation replayed are replaced by their outcome, entries it did not see
 * are kept, and the fresh ones are added, each datapoint once (so applying the same change again,
 * after a write whose answer was lost, changes nothing). `'as-planned'`: the stored spool is still
 * the one `replay` and `expired` were planned from, so every entry was handled (no keys to compare).
 */
export function mergeSpool(
  latest: readonly SpoolEntry[] | 'as-planned',
  replay: readonly SpoolEntry[],
  outcomes: readonly ReplayOutcome[],
  fresh: readonly SpoolEntry[],
  expired: readonly SpoolEntry[],
  maxEntries: number,
): { spool: SpoolEntry[]; counts: SpoolCounts } {
  let untouched: readonly SpoolEntry[] = [];
  if (latest !== 'as-planned') {
    const handled = new Set([...replay, ...expired].map(spoolKey));
    untouched = latest.filter((e) => !handled.has(spoolKey(e)));
  }
  const r = nextSpool(replay, outcomes, fresh, expired.length, Math.max(0, maxEntries - untouched.length));
  const once = distinct([...untouched, ...r.spool].sort((a, b) => oldest(a) - oldest(b)));
  if (once.duplicates > 0) addDropped(r.counts.dropped, { duplicate: once.duplicates });
  return { spool: once.entries, counts: { ...r.counts, pending: once.entries.length } };
}

/** An object with `key` as its own property (a `__proto__` label must stay a label, not become a prototype). */
function setOwn(record: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

/** True when v is a record of strings. */
function isStringRecord(x: unknown): x is Record<string, string> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((s) => typeof s === 'string');
}

/** True when v has the shape of a spool entry (a corrupt entry is dropped on read, never posted). */
export function isSpoolEntry(v: unknown): v is SpoolEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e.namespace === 'string' &&
    (e.compartmentId === undefined || typeof e.compartmentId === 'string') &&
    typeof e.name === 'string' &&
    isStringRecord(e.dimensions) &&
    (e.metadata === undefined || isStringRecord(e.metadata)) &&
    (e.resourceGroup === undefined || typeof e.resourceGroup === 'string') &&
    Array.isArray(e.points) &&
    e.points.length > 0 &&
    e.points.every((p) => Array.isArray(p) && p.length === 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]))
  );
}

/** The stored form of entries (see StoredSpool: the same namespace, names and label values repeat in every entry, so each string is stored once). */
export function encodeSpool(entries: readonly SpoolEntry[]): StoredSpool {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const id = (text: string): number => {
    let i = index.get(text);
    if (i === undefined) {
      i = strings.length;
      strings.push(text);
      index.set(text, i);
    }
    return i;
  };
  const pairs = (out: number[], record: Record<string, string> | undefined): void => {
    const keys = record ? Object.keys(record) : [];
    out.push(keys.length);
    for (const k of keys) out.push(id(k), id(record![k]));
  };
  const e = entries.map((entry) => {
    const optional = (text: string | undefined) => (text === undefined ? -1 : id(text));
    const out = [id(entry.namespace), optional(entry.compartmentId), optional(entry.resourceGroup), id(entry.name)];
    pairs(out, entry.dimensions);
    pairs(out, entry.metadata);
    for (const [t, v] of entry.points) out.push(t, v);
    return out;
  });
  return { s: strings, e };
}

/** One stored entry as a SpoolEntry; undefined when it is malformed (dropped and counted, never posted). */
function decodeEntry(row: unknown, strings: readonly string[]): SpoolEntry | undefined {
  if (!Array.isArray(row) || !row.every((x) => typeof x === 'number' && Number.isFinite(x))) return undefined;
  const r = row as number[];
  const str = (i: number | undefined): string | undefined => (i !== undefined && Number.isInteger(i) && i >= 0 && i < strings.length ? strings[i] : undefined);
  let at = 4;
  const record = (): Record<string, string> | undefined => {
    const n = r[at++];
    if (n === undefined || !Number.isInteger(n) || n < 0 || at + 2 * n > r.length) return undefined;
    const out: Record<string, string> = {};
    for (let k = 0; k < n; k++, at += 2) {
      const key = str(r[at]);
      const value = str(r[at + 1]);
      if (key === undefined || value === undefined || Object.hasOwn(out, key)) return undefined;
      setOwn(out, key, value);
    }
    return out;
  };
  const [namespace, compartmentId, resourceGroup, name] = [str(r[0]), str(r[1]), str(r[2]), str(r[3])];
  if (namespace === undefined || name === undefined || (r[1] !== -1 && compartmentId === undefined) || (r[2] !== -1 && resourceGroup === undefined))
    return undefined;
  const dimensions = record();
  const metadata = dimensions && record();
  const left = r.length - at;
  if (!dimensions || !metadata || left < 2 || left % 2 !== 0) return undefined;
  const points: [number, number][] = [];
  for (; at < r.length; at += 2) points.push([r[at], r[at + 1]]);
  const entry: SpoolEntry = { namespace, name, dimensions, points };
  if (compartmentId !== undefined) entry.compartmentId = compartmentId;
  if (resourceGroup !== undefined) entry.resourceGroup = resourceGroup;
  if (Object.keys(metadata).length > 0) entry.metadata = metadata;
  return entry;
}

/** What decodeSpool keeps: at most `max` entries, and only those `accepts` (this function's destinations). */
interface SpoolReadOptions {
  max: number;
  /** False for an entry of a namespace or compartment this function does not post to. */
  accepts?: (e: SpoolEntry) => boolean;
}

/**
 * The entries of a stored spool section (the compact form; codec.ts converts the first stored
 * form), read from the newest back: at most `max` are decoded, the older rest is dropped as `full`
 * without being decoded. A malformed row, a second copy of a datapoint and an entry `accepts`
 * refuses are dropped and counted, never posted.
 */
export function decodeSpool(section: StoredSpool | undefined, opts: SpoolReadOptions): { entries: SpoolEntry[]; dropped: SpoolCounts['dropped'] } {
  const dropped: SpoolCounts['dropped'] = {};
  if (section === undefined) return { entries: [], dropped };
  const { s, e } = section;
  const seen = new Set<string>();
  const out: SpoolEntry[] = [];
  let invalid = 0;
  let duplicate = 0;
  let foreign = 0;
  let i = e.length - 1;
  for (; i >= 0 && out.length < opts.max; i--) {
    const entry = decodeEntry(e[i], s);
    if (entry === undefined) invalid++;
    else if (opts.accepts && !opts.accepts(entry)) foreign++;
    else {
      const key = spoolKey(entry);
      if (seen.has(key)) duplicate++;
      else {
        seen.add(key);
        out.push(entry);
      }
    }
  }
  addDropped(dropped, { invalid, duplicate, foreign, full: i + 1 });
  return { entries: out.reverse(), dropped };
}

/** The margin a claim outlives its holder's deadline by (the holder's last write may be slow). */
export const SPOOL_CLAIM_MARGIN_MS = 60_000;

/** True when a claim is held by someone else and has not lapsed. */
function heldByOther(claim: SpoolClaim | undefined, by: string, nowMs: number): boolean {
  return claim !== undefined && claim.by !== by && claim.until > nowMs;
}

/**
 * A change that claims the spool's replay for `by` until its deadline (plus a margin), when there
 * is a spool and no other live claim; `claimed()` is the spool the claim covers (undefined: not
 * claimed), as of the document the change was last applied to (the one the successful write
 * stored). `bounded`: the stored spool as read and its form trimmed to the read's bound: when the
 * document still holds that spool, the trimmed form is written in its place (a spool larger than
 * the bound is cut once, at the claim, not carried whole through every write).
 */
export function claimSpool(
  by: string,
  deadlineMs: number,
  nowMs: number,
  bounded?: { section: StoredSpool; trimmed: StoredSpool },
): { change: (doc: StateDocument) => StateDocument; claimed(): StoredSpool | undefined } {
  let claimed: StoredSpool | undefined;
  return {
    change(doc) {
      claimed = undefined;
      if (doc.spool === undefined || doc.spool.e.length === 0 || heldByOther(doc.claim, by, nowMs)) return doc;
      claimed = doc.spool;
      const spool = bounded && doc.spool === bounded.section ? bounded.trimmed : doc.spool;
      return { ...doc, spool, claim: { by, until: deadlineMs + SPOOL_CLAIM_MARGIN_MS } };
    },
    claimed: () => claimed,
  };
}

/** The document without `by`'s claim (a lapsed claim of someone else is dropped too). */
export function releaseClaim(doc: StateDocument, by: string, nowMs: number): StateDocument {
  if (doc.claim === undefined || heldByOther(doc.claim, by, nowMs)) return doc;
  const { claim: _released, ...rest } = doc;
  return rest;
}
