/**
 * Scrape stage: one HTTP GET of a target's /metrics, with the limits a per-minute job needs
 * (timeout for the whole exchange, size cap after decompression, bounded same-host redirects).
 * Uses node:http directly so every failure has a named cause and nothing outlives the call.
 */
import http from 'node:http';
import https from 'node:https';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { redactUrl } from '../util/redact';
import { decodeExposition } from '../parse/utf8';

/** The Accept header Prometheus uses for the classic text format; OpenMetrics/protobuf are never negotiated. */
export const SCRAPE_ACCEPT = 'text/plain;version=0.0.4';
const USER_AGENT = 'prom2oci/0.1';
const MAX_REDIRECTS = 5;

export interface ScrapeOptions {
  timeoutMs: number;
  maxBytes: number;
  bearerToken?: string;
  /** Follow a redirect to a different host:port (same scheme only). Default false. */
  followRedirectsToOtherHosts?: boolean;
  /** Aborts the scrape (e.g. the invocation's deadline). */
  signal?: AbortSignal;
  /** The `instance` dimension; default host:port (see instancesOf). */
  instance?: string;
  /** Clock, for tests. */
  now?: () => number;
  /**
   * Takes the body's (decompressed) bytes as they arrive, e.g. the streaming parser; the result's
   * `text` is then empty: the body is never held whole. A push that throws ends the scrape with
   * that error, and the rest of the body is not read.
   */
  consume?: { push(chunk: Buffer): void };
}

interface ScrapeBase {
  /** The target URL without credentials. */
  url: string;
  /** host:port, the `instance` dimension. */
  instance: string;
  /** When the scrape started (ms since epoch): the timestamp of all its samples. */
  scrapeTimeMs: number;
  durationMs: number;
}

export type ScrapeResult = (ScrapeBase & { ok: true; text: string; bytes: number }) | (ScrapeBase & { ok: false; error: string });

/** A scrape failure with a message that is safe to show (no credentials, no token). */
class ScrapeError extends Error {
  override name = 'ScrapeError';
}

/** host:port of a URL, with the scheme's default port made explicit (as Prometheus' instance label). */
export function instanceOf(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname}:${port}`; // hostname keeps IPv6 brackets
}

/**
 * The `instance` of each endpoint: host:port, as Prometheus; when several endpoints share a
 * host:port (e.g. /metrics and /federate) the path (and query) is added, else their series merge.
 * When they differ only in what redaction hides (a credential in the query, user:password), a
 * short hash of the whole URL keeps them apart without showing the secret.
 */
export function instancesOf(urls: readonly URL[]): string[] {
  const hostPorts = urls.map(instanceOf);
  const shared = (hp: string) => hostPorts.indexOf(hp) !== hostPorts.lastIndexOf(hp);
  const withPath = urls.map((u, i) => (shared(hostPorts[i]) ? hostPorts[i] + u.pathname : hostPorts[i]));
  const withQuery = withPath.map((w, i) => (withPath.indexOf(w) !== withPath.lastIndexOf(w) ? w + new URL(displayUrl(urls[i])).search : w));
  return withQuery.map((w, i) => (withQuery.indexOf(w) !== withQuery.lastIndexOf(w) ? `${w}#${urlHash(urls[i])}` : w));
}

/** 8 hex digits of SHA-256 over the URL: tells URLs apart, reveals nothing usable of a credential in it. */
function urlHash(url: URL): string {
  return createHash('sha256').update(url.href).digest('hex').slice(0, 8);
}

/** The URL as shown to users: no user:password, no credential-like query values. */
export function displayUrl(url: URL): string {
  return redactUrl(url);
}

/**
 * `text` (an error message that may quote what a target sent: its reason phrase, a Location or
 * Content-Type header, a line of its exposition) without the credentials sent to it: the bearer
 * token and the URL's password, raw, percent-encoded and base64-encoded (a target may echo any).
 */
export function hideCredentials(text: string, creds: { bearerToken?: string; url?: URL }): string {
  const secrets = new Set<string>();
  const add = (v: string | undefined) => {
    if (!v) return;
    const base64 = Buffer.from(v).toString('base64');
    for (const form of [v, encodeURIComponent(v), base64, encodeURIComponent(base64)]) secrets.add(form);
  };
  add(creds.bearerToken);
  if (creds.url?.password) {
    add(creds.url.password);
    add(safeDecode(creds.url.password));
    add(`${safeDecode(creds.url.username)}:${safeDecode(creds.url.password)}`);
  }
  let out = text;
  // Longest first, so a secret that contains another is hidden whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join('[redacted]');
  return out;
}

/** decodeURIComponent that returns its input when it is not valid percent-encoding. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Scrapes one target; never throws, the result says what happened. */
export async function scrapeTarget(url: URL, opts: ScrapeOptions): Promise<ScrapeResult> {
  const now = opts.now ?? Date.now;
  const started = now();
  const base = { url: displayUrl(url), instance: opts.instance ?? instanceOf(url), scrapeTimeMs: started };
  try {
    const { text, bytes } = await fetchWithRedirects(url, opts);
    return { ...base, ok: true, text, bytes, durationMs: now() - started };
  } catch (e) {
    return { ...base, ok: false, error: hideCredentials(describeScrapeError(e), { bearerToken: opts.bearerToken, url }), durationMs: now() - started };
  }
}

/** A short cause for a failed scrape (credentials are hidden by the caller). */
function describeScrapeError(e: unknown): string {
  if (e instanceof ScrapeError) return e.message;
  const err = e as NodeJS.ErrnoException & { hostname?: string };
  let msg: string;
  switch (err?.code) {
    case 'ECONNREFUSED':
      msg = 'connection refused';
      break;
    case 'ENOTFOUND':
      msg = `DNS lookup failed (${err.hostname ?? 'host'} not found)`;
      break;
    case 'EAI_AGAIN':
      msg = 'DNS lookup failed (temporary failure)';
      break;
    case 'ECONNRESET':
      msg = 'connection reset by the target';
      break;
    case 'EHOSTUNREACH':
      msg = 'host unreachable';
      break;
    case 'ETIMEDOUT':
      msg = 'connection timed out';
      break;
    case 'CERT_HAS_EXPIRED':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      msg = `TLS certificate rejected (${err.code})`;
      break;
    default:
      // llhttp parse errors (HPE_*): something other than an HTTP server answered, e.g. a wrong port.
      if (typeof err?.code === 'string' && err.code.startsWith('HPE_')) {
        msg = `not an HTTP response (is this the metrics port?): ${err.message}`;
        break;
      }
      msg = err?.message ? `${err.code ? err.code + ': ' : ''}${err.message}` : String(e);
  }
  return msg;
}

/**
 * GETs url, following at most MAX_REDIRECTS redirects on the same scheme (a downgrade to http would
 * expose credentials; an upgrade changes the trust anchor) and, unless configured, the same host.
 * Credentials (bearer token, user:password) are only ever sent to the configured host: a redirect
 * elsewhere must not receive them.
 */
async function fetchWithRedirects(start: URL, opts: ScrapeOptions): Promise<{ text: string; bytes: number }> {
  const deadline = (opts.now ?? Date.now)() + opts.timeoutMs;
  let url = start;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const sameHost = url.host === start.host;
    const res = await getOnce(url, sameHost ? opts : { ...opts, bearerToken: undefined }, deadline, sameHost ? start : undefined);
    if (res.kind === 'body') return res;
    const next = new URL(res.location, url);
    if (next.protocol !== start.protocol) {
      throw new ScrapeError(`HTTP ${res.status} redirect to a different scheme (${displayUrl(next)}) refused`);
    }
    if (next.host !== start.host && !opts.followRedirectsToOtherHosts) {
      throw new ScrapeError(
        `HTTP ${res.status} redirect to a different host (${displayUrl(next)}) refused (set SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS=true to follow it)`,
      );
    }
    url = next;
  }
  throw new ScrapeError(`more than ${MAX_REDIRECTS} redirects`);
}

type GetOutcome = { kind: 'body'; text: string; bytes: number } | { kind: 'redirect'; status: number; location: string };

/** One GET with the remaining time budget; resolves the body or a redirect. `credentialsFrom`: whose user:password to send. */
function getOnce(url: URL, opts: ScrapeOptions, deadline: number, credentialsFrom?: URL): Promise<GetOutcome> {
  return new Promise((resolve, reject) => {
    const remaining = deadline - (opts.now ?? Date.now)();
    if (remaining <= 0) return reject(new ScrapeError(`timed out after ${opts.timeoutMs} ms`));
    // Checked before any request exists: an already-passed deadline must not open a connection.
    if (opts.signal?.aborted) return reject(new ScrapeError('aborted: the invocation deadline is near'));
    const headers: Record<string, string> = {
      Accept: SCRAPE_ACCEPT,
      'Accept-Encoding': 'gzip',
      'User-Agent': USER_AGENT,
      'X-Prometheus-Scrape-Timeout-Seconds': String(opts.timeoutMs / 1000),
    };
    if (opts.bearerToken) headers.Authorization = `Bearer ${opts.bearerToken}`;
    else if (credentialsFrom?.username) {
      const { username, password } = credentialsFrom;
      headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(username)}:${decodeURIComponent(password)}`).toString('base64')}`;
    }
    const lib = url.protocol === 'https:' ? https : http;
    let settled = false;
    let req: http.ClientRequest | undefined;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      cleanup();
      req?.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new ScrapeError(`timed out after ${opts.timeoutMs} ms`)), remaining);
    const onAbort = () => fail(new ScrapeError('aborted: the invocation deadline is near'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    // user:password travel only in the Authorization header (and only to the configured host).
    const target = new URL(url);
    target.username = '';
    target.password = '';
    try {
      req = lib.request(target, { method: 'GET', headers, agent: false }, onResponse);
    } catch (e) {
      // e.g. a header value Node refuses; without this the timer would fire on a request that never existed.
      const code = (e as NodeJS.ErrnoException).code;
      return fail(
        new ScrapeError(
          code === 'ERR_INVALID_CHAR'
            ? 'the Authorization header has characters HTTP does not allow (check the bearer token secret)'
            : `request not sent: ${code ?? (e as Error).message}`,
        ),
      );
    }
    req.on('error', fail);
    req.end();

    /** Handles the response head: redirect, error status, wrong type, or the body. */
    function onResponse(res: http.IncomingMessage): void {
      if (settled) return void res.destroy();
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        // Closed, not drained: a redirect's body may never end, and its socket must not outlive the scrape.
        res.destroy();
        req?.destroy();
        settled = true;
        cleanup();
        return resolve({ kind: 'redirect', status, location: res.headers.location });
      }
      if (status !== 200) {
        res.resume();
        return fail(new ScrapeError(`HTTP ${status}${res.statusMessage ? ' ' + res.statusMessage : ''}${authHint(status, opts, credentialsFrom)}`));
      }
      const type = String(res.headers['content-type'] ?? '');
      if (type && !/^text\/plain\b/i.test(type)) {
        res.resume();
        return fail(new ScrapeError(`unsupported content type "${type.slice(0, 100)}" (expected the text format, text/plain;version=0.0.4)`));
      }
      readBody(res, opts.maxBytes, opts.consume).then(({ body, size }) => {
        if (settled) return;
        let text: string;
        try {
          text = body ? decodeExposition(body) : '';
        } catch {
          // V8 cannot hold a string this long (about 512 MiB): a failed target, never a hung promise.
          return fail(new ScrapeError(`body of ${size} bytes is too large to be read as text (lower SCRAPE_MAX_BYTES)`));
        }
        settled = true;
        cleanup();
        resolve({ kind: 'body', text, bytes: size });
      }, fail);
    }
  });
}

/** For 401/403 from a target: which credentials were refused, or that some are needed. */
function authHint(status: number, opts: ScrapeOptions, credentialsFrom: URL | undefined): string {
  if (status !== 401 && status !== 403) return '';
  if (opts.bearerToken) return ' (the target refused the bearer token: check the Vault secret; a rotated one is read again after SECRET_CACHE_TTL_SECONDS)';
  if (credentialsFrom?.username) return ' (the target refused the user:password of the URL)';
  return ' (the target wants credentials: set SCRAPE_BEARER_TOKEN_SECRET_OCID or put user:password in the URL)';
}

/**
 * Reads a response body, gunzipping when needed, failing once it exceeds maxBytes (decompressed).
 * With `consume`, each chunk goes there as it arrives and no body is returned.
 */
function readBody(res: http.IncomingMessage, maxBytes: number, consume?: { push(chunk: Buffer): void }): Promise<{ body?: Buffer; size: number }> {
  return new Promise((resolve, reject) => {
    const encoding = String(res.headers['content-encoding'] ?? 'identity').toLowerCase();
    let stream: NodeJS.ReadableStream = res;
    if (encoding === 'gzip' || encoding === 'x-gzip') {
      const gunzip = zlib.createGunzip();
      res.pipe(gunzip);
      stream = gunzip;
    } else if (encoding !== 'identity') {
      res.resume();
      return reject(new ScrapeError(`unsupported content encoding "${encoding}"`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new ScrapeError(`body larger than SCRAPE_MAX_BYTES (${maxBytes} bytes${encoding !== 'identity' ? ' after decompression' : ''})`));
        res.destroy();
        (stream as zlib.Gunzip).destroy?.();
        return;
      }
      if (!consume) return void chunks.push(chunk);
      try {
        consume.push(chunk);
      } catch (e) {
        // The consumer refused the body (e.g. a memory budget): the rest is not read.
        reject(e instanceof Error ? e : new Error(String(e)));
        res.destroy();
        (stream as zlib.Gunzip).destroy?.();
      }
    });
    stream.on('end', () => resolve(consume ? { size } : { body: Buffer.concat(chunks, size), size }));
    stream.on('error', (e: Error) => reject(new ScrapeError(encoding !== 'identity' ? `invalid gzip body: ${e.message}` : `body read failed: ${e.message}`)));
    res.on('aborted', () => reject(new ScrapeError('connection closed before the body was complete')));
  });
}

/** The result for a target that was not scraped at all (e.g. its bearer token is unavailable). */
export function notScraped(url: URL, error: string, nowMs: number, instance = instanceOf(url)): ScrapeResult {
  return { url: displayUrl(url), instance, scrapeTimeMs: nowMs, durationMs: 0, ok: false, error };
}
