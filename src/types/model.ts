/**
 * The data model shared by the pipeline stages: scrape -> parse -> transform -> publish.
 * Plain data only; no behaviour lives here.
 */
import type { PreviousScrape } from './state';
import type { RelabelRule } from '../relabel/relabel';

/** Label name -> value, as exposed by the target (after unescaping). */
export type Labels = Record<string, string>;

/** A counter, gauge or untyped sample. */
export interface ScalarSeries {
  labels: Labels;
  value: number;
  /** The sample's own timestamp (ms since epoch), when the exposition gave one. */
  timestampMs?: number;
}

/** One labelled histogram series (all lines sharing a label set, `le` removed); each line keeps its own timestamp. */
export interface HistogramSeries {
  labels: Labels;
  /** `le` as written in the exposition ("0.5", "+Inf"), in exposition order (the transform normalises it). */
  buckets: { le: string; value: number; timestampMs?: number }[];
  sum?: number;
  count?: number;
  /** The `_sum` line's own timestamp (ms since epoch), when it has one. */
  sumTimestampMs?: number;
  /** The `_count` line's own timestamp, when it has one. */
  countTimestampMs?: number;
}

/** One labelled summary series (all lines sharing a label set, `quantile` removed); each line keeps its own timestamp. */
export interface SummarySeries {
  labels: Labels;
  quantiles: { quantile: string; value: number; timestampMs?: number }[];
  sum?: number;
  count?: number;
  sumTimestampMs?: number;
  countTimestampMs?: number;
}

export type MetricFamily =
  | { kind: 'counter' | 'gauge' | 'untyped'; name: string; help: string; series: ScalarSeries[] }
  | { kind: 'histogram'; name: string; help: string; series: HistogramSeries[] }
  | { kind: 'summary'; name: string; help: string; series: SummarySeries[] };

/** What the parse stage returns for one exposition. */
export interface ParsedExposition {
  families: MetricFamily[];
  /** Number of sample lines in the exposition (what Prometheus calls scrape_samples_scraped). */
  sampleCount: number;
}

/** Why a sample (or a derived series) was not turned into an OCI metric. */
export type SkipReason =
  | 'filtered_by_include'
  | 'filtered_by_exclude'
  | 'histogram_buckets_disabled'
  | 'non_finite_value'
  | 'too_many_dimensions'
  | 'invalid_metric_name'
  | 'invalid_dimension'
  | 'duplicate_series'
  | 'timestamp_out_of_window'
  | 'self_metric_collision'
  | 'dropped_by_metric_relabel'
  /** The same datapoint (stream and own timestamp) is pending in the outage spool, whose replay delivers it once. */
  | 'in_spool';

/** A sample that was skipped, with enough detail to find it in the exposition. */
export interface SkippedSample {
  /** The exposition sample name (e.g. `http_request_duration_seconds_bucket`). */
  name: string;
  labels: Labels;
  reason: SkipReason;
}

/** One OCI datapoint, as PostMetricData takes it. */
interface OciDatapoint {
  timestamp: Date;
  value: number;
  count?: number;
}

/** One OCI MetricDataDetails object (SDK shape), plus bookkeeping kept out of the wire body. */
export interface OciMetric {
  namespace: string;
  /** Absent only in a dry run's objects when COMPARTMENT_OCID is unset (nothing is posted then). */
  compartmentId?: string;
  resourceGroup?: string;
  name: string;
  dimensions: Record<string, string>;
  metadata?: Record<string, string>;
  datapoints: OciDatapoint[];
}

/** The rules of a Prometheus job (SCRAPE_CONFIG) that every sample of one of its targets goes through. */
export interface JobSampleRules {
  /** The target's labels (`job`, `instance`, static and relabelled ones), merged into every sample. */
  targetLabels: Labels;
  honorLabels: boolean;
  /** false: the samples' own timestamps are ignored (the scrape time is used). */
  honorTimestamps: boolean;
  metricRelabel: readonly RelabelRule[];
  /** 0 = no limit, as in Prometheus. */
  limits: { sampleLimit: number; labelLimit: number; labelNameLengthLimit: number; labelValueLengthLimit: number };
}

/** The per-target facts the transform needs; it does no I/O itself. */
export interface TargetContext {
  /**
   * The target's previous scrape for the derived series; undefined = none yet (first scrape);
   * 'state_off'/'state_failed' = no state to use (nothing derived, no state returned).
   */
  previous?: PreviousScrape;
  /** host:port of the target, used as the `instance` dimension. */
  instance: string;
  /** Timestamp of the scrape (ms since epoch); one per target for all of its samples. */
  scrapeTimeMs: number;
  /** Dimensions of the target itself (a discovered instance's resourceId, shape, tags...). */
  dimensions?: Record<string, string>;
  /** A Prometheus job's rules; undefined = the implicit job of settings-only configuration. */
  job?: JobSampleRules;
  /** True for a metric whose datapoint is pending in the outage spool (skipped `in_spool`: the replay delivers it, never both). */
  inSpool?: (metric: OciMetric) => boolean;
}

/** Which derived kinds are produced (DERIVED_SERIES). */
export interface DerivedKinds {
  rate: boolean;
  avg: boolean;
  quantiles: boolean;
}

/** The derivation's options, from Settings. */
export interface DeriveOptions {
  kinds: DerivedKinds;
  /** HISTOGRAM_QUANTILES, each in [0, 1], distinct suffixes. */
  quantiles: readonly number[];
  /** STATE_MAX_AGE_SECONDS in ms: an older previous sample is not derived from. */
  maxAgeMs: number;
}

/** The transform's options, taken from Settings. */
export interface TransformOptions {
  namespace: string;
  /** Undefined only in a dry run without COMPARTMENT_OCID. */
  compartmentId?: string;
  resourceGroup?: string;
  extraDimensions: Record<string, string>;
  include?: RegExp;
  exclude?: RegExp;
  histogramBuckets: boolean;
  /** Derived series (rate, avg, quantiles); undefined = none. */
  derive?: DeriveOptions;
  /** With SHARD=i/N and N > 1: `i/N`, the `shard` dimension of the self-metrics (a dead shard's `up` goes missing on its own stream). */
  shard?: string;
}

/** Per-target facts for the self-metrics (`up`, scrape duration, counts) posted every invocation. */
export interface TargetReport {
  instance: string;
  /** The target's own dimensions (see TargetContext). */
  dimensions?: Record<string, string>;
  scrapeTimeMs: number;
  up: boolean;
  durationMs: number;
  samplesScraped: number;
  posted: number;
  skipped: number;
  failed: number;
  /** Derived series produced (`_rate`, `_avg`, `_pNN`); 0 when absent. */
  derived?: number;
  /** Whether the state store worked this invocation; undefined when it is off. */
  stateOk?: boolean;
  /** Why it did not (a StateFailureCause), when stateOk is false. */
  stateCause?: string;
}
