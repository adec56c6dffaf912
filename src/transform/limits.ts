/**
 * OCI's published rules that the function relies on, in one place: PostMetricData's limits and
 * field syntax (OCI Monitoring API reference, MetricDataDetails), OCID and Object Storage name
 * syntax, plus the safety margins this project applies to timestamps. The transform, the settings
 * and the publisher read them from here. The local ingestion emulator keeps its own, independent
 * copy on purpose (a twin that imported these could never catch a mistake in them);
 * test/oci-rules.test.ts checks that both agree at every boundary.
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
  /** OCI Functions' largest memory setting (MB): 128, 256, 512, 1024, 2048 or 3072. */
  maxFunctionMemoryMb: 3072,
  /** ...and less than 10 minutes in the future. */
  maxFutureMs: 10 * 60 * 1000,
  /** Margin kept inside maxPastMs for a sample's own timestamp (posting takes time). */
  pastSafetyMarginMs: 5 * 60 * 1000,
  /** Margin kept inside maxFutureMs for a sample's own timestamp (clock skew). */
  futureSafetyMarginMs: 60 * 1000,
  /** Object Storage bucket name: 1-256 characters. */
  maxBucketNameLength: 256,
  /** Object Storage object name: 1-1024 characters. */
  maxObjectNameLength: 1024,
  /** Object Storage namespace: 1-64 characters. */
  maxObjectStorageNamespaceLength: 64,
  /** OCI Functions: the longest an invocation may run, s (detached timeout 5-3600; synchronous at most 300). */
  maxFunctionTimeoutSeconds: 3600,
});

/**
 * This project's shares of OCI's dimensions per series (maxDimensions): what a setting may add
 * must leave room for the exposition's own labels, `instance` and `le`/`quantile`.
 */
export const DIMENSION_SHARES = Object.freeze({
  /** EXTRA_DIMENSIONS: at most half of them. */
  maxExtraDimensions: OCI_LIMITS.maxDimensions / 2,
  /** INSTANCE_DIMENSIONS of a discovered instance (with its resourceId and instance, 10 of 20). */
  maxInstanceDimensions: OCI_LIMITS.maxDimensions / 2 - 2,
});

/** Metric namespace: a letter, then letters, digits and `_` (the `oci_`/`oracle_` prefixes are OCI's own). */
export const OCI_NAMESPACE_RE = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Namespaces OCI reserves for its services. */
export const RESERVED_NAMESPACE_PREFIX_RE = /^(oci_|oracle_)/i;
/** Metric name and resource group: a letter, then letters, digits, `.`, `_`, `-`, `$`. */
export const OCI_NAME_RE = /^[A-Za-z][A-Za-z0-9._\-$]*$/;
/** Dimension key: printable ASCII without spaces, 1-256 characters. */
export const DIMENSION_KEY_RE = new RegExp(`^[\\x21-\\x7e]{1,${OCI_LIMITS.maxDimensionKeyLength}}$`);
/** OCID: `ocid1.<resource type>.<realm>.[region][.future use].<unique id>`. */
export const OCID_RE = /^ocid1\.[a-z0-9_-]+\.[a-z0-9_-]+\.[a-z0-9_-]*(?:\.[a-z0-9_-]*)*\.[a-z0-9_-]+$/i;
/** Object Storage bucket name: letters, digits, `-`, `_`, `.`; 1-256 characters. */
export const BUCKET_NAME_RE = new RegExp(`^[A-Za-z0-9._-]{1,${OCI_LIMITS.maxBucketNameLength}}$`);
/** Object Storage namespace: lowercase letters and digits. */
export const OBJECT_STORAGE_NAMESPACE_RE = new RegExp(`^[a-z0-9]{1,${OCI_LIMITS.maxObjectStorageNamespaceLength}}$`);
