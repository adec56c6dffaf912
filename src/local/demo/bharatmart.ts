/**
 * BharatMart simulator: a small e-commerce API on 127.0.0.1 (node:http, no framework) that
 * records the BharatMart metric set with prom-client and serves it on /metrics. Chaos events
 * (injected latency, 500s, simulated restarts) and failed orders keep the numbers moving.
 * Used by `npm start`, the CLI demo and the tests as a realistic scrape target.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { mulberry32, randInt, startTraffic, type TrafficGenerator } from './traffic';

const gzipAsync = promisify(gzip);

interface BharatMartOptions {
  /** Default 0 (a free port). */
  port?: number;
  host?: '127.0.0.1';
  /** Built-in traffic generator; default off. */
  traffic?: boolean | { intervalMs?: number };
  /** Seeds the app's and the traffic's PRNGs. Default 42. */
  seed?: number;
  /** Probability per API request of a chaos event. Default 0.03. */
  chaosRate?: number;
  /** Probability that an order fails (payment declined / inventory). Default 0.1. */
  orderFailureRate?: number;
}

export interface BharatMart {
  /** The scrape URL: http://127.0.0.1:<port>/metrics */
  url: string;
  /** http://127.0.0.1:<port> */
  baseUrl: string;
  registry: Registry;
  /** Stops the traffic, closes the server (port freed) and clears the registry. */
  stop(): Promise<void>;
  /** API requests answered so far (not counting /metrics). */
  requestsServed(): number;
  /** A latency incident: the next `requests` API requests each take `ms` longer (as a chaos latency event). */
  injectLatency(ms: number, requests: number): void;
}

/** The BharatMart metrics, registered on one registry. */
interface ShopMetrics {
  httpRequests: Counter<'method' | 'route' | 'status_code'>;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  externalLatency: Histogram<'service'>;
  ordersCreated: Counter;
  ordersSuccess: Counter;
  ordersFailed: Counter;
  paymentsProcessed: Counter;
  chaosEvents: Counter<'type'>;
  serviceRestarts: Counter;
  simulatedLatency: Gauge;
}

/** Creates the metric set exactly as the BharatMart backend names it. */
function createMetrics(registry: Registry): ShopMetrics {
  const registers = [registry];
  return {
    httpRequests: new Counter({ name: 'http_requests_total', help: 'Total HTTP requests', labelNames: ['method', 'route', 'status_code'], registers }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    externalLatency: new Histogram({
      name: 'external_call_latency_ms',
      help: 'Latency of calls to external services in milliseconds',
      labelNames: ['service'],
      buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers,
    }),
    ordersCreated: new Counter({ name: 'orders_created_total', help: 'Orders created', registers }),
    ordersSuccess: new Counter({ name: 'orders_success_total', help: 'Orders completed successfully', registers }),
    ordersFailed: new Counter({ name: 'orders_failed_total', help: 'Orders that failed', registers }),
    paymentsProcessed: new Counter({ name: 'payments_processed_total', help: 'Payments processed', registers }),
    chaosEvents: new Counter({ name: 'chaos_events_total', help: 'Chaos events injected', labelNames: ['type'], registers }),
    serviceRestarts: new Counter({ name: 'service_restarts_total', help: 'Simulated service restarts', registers }),
    simulatedLatency: new Gauge({ name: 'simulated_latency_ms', help: 'Latency currently injected by chaos, in milliseconds', registers }),
  };
}

/** A request outcome produced by a route handler. */
interface Reply {
  status: number;
  body: unknown;
}

/** Route pattern (for the `route` label) and its handler. */
interface Route {
  method: 'GET' | 'POST';
  pattern: string;
  regex: RegExp;
  handle: (params: string[], body: unknown) => Promise<Reply>;
}

/** Mutable simulator state: chaos and the shop's tiny data set. */
class Shop {
  private chaosLatencyMs = 0;
  private chaosRemaining = 0;
  private orders: Array<{ id: number; productId: number; quantity: number; status: string }> = [];
  private cart: Array<{ productId: number; quantity: number }> = [];
  readonly startedAt = Date.now();
  served = 0;

  constructor(
    readonly m: ShopMetrics,
    private readonly rng: () => number,
    private readonly chaosRate: number,
    private readonly orderFailureRate: number,
  ) {
    m.serviceRestarts.inc(); // the process "started" once
    m.simulatedLatency.set(0);
  }

  /** Waits for the given time (the simulator's "work": no CPU). */
  private sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  /** Simulates a call to a dependency and records its latency. */
  async externalCall(service: string, minMs: number, maxMs: number): Promise<void> {
    const ms = randInt(this.rng, minMs, maxMs);
    const started = performance.now();
    await this.sleep(ms);
    this.m.externalLatency.observe({ service }, performance.now() - started);
  }

  /** Rolls for a chaos event before a request; returns a forced status (500) or null. */
  async chaos(): Promise<number | null> {
    if (this.chaosRemaining > 0) {
      this.chaosRemaining--;
      if (this.chaosRemaining === 0) this.setLatency(0);
    }
    if (this.rng() < this.chaosRate) {
      const roll = this.rng();
      if (roll < 0.45) {
        this.m.chaosEvents.inc({ type: 'latency' });
        this.setLatency(randInt(this.rng, 100, 600));
        this.chaosRemaining = randInt(this.rng, 5, 20);
      } else if (roll < 0.9) {
        this.m.chaosEvents.inc({ type: 'error' });
        return 500;
      } else {
        this.m.chaosEvents.inc({ type: 'restart' });
        this.m.serviceRestarts.inc();
      }
    }
    if (this.chaosLatencyMs > 0) await this.sleep(this.chaosLatencyMs);
    return null;
  }

  /** Starts a latency incident of `ms` for the next `requests` API requests. */
  injectLatency(ms: number, requests: number): void {
    this.setLatency(ms);
    this.chaosRemaining = requests;
  }

  /** Sets the injected latency and its gauge. */
  private setLatency(ms: number): void {
    this.chaosLatencyMs = ms;
    this.m.simulatedLatency.set(ms);
  }

  /** Base handling time for a normal request. */
  work(): Promise<void> {
    return this.sleep(randInt(this.rng, 1, 15));
  }

  /** The chaos state, for /api/status. */
  status(): Record<string, unknown> {
    return { latencyMs: this.chaosLatencyMs, remainingRequests: this.chaosRemaining };
  }

  /** Creates an order: inventory, then payment, then shipping; fails now and then. */
  async createOrder(body: unknown): Promise<Reply> {
    const input = (body && typeof body === 'object' ? body : {}) as { productId?: unknown; quantity?: unknown };
    const productId = Number(input.productId ?? 1);
    const quantity = Number(input.quantity ?? 1);
    if (!Number.isInteger(productId) || productId < 1 || productId > PRODUCTS.length || !Number.isInteger(quantity) || quantity < 1) {
      return { status: 400, body: { error: 'productId (1-50) and quantity (>=1) are required' } };
    }
    this.m.ordersCreated.inc();
    const id = this.orders.length + 1;
    await this.externalCall('inventory', 3, 30);
    if (this.rng() < this.orderFailureRate / 2) return this.failOrder(id, productId, quantity, 409, 'out of stock');
    await this.externalCall('payment', 10, 80);
    if (this.rng() < this.orderFailureRate / 2) return this.failOrder(id, productId, quantity, 502, 'payment declined by gateway');
    this.m.paymentsProcessed.inc();
    await this.externalCall('shipping', 2, 20);
    this.m.ordersSuccess.inc();
    this.remember({ id, productId, quantity, status: 'confirmed' });
    return { status: 201, body: { id, productId, quantity, status: 'confirmed' } };
  }

  /** Records a failed order. */
  private failOrder(id: number, productId: number, quantity: number, status: number, reason: string): Reply {
    this.m.ordersFailed.inc();
    this.remember({ id, productId, quantity, status: 'failed' });
    return { status, body: { id, error: reason } };
  }

  /** Keeps the last orders only (bounded memory). */
  private remember(order: { id: number; productId: number; quantity: number; status: string }): void {
    this.orders.push(order);
    if (this.orders.length > 100) this.orders.shift();
  }

  /** Adds to the cart after an inventory check. */
  async addToCart(body: unknown): Promise<Reply> {
    const input = (body && typeof body === 'object' ? body : {}) as { productId?: unknown; quantity?: unknown };
    const productId = Number(input.productId ?? 1);
    if (!Number.isInteger(productId) || productId < 1 || productId > PRODUCTS.length) return { status: 400, body: { error: 'unknown productId' } };
    await this.externalCall('inventory', 3, 30);
    this.cart.push({ productId, quantity: Number(input.quantity ?? 1) || 1 });
    if (this.cart.length > 20) this.cart.shift();
    return { status: 201, body: { items: this.cart.length } };
  }

  /** The routes of the BharatMart API. */
  routes(): Route[] {
    const r = (method: 'GET' | 'POST', pattern: string, handle: Route['handle']): Route => ({
      method,
      pattern,
      regex: new RegExp('^' + pattern.replace(/:[a-z]+/g, '([^/]+)') + '$'),
      handle,
    });
    const ok = async (body: unknown): Promise<Reply> => {
      await this.work();
      return { status: 200, body };
    };
    return [
      r('GET', '/api/products', () => ok(PRODUCTS.slice(0, 20))),
      r('GET', '/api/products/:id', async ([id]) => {
        await this.externalCall('inventory', 2, 15);
        const product = PRODUCTS[Number(id) - 1];
        return product ? { status: 200, body: product } : { status: 404, body: { error: 'product not found' } };
      }),
      r('GET', '/api/orders', () => ok(this.orders.slice(-20))),
      r('POST', '/api/orders', (_p, body) => this.createOrder(body)),
      r('GET', '/api/users', () => ok(USERS)),
      r('GET', '/api/users/:id', async ([id]) => {
        await this.work();
        const user = USERS[Number(id) - 1];
        return user ? { status: 200, body: user } : { status: 404, body: { error: 'user not found' } };
      }),
      r('GET', '/api/cart', () => ok({ items: this.cart })),
      r('POST', '/api/cart', (_p, body) => this.addToCart(body)),
      r('GET', '/api/status', () =>
        ok({ status: 'ok', uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000), chaos: this.status(), served: this.served }),
      ),
      r('GET', '/api/health', () => Promise.resolve({ status: 200, body: { status: 'healthy' } })),
    ];
  }
}

const CATEGORIES = ['electronics', 'grocery', 'fashion', 'home', 'books'];
const PRODUCTS = Array.from({ length: 50 }, (_, i) => ({
  id: i + 1,
  name: `Product ${i + 1}`,
  category: CATEGORIES[i % CATEGORIES.length],
  priceInr: 99 + ((i * 137) % 4900),
}));
const USERS = Array.from({ length: 20 }, (_, i) => ({ id: i + 1, name: `User ${i + 1}`, city: ['Mumbai', 'Delhi', 'Bengaluru', 'Chennai'][i % 4] }));

/** Reads a small request body (bounded; the simulator never needs more than a few hundred bytes). */
function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 64 * 1024) chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text ? (JSON.parse(text) as unknown) : undefined);
      } catch {
        resolve(undefined);
      }
    });
    req.on('error', () => resolve(undefined));
  });
}

/** Writes a JSON response. */
function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Serves /metrics, gzip-compressed when the scraper accepts it. */
async function serveMetrics(registry: Registry, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const text = await registry.metrics();
  const headers: http.OutgoingHttpHeaders = { 'content-type': registry.contentType };
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    const body = await gzipAsync(text);
    res.writeHead(200, { ...headers, 'content-encoding': 'gzip', 'content-length': body.length, vary: 'Accept-Encoding' });
    res.end(body);
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Handles one API request: chaos, routing, metrics. */
async function handleApi(shop: Shop, routes: Route[], req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const started = process.hrtime.bigint();
  const method = req.method ?? 'GET';
  const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
  const body = method === 'POST' ? await readBody(req) : (req.resume(), undefined);
  let route = 'not_found';
  let reply: Reply = { status: 404, body: { error: 'not found' } };
  const match = findRoute(routes, method, pathname);
  if (match) {
    route = match.route.pattern;
    const forced = match.route.pattern === '/api/health' ? null : await shop.chaos();
    reply = forced ? { status: forced, body: { error: 'chaos: injected failure' } } : await match.route.handle(match.params, body);
  }
  sendJson(res, reply.status, reply.body);
  shop.served++;
  const labels = { method, route, status_code: String(reply.status) };
  shop.m.httpRequests.inc(labels);
  shop.m.httpDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
}

/** Finds the route for a method and path. */
function findRoute(routes: Route[], method: string, pathname: string): { route: Route; params: string[] } | null {
  for (const route of routes) {
    if (route.method !== method) continue;
    const m = route.regex.exec(pathname);
    if (m) return { route, params: m.slice(1) };
  }
  return null;
}

/** Starts the simulator (and optionally its traffic) on 127.0.0.1. */
export async function startBharatMart(opts: BharatMartOptions = {}): Promise<BharatMart> {
  const seed = opts.seed ?? 42;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const shop = new Shop(createMetrics(registry), mulberry32(seed), opts.chaosRate ?? 0.03, opts.orderFailureRate ?? 0.1);
  const routes = shop.routes();
  const server = http.createServer((req, res) => {
    const pathname = (req.url ?? '/').split('?')[0];
    const work = pathname === '/metrics' ? serveMetrics(registry, req, res) : handleApi(shop, routes, req, res);
    work.catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, { error: err.message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://${host}:${port}`;
  let traffic: TrafficGenerator | null = null;
  if (opts.traffic) {
    const intervalMs = typeof opts.traffic === 'object' ? opts.traffic.intervalMs : undefined;
    traffic = startTraffic(baseUrl, { intervalMs, seed: seed ^ 0x5bd1e995 });
  }
  let stopping: Promise<void> | null = null;
  return {
    url: `${baseUrl}/metrics`,
    baseUrl,
    registry,
    requestsServed: () => shop.served,
    injectLatency: (ms, requests) => shop.injectLatency(ms, requests),
    stop() {
      stopping ??= (async () => {
        await traffic?.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        registry.clear();
      })();
      return stopping;
    },
  };
}
