/**
 * Scrape stage: one HTTP GET of a target's /metrics, with the limits a per-minute job needs
 * (timeout for the whole exchange, size cap after decompression, bounded same-host redirects).
 * Uses node:http directly so every failure has a named cause and nothing outlives the call.
 */
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { redactUrl } from '../config/settings';

/** The Accept header Prometheus uses for the classic text format; OpenMetrics/protobuf are never negotiated. */
export const SCRAPE_ACCEPT = 'text/plain;version=0.0.4';
const USER_AGENT = 'prom2oci/0.1';
const MAX_REDIRECTS = 5;

export interface ScrapeOptions {
  timeoutMs: number;
  maxBytes: number;
  bearerToken?: string;
  /** Aborts the scrape (e.g. the invocation's deadline). */
  signal?: AbortSignal;
  /** Clock, for tests. */
  now?: () => number;
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

export type ScrapeResult =
  | (ScrapeBase & { ok: true; text: string; bytes: number })
  | (ScrapeBase & { ok: false; error: string });

/** A scrape failure with a message that is safe to show (no credentials, no token). */
export class ScrapeError extends Error {
  override name = 'ScrapeError';
}

/** host:port of a URL, with the scheme's default port made explicit (as Prometheus' instance label). */
export function instanceOf(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname}:${port}`; // hostname keeps IPv6 brackets
}

/** The URL as shown to users: no user:password. */
export function displayUrl(url: URL): string {
  return redactUrl(url.toString());
}

/** Scrapes one target; never throws, the result says what happened. */
export async function scrapeTarget(url: URL, opts: ScrapeOptions): Promise<ScrapeResult> {
  const now = opts.now ?? Date.now;
  const started = now();
  const base = { url: displayUrl(url), instance: instanceOf(url), scrapeTimeMs: started };
  try {
    const { text, bytes } = await fetchWithRedirects(url, opts);
    return { ...base, ok: true, text, bytes, durationMs: now() - started };
  } catch (e) {
    return { ...base, ok: false, error: describeScrapeError(e, opts), durationMs: now() - started };
  }
}

/** A short, credential-free cause for a failed scrape. */
function describeScrapeError(e: unknown, opts: ScrapeOptions): string {
  if (e instanceof ScrapeError) return e.message;
  const err = e as NodeJS.ErrnoException & { hostname?: string };
  let msg: string;
  switch (err?.code) {
    case 'ECONNREFUSED': msg = 'connection refused'; break;
    case 'ENOTFOUND': msg = `DNS lookup failed (${err.hostname ?? 'host'} not found)`; break;
    case 'EAI_AGAIN': msg = 'DNS lookup failed (temporary failure)'; break;
    case 'ECONNRESET': msg = 'connection reset by the target'; break;
    case 'EHOSTUNREACH': msg = 'host unreachable'; break;
    case 'ETIMEDOUT': msg = 'connection timed out'; break;
    case 'CERT_HAS_EXPIRED': case 'DEPTH_ZERO_SELF_SIGNED_CERT': case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      msg = `TLS certificate rejected (${err.code})`; break;
    default: msg = err?.message ? `${err.code ? err.code + ': ' : ''}${err.message}` : String(e);
  }
  const token = opts.bearerToken;
  return token ? msg.split(token).join('[redacted]') : msg;
}

/** GETs url, following at most MAX_REDIRECTS redirects on the same scheme and host. */
async function fetchWithRedirects(start: URL, opts: ScrapeOptions): Promise<{ text: string; bytes: number }> {
  const deadline = (opts.now ?? Date.now)() + opts.timeoutMs;
  let url = start;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await getOnce(url, opts, deadline);
    if (res.kind === 'body') return res;
    const next = new URL(res.location, url);
    if (next.protocol !== start.protocol || next.host !== start.host) {
      throw new ScrapeError(`HTTP ${res.status} redirect to a different ${next.protocol !== start.protocol ? 'scheme' : 'host'} (${displayUrl(next)}) refused`);
    }
    url = next;
  }
  throw new ScrapeError(`more than ${MAX_REDIRECTS} redirects`);
}

type GetOutcome = { kind: 'body'; text: string; bytes: number } | { kind: 'redirect'; status: number; location: string };

/** One GET with the remaining time budget; resolves the body or a redirect. */
function getOnce(url: URL, opts: ScrapeOptions, deadline: number): Promise<GetOutcome> {
  return new Promise((resolve, reject) => {
    const remaining = deadline - (opts.now ?? Date.now)();
    if (remaining <= 0) return reject(new ScrapeError(`timed out after ${opts.timeoutMs} ms`));
    const headers: Record<string, string> = {
      Accept: SCRAPE_ACCEPT,
      'Accept-Encoding': 'gzip',
      'User-Agent': USER_AGENT,
      'X-Prometheus-Scrape-Timeout-Seconds': String(opts.timeoutMs / 1000),
    };
    if (opts.bearerToken) headers.Authorization = `Bearer ${opts.bearerToken}`;
    else if (url.username) {
      headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    }
    const lib = url.protocol === 'https:' ? https : http;
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      cleanup();
      req.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new ScrapeError(`timed out after ${opts.timeoutMs} ms`)), remaining);
    const onAbort = () => fail(new ScrapeError('aborted: the invocation deadline is near'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    if (opts.signal?.aborted) return onAbort();
    const req = lib.request(url, { method: 'GET', headers, agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        settled = true;
        cleanup();
        return resolve({ kind: 'redirect', status, location: res.headers.location });
      }
      if (status !== 200) {
        res.resume();
        return fail(new ScrapeError(`HTTP ${status}${res.statusMessage ? ' ' + res.statusMessage : ''}`));
      }
      const type = String(res.headers['content-type'] ?? '');
      if (type && !/^text\/plain\b/i.test(type)) {
        res.resume();
        return fail(new ScrapeError(`unsupported content type "${type.slice(0, 100)}" (expected the text format, text/plain;version=0.0.4)`));
      }
      readBody(res, opts.maxBytes).then(
        (body) => {
          if (settled) return;
          settled = true;
          cleanup();
          resolve({ kind: 'body', text: body.toString('utf8'), bytes: body.length });
        },
        fail,
      );
    });
    req.on('error', fail);
    req.end();
  });
}

/** Reads a response body, gunzipping when needed, failing once it exceeds maxBytes (decompressed). */
function readBody(res: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
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
      chunks.push(chunk);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks, size)));
    stream.on('error', (e: Error) => reject(new ScrapeError(encoding !== 'identity' ? `invalid gzip body: ${e.message}` : `body read failed: ${e.message}`)));
    res.on('aborted', () => reject(new ScrapeError('connection closed before the body was complete')));
  });
}

/** The result for a target that was not scraped at all (e.g. its bearer token is unavailable). */
export function notScraped(url: URL, error: string, nowMs: number): ScrapeResult {
  return { url: displayUrl(url), instance: instanceOf(url), scrapeTimeMs: nowMs, durationMs: 0, ok: false, error };
}
