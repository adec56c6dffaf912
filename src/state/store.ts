/**
 * The state store: one document per function, read once and written once per invocation with a
 * conditional write, so overlapping invocations never corrupt or roll back the state.
 *
 *   open()  reads the document and remembers its version (ETag); none yet = an empty document.
 *   save()  applies a change to the document and writes it only if the stored version is still the
 *           one read (If-Match; If-None-Match: * when there was none). When another writer came
 *           first (412), the latest document is read again, the change re-applied to it, and the
 *           write retried, at most MAX_SAVE_ATTEMPTS times in all.
 *
 * Changes are functions of the latest document (e.g. "keep the newer scrape per target"), so a
 * retry merges with what the other writer stored instead of overwriting it. Backends (memory, file,
 * Object Storage) only get and conditionally put bytes.
 */
import { emptyStateDocument, type PacingState, type StateDocument, type TargetState } from '../types/state';
import { decodeState, encodeState } from './codec';
import { StateError } from './errors';

/** Stored bytes and their version. */
interface StoredBlob {
  bytes: Uint8Array;
  etag: string;
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
  /** Set when the stored object was corrupt: `doc` is empty and save() replaces the object. */
  problem?: StateError;
  /** Applies `change` and writes conditionally; resolves the number of attempts. Throws StateError. */
  save(change: StateChange, signal: AbortSignal): Promise<{ attempts: number }>;
}

/** Conditional writes tried before giving up on a conflict (each after a re-read). */
export const MAX_SAVE_ATTEMPTS = 4;

export interface StateStore {
  readonly where: string;
  /** True for a store of this process only (memory, file): a dry run may write it, as it is never the function's. */
  readonly local: boolean;
  /** Reads the document; throws StateError when it cannot be read or must not be overwritten. */
  open(signal: AbortSignal): Promise<StateSession>;
}

/** The document of a blob, or a corrupt one's error (foreign / newer versions throw). */
function decodeBlob(blob: StoredBlob | undefined, where: string): { doc: StateDocument; problem?: StateError } {
  if (blob === undefined) return { doc: emptyStateDocument() };
  try {
    return { doc: decodeState(blob.bytes, where) };
  } catch (e) {
    if (e instanceof StateError && e.reason === 'corrupt') return { doc: emptyStateDocument(), problem: e };
    throw e;
  }
}

/** A StateStore over a backend (see top). */
export function createStateStore(backend: BlobBackend, opts: { local?: boolean } = {}): StateStore {
  return {
    where: backend.where,
    local: opts.local ?? false,
    async open(signal) {
      let blob = await backend.get(signal);
      const first = decodeBlob(blob, backend.where);
      const session: StateSession = {
        doc: first.doc,
        async save(change, saveSignal) {
          let current = session.doc;
          for (let attempt = 1; ; attempt++) {
            const next = change(current);
            const bytes = encodeState(next);
            const etag = await backend.put(bytes, blob?.etag, saveSignal);
            if (etag !== false) {
              // The session now stands on what it wrote, so its next save is not a conflict with itself.
              if (etag !== '') {
                blob = { bytes, etag };
                session.doc = next;
              }
              return { attempts: attempt };
            }
            if (attempt >= MAX_SAVE_ATTEMPTS) {
              throw new StateError(
                'conflict',
                `the state object ${backend.where} changed under each of ${attempt} conditional writes (overlapping invocations); this scrape was not stored`,
              );
            }
            blob = await backend.get(saveSignal);
            current = decodeBlob(blob, backend.where).doc;
          }
        },
      };
      if (first.problem) session.problem = first.problem;
      return session;
    },
  };
}

/** A change that stores these targets' scrapes, keeping a newer one another writer stored. */
export function withTargets(updates: Readonly<Record<string, TargetState>>): StateChange {
  return (latest) => {
    const targets = { ...latest.targets };
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
