import { OCI_LIMITS } from './limits';

/** Oldest own timestamp used, relative to the scrape: 2 h minus a 5 min margin for posting time. */
export const OWN_TIMESTAMP_MAX_AGE_MS = OCI_LIMITS.maxPastMs - OCI_LIMITS.pastSafetyMarginMs;

/** Furthest-ahead own timestamp used: 10 min minus a 1 min margin for clock skew. */
export const OWN_TIMESTAMP_MAX_AHEAD_MS = OCI_LIMITS.maxFutureMs - OCI_LIMITS.futureSafetyMarginMs;

/** True when OCI would accept ownMs for a scrape taken at scrapeTimeMs (with the margins above). */
export function isAcceptableOwnTimestamp(ownMs: number, scrapeTimeMs: number): boolean {
  return Number.isFinite(ownMs) && ownMs >= scrapeTimeMs - OWN_TIMESTAMP_MAX_AGE_MS && ownMs <= scrapeTimeMs + OWN_TIMESTAMP_MAX_AHEAD_MS;
}

/** The datapoint time of a sample: its own timestamp when OCI would accept it, else the scrape's. */
export function chooseTimestampMs(ownMs: number | undefined, scrapeTimeMs: number): number {
  return ownMs !== undefined && isAcceptableOwnTimestamp(ownMs, scrapeTimeMs) ? ownMs : scrapeTimeMs;
}
