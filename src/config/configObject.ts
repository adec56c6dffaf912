/**
 * SCRAPE_CONFIG_OBJECT: the Prometheus configuration file read from Object Storage by every
 * invocation. A warm container keeps the parsed file with its ETag and asks with If-None-Match, so
 * an unchanged file answers 304 and costs no download and no parse; a changed one is used by the
 * next invocation. A file that does not parse is remembered by its ETag too (the same error, no
 * new download). Errors are ConfigErrors naming the setting, the object and, for a refusal, the IAM
 * statement to add; when Object Storage does not answer, a warm container keeps the file it has.
 */
import type * as objectStorageT from 'oci-objectstorage';
import { withCallSignal } from '../oci/call-signal';
import { configObjectStatement } from '../oci/iam';
import { readBody, statusOf } from '../state/objectStorage';
import { safeMessage } from '../util/redact';
import { parseScrapeConfig, ScrapeConfigError, type ScrapeConfigFile } from './scrapeConfig';
import { ConfigError, MAX_SCRAPE_CONFIG_OBJECT_BYTES, type ConfigObjectAddress } from './settings';

const KEY = 'SCRAPE_CONFIG_OBJECT';

/** One GetObject answer: the object's bytes and ETag, `notModified` (304), or `tooLarge` (over the cap: not read further; its size when known). */
type ConfigObjectAnswer = { etag: string; bytes: Buffer } | { notModified: true } | { tooLarge: true; size?: number };

/** GetObject of the configuration object, conditional on an ETag; throws the SDK's error. */
type ConfigObjectGet = (ifNoneMatch: string | undefined, signal: AbortSignal) => Promise<ConfigObjectAnswer>;

/** How this invocation got its configuration file (in the response, `scrapeConfig.object`). */
export interface ConfigObjectReport {
  /** oci://<bucket>@<namespace>/<object> */
  name: string;
  etag: string;
  /**
   * downloaded: a new or changed object; unchanged: 304, the parsed copy of the container was used;
   * kept: Object Storage did not answer, the last copy was used.
   */
  read: 'downloaded' | 'unchanged' | 'kept';
  /** Why the last copy was kept. */
  warning?: string;
}

/** What the container holds between invocations: the object's ETag and what it parsed to. */
type Held = { etag: string; file: ScrapeConfigFile; bytes: number } | { etag: string; error: ConfigError };

/** The configuration object of a warm container. */
export class ConfigObjectSource {
  private held: Held | undefined;
  readonly shown: string;

  constructor(
    private readonly get: ConfigObjectGet,
    private readonly where: ConfigObjectAddress & { namespace: string },
    private readonly dynamicGroup?: string,
  ) {
    this.shown = `oci://${where.bucket}@${where.namespace}/${where.object}`;
  }

  /**
   * The configuration for this invocation and its object's size (the memory budget reserves by it);
   * throws ConfigError naming SCRAPE_CONFIG_OBJECT.
   */
  async load(signal: AbortSignal): Promise<{ file: ScrapeConfigFile; bytes: number; report: ConfigObjectReport }> {
    const held = this.held;
    let answer: ConfigObjectAnswer;
    try {
      answer = await this.get(held?.etag, signal);
    } catch (e) {
      const failure = this.failure(e, signal);
      // Object Storage did not answer (timeout, network, 5xx): the file the container has is still the user's intent.
      if (failure.transient && held && 'file' in held) {
        return {
          file: held.file,
          bytes: held.bytes,
          report: { name: this.shown, etag: held.etag, read: 'kept', warning: `${failure.error.message}; the last copy read was used` },
        };
      }
      throw failure.error;
    }
    if ('notModified' in answer) {
      if (!held) throw new ConfigError(KEY, `Object Storage answered 304 Not Modified to ${this.shown} without a copy asked for`);
      if ('error' in held) throw held.error;
      return { file: held.file, bytes: held.bytes, report: { name: this.shown, etag: held.etag, read: 'unchanged' } };
    }
    if ('tooLarge' in answer) {
      throw new ConfigError(
        KEY,
        `${this.shown} is ${answer.size !== undefined ? `${answer.size} bytes, ` : ''}` +
          `more than the ${MAX_SCRAPE_CONFIG_OBJECT_BYTES} bytes (1 MiB) a function reads ` +
          '(the configuration stays in its memory between invocations): split the targets over more functions',
      );
    }
    const next = this.parse(answer);
    this.held = next;
    if ('error' in next) throw next.error;
    return { file: next.file, bytes: next.bytes, report: { name: this.shown, etag: next.etag, read: 'downloaded' } };
  }

  /** Parses a downloaded object; a YAML or key error names the object, the line and the column. */
  private parse(answer: { etag: string; bytes: Buffer }): Held {
    try {
      const file = parseScrapeConfig(answer.bytes.toString('utf8'), `${this.where.bucket}/${this.where.object}`);
      return { etag: answer.etag, file, bytes: answer.bytes.length };
    } catch (e) {
      if (e instanceof ScrapeConfigError) return { etag: answer.etag, error: new ConfigError(KEY, e.message) };
      throw e;
    }
  }

  /** The error for a failed GetObject, and whether it may pass (no answer, or a server error). */
  private failure(e: unknown, signal: AbortSignal): { error: ConfigError; transient: boolean } {
    if (signal.aborted) return { error: new ConfigError(KEY, `${this.shown} could not be read: no answer from Object Storage in time`), transient: true };
    const { status, code } = statusOf(e);
    const said = `${status ?? ''} ${code ?? ''}`.trim();
    const statement = configObjectStatement(this.dynamicGroup, this.where.bucket);
    if (status === 404) {
      const what =
        code === 'ObjectNotFound'
          ? `the object does not exist in bucket ${this.where.bucket} (upload it, or correct the setting)`
          : `the bucket ${this.where.bucket} does not exist in namespace ${this.where.namespace}, or the function may not read it ` +
            `(OCI answers 404 for both): create the bucket, or add the policy statement "${statement}"`;
      return { error: new ConfigError(KEY, `Object Storage answered ${said} to the read of ${this.shown}: ${what}`), transient: false };
    }
    if (status === 401 || status === 403) {
      return {
        error: new ConfigError(KEY, `Object Storage refused the read of ${this.shown} (${said}): add the policy statement "${statement}"`),
        transient: false,
      };
    }
    const transient = status === undefined || status === 429 || status >= 500;
    return { error: new ConfigError(KEY, `${this.shown} could not be read: ${said ? `${said}: ` : ''}${safeMessage(e)}`), transient };
  }
}

/** GetObject through the SDK with If-None-Match; the body is read only up to the cap. */
export function sdkConfigObjectGet(client: objectStorageT.ObjectStorageClient, where: ConfigObjectAddress & { namespace: string }): ConfigObjectGet {
  return async (ifNoneMatch, signal) => {
    try {
      return await withCallSignal(signal, async () => {
        const r = await client.getObject({
          namespaceName: where.namespace,
          bucketName: where.bucket,
          objectName: where.object,
          ...(ifNoneMatch !== undefined ? { ifNoneMatch } : {}),
        });
        if (r.contentLength !== undefined && r.contentLength > MAX_SCRAPE_CONFIG_OBJECT_BYTES) {
          // Not read: the connection is given up rather than the body held.
          const body = r.value as { destroy?: () => void; cancel?: () => Promise<void> };
          body.destroy?.();
          void body.cancel?.().catch(() => undefined);
          return { tooLarge: true, size: r.contentLength };
        }
        const bytes = await readBody(r.value, MAX_SCRAPE_CONFIG_OBJECT_BYTES);
        return bytes === undefined ? { tooLarge: true } : { etag: r.eTag ?? '', bytes };
      });
    } catch (e) {
      // The SDK treats every status outside 2xx as an error, 304 included.
      if (statusOf(e).status === 304 && !signal.aborted) return { notModified: true };
      throw e;
    }
  };
}
