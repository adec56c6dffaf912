/** Why the state could not be read or written: a cause a user can act on, never fatal to the run. */
export type StateFailureCause =
  /** Object Storage answered 404 for the bucket, or the function may not read it (OCI says NotAuthorizedOrNotFound for both). */
  | 'not_authorized_or_not_found'
  /** A request that was not authenticated or not allowed (401/403). */
  | 'not_authorized'
  /** No answer within the time allowed. */
  | 'timeout'
  /** The object exists but is not a valid state document, or some of its sections are not; the next write replaces them. */
  | 'corrupt'
  /** The object inflates to more than the function's memory allows; the next write replaces it. */
  | 'too_large'
  /** The object is someone else's; it is never overwritten. */
  | 'foreign'
  /** Written by a prom2oci with another state version; it is never overwritten. */
  | 'unsupported_version'
  /** Every conditional write met a newer one (overlapping invocations); this scrape was not stored. */
  | 'conflict'
  /** Any other failure (5xx, network, file system). */
  | 'unavailable';

/** A state read or write that failed; `message` names the cause (no secrets). */
export class StateError extends Error {
  override name = 'StateError';
  constructor(
    readonly reason: StateFailureCause,
    message: string,
    readonly iamPolicy?: string,
  ) {
    super(message);
  }
}
