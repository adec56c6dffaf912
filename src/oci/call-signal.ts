/**
 * Aborting SDK calls: the OCI SDK has no per-call timeout, so each call runs with its own
 * AbortSignal, handed to its fetch by the shared options below.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The signal of the SDK call in progress; read by the fetch options getter below. */
const callSignal = new AsyncLocalStorage<AbortSignal>();

/** The signal of the SDK call running in this async context, if any. */
export function currentCallSignal(): AbortSignal | undefined {
  return callSignal.getStore();
}

/** Runs an SDK call so that its HTTP request is aborted by `signal` (the SDK has no timeout of its own). */
export function withCallSignal<T>(signal: AbortSignal, call: () => Promise<T>): Promise<T> {
  return callSignal.run(signal, call);
}

/**
 * fetch() init options shared by the SDK clients. The SDK passes the same object to every fetch;
 * the getter hands each request the signal of the call that made it.
 */
export const httpOptions = {
  get signal(): AbortSignal | undefined {
    return callSignal.getStore();
  },
};
