import { OCI_LIMITS } from './limits';

/** Oldest own timestamp posted, relative to the scrape: 2 h minus a 5 min margin for posting time. */
const OWN_TIMESTAMP_MAX_AGE_MS = OCI_LIMITS.maxPastMs - OCI_LIMITS.pastSafetyMarginMs;

/** Furthest-ahead own timestamp posted: 10 min minus a 1 min margin for clock skew. */
const OWN_TIMESTAMP_MAX_AHEAD_MS = OCI_LIMITS.maxFutureMs - OCI_LIMITS.futureSafetyMarginMs;

/** True when OCI would accept ownMs for a scrape taken at scrapeTimeMs (with the margins above). */
function isAcceptableOwnTimestamp(ownMs: number, scrapeTimeMs: number): boolean {
  return Number.isFinite(ownMs) && ownMs >= scrapeTimeMs - OWN_TIMESTAMP_MAX_AGE_MS && ownMs <= scrapeTimeMs + OWN_TIMESTAMP_MAX_AHEAD_MS;
}

/**
 * The datapoint time of a sample: its own timestamp, or the scrape's when it has none. Undefined
 * when its own timestamp lies outside what OCI accepts: a sample is never moved in time (the
 * caller skips it as 'timestamp_out_of_window').
 */
export function datapointTimestampMs(ownMs: number | undefined, scrapeTimeMs: number): number | undefined {
  if (ownMs === undefined) return scrapeTimeMs;
  return isAcceptableOwnTimestamp(ownMs, scrapeTimeMs) ? ownMs : undefined;
}
