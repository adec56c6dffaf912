/**
 * Object Storage as the emulator serves it: GetObject, PutObject and HeadObject on
 * /n/{namespace}/b/{bucket}/o/{object}, ListObjects on /n/{namespace}/b/{bucket}/o (`prefix`,
 * `start`, `limit` up to 1000, `fields` among name, size, timeModified, etag; names in order,
 * `nextStartWith` when more), with OCI's answers: ETags on every object version,
 * If-Match / If-None-Match preconditions (412 IfMatchFailed / IfNoneMatchFailed; 304 for a GET
 * whose If-None-Match matches), 404 BucketNotFound (also for a bucket the caller may not use: OCI
 * does not tell the two apart) and 404 ObjectNotFound. Signatures are verified by the server
 * before these run; PutObject's body is not part of the signature, as in OCI.
 */
import { createHash, randomUUID } from 'node:crypto';

/** The path prefix of the Object Storage API. */
const PATH_RE = /^\/n\/([^/]+)\/b\/([^/]+)\/o\/(.+)$/;
/** A bucket's object list. */
const LIST_RE = /^\/n\/([^/]+)\/b\/([^/]+)\/o\/?$/;
/** ListObjects' largest page (OCI's). */
const LIST_MAX = 1000;

/** One stored object version. */
interface StoredObject {
  bytes: Buffer;
  etag: string;
  contentType: string;
  lastModified: Date;
}

/** A request addressed to an object. */
interface ObjectAddress {
  namespace: string;
  bucket: string;
  object: string;
}

/** An answer: status, headers, and a body (JSON for errors, bytes for GetObject). */
interface ObjectAnswer {
  status: number;
  headers: Record<string, string>;
  body?: Buffer;
  error?: { code: string; message: string };
}

/** The address of an Object Storage path, or undefined when the path is not one (or not decodable). */
export function objectAddressOf(path: string): ObjectAddress | undefined {
  const m = PATH_RE.exec(path);
  if (!m) return undefined;
  try {
    return { namespace: decodeURIComponent(m[1]), bucket: decodeURIComponent(m[2]), object: decodeURIComponent(m[3]) };
  } catch {
    return undefined;
  }
}

/** The bucket a ListObjects path names, or undefined when the path is not one. */
export function listAddressOf(path: string): { namespace: string; bucket: string } | undefined {
  const m = LIST_RE.exec(path);
  if (!m) return undefined;
  try {
    return { namespace: decodeURIComponent(m[1]), bucket: decodeURIComponent(m[2]) };
  } catch {
    return undefined;
  }
}

/** Buckets and their objects, in memory. */
export class ObjectStorageState {
  /** The tenancy's namespace (`oci os ns get`). */
  namespace = 'emulatorns';
  /** bucket name -> object name -> object. */
  readonly buckets = new Map<string, Map<string, StoredObject>>();
  /** Buckets that exist but the caller may not use (no policy): answered like missing ones. */
  readonly deniedBuckets = new Set<string>();
  /** `bucket/object` -> GetObject answers that carried the object's bytes (a 304 or a HEAD carries none): what a download cost. */
  readonly bodiesServed = new Map<string, number>();
  /** Called before a PutObject is judged: lets a test play another writer that comes first. */
  beforePut: ((address: ObjectAddress) => void) | undefined;

  /** Stores an object directly (as another writer would), with a fresh ETag; returns it. */
  putDirect(bucket: string, object: string, bytes: Buffer, now = new Date()): StoredObject {
    this.createBucket(bucket);
    const stored: StoredObject = { bytes, etag: randomUUID(), contentType: 'application/octet-stream', lastModified: now };
    this.buckets.get(bucket)!.set(object, stored);
    return stored;
  }

  /** Creates a bucket (idempotent). */
  createBucket(name: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, new Map());
  }

  /** Forgets every object (buckets stay). */
  clearObjects(): void {
    for (const objects of this.buckets.values()) objects.clear();
  }

  /** Answers a ListObjects request after authentication: a JSON page of the bucket's objects, in name order. */
  list(address: { namespace: string; bucket: string }, query: URLSearchParams): ObjectAnswer {
    const objects = this.bucketOf(address);
    if ('status' in objects) return objects;
    const prefix = query.get('prefix') ?? '';
    const start = query.get('start') ?? '';
    const limitText = query.get('limit');
    const limit = limitText === null ? LIST_MAX : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > LIST_MAX) return fail(400, 'InvalidParameter', `limit must be an integer from 1 to ${LIST_MAX}`);
    const fields = new Set((query.get('fields') ?? 'name').split(',').map((f) => f.trim()));
    const names = [...objects.keys()].filter((n) => n.startsWith(prefix) && n >= start).sort();
    const page = names.slice(0, limit).map((name) => {
      const o = objects.get(name)!;
      return {
        name,
        ...(fields.has('size') ? { size: o.bytes.length } : {}),
        ...(fields.has('timeModified') ? { timeModified: o.lastModified.toISOString() } : {}),
        ...(fields.has('etag') ? { etag: o.etag } : {}),
      };
    });
    const body = { objects: page, ...(names.length > limit ? { nextStartWith: names[limit] } : {}) };
    return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) };
  }

  /** A bucket's objects, or the answer OCI gives for a namespace or bucket the caller may not use. */
  private bucketOf(address: { namespace: string; bucket: string }): Map<string, StoredObject> | ObjectAnswer {
    if (address.namespace !== this.namespace) {
      return fail(
        404,
        'NamespaceNotFound',
        `You do not have authorization to perform this request, or the requested resource could not be found (namespace ${address.namespace})`,
      );
    }
    const objects = this.buckets.get(address.bucket);
    if (objects === undefined || this.deniedBuckets.has(address.bucket)) {
      return fail(
        404,
        'BucketNotFound',
        `Either the bucket named '${address.bucket}' does not exist in the namespace '${address.namespace}' or you are not authorized to access it`,
      );
    }
    return objects;
  }

  /** Answers one request after authentication. */
  handle(method: string, address: ObjectAddress, headers: Record<string, string | string[] | undefined>, body: Buffer, now: Date): ObjectAnswer {
    const header = (name: string): string | undefined => {
      const v = headers[name];
      return Array.isArray(v) ? v.join(', ') : v;
    };
    const objects = this.bucketOf(address);
    if ('status' in objects) return objects;
    if (method === 'PUT') this.beforePut?.(address);
    const current = objects.get(address.object);
    const ifMatch = header('if-match');
    const ifNoneMatch = header('if-none-match');
    if (method === 'PUT') {
      if (ifMatch !== undefined && (current === undefined || !etagMatches(ifMatch, current.etag))) {
        return fail(
          412,
          'IfMatchFailed',
          `The If-Match precondition failed: the object '${address.object}' ${current === undefined ? 'does not exist' : 'has another ETag'}`,
        );
      }
      if (ifNoneMatch !== undefined && current !== undefined && (ifNoneMatch.trim() === '*' || etagMatches(ifNoneMatch, current.etag))) {
        return fail(412, 'IfNoneMatchFailed', `The If-None-Match precondition failed: the object '${address.object}' already exists`);
      }
      const stored: StoredObject = {
        bytes: Buffer.from(body),
        etag: randomUUID(),
        contentType: header('content-type') ?? 'application/octet-stream',
        lastModified: now,
      };
      objects.set(address.object, stored);
      return {
        status: 200,
        headers: { etag: stored.etag, 'opc-content-md5': createHash('md5').update(body).digest('base64'), 'last-modified': now.toUTCString() },
      };
    }
    if (current === undefined) return fail(404, 'ObjectNotFound', `The object '${address.object}' was not found in the bucket '${address.bucket}'`);
    if (ifMatch !== undefined && !etagMatches(ifMatch, current.etag)) return fail(412, 'IfMatchFailed', 'The If-Match precondition failed');
    const found = {
      etag: current.etag,
      'content-type': current.contentType,
      'content-length': String(current.bytes.length),
      'last-modified': current.lastModified.toUTCString(),
    };
    if (ifNoneMatch !== undefined && (ifNoneMatch.trim() === '*' || etagMatches(ifNoneMatch, current.etag)))
      return { status: 304, headers: { etag: current.etag } };
    if (method === 'HEAD') return { status: 200, headers: found };
    const key = `${address.bucket}/${address.object}`;
    this.bodiesServed.set(key, (this.bodiesServed.get(key) ?? 0) + 1);
    return { status: 200, headers: found, body: current.bytes };
  }
}

/** True when an If-Match / If-None-Match header names the ETag (a list, quoted or not). */
function etagMatches(header: string, etag: string): boolean {
  return header.split(',').some((v) => v.trim().replace(/^W\//, '').replace(/^"|"$/g, '') === etag);
}

/** An error answer. */
function fail(status: number, code: string, message: string): ObjectAnswer {
  return { status, headers: {}, error: { code, message } };
}
