/**
 * The state in an OCI Object Storage object: GetObject once per invocation, PutObject with
 * If-Match (If-None-Match: * when there is no object yet); a 412 is a precondition failure.
 * Errors become StateError with the cause and, for 404/authorization errors, the IAM statement to add.
 * The configuration object (src/config/configObject.ts) reads its GetObject answers with the same helpers.
 */
import type { Readable } from 'node:stream';
import type * as objectStorageT from 'oci-objectstorage';
import { safeMessage } from '../util/redact';
import { withCallSignal } from '../oci/call-signal';
import { stateStatements } from '../oci/iam';
import { DEFAULT_MAX_STATE_BYTES } from './codec';
import { StateError } from './errors';
import type { BlobBackend } from './store';

/** An SDK error's HTTP status and service code, when it has them. */
export function statusOf(e: unknown): { status?: number; code?: string } {
  if (typeof e !== 'object' || e === null) return {};
  const r = e as { statusCode?: unknown; serviceCode?: unknown };
  return { status: typeof r.statusCode === 'number' ? r.statusCode : undefined, code: typeof r.serviceCode === 'string' ? r.serviceCode : undefined };
}

/** Reads a GetObject body (a web or Node stream) into bytes, at most `maxBytes`; undefined when it is larger (the rest is not read). */
export async function readBody(value: Readable | ReadableStream, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of value as AsyncIterable<Uint8Array | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    size += bytes.length;
    if (size > maxBytes) {
      (value as { destroy?: () => void }).destroy?.();
      return undefined;
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

/**
 * Runs a call again once when it failed without an HTTP answer (a network error): a kept-alive
 * connection the server closed while this process was busy (a long transform blocks the event
 * loop) fails the next request at once. Both calls are safe to repeat: GetObject reads, and a
 * conditional PutObject that did go through answers the repeat with 412 (then re-read and merged).
 */
async function onceMoreOnNetworkError<T>(call: () => Promise<T>, signal: AbortSignal): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (signal.aborted || statusOf(e).status !== undefined) throw e;
    return call();
  }
}

/**
 * A backend over one object of a bucket; `dynamicGroup` (FUNCTION_DYNAMIC_GROUP) is named in the
 * IAM hint; an object larger than `maxBytes` is too large to read (replaced at the next write).
 */
export function objectStorageBackend(
  client: objectStorageT.ObjectStorageClient,
  where: { namespace: string; bucket: string; objectName: string },
  dynamicGroup?: string,
  maxBytes = DEFAULT_MAX_STATE_BYTES,
): BlobBackend {
  const { namespace, bucket, objectName } = where;
  const shown = `oci://${bucket}@${namespace}/${objectName}`;
  /** A StateError for a failed call, naming what to do. */
  const failure = (action: 'read' | 'write', e: unknown, signal: AbortSignal): StateError => {
    if (signal.aborted) return new StateError('timeout', `the state ${action} of ${shown} got no answer in time`);
    const { status, code } = statusOf(e);
    const said = `${status ?? ''} ${code ?? ''}`.trim();
    if (status === 404) {
      return new StateError(
        'not_authorized_or_not_found',
        `Object Storage answered ${said} to the state ${action} of ${shown}: the bucket does not exist in namespace ${namespace}, or the function may ` +
          `not use it; create the bucket, or add the policy statement`,
        stateStatements(dynamicGroup, bucket),
      );
    }
    if (status === 401 || status === 403) {
      return new StateError(
        'not_authorized',
        `Object Storage refused the state ${action} of ${shown} (${said}): add the policy statement`,
        stateStatements(dynamicGroup, bucket),
      );
    }
    // fetch() says only "fetch failed": the network cause (ECONNRESET, ENOTFOUND...) is in `cause`.
    const cause = (e as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
    const causeText = [cause?.code, cause?.message].find((x) => typeof x === 'string') ?? '';
    const detail = cause && typeof cause === 'object' ? ` (${causeText})` : '';
    return new StateError('unavailable', `the state ${action} of ${shown} failed: ${status !== undefined ? `${said}: ` : ''}${safeMessage(e)}${detail}`);
  };
  return {
    where: shown,
    async get(signal) {
      try {
        const response = await onceMoreOnNetworkError(
          () =>
            withCallSignal(signal, async () => {
              const r = await client.getObject({ namespaceName: namespace, bucketName: bucket, objectName });
              const bytes = r.contentLength !== undefined && r.contentLength > maxBytes ? undefined : await readBody(r.value, maxBytes);
              // Too large to hold: an empty body stands for it, which the codec names and the next write replaces.
              return { etag: r.eTag, bytes: bytes ?? Buffer.alloc(0), tooLarge: bytes === undefined };
            }),
          signal,
        );
        return response;
      } catch (e) {
        const { status, code } = statusOf(e);
        if (status === 404 && code !== 'BucketNotFound' && !signal.aborted) return undefined; // no state yet
        throw failure('read', e, signal);
      }
    },
    async put(bytes, expectedEtag, signal) {
      try {
        const written = await onceMoreOnNetworkError(
          () =>
            withCallSignal(signal, () =>
              client.putObject({
                namespaceName: namespace,
                bucketName: bucket,
                objectName,
                putObjectBody: Buffer.from(bytes),
                contentLength: bytes.length,
                contentType: 'application/gzip',
                ...(expectedEtag === undefined ? { ifNoneMatch: '*' } : { ifMatch: expectedEtag }),
              }),
            ),
          signal,
        );
        return written.eTag ?? '';
      } catch (e) {
        if (statusOf(e).status === 412 && !signal.aborted) return false;
        throw failure('write', e, signal);
      }
    },
  };
}
