/** Spool entries for the benchmark: the series of a generated exposition as the function maps them, one datapoint each. */
import { parseExposition } from '../../src/parse/exposition';
import { toSpoolEntry, type SpoolEntry } from '../../src/state/spool';
import { TargetTransform } from '../../src/transform/targetTransform';
import type { OciMetric } from '../../src/types/model';
import { generateExposition } from './exposition';

/** N spool entries taken at `scrapeTimeMs` (HISTOGRAM_BUCKETS=true, a real-looking compartment OCID). */
export function spoolEntries(n: number, scrapeTimeMs: number, compartmentId: string): SpoolEntry[] {
  const { text } = generateExposition(Math.ceil(n * 1.02) + 100);
  const transform = new TargetTransform(
    parseExposition(text).families,
    { instance: '10.0.0.12:9100', scrapeTimeMs, previous: 'state_off' },
    { namespace: 'prom2oci', compartmentId, extraDimensions: {}, histogramBuckets: true },
  );
  const metrics: OciMetric[] = [];
  for (let batch = transform.next(); batch && metrics.length < n; batch = transform.next()) metrics.push(...batch);
  if (metrics.length < n) throw new Error(`the exposition maps to ${metrics.length} series, fewer than ${n}`);
  return metrics.slice(0, n).map(toSpoolEntry);
}
