/**
 * Reliability, sockets: every scrape outcome leaves no connection open, on either side. The
 * targets here send bodies that never end (after a redirect, an error status, a wrong type), so
 * a response that is drained instead of closed keeps its socket for as long as the target likes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { scrapeTarget } from '../src/scrape/scrape';
import { startFaultyTarget, type FaultyTarget } from './helpers/faulty-target';

/** Far above any of the work below: a socket that is closed goes within milliseconds. */
const CLOSE_WAIT_MS = 15_000;

/** TCP handles of this process (client sockets and listening servers). */
const tcpHandles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPWrap').length;

describe('reliability: no socket outlives a scrape', () => {
  let target: FaultyTarget;
  before(async () => {
    target = await startFaultyTarget();
  });
  after(async () => {
    await target?.close();
  });

  const cases: { name: string; path: string; up: boolean; error?: RegExp; timeoutMs?: number }[] = [
    { name: 'healthy', path: '/ok?n=3', up: true },
    { name: 'redirect with a body that never ends, then the metrics', path: '/redirect-endless?to=/ok', up: true },
    {
      name: 'redirect with a body that never ends, to another host (refused)',
      path: '/redirect-endless?to=http://127.0.0.2:9/ok',
      up: false,
      error: /redirect to a different host/,
    },
    { name: 'redirect chain', path: '/chain/3', up: true },
    { name: 'error status with a body that never ends', path: '/status-endless/503', up: false, error: /^HTTP 503/ },
    { name: 'wrong content type with a body that never ends', path: '/type-endless', up: false, error: /unsupported content type "text\/html"/ },
    { name: 'body trickling past the timeout', path: '/trickle', up: false, error: /timed out/, timeoutMs: 300 },
    { name: 'over the size cap', path: '/big?bytes=200000', up: false, error: /SCRAPE_MAX_BYTES/ },
    { name: 'connection reset', path: '/reset', up: false, error: /reset/ },
  ];

  for (const c of cases) {
    test(`${c.name}: no connection left open`, async () => {
      const baseline = tcpHandles();
      const r = await scrapeTarget(new URL(target.url(c.path)), { timeoutMs: c.timeoutMs ?? 20_000, maxBytes: 100_000 });
      assert.equal(r.ok, c.up, r.ok ? 'scraped' : r.error);
      if (!r.ok && c.error) assert.match(r.error, c.error);
      // The target sees every connection closed (event-driven; the wait only bounds a failure).
      await target.whenNoConnections(CLOSE_WAIT_MS);
      assert.equal(target.openConnections(), 0);
      // And this process holds no socket for it either (closing is done by the time the server saw it).
      for (let i = 0; i < 100 && tcpHandles() > baseline; i++) await new Promise((r) => setImmediate(r));
      assert.ok(tcpHandles() <= baseline, `TCP handles ${tcpHandles()} after the scrape, ${baseline} before`);
    });
  }
});
