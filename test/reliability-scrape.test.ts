/**
 * Reliability, scrape side, through the real function process (`dist/func.js` over the Fn socket,
 * RP auth, the emulator): every way a target can misbehave at once in one invocation. Each bad
 * target gets up=0 with an error naming the cause; the good ones go through; nothing is unaccounted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closedPort, startStack, type Stack } from './helpers/stack';
import { startFaultyTarget, startNonHttpServer, type FaultyTarget } from './helpers/faulty-target';
import { assertAccounted, lastInvocationLog, summaryOf } from './helpers/reliability';

/** One scrape case: the path on its own faulty target, and what the function must report. */
interface Case {
  name: string;
  path: string;
  up: boolean;
  error?: RegExp;
  /** Samples in the exposition when up. */
  samples?: number;
}

/** SCRAPE_TIMEOUT_MS of the all-faults invocation. */
const TIMEOUT_MS = 10_000;

const CASES: Case[] = [
  { name: 'healthy', path: '/ok?n=5', up: true, samples: 5 },
  { name: 'redirect chain within the bound', path: '/chain/3', up: true, samples: 2 },
  { name: 'empty body', path: '/empty', up: true, samples: 0 },
  { name: 'slow headers', path: '/slow-headers?ms=120000', up: false, error: /timed out after 10000 ms/ },
  { name: 'body trickling past the timeout', path: '/trickle', up: false, error: /timed out after 10000 ms/ },
  { name: '404', path: '/status/404', up: false, error: /^HTTP 404 Not Found$/ },
  { name: '500', path: '/status/500', up: false, error: /^HTTP 500 Internal Server Error$/ },
  { name: 'endless redirects', path: '/chain/9', up: false, error: /more than 5 redirects/ },
  { name: 'redirect to https', path: '/redirect?to=https://127.0.0.1:1/ok', up: false, error: /redirect to a different scheme .*refused/ },
  { name: 'over-size body', path: '/big?bytes=2097152', up: false, error: /body larger than SCRAPE_MAX_BYTES \(1048576 bytes\)/ },
  { name: 'gzip bomb', path: '/gzip-bomb?mb=64', up: false, error: /body larger than SCRAPE_MAX_BYTES \(1048576 bytes after decompression\)/ },
  { name: 'protobuf content type', path: '/protobuf', up: false, error: /unsupported content type "application\/vnd\.google\.protobuf/ },
  { name: 'binary garbage', path: '/garbage?seed=3', up: false, error: /^invalid exposition: line 1: / },
  { name: 'malformed exposition', path: '/malformed', up: false, error: /^invalid exposition: line 4: expected "," or "}"/ },
  { name: 'connection reset', path: '/reset', up: false, error: /^connection reset by the target$/ },
  {
    name: 'credentials wanted',
    path: '/auth',
    up: false,
    error: /^HTTP 401 Unauthorized \(the target wants credentials: set SCRAPE_BEARER_TOKEN_SECRET_OCID or put user:password in the URL\)$/,
  },
  { name: 'gzip header on a body that is not gzip', path: '/bad-gzip', up: false, error: /^invalid gzip body: / },
  { name: 'an encoding never asked for', path: '/brotli', up: false, error: /^unsupported content encoding "br"$/ },
  { name: 'connection closed mid-body', path: '/truncated', up: false, error: /^connection closed before the body was complete$/ },
  { name: 'OpenMetrics although not negotiated', path: '/openmetrics', up: false, error: /unsupported content type "application\/openmetrics-text/ },
];

describe('reliability: scrape faults through the function process', () => {
  let stack: Stack;
  const targets = new Map<string, FaultyTarget>();
  let other: FaultyTarget;
  before(async () => {
    stack = await startStack();
    for (const c of CASES) targets.set(c.name, await startFaultyTarget());
    other = await startFaultyTarget('127.0.0.2'); // another host on the loopback network
  });
  after(async () => {
    await stack?.close();
    await Promise.all([...targets.values(), other].filter(Boolean).map((t) => t.close()));
  });

  /** The up value posted for an instance (exactly one up metric per instance). */
  const upOf = (instance: string): number => {
    const ups = stack.emulator.accepted.filter((m) => m.name === 'up' && m.dimensions.instance === instance);
    assert.equal(ups.length, 1, `one up metric for ${instance}`);
    return ups[0].datapoints[0].value;
  };

  test('every scrape fault at once: each bad target is up=0 with its cause, the good ones are posted', async () => {
    stack.emulator.reset();
    const refused = `http://127.0.0.1:${await closedPort()}/metrics`;
    const dns = 'http://no-such-host.invalid:9100/metrics';
    const notHttp = await startNonHttpServer('SSH-2.0-OpenSSH_9.2\r\n');
    const urls = [...CASES.map((c) => targets.get(c.name)!.url(c.path)), refused, dns, notHttp.url];
    // The other-host redirect needs its own instance: a target of its own.
    const redirector = await startFaultyTarget();
    const otherHostUrl = redirector.url(`/redirect?to=${encodeURIComponent(other.url('/ok'))}`);
    urls.push(otherHostUrl);
    try {
      // The timeout is far above what a healthy target needs on a busy machine (a redirect chain is four exchanges).
      const fn = await stack.startFn({ METRICS_ENDPOINT: urls.join(','), SCRAPE_TIMEOUT_MS: String(TIMEOUT_MS), SCRAPE_MAX_BYTES: '1048576' });
      const started = Date.now();
      const res = await fn.invoke();
      const elapsed = Date.now() - started;
      const s = summaryOf(res);
      assert.equal(s.ok, true, 'partial success is success');
      assertAccounted(s, 'scrape faults');
      const byInstance = (u: string) => s.targets.find((t) => t.instance === new URL(u).host)!;
      for (const c of CASES) {
        const t = s.targets.find((x) => x.instance === `127.0.0.1:${targets.get(c.name)!.port}`);
        assert.ok(t, `${c.name}: reported`);
        assert.equal(t.up, c.up, `${c.name}: up (error: ${t.error})`);
        if (c.error) assert.match(t.error ?? '', c.error, c.name);
        if (c.samples !== undefined) assert.equal(t.samples, c.samples, `${c.name}: samples`);
        assert.equal(upOf(t.instance), c.up ? 1 : 0, `${c.name}: up posted`);
      }
      const r = byInstance(refused);
      assert.match(r.error!, /^connection refused$/);
      assert.equal(upOf(r.instance), 0);
      const d = s.targets.find((t) => t.instance === 'no-such-host.invalid:9100')!;
      assert.match(d.error!, /DNS lookup failed/);
      assert.equal(upOf(d.instance), 0);
      const n = byInstance(notHttp.url);
      assert.match(n.error!, /^not an HTTP response \(is this the metrics port\?\): Parse Error: Expected HTTP/);
      assert.equal(upOf(n.instance), 0);
      const o = s.targets.find((t) => t.instance === `127.0.0.1:${redirector.port}`)!;
      assert.match(o.error!, /redirect to a different host \(http:\/\/127\.0\.0\.2:\d+\/ok\) refused \(set SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS=true/);
      assert.equal(other.hits.get('/ok') ?? 0, 0, 'the other host was never contacted');
      // Everything healthy was posted; the whole invocation took about one scrape timeout, not the sum.
      assert.equal(s.posted, s.series);
      assert.equal(s.series, 5 + 2, 'only the healthy targets produced series (the empty one none)');
      // Two targets run into the timeout: one after the other they would take twice as long.
      assert.ok(elapsed < 2 * TIMEOUT_MS - 1000, `targets are scraped concurrently (${elapsed} ms)`);
      assert.equal(stack.emulator.accepted.filter((m) => m.name === 'up').length, urls.length, 'one up per target');
      // The one log line carries every target's error.
      const logged = await lastInvocationLog(fn);
      assert.equal(logged.msg, 'invocation complete');
      assert.equal(logged.targets.filter((t) => !t.up).length, urls.length - CASES.filter((c) => c.up).length);
      assert.ok(logged.targets.every((t) => t.up || typeof t.error === 'string'));
      assert.equal(fn.alive, true);
    } finally {
      await redirector.close();
      await notHttp.close();
    }
  });

  test('a redirect to another host is followed when configured, same scheme only, without the credentials', async () => {
    stack.emulator.reset();
    const redirector = await startFaultyTarget();
    try {
      const withCreds = redirector.url(`/redirect?to=${encodeURIComponent(other.url('/ok?n=4'))}`).replace('http://', 'http://scraper:s3cr3t-pass@');
      const fn = await stack.startFn({ METRICS_ENDPOINT: withCreds, SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS: 'true' });
      const res = await fn.invoke();
      const s = summaryOf(res);
      assertAccounted(s, 'followed redirect');
      assert.equal(s.targets[0].up, true, s.targets[0].error);
      assert.equal(s.targets[0].samples, 4);
      assert.equal(s.targets[0].instance, `127.0.0.1:${redirector.port}`, 'the instance stays the configured target');
      assert.equal(s.posted, 4);
      const first = redirector.authSeen.find((a) => a.path === '/redirect')!;
      assert.match(first.authorization ?? '', /^Basic /, 'the configured host gets the credentials');
      const seenElsewhere = other.authSeen.filter((a) => a.path === '/ok');
      assert.equal(seenElsewhere.length, 1);
      assert.equal(seenElsewhere[0].authorization, undefined, 'the other host never gets them');
      assert.doesNotMatch(res.body + fn.stdout.join('\n') + fn.stderr.join('\n'), /s3cr3t-pass/, 'the password is never shown');
      // A scheme change stays refused even then.
      const fn2 = await stack.startFn({
        METRICS_ENDPOINT: redirector.url('/redirect?to=https://127.0.0.2:1/ok'),
        SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS: 'true',
      });
      const res2 = await fn2.invoke();
      assert.equal(res2.status, 502);
      assert.match(res2.body, /redirect to a different scheme/);
    } finally {
      await redirector.close();
    }
  });

  test('every target down: a function error naming each cause, after posting up=0 for each', async () => {
    stack.emulator.reset();
    const a = targets.get('404')!,
      b = targets.get('malformed exposition')!;
    const fn = await stack.startFn({ METRICS_ENDPOINT: `${a.url('/status/404')},${b.url('/malformed')}` });
    const res = await fn.invoke();
    assert.equal(res.status, 502);
    const detail = (res.json as { detail: string }).detail;
    assert.match(detail, /all 2 targets are down/);
    assert.match(detail, /HTTP 404/);
    assert.match(detail, /line 4/);
    assert.equal(upOf(`127.0.0.1:${a.port}`), 0);
    assert.equal(upOf(`127.0.0.1:${b.port}`), 0);
    const logged = await lastInvocationLog(fn);
    assert.equal(logged.level, 'error');
    assert.equal(logged.series, 0);
    assert.equal(logged.posted + logged.failed + logged.undelivered, 0);
    assert.deepEqual(logged.selfMetrics, { posted: 14, failed: 0 }, 'seven self-metrics per target were posted');
    assert.equal(fn.alive, true);
  });
});
