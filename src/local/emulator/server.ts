/**
 * A local OCI Telemetry Ingestion (PostMetricData) and Vault Secrets (GetSecretBundle) emulator on
 * 127.0.0.1. It verifies real OCI request signatures, applies OCI's documented PostMetricData
 * rules, stores what it accepts (bounded), and injects faults (latency, 429, 5xx, resets, hangs)
 * so the real SDKs can be tested end to end without an OCI tenancy.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { handleEmulatorApi } from './api';
import { objectAddressOf, ObjectStorageState } from './objectStorage';
import { AuthError, type AuthKind, authKindOf, parseAuthorization, type Principal, verifyRequest } from './signature';
import { TenancyRateLimiter } from './rate-limit';
import { type MetricQuery, type MetricSeries, MetricStore, type StoredMetric } from './store';
import { type RequestError, type ScopeCheck, validatePostBody } from './validation';
import { Fleet, FLEET_API_PREFIX } from './fleet';

/** Settings of the emulator; the object on `emulator.options` is live and may be changed at run time. */
export interface EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** PEM public keys that sign RPSTs (from makeResourcePrincipal().issuerPublicKeyPem). */
  trustedIssuers?: string[];
  /** API key id (`tenancy/user/fingerprint`) -> PEM public key (from makeConfigFile()). */
  configKeys?: Record<string, string>;
  /** Allowed difference between the request date and the emulator clock (default 300000 ms, as OCI). */
  maxClockSkewMs?: number;
  /**
   * PostMetricData calls per sliding second per tenancy, shared by every principal of the tenancy
   * (several functions or users); more get 429 TooManyRequests. undefined = no limit.
   */
  rateLimitPerSecond?: number;
  /** Delay added before every API response (ms). */
  latencyMs?: number;
  /** Compartments the caller may post to; others get 404 NotAuthorizedOrNotFound. undefined = all. */
  authorizedCompartments?: string[];
  /** Namespaces the caller may post to (the policy's target.metrics.namespace). undefined = all. */
  authorizedNamespaces?: string[];
  /** Bound of the in-memory store in datapoints (oldest dropped first). undefined = 1,000,000. */
  maxStoredDatapoints?: number;
  /** Largest request body accepted (413 beyond; OCI documents no limit). Default 10 MiB. */
  maxBodyBytes?: number;
  /** How many CallRecords are kept (oldest dropped). Default 10,000. */
  maxCallRecords?: number;
  /** The emulator's wall clock (ms): request dates, token expiry and datapoint ages are judged by it. */
  now?: () => number;
  /** Structured log sink, one object per request (no secrets are ever passed to it). */
  log?: (entry: Record<string, unknown>) => void;
  /**
   * Extra non-OCI routes (e.g. the explorer page), tried before the OCI APIs after the
   * built-in /emulator/api/ JSON routes: return true when the request was answered. Not recorded
   * in `calls`, not authenticated, no faults.
   */
  extraHandler?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
}

/** A fault injected into the next matching calls; `match` limits it to calls whose path and query match. */
export type Fault = (
  | { status: number; code?: string; message?: string }
  | { reset: true }
  | { hangMs: number }
  /** The call is processed (and its metrics stored) as usual; its 2xx response carries this body instead. */
  | { acceptedBody: string }
) & { match?: RegExp };

/** Which API a request was for ('discovery': the simulated fleet's Compute, VCN and Identity calls). */
type Route = 'metrics' | 'secrets' | 'objectstorage' | 'discovery' | 'other';

/** One request as the emulator saw it. */
interface CallRecord {
  /** Emulator clock (ms) when the request arrived. */
  time: number;
  method: string;
  path: string;
  route: Route;
  /** HTTP status sent; 0 when the connection was reset or hung up without a response. */
  status: number;
  /** OCI error code of an error response. */
  code?: string;
  authKind: AuthKind;
  /** Tenancy of the verified principal (the rate limit's key). */
  tenancyId?: string;
  /** The verified principal itself (resource id or user id): tells clients of one tenancy apart. */
  subjectId?: string;
  /** Number of items in metricData (0 when the body could not be read). */
  metricCount: number;
  acceptedCount: number;
  failedCount: number;
  durationMs: number;
  requestId: string;
  /** Set when an injected fault answered this call. */
  fault?: 'status' | 'reset' | 'hang' | 'body';
  /** Secret id of a GetSecretBundle call. */
  secretId?: string;
}

/** Running totals since start or the last reset(). */
interface EmulatorCounters {
  calls: number;
  postMetricData: number;
  secretFetches: number;
  /** HTTP status -> count ("0" = reset/hung connections). */
  byStatus: Record<string, number>;
  throttled: number;
  faults: number;
  metricsAccepted: number;
  metricsFailed: number;
  datapointsAccepted: number;
}

/** Secret id -> plaintext value; every set() makes a new version (for rotation tests). */
class SecretStore extends Map<string, string> {
  private readonly versions = new Map<string, number>();

  /** Store a new version of a secret. */
  override set(secretId: string, value: string): this {
    this.versions?.set(secretId, (this.versions.get(secretId) ?? 0) + 1);
    return super.set(secretId, value);
  }

  /** Current version number of a secret (1 after the first set). */
  version(secretId: string): number {
    return this.versions.get(secretId) ?? 0;
  }
}

/** A running emulator. */
export interface IngestionEmulator {
  /** `http://127.0.0.1:PORT`, no trailing slash: give it to `client.endpoint`. */
  readonly url: string;
  readonly port: number;
  /** Live settings: change latencyMs, rateLimitPerSecond, authorizedCompartments, ... at run time. */
  readonly options: ResolvedOptions;
  /** Every request, oldest first (bounded by maxCallRecords). */
  readonly calls: CallRecord[];
  /** Stored metric objects, oldest first. */
  readonly accepted: StoredMetric[];
  readonly counters: EmulatorCounters;
  readonly store: MetricStore;
  /** Secret id -> plaintext value served by GetSecretBundle. */
  readonly secrets: SecretStore;
  /** Secret ids that answer 404 NotAuthorizedOrNotFound even when present (no IAM policy). */
  readonly deniedSecrets: Set<string>;
  /** Secret id -> number of GetSecretBundle calls for it. */
  readonly secretFetchCounts: Map<string, number>;
  /** Object Storage: the namespace, buckets (createBucket), denied buckets and stored objects. */
  readonly objectStorage: ObjectStorageState;
  /** The simulated compute fleet served to discovery (instances, VNICs, compartments). */
  readonly fleet: Fleet;
  /** Apply a fault to the next `times` calls of a route (default: PostMetricData, once). */
  enqueueFault(fault: Fault, times?: number, route?: Exclude<Route, 'other'>): void;
  /** Number of queued fault applications left for a route. */
  pendingFaults(route?: Exclude<Route, 'other'>): number;
  /** Drops the queued faults of a route (all routes when omitted), keeping stored data and objects. */
  clearFaults(route?: Exclude<Route, 'other'>): void;
  /** Series matching a query (see MetricStore.query). */
  query(q?: MetricQuery): MetricSeries[];
  /** Forget calls, counters, stored metrics, queued faults and rate windows (not settings, secrets or Object Storage objects: objectStorage.clearObjects()). */
  reset(): void;
  /** Stop listening and drop open connections (hung ones included). */
  close(): Promise<void>;
}

/** Options with defaults filled in. */
type ResolvedOptions = Required<
  Pick<EmulatorOptions, 'host' | 'trustedIssuers' | 'configKeys' | 'maxClockSkewMs' | 'latencyMs' | 'maxBodyBytes' | 'maxCallRecords' | 'now'>
> &
  Omit<EmulatorOptions, 'host' | 'trustedIssuers' | 'configKeys' | 'maxClockSkewMs' | 'latencyMs' | 'maxBodyBytes' | 'maxCallRecords' | 'now'>;

const METRICS_PATH = '/20180401/metrics';
const SECRET_BUNDLE_PREFIX = '/20190301/secretbundles/';

/** Default OCI error code for a status (used by injected faults without a code). */
const DEFAULT_CODES: Record<number, string> = {
  400: 'InvalidParameter',
  401: 'NotAuthenticated',
  404: 'NotAuthorizedOrNotFound',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

/** An error response to send. */
class HttpFailure extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Fill in defaults for the options. */
function resolveOptions(opts: EmulatorOptions): ResolvedOptions {
  return {
    ...opts,
    host: opts.host ?? '127.0.0.1',
    trustedIssuers: opts.trustedIssuers ?? [],
    configKeys: opts.configKeys ?? {},
    maxClockSkewMs: opts.maxClockSkewMs ?? 300_000,
    latencyMs: opts.latencyMs ?? 0,
    maxBodyBytes: opts.maxBodyBytes ?? 10 * 1024 * 1024,
    maxCallRecords: opts.maxCallRecords ?? 10_000,
    maxStoredDatapoints: opts.maxStoredDatapoints ?? 1_000_000,
    now: opts.now ?? Date.now,
  };
}

/** Fresh zeroed counters. */
function newCounters(): EmulatorCounters {
  return { calls: 0, postMetricData: 0, secretFetches: 0, byStatus: {}, throttled: 0, faults: 0, metricsAccepted: 0, metricsFailed: 0, datapointsAccepted: 0 };
}

/** An OCI-like request id; the client's own id is kept as a prefix, as OCI does. */
function requestIdFor(req: IncomingMessage): string {
  const own = randomBytes(16).toString('hex').toUpperCase();
  const client = req.headers['opc-request-id'];
  return typeof client === 'string' && client ? `${client}/${own}` : own;
}

/** Which API a path belongs to. */
function routeOf(method: string, path: string): Route {
  if (method === 'POST' && path === METRICS_PATH) return 'metrics';
  if (method === 'GET' && path.startsWith(SECRET_BUNDLE_PREFIX)) return 'secrets';
  if (method === 'GET' && path.startsWith(FLEET_API_PREFIX)) return 'discovery';
  if ((method === 'GET' || method === 'PUT' || method === 'HEAD') && objectAddressOf(path) !== undefined) return 'objectstorage';
  return 'other';
}

/** Read the whole body, failing with 413 beyond the cap (the rest is drained, not buffered). */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () =>
      tooLarge ? reject(new HttpFailure(413, 'PayloadTooLarge', `The request body is larger than ${maxBytes} bytes`)) : resolve(Buffer.concat(chunks)),
    );
    req.on('error', reject);
  });
}

/** Start the emulator on 127.0.0.1 (a free port by default). */
export async function startIngestionEmulator(opts: EmulatorOptions = {}): Promise<IngestionEmulator> {
  const options = resolveOptions(opts);
  const store = new MetricStore(options.maxStoredDatapoints);
  /** Dimension keys used per metric group (tenancy, namespace, name): kept beyond the store's bound, as OCI keeps the group. */
  const groupDimensionKeys = new Map<string, Set<string>>();
  const groupId = (tenancyId: string, namespace: string, name: string) => JSON.stringify([tenancyId, namespace, name]);
  const calls: CallRecord[] = [];
  let counters = newCounters();
  const secrets = new SecretStore();
  const deniedSecrets = new Set<string>();
  const secretFetchCounts = new Map<string, number>();
  const faults: Record<Exclude<Route, 'other'>, Fault[]> = { metrics: [], secrets: [], objectstorage: [], discovery: [] };
  const objectStorage = new ObjectStorageState();
  const fleet = new Fleet();
  const limiter = new TenancyRateLimiter();
  /**
   * The sleeps in progress (latency, hangs), each ended early by close(). A set rather than one
   * abort listener per request on a shared signal: with latency, every request in flight sleeps,
   * and more than 10 at once made Node warn of a listener leak (MaxListenersExceededWarning).
   */
  const sleepers = new Set<() => void>();
  let closed = false;
  /** Sleeps `ms`, or less when the emulator closes or `until` aborts. */
  function sleep(ms: number, until?: AbortSignal): Promise<void> {
    if (ms <= 0 || closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        sleepers.delete(done);
        until?.removeEventListener('abort', done);
        resolve();
      }
      sleepers.add(done);
      until?.addEventListener('abort', done, { once: true });
    });
  }
  const sockets = new Set<Socket>();
  /** Bumped by reset(): calls that began earlier are not recorded. */
  let generation = 0;

  /** Keep a bounded record of a finished call and update the counters. */
  function record(call: CallRecord, callGeneration: number): void {
    // A call that began before reset() (e.g. a hung one) must not leak into the next test's records.
    if (callGeneration !== generation) return;
    calls.push(call);
    if (calls.length > options.maxCallRecords) calls.splice(0, calls.length - options.maxCallRecords);
    counters.calls++;
    counters.byStatus[String(call.status)] = (counters.byStatus[String(call.status)] ?? 0) + 1;
    if (call.status === 429) counters.throttled++;
    if (call.fault) counters.faults++;
    if (call.route === 'metrics') counters.postMetricData++;
    if (call.route === 'secrets') counters.secretFetches++;
    options.log?.({
      event: 'emulator_call',
      method: call.method,
      path: call.route === 'secrets' ? SECRET_BUNDLE_PREFIX + '…' : call.path,
      status: call.status,
      code: call.code,
      authKind: call.authKind,
      metrics: call.metricCount,
      accepted: call.acceptedCount,
      failed: call.failedCount,
      durationMs: call.durationMs,
      fault: call.fault,
    });
  }

  /** Send a JSON response with OCI's headers. */
  function sendJson(res: ServerResponse, status: number, requestId: string, body: unknown, extraHeaders: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'opc-request-id': requestId, ...extraHeaders });
    res.end(text);
  }

  /** IAM stand-in: compartments and namespaces the caller may post to. */
  const checkScope: ScopeCheck = (compartments, namespaces): RequestError | undefined => {
    const allowedC = options.authorizedCompartments;
    const allowedN = options.authorizedNamespaces;
    const deniedC = allowedC ? compartments.filter((c) => !allowedC.includes(c)) : [];
    const deniedN = allowedN ? namespaces.filter((n) => !allowedN.includes(n)) : [];
    if (deniedC.length === 0 && deniedN.length === 0) return undefined;
    return {
      status: 404,
      code: 'NotAuthorizedOrNotFound',
      message:
        'Authorization failed or requested resource not found (no policy allows posting metrics' +
        `${deniedN.length ? ` in namespace ${deniedN[0]}` : ''} to compartment ${deniedC[0] ?? compartments[0]})`,
    };
  };

  /** PostMetricData after authentication. */
  function postMetricData(principal: Principal, body: Buffer, call: CallRecord): { status: number; body: unknown } {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new HttpFailure(400, 'CannotParseRequest', 'The request body is not valid JSON');
    }
    const items = (parsed as { metricData?: unknown } | null)?.metricData;
    call.metricCount = Array.isArray(items) ? items.length : 0;
    if (!limiter.admit(principal.tenancyId, options.rateLimitPerSecond)) {
      throw new HttpFailure(
        429,
        'TooManyRequests',
        `Too many requests for the tenancy (more than ${options.rateLimitPerSecond} PostMetricData calls per second)`,
      );
    }
    const groupKeys = (namespace: string, name: string) => groupDimensionKeys.get(groupId(principal.tenancyId, namespace, name));
    const result = validatePostBody(parsed, options.now(), checkScope, groupKeys);
    if (!result.ok) throw new HttpFailure(result.error.status, result.error.code, result.error.message);
    store.maxDatapoints = options.maxStoredDatapoints;
    store.add(result.valid);
    for (const m of result.valid) {
      const id = groupId(principal.tenancyId, m.namespace, m.name);
      const keys = groupDimensionKeys.get(id) ?? new Set<string>();
      for (const k of Object.keys(m.dimensions)) keys.add(k);
      groupDimensionKeys.set(id, keys);
    }
    call.acceptedCount = result.valid.length;
    call.failedCount = result.failed.length;
    counters.metricsAccepted += result.valid.length;
    counters.metricsFailed += result.failed.length;
    counters.datapointsAccepted += result.valid.reduce((n, m) => n + m.datapoints.length, 0);
    const response: { failedMetricsCount: number; failedMetrics?: unknown[] } = { failedMetricsCount: result.failed.length };
    if (result.failed.length > 0) response.failedMetrics = result.failed;
    return { status: 200, body: response };
  }

  /** GetSecretBundle after authentication. */
  function getSecretBundle(path: string, call: CallRecord): { status: number; body: unknown; headers: Record<string, string> } {
    let secretId: string;
    try {
      secretId = decodeURIComponent(path.slice(SECRET_BUNDLE_PREFIX.length));
    } catch {
      throw new HttpFailure(400, 'InvalidParameter', 'The secret id is not valid URL encoding');
    }
    call.secretId = secretId;
    secretFetchCounts.set(secretId, (secretFetchCounts.get(secretId) ?? 0) + 1);
    const value = secrets.get(secretId);
    if (value === undefined || deniedSecrets.has(secretId)) {
      throw new HttpFailure(404, 'NotAuthorizedOrNotFound', 'Authorization failed or requested resource not found');
    }
    const version = secrets.version(secretId);
    const bundle = {
      secretId,
      versionNumber: version,
      stages: ['CURRENT', 'LATEST'],
      timeCreated: new Date(options.now()).toISOString(),
      secretBundleContent: { contentType: 'BASE64', content: Buffer.from(value, 'utf8').toString('base64') },
    };
    return { status: 200, body: bundle, headers: { etag: `${secretId}-v${version}` } };
  }

  /** A Compute/VCN/Identity call answered from the simulated fleet. */
  function fleetCall(url: string): { status: number; body: unknown; headers: Record<string, string> } {
    const u = new URL(url, 'http://emulator');
    const out = fleet.handle(u.pathname, u.searchParams);
    if (!out) throw new HttpFailure(404, 'NotAuthorizedOrNotFound', `No such API: GET ${u.pathname}`);
    if ('code' in out) throw new HttpFailure(out.status, out.code, out.message);
    return { status: out.status, body: out.body, headers: out.headers ?? {} };
  }

  /** Apply a queued fault; true when it answered (or killed) the call. */
  async function applyFault(route: Route, req: IncomingMessage, res: ServerResponse, call: CallRecord, callGeneration: number): Promise<boolean> {
    // A call that began before reset() (e.g. still in its latency delay) must not take faults queued after it.
    if (route === 'other' || callGeneration !== generation) return false;
    const at = faults[route].findIndex((f) => !f.match || f.match.test(req.url ?? ''));
    if (at < 0 || 'acceptedBody' in faults[route][at]) return false;
    const fault = faults[route].splice(at, 1)[0];
    if ('reset' in fault) {
      call.fault = 'reset';
      req.socket.destroy();
      return true;
    }
    if ('hangMs' in fault) {
      call.fault = 'hang';
      // The hang ends early when the client gives up (closes), so it is recorded promptly.
      const gaveUp = new AbortController();
      const onClose = (): void => gaveUp.abort();
      req.socket.once('close', onClose);
      await sleep(fault.hangMs, gaveUp.signal);
      req.socket.off('close', onClose);
      req.socket.destroy();
      return true;
    }
    if ('acceptedBody' in fault) return false; // taken by the call's own handling (see handle)
    call.fault = 'status';
    call.status = fault.status;
    call.code = fault.code ?? DEFAULT_CODES[fault.status] ?? 'InternalServerError';
    sendJson(res, fault.status, call.requestId, { code: call.code, message: fault.message ?? `Injected fault: ${fault.status} ${call.code}` });
    return true;
  }

  /** Handle one request from arrival to record. */
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    const route = routeOf(method, path);
    const callGeneration = generation;
    const call: CallRecord = {
      time: options.now(),
      method,
      path,
      route,
      status: 0,
      authKind: 'none',
      metricCount: 0,
      acceptedCount: 0,
      failedCount: 0,
      durationMs: 0,
      requestId: requestIdFor(req),
    };
    try {
      const body = await readBody(req, options.maxBodyBytes);
      await sleep(options.latencyMs);
      if (await applyFault(route, req, res, call, callGeneration)) return;
      if (route === 'other') throw new HttpFailure(404, 'NotAuthorizedOrNotFound', `No such API: ${method} ${path}`);
      const next = faults[route][0];
      const acceptedBody = next && 'acceptedBody' in next ? (faults[route].shift(), next.acceptedBody) : undefined;
      call.authKind = authKindOf(safeKeyId(req.headers.authorization));
      // Object Storage's PutObject body is not part of the signature (the SDK streams it).
      const principal = authenticate(method, url, req, body, route !== 'objectstorage');
      call.tenancyId = principal.tenancyId;
      call.subjectId = principal.subjectId;
      if (route === 'objectstorage') {
        const answer = objectStorage.handle(method, objectAddressOf(path)!, req.headers, body, new Date(options.now()));
        call.status = answer.status;
        if (answer.error) throw new HttpFailure(answer.status, answer.error.code, answer.error.message);
        const payload = method === 'HEAD' ? undefined : answer.body;
        res.writeHead(answer.status, {
          'opc-request-id': call.requestId,
          ...(payload ? {} : { 'content-length': answer.headers['content-length'] ?? '0' }),
          ...answer.headers,
        });
        res.end(payload);
        return;
      }
      const out =
        route === 'metrics' ? { ...postMetricData(principal, body, call), headers: {} } : route === 'discovery' ? fleetCall(url) : getSecretBundle(path, call);
      call.status = out.status;
      if (acceptedBody !== undefined && out.status < 300) {
        call.fault = 'body';
        res.writeHead(out.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(acceptedBody), 'opc-request-id': call.requestId });
        res.end(acceptedBody);
      } else sendJson(res, out.status, call.requestId, out.body, out.headers);
    } catch (err) {
      const failure = err instanceof HttpFailure ? err : new HttpFailure(500, 'InternalServerError', 'Emulator error');
      if (!(err instanceof HttpFailure)) options.log?.({ event: 'emulator_error', error: String(err instanceof Error ? err.message : err) });
      call.status = failure.status;
      call.code = failure.code;
      if (!res.headersSent && !req.socket.destroyed) sendJson(res, failure.status, call.requestId, { code: failure.code, message: failure.message });
    } finally {
      call.durationMs = Math.round((performance.now() - started) * 1000) / 1000;
      record(call, callGeneration);
    }
  }

  /** Verify the signature; any failure is a 401 NotAuthenticated with the reason. */
  function authenticate(method: string, url: string, req: IncomingMessage, body: Buffer, bodySigned = true): Principal {
    try {
      return verifyRequest({ method, url, headers: req.headers, body }, options, { bodySigned });
    } catch (err) {
      if (err instanceof AuthError)
        throw new HttpFailure(401, 'NotAuthenticated', `The required information to complete authentication was not provided or was incorrect: ${err.message}`);
      throw new HttpFailure(401, 'NotAuthenticated', 'The required information to complete authentication was not provided or was incorrect');
    }
  }

  /** Local (non-OCI) routes first: the JSON API, then the caller's extra handler. */
  async function handleLocal(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (handleEmulatorApi(req, res, { store, calls, counters })) return true;
    return options.extraHandler ? await options.extraHandler(req, res) : false;
  }

  const server: Server = createServer((req, res) => {
    void handleLocal(req, res).then(
      (answered) => (answered ? undefined : handle(req, res)),
      (err: unknown) => {
        options.log?.({ event: 'emulator_error', error: String(err instanceof Error ? err.message : err) });
        if (!res.headersSent) sendJson(res, 500, requestIdFor(req), { code: 'InternalServerError', message: 'Emulator error' });
      },
    );
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${options.host}:${port}`,
    port,
    options,
    calls,
    get accepted(): StoredMetric[] {
      return store.all();
    },
    get counters(): EmulatorCounters {
      return counters;
    },
    store,
    secrets,
    deniedSecrets,
    secretFetchCounts,
    objectStorage,
    fleet,
    enqueueFault(fault: Fault, times = 1, route: Exclude<Route, 'other'> = 'metrics'): void {
      for (let i = 0; i < times; i++) faults[route].push(fault);
    },
    pendingFaults(route: Exclude<Route, 'other'> = 'metrics'): number {
      return faults[route].length;
    },
    query(q?: MetricQuery): MetricSeries[] {
      return store.query(q);
    },
    clearFaults(route?: Exclude<Route, 'other'>): void {
      for (const r of route ? [route] : (['metrics', 'secrets', 'objectstorage'] as const)) faults[r].length = 0;
    },
    reset(): void {
      generation++;
      calls.length = 0;
      counters = newCounters();
      store.clear();
      groupDimensionKeys.clear();
      faults.metrics.length = 0;
      faults.secrets.length = 0;
      faults.objectstorage.length = 0;
      faults.discovery.length = 0;
      limiter.clear();
      secretFetchCounts.clear();
    },
    close(): Promise<void> {
      closed = true;
      for (const wake of [...sleepers]) wake();
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

/** The keyId of the Authorization header, or undefined (never thrown, never logged). */
function safeKeyId(header: string | undefined): string | undefined {
  try {
    return parseAuthorization(header).keyId;
  } catch {
    return undefined;
  }
}
