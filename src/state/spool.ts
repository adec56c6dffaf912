/**
 * The outage spool: series that could not be delivered (deadline reached while OCI throttled,
 * failed with 5xx, hung or was unreachable; or a 401/404 that an IAM fix may cure), kept with their
 * original timestamps so later invocations deliver them. Pure logic over plain data: where the
 * entries live (the state document of src/state, a file, memory) is the caller's.
 *
 *   planReplay()  what to send again this time: oldest first, only what OCI still accepts (its window
 *                 for past datapoints minus a margin); older entries are dropped as `expired`.
 *   nextSpool()   the spool after an invocation: the replayed entries that are still undelivered,
 *                 plus this invocation's undelivered series; over `maxEntries` the oldest are dropped
 *                 as `full`. A series OCI accepted (2xx) is never kept: nothing is posted twice.
 *
 * Every entry ends as posted, rejected (OCI refused it for good), expired or full: the counts say so.
 */
import { OCI_LIMITS } from '../transform/limits';
import type { OciMetric } from '../types/model';
import type { StoredSpool } from '../types/state';
import type { StateStore } from './store';

/** One undelivered series: the metric object as it was to be posted, timestamps as ms. */
export interface SpoolEntry extends Omit<OciMetric, 'datapoints'> {
  /** Datapoints: [timestamp ms, value][] (the original timestamps). */
  points: [number, number][];
}

/** Why a spooled series was given up: never silently. */
type SpoolDropReason = 'expired' | 'full' | 'rejected' | 'not_stored';

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

/** Identity of an entry: its stream and first timestamp (the same series of the same scrape). */
function spoolKey(e: SpoolEntry): string {
  const dims = Object.entries(e.dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([e.namespace, e.compartmentId, e.name, dims, e.points[0]?.[0]]);
}

/**
 * nextSpool() applied to the latest stored spool (another invocation may have written since this one
 * read it): entries this invocation replayed are replaced by their outcome, entries it did not see
 * are kept, and the fresh ones are added. `'as-planned'`: the stored spool is still the one `replay`
 * and `expired` were planned from, so every entry was handled (no keys to compare).
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
  const spool = [...untouched, ...r.spool].sort((a, b) => oldest(a) - oldest(b));
  return { spool, counts: { ...r.counts, pending: spool.length } };
}

/** True when v has the shape of a spool entry (a corrupt entry is dropped on read, never posted). */
export function isSpoolEntry(v: unknown): v is SpoolEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  const strings = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((s) => typeof s === 'string');
  return (
    typeof e.namespace === 'string' &&
    typeof e.compartmentId === 'string' &&
    typeof e.name === 'string' &&
    strings(e.dimensions) &&
    (e.metadata === undefined || strings(e.metadata)) &&
    (e.resourceGroup === undefined || typeof e.resourceGroup === 'string') &&
    Array.isArray(e.points) &&
    e.points.length > 0 &&
    e.points.every((p) => Array.isArray(p) && p.length === 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]))
  );
}

/** The stored form of entries. */
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

/** One stored entry as a SpoolEntry; undefined when it is malformed (dropped, never posted). */
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
      if (key === undefined || value === undefined) return undefined;
      out[key] = value;
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

/** The valid entries of a stored spool section (anything malformed in it is dropped, never posted). */
export function decodeSpool(section: unknown): SpoolEntry[] {
  // The first stored form, an array of entry objects, is still read.
  if (Array.isArray(section)) return section.filter(isSpoolEntry);
  if (typeof section !== 'object' || section === null) return [];
  const { s, e } = section as Partial<StoredSpool>;
  if (!Array.isArray(s) || !s.every((x) => typeof x === 'string') || !Array.isArray(e)) return [];
  const out: SpoolEntry[] = [];
  for (const row of e) {
    const entry = decodeEntry(row, s);
    if (entry) out.push(entry);
  }
  return out;
}

/** Where a spool is kept between invocations: the small interface the function and the CLI use. */
interface SpoolStore {
  /** Where, for messages (no secrets). */
  readonly where: string;
  /** The spooled entries (invalid ones dropped). */
  load(signal: AbortSignal): Promise<SpoolEntry[]>;
  /**
   * Stores the spool computed by `change` from the latest stored one (re-applied if another writer
   * came first), so two invocations never lose each other's entries.
   */
  save(change: (latest: SpoolEntry[]) => SpoolEntry[], signal: AbortSignal): Promise<void>;
}

/** A spool in this process's memory (tests, `prom2oci run` without a state file). */
export function memorySpoolStore(): SpoolStore {
  let entries: SpoolEntry[] = [];
  return {
    where: 'memory',
    load() {
      return Promise.resolve(entries.filter(isSpoolEntry));
    },
    save(change) {
      entries = change(entries);
      return Promise.resolve();
    },
  };
}

/**
 * The spool as a section of the state document (so it lives where the state lives: Object Storage
 * for the function, a file or memory for the CLI). Writes are the store's conditional writes: a
 * change is re-applied to the latest document when another invocation wrote first.
 */
export function stateSpoolStore(store: StateStore): SpoolStore {
  return {
    where: store.where,
    async load(signal) {
      const session = await store.open(signal);
      return decodeSpool(session.doc.spool);
    },
    async save(change, signal) {
      const session = await store.open(signal);
      await session.save((latest) => ({ ...latest, spool: encodeSpool(change(decodeSpool(latest.spool))) }), signal);
    },
  };
}
