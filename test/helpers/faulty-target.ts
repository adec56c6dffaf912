/**
 * Loopback scrape targets that misbehave on purpose, one route per fault, for the reliability
 * suites. Everything listens on 127.0.0.1 (or another 127.x address) with a free port; close()
 * drops every connection, hung ones included.
 *
 * Routes (GET):
 *   /ok?n=K&name=N       K counter samples of family N (default 5, "faulty_ok_total"), text/plain
 *   /histograms?series=S&buckets=B  S labelled histogram series of B buckets (+Inf included) + _sum + _count
 *   /ts?ahead=MS         two gauges: one with its own timestamp MS ms from now, one without
 *   /slow-headers?ms=MS  waits MS ms before the response head
 *   /trickle             sends the head and then one sample line every 100 ms, never ending
 *   /status/CODE         answers CODE with a short body
 *   /redirect?to=URL     302 to URL (relative or absolute)
 *   /chain/N             302 to /chain/N-1; /chain/0 serves /ok
 *   /big?bytes=B         a valid exposition of at least B bytes (plain)
 *   /gzip-bomb?mb=M      M MiB of sample lines, gzip-compressed (a few KiB on the wire)
 *   /protobuf            the protobuf content type with binary bytes
 *   /garbage?seed=S      text/plain with pseudo-random binary bytes
 *   /malformed           text/plain whose line 4 is malformed
 *   /empty               200 with an empty body (a valid exposition without samples)
 *   /bad-gzip            Content-Encoding: gzip with bytes that are not gzip
 *   /brotli              Content-Encoding: br (never asked for)
 *   /truncated           Content-Length 10000, 30 bytes sent, then the connection is closed
 *   /openmetrics         the OpenMetrics content type, although it was not negotiated
 *   /auth                /ok, but only with `Authorization: Bearer <token>` (else 401)
 *   /reset               destroys the connection without a response
 *   /short?n=N           N of the shortest series there are, `a{i="K"} 1` (memory per byte at its worst)
 *   /long-labels?bytes=B&len=L  at least B bytes of samples whose one label value is L characters long
 *   /families?n=N        N families of one sample each, with HELP and TYPE lines
 *   /echo-auth/WHERE     sends the request's Authorization value (and its credential alone) back in
 *                        the reason phrase (WHERE=reason), a Location to another scheme (location),
 *                        the Content-Type (type) or a malformed exposition line after a valid one (body)
 *   /redirect-endless?to=URL  302 to URL whose body never ends
 *   /status-endless/CODE CODE with a body that never ends
 *   /type-endless        200 text/html with a body that never ends
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface FaultyTarget {
  /** http://HOST:PORT */
  readonly base: string;
  readonly host: string;
  readonly port: number;
  /** base + path */
  url(path: string): string;
  /** The token /auth accepts; undefined = /auth refuses everything. */
  token: string | undefined;
  /** Authorization header values seen per path (for "was the token forwarded?" checks). */
  readonly authSeen: { path: string; authorization?: string }[];
  /** Requests answered, by path (without query). */
  readonly hits: Map<string, number>;
  /** Connections open right now. */
  openConnections(): number;
  /** Resolves once no connection is open; rejects after timeoutMs naming how many still are. */
  whenNoConnections(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

const TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/** A valid exposition with n samples of one counter family. */
export function counterExposition(n: number, name = 'faulty_ok_total'): string {
  const lines = [`# HELP ${name} A counter from the faulty target.`, `# TYPE ${name} counter`];
  for (let i = 0; i < n; i++) lines.push(`${name}{series="${i}"} ${i + 1}`);
  return lines.join('\n') + '\n';
}

/** A histogram family with `series` label sets of `buckets` buckets each: series * (buckets + 2) samples. */
export function histogramExposition(series: number, buckets: number, name = 'faulty_latency_seconds'): string {
  const lines = [`# HELP ${name} A histogram from the faulty target.`, `# TYPE ${name} histogram`];
  for (let i = 0; i < series; i++) {
    const labels = `route="/r/${i}",method="GET"`;
    for (let b = 1; b < buckets; b++) lines.push(`${name}_bucket{${labels},le="${(b / 10).toFixed(1)}"} ${b * 3}`);
    lines.push(`${name}_bucket{${labels},le="+Inf"} ${buckets * 3}`, `${name}_sum{${labels}} ${(i + 1) * 1.5}`, `${name}_count{${labels}} ${buckets * 3}`);
  }
  return lines.join('\n') + '\n';
}

/** Deterministic pseudo-random bytes (mulberry32), so a failing case can be reproduced. */
export function pseudoRandomBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return out;
}

/** Big generated bodies, built once per query (the memory tests ask for the same ones repeatedly). */
const generated = new Map<string, Buffer>();
function generatedBody(key: string, make: () => string): Buffer {
  let b = generated.get(key);
  if (!b) generated.set(key, (b = Buffer.from(make())));
  return b;
}

/** N series `a{i="K"} 1`: about 14 bytes a sample, the most samples a byte cap lets through. */
export function shortSeriesExposition(n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`a{i="${i}"} 1\n`);
  return parts.join('');
}

/** At least `bytes` bytes of gauge samples, each with one label value of `len` distinct characters. */
export function longLabelExposition(bytes: number, len: number): string {
  const parts = ['# TYPE long_label gauge\n'];
  const pad = 'v'.repeat(Math.max(0, len - 8));
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `long_label{value="${String(i).padStart(8, '0')}${pad}"} 1\n`;
    parts.push(line);
    size += line.length;
  }
  return parts.join('');
}

/** N families of one gauge sample each, with HELP and TYPE lines (the most per-family state). */
export function manyFamiliesExposition(n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`# HELP fam_${i} Family number ${i}.\n# TYPE fam_${i} gauge\nfam_${i} ${i}\n`);
  return parts.join('');
}

/** Gzip of `mb` MiB of identical sample lines, built once per size. */
const bombs = new Map<number, Buffer>();
function gzipBomb(mb: number): Buffer {
  let b = bombs.get(mb);
  if (!b) {
    const line = 'bomb_total{x="aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} 1\n';
    b = gzipSync(Buffer.from(line.repeat(Math.ceil((mb * 1024 * 1024) / line.length))), { level: 9 });
    bombs.set(mb, b);
  }
  return b;
}

/** A TCP server on 127.0.0.1 that answers every connection with `bytes` and closes: not HTTP at all. */
export async function startNonHttpServer(bytes: string | Buffer): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const net = await import('node:net');
  const sockets = new Set<Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** Starts a faulty target on `host` (default 127.0.0.1). */
export async function startFaultyTarget(host = '127.0.0.1'): Promise<FaultyTarget> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const authSeen: FaultyTarget['authSeen'] = [];
  const hits = new Map<string, number>();
  const state: { token: string | undefined } = { token: undefined };

  /** Answers one request according to its path. */
  function route(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const path = u.pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    authSeen.push({ path, authorization: req.headers.authorization });
    const q = (k: string, d: number) => (u.searchParams.has(k) ? Number(u.searchParams.get(k)) : d);
    const text = (status: number, body: string | Buffer, type = TEXT, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...extra });
      res.end(body);
    };
    if (path === '/ok') return text(200, counterExposition(q('n', 5), u.searchParams.get('name') ?? undefined));
    if (path === '/histograms') return text(200, histogramExposition(q('series', 10), q('buckets', 10)));
    if (path === '/ts') {
      const own = Date.now() + q('ahead', 0);
      return text(200, `# TYPE faulty_ts gauge\nfaulty_ts{kind="own"} 1 ${own}\nfaulty_ts{kind="scrape"} 2\n`);
    }
    if (path === '/slow-headers') {
      const t = setTimeout(
        () => {
          timers.delete(t);
          text(200, counterExposition(1));
        },
        q('ms', 5000),
      );
      timers.add(t);
      return;
    }
    if (path === '/trickle') {
      res.writeHead(200, { 'content-type': TEXT });
      let i = 0;
      const t = setInterval(() => res.write(`trickle_total{i="${i++}"} 1\n`), 100);
      timers.add(t);
      res.on('close', () => {
        clearInterval(t);
        timers.delete(t);
      });
      return;
    }
    const status = /^\/status\/(\d{3})$/.exec(path);
    if (status) return text(Number(status[1]), `error page ${status[1]}\n`);
    if (path === '/redirect') {
      res.writeHead(302, { location: u.searchParams.get('to') ?? '/ok', 'content-length': '0' });
      return void res.end();
    }
    const chain = /^\/chain\/(\d+)$/.exec(path);
    if (chain) {
      const n = Number(chain[1]);
      if (n === 0) return text(200, counterExposition(2));
      res.writeHead(302, { location: `/chain/${n - 1}`, 'content-length': '0' });
      return void res.end();
    }
    if (path === '/big') {
      const bytes = q('bytes', 2 * 1024 * 1024);
      const line = 'big_total{pad="xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"} 1\n';
      return text(200, '# TYPE big_total counter\n' + line.repeat(Math.ceil(bytes / line.length)));
    }
    if (path === '/gzip-bomb') return text(200, gzipBomb(q('mb', 64)), TEXT, { 'content-encoding': 'gzip' });
    if (path === '/protobuf') {
      return text(200, pseudoRandomBytes(512, 7), 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited');
    }
    if (path === '/garbage') return text(200, pseudoRandomBytes(4096, q('seed', 1)));
    if (path === '/malformed') return text(200, '# TYPE good_total counter\ngood_total 1\n# HELP other_total x\nother_total{a="1" 2\n');
    if (path === '/empty') return text(200, '');
    if (path === '/bad-gzip') return text(200, Buffer.from('this is not gzip at all'), TEXT, { 'content-encoding': 'gzip' });
    if (path === '/brotli') return text(200, Buffer.from([0x1b, 0x03, 0x00]), TEXT, { 'content-encoding': 'br' });
    if (path === '/truncated') {
      res.writeHead(200, { 'content-type': TEXT, 'content-length': '10000' });
      res.write('truncated_total{a="1"} 1\ntrunc');
      const t = setTimeout(() => {
        timers.delete(t);
        req.socket.destroy();
      }, 20);
      timers.add(t);
      return;
    }
    if (path === '/openmetrics') return text(200, '# TYPE om counter\nom_total 1\n# EOF\n', 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    if (path === '/auth') {
      const ok = state.token !== undefined && req.headers.authorization === `Bearer ${state.token}`;
      return ok ? text(200, counterExposition(3, 'secured_total')) : text(401, 'unauthorized\n', TEXT, { 'www-authenticate': 'Bearer' });
    }
    if (path === '/reset') return void req.socket.destroy();
    const echo = /^\/echo-auth\/(reason|location|type|body)$/.exec(path);
    if (echo) {
      const auth = req.headers.authorization ?? 'none';
      const credential = auth.replace(/^\S+ /, '');
      if (echo[1] === 'reason') return void res.writeHead(500, `Refused ${auth} (${credential})`, { 'content-length': '0' }).end();
      if (echo[1] === 'location')
        return void res.writeHead(302, { location: `https://${host}:1/login?t=${credential}&auth=${encodeURIComponent(auth)}`, 'content-length': '0' }).end();
      if (echo[1] === 'type') return text(200, 'x 1\n', `application/x-${credential}`);
      return text(200, `x 1\n# TYPE y ${credential}\n`);
    }
    const endless = (status: number, type: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': type, ...extra });
      const t = setInterval(() => res.write('x'.repeat(1024) + '\n'), 20);
      timers.add(t);
      res.on('close', () => {
        clearInterval(t);
        timers.delete(t);
      });
    };
    if (path === '/redirect-endless') return endless(302, 'text/html', { location: u.searchParams.get('to') ?? '/ok' });
    const statusEndless = /^\/status-endless\/(\d{3})$/.exec(path);
    if (statusEndless) return endless(Number(statusEndless[1]), 'text/html');
    if (path === '/type-endless') return endless(200, 'text/html');
    if (path === '/short')
      return text(
        200,
        generatedBody(u.search, () => shortSeriesExposition(q('n', 1000))),
      );
    if (path === '/long-labels')
      return text(
        200,
        generatedBody(u.search, () => longLabelExposition(q('bytes', 1 << 20), q('len', 500))),
      );
    if (path === '/families')
      return text(
        200,
        generatedBody(u.search, () => manyFamiliesExposition(q('n', 1000))),
      );
    text(404, 'no such route\n');
  }

  const server: Server = createServer(route);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => {
      sockets.delete(s);
      server.emit('connectionClosed');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://${host}:${port}`;
  return {
    base,
    host,
    port,
    url: (p) => base + p,
    get token() {
      return state.token;
    },
    set token(t) {
      state.token = t;
    },
    authSeen,
    hits,
    openConnections: () => sockets.size,
    whenNoConnections(timeoutMs) {
      if (sockets.size === 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (sockets.size > 0) return;
          clearTimeout(timer);
          server.off('connectionClosed', check);
          resolve();
        };
        const timer = setTimeout(() => {
          server.off('connectionClosed', check);
          reject(new Error(`${sockets.size} connection(s) still open after ${timeoutMs} ms`));
        }, timeoutMs);
        server.on('connectionClosed', check);
      });
    },
    close() {
      for (const t of timers) clearTimeout(t);
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
