/** The transform stage: pure mapping from Prometheus families to OCI metric objects. */
export { toOciMetrics, streamKey } from './toOciMetrics';
export {
  deriveTarget,
  deriveFamily,
  bucketQuantile,
  quantileSuffix,
  labelsKey,
  parseBound,
  counterIncrease,
  anyDerived,
  type DeriveOptions,
  type DerivedKinds,
  type DerivedLine,
  type NotDerivedCounts,
  type PreviousScrape,
  type Bucket,
} from './derive';
export { toSelfMetrics, SELF_METRICS } from './selfMetrics';
export { sanitizeMetricName, isValidOciName, OCI_NAME_RE, PROMETHEUS_NAME_RE, LEADING_NON_LETTER_PREFIX } from './names';
export { OCI_LIMITS, type OciLimits } from './limits';
export {
  buildDimensions,
  shortenDimensionValue,
  isValidDimensionKey,
  renameCollidingLabels,
  dropEmptyLabels,
  targetDimensions,
  DIMENSION_KEY_RE,
  EXPORTED_PREFIX,
  INSTANCE_DIMENSION,
  UNKNOWN_INSTANCE,
  type DimensionsResult,
} from './dimensions';
export { filterByInclude, filterByExclude, filterHistogramBuckets, matchesName, type Filtered } from './filters';
export { expandFamily, sampleLines, countSampleLines, type Line, type SampleLine } from './samples';
export { datapointTimestampMs, isAcceptableOwnTimestamp, OWN_TIMESTAMP_MAX_AGE_MS, OWN_TIMESTAMP_MAX_AHEAD_MS } from './timestamps';
export { metadataFor, truncateUtf16 } from './metadata';
