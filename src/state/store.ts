/**
 * The state store: one document per function, read once and written with conditional writes, so
 * overlapping invocations never corrupt or roll back the state.
 *
 *   open()  reads the document (inflated to at most `maxBytes`) and remembers its version (ETag);
 *           none yet = an empty document; corrupt sections are replaced and named (`problem`).
 *   save()  applies a change to the document and writes it only if the stored version is still the
 *           one read (If-Match; If-None-Match: * when there was none). Each write carries a token
 *           (`w`): when a write's answer is lost and its repeat meets 412, the re-read document
 *           carrying that token is this write, stored; otherwise another writer came first, and the
 *           change is re-applied to the latest document and written again, at most
 *           MAX_SAVE_ATTEMPTS times in all. A save that failed leaves its change pending: the next
 *           save of the session applies it first, so a later write never stores the document
 *           without it.
 *
 * Changes are functions of the latest document (e.g. "keep the newer scrape per target") that give
 * the same result when applied twice, so a retry merges with what the other writer stored instead
 * of overwriting it. Backends (memory, file, Object Storage) only get and conditionally put bytes.
 */
import { randomUUID } from 'node:crypto';
import { emptyStateDocument, type PacingState, type StateDocument, type TargetState } from '../types/state';
import { decodeState, DEFAULT_MAX_STATE_BYTES, encodeState, replacedMessage, tooLarge } from './codec';
import { StateError } from './errors';

/** Stored bytes and their version. */
interface StoredBlob {
  bytes: Uint8Array;
  etag: string;
  /** Set when the object was larger than the bound: `bytes` is empty, the object is replaced. */
  tooLarge?: boolean;
}

/** Where the bytes live: get, and put only if the stored version is the expected one. */
export interface BlobBackend {
  /** Where the state is, for messages (no secrets). */
  readonly where: string;
  /** The stored object, or undefined when there is none. Throws StateError. */
  get(signal: AbortSignal): Promise<StoredBlob | undefined>;
  /**
   * Stores `bytes` if the stored version is `expectedEtag` (undefined: only if nothing is stored).
   * Resolves the new version's etag ('' when the store did not say), or false when that
   * precondition failed. Throws StateError.
   */
  put(bytes: Uint8Array, expectedEtag: string | undefined, signal: AbortSignal): Promise<string | false>;
}

/** A change to the document, applied to the latest one (again on every retry). */
type StateChange = (latest: StateDocument) => StateDocument;

/** The document read by open(), and the way to write the next one. */
export interface StateSession {
  doc: StateDocument;
  /** This invocation's id: its write tokens start with it, and a spool claim names it. */
  readonly id: string;
  /** Set when the stored object, or some of its sections, could not be used: those parts of `doc` are empty, and save() replaces them. */
  problem?: StateError;
  /** The sections that were replaced (section -> why), when `problem` is set. */
  replaced?: Readonly<Record<string, string>>;
  /** The inflated JSON's length of the document read (0 when there was none, or it was too large). */
  readonly jsonBytes: number;
  /** Applies `change` (after any change whose save failed) and writes conditionally; resolves the number of attempts. Throws StateError. */
  save(change: StateChange, signal: AbortSignal): Promise<{ attempts: number }>;
}

/** Conditional writes tried before giving up on a conflict (each after a re-read). */
export const MAX_SAVE_ATTEMPTS = 4;

export interface StateStore {
  readonly where: string;
  /**
   * Reads the document, inflated to at most `maxBytes` (default: the store's bound; the invocation's
   * memory budget may give less); throws StateError when it cannot be read or must not be overwritten.
   */
  open(signal: AbortSignal, maxBytes?: number): Promise<StateSession>;
}

/** Options of a store. */
interface StoreOptions {
  /** The most bytes a stored document may inflate to (its JSON); over it the object is replaced. */
  maxBytes?: number;
}

/** The document of a blob, or why (part of) it was replaced (foreign / newer versions throw). */
function decodeBlob(
  blob: StoredBlob | undefined,
  where: string,
  maxBytes: number,
): { doc: StateDocument; jsonBytes?: number; problem?: StateError; replaced?: Record<string, string> } {
  if (blob === undefined) return { doc: emptyStateDocument() };
  if (blob.tooLarge) return { doc: emptyStateDocument(), problem: tooLarge(where, maxBytes), replaced: { document: 'too_large' } };
  try {
    const { doc, replaced, jsonBytes } = decodeState(blob.bytes, where, maxBytes);
    if (Object.keys(replaced).length === 0) return { doc, jsonBytes };
    return { doc, jsonBytes, replaced, problem: new StateError('corrupt', replacedMessage(where, replaced)) };
  } catch (e) {
    if (e instanceof StateError && (e.reason === 'corrupt' || e.reason === 'too_large'))
      return { doc: emptyStateDocument(), problem: e, replaced: { document: e.reason } };
    throw e;
  }
}

/** A StateStore over a backend (see top). */
export function createStateStore(backend: BlobBackend, opts: StoreOptions = {}): StateStore {
  const storeMaxBytes = opts.maxBytes ?? DEFAULT_MAX_STATE_BYTES;
  return {
    where: backend.where,
    async open(signal, openMaxBytes) {
      const maxBytes = Math.min(storeMaxBytes, openMaxBytes ?? storeMaxBytes);
      let blob = await backend.get(signal);
      const first = decodeBlob(blob, backend.where, maxBytes);
      const id = randomUUID();
      let writes = 0;
      /** Changes whose save failed: applied again, first, by the next save. */
      let pending: StateChange[] = [];
      const session: StateSession = {
        doc: first.doc,
        id,
        jsonBytes: first.jsonBytes ?? 0,
        async save(change, saveSignal) {
          const changes = [...pending, change];
          const applyAll = (doc: StateDocument): StateDocument => changes.reduce((d, c) => c(d), doc);
          pending = changes;
          let current = session.doc;
          for (let attempt = 1; ; attempt++) {
            const token = `${id}.${++writes}`;
            const next = { ...applyAll(current), w: token };
            const bytes = encodeState(next);
            const etag = await backend.put(bytes, blob?.etag, saveSignal);
            if (etag !== false) {
              // The session now stands on what it wrote, so its next save is not a conflict with itself.
              if (etag !== '') {
                blob = { bytes, etag };
                session.doc = next;
              }
              pending = [];
              return { attempts: attempt };
            }
            blob = await backend.get(saveSignal);
            const latest = decodeBlob(blob, backend.where, maxBytes).doc;
            if (latest.w === token) {
              // This write was stored: its answer was lost, and the repeat met its own version.
              session.doc = latest;
              pending = [];
              return { attempts: attempt };
            }
            if (attempt >= MAX_SAVE_ATTEMPTS) {
              throw new StateError(
                'conflict',
                `the state object ${backend.where} changed under each of ${attempt} conditional writes (overlapping invocations); this scrape was not stored`,
              );
            }
            current = latest;
          }
        },
      };
      if (first.problem) {
        session.problem = first.problem;
        if (first.replaced) session.replaced = first.replaced;
      }
      return session;
    },
  };
}

/**
 * A change that stores these targets' scrapes, keeping a newer one another writer stored, and
 * drops every target not scraped within `maxAgeMs` of `nowMs` (its previous scrape is too old to
 * derive from: the state keeps only the targets seen within STATE_MAX_AGE_SECONDS).
 */
export function withTargets(updates: Readonly<Record<string, TargetState>>, retention?: { nowMs: number; maxAgeMs: number }): StateChange {
  return (latest) => {
    const targets: Record<string, TargetState> = {};
    const oldest = retention ? retention.nowMs - retention.maxAgeMs : -Infinity;
    for (const [key, scrape] of Object.entries(latest.targets)) if (scrape.t >= oldest) targets[key] = scrape;
    for (const [key, scrape] of Object.entries(updates)) {
      const stored = targets[key];
      if (stored === undefined || stored.t <= scrape.t) targets[key] = scrape;
    }
    return { ...latest, targets };
  };
}

/** A change that stores the rate this invocation settled on, unless another writer stored a later one. */
export function withPacing(pacing: PacingState): StateChange {
  return (latest) => (latest.pacing && latest.pacing.at > pacing.at ? latest : { ...latest, pacing });
}

/** Bytes kept in memory (`prom2oci run`, tests): versions are counters. */
export function memoryBackend(where = 'memory'): BlobBackend {
  let stored: StoredBlob | undefined;
  let version = 0;
  return {
    where,
    get() {
      return Promise.resolve(stored);
    },
    put(bytes, expectedEtag) {
      if (stored?.etag !== expectedEtag) return Promise.resolve(false);
      stored = { bytes, etag: String(++version) };
      return Promise.resolve(stored.etag);
    },
  };
}
