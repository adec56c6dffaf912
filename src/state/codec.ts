/**
 * The stored form of a StateDocument: gzip-compressed JSON. Decoding checks everything the
 * derivations read, so a corrupt, foreign or newer object is a named StateError, never a crash.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { STATE_FORMAT, STATE_VERSION, type FamilyState, type PacingState, type StateDocument, type TargetState } from '../types/state';
import { StateError } from './errors';

/** The bytes stored for a document. */
export function encodeState(doc: StateDocument): Buffer {
  return gzipSync(JSON.stringify(doc), { level: 6 });
}

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
  return everyValue(v.s, (values) => Array.isArray(values) && values.length >= 1 && values.every((x) => x === null || Number.isFinite(x)));
}

/** True when v has the shape of a TargetState. */
function isTargetState(v: unknown): v is TargetState {
  return isObject(v) && Number.isFinite(v.t) && everyValue(v.f, isFamilyState);
}

/** True when v has the shape of a PacingState: a positive finite rate, a finite time. */
function isPacingState(v: unknown): v is PacingState {
  return isObject(v) && typeof v.rate === 'number' && Number.isFinite(v.rate) && v.rate > 0 && typeof v.at === 'number' && Number.isFinite(v.at);
}

/** The document stored in `bytes`; throws StateError('corrupt' | 'foreign' | 'unsupported_version'). */
export function decodeState(bytes: Uint8Array, where: string): StateDocument {
  let text: string;
  try {
    text = gunzipSync(bytes).toString('utf8');
  } catch {
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
  if (!everyValue(value.targets, isTargetState) || (value.pacing !== undefined && !isPacingState(value.pacing))) {
    throw new StateError('corrupt', `the state object ${where} does not have the expected fields (corrupt); it is replaced at the next write`);
  }
  return value as unknown as StateDocument;
}
