/**
 * The SDK's HttpClient over node:http/https with keep-alive, instead of its fetch()-based client:
 * the same signer (the SDK's DefaultRequestSigner), the same request, a minimal Response. fetch()
 * costs about half of the CPU of a PostMetricData call (WHATWG streams, two Request objects),
 * which bounds how fast a large exposition is posted and how soon a cold invocation answers.
 */
import http from 'node:http';
import type * as httpsT from 'node:https';
import type * as commonT from 'oci-common';

/** Largest response body read (bytes): a PostMetricData answer is at most ~1 MiB (50 failed objects echoed back). */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** A response whose body could not be read (too large, or not JSON); `statusCode` says whether the call was accepted. */
class UnreadableResponseError extends Error {
  override name = 'UnreadableResponseError';
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** What the SDK reads from a response: status, a header, the body as text or JSON. */
class NodeResponse {
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };

  constructor(
    readonly status: number,
    readonly statusText: string,
    rawHeaders: http.IncomingHttpHeaders,
    private readonly body: string,
  ) {
    this.ok = status >= 200 && status <= 299;
    this.headers = {
      get(name: string): string | null {
        const v = rawHeaders[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    };
  }

  /** The body as text. */
  text(): Promise<string> {
    return Promise.resolve(this.body);
  }

  /** The body parsed as JSON. */
  json(): Promise<unknown> {
    try {
      return Promise.resolve(JSON.parse(this.body) as unknown);
    } catch (e) {
      return Promise.reject(new UnreadableResponseError(this.status, `HTTP ${this.status} response body is not JSON (${(e as Error).message.slice(0, 80)})`));
    }
  }
}

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let https: { lib: typeof httpsT; agent: httpsT.Agent } | undefined;

/** node:https and its agent, loaded on first use: TLS costs start-up time, and the socket must be ready fast. */
function loadHttps(): { lib: typeof httpsT; agent: httpsT.Agent } {
  if (!https) {
    const lib = require('node:https') as typeof httpsT;
    https = { lib, agent: new lib.Agent({ keepAlive: true, maxSockets: 64 }) };
  }
  return https;
}

/** The HttpClient the SDK clients use (params.httpClient). */
export class NodeHttpClient {
  constructor(
    private readonly signer: commonT.RequestSigner,
    /** The abort signal of the call in progress (see call-signal.ts). */
    private readonly signal: () => AbortSignal | undefined,
    /** Where to note the status of the call in progress, when someone asked. */
    private readonly seen: () => { status?: number; sent?: boolean } | undefined = () => undefined,
  ) {}

  /** Signs and sends one request; resolves the response, rejects on network errors and aborts. */
  async send(req: commonT.HttpRequest, forceExcludeBody = false): Promise<NodeResponse> {
    if (req.body !== undefined && req.body !== null && typeof req.body !== 'string') throw new Error('NodeHttpClient: only string bodies are supported');
    const body = (req.body as string | undefined) || undefined;
    // RequestSigner's type says void, but the SDK's DefaultRequestSigner signs asynchronously.
    await Promise.resolve(this.signer.signHttpRequest({ method: req.method, headers: req.headers, uri: req.uri, body }, forceExcludeBody));
    const url = new URL(req.uri);
    const headers: Record<string, string> = {};
    req.headers.forEach((value, key) => {
      headers[key] = value;
    });
    return new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:' ? loadHttps() : undefined;
      const options = { method: req.method, headers, agent: secure ? secure.agent : httpAgent, signal: this.signal() };
      const seen = this.seen();
      const onResponse = (res: http.IncomingMessage): void => {
        if (seen) seen.status = res.statusCode;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy();
            return reject(new UnreadableResponseError(res.statusCode ?? 0, `HTTP ${res.statusCode} response body larger than ${MAX_RESPONSE_BYTES} bytes`));
          }
          chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => resolve(new NodeResponse(res.statusCode ?? 0, res.statusMessage ?? '', res.headers, Buffer.concat(chunks).toString('utf8'))));
      };
      const request = secure ? secure.lib.request(url, options, onResponse) : http.request(url, options, onResponse);
      request.on('error', reject);
      if (seen) request.once('finish', () => (seen.sent = true));
      request.end(body);
    });
  }
}
