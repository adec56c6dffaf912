/** The scrape stage against real HTTP servers on 127.0.0.1: every failure has a named cause. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { instanceOf, scrapeTarget, SCRAPE_ACCEPT, type ScrapeOptions, displayUrl, instancesOf } from '../src/scrape/scrape';
import { closedPort } from './helpers/stack';
import { requireBinary } from './helpers/requires';

const BODY = '# TYPE up gauge\nup 1\n';
type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;

describe('scrapeTarget', () => {
  let server: http.Server;
  let base: string;
  const seen: http.IncomingHttpHeaders[] = [];
  // Compressed once: gzipping 50 MiB per request took longer than a scrape timeout on a busy machine.
  const bomb = zlib.gzipSync(Buffer.alloc(50 * 1024 * 1024, 'a'));
  const routes: Record<string, Route> = {
    '/metrics': (_q, r) => {
      r.setHeader('Content-Type', 'text/plain; version=0.0.4');
      r.end(BODY);
    },
    '/gzip': (_q, r) => {
      r.setHeader('Content-Encoding', 'gzip');
      r.setHeader('Content-Type', 'text/plain');
      r.end(zlib.gzipSync(BODY));
    },
    '/bomb': (_q, r) => {
      r.setHeader('Content-Encoding', 'gzip');
      r.end(bomb);
    },
    '/big': (_q, r) => {
      r.end(Buffer.alloc(2 * 1024 * 1024, 'a'));
    },
    '/404': (_q, r) => {
      r.statusCode = 404;
      r.end('nope');
    },
    '/500': (_q, r) => {
      r.statusCode = 500;
      r.end('boom');
    },
    '/proto': (_q, r) => {
      r.setHeader('Content-Type', 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily');
      r.end(Buffer.from([1, 2, 3]));
    },
    '/redirect': (_q, r) => {
      r.statusCode = 302;
      r.setHeader('Location', '/metrics');
      r.end();
    },
    '/loop': (_q, r) => {
      r.statusCode = 301;
      r.setHeader('Location', '/loop');
      r.end();
    },
    '/offsite': (_q, r) => {
      r.statusCode = 302;
      r.setHeader('Location', 'http://example.invalid/metrics');
      r.end();
    },
    '/slow-headers': () => {
      /* never answers */
    },
    '/trickle': (_q, r) => {
      r.write('# TYPE a gauge\n');
      const t = setInterval(() => r.write('a 1\n'), 50);
      r.on('close', () => clearInterval(t));
    },
    '/badgzip': (_q, r) => {
      r.setHeader('Content-Encoding', 'gzip');
      r.end('not gzip at all');
    },
  };
  // A timeout far above the work: only the cases that test the timeout set a short one.
  const opts = (o: Partial<ScrapeOptions> = {}): ScrapeOptions => ({ timeoutMs: 30_000, maxBytes: 1024 * 1024, ...o });
  before(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.headers);
      (routes[req.url ?? ''] ?? routes['/404'])(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('reads the text format with the classic Accept header and gzip', async () => {
    seen.length = 0;
    const r = await scrapeTarget(new URL(`${base}/metrics`), opts());
    assert.equal(r.ok, true);
    assert.equal(r.ok && r.text, BODY);
    assert.equal(seen[0].accept, SCRAPE_ACCEPT);
    assert.match(String(seen[0]['accept-encoding']), /gzip/);
    const g = await scrapeTarget(new URL(`${base}/gzip`), opts());
    assert.equal(g.ok && g.text, BODY);
  });

  test('instance is host:port with the default port made explicit', () => {
    assert.equal(instanceOf(new URL('http://10.0.0.5/metrics')), '10.0.0.5:80');
    assert.equal(instanceOf(new URL('https://shop.example.com/metrics')), 'shop.example.com:443');
    assert.equal(instanceOf(new URL('http://[::1]:9100/metrics')), '[::1]:9100');
  });

  test('bearer token and basic auth are sent; credentials never appear in the result', async () => {
    seen.length = 0;
    await scrapeTarget(new URL(`${base}/metrics`), opts({ bearerToken: 'tok-123' }));
    assert.equal(seen[0].authorization, 'Bearer tok-123');
    seen.length = 0;
    const u = new URL(`${base}/404`);
    u.username = 'user';
    u.password = 'pa55';
    const r = await scrapeTarget(u, opts());
    assert.equal(seen[0].authorization, `Basic ${Buffer.from('user:pa55').toString('base64')}`);
    assert.doesNotMatch(JSON.stringify(r), /pa55|user:/);
  });

  const failures: [string, RegExp, Partial<ScrapeOptions>?][] = [
    ['/404', /HTTP 404/],
    ['/500', /HTTP 500/],
    ['/proto', /unsupported content type/],
    ['/big', /larger than SCRAPE_MAX_BYTES/],
    ['/bomb', /larger than SCRAPE_MAX_BYTES .*after decompression/],
    ['/loop', /more than 5 redirects/],
    ['/offsite', /redirect to a different host .* refused/],
    ['/slow-headers', /timed out after 300 ms/, { timeoutMs: 300 }],
    ['/trickle', /timed out after 400 ms/, { timeoutMs: 400 }],
    ['/badgzip', /invalid gzip body/],
  ];
  for (const [path, re, o] of failures) {
    test(`fails with a named cause: ${path}`, async () => {
      const started = Date.now();
      const r = await scrapeTarget(new URL(base + path), opts(o));
      assert.equal(r.ok, false);
      assert.match(!r.ok ? r.error : '', re);
      // Ends by its own cause or its own timeout, never by hanging.
      assert.ok(Date.now() - started < opts(o).timeoutMs + 10_000);
    });
  }

  test('follows a same-host redirect', async () => {
    const r = await scrapeTarget(new URL(`${base}/redirect`), opts());
    assert.equal(r.ok && r.text, BODY);
  });

  test('connection refused and DNS failure', async () => {
    const r = await scrapeTarget(new URL(`http://127.0.0.1:${await closedPort()}/metrics`), opts());
    assert.match(!r.ok ? r.error : '', /connection refused/);
    const d = await scrapeTarget(new URL('http://no-such-host.invalid/metrics'), opts());
    assert.equal(d.ok, false);
    assert.match(!d.ok ? d.error : '', /DNS lookup failed|timed out/);
  });

  test('an aborted signal (deadline) stops the scrape', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const r = await scrapeTarget(new URL(`${base}/slow-headers`), opts({ signal: ac.signal }));
    assert.match(!r.ok ? r.error : '', /deadline/);
  });
});

describe('instance and shown URL', () => {
  test('endpoints sharing a host:port get the path in their instance, others stay host:port', () => {
    const urls = ['http://a:9100/metrics', 'http://a:9100/federate', 'http://b/metrics', 'http://c:1/m?x=1', 'http://c:1/m?x=2'].map((u) => new URL(u));
    assert.deepEqual(instancesOf(urls), ['a:9100/metrics', 'a:9100/federate', 'b:80', 'c:1/m?x=1', 'c:1/m?x=2']);
  });
  test('credential-like query values are redacted from the shown URL', () => {
    const shown = displayUrl(new URL('http://u:p4ss@h:1/metrics?access_token=abc123&module=x&apiKey=zz'));
    assert.doesNotMatch(shown, /abc123|zz|p4ss/);
    assert.match(shown, /module=x/);
  });
});

describe('https targets', () => {
  test('a self-signed certificate is refused with a named cause; a trusted one works', async (t) => {
    if (!requireBinary(t, '/usr/bin/openssl', 'openssl')) return;
    const dir = mkdtempSync(path.join(tmpdir(), 'prom2oci-tls-'));
    try {
      execFileSync(
        '/usr/bin/openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          path.join(dir, 'key.pem'),
          '-out',
          path.join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      const cert = readFileSync(path.join(dir, 'cert.pem'));
      const server = https.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert }, (_q, r) => r.end(BODY));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
        const r = await scrapeTarget(url, { timeoutMs: 30_000, maxBytes: 1024 * 1024 });
        assert.equal(r.ok, false);
        assert.match(
          !r.ok ? r.error : '',
          /TLS certificate rejected \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/,
        );
        // With the CA trusted (NODE_EXTRA_CA_CERTS in a real deployment), the same target scrapes.
        // (async: the server answers from this process's event loop)
        const child = await promisify(execFile)(
          process.execPath,
          [
            '--import',
            'tsx',
            '-e',
            `require('./src/scrape/scrape').scrapeTarget(new URL('${url}'), { timeoutMs: 30000, maxBytes: 1e6 }).then((r) => process.stdout.write(r.ok ` +
              `? 'ok' : r.error))`,
          ],
          { env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(dir, 'cert.pem') }, encoding: 'utf8', cwd: path.resolve(__dirname, '..'), timeout: 60_000 },
        );
        assert.equal(child.stdout, 'ok', child.stderr);
      } finally {
        server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
