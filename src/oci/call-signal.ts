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

/** Where the HTTP client notes the status of the call in progress (see NodeHttpClient). */
const callResponse = new AsyncLocalStorage<ResponseSeen>();

/** The status of the last HTTP response of a call, once its head arrived. */
export interface ResponseSeen {
  status?: number;
  /** Set once the whole request was handed to the network: a failure after it may have been carried out (its answer lost). */
  sent?: boolean;
}

/** Where the SDK call running in this async context wants its response status noted, if anywhere. */
export function currentResponseSeen(): ResponseSeen | undefined {
  return callResponse.getStore();
}

/**
 * Runs an SDK call so that its HTTP request is aborted by `signal` (the SDK has no timeout of its
 * own); `seen` learns the response status, so a call OCI accepted is known even if the SDK then fails.
 */
export function withCallSignal<T>(signal: AbortSignal, call: () => Promise<T>, seen: ResponseSeen = {}): Promise<T> {
  return callResponse.run(seen, () => callSignal.run(signal, call));
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
