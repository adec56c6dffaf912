/**
 * The demo's second exporter: BharatMart's payment gateway (the `payment` service its orders call),
 * a small node:http server on 127.0.0.1 with its own prom-client registry on /metrics. It runs in
 * this process so `npm start -- --config examples/bharatmart.yml` needs nothing but Node (a real
 * prometheus-node-exporter is not on every machine). Its own seeded traffic keeps the numbers moving.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { mulberry32, randInt } from './traffic';

interface PaymentGatewayOptions {
  /** Default 0 (a free port). */
  port?: number;
  /** Payments processed on a timer; default off. */
  traffic?: boolean | { intervalMs?: number };
  /** Seeds the PRNG. Default 7. */
  seed?: number;
}

export interface PaymentGateway {
  /** The scrape URL: http://127.0.0.1:<port>/metrics */
  url: string;
  registry: Registry;
  /** Processes `n` payments now (what the traffic timer does). */
  process(n: number): void;
  /** Stops the traffic and closes the server (port freed). Idempotent. */
  stop(): Promise<void>;
}

const PROVIDERS = ['upi', 'card', 'netbanking', 'wallet'] as const;

/** The gateway's metrics, registered on its own registry (no process metrics: BharatMart's process has them). */
function createMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'payment_gateway_requests_total',
      help: 'Payment requests by provider and outcome',
      labelNames: ['provider', 'outcome'],
      registers,
    }),
    duration: new Histogram({
      name: 'payment_gateway_request_duration_seconds',
      help: 'Time to an answer from the provider',
      labelNames: ['provider'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    queue: new Gauge({ name: 'payment_gateway_settlement_queue_depth', help: 'Payments awaiting settlement', registers }),
  };
}

/** Starts the gateway on 127.0.0.1. */
export async function startPaymentGateway(opts: PaymentGatewayOptions = {}): Promise<PaymentGateway> {
  const registry = new Registry();
  const m = createMetrics(registry);
  const rng = mulberry32(opts.seed ?? 7);
  let queued = 0;
  const processPayments = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const provider = PROVIDERS[randInt(rng, 0, PROVIDERS.length - 1)];
      const r = rng();
      const outcome = r < 0.9 ? 'success' : r < 0.97 ? 'declined' : 'error';
      m.requests.inc({ provider, outcome });
      m.duration.observe({ provider }, (provider === 'netbanking' ? 0.08 : 0.02) + rng() * 0.2);
      if (outcome === 'success') queued++;
    }
    queued = Math.max(0, queued - randInt(rng, 0, n));
    m.queue.set(queued);
  };
  processPayments(5);
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    req.resume();
    if (pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: the gateway serves /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
      (e: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(e.message);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const traffic = opts.traffic
    ? setInterval(() => processPayments(randInt(rng, 1, 4)), (typeof opts.traffic === 'object' && opts.traffic.intervalMs) || 500)
    : undefined;
  traffic?.unref();
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    registry,
    process: processPayments,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        clearInterval(traffic);
        server.closeAllConnections();
        server.close(() => resolve());
      }).then(() => registry.clear())),
  };
}
