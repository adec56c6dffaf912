/**
 * The stored form of a StateDocument: gzip-compressed JSON. Decoding is bounded (the object's
 * inflated size is capped: a small object must not inflate to more than the function's memory) and
 * strict: every section is validated by its row of STATE_SECTIONS, and a section in any shape the
 * code does not expect is corrupt: named, replaced by its empty value, while the others are kept.
 * A foreign or newer object is a named StateError and is never overwritten.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  STATE_FORMAT,
  STATE_VERSION,
  type FamilyState,
  type PacingState,
  type SpoolClaim,
  type StateDocument,
  type StoredSpool,
  type TargetState,
} from '../types/state';
import { StateError } from './errors';
import { encodeSpool, isSpoolEntry } from './spool';
import { isTriggerKeys, TRIGGER_KEYS_KEPT } from './trigger';

/** The bytes stored for a document. */
export function encodeState(doc: StateDocument): Buffer {
  return gzipSync(JSON.stringify(doc), { level: 6 });
}

/** The bound on a document's JSON when the caller gives none (tests, the CLI's file and memory stores). */
export const DEFAULT_MAX_STATE_BYTES = 64 * 1024 * 1024;

/** A plain (non-null, non-array) object. */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when v is a string array. */
function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** True when every value of a record satisfies a check. */
function everyValue(v: unknown, check: (x: unknown) => boolean): boolean {
  if (!isObject(v)) return false;
  for (const k in v) if (!check(v[k])) return false;
  return true;
}

/** True when v has the shape of a FamilyState. */
function isFamilyState(v: unknown): v is FamilyState {
  if (!isObject(v) || (v.k !== 'c' && v.k !== 'h' && v.k !== 's')) return false;
  if (v.le !== undefined && !isStringArray(v.le)) return false;
  if (v.sl !== undefined && !everyValue(v.sl, isStringArray)) return false;
  if (v.ts !== undefined && !everyValue(v.ts, Number.isFinite)) return false;
  for (const k in v) if (k !== 'k' && k !== 'le' && k !== 'sl' && k !== 'ts' && k !== 's') return false;
  return everyValue(v.s, (values) => Array.isArray(values) && values.length >= 1 && values.every((x) => x === null || Number.isFinite(x)));
}

/** True when v has the shape of a TargetState. */
function isTargetState(v: unknown): v is TargetState {
  return isObject(v) && Number.isFinite(v.t) && everyValue(v.f, isFamilyState) && Object.keys(v).length === 2;
}

/** A section as read: its value, or why it is corrupt, or both (a value with its malformed parts dropped). */
type SectionRead<T> = { value: T; corrupt?: string } | { value?: undefined; corrupt: string };

/** How one section of the document is read: its value checked, or why it is corrupt. */
interface SectionRow<T> {
  read(v: unknown): SectionRead<T>;
}

/** The longest write token or claim id read (ours are UUID-based, ~40 characters). */
const MAX_TOKEN_LENGTH = 100;

/** A short string (a write token, a claim's holder). */
function isToken(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_TOKEN_LENGTH;
}

/** The targets section: the previous scrapes in their shape; a malformed one is dropped (that target starts over) and named. */
function readTargets(v: unknown): SectionRead<Record<string, TargetState>> {
  if (!isObject(v)) return { corrupt: 'not an object of previous scrapes' };
  const targets: Record<string, TargetState> = {};
  let dropped = 0;
  for (const key of Object.keys(v)) {
    if (isTargetState(v[key])) Object.defineProperty(targets, key, { value: v[key], enumerable: true, writable: true, configurable: true });
    else dropped++;
  }
  return dropped === 0 ? { value: targets } : { value: targets, corrupt: `${dropped} malformed previous scrape(s) dropped` };
}

/**
 * The spool section: the compact form (`{ s, e }`, rows checked one by one when decoded, see
 * decodeSpool), or the first stored form, an array of entry objects (converted; malformed entries
 * dropped there, as decodeSpool drops malformed rows).
 */
function readSpool(v: unknown): SectionRead<StoredSpool> {
  if (Array.isArray(v)) return { value: encodeSpool(v.filter(isSpoolEntry)) };
  if (!isObject(v) || !isStringArray(v.s) || !Array.isArray(v.e) || Object.keys(v).length !== 2)
    return { corrupt: 'neither the compact form { s, e } nor a list of entries' };
  return { value: v as unknown as StoredSpool };
}

/** The claim section: who replays the spool, until when. */
function readClaim(v: unknown): SectionRead<SpoolClaim> {
  if (!isObject(v) || !isToken(v.by) || !Number.isFinite(v.until) || Object.keys(v).length !== 2) return { corrupt: 'not a { by, until } claim' };
  return { value: v as unknown as SpoolClaim };
}

/** The pacing section: the rate an invocation settled on (> 0 calls/s) and when. */
function readPacing(v: unknown): SectionRead<PacingState> {
  if (!isObject(v) || typeof v.rate !== 'number' || !(v.rate > 0) || !Number.isFinite(v.rate) || !Number.isFinite(v.at) || Object.keys(v).length !== 2)
    return { corrupt: 'not a { rate, at } settled rate' };
  return { value: v as unknown as PacingState };
}

/** The sections besides `format` and `version`; optional ones may be absent. */
type Sections = Omit<StateDocument, 'format' | 'version'>;

/**
 * How each section is read. A new field of the document is its type in StateDocument
 * (src/types/state.ts) and its row here (the compiler asks for it); a field no row reads makes the
 * document's extra part corrupt (named, dropped).
 */
const STATE_SECTIONS: { [K in keyof Sections]-?: SectionRow<NonNullable<Sections[K]>> } = {
  w: { read: (v) => (isToken(v) ? { value: v } : { corrupt: 'not a write token' }) },
  targets: { read: readTargets },
  spool: { read: readSpool },
  claim: { read: readClaim },
  trigger: { read: (v) => (isTriggerKeys(v) ? { value: v } : { corrupt: `not a list of at most ${TRIGGER_KEYS_KEPT} trigger keys` }) },
  pacing: { read: readPacing },
};

/** The empty value a corrupt required section is replaced by (optional ones are left out). */
const REQUIRED_EMPTY: Pick<Sections, 'targets'> = { targets: {} };

/** A decoded document and the sections that were replaced (each named with why). */
interface DecodedState {
  doc: StateDocument;
  /** Section -> why it was corrupt; empty when every section was read. */
  replaced: Record<string, string>;
  /** The inflated JSON's length (bytes): what the decoded document holds is about STATE_HELD_BYTES_PER_JSON_BYTE times it. */
  jsonBytes: number;
}

/** The document stored in `bytes`, inflated to at most `maxBytes`; throws StateError('corrupt' | 'too_large' | 'foreign' | 'unsupported_version'). */
export function decodeState(bytes: Uint8Array, where: string, maxBytes = DEFAULT_MAX_STATE_BYTES): DecodedState {
  let text: string;
  try {
    text = gunzipSync(bytes, { maxOutputLength: maxBytes }).toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw tooLarge(where, maxBytes);
    throw new StateError('corrupt', `the state object ${where} is not gzip data (corrupt, or written by something else); it is replaced at the next write`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StateError('corrupt', `the state object ${where} is not valid JSON (corrupt); it is replaced at the next write`);
  }
  if (!isObject(value) || value.format !== STATE_FORMAT) {
    throw new StateError(
      'foreign',
      `the object ${where} is not a prom2oci state object; it is left alone (point STATE_BUCKET at a bucket of its own, or delete the object)`,
    );
  }
  if (value.version !== STATE_VERSION) {
    throw new StateError(
      'unsupported_version',
      `the state object ${where} has version ${JSON.stringify(value.version)}; this prom2oci reads version ${STATE_VERSION} (a newer prom2oci wrote ` +
        `it?); it is left alone`,
    );
  }
  const doc: StateDocument = { format: STATE_FORMAT, version: STATE_VERSION, ...REQUIRED_EMPTY };
  const replaced: Record<string, string> = {};
  const fields = doc as unknown as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    if (key === 'format' || key === 'version') continue;
    const row = (STATE_SECTIONS as Record<string, SectionRow<unknown>>)[key];
    if (!Object.hasOwn(STATE_SECTIONS, key) || row === undefined) {
      replaced[key.slice(0, 40)] = 'not a section of the state document';
      continue;
    }
    const read = row.read(value[key]);
    if (read.corrupt !== undefined) replaced[key] = read.corrupt;
    if (read.value !== undefined) fields[key] = read.value;
  }
  return { doc, replaced, jsonBytes: text.length };
}

/** The error for an object that inflates beyond the bound. */
export function tooLarge(where: string, maxBytes: number): StateError {
  return new StateError(
    'too_large',
    `the state object ${where} is larger than this function's memory allows (${Math.round(maxBytes / 1024 / 1024)} MiB of JSON); ` +
      `it is replaced at the next write`,
  );
}

/** The message naming a document's replaced sections. */
export function replacedMessage(where: string, replaced: Readonly<Record<string, string>>): string {
  const list = Object.entries(replaced)
    .map(([k, why]) => `${k}: ${why}`)
    .join('; ');
  return `the state object ${where} had sections in an unexpected shape (${list}); they are replaced at the next write, the rest is used`;
}
