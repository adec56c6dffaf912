/** The emulator's HTTP plumbing shared by its services: OCI-style error responses, JSON replies, bodies, request ids. */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error response to send. */
export class HttpFailure extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Send a JSON response with OCI's headers. */
export function sendJson(res: ServerResponse, status: number, requestId: string, body: unknown, extraHeaders: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'opc-request-id': requestId, ...extraHeaders });
  res.end(text);
}

/** An OCI-like request id; the client's own id is kept as a prefix, as OCI does. */
export function requestIdFor(req: IncomingMessage): string {
  const own = randomBytes(16).toString('hex').toUpperCase();
  const client = req.headers['opc-request-id'];
  return typeof client === 'string' && client ? `${client}/${own}` : own;
}

/** Read the whole body, failing with 413 beyond the cap (the rest is drained, not buffered). */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () =>
      tooLarge ? reject(new HttpFailure(413, 'PayloadTooLarge', `The request body is larger than ${maxBytes} bytes`)) : resolve(Buffer.concat(chunks)),
    );
    req.on('error', reject);
  });
}
