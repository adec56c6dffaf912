import type { OciMetric, TargetReport, TransformOptions } from '../types/model';
import { isValidDimensionKey, shortenDimensionValue, targetDimensions } from './dimensions';
import { OCI_LIMITS } from './limits';

/** The self-metrics' dimension naming the function's shard (SHARD=i/N, N > 1): its value is `i/N`. */
const SHARD_DIMENSION = 'shard';

/** Self-metric name -> how its value is read from a target's report. */
export const SELF_METRICS: readonly {
  name: string;
  help: string;
  value: (r: TargetReport) => number;
  /** Dimensions some datapoints add to the target's (their keys are listed in `extraKeys`). */
  dimensions?: (r: TargetReport) => Record<string, string>;
  extraKeys?: readonly string[];
}[] = [
  { name: 'up', help: '1 if the target was scraped successfully, 0 if not', value: (r) => (r.up ? 1 : 0) },
  { name: 'scrape_duration_seconds', help: 'Duration of the scrape in seconds', value: (r) => r.durationMs / 1000 },
  { name: 'scrape_samples_scraped', help: 'Sample lines in the exposition', value: (r) => r.samplesScraped },
  { name: 'scrape_series_posted', help: 'Series accepted by OCI Monitoring', value: (r) => r.posted },
  { name: 'scrape_series_skipped', help: 'Samples skipped by the transform', value: (r) => r.skipped },
  { name: 'scrape_series_failed', help: 'Series rejected by OCI or not delivered', value: (r) => r.failed },
  { name: 'scrape_series_derived', help: 'Derived series (_rate, _avg, _pNN) produced from the previous scrape', value: (r) => r.derived ?? 0 },
  // Absent (NaN) when the state is off; with a `cause` dimension when 0.
  {
    name: 'state_ok',
    help: '1 if the state between invocations was read and written, 0 if not (dimension cause says why)',
    value: (r) => (r.stateOk === undefined ? NaN : r.stateOk ? 1 : 0),
    dimensions: (r): Record<string, string> => (r.stateOk === false ? { cause: r.stateCause ?? 'unavailable' } : {}),
    extraKeys: ['cause'],
  },
];

/** Self-metric name -> the dimension keys it may add to the target's: an exposition sample may not share one of their streams. */
const SELF_METRIC_EXTRA_KEYS: ReadonlyMap<string, readonly string[]> = new Map(SELF_METRICS.map((m) => [m.name, m.extraKeys ?? []]));

/**
 * True when a sample posted as `name` with `dimensions` could be on a stream of a self-metric of
 * this target: same name, the target's dimensions, and no other key than those the self-metric
 * may add (whatever their values: a value is only known when the self-metric is built).
 */
export function mayShareSelfMetricStream(name: string, dimensions: Record<string, string>, selfDims: Record<string, string>): boolean {
  const extraKeys = SELF_METRIC_EXTRA_KEYS.get(name);
  if (extraKeys === undefined) return false;
  for (const key in selfDims) if (dimensions[key] !== selfDims[key]) return false;
  for (const key in dimensions) if (!Object.hasOwn(selfDims, key) && !extraKeys.includes(key)) return false;
  return true;
}

/** Most dimensions a self-metric's datapoint adds to selfDimensions (state_ok's `cause`). */
const MAX_SELF_EXTRA_KEYS = Math.max(...SELF_METRICS.map((m) => m.extraKeys?.length ?? 0));

/**
 * instance + the valid extra dimensions, values shortened, then `shard` (it wins a clash: the
 * stopped-posting alarm of each shard selects it): always an acceptable OCI dimension set. The
 * shard is left out only where it would take the series past OCI's 20 dimensions.
 */
export function selfDimensions(
  instance: string,
  extraDimensions: Record<string, string>,
  own?: Record<string, string>,
  shard?: string,
): Record<string, string> {
  const keep = (key: string) => isValidDimensionKey(key) && (shard === undefined || key !== SHARD_DIMENSION);
  const valid = Object.entries(targetDimensions(instance, extraDimensions, own)).filter(([k]) => keep(k));
  const dims = Object.fromEntries(valid.map(([k, v]) => [k, shortenDimensionValue(v)]));
  if (shard !== undefined && valid.length + 1 + MAX_SELF_EXTRA_KEYS <= OCI_LIMITS.maxDimensions) dims[SHARD_DIMENSION] = shard;
  return dims;
}

/**
 * The per-target self-metrics (`up`, scrape duration, counts), timestamped at the scrape.
 * A value that is not finite (a bug upstream) leaves its metric out rather than post an invalid one.
 */
export function toSelfMetrics(report: TargetReport, opts: TransformOptions): OciMetric[] {
  const dimensions = selfDimensions(report.instance, opts.extraDimensions, report.dimensions, opts.shard);
  return SELF_METRICS.filter((m) => Number.isFinite(m.value(report))).map((m) => ({
    namespace: opts.namespace,
    compartmentId: opts.compartmentId,
    ...(opts.resourceGroup ? { resourceGroup: opts.resourceGroup } : {}),
    name: m.name,
    dimensions: { ...dimensions, ...m.dimensions?.(report) },
    metadata: { help: m.help },
    datapoints: [{ timestamp: new Date(report.scrapeTimeMs), value: m.value(report) }],
  }));
}
