/**
 * The pacing board in Object Storage (the rules: src/publish/board.ts): one small object per
 * deployment under `prom2oci/pacing/`, named after its state object (so no two deployments write
 * the same one: no write contention, no conditional writes), in the deployment's STATE_BUCKET;
 * deployments that share a bucket (the shards of one configuration, or several functions pointed at
 * one bucket) see one another.
 *
 *   write()  stores this deployment's entry (a plain PutObject: only this deployment writes it);
 *   read()   lists the prefix (one page, at most BOARD_MAX_ENTRIES + 1 names, with their size and
 *            time), skips this deployment's own, the stale (older than BOARD_STALE_MS by the list's
 *            time, not downloaded), the too large (over BOARD_ENTRY_MAX_BYTES, not downloaded), and
 *            reads the others; a malformed entry is named and left out: no stored object stops the
 *            function. Bounded: at most BOARD_MAX_ENTRIES x BOARD_ENTRY_MAX_BYTES are held.
 *
 * Failures are a BoardError with OCI's answer: the caller posts as without a board and says why.
 */
import type * as objectStorageT from 'oci-objectstorage';
import { withCallSignal } from '../oci/call-signal';
import { stateStatements } from '../oci/iam';
import { safeMessage } from '../util/redact';
import { freshEntries, BOARD_ENTRY_MAX_BYTES, BOARD_MAX_ENTRIES, BOARD_STALE_MS, encodeEntry, parseEntry, type BoardEntry } from '../publish/board';
import { readBody, statusOf } from './objectStorage';

/** Where the board's objects live in the bucket. */
export const BOARD_PREFIX = 'prom2oci/pacing/';

/** What one read of the board found. */
interface BoardRead {
  /** The other deployments' entries (not this deployment's own), fresh and well-formed. */
  entries: BoardEntry[];
  /** Objects under the prefix that were left out, each with why (malformed, too large, too many). */
  problems: string[];
}

/** The board of one deployment. */
export interface PacingBoard {
  /** Where the board is (no secrets), for messages. */
  readonly where: string;
  /** This deployment's object. */
  readonly own: string;
  write(entry: BoardEntry, signal: AbortSignal): Promise<void>;
  read(nowMs: number, signal: AbortSignal): Promise<BoardRead>;
}

/** A failed board call, with what to do. */
export class BoardError extends Error {
  override name = 'BoardError';
  constructor(
    message: string,
    readonly iamPolicy?: string,
  ) {
    super(message);
  }
}

/** The board object of a deployment whose state object is `stateObjectName` (its hash names both). */
export function boardObjectName(stateObjectName: string): string {
  const id = /state-([0-9a-f]+)/.exec(stateObjectName)?.[1] ?? stateObjectName.replace(/[^A-Za-z0-9_-]/g, '_');
  return `${BOARD_PREFIX}${id}.json`;
}

/** The pacing board in a bucket of Object Storage, for the deployment whose own object is `own`. */
export function objectStorageBoard(
  client: objectStorageT.ObjectStorageClient,
  where: { namespace: string; bucket: string; own: string },
  dynamicGroup?: string,
): PacingBoard {
  const { namespace, bucket, own } = where;
  const shown = `oci://${bucket}@${namespace}/${BOARD_PREFIX}`;
  const failure = (action: string, e: unknown, signal: AbortSignal): BoardError => {
    if (signal.aborted) return new BoardError(`the pacing board's ${action} (${shown}) got no answer in time`);
    const { status, code } = statusOf(e);
    const said = `${status ?? ''} ${code ?? ''}`.trim();
    if (status === 401 || status === 403 || status === 404)
      return new BoardError(
        `Object Storage answered ${said} to the pacing board's ${action} (${shown}): add the policy statement`,
        stateStatements(dynamicGroup, bucket),
      );
    return new BoardError(`the pacing board's ${action} (${shown}) failed: ${said ? `${said}: ` : ''}${safeMessage(e)}`);
  };
  /** One entry's text, or why it was not read. */
  const readEntry = async (objectName: string, signal: AbortSignal): Promise<BoardEntry | string> => {
    try {
      const r = await withCallSignal(signal, () => client.getObject({ namespaceName: namespace, bucketName: bucket, objectName }));
      const bytes = await readBody(r.value, BOARD_ENTRY_MAX_BYTES);
      if (bytes === undefined) return `${objectName}: larger than ${BOARD_ENTRY_MAX_BYTES} bytes`;
      const parsed = parseEntry(bytes.toString('utf8'));
      return 'problem' in parsed ? `${objectName}: ${parsed.problem}` : parsed;
    } catch (e) {
      if (statusOf(e).status === 404 && !signal.aborted) return `${objectName}: gone`;
      throw failure('read', e, signal);
    }
  };
  return {
    where: shown,
    own,
    async write(entry, signal) {
      const body = Buffer.from(encodeEntry(entry));
      try {
        await withCallSignal(signal, () =>
          client.putObject({
            namespaceName: namespace,
            bucketName: bucket,
            objectName: own,
            putObjectBody: body,
            contentLength: body.length,
            contentType: 'application/json',
          }),
        );
      } catch (e) {
        throw failure('write', e, signal);
      }
    },
    async read(nowMs, signal) {
      let listed: objectStorageT.models.ObjectSummary[];
      try {
        const r = await withCallSignal(signal, () =>
          client.listObjects({
            namespaceName: namespace,
            bucketName: bucket,
            prefix: BOARD_PREFIX,
            limit: BOARD_MAX_ENTRIES + 1,
            fields: 'name,size,timeModified',
          }),
        );
        listed = r.listObjects.objects;
      } catch (e) {
        throw failure('list', e, signal);
      }
      const problems: string[] = [];
      if (listed.length > BOARD_MAX_ENTRIES) problems.push(`more than ${BOARD_MAX_ENTRIES} objects under ${BOARD_PREFIX}: the first ${BOARD_MAX_ENTRIES} read`);
      const toRead: string[] = [];
      for (const o of listed.slice(0, BOARD_MAX_ENTRIES)) {
        if (o.name === own) continue;
        const modified = o.timeModified ? new Date(o.timeModified).getTime() : NaN;
        if (Number.isFinite(modified) && nowMs - modified > BOARD_STALE_MS) continue; // another deployment's past: not even downloaded
        if (o.size !== undefined && o.size > BOARD_ENTRY_MAX_BYTES) {
          problems.push(`${o.name}: larger than ${BOARD_ENTRY_MAX_BYTES} bytes (${o.size})`);
          continue;
        }
        toRead.push(o.name);
      }
      const read = await Promise.all(toRead.map((name) => readEntry(name, signal)));
      const entries: BoardEntry[] = [];
      for (const r of read) {
        if (typeof r === 'string') problems.push(r);
        else entries.push(r);
      }
      return { entries: freshEntries(entries, nowMs), problems: problems.filter((p) => !p.endsWith(': gone')) };
    },
  };
}
