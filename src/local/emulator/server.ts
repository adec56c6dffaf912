/**
 * A local OCI Telemetry Ingestion (PostMetricData) and Vault Secrets (GetSecretBundle) emulator on
 * 127.0.0.1. It verifies real OCI request signatures, applies OCI's documented PostMetricData
 * rules, stores what it accepts (bounded), and injects faults (latency, 429, 5xx, resets, hangs)
 * so the real SDKs can be tested end to end without an OCI tenancy.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { handleEmulatorApi } from './api';
import { CallLog, type CallRecord, type EmulatorCounters, type Route } from './calls';
import { type Fault, FaultQueue, type FaultRoute, Sleeps } from './faults';
import { Fleet, FLEET_API_PREFIX } from './fleet';
import { HttpFailure, readBody, requestIdFor, sendJson } from './http';
import { IngestionService, METRICS_PATH } from './ingestion';
import { listAddressOf, objectAddressOf, ObjectStorageState } from './objectStorage';
import { SECRET_BUNDLE_PREFIX, SecretsService, type SecretStore } from './secrets';
import { AuthError, authKindOf, parseAuthorization, type Principal, verifyRequest } from './signature';
import type { MetricQuery, MetricSeries, MetricStore, StoredMetric } from './store';

export type { Fault } from './faults';

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
  /** The emulator's monotonic clock (ms): the rate limit's sliding second. Tests advance it instead of sleeping. */
  monotonicNow?: () => number;
  /** Structured log sink, one object per request (no secrets are ever passed to it). */
  log?: (entry: Record<string, unknown>) => void;
  /**
   * Extra non-OCI routes (e.g. the explorer page), tried before the OCI APIs after the
   * built-in /emulator/api/ JSON routes: return true when the request was answered. Not recorded
   * in `calls`, not authenticated, no faults.
   */
  extraHandler?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
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
  enqueueFault(fault: Fault, times?: number, route?: FaultRoute): void;
  /** Number of queued fault applications left for a route. */
  pendingFaults(route?: FaultRoute): number;
  /** Resolves once no request is being handled (hung ones end when their socket is dropped): an event to wait for instead of a window. */
  idle(): Promise<void>;
  /** Drops the queued faults of a route (all routes when omitted), keeping stored data and objects. */
  clearFaults(route?: FaultRoute): void;
  /** Series matching a query (see MetricStore.query). */
  query(q?: MetricQuery): MetricSeries[];
  /** Forget calls, counters, stored metrics, queued faults and rate windows (not settings, secrets or Object Storage objects: objectStorage.clearObjects()). */
  reset(): void;
  /** Stop listening and drop open connections (hung ones included). */
  close(): Promise<void>;
}

/** Options with defaults filled in. */
type ResolvedOptions = Required<
  Pick<EmulatorOptions, 'host' | 'trustedIssuers' | 'configKeys' | 'maxClockSkewMs' | 'latencyMs' | 'maxBodyBytes' | 'maxCallRecords' | 'now' | 'monotonicNow'>
> &
  Omit<EmulatorOptions, 'host' | 'trustedIssuers' | 'configKeys' | 'maxClockSkewMs' | 'latencyMs' | 'maxBodyBytes' | 'maxCallRecords' | 'now' | 'monotonicNow'>;

/** The parts of a running emulator: each owns its state; the server only routes between them. */
interface EmulatorParts {
  options: ResolvedOptions;
  callLog: CallLog;
  faults: FaultQueue;
  sleeps: Sleeps;
  ingestion: IngestionService;
  secrets: SecretsService;
  objectStorage: ObjectStorageState;
  fleet: Fleet;
  handling: InFlight;
}

/** The requests being handled, and who waits for none to be. */
class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  /** Counts `work` while it runs. */
  track(work: Promise<unknown>): void {
    this.count++;
    void work.finally(() => {
      if (--this.count > 0) return;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Resolves when no request is being handled. */
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
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
    monotonicNow: opts.monotonicNow ?? (() => performance.now()),
  };
}

/** Which API a path belongs to. */
function routeOf(method: string, path: string): Route {
  if (method === 'POST' && path === METRICS_PATH) return 'metrics';
  if (method === 'GET' && path.startsWith(SECRET_BUNDLE_PREFIX)) return 'secrets';
  if (method === 'GET' && path.startsWith(FLEET_API_PREFIX)) return 'discovery';
  if ((method === 'GET' || method === 'PUT' || method === 'HEAD') && objectAddressOf(path) !== undefined) return 'objectstorage';
  if (method === 'GET' && listAddressOf(path) !== undefined) return 'objectstorage';
  return 'other';
}

/** Verify the signature; any failure is a 401 NotAuthenticated with the reason. */
function authenticate(options: ResolvedOptions, method: string, url: string, req: IncomingMessage, body: Buffer, bodySigned = true): Principal {
  try {
    return verifyRequest({ method, url, headers: req.headers, body }, options, { bodySigned });
  } catch (err) {
    if (err instanceof AuthError)
      throw new HttpFailure(401, 'NotAuthenticated', `The required information to complete authentication was not provided or was incorrect: ${err.message}`);
    throw new HttpFailure(401, 'NotAuthenticated', 'The required information to complete authentication was not provided or was incorrect');
  }
}

/** A Compute/VCN/Identity call answered from the simulated fleet. */
function fleetCall(fleet: Fleet, url: string): { status: number; body: unknown; headers: Record<string, string> } {
  const u = new URL(url, 'http://emulator');
  const out = fleet.handle(u.pathname, u.searchParams);
  if (!out) throw new HttpFailure(404, 'NotAuthorizedOrNotFound', `No such API: GET ${u.pathname}`);
  if ('code' in out) throw new HttpFailure(out.status, out.code, out.message);
  return { status: out.status, body: out.body, headers: out.headers ?? {} };
}

/** A call processed as usual whose answer is lost: the connection is reset instead. */
function loseAnswer(req: IncomingMessage, call: CallRecord): void {
  call.fault = 'lost_answer';
  req.socket.destroy();
}

/** Object Storage's answer, written as OCI writes it (HEAD without a body); with `lostAnswer`, the request is carried out and the connection reset. */
function answerObjectStorage(
  p: EmulatorParts,
  method: string,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  call: CallRecord,
  lostAnswer: boolean,
): void {
  const object = objectAddressOf(path);
  const answer = object
    ? p.objectStorage.handle(method, object, req.headers, body, new Date(p.options.now()))
    : p.objectStorage.list(listAddressOf(path)!, new URL(req.url ?? '/', 'http://emulator').searchParams);
  call.status = answer.status;
  if (lostAnswer) return loseAnswer(req, call);
  if (answer.error) throw new HttpFailure(answer.status, answer.error.code, answer.error.message);
  const payload = method === 'HEAD' ? undefined : answer.body;
  res.writeHead(answer.status, {
    'opc-request-id': call.requestId,
    ...(payload ? {} : { 'content-length': answer.headers['content-length'] ?? '0' }),
    ...answer.headers,
  });
  res.end(payload);
}

/** Handle one OCI API request from arrival to record: body, latency, faults, authentication, the service, the record. */
async function handleOciRequest(p: EmulatorParts, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { options, callLog, faults } = p;
  const started = performance.now();
  const method = (req.method ?? 'GET').toUpperCase();
  const url = req.url ?? '/';
  const path = url.split('?')[0];
  const route = routeOf(method, path);
  const callGeneration = callLog.generation;
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
    await p.sleeps.sleep(options.latencyMs);
    if (await faults.apply(route, req, res, call, callGeneration === callLog.generation)) return;
    if (route === 'other') throw new HttpFailure(404, 'NotAuthorizedOrNotFound', `No such API: ${method} ${path}`);
    const acceptedBody = faults.takeAcceptedBody(route);
    const lostAnswer = faults.takeLostAnswer(route, req);
    call.authKind = authKindOf(safeKeyId(req.headers.authorization));
    // Object Storage's PutObject body is not part of the signature (the SDK streams it).
    const principal = authenticate(options, method, url, req, body, route !== 'objectstorage');
    call.tenancyId = principal.tenancyId;
    call.subjectId = principal.subjectId;
    if (route === 'objectstorage') return answerObjectStorage(p, method, path, req, res, body, call, lostAnswer);
    const out =
      route === 'metrics'
        ? { ...p.ingestion.postMetricData(principal, body, call, callLog.counters), headers: {} }
        : route === 'discovery'
          ? fleetCall(p.fleet, url)
          : p.secrets.getSecretBundle(path, call, options.now());
    call.status = out.status;
    if (lostAnswer) return loseAnswer(req, call);
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
    callLog.record(call, callGeneration);
  }
}

/** Local (non-OCI) routes first: the JSON API, then the caller's extra handler. */
async function handleLocal(p: EmulatorParts, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (handleEmulatorApi(req, res, { store: p.ingestion.store, calls: p.callLog.calls, counters: p.callLog.counters })) return true;
  return p.options.extraHandler ? await p.options.extraHandler(req, res) : false;
}

/** Listen on the options' host and port; every socket is tracked so close() can drop hung ones. */
async function listen(p: EmulatorParts, port: number): Promise<{ server: Server; sockets: Set<Socket> }> {
  const { options } = p;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    p.handling.track(
      handleLocal(p, req, res).then(
        (answered) => (answered ? undefined : handleOciRequest(p, req, res)),
        (err: unknown) => {
          options.log?.({ event: 'emulator_error', error: String(err instanceof Error ? err.message : err) });
          if (!res.headersSent) sendJson(res, 500, requestIdFor(req), { code: 'InternalServerError', message: 'Emulator error' });
        },
      ),
    );
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, sockets };
}

/** The function's settings that point each OCI client it uses (Monitoring, Secrets, Object Storage) at an emulator at `url`. */
export function emulatorEndpointsEnv(url: string): Record<string, string> {
  return { OCI_MONITORING_ENDPOINT: url, OCI_SECRETS_ENDPOINT: url, OCI_OBJECT_STORAGE_ENDPOINT: url };
}

/** Start the emulator on 127.0.0.1 (a free port by default). */
export async function startIngestionEmulator(opts: EmulatorOptions = {}): Promise<IngestionEmulator> {
  const options = resolveOptions(opts);
  const sleeps = new Sleeps();
  const p: EmulatorParts = {
    options,
    callLog: new CallLog(options, SECRET_BUNDLE_PREFIX + '…'),
    faults: new FaultQueue(sleeps),
    sleeps,
    ingestion: new IngestionService(options),
    secrets: new SecretsService(),
    objectStorage: new ObjectStorageState(),
    fleet: new Fleet(),
    handling: new InFlight(),
  };
  const { server, sockets } = await listen(p, opts.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const { callLog, faults, ingestion, secrets } = p;

  return {
    url: `http://${options.host}:${port}`,
    port,
    options,
    calls: callLog.calls,
    get accepted(): StoredMetric[] {
      return ingestion.store.all();
    },
    get counters(): EmulatorCounters {
      return callLog.counters;
    },
    store: ingestion.store,
    secrets: secrets.secrets,
    deniedSecrets: secrets.denied,
    secretFetchCounts: secrets.fetchCounts,
    objectStorage: p.objectStorage,
    fleet: p.fleet,
    enqueueFault(fault: Fault, times = 1, route: FaultRoute = 'metrics'): void {
      faults.enqueue(fault, times, route);
    },
    pendingFaults(route: FaultRoute = 'metrics'): number {
      return faults.pending(route);
    },
    idle(): Promise<void> {
      return p.handling.idle();
    },
    query(q?: MetricQuery): MetricSeries[] {
      return ingestion.store.query(q);
    },
    clearFaults(route?: FaultRoute): void {
      faults.clear(route);
    },
    reset(): void {
      callLog.reset();
      ingestion.reset();
      faults.clearAll();
      secrets.fetchCounts.clear();
    },
    close(): Promise<void> {
      sleeps.close();
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
