/**
 * Function settings: every key, its default and its validation, in one table.
 * Parsed once at the edge (cold start or CLI start) into a typed, frozen Settings object.
 * The Terraform checks read SETTING_SPECS so the function and terraform/ cannot drift.
 */
import {
  BUCKET_NAME_RE,
  DIMENSION_KEY_RE,
  OBJECT_STORAGE_NAMESPACE_RE,
  OCI_NAME_RE,
  OCI_NAMESPACE_RE,
  OCID_RE,
  RESERVED_NAMESPACE_PREFIX_RE,
} from '../transform/limits';
import { redactUrl } from '../util/redact';
import { quantileSuffix, type DerivedKinds } from '../transform/derive';

import { setFlagsFromString } from 'node:v8';

/** A setting that is missing or malformed; the message names the key and what is expected. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** A tag an instance must carry (value undefined = any value); namespace set = a defined tag. */
export interface TagMatch {
  namespace?: string;
  key: string;
  value?: string;
}

/** A tag to read from an instance: freeform `key`, or defined `namespace.key`. */
export interface TagRef {
  namespace?: string;
  key: string;
}

/** What an instance may add as dimensions besides resourceId and instance. */
export type InstanceDimension = 'resourceDisplayName' | 'availabilityDomain' | 'faultDomain' | 'shape' | { tag: TagRef };

/** OCI compute discovery: which instances are targets and how each becomes URLs. */
export interface DiscoverySettings {
  compartmentId: string;
  includeSubcompartments: boolean;
  /** Every tag must match (AND). */
  tags: TagMatch[];
  scheme: 'http' | 'https';
  port: number;
  path: string;
  /** Tag listing ports (and paths) of an instance's exporters, e.g. "9100,8080/actuator/prometheus". */
  portTag: TagRef;
  /** Tag overriding the default path for the instance's ports that name none. */
  pathTag: TagRef;
  /** 'primary' or the display name of the VNIC whose private IP is scraped. */
  vnic: string;
  dimensions: InstanceDimension[];
  ttlMs: number;
  timeoutMs: number;
  computeEndpoint?: string;
  identityEndpoint?: string;
}

export interface Settings {
  /** Static targets (METRICS_ENDPOINT); may be empty when discovery is configured. */
  endpoints: URL[];
  discovery?: DiscoverySettings;
  /** Most targets scraped at once (static and discovered). */
  scrapeConcurrency: number;
  compartmentId?: string;
  namespace: string;
  resourceGroup?: string;
  extraDimensions: Record<string, string>;
  include?: RegExp;
  exclude?: RegExp;
  histogramBuckets: boolean;
  scrapeTimeoutMs: number;
  scrapeMaxBytes: number;
  /** Most samples read from one target's exposition (memory bound; the byte cap alone does not bound it). */
  scrapeSampleLimit: number;
  /** Most undelivered series kept for later invocations (0 = no spool); needs a state store. */
  spoolMaxSeries: number;
  /** Follow a redirect to another host:port (same scheme only); credentials are never forwarded there. */
  followRedirectsToOtherHosts: boolean;
  bearerTokenSecretId?: string;
  secretCacheTtlMs: number;
  monitoringEndpoint?: string;
  secretsEndpoint?: string;
  postCallsPerSecond: number;
  postConcurrency: number;
  postTimeoutMs: number;
  functionTimeoutMs: number;
  dryRun: boolean;
  /** Price per million ingested datapoints for the cost forecast; undefined = not configured. */
  forecastPricePerMillionDatapoints?: number;
  forecastFreeDatapointsPerMonth: number;
  /** DERIVED_SERIES: which derived kinds are produced. */
  derivedKinds: DerivedKinds;
  /** HISTOGRAM_QUANTILES: one `<name>_pNN` series per value. */
  histogramQuantiles: number[];
  /** STATE_BUCKET: Object Storage bucket of the state between invocations (unset = state off). */
  stateBucket?: string;
  /** OBJECT_STORAGE_NAMESPACE of the bucket (required with STATE_BUCKET). */
  objectStorageNamespace?: string;
  objectStorageEndpoint?: string;
  /** STATE_MAX_AGE_SECONDS in ms: an older previous scrape is not derived from. */
  stateMaxAgeMs: number;
}

interface SettingSpec {
  key: string;
  /** Default as the string a user would write; undefined = no default. */
  default?: string;
  required?: 'always' | 'unless-dry-run' | 'unless-discovery';
  description: string;
}

/**
 * Samples one target may expose per MB of function memory: measured by `npm run bench`
 * (scripts/bench.ts, "worst expositions" rows) as what the heap of a container that size survives
 * for the worst shapes (short series, long label values, one family per sample) with room left.
 */
const SAMPLES_PER_MB_OF_MEMORY = 400;
/** Memory assumed outside OCI Functions (no FN_MEMORY), e.g. the CLI: the function's default. */
const DEFAULT_MEMORY_MB = 256;
/** Largest SCRAPE_MAX_BYTES: above it the body could not even be held as one string (V8's limit). */
const MAX_SCRAPE_MAX_BYTES = 512 * 1024 * 1024;

/** SCRAPE_SAMPLE_LIMIT when unset, for a function of `memoryMb` MB. */
export function defaultSampleLimit(memoryMb: number): number {
  return Math.max(1000, Math.floor(memoryMb * SAMPLES_PER_MB_OF_MEMORY));
}

/** Every setting the function reads (Fn application/function config = environment variables). */
export const SETTING_SPECS: readonly SettingSpec[] = [
  {
    key: 'METRICS_ENDPOINT',
    required: 'unless-discovery',
    description: 'URL(s) to scrape, comma-separated; required unless DISCOVERY_COMPARTMENT_OCID is set (then both are scraped)',
  },
  { key: 'COMPARTMENT_OCID', required: 'unless-dry-run', description: 'compartment OCID of the posted metrics' },
  { key: 'METRICS_NAMESPACE', default: 'bharatmart', description: 'OCI custom metric namespace' },
  { key: 'RESOURCE_GROUP', description: 'optional OCI resourceGroup for every metric' },
  { key: 'EXTRA_DIMENSIONS', description: 'key=value,key=value added to every series' },
  { key: 'METRICS_INCLUDE', description: 'regular expression; only matching metric family names are posted' },
  { key: 'METRICS_EXCLUDE', description: 'regular expression; matching metric family names are skipped' },
  { key: 'HISTOGRAM_BUCKETS', default: 'false', description: 'also post <name>_bucket series with an le dimension' },
  { key: 'SCRAPE_CONCURRENCY', default: '32', description: 'most targets scraped at once' },
  { key: 'SCRAPE_TIMEOUT_MS', default: '10000', description: 'per-target scrape timeout (ms), for reading and parsing the body (parsed as it arrives)' },
  {
    key: 'SCRAPE_MAX_BYTES',
    default: '16777216',
    description: 'largest (decompressed) exposition accepted per target (bytes); 16 MiB (~120k samples) fits the 256 MB function',
  },
  {
    key: 'SCRAPE_SAMPLE_LIMIT',
    description: `most samples read from one target (over it the target is up=0, the others are posted); unset: ${SAMPLES_PER_MB_OF_MEMORY} per MB of the function memory (FN_MEMORY; ${defaultSampleLimit(256)} at 256 MB)`,
  },
  {
    key: 'SPOOL_MAX_SERIES',
    default: '20000',
    description:
      'most undelivered series kept in the state (STATE_BUCKET) and replayed by later invocations with their original timestamps; over it the oldest are dropped and counted; 0 = no spool',
  },
  {
    key: 'SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS',
    default: 'false',
    description: "follow a target's redirect to a different host:port (same scheme; credentials are not forwarded)",
  },
  { key: 'SCRAPE_BEARER_TOKEN_SECRET_OCID', description: 'OCI Vault secret OCID holding a bearer token for the targets' },
  { key: 'SECRET_CACHE_TTL_SECONDS', default: '300', description: 'how long a fetched bearer token is reused (s)' },
  { key: 'OCI_MONITORING_ENDPOINT', description: 'override of the telemetry-ingestion endpoint' },
  { key: 'OCI_SECRETS_ENDPOINT', description: 'override of the Vault secrets endpoint' },
  {
    key: 'POST_CALLS_PER_SECOND',
    default: '20',
    description:
      'ceiling of PostMetricData calls started per second: the rate halves on a 429 and climbs back (OCI allows 50 per tenancy, shared with other posters)',
  },
  { key: 'POST_CONCURRENCY', default: '4', description: 'most PostMetricData calls in flight at once' },
  { key: 'POST_TIMEOUT_MS', default: '10000', description: 'timeout of one PostMetricData attempt (ms)' },
  { key: 'FUNCTION_TIMEOUT_SECONDS', default: '60', description: 'deadline used when the invocation carries none (s)' },
  { key: 'DRY_RUN', default: 'false', description: 'do everything except posting' },
  { key: 'DISCOVERY_COMPARTMENT_OCID', description: 'discover OCI compute instances in this compartment as targets (unset = no discovery)' },
  { key: 'DISCOVERY_INCLUDE_SUBCOMPARTMENTS', default: 'false', description: 'also discover in every sub-compartment (needs inspect compartments)' },
  {
    key: 'DISCOVERY_TAG',
    description:
      'only instances carrying these tags: key=value (freeform) or namespace.key=value (defined); key alone = any value; several separated by commas must all match',
  },
  { key: 'DISCOVERY_SCHEME', default: 'http', description: 'scheme of discovered targets (http or https)' },
  { key: 'DISCOVERY_PORT', default: '9100', description: 'port scraped on a discovered instance without a port tag' },
  { key: 'DISCOVERY_PATH', default: '/metrics', description: 'path scraped on a discovered instance without a path tag' },
  {
    key: 'DISCOVERY_PORT_TAG',
    default: 'prometheus_port',
    description: "instance tag listing its exporters' ports, e.g. 9100,3000 or 9100,8080/actuator/prometheus (one target each)",
  },
  { key: 'DISCOVERY_PATH_TAG', default: 'prometheus_path', description: 'instance tag overriding DISCOVERY_PATH for its ports that name no path' },
  { key: 'DISCOVERY_VNIC', default: 'primary', description: 'whose private IP is scraped: primary, or the display name of a secondary VNIC' },
  {
    key: 'DISCOVERY_DIMENSIONS',
    description:
      'dimensions added besides resourceId and instance: any of resourceDisplayName, availabilityDomain, faultDomain, shape, tag:<key or namespace.key>',
  },
  { key: 'DISCOVERY_TTL_SECONDS', default: '60', description: 'how long a discovery result is reused while the container is warm (s)' },
  { key: 'DISCOVERY_TIMEOUT_MS', default: '10000', description: 'time allowed for one discovery, all API calls and pages included (ms)' },
  { key: 'OCI_COMPUTE_ENDPOINT', description: 'override of the Compute/VCN (iaas) endpoint used by discovery' },
  { key: 'OCI_IDENTITY_ENDPOINT', description: 'override of the Identity endpoint used by discovery (sub-compartments)' },
  {
    key: 'FORECAST_PRICE_PER_MILLION_DATAPOINTS',
    description:
      "price of one million ingested datapoints (your currency, e.g. 0.0025) for the cost forecast; unset = no cost shown (no default: not confirmed from Oracle's price list)",
  },
  {
    key: 'FORECAST_FREE_DATAPOINTS_PER_MONTH',
    default: '0',
    description: "datapoints per month the cost forecast treats as free (your tenancy's free allowance left for prom2oci)",
  },
  {
    key: 'DERIVED_SERIES',
    default: 'rate,avg,quantiles',
    description: 'derived series produced from the previous scrape: any of rate, avg, quantiles (comma-separated), or none',
  },
  {
    key: 'HISTOGRAM_QUANTILES',
    default: '0.5,0.9,0.99',
    description: 'quantiles posted per histogram as <name>_pNN (0.99 -> _p99, 0.999 -> _p99_9); values from 0 to 1',
  },
  { key: 'STATE_BUCKET', description: 'Object Storage bucket keeping the previous scrape between invocations; unset = no derived series in the function' },
  { key: 'OBJECT_STORAGE_NAMESPACE', description: 'Object Storage namespace of STATE_BUCKET (required with it)' },
  { key: 'OCI_OBJECT_STORAGE_ENDPOINT', description: 'override of the Object Storage endpoint' },
  { key: 'STATE_MAX_AGE_SECONDS', default: '300', description: 'a previous scrape older than this is not derived from (s)' },
];

/** The process environment, or any map of setting names to values. */
export type Env = Readonly<Record<string, string | undefined>>;

/** The values DERIVED_SERIES accepts (besides `none`). */
const DERIVED_KINDS = ['rate', 'avg', 'quantiles'] as const;
/** Most quantiles per histogram (each is a metric stream per series). */
const MAX_QUANTILES = 10;

/** Dimensions the transform adds itself; an extra dimension may not take their names. */
export const RESERVED_DIMENSIONS: readonly string[] = ['instance', 'le', 'quantile'];

/** The raw string for key, trimmed; empty counts as unset. */
function raw(env: Env, key: string): string | undefined {
  const v = env[key]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** Value of key or its declared default. */
function rawOrDefault(env: Env, key: string): string | undefined {
  return raw(env, key) ?? SETTING_SPECS.find((s) => s.key === key)?.default;
}

/** Parses a boolean setting: true/false/1/0/yes/no. */
export function parseBool(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(key, `expected true or false, got "${value}"`);
}

/** Parses a positive integer setting within [min, max]. */
function parseIntIn(key: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(key, `expected a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(key, `expected a number from ${min} to ${max}, got ${n}`);
  return n;
}

/** Parses a non-negative decimal setting (e.g. a price) up to max. */
function parseDecimal(key: string, value: string, max: number): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new ConfigError(key, `expected a non-negative decimal number like 0.0025, got "${value.slice(0, 40)}"`);
  const n = Number(value);
  if (n > max) throw new ConfigError(key, `expected at most ${max}, got ${n}`);
  return n;
}

/** Parses the endpoint list; only http(s) URLs with a host. */
function parseEndpoints(key: string, value: string): URL[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 0) throw new ConfigError(key, 'expected at least one http(s) URL');
  const urls = parts.map((p) => {
    let url: URL;
    try {
      url = new URL(p);
    } catch {
      throw new ConfigError(key, `"${redactUrl(p)}" is not a valid URL (expected e.g. http://10.0.0.5:3000/metrics)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigError(key, `"${redactUrl(p)}" must use http or https`);
    }
    return url;
  });
  // The same target twice would post every series twice under one identity: a slip, not a wish.
  const seen = new Set<string>();
  for (const url of urls) {
    if (seen.has(url.href)) throw new ConfigError(key, `"${redactUrl(url.href)}" is listed twice`);
    seen.add(url.href);
  }
  return urls;
}

/** Parses `key=value,key=value` into dimensions, validating OCI's key/value rules. */
function parseDimensionList(key: string, value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(key, `expected key=value pairs separated by commas, got "${part.trim()}"`);
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (!DIMENSION_KEY_RE.test(k)) throw new ConfigError(key, `dimension key "${k}" must be 1-256 printable ASCII characters without spaces`);
    if (v === '' || v.length > 512) throw new ConfigError(key, `dimension "${k}" needs a value of 1-512 characters`);
    if (k in out) throw new ConfigError(key, `dimension "${k}" is given twice`);
    if (RESERVED_DIMENSIONS.includes(k)) throw new ConfigError(key, `"${k}" is set by prom2oci itself (reserved: ${RESERVED_DIMENSIONS.join(', ')})`);
    out[k] = v;
  }
  if (Object.keys(out).length > 10) throw new ConfigError(key, 'at most 10 extra dimensions (OCI allows 20 per series in all)');
  return out;
}

/**
 * Compiles a user regular expression for V8's linear-time engine (flag `l`): matching a metric
 * name then costs time proportional to its length whatever the pattern, so a pattern like
 * `(a+)+$` cannot block the event loop until the container is killed. Patterns that engine cannot
 * run (backreferences, lookaround, large counted repetitions) are refused with the reason.
 */
function parseRegex(key: string, value: string): RegExp {
  try {
    new RegExp(value);
  } catch (e) {
    throw new ConfigError(key, `invalid regular expression: ${(e as Error).message}`);
  }
  setFlagsFromString('--enable-experimental-regexp-engine');
  try {
    return new RegExp(value, 'l');
  } catch {
    throw new ConfigError(
      key,
      `the regular expression /${value.slice(0, 100)}/ cannot be matched in linear time (backreferences, lookahead/lookbehind and large {n,m} counts are not supported); rewrite it without them`,
    );
  }
}

/** Validates an OCID-shaped value. */
function parseOcid(key: string, value: string): string {
  if (!OCID_RE.test(value)) throw new ConfigError(key, `expected an OCID like ocid1.compartment.oc1..aaaa..., got "${value.slice(0, 80)}"`);
  return value;
}

/** Validates the namespace against OCI's rules. */
function parseNamespace(key: string, value: string): string {
  if (!OCI_NAMESPACE_RE.test(value)) {
    throw new ConfigError(key, `"${value}" is not a valid OCI namespace (letters, digits and _, starting with a letter)`);
  }
  if (RESERVED_NAMESPACE_PREFIX_RE.test(value)) throw new ConfigError(key, `"${value}" uses a reserved prefix (oci_ and oracle_ are reserved)`);
  return value;
}

/** Validates an endpoint override: an http(s) URL without a trailing slash. */
function parseServiceEndpoint(key: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(key, `"${redactUrl(value)}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(key, `"${redactUrl(value)}" must use http or https`);
  return value.replace(/\/+$/, '');
}

/** Parses DERIVED_SERIES: a comma list of rate, avg, quantiles, or `none`. */
function parseDerivedKinds(key: string, value: string): DerivedKinds {
  const parts = value
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter((p) => p !== '');
  if (parts.length === 1 && parts[0] === 'none') return { rate: false, avg: false, quantiles: false };
  const kinds: DerivedKinds = { rate: false, avg: false, quantiles: false };
  for (const p of parts) {
    if (!(DERIVED_KINDS as readonly string[]).includes(p))
      throw new ConfigError(key, `"${p}" is not a derived kind (expected any of ${DERIVED_KINDS.join(', ')}, comma-separated, or none)`);
    kinds[p as (typeof DERIVED_KINDS)[number]] = true;
  }
  if (parts.length === 0) throw new ConfigError(key, `expected any of ${DERIVED_KINDS.join(', ')}, or none`);
  return kinds;
}

/** Parses HISTOGRAM_QUANTILES: distinct numbers from 0 to 1. */
function parseQuantiles(key: string, value: string): number[] {
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) throw new ConfigError(key, 'expected at least one quantile, e.g. 0.5,0.9,0.99');
  if (parts.length > MAX_QUANTILES) throw new ConfigError(key, `at most ${MAX_QUANTILES} quantiles (each one is a metric stream per histogram series)`);
  const seen = new Set<string>();
  return parts.map((p) => {
    const q = /^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(p) ? Number(p) : NaN;
    if (!(q >= 0 && q <= 1)) throw new ConfigError(key, `"${p}" is not a quantile (a number from 0 to 1, e.g. 0.99)`);
    const suffix = quantileSuffix(q);
    if (seen.has(suffix)) throw new ConfigError(key, `${p} is listed twice (series _${suffix})`);
    seen.add(suffix);
    return q;
  });
}

/** The function's memory in MB: FN_MEMORY (set by OCI Functions), else the function's default. */
function memoryMbOf(env: Env): number {
  const mb = Number(raw(env, 'FN_MEMORY'));
  return Number.isFinite(mb) && mb > 0 ? mb : DEFAULT_MEMORY_MB;
}

/** Parses and validates all settings; throws ConfigError naming the first bad key. */
export function parseSettings(env: Env, overrides: { dryRun?: boolean } = {}): Settings {
  const get = (k: string) => rawOrDefault(env, k);
  const endpointsRaw = raw(env, 'METRICS_ENDPOINT');
  const discovery = parseDiscovery(env);
  if (endpointsRaw === undefined && !discovery) {
    throw new ConfigError('METRICS_ENDPOINT', 'is required (the URL of the /metrics endpoint to scrape) unless DISCOVERY_COMPARTMENT_OCID is set');
  }
  const dryRun = overrides.dryRun ?? parseBool('DRY_RUN', get('DRY_RUN')!);
  const compartmentRaw = raw(env, 'COMPARTMENT_OCID');
  if (compartmentRaw === undefined && !dryRun) {
    throw new ConfigError('COMPARTMENT_OCID', 'is required (the OCID of the compartment that receives the metrics)');
  }
  const resourceGroupRaw = raw(env, 'RESOURCE_GROUP');
  if (resourceGroupRaw !== undefined && !OCI_NAME_RE.test(resourceGroupRaw)) {
    throw new ConfigError('RESOURCE_GROUP', `"${resourceGroupRaw}" is not valid (letters, digits, . _ - $, starting with a letter)`);
  }
  const includeRaw = raw(env, 'METRICS_INCLUDE');
  const excludeRaw = raw(env, 'METRICS_EXCLUDE');
  const secretRaw = raw(env, 'SCRAPE_BEARER_TOKEN_SECRET_OCID');
  const monitoringRaw = raw(env, 'OCI_MONITORING_ENDPOINT');
  const secretsRaw = raw(env, 'OCI_SECRETS_ENDPOINT');
  const extraRaw = raw(env, 'EXTRA_DIMENSIONS');
  const priceRaw = raw(env, 'FORECAST_PRICE_PER_MILLION_DATAPOINTS');
  const bucketRaw = raw(env, 'STATE_BUCKET');
  const osNamespaceRaw = raw(env, 'OBJECT_STORAGE_NAMESPACE');
  const osEndpointRaw = raw(env, 'OCI_OBJECT_STORAGE_ENDPOINT');
  if (bucketRaw !== undefined && !BUCKET_NAME_RE.test(bucketRaw)) {
    throw new ConfigError('STATE_BUCKET', `"${bucketRaw.slice(0, 80)}" is not a valid bucket name (letters, digits, - _ ., up to 256 characters)`);
  }
  if (osNamespaceRaw !== undefined && !OBJECT_STORAGE_NAMESPACE_RE.test(osNamespaceRaw)) {
    throw new ConfigError(
      'OBJECT_STORAGE_NAMESPACE',
      `"${osNamespaceRaw.slice(0, 80)}" is not an Object Storage namespace (lowercase letters and digits; \`oci os ns get\` prints it)`,
    );
  }
  if (bucketRaw !== undefined && osNamespaceRaw === undefined) {
    throw new ConfigError('OBJECT_STORAGE_NAMESPACE', "is required with STATE_BUCKET (the tenancy's Object Storage namespace; `oci os ns get` prints it)");
  }
  const sampleLimitRaw = raw(env, 'SCRAPE_SAMPLE_LIMIT');
  return Object.freeze({
    endpoints: endpointsRaw === undefined ? [] : parseEndpoints('METRICS_ENDPOINT', endpointsRaw),
    discovery,
    scrapeConcurrency: parseIntIn('SCRAPE_CONCURRENCY', get('SCRAPE_CONCURRENCY')!, 1, 1000),
    compartmentId: compartmentRaw === undefined ? undefined : parseOcid('COMPARTMENT_OCID', compartmentRaw),
    namespace: parseNamespace('METRICS_NAMESPACE', get('METRICS_NAMESPACE')!),
    resourceGroup: resourceGroupRaw,
    extraDimensions: extraRaw === undefined ? {} : parseDimensionList('EXTRA_DIMENSIONS', extraRaw),
    include: includeRaw === undefined ? undefined : parseRegex('METRICS_INCLUDE', includeRaw),
    exclude: excludeRaw === undefined ? undefined : parseRegex('METRICS_EXCLUDE', excludeRaw),
    histogramBuckets: parseBool('HISTOGRAM_BUCKETS', get('HISTOGRAM_BUCKETS')!),
    scrapeTimeoutMs: parseIntIn('SCRAPE_TIMEOUT_MS', get('SCRAPE_TIMEOUT_MS')!, 100, 300_000),
    scrapeMaxBytes: parseIntIn('SCRAPE_MAX_BYTES', get('SCRAPE_MAX_BYTES')!, 1024, MAX_SCRAPE_MAX_BYTES),
    spoolMaxSeries: parseIntIn('SPOOL_MAX_SERIES', get('SPOOL_MAX_SERIES')!, 0, 1_000_000),
    scrapeSampleLimit: sampleLimitRaw === undefined ? defaultSampleLimit(memoryMbOf(env)) : parseIntIn('SCRAPE_SAMPLE_LIMIT', sampleLimitRaw, 1, 100_000_000),
    followRedirectsToOtherHosts: parseBool('SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS', get('SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS')!),
    bearerTokenSecretId: secretRaw === undefined ? undefined : parseOcid('SCRAPE_BEARER_TOKEN_SECRET_OCID', secretRaw),
    secretCacheTtlMs: parseIntIn('SECRET_CACHE_TTL_SECONDS', get('SECRET_CACHE_TTL_SECONDS')!, 0, 86_400) * 1000,
    monitoringEndpoint: monitoringRaw === undefined ? undefined : parseServiceEndpoint('OCI_MONITORING_ENDPOINT', monitoringRaw),
    secretsEndpoint: secretsRaw === undefined ? undefined : parseServiceEndpoint('OCI_SECRETS_ENDPOINT', secretsRaw),
    postCallsPerSecond: parseIntIn('POST_CALLS_PER_SECOND', get('POST_CALLS_PER_SECOND')!, 1, 1000),
    postConcurrency: parseIntIn('POST_CONCURRENCY', get('POST_CONCURRENCY')!, 1, 64),
    postTimeoutMs: parseIntIn('POST_TIMEOUT_MS', get('POST_TIMEOUT_MS')!, 100, 300_000),
    functionTimeoutMs: parseIntIn('FUNCTION_TIMEOUT_SECONDS', get('FUNCTION_TIMEOUT_SECONDS')!, 1, 3600) * 1000,
    dryRun,
    forecastPricePerMillionDatapoints: priceRaw === undefined ? undefined : parseDecimal('FORECAST_PRICE_PER_MILLION_DATAPOINTS', priceRaw, 1_000_000),
    forecastFreeDatapointsPerMonth: parseIntIn('FORECAST_FREE_DATAPOINTS_PER_MONTH', get('FORECAST_FREE_DATAPOINTS_PER_MONTH')!, 0, 1e15),
    derivedKinds: parseDerivedKinds('DERIVED_SERIES', get('DERIVED_SERIES')!),
    histogramQuantiles: parseQuantiles('HISTOGRAM_QUANTILES', get('HISTOGRAM_QUANTILES')!),
    stateBucket: bucketRaw,
    objectStorageNamespace: osNamespaceRaw,
    objectStorageEndpoint: osEndpointRaw === undefined ? undefined : parseServiceEndpoint('OCI_OBJECT_STORAGE_ENDPOINT', osEndpointRaw),
    stateMaxAgeMs: parseIntIn('STATE_MAX_AGE_SECONDS', get('STATE_MAX_AGE_SECONDS')!, 1, 86_400) * 1000,
  });
}

/** OCI tag namespace and key names: no spaces or periods (so `namespace.key` is unambiguous). */
const TAG_NAME_RE = /^[^\s.=,]{1,100}$/;

/** Parses `key` or `namespace.key`. */
function parseTagRef(key: string, value: string): TagRef {
  const parts = value.split('.');
  if (parts.length > 2 || !parts.every((p) => TAG_NAME_RE.test(p))) {
    throw new ConfigError(key, `"${value}" is not a tag name (key for a freeform tag, namespace.key for a defined tag)`);
  }
  return parts.length === 2 ? { namespace: parts[0]!, key: parts[1]! } : { key: parts[0]! };
}

/** Parses `key=value,namespace.key=value,key` into tag matches. */
function parseTagMatches(key: string, value: string): TagMatch[] {
  return value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      const ref = parseTagRef(key, eq < 0 ? part : part.slice(0, eq).trim());
      if (eq < 0) return ref;
      const v = part.slice(eq + 1).trim();
      if (v === '') throw new ConfigError(key, `"${part}" has an empty value (write the key alone to match any value)`);
      return { ...ref, value: v };
    });
}

/** Parses DISCOVERY_DIMENSIONS. */
function parseInstanceDimensions(key: string, value: string): InstanceDimension[] {
  const fixed = ['resourceDisplayName', 'availabilityDomain', 'faultDomain', 'shape'] as const;
  const out: InstanceDimension[] = [];
  for (const part of value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const f = fixed.find((x) => x === part);
    if (f) out.push(f);
    else if (part.startsWith('tag:')) out.push({ tag: parseTagRef(key, part.slice(4)) });
    else throw new ConfigError(key, `"${part}" is not one of ${fixed.join(', ')}, tag:<key>`);
  }
  // resourceId + instance + these must leave room for the exposition's own labels (20 in all).
  if (out.length > 8) throw new ConfigError(key, 'at most 8 instance dimensions (OCI allows 20 per series in all)');
  return out;
}

/**
 * The discovery settings, or undefined when DISCOVERY_COMPARTMENT_OCID is unset. Every discovery
 * key is validated either way: a typo must not wait for the day discovery is switched on.
 */
function parseDiscovery(env: Env): DiscoverySettings | undefined {
  const compartment = raw(env, 'DISCOVERY_COMPARTMENT_OCID');
  const get = (k: string) => rawOrDefault(env, k)!;
  const scheme = get('DISCOVERY_SCHEME');
  if (scheme !== 'http' && scheme !== 'https') throw new ConfigError('DISCOVERY_SCHEME', `expected http or https, got "${scheme}"`);
  const path = get('DISCOVERY_PATH');
  if (!path.startsWith('/')) throw new ConfigError('DISCOVERY_PATH', `expected a path starting with /, got "${path}"`);
  const vnic = get('DISCOVERY_VNIC');
  if (vnic.length > 255 || /[\x00-\x1f]/.test(vnic))
    throw new ConfigError('DISCOVERY_VNIC', 'expected primary or a VNIC display name (at most 255 characters)');
  const tags = raw(env, 'DISCOVERY_TAG');
  const dims = raw(env, 'DISCOVERY_DIMENSIONS');
  const compute = raw(env, 'OCI_COMPUTE_ENDPOINT');
  const identity = raw(env, 'OCI_IDENTITY_ENDPOINT');
  const d: Omit<DiscoverySettings, 'compartmentId'> = {
    includeSubcompartments: parseBool('DISCOVERY_INCLUDE_SUBCOMPARTMENTS', get('DISCOVERY_INCLUDE_SUBCOMPARTMENTS')),
    tags: tags === undefined ? [] : parseTagMatches('DISCOVERY_TAG', tags),
    scheme,
    port: parseIntIn('DISCOVERY_PORT', get('DISCOVERY_PORT'), 1, 65535),
    path,
    portTag: parseTagRef('DISCOVERY_PORT_TAG', get('DISCOVERY_PORT_TAG')),
    pathTag: parseTagRef('DISCOVERY_PATH_TAG', get('DISCOVERY_PATH_TAG')),
    vnic,
    dimensions: dims === undefined ? [] : parseInstanceDimensions('DISCOVERY_DIMENSIONS', dims),
    ttlMs: parseIntIn('DISCOVERY_TTL_SECONDS', get('DISCOVERY_TTL_SECONDS'), 0, 86_400) * 1000,
    timeoutMs: parseIntIn('DISCOVERY_TIMEOUT_MS', get('DISCOVERY_TIMEOUT_MS'), 100, 300_000),
    computeEndpoint: compute === undefined ? undefined : parseServiceEndpoint('OCI_COMPUTE_ENDPOINT', compute),
    identityEndpoint: identity === undefined ? undefined : parseServiceEndpoint('OCI_IDENTITY_ENDPOINT', identity),
  };
  return compartment === undefined ? undefined : { compartmentId: parseOcid('DISCOVERY_COMPARTMENT_OCID', compartment), ...d };
}
