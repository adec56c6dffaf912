/**
 * An exposition whose cardinality is known by construction (the cardinality report's tests), and
 * a loopback server that serves it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * http_requests_total: 10 paths x GET/POST with status 200, plus GET /p0 500 = 21 streams (without
 * path 3 remain); one process gauge; a histogram of 2 routes x 4 buckets (8 `_bucket`, 2 `_sum`, 2 `_count`).
 */
export function knownExposition(): string {
  const lines = ['# TYPE http_requests_total counter'];
  for (let p = 0; p < 10; p++) for (const m of ['GET', 'POST']) lines.push(`http_requests_total{method="${m}",path="/p${p}",status="200"} ${p + 1}`);
  lines.push('http_requests_total{method="GET",path="/p0",status="500"} 1');
  lines.push('# TYPE process_cpu_seconds_total counter', 'process_cpu_seconds_total 3');
  lines.push('# TYPE req_duration_seconds histogram');
  for (const route of ['/a', '/b']) {
    for (const le of ['0.1', '0.5', '1', '+Inf']) lines.push(`req_duration_seconds_bucket{route="${route}",le="${le}"} 1`);
    lines.push(`req_duration_seconds_sum{route="${route}"} 0.2`, `req_duration_seconds_count{route="${route}"} 1`);
  }
  return lines.join('\n') + '\n';
}

/** Serves `text` as an exposition on 127.0.0.1 (every path); `host` is host:port. */
export async function serveExposition(text: string): Promise<{ host: string; url: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    url: `http://${host}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
