/**
 * The BharatMart simulator: its /metrics exposes the lab's metric set with the right types and
 * labels, numbers move with traffic, chaos and failed orders happen, stop() frees the port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { gunzipSync } from 'node:zlib';
import http from 'node:http';
import { startBharatMart } from '../src/local/demo/bharatmart';
import { mulberry32, planRequest, startTraffic } from '../src/local/demo/traffic';

/** One sample line of the text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A tiny reader for the text format (independent of the project's parser on purpose). */
function readExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unreadable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { types, samples };
}

/** GET (or POST) on the simulator, returning status, headers and raw body. */
function request(
  url: string,
  init: { method?: string; body?: object; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const payload = init.body ? JSON.stringify(init.body) : undefined;
    const req = http.request(
      url,
      { method: init.method ?? 'GET', headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...(init.headers ?? {}) }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Scrapes /metrics and reads it. */
async function scrape(url: string): Promise<ReturnType<typeof readExposition> & { contentType: string }> {
  const res = await request(url);
  assert.equal(res.status, 200);
  return { ...readExposition(res.body.toString('utf8')), contentType: String(res.headers['content-type']) };
}

/** Sum of a family's samples with the given sample name. */
function total(samples: Sample[], name: string): number {
  return samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
}

/** The set of label-name lists seen for a sample name (sorted, `le` removed). */
function labelSets(samples: Sample[], name: string): Set<string> {
  return new Set(
    samples
      .filter((s) => s.name === name)
      .map((s) =>
        Object.keys(s.labels)
          .filter((k) => k !== 'le')
          .sort()
          .join(','),
      ),
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `ready()` holds: traffic is an event to wait for, not a time window (a busy machine is slow). */
async function waitFor(ready: () => boolean | Promise<boolean>, what: string, limitMs = 60_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!(await ready())) {
    if (Date.now() > until) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

test('/metrics exposes every BharatMart metric with the right type and labels after some traffic', async (t) => {
  const bm = await startBharatMart({ traffic: { intervalMs: 20 }, seed: 7 });
  t.after(() => bm.stop());
  assert.match(bm.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  assert.equal(bm.url, `${bm.baseUrl}/metrics`);
  // A few known requests on top of the generated traffic.
  assert.equal((await request(`${bm.baseUrl}/api/orders`, { method: 'POST', body: { productId: 3, quantity: 1 } })).status >= 200, true);
  assert.equal((await request(`${bm.baseUrl}/api/nope`)).status, 404);
  const routesNeeded = ['GET /api/products', 'GET /api/products/:id', 'POST /api/orders', 'GET /api/health', 'GET not_found'];
  await waitFor(async () => {
    const requests = (await scrape(bm.url)).samples.filter((s) => s.name === 'http_requests_total');
    const seen = new Set(requests.map((s) => `${s.labels.method} ${s.labels.route}`));
    return total(requests, 'http_requests_total') >= 20 && routesNeeded.every((r) => seen.has(r));
  }, 'traffic on every route');
  const { types, samples, contentType } = await scrape(bm.url);
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);

  const expected: Record<string, string> = {
    http_requests_total: 'counter',
    http_request_duration_seconds: 'histogram',
    external_call_latency_ms: 'histogram',
    orders_created_total: 'counter',
    orders_success_total: 'counter',
    orders_failed_total: 'counter',
    payments_processed_total: 'counter',
    chaos_events_total: 'counter',
    service_restarts_total: 'counter',
    simulated_latency_ms: 'gauge',
    // prom-client's default process metrics
    process_cpu_user_seconds_total: 'counter',
    process_resident_memory_bytes: 'gauge',
    nodejs_heap_size_used_bytes: 'gauge',
    nodejs_eventloop_lag_seconds: 'gauge',
  };
  for (const [name, type] of Object.entries(expected)) assert.equal(types.get(name), type, `TYPE of ${name}`);

  assert.deepEqual(labelSets(samples, 'http_requests_total'), new Set(['method,route,status_code']));
  for (const suffix of ['_bucket', '_sum', '_count']) {
    assert.deepEqual(labelSets(samples, `http_request_duration_seconds${suffix}`), new Set(['method,route,status_code']), suffix);
    assert.deepEqual(labelSets(samples, `external_call_latency_ms${suffix}`), new Set(['service']), suffix);
  }
  assert.ok(samples.some((s) => s.name === 'http_request_duration_seconds_bucket' && s.labels.le === '+Inf'));
  const services = new Set(samples.filter((s) => s.name === 'external_call_latency_ms_count').map((s) => s.labels.service));
  assert.ok(services.has('payment') && services.has('inventory'), [...services].join(','));

  const requests = samples.filter((s) => s.name === 'http_requests_total');
  const routes = new Set(requests.map((s) => `${s.labels.method} ${s.labels.route}`));
  for (const r of routesNeeded) assert.ok(routes.has(r), `route ${r} in ${[...routes].join(', ')}`);
  assert.ok(
    requests.some((s) => s.labels.status_code === '404'),
    '404s recorded',
  );
  assert.ok(
    requests.some((s) => s.labels.method === 'POST'),
    'POSTs recorded',
  );

  for (const name of ['orders_created_total', 'payments_processed_total', 'service_restarts_total']) {
    const found = samples.filter((s) => s.name === name);
    assert.equal(found.length, 1, name);
    assert.deepEqual(found[0].labels, {}, `${name} is unlabelled`);
    assert.ok(found[0].value >= 1, `${name} > 0`);
  }
  assert.ok(
    samples.some((s) => s.name === 'simulated_latency_ms'),
    'gauge sample present',
  );
  assert.ok(total(samples, 'http_requests_total') >= 20, 'traffic reached the app');
  // Every http_requests_total sample has its histogram twin with the same count.
  for (const s of requests) {
    const count = samples.find(
      (d) =>
        d.name === 'http_request_duration_seconds_count' &&
        d.labels.method === s.labels.method &&
        d.labels.route === s.labels.route &&
        d.labels.status_code === s.labels.status_code,
    );
    assert.equal(count?.value, s.value, JSON.stringify(s.labels));
  }
});

test('counters grow between two scrapes while traffic runs', async (t) => {
  const bm = await startBharatMart({ traffic: { intervalMs: 20 } });
  t.after(() => bm.stop());
  await waitFor(() => bm.requestsServed() > 0, 'the first request');
  const first = await scrape(bm.url);
  const servedFirst = bm.requestsServed();
  // Two more requests than the scrape itself could account for.
  await waitFor(() => bm.requestsServed() > servedFirst + 2, 'more traffic');
  const second = await scrape(bm.url);
  assert.ok(total(second.samples, 'http_requests_total') > total(first.samples, 'http_requests_total'));
  assert.ok(total(second.samples, 'http_request_duration_seconds_count') > total(first.samples, 'http_request_duration_seconds_count'));
  assert.ok(bm.requestsServed() > servedFirst);
});

test('failed orders and chaos events are counted', async (t) => {
  const failing = await startBharatMart({ chaosRate: 0, orderFailureRate: 1 });
  t.after(() => failing.stop());
  for (let i = 0; i < 4; i++) {
    const res = await request(`${failing.baseUrl}/api/orders`, { method: 'POST', body: { productId: 1, quantity: 1 } });
    assert.ok(res.status === 409 || res.status === 502, `failed order status ${res.status}`);
  }
  const f = (await scrape(failing.url)).samples;
  assert.equal(total(f, 'orders_created_total'), 4);
  assert.equal(total(f, 'orders_failed_total'), 4);
  assert.equal(total(f, 'orders_success_total'), 0);

  const chaotic = await startBharatMart({ chaosRate: 1, orderFailureRate: 0 });
  t.after(() => chaotic.stop());
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await request(`${chaotic.baseUrl}/api/users`)).status);
  const c = (await scrape(chaotic.url)).samples;
  assert.equal(total(c, 'chaos_events_total'), 12, 'one chaos event per request at rate 1');
  assert.equal(statuses.filter((s) => s === 500).length, c.find((s) => s.name === 'chaos_events_total' && s.labels.type === 'error')?.value ?? 0);
  assert.ok(new Set(c.filter((s) => s.name === 'chaos_events_total').map((s) => s.labels.type)).size >= 2, 'several chaos types');
});

test('API routes answer like the shop', async (t) => {
  const bm = await startBharatMart({ chaosRate: 0, orderFailureRate: 0 });
  t.after(() => bm.stop());
  const products = await request(`${bm.baseUrl}/api/products`);
  assert.equal(products.status, 200);
  assert.ok(Array.isArray(JSON.parse(products.body.toString())));
  assert.equal((await request(`${bm.baseUrl}/api/products/7`)).status, 200);
  assert.equal((await request(`${bm.baseUrl}/api/products/51`)).status, 404);
  assert.equal((await request(`${bm.baseUrl}/api/orders`, { method: 'POST', body: { productId: 2, quantity: 2 } })).status, 201);
  assert.equal((await request(`${bm.baseUrl}/api/orders`, { method: 'POST', body: { productId: 'x' } })).status, 400);
  assert.equal((await request(`${bm.baseUrl}/api/cart`, { method: 'POST', body: { productId: 2 } })).status, 201);
  const cart = JSON.parse((await request(`${bm.baseUrl}/api/cart`)).body.toString()) as { items: unknown[] };
  assert.equal(cart.items.length, 1);
  assert.equal((await request(`${bm.baseUrl}/api/users/3`)).status, 200);
  assert.equal((await request(`${bm.baseUrl}/api/health`)).status, 200);
  assert.equal((await request(`${bm.baseUrl}/api/status`)).status, 200);
  assert.equal((await request(`${bm.baseUrl}/api/checkout`, { method: 'POST' })).status, 404);
  assert.equal(bm.requestsServed(), 11);
  const s = (await scrape(bm.url)).samples;
  assert.equal(total(s, 'http_requests_total'), 11, '/metrics itself is not counted');
  assert.equal(total(s, 'payments_processed_total'), 1);
  assert.equal(total(s, 'orders_success_total'), 1);
});

test('/metrics honours Accept-Encoding: gzip', async (t) => {
  const bm = await startBharatMart();
  t.after(() => bm.stop());
  const res = await request(bm.url, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(res.headers['content-encoding'], 'gzip');
  const text = gunzipSync(res.body).toString('utf8');
  assert.match(text, /# TYPE http_requests_total counter/);
  assert.match(text, /service_restarts_total 1/);
});

test('stop() frees the port and is idempotent', async () => {
  const bm = await startBharatMart({ traffic: { intervalMs: 20 } });
  const port = Number(new URL(bm.baseUrl).port);
  await sleep(200);
  await bm.stop();
  await bm.stop();
  await assert.rejects(request(bm.url), /ECONNREFUSED/);
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  await new Promise<void>((r) => server.close(() => r()));
  // The same port can host a new simulator.
  const again = await startBharatMart({ port });
  assert.equal(again.baseUrl, `http://127.0.0.1:${port}`);
  await again.stop();
});

test('traffic: the request mix is seeded and shaped like the lab script; stop() stops it', async (t) => {
  const draw = (seed: number): string[] => {
    const rng = mulberry32(seed);
    return Array.from({ length: 400 }, () => {
      const p = planRequest(rng);
      return `${p.method} ${p.path}`;
    });
  };
  assert.deepEqual(draw(1), draw(1));
  assert.notDeepEqual(draw(1), draw(2));
  const kinds = draw(3).map((r) => r.replace(/\/\d+$/, '/:id'));
  for (const k of [
    'GET /api/products',
    'GET /api/products/:id',
    'GET /api/orders',
    'POST /api/orders',
    'GET /api/users',
    'GET /api/cart',
    'POST /api/cart',
    'GET /api/status',
    'GET /api/health',
    'POST /api/checkout',
  ]) {
    assert.ok(kinds.includes(k), `mix contains ${k}`);
  }
  assert.ok(
    kinds.some((k) => /^GET \/api\/(wishlist|offers|does-not-exist)$/.test(k)),
    'mix contains unknown routes',
  );

  const bm = await startBharatMart();
  t.after(() => bm.stop());
  const traffic = startTraffic(bm.baseUrl, { intervalMs: 10, seed: 5 });
  await waitFor(() => traffic.sent() > 5, 'some traffic');
  await traffic.stop();
  const served = bm.requestsServed();
  assert.ok(traffic.sent() > 5, `sent ${traffic.sent()}`);
  assert.equal(traffic.errors(), 0);
  assert.equal(served, traffic.sent(), 'every request answered before stop() resolved');
  await sleep(200);
  assert.equal(bm.requestsServed(), served, 'no request after stop()');
});
