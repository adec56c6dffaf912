/**
 * POST_CONCURRENCY=auto: how many batches a posting holds at once (in flight, or waiting to be
 * retried). The pacer (pacing.ts) sets the rate calls start at; the calls in flight are that rate x
 * a call's latency (Little's law), so a fixed number of them caps the rate at number / latency:
 * 8 reach OCI's 49 calls/s only while a call takes up to ~160 ms. Auto holds as many as the rate
 * needs at the latency measured this invocation, never fewer than the fixed default had, and never
 * more than AUTO_IN_FLIGHT.max or than the posting's share of the memory holds. Pure: no I/O, no clock.
 */
import type { OciMetric } from '../types/model';

/** The bounds of the auto number of batches held. */
export const AUTO_IN_FLIGHT = {
  /** Never fewer than this (the fixed default before auto): auto changes nothing where 8 sufficed. */
  min: 8,
  /** Never more: 48 reach 49 calls/s while a call takes up to ~1 s. */
  max: 48,
  /** Room above rate x latency, for latencies that vary from call to call. */
  headroom: 1.5,
} as const;

/** A latency estimate's weight for each new answer (exponentially weighted mean). */
const LATENCY_WEIGHT = 0.2;

/**
 * Bytes a posting holds per character of a batch's estimated request body: the batch's metric
 * objects, the body as a JSON string (two bytes a character in V8's worst case), the signing's copy.
 */
export const HELD_BYTES_PER_BODY_BYTE = 4;

/** The latency estimate after one more answered call (undefined before the first). */
export function nextLatencyMs(previous: number | undefined, answeredInMs: number): number {
  const sample = Math.max(0, answeredInMs);
  return previous === undefined ? sample : previous + LATENCY_WEIGHT * (sample - previous);
}

/** Fixed JSON of one metric (its keys and punctuation) and of one datapoint, in characters (generous). */
const METRIC_FIXED_BYTES = 120;
const DATAPOINT_BYTES = 96;

/** An estimate (from above) of a batch's request body in characters (bytes for ASCII): cheap, no serialisation. */
export function batchBodyBytes(metrics: readonly OciMetric[]): number {
  let bytes = 0;
  for (const m of metrics) {
    bytes += METRIC_FIXED_BYTES + m.name.length + m.namespace.length + (m.compartmentId?.length ?? 0) + (m.resourceGroup?.length ?? 0);
    bytes += DATAPOINT_BYTES * m.datapoints.length;
    for (const k in m.dimensions) bytes += k.length + m.dimensions[k].length + 6;
    for (const k in m.metadata) bytes += k.length + m.metadata[k].length + 6;
  }
  return bytes;
}

/**
 * The batches auto may hold now: rate x latency x headroom, between AUTO_IN_FLIGHT's bounds, and
 * above the minimum only as many as `heldBytesMax` holds at `batchHeldBytes` each.
 */
export function autoInFlight(rateCallsPerSecond: number, latencyMs: number | undefined, batchHeldBytes: number, heldBytesMax: number): number {
  const { min, max, headroom } = AUTO_IN_FLIGHT;
  const needed = latencyMs === undefined ? min : Math.ceil((rateCallsPerSecond * latencyMs * headroom) / 1000);
  const memoryHolds = batchHeldBytes > 0 ? Math.floor(heldBytesMax / batchHeldBytes) : max;
  return Math.max(min, Math.min(needed, max, memoryHolds));
}
