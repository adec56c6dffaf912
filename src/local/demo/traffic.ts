/**
 * Traffic generator for the BharatMart simulator: real HTTP requests on 127.0.0.1, shaped like
 * the original lab's load script (products, orders, users, cart, status, health, 404s, POSTs).
 * Deterministic for a given seed (the request mix, not the timing).
 */
import http from 'node:http';

/** A seeded PRNG in [0, 1): mulberry32, tiny and good enough for a simulator. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer in [min, max], both inclusive. */
export function randInt(rng: () => number, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

/** One request of the mix. */
interface PlannedRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: object;
}

type Planner = (rng: () => number) => PlannedRequest;

/** The lab's load mix: weight and how to build the request. Product ids above 50 are 404s on purpose. */
const MIX: Array<[number, Planner]> = [
  [24, () => ({ method: 'GET', path: '/api/products' })],
  [14, (r) => ({ method: 'GET', path: `/api/products/${randInt(r, 1, 56)}` })],
  [8, () => ({ method: 'GET', path: '/api/orders' })],
  [10, (r) => ({ method: 'POST', path: '/api/orders', body: { productId: randInt(r, 1, 50), quantity: randInt(r, 1, 3) } })],
  [6, () => ({ method: 'GET', path: '/api/users' })],
  [4, (r) => ({ method: 'GET', path: `/api/users/${randInt(r, 1, 22)}` })],
  [8, () => ({ method: 'GET', path: '/api/cart' })],
  [8, (r) => ({ method: 'POST', path: '/api/cart', body: { productId: randInt(r, 1, 50), quantity: randInt(r, 1, 2) } })],
  [4, () => ({ method: 'GET', path: '/api/status' })],
  [6, () => ({ method: 'GET', path: '/api/health' })],
  [5, (r) => ({ method: 'GET', path: `/api/${['wishlist', 'offers', 'does-not-exist'][randInt(r, 0, 2)]}` })],
  [3, () => ({ method: 'POST', path: '/api/checkout' })],
];
const MIX_TOTAL = MIX.reduce((s, [w]) => s + w, 0);

/** Picks the next request of the mix. */
export function planRequest(rng: () => number): PlannedRequest {
  let pick = rng() * MIX_TOTAL;
  for (const [weight, plan] of MIX) {
    pick -= weight;
    if (pick < 0) return plan(rng);
  }
  return MIX[0][1](rng);
}

interface TrafficOptions {
  /** Time between bursts. Default 200 ms. */
  intervalMs?: number;
  /** Requests per burst are 1..burstMax. Default 3. */
  burstMax?: number;
  seed?: number;
  /** Bursts are skipped while this many requests are still in flight (keeps CPU and sockets bounded). Default 8. */
  maxInFlight?: number;
}

export interface TrafficGenerator {
  /** Stops the timer and waits for requests in flight. */
  stop(): Promise<void>;
  /** Requests answered so far (any status). */
  sent(): number;
  /** Requests that failed at the HTTP level (connection errors). */
  errors(): number;
}

/** Starts sending bursts of the lab's request mix to baseUrl (http://127.0.0.1:port). */
export function startTraffic(baseUrl: string, opts: TrafficOptions = {}): TrafficGenerator {
  const url = new URL(baseUrl);
  const rng = mulberry32(opts.seed ?? 42);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const maxInFlight = opts.maxInFlight ?? 8;
  const burstMax = opts.burstMax ?? 3;
  let inFlight = 0;
  let sent = 0;
  let errors = 0;
  let stopped = false;
  const idle: Array<() => void> = [];

  /** Sends one request and drains the answer. */
  const send = (plan: PlannedRequest): void => {
    inFlight++;
    let finished = false;
    const finish = (ok: boolean): void => {
      if (finished) return;
      finished = true;
      done(ok);
    };
    const payload = plan.body ? JSON.stringify(plan.body) : undefined;
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: plan.method,
        path: plan.path,
        agent,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        res.resume();
        res.on('end', () => finish(true));
        res.on('error', () => finish(false));
      },
    );
    req.on('error', () => finish(false));
    req.end(payload);
  };
  /** Bookkeeping when a request ends. */
  const done = (ok: boolean): void => {
    if (ok) sent++;
    else errors++;
    inFlight--;
    if (inFlight === 0) idle.splice(0).forEach((f) => f());
  };
  const timer = setInterval(() => {
    if (stopped || inFlight >= maxInFlight) return;
    const n = randInt(rng, 1, burstMax);
    for (let i = 0; i < n; i++) send(planRequest(rng));
  }, opts.intervalMs ?? 200);
  // The generator never keeps a process alive on its own: the server (or the caller) decides.
  timer.unref();

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (inFlight > 0) await new Promise<void>((r) => idle.push(r));
      agent.destroy();
    },
    sent: () => sent,
    errors: () => errors,
  };
}
