import { createHash } from 'node:crypto';
import type { Labels, SkipReason } from '../types/model';
import { DIMENSION_KEY_RE, OCI_LIMITS } from './limits';
import { truncateUtf16 } from './metadata';

/** Prefix Prometheus gives an exposition label that clashes with a target label (honor_labels=false). */
const EXPORTED_PREFIX = 'exported_';

/** The dimension carrying the target's host:port. */
const INSTANCE_DIMENSION = 'instance';

/** The instance value used when the target gave none, so every series keeps at least one dimension. */
const UNKNOWN_INSTANCE = 'unknown';

/** Hex characters of the SHA-256 appended to a shortened value (64 bits: collisions are negligible). */
const VALUE_HASH_HEX_LENGTH = 16;

/** Separates the kept prefix of a shortened value from its hash. */
const SHORTENED_VALUE_MARK = '~';

/** Why a set of dimensions cannot be posted. */
type DimensionSkipReason = Extract<SkipReason, 'invalid_dimension' | 'too_many_dimensions'>;

/** Either the final dimensions of a series or the reason it cannot have any. */
type DimensionsResult = { ok: true; dimensions: Record<string, string> } | { ok: false; reason: DimensionSkipReason };

/** Keys already checked against DIMENSION_KEY_RE: label names repeat on every series. */
const checkedKeys = new Map<string, boolean>();
/** Bound of checkedKeys, so an exposition with unbounded label names cannot grow it forever. */
const CHECKED_KEYS_MAX = 10_000;

/** True when key is accepted by OCI as a dimension key (memoised; the rule is pure). */
export function isValidDimensionKey(key: string): boolean {
  let ok = checkedKeys.get(key);
  if (ok === undefined) {
    ok = DIMENSION_KEY_RE.test(key);
    if (checkedKeys.size >= CHECKED_KEYS_MAX) checkedKeys.clear();
    checkedKeys.set(key, ok);
  }
  return ok;
}

/** Short hex digest of the whole value; it keeps shortened values distinct. */
function valueHash(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, VALUE_HASH_HEX_LENGTH);
}

/**
 * Fits a value into OCI's 512 characters, counted as UTF-16 units (the reading OCI can never
 * reject): longer values keep a prefix and get `~` plus a hash of the whole value, so distinct
 * inputs stay distinct. Never splits a surrogate pair.
 */
export function shortenDimensionValue(value: string): string {
  const max = OCI_LIMITS.maxDimensionValueLength;
  if (value.length <= max) return value;
  const keep = max - SHORTENED_VALUE_MARK.length - VALUE_HASH_HEX_LENGTH;
  return truncateUtf16(value, keep) + SHORTENED_VALUE_MARK + valueHash(value);
}

/** True when some label has an empty value. */
function hasEmptyLabel(labels: Labels): boolean {
  // An own `__proto__` label is enumerated and read like any other own property.
  for (const key in labels) if (Object.hasOwn(labels, key) && labels[key] === '') return true;
  return false;
}

/** Drops labels with an empty value: Prometheus treats them as absent. Returns `labels` itself when none is empty. */
function dropEmptyLabels(labels: Labels): Labels {
  // The common case (no empty value) allocates nothing: this runs once per sample.
  if (!hasEmptyLabel(labels)) return labels;
  // fromEntries defines own properties, so a label named `__proto__` stays a plain label.
  return Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ''));
}

/**
 * The dimensions every series of a target gets: EXTRA_DIMENSIONS, the target's own (a discovered
 * instance's resourceId, shape, ...), then `instance`. Later ones win a name clash, so series of
 * different targets stay apart and a discovered fact is not hidden by a fixed extra dimension.
 */
export function targetDimensions(
  instance: string,
  extraDimensions: Record<string, string>,
  ownDimensions: Record<string, string> = {},
): Record<string, string> {
  const keep = ([k, v]: [string, string]) => v !== '' && k !== INSTANCE_DIMENSION;
  const own = Object.entries(ownDimensions).filter(keep);
  const extras = Object.entries(extraDimensions).filter((e) => keep(e) && !Object.hasOwn(ownDimensions, e[0]));
  return Object.fromEntries([...extras, ...own, [INSTANCE_DIMENSION, instance === '' ? UNKNOWN_INSTANCE : instance]]);
}

/**
 * Renames exposition labels whose names clash with an added dimension to `exported_<label>`,
 * repeating the prefix while the new name still clashes (with an added dimension or another label).
 */
function renameCollidingLabels(labels: Labels, added: Record<string, string>): Labels {
  // The common case (no clash) allocates nothing: this runs once per sample.
  if (!Object.keys(labels).some((k) => Object.hasOwn(added, k))) return labels;
  const taken = new Set([...Object.keys(added), ...Object.keys(labels)]);
  const renamed = Object.entries(labels).map(([k, v]): [string, string] => {
    if (!Object.hasOwn(added, k)) return [k, v];
    let name = EXPORTED_PREFIX + k;
    while (taken.has(name)) name = EXPORTED_PREFIX + name;
    taken.add(name);
    return [name, v];
  });
  return Object.fromEntries(renamed);
}

/** The first reason OCI would reject these dimensions (a bad key or empty value, then the count), or undefined. */
function dimensionProblem(entries: readonly [string, string][]): DimensionSkipReason | undefined {
  if (!entries.every(([k, v]) => isValidDimensionKey(k) && v !== '')) return 'invalid_dimension';
  if (entries.length < OCI_LIMITS.minDimensions) return 'invalid_dimension';
  if (entries.length > OCI_LIMITS.maxDimensions) return 'too_many_dimensions';
  return undefined;
}

/** Orders entries by key (code-unit order), so equal dimension sets serialise equally. */
function byKey(a: [string, string], b: [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * A sample's final dimensions: its non-empty labels (renamed where they clash) plus the added
 * dimensions, validated against OCI's rules, keys sorted, values shortened to OCI's length.
 */
export function buildDimensions(labels: Labels, added: Record<string, string>): DimensionsResult {
  const entries = Object.entries(renameCollidingLabels(dropEmptyLabels(labels), added));
  for (const key in added) if (Object.hasOwn(added, key)) entries.push([key, added[key]]);
  const reason = dimensionProblem(entries);
  if (reason !== undefined) return { ok: false, reason };
  entries.sort(byKey);
  // Values are shortened in place: `entries` is this call's own array.
  for (const entry of entries) if (entry[1].length > OCI_LIMITS.maxDimensionValueLength) entry[1] = shortenDimensionValue(entry[1]);
  return { ok: true, dimensions: Object.fromEntries(entries) };
}
