/**
 * Function settings: one row per key (its default, its parser with the range or values it accepts,
 * its description and the Settings field it fills), and a short list of rules between keys.
 * `Settings` is derived from the rows' types, so a row and the code reading it cannot disagree.
 * Parsed once at the edge (cold start or CLI start) into a frozen Settings object. The CLI flags
 * and docs/configuration.md are made from the rows (`npm run docs:config`); Terraform's variables
 * (description, default, range) are checked against them by tests.
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
import type { Shard } from '../discovery/shard';

import { spoolSeriesBound } from '../handler/memory';
import { AUTO_IN_FLIGHT } from '../publish/inflight';
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
 * Samples one target may expose per MB of function memory: 153,600 at the default 256 MB, so the
 * default admits what OCI accepts from a tenancy in a minute (150,000 series: 50 calls/s x 50) and no
 * more can be posted in one invocation anyway. What a target holds is bounded by the memory budget
 * (src/handler/memory.ts: the targets' share, a fifth of the memory), whatever this limit: 142,500
 * samples of the benchmark's shape reserve about 44 MB of its 51.2 MB at 256 MB; a wordier exposition
 * under the limit is refused by the budget with its reason (up=0), never an out-of-memory kill
 * (test/reliability-memory.test.ts). It was 400 (102,400 at 256 MB), from before the budget: what the
 * heap survived for the worst shapes.
 */
const SAMPLES_PER_MB_OF_MEMORY = 600;
/** Memory assumed outside OCI Functions (no FN_MEMORY), e.g. the CLI: the function's default. */
const DEFAULT_MEMORY_MB = 256;
/** Largest SCRAPE_MAX_BYTES: above it the body could not even be held as one string (V8's limit). */
const MAX_SCRAPE_MAX_BYTES = 512 * 1024 * 1024;

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
type ParseFn<T> = (key: string, value: string) => T;

/** A number's range, in the unit a user writes, and whether it must be whole (Terraform's validations are checked against it). */
interface Bounds {
  readonly min: number;
  readonly max: number;
  readonly whole: boolean;
}

/** A parser with what it accepts, in words (docs/configuration.md and the CLI show it), and a number's bounds. */
type Parser<T> = ParseFn<T> & { readonly accepts: string; readonly bounds?: Bounds };

/** Gives a parse function the words (and bounds) of what it accepts. */
function parser<T>(accepts: string, parse: ParseFn<T>, bounds?: Bounds): Parser<T> {
  return Object.assign(parse, bounds ? { accepts, bounds } : { accepts });
}

/** A whole number from min to max. */
function wholeNumber(min: number, max: number): Parser<number> {
  return parser(`a whole number from ${min} to ${max}`, (key, value) => parseIntIn(key, value, min, max), { min, max, whole: true });
}

/**
 * `auto`, parsed to `autoValue`, or a whole number from 1 to max; `accepts` says both in words,
 * `autoMeans` what auto is in the error.
 */
function autoOrWholeNumber<A extends number | 'auto'>(max: number, autoValue: A, accepts: string, autoMeans: string): Parser<A | number> {
  return parser(accepts, (key, value) => {
    if (value.toLowerCase() === 'auto') return autoValue;
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      throw new ConfigError(key, `expected auto${autoMeans} or a whole number from 1 to ${max}, got "${value}"`);
    }
    return Number(value);
  });
}

/**
 * POST_CALLS_PER_SECOND: `auto` is OCI's limit per tenancy (the pacing then finds the share other
 * posters leave free, and keeps just under the limit itself); a number is the user's hard cap.
 */
function callsPerSecond(max: number): Parser<number> {
  const limit = OCI_LIMITS.maxCallsPerSecond;
  const accepts = `auto (OCI's ${limit} per tenancy, shared adaptively) or a whole number from 1 to ${max} (a hard cap)`;
  return autoOrWholeNumber(max, limit, accepts, ` (OCI's ${limit} per tenancy)`);
}

/** POST_CONCURRENCY: auto (src/publish/inflight.ts) or a whole number of batches from 1 to max. */
function postConcurrency(max: number): Parser<number | 'auto'> {
  const { min, max: most } = AUTO_IN_FLIGHT;
  return autoOrWholeNumber(max, 'auto', `auto (as many as the rate needs at the measured latency, ${min} to ${most}) or a whole number from 1 to ${max}`, '');
}

/** A whole number of seconds from min to max, as milliseconds. */
function secondsAsMs(min: number, max: number): Parser<number> {
  return parser(`a whole number of seconds from ${min} to ${max}`, (key, value) => parseIntIn(key, value, min, max) * 1000, { min, max, whole: true });
}

/** A value matching an OCI rule (`accepts`, in words), refused with `what`. */
function matching(re: RegExp, accepts: string, what: (value: string) => string): Parser<string> {
  return parser(accepts, (key, value) => {
    if (!re.test(value)) throw new ConfigError(key, what(value));
    return value;
  });
}

/** One of the listed values, exactly. */
function oneOf<const V extends string>(...allowed: V[]): Parser<V> {
  return parser(allowed.join(' or '), (key, value) => {
    const found = allowed.find((a) => a === value);
    if (found === undefined) throw new ConfigError(key, `expected ${allowed.join(' or ')}, got "${value}"`);
    return found;
  });
}

/** A URL path. */
const parsePath = parser('a path starting with /', (key, value) => {
  if (!value.startsWith('/')) throw new ConfigError(key, `expected a path starting with /, got "${value}"`);
  return value;
});

/** `primary` or a VNIC display name. */
const parseVnic = parser('primary, or a VNIC display name (at most 255 characters)', (key, value) => {
  // eslint-disable-next-line no-control-regex -- control characters are what this rejects
  if (value.length > 255 || /[\x00-\x1f]/.test(value)) throw new ConfigError(key, 'expected primary or a VNIC display name (at most 255 characters)');
  return value;
});

/** Parses a boolean setting: true/false/1/0/yes/no. */
const parseBool = parser('true or false (also 1/0, yes/no, on/off)', readBool);
function readBool(key: string, value: string): boolean {
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
  return parser(`a decimal number from 0 to ${max}, e.g. 0.0025`, (key, value) => parseDecimal(key, value, max), { min: 0, max, whole: false });
}

/** Parses a non-negative decimal setting (e.g. a price) up to max. */
function parseDecimal(key: string, value: string, max: number): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new ConfigError(key, `expected a non-negative decimal number like 0.0025, got "${value.slice(0, 40)}"`);
  const n = Number(value);
  if (n > max) throw new ConfigError(key, `expected at most ${max}, got ${n}`);
  return n;
}

/** Parses the endpoint list; only http(s) URLs with a host. */
const parseEndpoints = parser('http(s) URLs, comma-separated, each at most once', readEndpoints);
function readEndpoints(key: string, value: string): URL[] {
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
const parseDimensionList = parser(
  `at most ${DIMENSION_SHARES.maxExtraDimensions} key=value pairs, comma-separated: keys of 1-${OCI_LIMITS.maxDimensionKeyLength} printable ASCII characters ` +
    `without spaces, not ${RESERVED_DIMENSIONS.join(', ')}; values of 1-${OCI_LIMITS.maxDimensionValueLength} characters`,
  readDimensionList,
);
function readDimensionList(key: string, value: string): Record<string, string> {
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
const parseRegex = parser('a JavaScript regular expression without backreferences, lookaround or large {n,m} counts (linear time)', readRegex);
function readRegex(key: string, value: string): RegExp {
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
const parseInlineScrapeConfig = parser('a Prometheus configuration in YAML (global, scrape_configs)', readInlineScrapeConfig);
function readInlineScrapeConfig(key: string, value: string): ScrapeConfigFile {
  try {
    return parseScrapeConfig(value, '');
  } catch (e) {
    if (e instanceof ScrapeConfigError) throw new ConfigError(key, e.message);
    throw e;
  }
}

/**
 * The largest SCRAPE_CONFIG_OBJECT read: the text and its parsed jobs stay in the container's memory
 * between invocations, so the cap is a constant; each invocation reserves the object's size from
 * its memory budget (src/handler/memory.ts: the config share holds 1 MiB at 256 MB, less below).
 * Measured on 1 MiB of static targets (34,000 of them): the YAML document with its positions holds
 * 38 MB at the end of the parse (only when the object changed, before any target is scraped), the
 * parsed jobs kept between invocations 3 MB: room a 256 MB function has.
 */
export const MAX_SCRAPE_CONFIG_OBJECT_BYTES = 1024 * 1024;

/** Where SCRAPE_CONFIG_OBJECT points: a bucket and an object name in OBJECT_STORAGE_NAMESPACE. */
export interface ConfigObjectAddress {
  bucket: string;
  object: string;
}

/** Parses SCRAPE_CONFIG_OBJECT: `<bucket>/<object>` (the object name may contain `/`). */
const parseConfigObject = parser(
  '<bucket>/<object>: a bucket name (letters, digits, - _ .), a slash, then the object name ' +
    `(up to ${OCI_LIMITS.maxObjectNameLength} characters, may contain /)`,
  readConfigObject,
);
function readConfigObject(key: string, value: string): ConfigObjectAddress {
  const slash = value.indexOf('/');
  const bucket = slash < 0 ? value : value.slice(0, slash);
  const object = slash < 0 ? '' : value.slice(slash + 1);
  // eslint-disable-next-line no-control-regex -- control characters are what this rejects
  if (!BUCKET_NAME_RE.test(bucket) || object === '' || object.length > OCI_LIMITS.maxObjectNameLength || /[\x00-\x1f]/.test(object)) {
    throw new ConfigError(key, `expected <bucket>/<object>, e.g. prom2oci-config/prometheus.yml; got "${value.slice(0, 120)}"`);
  }
  return { bucket, object };
}

/** Most shards SHARD may name (N): far above what a tenancy's 50 calls/s can feed, low enough to catch a slip. */
const MAX_SHARDS = 1000;

/** Parses SHARD: `i/N`, shard i of N (0 <= i < N). */
const parseShard = parser(`i/N: shard i of N shards, N from 1 to ${MAX_SHARDS}, i from 0 to N-1 (e.g. 0/4 ... 3/4)`, readShard);
function readShard(key: string, value: string): Shard {
  const m = /^(\d{1,9})\/(\d{1,9})$/.exec(value);
  if (!m) throw new ConfigError(key, `expected i/N, shard i of N shards (e.g. 0/4 ... 3/4), got "${value.slice(0, 40)}"`);
  const [index, count] = [Number(m[1]), Number(m[2])];
  if (count < 1 || count > MAX_SHARDS) throw new ConfigError(key, `N (the number of shards) must be from 1 to ${MAX_SHARDS}, got ${count}`);
  if (index >= count)
    throw new ConfigError(key, `i must be from 0 to ${count - 1} (the shards of ${count} are 0/${count} ... ${count - 1}/${count}), got ${index}/${count}`);
  return { index, count };
}

/** Validates an OCID-shaped value. */
const parseOcid = parser('an OCID (ocid1.<type>.<realm>.[region].<id>)', readOcid);
function readOcid(key: string, value: string): string {
  if (!OCID_RE.test(value)) throw new ConfigError(key, `expected an OCID like ocid1.compartment.oc1..aaaa..., got "${value.slice(0, 80)}"`);
  return value;
}

/** Validates the namespace against OCI's rules. */
const parseNamespace = parser('letters, digits and _, starting with a letter; not oci_ or oracle_', readNamespace);
function readNamespace(key: string, value: string): string {
  if (!OCI_NAMESPACE_RE.test(value)) {
    throw new ConfigError(key, `"${value}" is not a valid OCI namespace (letters, digits and _, starting with a letter)`);
  }
  if (RESERVED_NAMESPACE_PREFIX_RE.test(value)) throw new ConfigError(key, `"${value}" uses a reserved prefix (oci_ and oracle_ are reserved)`);
  return value;
}

/** Validates an endpoint override: an http(s) URL without a trailing slash. */
const parseServiceEndpoint = parser('an http(s) URL', readServiceEndpoint);
function readServiceEndpoint(key: string, value: string): string {
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
const parseDerivedKinds = parser(`any of ${DERIVED_KINDS.join(', ')} (comma-separated), or none`, readDerivedKinds);
function readDerivedKinds(key: string, value: string): DerivedKinds {
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
const parseQuantiles = parser(`1 to ${MAX_QUANTILES} distinct numbers from 0 to 1, comma-separated`, readQuantiles);
function readQuantiles(key: string, value: string): number[] {
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
const parseTagRef = parser('a tag name: key (freeform) or namespace.key (defined)', readTagRef);
function readTagRef(key: string, value: string): TagRef {
  const parts = value.split('.');
  if (parts.length > 2 || !parts.every((p) => TAG_NAME_RE.test(p))) {
    throw new ConfigError(key, `"${value}" is not a tag name (key for a freeform tag, namespace.key for a defined tag)`);
  }
  const [first, second] = parts as [string, string?];
  return second !== undefined ? { namespace: first, key: second } : { key: first };
}

/** Parses `key=value,namespace.key=value,key` into tag matches. */
const parseTagMatches = parser('key=value, namespace.key=value or key, comma-separated', readTagMatches);
function readTagMatches(key: string, value: string): TagMatch[] {
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
const parseInstanceDimensions = parser(
  `at most ${DIMENSION_SHARES.maxInstanceDimensions} of resourceDisplayName, availabilityDomain, faultDomain, shape, ` +
    'tag:<key>, tag:<namespace.key>, comma-separated',
  readInstanceDimensions,
);
function readInstanceDimensions(key: string, value: string): InstanceDimension[] {
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
  /** Default as the string a user would write (docs/configuration.md and Terraform show it); parsed like a given value. */
  readonly default?: string;
  /** Parses a given value; what it accepts (its range or values) is part of the parser. */
  readonly parse: Parser<unknown>;
  /** The value when the key is unset and has no default string (e.g. computed from the function's memory). */
  readonly whenUnset?: (env: Env) => unknown;
  /** What an unset key means, when that is more than "nothing" (docs/configuration.md shows it as the default). */
  readonly unset?: string;
  /** What the setting does, in plain text (the CLI's help, docs/configuration.md and Terraform's variable show it). */
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
    description: 'URL(s) to scrape, e.g. http://10.0.0.5:3000/metrics; scraped together with the discovered targets when discovery is on',
  },
  SCRAPE_CONFIG: {
    field: 'scrapeConfig',
    parse: parseInlineScrapeConfig,
    description:
      "a Prometheus configuration file (YAML: global, scrape_configs), inline; its jobs replace METRICS_ENDPOINT's implicit one " +
      '(see docs/scrape-config.md); OCI limits the whole configuration of a function to 4 KB',
  },
  SCRAPE_CONFIG_OBJECT: {
    field: 'scrapeConfigObject',
    parse: parseConfigObject,
    description:
      'a Prometheus configuration file in Object Storage, as <bucket>/<object> in OBJECT_STORAGE_NAMESPACE: read by every invocation ' +
      '(a warm container revalidates it by ETag, so an unchanged file is not downloaded again); instead of SCRAPE_CONFIG, for files over ' +
      `OCI's 4 KB of function configuration (at most ${MAX_SCRAPE_CONFIG_OBJECT_BYTES / 1024 / 1024} MiB; see docs/scrape-config.md)`,
  },
  SHARD: {
    field: 'shard',
    parse: parseShard,
    unset: 'none: every target',
    description:
      "scrape only shard i of N: the targets whose address after target relabelling hashes to i (Prometheus' hashmod: MD5 mod N); " +
      'each shard keeps its own state and spool (see docs/scrape-config.md, Shards)',
  },
  COMPARTMENT_OCID: { field: 'compartmentId', parse: parseOcid, description: 'compartment of the posted metrics' },
  METRICS_NAMESPACE: { field: 'namespace', default: 'bharatmart', parse: parseNamespace, description: 'OCI custom metric namespace of every posted metric' },
  RESOURCE_GROUP: {
    field: 'resourceGroup',
    parse: matching(
      OCI_NAME_RE,
      'letters, digits, . _ - $, starting with a letter',
      (v) => `"${v}" is not valid (letters, digits, . _ - $, starting with a letter)`,
    ),
    description: 'OCI resourceGroup of every posted metric',
  },
  EXTRA_DIMENSIONS: {
    field: 'extraDimensions',
    parse: parseDimensionList,
    whenUnset: (): Record<string, string> => ({}),
    description: 'dimensions added to every series, e.g. env=prod,region=fra',
  },
  METRICS_INCLUDE: {
    field: 'include',
    parse: parseRegex,
    description: 'only metric families whose name matches are posted (unanchored: write ^...$); the others are skipped as filtered_by_include',
  },
  METRICS_EXCLUDE: {
    field: 'exclude',
    parse: parseRegex,
    description: 'metric families whose name matches are skipped as filtered_by_exclude (unanchored: write ^...$)',
  },
  HISTOGRAM_BUCKETS: {
    field: 'histogramBuckets',
    default: 'false',
    parse: parseBool,
    description: 'also post <name>_bucket series with an le dimension (one stream per bucket); the percentiles are derived without them',
  },
  SCRAPE_CONCURRENCY: {
    field: 'scrapeConcurrency',
    default: '32',
    parse: wholeNumber(1, 1000),
    description: 'most targets scraped at once (static and discovered); the others wait their turn',
  },
  SCRAPE_TIMEOUT_MS: {
    field: 'scrapeTimeoutMs',
    default: '10000',
    parse: wholeNumber(100, 300_000),
    description: 'per-target scrape timeout in ms: the whole exchange, reading the body and parsing it as it arrives',
  },
  SCRAPE_MAX_BYTES: {
    field: 'scrapeMaxBytes',
    default: '33554432',
    parse: wholeNumber(1024, MAX_SCRAPE_MAX_BYTES),
    description:
      'largest exposition accepted per target, in bytes after decompression; a larger one is refused (up=0) instead of the container ' +
      "being killed. The default, 32 MiB, is about 240k samples of the benchmark's exposition (150,000 of them, OCI's limit a minute, " +
      "are about 20 MB); what a target holds is bounded by the memory budget too (a fifth of the function's memory), which refuses more " +
      'with its reason: raise it together with the memory and SCRAPE_SAMPLE_LIMIT',
  },
  SCRAPE_SAMPLE_LIMIT: {
    field: 'scrapeSampleLimit',
    parse: wholeNumber(1, 100_000_000),
    whenUnset: (env: Env): number => defaultSampleLimit(memoryMbOf(env)),
    unset: `${SAMPLES_PER_MB_OF_MEMORY} per MB of the function memory (FN_MEMORY): ${defaultSampleLimit(DEFAULT_MEMORY_MB)} at ${DEFAULT_MEMORY_MB} MB`,
    description:
      'most samples read from one target, counted while scanning: over it that target is up=0 and the others are posted ' +
      '(the byte cap alone does not bound memory: 6 MB of short series is 400k samples)',
  },
  SPOOL_MAX_SERIES: {
    field: 'spoolMaxSeries',
    // The largest function OCI runs bounds the row; the rule 'spool within the memory' bounds it by FN_MEMORY.
    parse: wholeNumber(0, spoolSeriesBound(OCI_LIMITS.maxFunctionMemoryMb)),
    whenUnset: (env: Env): number => spoolSeriesBound(memoryMbOf(env)),
    unset: `the most the function memory holds (FN_MEMORY): ${spoolSeriesBound(DEFAULT_MEMORY_MB)} at ${DEFAULT_MEMORY_MB} MB`,
    description:
      "with a state store (STATE_BUCKET, or the CLI's --state-file): most undelivered series kept and replayed by later invocations " +
      'with their original timestamps; over it the oldest are dropped and counted; 0 = no spool. A spooled series takes 1.5 KB of the ' +
      `memory budget's spool share (an eighth of FN_MEMORY): at most ${spoolSeriesBound(128)} at 128 MB, ${spoolSeriesBound(256)} at 256 MB, ` +
      `${spoolSeriesBound(1024)} at 1024 MB; a value above what FN_MEMORY holds is a configuration error`,
  },
  SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS: {
    field: 'followRedirectsToOtherHosts',
    default: 'false',
    parse: parseBool,
    description: "follow a target's redirect to another host:port (same scheme only; credentials are never sent there)",
  },
  SCRAPE_BEARER_TOKEN_SECRET_OCID: {
    field: 'bearerTokenSecretId',
    parse: parseOcid,
    description: 'OCI Vault secret holding a bearer token sent to the targets (never logged)',
  },
  SECRET_CACHE_TTL_SECONDS: {
    field: 'secretCacheTtlMs',
    default: '300',
    parse: secondsAsMs(0, 86_400),
    description: 'how long a fetched bearer token is reused while the container is warm, in seconds (the delay before a rotation is seen)',
  },
  OCI_MONITORING_ENDPOINT: {
    field: 'monitoringEndpoint',
    parse: parseServiceEndpoint,
    unset: 'https://telemetry-ingestion.<region>.<realm-domain>',
    description: 'override of the Telemetry Ingestion (PostMetricData) endpoint',
  },
  OCI_SECRETS_ENDPOINT: {
    field: 'secretsEndpoint',
    parse: parseServiceEndpoint,
    unset: "the region's",
    description: 'override of the Vault secrets endpoint',
  },
  POST_CALLS_PER_SECOND: {
    field: 'postCallsPerSecond',
    default: 'auto',
    parse: callsPerSecond(1000),
    description:
      `ceiling of PostMetricData calls started per second: auto = OCI's ${OCI_LIMITS.maxCallsPerSecond} per tenancy, ` +
      'of which the pacing takes the share other posters leave (it halves the rate on a 429 and climbs back); a number is a hard cap',
  },
  POST_CONCURRENCY: {
    field: 'postConcurrency',
    default: 'auto',
    parse: postConcurrency(64),
    description:
      'most PostMetricData batches held at once (in flight or waiting to be retried): the rate reaches at most this many calls per call latency. ' +
      `auto = what the rate needs at the latency measured (rate x latency x ${AUTO_IN_FLIGHT.headroom}), ${AUTO_IN_FLIGHT.min} to ${AUTO_IN_FLIGHT.max} ` +
      `(${AUTO_IN_FLIGHT.max} reach OCI's 49 calls/s while a call takes up to ~1 s; ` +
      `above ${AUTO_IN_FLIGHT.min} only as many as a sixteenth of FN_MEMORY holds); ` +
      `a number is fixed (${AUTO_IN_FLIGHT.min} reach 49 calls/s only while a call takes up to ~160 ms)`,
  },
  POST_TIMEOUT_MS: {
    field: 'postTimeoutMs',
    default: '10000',
    parse: wholeNumber(100, 300_000),
    description: 'timeout of one PostMetricData attempt in ms (the SDK has none)',
  },
  FUNCTION_TIMEOUT_SECONDS: {
    field: 'functionTimeoutMs',
    default: '60',
    parse: secondsAsMs(1, 3600),
    description:
      'deadline in seconds used when an invocation carries no Fn-Deadline, e.g. from the CLI; ' +
      "the platform's Fn-Deadline (the function's timeout) is used as given",
  },
  FUNCTION_DYNAMIC_GROUP: {
    field: 'dynamicGroup',
    parse: matching(
      DYNAMIC_GROUP_RE,
      "a dynamic group name (letters, digits, - _ .), or 'domain'/'name' in an identity domain other than Default",
      (v) => `"${v.slice(0, 80)}" is not a dynamic group name (letters, digits, - _ .; in an identity domain other than Default: 'domain'/'name')`,
    ),
    unset: "none: the statements say <the function's dynamic group>",
    description:
      "the dynamic group of the function's resource principal, named in the IAM policy statements the function suggests when OCI refuses a call " +
      "(a response's iamStatement, an error's hint); Terraform sets it to the group it creates",
  },
  DRY_RUN: {
    field: 'dryRun',
    default: 'false',
    parse: parseBool,
    description: 'do everything except posting; an invocation body {"dryRun": true|false} decides for that invocation',
  },
  DISCOVERY_COMPARTMENT_OCID: {
    field: 'compartmentId',
    discovery: true,
    parse: parseOcid,
    unset: 'none: no discovery',
    description: 'discover the RUNNING compute instances of this compartment as targets (see docs/fleets.md)',
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
    unset: 'none: every RUNNING instance',
    description: 'only instances carrying these tags: key=value (freeform), namespace.key=value (defined), key alone = any value; ' + 'several must all match',
  },
  DISCOVERY_SCHEME: {
    field: 'scheme',
    discovery: true,
    default: 'http',
    parse: oneOf('http', 'https'),
    description: 'scheme of the discovered targets',
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
    description: 'dimensions a discovered target adds besides resourceId (the instance OCID) and instance',
  },
  DISCOVERY_TTL_SECONDS: {
    field: 'ttlMs',
    discovery: true,
    default: '60',
    parse: secondsAsMs(0, 86_400),
    description: 'how long a discovery result is reused while the container is warm, in seconds',
  },
  DISCOVERY_TIMEOUT_MS: {
    field: 'timeoutMs',
    discovery: true,
    default: '10000',
    parse: wholeNumber(100, 300_000),
    description: 'time allowed for one discovery in ms, every API call and page included',
  },
  OCI_COMPUTE_ENDPOINT: {
    field: 'computeEndpoint',
    discovery: true,
    parse: parseServiceEndpoint,
    unset: "the region's",
    description: 'override of the Compute/VCN (iaas) endpoint used by discovery',
  },
  OCI_IDENTITY_ENDPOINT: {
    field: 'identityEndpoint',
    discovery: true,
    parse: parseServiceEndpoint,
    unset: "the region's",
    description: 'override of the Identity endpoint used by discovery (sub-compartments)',
  },
  FORECAST_PRICE_PER_MILLION_DATAPOINTS: {
    field: 'forecastPricePerMillionDatapoints',
    parse: decimal(1_000_000),
    unset: "none: no cost shown (not confirmed from Oracle's price list)",
    description: 'price of one million ingested datapoints, in your currency, for the cost forecast (see docs/cost.md)',
  },
  FORECAST_FREE_DATAPOINTS_PER_MONTH: {
    field: 'forecastFreeDatapointsPerMonth',
    default: '0',
    parse: wholeNumber(0, 1e15),
    description: "datapoints a month the cost forecast counts as free (the part of your tenancy's free allowance left for prom2oci)",
  },
  DERIVED_SERIES: {
    field: 'derivedKinds',
    default: 'rate,avg,quantiles',
    parse: parseDerivedKinds,
    description: 'derived series produced from the previous scrape (see docs/mapping.md); each is one more metric stream per source series',
  },
  HISTOGRAM_QUANTILES: {
    field: 'histogramQuantiles',
    default: '0.5,0.9,0.99',
    parse: parseQuantiles,
    description: 'quantiles posted per histogram series as <name>_pNN (0.99 -> _p99, 0.999 -> _p99_9)',
  },
  STATE_BUCKET: {
    field: 'stateBucket',
    parse: matching(
      BUCKET_NAME_RE,
      `a bucket name: letters, digits, - _ ., up to ${OCI_LIMITS.maxBucketNameLength} characters`,
      (v) => `"${v.slice(0, 80)}" is not a valid bucket name (letters, digits, - _ ., up to ${OCI_LIMITS.maxBucketNameLength} characters)`,
    ),
    unset: 'none: no derived series, no spool',
    description: 'Object Storage bucket keeping the previous scrape (for the derived series) and the spool between invocations',
  },
  PACING_BOARD: {
    field: 'pacingBoard',
    default: 'true',
    parse: parseBool,
    description:
      'with STATE_BUCKET: share the posting rate evenly with the other deployments whose STATE_BUCKET is the same bucket (the shards of one ' +
      'configuration, or functions pointed at one bucket), through a small object each under prom2oci/pacing/ (docs/performance.md, ' +
      '"Several deployments in one tenancy"); false = each paces alone. Without STATE_BUCKET there is no board',
  },
  OBJECT_STORAGE_NAMESPACE: {
    field: 'objectStorageNamespace',
    parse: matching(
      OBJECT_STORAGE_NAMESPACE_RE,
      `lowercase letters and digits, up to ${OCI_LIMITS.maxObjectStorageNamespaceLength}`,
      (v) => `"${v.slice(0, 80)}" is not an Object Storage namespace (lowercase letters and digits; \`oci os ns get\` prints it)`,
    ),
    description: 'Object Storage namespace of STATE_BUCKET and SCRAPE_CONFIG_OBJECT (oci os ns get prints it); required with either',
  },
  OCI_OBJECT_STORAGE_ENDPOINT: {
    field: 'objectStorageEndpoint',
    parse: parseServiceEndpoint,
    unset: 'https://objectstorage.<region>.<realm-domain>',
    description: 'override of the Object Storage endpoint',
  },
  STATE_MAX_AGE_SECONDS: {
    field: 'stateMaxAgeMs',
    default: '300',
    parse: secondsAsMs(1, 86_400),
    description: 'a previous scrape older than this, in seconds, is not derived from',
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
export type Settings = FieldsOf<Exclude<SettingKey, DiscoveryKey>> & {
  discovery?: DiscoverySettings;
  /** The function's memory (MB): FN_MEMORY, set by OCI Functions, else the function's default (not a setting of ours). */
  memoryMb: number;
};

/** A rule between settings, checked after every row parsed; its error names `key`. */
interface SettingsRule {
  readonly name: string;
  readonly key: SettingKey;
  /** `always`, or only for an invocation that posts (a dry run skips it). */
  readonly when: 'always' | 'posting';
  readonly holds: (s: Settings) => boolean;
  /** The error's text (given the settings, when it names their values). */
  readonly message: string | ((s: Settings) => string);
  /** The rule makes its key required, unless discovery is on or the run is a dry run (help, docs and Terraform show it). */
  readonly required?: 'unless-discovery' | 'unless-dry-run';
}

/** The rules between settings. */
const SETTINGS_RULES: readonly SettingsRule[] = [
  {
    name: 'something to scrape',
    key: 'METRICS_ENDPOINT',
    when: 'always',
    required: 'unless-discovery',
    holds: (s) => s.endpoints.length > 0 || s.discovery !== undefined || s.scrapeConfig !== undefined || s.scrapeConfigObject !== undefined,
    message: 'is required (the URL of the /metrics endpoint to scrape) unless DISCOVERY_COMPARTMENT_OCID, SCRAPE_CONFIG or SCRAPE_CONFIG_OBJECT is set',
  },
  {
    name: 'one configuration file',
    key: 'SCRAPE_CONFIG_OBJECT',
    when: 'always',
    holds: (s) => s.scrapeConfig === undefined || s.scrapeConfigObject === undefined,
    message: 'cannot be set together with SCRAPE_CONFIG: the configuration comes from one of them (unset one)',
  },
  {
    name: 'the config object needs its Object Storage namespace',
    key: 'OBJECT_STORAGE_NAMESPACE',
    when: 'always',
    holds: (s) => s.scrapeConfigObject === undefined || s.objectStorageNamespace !== undefined,
    message: "is required with SCRAPE_CONFIG_OBJECT (the tenancy's Object Storage namespace; `oci os ns get` prints it)",
  },
  {
    name: 'state needs its Object Storage namespace',
    key: 'OBJECT_STORAGE_NAMESPACE',
    when: 'always',
    holds: (s) => s.stateBucket === undefined || s.objectStorageNamespace !== undefined,
    message: "is required with STATE_BUCKET (the tenancy's Object Storage namespace; `oci os ns get` prints it)",
  },
  {
    name: 'spool within the memory',
    key: 'SPOOL_MAX_SERIES',
    when: 'always',
    holds: (s) => s.spoolMaxSeries <= spoolSeriesBound(s.memoryMb),
    message: (s) =>
      `${s.spoolMaxSeries} is more than the function's ${s.memoryMb} MB memory (FN_MEMORY) holds, ${spoolSeriesBound(s.memoryMb)}: a spooled ` +
      "series takes 1.5 KB of the memory budget's spool share, an eighth of FN_MEMORY; lower SPOOL_MAX_SERIES, leave it unset (the most the " +
      'memory holds), or raise the memory',
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
  if (broken) throw new ConfigError(broken.key, typeof broken.message === 'string' ? broken.message : broken.message(s));
}

/** A setting as a list entry (the CLI's flags and help, docs/configuration.md and the Terraform checks read these). */
interface SettingSpec {
  key: SettingKey;
  default?: string;
  required?: SettingsRule['required'];
  unset?: string;
  description: string;
  /** What a value may be, in words; `bounds` for a number. */
  accepts: string;
  bounds?: Bounds;
}

/** Every row as a list entry, with the requirement a rule puts on its key. */
export const SETTING_SPECS: readonly SettingSpec[] = (Object.keys(SETTINGS_TABLE) as SettingKey[]).map((key) => {
  const row: SettingRow = SETTINGS_TABLE[key];
  return {
    key,
    default: row.default,
    required: SETTINGS_RULES.find((r) => r.key === key)?.required,
    unset: row.unset,
    description: row.description,
    accepts: row.parse.accepts,
    bounds: row.parse.bounds,
  };
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
  const settings = { ...top, discovery: discovery.compartmentId === undefined ? undefined : discovery, memoryMb: memoryMbOf(env) } as Settings;
  checkRules(settings, 'always');
  return Object.freeze(settings);
}

/** Throws ConfigError when the settings cannot post (the rules of a run that is not a dry run). */
export function checkForPosting(settings: Settings): void {
  checkRules(settings, 'posting');
}
