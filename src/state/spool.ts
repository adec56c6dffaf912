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
import type { StateStore } from './store';

/** One undelivered series: the metric object as it was to be posted, timestamps as ms. */
export interface SpoolEntry extends Omit<OciMetric, 'datapoints'> {
  /** Datapoints: [timestamp ms, value][] (the original timestamps). */
  points: [number, number][];
}

/** Why a spooled series was given up: never silently. */
export type SpoolDropReason = 'expired' | 'full' | 'rejected' | 'not_stored';

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
 * are kept, and the fresh ones are added.
 */
export function mergeSpool(
  latest: readonly SpoolEntry[],
  replay: readonly SpoolEntry[],
  outcomes: readonly ReplayOutcome[],
  fresh: readonly SpoolEntry[],
  expired: readonly SpoolEntry[],
  maxEntries: number,
): { spool: SpoolEntry[]; counts: SpoolCounts } {
  const handled = new Set([...replay, ...expired].map(spoolKey));
  const untouched = latest.filter((e) => !handled.has(spoolKey(e)));
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
    async load() {
      return entries.filter(isSpoolEntry);
    },
    async save(change) {
      entries = change(entries);
    },
  };
}

/** The valid entries of a stored spool section (anything else in it is dropped, never posted). */
function validEntries(section: unknown): SpoolEntry[] {
  return Array.isArray(section) ? section.filter(isSpoolEntry) : [];
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
      return validEntries(session.doc.spool);
    },
    async save(change, signal) {
      const session = await store.open(signal);
      await session.save((latest) => ({ ...latest, spool: change(validEntries(latest.spool)) }), signal);
    },
  };
}
