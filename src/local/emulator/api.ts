/**
 * The emulator's own small JSON API (not an OCI API): what the local explorer page and
 * scripts read. Unauthenticated, like any local dev tool: the emulator listens on loopback only.
 * GET /emulator/api/namespaces                      -> string[]
 * GET /emulator/api/metrics?namespace=ns&dim.<key>=<value> -> string[] (metric names; of those streams only)
 * GET /emulator/api/dimensions?namespace=&name=     -> { key: values[] }
 * GET /emulator/api/series?namespace=&name=&from=&to=&compartmentId=&dim.<key>=<value> -> MetricSeries[]
 * GET /emulator/api/query?namespace=&query=<MQL>&from=&to=&compartmentId=&resourceGroup=
 *                                                   -> QueryResult (see mql.ts for the supported subset;
 *                                                      from/to default to the last hour)
 * GET /emulator/api/calls?limit=100                 -> CallRecord[] (newest last)
 * GET /emulator/api/stats                           -> counters and store size
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { evaluateMql, formatMql, lookbackMs, MqlError, parseMql, type MqlQuery, type MqlSeries } from './mql';
import type { MetricQuery, MetricSeries, MetricStore } from './store';

/** The parts of the emulator the API reads. */
interface ApiSource {
  store: MetricStore;
  calls: readonly unknown[];
  counters: unknown;
}

const API_PREFIX = '/emulator/api/';

/** Parse an optional ms-since-epoch (or ISO date) query parameter. */
function timeParam(v: string | null): number | undefined {
  if (v === null || v === '') return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(n)) throw new Error(`not a time: ${v}`);
  return n;
}

/** Build a MetricQuery from URL parameters (`dim.<key>=<value>` filters dimensions). */
function queryFromParams(params: URLSearchParams): MetricQuery {
  const q: MetricQuery = {};
  for (const key of ['namespace', 'name', 'compartmentId', 'resourceGroup'] as const) {
    const v = params.get(key);
    if (v) q[key] = v;
  }
  const dims: Record<string, string> = {};
  for (const [k, v] of params) if (k.startsWith('dim.')) dims[k.slice(4)] = v;
  if (Object.keys(dims).length > 0) q.dimensions = dims;
  const from = timeParam(params.get('from'));
  const to = timeParam(params.get('to'));
  if (from !== undefined) q.from = from;
  if (to !== undefined) q.to = to;
  return q;
}

/** What the query route answers. */
interface QueryResult {
  /** The query in canonical form. */
  query: string;
  /** The parsed query (the page syncs its form controls from it). */
  parsed: MqlQuery;
  namespace: string;
  intervalMs: number;
  from: number;
  to: number;
  series: MqlSeries[];
  /** Notes for the user, e.g. an interval OCI would reject. */
  warnings: string[];
}

const DEFAULT_RANGE_MS = 3_600_000;

/** Evaluates an MQL query over the store; MqlError for a bad query, Error for bad parameters. */
export function runQuery(store: MetricStore, params: URLSearchParams, nowMs: number = Date.now()): QueryResult {
  const namespace = params.get('namespace') ?? '';
  if (namespace === '') throw new Error('namespace is required');
  const q = parseMql(params.get('query') ?? '');
  const to = timeParam(params.get('to')) ?? nowMs;
  const from = timeParam(params.get('from')) ?? to - DEFAULT_RANGE_MS;
  if (from >= to) throw new Error('from must be before to');
  const stored = queryFromParams(params);
  const series = store.query({
    ...stored,
    namespace,
    name: q.metric,
    dimensions: undefined,
    from: Math.floor(from / q.intervalMs) * q.intervalMs - lookbackMs(q),
    to,
  });
  const warnings: string[] = [];
  if (q.localOnlyInterval) warnings.push(`OCI accepts intervals of 1m-60m, 1h-24h or 1d; ${q.interval} works only in this local explorer`);
  if (series.length === 0) warnings.push(`no datapoints of ${q.metric} in namespace ${namespace} in this time range`);
  return { query: formatMql(q), parsed: q, namespace, intervalMs: q.intervalMs, from, to, series: evaluateMql(q, series, { from, to }), warnings };
}

/** Answer one API request; returns false when the path is not an API path. */
export function handleEmulatorApi(req: IncomingMessage, res: ServerResponse, src: ApiSource): boolean {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (!url.pathname.startsWith(API_PREFIX)) return false;
  const send = (status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  if (req.method !== 'GET') {
    send(405, { code: 'MethodNotAllowed', message: 'GET only' });
    return true;
  }
  const p = url.searchParams;
  try {
    switch (url.pathname.slice(API_PREFIX.length)) {
      case 'namespaces':
        send(200, src.store.namespaces());
        break;
      case 'metrics':
        send(200, src.store.metricNames(p.get('namespace') ?? '', queryFromParams(p).dimensions));
        break;
      case 'dimensions':
        send(200, src.store.dimensionValues(p.get('namespace') ?? '', p.get('name') ?? undefined));
        break;
      case 'series': {
        const series: MetricSeries[] = src.store.query(queryFromParams(p));
        send(200, series);
        break;
      }
      case 'query':
        send(200, runQuery(src.store, p));
        break;
      case 'calls': {
        const limit = Math.max(1, Math.min(10_000, Number(p.get('limit') ?? 100) || 100));
        send(200, src.calls.slice(-limit));
        break;
      }
      case 'stats':
        send(200, { counters: src.counters, store: src.store.stats() });
        break;
      default:
        send(404, { code: 'NotFound', message: `No such emulator API: ${url.pathname}` });
    }
  } catch (err) {
    const code = err instanceof MqlError ? 'InvalidQuery' : 'InvalidParameter';
    send(400, {
      code,
      message: err instanceof Error ? err.message : String(err),
      ...(err instanceof MqlError && err.column !== undefined ? { column: err.column } : {}),
    });
  }
  return true;
}
