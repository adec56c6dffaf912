/**
 * A tiny /metrics target on 127.0.0.1 serving a fixed exposition, like an exporter would
 * (text format 0.0.4). The text can be swapped between runs without restarting the server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running target; `serve()` changes what /metrics returns. */
export interface TextTarget {
  url: string;
  serve(text: string): void;
  /** Number of GET /metrics answered. */
  readonly scrapes: number;
  close(): Promise<void>;
}

/** Starts the target on a free port. */
export async function startTextTarget(initial = ''): Promise<TextTarget> {
  let body = Buffer.from(initial, 'utf8');
  let scrapes = 0;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || !req.url?.startsWith('/metrics')) {
      res.writeHead(404).end();
      return;
    }
    scrapes++;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    serve(text) {
      body = Buffer.from(text, 'utf8');
    },
    get scrapes() {
      return scrapes;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
