/**
 * Realistic, deterministic Prometheus text expositions of an exact number of samples, shaped like
 * a busy service's /metrics: HELP and TYPE for every family, 3-5 labels per series, counters,
 * gauges, labelled histograms (12 buckets + _sum + _count) and a few labelled summaries.
 */
import { mulberry32 } from '../../src/local/demo/traffic';

/** What a generated exposition holds. */
export interface GeneratedExposition {
  text: string;
  /** Sample lines in `text` (exactly the requested number). */
  samples: number;
  families: number;
  bytes: number;
  /** Sample lines by family kind. */
  byKind: Record<'counter' | 'gauge' | 'histogram' | 'summary', number>;
}

type Kind = keyof GeneratedExposition['byKind'];

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
const ROUTES = [
  '/api/products',
  '/api/products/:id',
  '/api/orders',
  '/api/orders/:id',
  '/api/cart',
  '/api/cart/items',
  '/api/users',
  '/api/users/:id',
  '/api/payments',
  '/api/payments/:id/refund',
  '/api/search',
  '/api/health',
  '/api/inventory',
  '/api/shipping/quote',
  '/api/reviews',
  '/api/auth/login',
  '/api/auth/refresh',
  '/api/categories',
  '/api/recommendations',
  '/api/checkout',
];
const STATUS = ['200', '201', '204', '400', '404', '500'];
const ZONES = ['ap-mumbai-1-ad-1', 'ap-mumbai-1-ad-2', 'ap-mumbai-1-ad-3'];
const SUBSYSTEMS = ['http', 'db', 'cache', 'queue', 'payments', 'orders', 'inventory', 'auth', 'search', 'shipping'];
const BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];
const QUANTILES = ['0.5', '0.9', '0.99'];

/** Sample lines one series of a kind contributes. */
const LINES_PER_SERIES: Record<Kind, number> = { counter: 1, gauge: 1, histogram: BUCKETS.length + 2, summary: QUANTILES.length + 2 };

/** Kind of the i-th family: 40% counters, 20% gauges, 30% histograms, 10% summaries. */
function kindOf(i: number): Kind {
  const r = i % 10;
  return r < 4 ? 'counter' : r < 6 ? 'gauge' : r < 9 ? 'histogram' : 'summary';
}

/** The label set of series j of a family with `count` labels (3-5); distinct for every j < 600. */
function labelSet(j: number, count: number, pod: string): string {
  const pairs = [`method="${METHODS[j % 5]}"`, `route="${ROUTES[Math.floor(j / 5) % 20]}"`, `status_code="${STATUS[Math.floor(j / 100) % 6]}"`];
  if (count >= 4) pairs.push(`pod="${pod}"`);
  if (count >= 5) pairs.push(`zone="${ZONES[j % 3]}"`);
  return pairs.join(',');
}

/** A value formatted the way client libraries print floats. */
function num(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Math.round(x * 1e6) / 1e6);
}

/** Lines of one series of a histogram: cumulative buckets, then _sum and _count. */
function histogramLines(name: string, labels: string, rnd: () => number): string[] {
  const out: string[] = [];
  let cum = 0;
  for (const le of BUCKETS) {
    cum += le === '+Inf' ? Math.floor(rnd() * 5) : Math.floor(rnd() * 400);
    out.push(`${name}_bucket{${labels},le="${le}"} ${cum}`);
  }
  out.push(`${name}_sum{${labels}} ${num(cum * (0.05 + rnd() * 0.3))}`, `${name}_count{${labels}} ${cum}`);
  return out;
}

/** Lines of one series of a summary: quantiles, then _sum and _count. */
function summaryLines(name: string, labels: string, rnd: () => number): string[] {
  const count = 1 + Math.floor(rnd() * 10000);
  const q = QUANTILES.map((quantile, k) => `${name}{${labels},quantile="${quantile}"} ${num((k + 1) * 0.01 + rnd() * 0.02)}`);
  return [...q, `${name}_sum{${labels}} ${num(count * 0.02)}`, `${name}_count{${labels}} ${count}`];
}

/** The lines of one series of any kind. */
function seriesLines(kind: Kind, name: string, labels: string, rnd: () => number): string[] {
  switch (kind) {
    case 'counter':
      return [`${name}{${labels}} ${Math.floor(rnd() * 1e7)}`];
    case 'gauge':
      return [`${name}{${labels}} ${num(rnd() * 1000)}`];
    case 'histogram':
      return histogramLines(name, labels, rnd);
    case 'summary':
      return summaryLines(name, labels, rnd);
  }
}

/** Family name for index i: `<app>_<subsystem>_<thing>_<i>` with the kind's conventional suffix. */
function familyName(i: number, kind: Kind): string {
  const sub = SUBSYSTEMS[i % SUBSYSTEMS.length];
  const base = `bharatmart_${sub}_${kind === 'histogram' || kind === 'summary' ? 'duration_seconds' : kind === 'counter' ? 'requests' : 'in_flight'}_${i}`;
  return kind === 'counter' ? `${base}_total` : base;
}

/**
 * Generates an exposition of exactly `samples` sample lines. Families hold about
 * `samplesPerFamily` lines each (whole series); the tail is filled with a counter family.
 */
export function generateExposition(samples: number, seed = 42, samplesPerFamily = 100): GeneratedExposition {
  const rnd = mulberry32(seed);
  const parts: string[] = [];
  const byKind: Record<Kind, number> = { counter: 0, gauge: 0, histogram: 0, summary: 0 };
  let left = samples;
  let families = 0;
  for (let i = 0; left > 0; i++) {
    let kind = kindOf(i);
    let series = Math.max(1, Math.floor(samplesPerFamily / LINES_PER_SERIES[kind]));
    if (series * LINES_PER_SERIES[kind] > left) {
      kind = 'counter'; // the remainder, exact to the line
      series = left;
    }
    const name = familyName(i, kind);
    const labelCount = 3 + (i % 3);
    const pod = `bharatmart-backend-${((i * 2654435761) % 0xfffff).toString(16)}`;
    parts.push(`# HELP ${name} ${kind} of the ${SUBSYSTEMS[i % SUBSYSTEMS.length]} subsystem (generated for the benchmark)`, `# TYPE ${name} ${kind}`);
    for (let j = 0; j < series; j++) parts.push(...seriesLines(kind, name, labelSet(j, labelCount, pod), rnd));
    const lines = series * LINES_PER_SERIES[kind];
    byKind[kind] += lines;
    left -= lines;
    families++;
  }
  const text = parts.join('\n') + '\n';
  return { text, samples, families, bytes: Buffer.byteLength(text), byKind };
}
