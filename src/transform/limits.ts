/**
 * OCI Monitoring's documented PostMetricData limits (see shared/reference/oci-monitoring.md),
 * plus the safety margins this project applies to timestamps. One table so the transform, the
 * publisher and the emulator agree on the same numbers.
 */
export const OCI_LIMITS = Object.freeze({
  /** Dimensions per metric: at least 1, at most 20. */
  minDimensions: 1,
  maxDimensions: 20,
  /** Dimension key: printable ASCII without spaces, 1-256 characters (ASCII: every reading agrees). */
  maxDimensionKeyLength: 256,
  /**
   * Dimension value: 1-512 characters. OCI does not say what a character is; counted here in
   * UTF-16 units, which is never more lenient than code points (an astral character counts 2).
   */
  maxDimensionValueLength: 512,
  /** Metadata keys and values: at most 256 characters each. */
  maxMetadataLength: 256,
  /** Metric name: OCI documents no length; 256 is this project's bound. */
  maxNameLength: 256,
  /** Unique metric streams in one PostMetricData call. */
  maxStreamsPerCall: 50,
  /** PostMetricData calls per second per tenancy. */
  maxCallsPerSecond: 50,
  /** A datapoint must be less than 2 hours old... */
  maxPastMs: 2 * 60 * 60 * 1000,
  /** ...and less than 10 minutes in the future. */
  maxFutureMs: 10 * 60 * 1000,
  /** Margin kept inside maxPastMs for a sample's own timestamp (posting takes time). */
  pastSafetyMarginMs: 5 * 60 * 1000,
  /** Margin kept inside maxFutureMs for a sample's own timestamp (clock skew). */
  futureSafetyMarginMs: 60 * 1000,
});

export type OciLimits = typeof OCI_LIMITS;
