/**
 * OCI's documented PostMetricData rules, applied to the parsed JSON body the way the service does:
 * request-level errors reject the call, object-level errors become failedMetrics (NON_ATOMIC) or
 * reject the call (ATOMIC). The messages are the emulator's own wording: OCI does not document its
 * exact texts.
 * These checks are written here independently of the function's src/transform/limits.ts on
 * purpose: a twin that imported the function's rules could never catch a mistake in them.
 * test/oci-rules.test.ts checks that the two agree at every boundary.
 */
import { streamIdentity, type StoredDatapoint, type StoredMetric } from './store';

/** OCI's documented limits, as the emulator enforces them. */
export const OCI_LIMITS = {
  maxStreamsPerCall: 50,
  maxDimensions: 20,
  maxDimensionKeyChars: 256,
  maxDimensionValueChars: 512,
  maxMetadataChars: 256,
  maxPastMs: 2 * 60 * 60 * 1000,
  maxFutureMs: 10 * 60 * 1000,
} as const;

/** A request-level rejection: HTTP status, OCI error code and message. */
export interface RequestError {
  status: number;
  code: string;
  message: string;
}

/** The outcome of validating one PostMetricData body. */
type BodyValidation =
  { ok: false; error: RequestError } | { ok: true; atomic: boolean; valid: StoredMetric[]; failed: { message: string; metricData: unknown }[] };

/**
 * The dimension keys already used by a metric group (a metric name in a namespace, in the caller's
 * tenancy), or undefined for a new group.
 */
type GroupKeys = (namespace: string, name: string) => ReadonlySet<string> | undefined;

/** Decides whether the caller may post to these compartments/namespaces (IAM); an error denies. */
export type ScopeCheck = (compartments: string[], namespaces: string[]) => RequestError | undefined;

const NAMESPACE_RE = /^[A-Za-z][A-Za-z0-9_]*$/;
const NAME_RE = /^[A-Za-z][A-Za-z0-9._\-$]*$/;
const DIMENSION_KEY_RE = /^[\x21-\x7e]+$/;
const OCID_RE = /^ocid1\.[a-z0-9_-]+\.[a-z0-9_-]+\.[a-z0-9_-]*(\.[a-z0-9_-]*)*\.[a-z0-9_-]+$/i;
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** A plain JSON object (not null, not an array). */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Length as OCI's character limits are read here: UTF-16 units. OCI does not define "character";
 * this is the strictest reading (an astral character counts 2), so what passes here passes OCI
 * whichever reading it uses.
 */
function charLength(s: string): number {
  return s.length;
}

/** Shorten a user value for an error message (never secrets here: these are metric fields). */
function show(v: unknown): string {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Problems with the namespace field. */
function checkNamespace(ns: unknown): string[] {
  if (ns === undefined || ns === null || ns === '') return ['namespace is required'];
  if (typeof ns !== 'string') return ['namespace must be a string'];
  if (!NAMESPACE_RE.test(ns)) return [`Invalid namespace '${show(ns)}': must start with a letter and contain only letters, digits and underscores`];
  if (/^(oci_|oracle_)/i.test(ns)) return [`Invalid namespace '${show(ns)}': the prefixes oci_ and oracle_ are reserved`];
  return [];
}

/** Problems with a name-like field (name, resourceGroup). */
function checkNameLike(field: string, v: unknown, required: boolean): string[] {
  if (v === undefined || v === null) return required ? [`${field} is required`] : [];
  if (typeof v !== 'string') return [`${field} must be a string`];
  if (v === '') return required ? [`${field} is required`] : [`Invalid ${field} '': must not be empty`];
  if (!NAME_RE.test(v)) return [`Invalid ${field} '${show(v)}': must start with a letter and contain only letters, digits, '.', '_', '-' and '$'`];
  return [];
}

/** Problems with compartmentId. */
function checkCompartment(v: unknown): string[] {
  if (v === undefined || v === null || v === '') return ['compartmentId is required'];
  if (typeof v !== 'string' || !OCID_RE.test(v)) return [`Invalid compartmentId '${show(v)}': not an OCID`];
  return [];
}

/** Problems with the dimensions map. */
function checkDimensions(v: unknown): string[] {
  if (v === undefined || v === null) return ['dimensions is required: at least 1 dimension'];
  if (!isObject(v)) return ['dimensions must be an object of key -> value'];
  const entries = Object.entries(v);
  if (entries.length === 0) return ['dimensions must contain at least 1 dimension'];
  if (entries.length > OCI_LIMITS.maxDimensions) return [`Too many dimensions: ${entries.length}, at most ${OCI_LIMITS.maxDimensions} are allowed`];
  const problems: string[] = [];
  for (const [key, value] of entries) {
    if (key.length < 1 || key.length > OCI_LIMITS.maxDimensionKeyChars || !DIMENSION_KEY_RE.test(key)) {
      problems.push(`Invalid dimension key '${show(key)}': 1-${OCI_LIMITS.maxDimensionKeyChars} printable ASCII characters without spaces`);
    } else if (typeof value !== 'string') {
      problems.push(`Invalid value of dimension '${show(key)}': must be a string`);
    } else if (value.length === 0) {
      problems.push(`Invalid value of dimension '${show(key)}': must not be empty`);
    } else if (charLength(value) > OCI_LIMITS.maxDimensionValueChars) {
      problems.push(`Invalid value of dimension '${show(key)}': longer than ${OCI_LIMITS.maxDimensionValueChars} characters`);
    }
  }
  return problems;
}

/** Problems with the optional metadata map. */
function checkMetadata(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!isObject(v)) return ['metadata must be an object of key -> value'];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(v)) {
    if (charLength(key) > OCI_LIMITS.maxMetadataChars)
      problems.push(`Invalid metadata key '${show(key)}': longer than ${OCI_LIMITS.maxMetadataChars} characters`);
    else if (typeof value !== 'string') problems.push(`Invalid value of metadata '${show(key)}': must be a string`);
    else if (charLength(value) > OCI_LIMITS.maxMetadataChars)
      problems.push(`Invalid value of metadata '${show(key)}': longer than ${OCI_LIMITS.maxMetadataChars} characters`);
  }
  return problems;
}

/** Problems with one datapoint; on success the parsed datapoint is returned too. */
function checkDatapoint(d: unknown, index: number, nowMs: number): { problems: string[]; point?: StoredDatapoint } {
  const at = `datapoints[${index}]`;
  if (!isObject(d)) return { problems: [`${at} must be an object`] };
  const problems: string[] = [];
  let timestamp = NaN;
  if (typeof d.timestamp !== 'string' || !RFC3339_RE.test(d.timestamp) || Number.isNaN(Date.parse(d.timestamp))) {
    problems.push(`${at}.timestamp '${show(d.timestamp)}' is not an RFC 3339 date-time`);
  } else {
    timestamp = Date.parse(d.timestamp);
    if (timestamp <= nowMs - OCI_LIMITS.maxPastMs) problems.push(`${at}.timestamp ${d.timestamp} is more than 2 hours in the past`);
    else if (timestamp >= nowMs + OCI_LIMITS.maxFutureMs) problems.push(`${at}.timestamp ${d.timestamp} is more than 10 minutes in the future`);
  }
  if (typeof d.value !== 'number' || !Number.isFinite(d.value)) problems.push(`${at}.value ${show(d.value)} is not a finite number`);
  if (d.count !== undefined && d.count !== null && (typeof d.count !== 'number' || !Number.isInteger(d.count) || d.count <= 0)) {
    problems.push(`${at}.count ${show(d.count)} must be an integer greater than 0`);
  }
  if (problems.length > 0) return { problems };
  const point: StoredDatapoint = { timestamp, value: d.value as number };
  if (typeof d.count === 'number') point.count = d.count;
  return { problems, point };
}

/** Problems with the datapoints list; parsed datapoints when all are valid. */
function checkDatapoints(v: unknown, nowMs: number): { problems: string[]; points: StoredDatapoint[] } {
  if (!Array.isArray(v) || v.length === 0) return { problems: ['datapoints must contain at least 1 datapoint'], points: [] };
  const problems: string[] = [];
  const points: StoredDatapoint[] = [];
  v.forEach((d, i) => {
    const r = checkDatapoint(d, i, nowMs);
    problems.push(...r.problems);
    if (r.point) points.push(r.point);
  });
  return { problems, points };
}

/** Validate one MetricDataDetails object: the problems, or the object to store. */
export function validateMetricObject(m: unknown, nowMs: number): { problems: string[]; metric?: StoredMetric } {
  if (!isObject(m)) return { problems: ['metricData item must be an object'] };
  const dp = checkDatapoints(m.datapoints, nowMs);
  const problems = [
    ...checkNamespace(m.namespace),
    ...checkCompartment(m.compartmentId),
    ...checkNameLike('name', m.name, true),
    ...checkNameLike('resourceGroup', m.resourceGroup, false),
    ...checkDimensions(m.dimensions),
    ...checkMetadata(m.metadata),
    ...dp.problems,
  ];
  if (problems.length > 0) return { problems };
  const metric: StoredMetric = {
    namespace: m.namespace as string,
    compartmentId: m.compartmentId as string,
    name: m.name as string,
    dimensions: { ...(m.dimensions as Record<string, string>) },
    datapoints: dp.points,
    receivedAt: nowMs,
  };
  if (typeof m.resourceGroup === 'string') metric.resourceGroup = m.resourceGroup;
  if (isObject(m.metadata)) metric.metadata = { ...(m.metadata as Record<string, string>) };
  return { problems, metric };
}

/** Count unique streams (namespace, compartment, resourceGroup, name, dimensions) in the body. */
export function countStreams(items: unknown[]): number {
  const keys = new Set<string>();
  for (const m of items) {
    if (!isObject(m)) {
      keys.add(`invalid:${keys.size}`);
      continue;
    }
    const dims = isObject(m.dimensions) ? (m.dimensions as Record<string, string>) : {};
    keys.add(
      streamIdentity({
        namespace: String(m.namespace),
        compartmentId: String(m.compartmentId),
        resourceGroup: m.resourceGroup as string | undefined,
        name: String(m.name),
        dimensions: dims,
      }),
    );
  }
  return keys.size;
}

/** Distinct string values of one field over the items (for the IAM check). */
function distinctField(items: unknown[], field: string): string[] {
  return [
    ...new Set(
      items
        .filter(isObject)
        .map((m) => m[field])
        .filter((c): c is string => typeof c === 'string'),
    ),
  ];
}

/**
 * Request-level checks, the IAM check (before per-object rules, as a missing policy hides
 * everything), the stream limit, then per-object validation of a PostMetricDataDetails body
 * (including the metric-group dimension rule against `groupKeys`). A NON_ATOMIC request in which
 * no object is valid is rejected as a whole (OCI requires at least one valid object).
 */
export function validatePostBody(body: unknown, nowMs: number, checkScope?: ScopeCheck, groupKeys?: GroupKeys): BodyValidation {
  if (!isObject(body))
    return { ok: false, error: { status: 400, code: 'InvalidParameter', message: 'The request body must be a PostMetricDataDetails object' } };
  const atomicity = body.batchAtomicity ?? 'NON_ATOMIC';
  if (atomicity !== 'NON_ATOMIC' && atomicity !== 'ATOMIC') {
    return { ok: false, error: { status: 400, code: 'InvalidParameter', message: `Invalid batchAtomicity '${show(atomicity)}': ATOMIC or NON_ATOMIC` } };
  }
  if (body.metricData === undefined || body.metricData === null)
    return { ok: false, error: { status: 400, code: 'MissingParameter', message: 'metricData is required' } };
  if (!Array.isArray(body.metricData)) return { ok: false, error: { status: 400, code: 'InvalidParameter', message: 'metricData must be an array' } };
  const items = body.metricData as unknown[];
  if (items.length === 0) return { ok: false, error: { status: 400, code: 'InvalidParameter', message: 'metricData must contain at least 1 item' } };
  const denied = checkScope?.(distinctField(items, 'compartmentId'), distinctField(items, 'namespace'));
  if (denied) return { ok: false, error: denied };
  const streams = countStreams(items);
  if (streams > OCI_LIMITS.maxStreamsPerCall) {
    return {
      ok: false,
      error: {
        status: 400,
        code: 'LimitExceeded',
        message: `Too many metric streams in one request: ${streams} unique streams, at most ${OCI_LIMITS.maxStreamsPerCall} are allowed`,
      },
    };
  }
  const valid: StoredMetric[] = [];
  const failed: { message: string; metricData: unknown }[] = [];
  const addedKeys = new Map<string, Set<string>>();
  items.forEach((item) => {
    const r = validateMetricObject(item, nowMs);
    const groupProblem = r.metric ? checkMetricGroup(r.metric, groupKeys, addedKeys) : undefined;
    if (r.metric && groupProblem === undefined) valid.push(r.metric);
    else failed.push({ message: groupProblem ?? r.problems.join('; '), metricData: item });
  });
  const atomic = atomicity === 'ATOMIC';
  if (atomic && failed.length > 0) {
    const index = items.indexOf(failed[0].metricData);
    return {
      ok: false,
      error: { status: 400, code: 'InvalidParameter', message: `metricData[${index}]: ${failed[0].message} (batchAtomicity ATOMIC: nothing was accepted)` },
    };
  }
  // NON_ATOMIC needs at least one valid object: with none, the whole request is rejected.
  if (valid.length === 0) {
    const first = failed[0];
    return {
      ok: false,
      error: {
        status: 400,
        code: 'InvalidParameter',
        message: `No valid metric object in the request (${failed.length} invalid); metricData[${items.indexOf(first.metricData)}]: ${first.message}`,
      },
    };
  }
  return { ok: true, atomic, valid, failed };
}

/**
 * OCI's "dimensions per metric group" (at most 20; a group is a metric name in a namespace and
 * tenancy), read strictly: the distinct dimension keys over all the group's streams, stored ones
 * and those earlier in this request. Returns the problem, or undefined and records the keys.
 */
function checkMetricGroup(metric: StoredMetric, groupKeys: GroupKeys | undefined, addedKeys: Map<string, Set<string>>): string | undefined {
  const id = JSON.stringify([metric.namespace, metric.name]);
  const stored = groupKeys?.(metric.namespace, metric.name);
  const added = addedKeys.get(id) ?? new Set<string>();
  const union = new Set([...(stored ?? []), ...added, ...Object.keys(metric.dimensions)]);
  if (union.size > OCI_LIMITS.maxDimensions) {
    return (
      `Too many dimensions for the metric group ${metric.namespace}/${metric.name}: ` +
      `its streams would use ${union.size} distinct dimension keys, at most ${OCI_LIMITS.maxDimensions} are allowed`
    );
  }
  for (const k of Object.keys(metric.dimensions)) added.add(k);
  addedKeys.set(id, added);
  return undefined;
}
