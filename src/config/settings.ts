/**
 * Function settings: one row per key (its default, its parser with the range or values it accepts,
 * its description and the Settings field it fills), and a short list of rules between keys.
 * `Settings` is derived from the rows' types, so a row and the code reading it cannot disagree.
 * Parsed once at the edge (cold start or CLI start) into a frozen Settings object; the CLI flags,
 * README's settings table and Terraform's variables are checked against the rows by tests.
 */
import {
  BUCKET_NAME_RE,
  DIMENSION_KEY_RE,
  DIMENSION_SHARES,
  OBJECT_STORAGE_NAMESPACE_RE,
  OCI_NAME_RE,
  OCI_NAMESPACE_RE,
  OCI_LIMITS,
  OCID_RE,
  RESERVED_NAMESPACE_PREFIX_RE,
} from '../transform/limits';
import { redactUrl } from '../util/redact';
import { parseScrapeConfig, ScrapeConfigError, type ScrapeConfigFile } from './scrapeConfig';
import { quantileSuffix } from '../transform/derive';
import type { DerivedKinds } from '../types/model';

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

/** The process environment, or any map of setting names to values. */
export type Env = Readonly<Record<string, string | undefined>>;

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

/**
 * Spooled series a function may hold per MB of its memory: a spooled series costs about 1 KB of RSS
 * while it is read, replayed and stored (docs/performance.md, the spool rows), and about as much
 * again for the stored form read and written beside the decoded one: 2 KB, in a quarter of the
 * memory (the rest is the scrape's). 256 MB: 32,768 series.
 */
const SPOOL_SERIES_PER_MB_OF_MEMORY = 128;

/** The most spooled series a function of `memoryMb` MB holds. */
function spoolSeriesBound(memoryMb: number): number {
  return Math.floor(memoryMb * SPOOL_SERIES_PER_MB_OF_MEMORY);
}

/** SCRAPE_SAMPLE_LIMIT when unset, for a function of `memoryMb` MB. */
export function defaultSampleLimit(memoryMb: number): number {
  return Math.max(1000, Math.floor(memoryMb * SAMPLES_PER_MB_OF_MEMORY));
}

/** The values DERIVED_SERIES accepts (besides `none`). */
const DERIVED_KINDS = ['rate', 'avg', 'quantiles'] as const;
/** Most quantiles per histogram (each is a metric stream per series). */
const MAX_QUANTILES = 10;

/** Dimensions the transform adds itself; an extra dimension may not take their names. */
export const RESERVED_DIMENSIONS: readonly string[] = ['instance', 'le', 'quantile'];

/** Turns a setting's text (trimmed, not empty) into its value; throws ConfigError naming the key. */
type Parser<T> = (key: string, value: string) => T;

/** A whole number from min to max. */
function wholeNumber(min: number, max: number): Parser<number> {
  return (key, value) => parseIntIn(key, value, min, max);
}

/** A whole number of seconds from min to max, as milliseconds. */
function secondsAsMs(min: number, max: number): Parser<number> {
  return (key, value) => parseIntIn(key, value, min, max) * 1000;
}

/** A value matching an OCI rule, refused with `what` (the rule in words). */
function matching(re: RegExp, what: (value: string) => string): Parser<string> {
  return (key, value) => {
    if (!re.test(value)) throw new ConfigError(key, what(value));
    return value;
  };
}

/** One of the listed values, exactly. */
function oneOf<const V extends string>(...allowed: V[]): Parser<V> {
  return (key, value) => {
    const found = allowed.find((a) => a === value);
    if (found === undefined) throw new ConfigError(key, `expected ${allowed.join(' or ')}, got "${value}"`);
    return found;
  };
}

/** A URL path. */
function parsePath(key: string, value: string): string {
  if (!value.startsWith('/')) throw new ConfigError(key, `expected a path starting with /, got "${value}"`);
  return value;
}

/** `primary` or a VNIC display name. */
function parseVnic(key: string, value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this rejects
  if (value.length > 255 || /[\x00-\x1f]/.test(value)) throw new ConfigError(key, 'expected primary or a VNIC display name (at most 255 characters)');
  return value;
}

/** Parses a boolean setting: true/false/1/0/yes/no. */
function parseBool(key: string, value: string): boolean {
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

/** A non-negative decimal (e.g. a price) up to max. */
function decimal(max: number): Parser<number> {
  return (key, value) => parseDecimal(key, value, max);
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
    if (!DIMENSION_KEY_RE.test(k)) {
      throw new ConfigError(key, `dimension key "${k}" must be 1-${OCI_LIMITS.maxDimensionKeyLength} printable ASCII characters without spaces`);
    }
    if (v === '' || v.length > OCI_LIMITS.maxDimensionValueLength) {
      throw new ConfigError(key, `dimension "${k}" needs a value of 1-${OCI_LIMITS.maxDimensionValueLength} characters`);
    }
    if (k in out) throw new ConfigError(key, `dimension "${k}" is given twice`);
    if (RESERVED_DIMENSIONS.includes(k)) throw new ConfigError(key, `"${k}" is set by prom2oci itself (reserved: ${RESERVED_DIMENSIONS.join(', ')})`);
    out[k] = v;
  }
  const { maxExtraDimensions } = DIMENSION_SHARES;
  if (Object.keys(out).length > maxExtraDimensions) {
    throw new ConfigError(key, `at most ${maxExtraDimensions} extra dimensions (OCI allows ${OCI_LIMITS.maxDimensions} per series in all)`);
  }
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
      `the regular expression /${value.slice(0, 100)}/ cannot be matched in linear time ` +
        '(backreferences, lookahead/lookbehind and large {n,m} counts are not supported); rewrite it without them',
    );
  }
}

/** Parses SCRAPE_CONFIG: Prometheus' configuration file, inline. */
function parseInlineScrapeConfig(key: string, value: string): ScrapeConfigFile {
  try {
    return parseScrapeConfig(value, '');
  } catch (e) {
    if (e instanceof ScrapeConfigError) throw new ConfigError(key, e.message);
    throw e;
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

/** A dynamic group as a policy names it: a plain name, or 'domain'/'name' for an identity domain other than Default. */
const DYNAMIC_GROUP_RE = /^(?:[A-Za-z0-9_.-]{1,100}|'[^'\r\n]{1,100}'\/'[A-Za-z0-9_.-]{1,100}')$/;

/** OCI tag namespace and key names: no spaces or periods (so `namespace.key` is unambiguous). */
const TAG_NAME_RE = /^[^\s.=,]{1,100}$/;

/** Parses `key` or `namespace.key`. */
function parseTagRef(key: string, value: string): TagRef {
  const parts = value.split('.');
  if (parts.length > 2 || !parts.every((p) => TAG_NAME_RE.test(p))) {
    throw new ConfigError(key, `"${value}" is not a tag name (key for a freeform tag, namespace.key for a defined tag)`);
  }
  const [first, second] = parts as [string, string?];
  return second !== undefined ? { namespace: first, key: second } : { key: first };
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
  // resourceId + instance + these must leave room for the exposition's own labels.
  const { maxInstanceDimensions } = DIMENSION_SHARES;
  if (out.length > maxInstanceDimensions) {
    throw new ConfigError(key, `at most ${maxInstanceDimensions} instance dimensions (OCI allows ${OCI_LIMITS.maxDimensions} per series in all)`);
  }
  return out;
}

/** One setting. The value of an unset key is its `default` parsed, else `whenUnset`, else undefined. */
interface SettingRow {
  /** The field of Settings it fills (of Settings.discovery for a `discovery` row). */
  readonly field: string;
  /** Default as the string a user would write (README and Terraform show it); parsed like a given value. */
  readonly default?: string;
  /** Parses a given value; the range or the values it accepts are its arguments or its code. */
  readonly parse: Parser<unknown>;
  /** The value when the key is unset and has no default string (e.g. computed from the function's memory). */
  readonly whenUnset?: (env: Env) => unknown;
  readonly description: string;
  /** Part of the discovery settings (validated even while discovery is off: a typo must not wait for the day it is switched on). */
  readonly discovery?: true;
}

/** Every setting the function reads (Fn application/function config = environment variables). */
export const SETTINGS_TABLE = {
  METRICS_ENDPOINT: {
    field: 'endpoints',
    parse: parseEndpoints,
    whenUnset: (): URL[] => [],
    description: 'URL(s) to scrape, comma-separated; required unless DISCOVERY_COMPARTMENT_OCID is set (then both are scraped)',
  },
  SCRAPE_CONFIG: {
    field: 'scrapeConfig',
    parse: parseInlineScrapeConfig,
    description:
      "a Prometheus configuration file (YAML: global, scrape_configs), inline; its jobs replace METRICS_ENDPOINT's implicit one (see docs/scrape-config.md)",
  },
  COMPARTMENT_OCID: { field: 'compartmentId', parse: parseOcid, description: 'compartment OCID of the posted metrics' },
  METRICS_NAMESPACE: { field: 'namespace', default: 'bharatmart', parse: parseNamespace, description: 'OCI custom metric namespace' },
  RESOURCE_GROUP: {
    field: 'resourceGroup',
    parse: matching(OCI_NAME_RE, (v) => `"${v}" is not valid (letters, digits, . _ - $, starting with a letter)`),
    description: 'optional OCI resourceGroup for every metric',
  },
  EXTRA_DIMENSIONS: {
    field: 'extraDimensions',
    parse: parseDimensionList,
    whenUnset: (): Record<string, string> => ({}),
    description: 'key=value,key=value added to every series',
  },
  METRICS_INCLUDE: { field: 'include', parse: parseRegex, description: 'regular expression; only matching metric family names are posted' },
  METRICS_EXCLUDE: { field: 'exclude', parse: parseRegex, description: 'regular expression; matching metric family names are skipped' },
  HISTOGRAM_BUCKETS: { field: 'histogramBuckets', default: 'false', parse: parseBool, description: 'also post <name>_bucket series with an le dimension' },
  SCRAPE_CONCURRENCY: { field: 'scrapeConcurrency', default: '32', parse: wholeNumber(1, 1000), description: 'most targets scraped at once' },
  SCRAPE_TIMEOUT_MS: {
    field: 'scrapeTimeoutMs',
    default: '10000',
    parse: wholeNumber(100, 300_000),
    description: 'per-target scrape timeout (ms), for reading and parsing the body (parsed as it arrives)',
  },
  SCRAPE_MAX_BYTES: {
    field: 'scrapeMaxBytes',
    default: '16777216',
    parse: wholeNumber(1024, MAX_SCRAPE_MAX_BYTES),
    description: 'largest (decompressed) exposition accepted per target (bytes); 16 MiB (~120k samples) fits the 256 MB function',
  },
  SCRAPE_SAMPLE_LIMIT: {
    field: 'scrapeSampleLimit',
    parse: wholeNumber(1, 100_000_000),
    whenUnset: (env: Env): number => defaultSampleLimit(memoryMbOf(env)),
    description:
      'most samples read from one target (over it the target is up=0, the others are posted); ' +
      `unset: ${SAMPLES_PER_MB_OF_MEMORY} per MB of the function memory (FN_MEMORY; ${defaultSampleLimit(256)} at 256 MB)`,
  },
  SPOOL_MAX_SERIES: {
    field: 'spoolMaxSeries',
    default: '20000',
    // The largest function OCI runs bounds it; a smaller function holds at most spoolSeriesBound() of its memory.
    parse: wholeNumber(0, spoolSeriesBound(OCI_LIMITS.maxFunctionMemoryMb)),
    description:
      'most undelivered series kept in the state (STATE_BUCKET) and replayed by later invocations with their original timestamps; ' +
      `over it the oldest are dropped and counted; 0 = no spool. A spooled series needs about 8 KB of the function memory: keep it within ` +
      `${SPOOL_SERIES_PER_MB_OF_MEMORY} per MB (FN_MEMORY; ${spoolSeriesBound(256)} at 256 MB); the maximum is that of OCI's largest function`,
  },
  SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS: {
    field: 'followRedirectsToOtherHosts',
    default: 'false',
    parse: parseBool,
    description: "follow a target's redirect to a different host:port (same scheme; credentials are not forwarded)",
  },
  SCRAPE_BEARER_TOKEN_SECRET_OCID: {
    field: 'bearerTokenSecretId',
    parse: parseOcid,
    description: 'OCI Vault secret OCID holding a bearer token for the targets',
  },
  SECRET_CACHE_TTL_SECONDS: {
    field: 'secretCacheTtlMs',
    default: '300',
    parse: secondsAsMs(0, 86_400),
    description: 'how long a fetched bearer token is reused (s)',
  },
  OCI_MONITORING_ENDPOINT: { field: 'monitoringEndpoint', parse: parseServiceEndpoint, description: 'override of the telemetry-ingestion endpoint' },
  OCI_SECRETS_ENDPOINT: { field: 'secretsEndpoint', parse: parseServiceEndpoint, description: 'override of the Vault secrets endpoint' },
  POST_CALLS_PER_SECOND: {
    field: 'postCallsPerSecond',
    default: '20',
    parse: wholeNumber(1, 1000),
    description:
      'ceiling of PostMetricData calls started per second: the rate halves on a 429 and climbs back (OCI allows 50 per tenancy, shared with other posters)',
  },
  POST_CONCURRENCY: { field: 'postConcurrency', default: '4', parse: wholeNumber(1, 64), description: 'most PostMetricData calls in flight at once' },
  POST_TIMEOUT_MS: { field: 'postTimeoutMs', default: '10000', parse: wholeNumber(100, 300_000), description: 'timeout of one PostMetricData attempt (ms)' },
  FUNCTION_TIMEOUT_SECONDS: {
    field: 'functionTimeoutMs',
    default: '60',
    parse: secondsAsMs(1, 3600),
    description: 'deadline used when the invocation carries none (s)',
  },
  FUNCTION_DYNAMIC_GROUP: {
    field: 'dynamicGroup',
    parse: matching(
      DYNAMIC_GROUP_RE,
      (v) => `"${v.slice(0, 80)}" is not a dynamic group name (letters, digits, - _ .; in an identity domain other than Default: 'domain'/'name')`,
    ),
    description:
      "the dynamic group of the function's resource principal, named in the IAM policy statements the function suggests when OCI refuses a call " +
      '(Terraform sets it; unset = a placeholder)',
  },
  DRY_RUN: {
    field: 'dryRun',
    default: 'false',
    parse: parseBool,
    description: 'do everything except posting (an invocation body {"dryRun": ...} decides for that invocation)',
  },
  DISCOVERY_COMPARTMENT_OCID: {
    field: 'compartmentId',
    discovery: true,
    parse: parseOcid,
    description: 'discover OCI compute instances in this compartment as targets (unset = no discovery)',
  },
  DISCOVERY_INCLUDE_SUBCOMPARTMENTS: {
    field: 'includeSubcompartments',
    discovery: true,
    default: 'false',
    parse: parseBool,
    description: 'also discover in every sub-compartment (needs inspect compartments)',
  },
  DISCOVERY_TAG: {
    field: 'tags',
    discovery: true,
    parse: parseTagMatches,
    whenUnset: (): TagMatch[] => [],
    description:
      'only instances carrying these tags: key=value (freeform) or namespace.key=value (defined); key alone = any value; ' +
      'several separated by commas must all match',
  },
  DISCOVERY_SCHEME: {
    field: 'scheme',
    discovery: true,
    default: 'http',
    parse: oneOf('http', 'https'),
    description: 'scheme of discovered targets (http or https)',
  },
  DISCOVERY_PORT: {
    field: 'port',
    discovery: true,
    default: '9100',
    parse: wholeNumber(1, 65535),
    description: 'port scraped on a discovered instance without a port tag',
  },
  DISCOVERY_PATH: {
    field: 'path',
    discovery: true,
    default: '/metrics',
    parse: parsePath,
    description: 'path scraped on a discovered instance without a path tag',
  },
  DISCOVERY_PORT_TAG: {
    field: 'portTag',
    discovery: true,
    default: 'prometheus_port',
    parse: parseTagRef,
    description: "instance tag listing its exporters' ports, e.g. 9100,3000 or 9100,8080/actuator/prometheus (one target each)",
  },
  DISCOVERY_PATH_TAG: {
    field: 'pathTag',
    discovery: true,
    default: 'prometheus_path',
    parse: parseTagRef,
    description: 'instance tag overriding DISCOVERY_PATH for its ports that name no path',
  },
  DISCOVERY_VNIC: {
    field: 'vnic',
    discovery: true,
    default: 'primary',
    parse: parseVnic,
    description: 'whose private IP is scraped: primary, or the display name of a secondary VNIC',
  },
  DISCOVERY_DIMENSIONS: {
    field: 'dimensions',
    discovery: true,
    parse: parseInstanceDimensions,
    whenUnset: (): InstanceDimension[] => [],
    description:
      'dimensions added besides resourceId and instance: any of resourceDisplayName, availabilityDomain, faultDomain, shape, tag:<key or namespace.key>',
  },
  DISCOVERY_TTL_SECONDS: {
    field: 'ttlMs',
    discovery: true,
    default: '60',
    parse: secondsAsMs(0, 86_400),
    description: 'how long a discovery result is reused while the container is warm (s)',
  },
  DISCOVERY_TIMEOUT_MS: {
    field: 'timeoutMs',
    discovery: true,
    default: '10000',
    parse: wholeNumber(100, 300_000),
    description: 'time allowed for one discovery, all API calls and pages included (ms)',
  },
  OCI_COMPUTE_ENDPOINT: {
    field: 'computeEndpoint',
    discovery: true,
    parse: parseServiceEndpoint,
    description: 'override of the Compute/VCN (iaas) endpoint used by discovery',
  },
  OCI_IDENTITY_ENDPOINT: {
    field: 'identityEndpoint',
    discovery: true,
    parse: parseServiceEndpoint,
    description: 'override of the Identity endpoint used by discovery (sub-compartments)',
  },
  FORECAST_PRICE_PER_MILLION_DATAPOINTS: {
    field: 'forecastPricePerMillionDatapoints',
    parse: decimal(1_000_000),
    description:
      'price of one million ingested datapoints (your currency, e.g. 0.0025) for the cost forecast; ' +
      "unset = no cost shown (no default: not confirmed from Oracle's price list)",
  },
  FORECAST_FREE_DATAPOINTS_PER_MONTH: {
    field: 'forecastFreeDatapointsPerMonth',
    default: '0',
    parse: wholeNumber(0, 1e15),
    description: "datapoints per month the cost forecast treats as free (your tenancy's free allowance left for prom2oci)",
  },
  DERIVED_SERIES: {
    field: 'derivedKinds',
    default: 'rate,avg,quantiles',
    parse: parseDerivedKinds,
    description: 'derived series produced from the previous scrape: any of rate, avg, quantiles (comma-separated), or none',
  },
  HISTOGRAM_QUANTILES: {
    field: 'histogramQuantiles',
    default: '0.5,0.9,0.99',
    parse: parseQuantiles,
    description: 'quantiles posted per histogram as <name>_pNN (0.99 -> _p99, 0.999 -> _p99_9); values from 0 to 1',
  },
  STATE_BUCKET: {
    field: 'stateBucket',
    parse: matching(
      BUCKET_NAME_RE,
      (v) => `"${v.slice(0, 80)}" is not a valid bucket name (letters, digits, - _ ., up to ${OCI_LIMITS.maxBucketNameLength} characters)`,
    ),
    description: 'Object Storage bucket keeping the previous scrape between invocations; unset = no derived series in the function',
  },
  OBJECT_STORAGE_NAMESPACE: {
    field: 'objectStorageNamespace',
    parse: matching(
      OBJECT_STORAGE_NAMESPACE_RE,
      (v) => `"${v.slice(0, 80)}" is not an Object Storage namespace (lowercase letters and digits; \`oci os ns get\` prints it)`,
    ),
    description: 'Object Storage namespace of STATE_BUCKET (required with it)',
  },
  OCI_OBJECT_STORAGE_ENDPOINT: { field: 'objectStorageEndpoint', parse: parseServiceEndpoint, description: 'override of the Object Storage endpoint' },
  STATE_MAX_AGE_SECONDS: {
    field: 'stateMaxAgeMs',
    default: '300',
    parse: secondsAsMs(1, 86_400),
    description: 'a previous scrape older than this is not derived from (s)',
  },
} as const satisfies Record<string, SettingRow>;

type Table = typeof SETTINGS_TABLE;
type SettingKey = keyof Table;
/** The value of a row: what its parser returns, or its `whenUnset` does. */
type ValueOf<R> = (R extends { parse: Parser<infer T> } ? T : never) | (R extends { whenUnset: (env: Env) => infer U } ? U : never);
/** True when a row always has a value (a default or a computed one). */
type AlwaysSet<R> = R extends { default: string } ? true : R extends { whenUnset: unknown } ? true : false;
/** The fields the rows of keys K fill: required when always set, else optional. */
type FieldsOf<K extends SettingKey> = {
  -readonly [P in K as AlwaysSet<Table[P]> extends true ? Table[P]['field'] : never]: ValueOf<Table[P]>;
} & {
  -readonly [P in K as AlwaysSet<Table[P]> extends true ? never : Table[P]['field']]?: ValueOf<Table[P]>;
};
type DiscoveryKey = { [P in SettingKey]: Table[P] extends { discovery: true } ? P : never }[SettingKey];

/** OCI compute discovery: which instances are targets and how each becomes URLs (the `discovery` rows). */
export type DiscoverySettings = Omit<FieldsOf<DiscoveryKey>, 'compartmentId'> & { compartmentId: string };

/** The parsed settings: one field per row; `discovery` is present when DISCOVERY_COMPARTMENT_OCID is set. */
export type Settings = FieldsOf<Exclude<SettingKey, DiscoveryKey>> & { discovery?: DiscoverySettings };

/** A rule between settings, checked after every row parsed; its error names `key`. */
interface SettingsRule {
  readonly name: string;
  readonly key: SettingKey;
  /** `always`, or only for an invocation that posts (a dry run skips it). */
  readonly when: 'always' | 'posting';
  readonly holds: (s: Settings) => boolean;
  readonly message: string;
  /** The rule makes its key required, unless discovery is on or the run is a dry run (help, README and Terraform show it). */
  readonly required?: 'unless-discovery' | 'unless-dry-run';
}

/** The rules between settings. */
const SETTINGS_RULES: readonly SettingsRule[] = [
  {
    name: 'something to scrape',
    key: 'METRICS_ENDPOINT',
    when: 'always',
    required: 'unless-discovery',
    holds: (s) => s.endpoints.length > 0 || s.discovery !== undefined || s.scrapeConfig !== undefined,
    message: 'is required (the URL of the /metrics endpoint to scrape) unless DISCOVERY_COMPARTMENT_OCID or SCRAPE_CONFIG is set',
  },
  {
    name: 'state needs its Object Storage namespace',
    key: 'OBJECT_STORAGE_NAMESPACE',
    when: 'always',
    holds: (s) => s.stateBucket === undefined || s.objectStorageNamespace !== undefined,
    message: "is required with STATE_BUCKET (the tenancy's Object Storage namespace; `oci os ns get` prints it)",
  },
  {
    name: 'posting needs a compartment',
    key: 'COMPARTMENT_OCID',
    when: 'posting',
    required: 'unless-dry-run',
    holds: (s) => s.compartmentId !== undefined,
    message: 'is required (the OCID of the compartment that receives the metrics)',
  },
];

/** Throws ConfigError for the first rule of `when` that the settings break. */
function checkRules(s: Settings, when: SettingsRule['when']): void {
  const broken = SETTINGS_RULES.find((r) => r.when === when && !r.holds(s));
  if (broken) throw new ConfigError(broken.key, broken.message);
}

/** A setting as a list entry (the CLI's flags and help, and the README and Terraform checks, read these). */
interface SettingSpec {
  key: SettingKey;
  default?: string;
  required?: SettingsRule['required'];
  description: string;
}

/** Every row as a list entry, with the requirement a rule puts on its key. */
export const SETTING_SPECS: readonly SettingSpec[] = (Object.keys(SETTINGS_TABLE) as SettingKey[]).map((key) => {
  const row: SettingRow = SETTINGS_TABLE[key];
  return { key, default: row.default, required: SETTINGS_RULES.find((r) => r.key === key)?.required, description: row.description };
});

/** The raw string for key, trimmed; empty counts as unset. */
function raw(env: Env, key: string): string | undefined {
  const v = env[key]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** The function's memory in MB: FN_MEMORY (set by OCI Functions), else the function's default. */
function memoryMbOf(env: Env): number {
  const mb = Number(raw(env, 'FN_MEMORY'));
  return Number.isFinite(mb) && mb > 0 ? mb : DEFAULT_MEMORY_MB;
}

/**
 * Parses every row (the first bad key throws ConfigError naming it), then checks the rules that
 * hold for every invocation. Whether an invocation posts is decided by its caller, which then
 * calls checkForPosting.
 */
export function parseSettings(env: Env): Settings {
  const top: Record<string, unknown> = {};
  const discovery: Record<string, unknown> = {};
  for (const key of Object.keys(SETTINGS_TABLE) as SettingKey[]) {
    const row: SettingRow = SETTINGS_TABLE[key];
    const given = raw(env, key) ?? row.default;
    const value = given !== undefined ? row.parse(key, given) : row.whenUnset?.(env);
    (row.discovery ? discovery : top)[row.field] = value;
  }
  // Built generically from the rows, whose types Settings is derived from.
  const settings = { ...top, discovery: discovery.compartmentId === undefined ? undefined : discovery } as Settings;
  checkRules(settings, 'always');
  return Object.freeze(settings);
}

/** Throws ConfigError when the settings cannot post (the rules of a run that is not a dry run). */
export function checkForPosting(settings: Settings): void {
  checkRules(settings, 'posting');
}
