/**
 * The local demo stack behind `npm start`: the BharatMart simulator with traffic, the ingestion
 * emulator (storing, serving the explorer page and query API, trusting self-made resource-principal
 * credentials), and the real function (dist/func.js) started and invoked as the Fn agent does, on a
 * fixed-rate schedule. Everything on 127.0.0.1; stop() ends every process, server and timer.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBharatMart, type BharatMart } from './bharatmart';
import { DEMO_ADDRESSES, listedTargets, substituteTargets } from './demoConfig';
import { startPaymentGateway, type PaymentGateway } from './payments';
import { makeResourcePrincipal } from '../emulator/credentials';
import { createExplorerHandler } from '../emulator/explorer/serve';
import { emulatorEndpointsEnv, startIngestionEmulator, type IngestionEmulator } from '../emulator/server';
import { funcYamlMemoryMb, startFunction, type LocalFunction } from '../fn-agent';
import type { InvocationSummary } from '../../handler/summary';
import { startSchedule, type Schedule } from '../schedule';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FleetInstance } from '../emulator/fleet';

/** A made-up compartment: the emulator accepts any well-formed OCID. */
const DEMO_COMPARTMENT = 'ocid1.compartment.oc1..aaaaaaaalocaldemoprom2ocibharatmart';
/** The Object Storage bucket of the demo function's state (derived series), and of its configuration object. */
const DEMO_STATE_BUCKET = 'prom2oci-state';
/** The object `start --config FILE` is put as (SCRAPE_CONFIG_OBJECT), as Terraform's scrape_config_file puts it. */
const DEMO_CONFIG_OBJECT = 'prom2oci/scrape-config.yml';

interface DemoOptions {
  /** Function invocation schedule (default 60 s, like production). */
  intervalMs?: number;
  /** Emulator port; 0 = a free port. When the port is taken, a free port is used instead. Default 0. */
  port?: number;
  namespace?: string;
  /** Kept invocation records (default 100). */
  historySize?: number;
  /** Traffic generator on the simulator (default true). */
  traffic?: boolean;
  /** The function entry (default dist/func.js). */
  entry: string;
  /** Called after every invocation (e.g. to print a line). */
  onInvocation?: (record: InvocationRecord) => void;
  /** Called with the function's log lines. */
  onFunctionLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  /**
   * Fleet mode: this many simulated BharatMart instances in the emulator's compute fleet, found by
   * the function's discovery instead of METRICS_ENDPOINT (0 = the single static target).
   */
  fleet?: number;
  /**
   * A Prometheus configuration file to run instead of the single target (`start --config`): its
   * jobs, targets and namespaces. The demo's apps serve at DEMO_ADDRESSES; the file's targets naming
   * one of them are rewritten when the app had to take another port.
   */
  scrapeConfig?: { text: string; name: string };
  /** With scrapeConfig: the apps try their fixed addresses first (default true); false = free ports (tests). */
  fixedPorts?: boolean;
}

/** What a configuration file run (`start --config`) came to. */
interface DemoConfigRun {
  /** The file's name as given. */
  name: string;
  /** Targets of the file rewritten to where a demo app listens: [as written, where it is]. */
  moved: [string, string][];
  /** The text the function read first (later edits of the file are put again before an invocation). */
  text: string;
  /** Where the function reads it: SCRAPE_CONFIG_OBJECT, `<bucket>/<object>` in the emulator's Object Storage. */
  object: string;
}

/** One simulated instance of the demo fleet. */
interface FleetMember {
  instance: FleetInstance;
  shop: BharatMart;
}

/** The demo fleet: add and terminate instances while it runs. */
interface DemoFleet {
  readonly members: readonly FleetMember[];
  /** Starts a simulator and registers it as a new RUNNING instance. */
  add(): Promise<FleetMember>;
  /** Terminates an instance (the newest running one by default) and stops its simulator. */
  terminate(id?: string): Promise<FleetMember | undefined>;
}

/** One invocation as the explorer's panel shows it. */
export interface InvocationRecord {
  seq: number;
  /** Start of the call (ISO 8601). */
  time: string;
  /** HTTP status of the Fn call (200, 502 function error, 504 timeout, 0 no answer). */
  status: number;
  ok: boolean;
  /** Round trip of the call, ms. */
  durationMs: number;
  /** Set when the call had to start the function first (cold start), ms. */
  coldStartMs?: number;
  /** Process id of the function container that was started for this call (cold start only). */
  functionPid?: number;
  /** The function's summary (metric bodies left out). */
  summary?: Omit<InvocationSummary, 'metricData' | 'skippedSamples'>;
  /** The function's error message (502) or why the call failed. */
  error?: string;
}

export interface Demo {
  explorerUrl: string;
  emulator: IngestionEmulator;
  /** The static target, or the fleet's first instance. */
  bharatmart: BharatMart;
  /** Fleet mode only. */
  fleet?: DemoFleet;
  /** Configuration mode only (`start --config`): the payment gateway, the second exporter. */
  payments?: PaymentGateway;
  /** Configuration mode only. */
  config?: DemoConfigRun;
  intervalMs: number;
  namespace: string;
  /** Invocation records, oldest first (bounded). */
  readonly history: readonly InvocationRecord[];
  /** Stops the schedule (waiting for the call in flight), the function, the servers; removes the credentials. Idempotent. */
  stop(): Promise<void>;
}

/** The function's JSON error body (`{"message", "detail"}`) as one line. */
function errorText(body: string, json: unknown): string {
  const o = json as { detail?: unknown; message?: unknown } | undefined;
  if (o && typeof o.detail === 'string') return o.detail;
  if (o && typeof o.message === 'string') return o.message;
  return body.slice(0, 300);
}

/** Starts a server on the port, falling back to a free port (0) when it is taken. */
async function onPortOrFree<T>(port: number, start: (port: number) => Promise<T>): Promise<T> {
  try {
    return await start(port);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw e;
    return start(0);
  }
}

/** The port of a 127.0.0.1 address or URL. */
const portOf = (address: string): number => Number(new URL(address.includes('//') ? address : `http://${address}`).port);

/** Starts the whole stack; the first invocation runs at once. */
export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const intervalMs = opts.intervalMs ?? 60_000;
  const namespace = opts.namespace ?? 'bharatmart';
  const historySize = opts.historySize ?? 100;
  const history: InvocationRecord[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  /** Runs the cleanups in reverse order of start. */
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    const credsDir = await mkdtemp(path.join(tmpdir(), 'prom2oci-demo-'));
    cleanups.push(() => rm(credsDir, { recursive: true, force: true }));
    // A week-long token: the demo may run for days without the SDK seeing an expired RPST.
    const rp = await makeResourcePrincipal(credsDir, { ttlSeconds: 7 * 86_400, compartmentId: DEMO_COMPARTMENT });
    const fleetSize = opts.fleet ?? 0;
    let schedule: Schedule | undefined = undefined; // the explorer may ask before the schedule starts
    let fleet: DemoFleet | undefined;
    let payments: PaymentGateway | undefined;
    let config: DemoConfigRun | undefined;
    // A dry run asked for by the page (its cardinality report); the function queues it after a call in flight.
    const later: { dryRun?: () => Promise<InvocationRecord> } = {};
    const explorer = createExplorerHandler({
      invocations: () => history,
      dryRun: () => later.dryRun?.() ?? Promise.reject(new Error('the function is not started yet')),
      info: () => ({
        intervalMs,
        namespace,
        compartmentId: DEMO_COMPARTMENT,
        nextInvocationAt: schedule?.nextDueAt,
        ...(fleet
          ? { fleet: `${fleet.members.filter((m) => m.instance.lifecycleState === 'RUNNING').length} running instances (discovery)` }
          : config
            ? { config: config.name }
            : { target: bharatmart?.url }),
      }),
    });
    let bharatmart: BharatMart | undefined;
    const emulator = await onPortOrFree(opts.port ?? 0, (port) =>
      startIngestionEmulator({
        port,
        trustedIssuers: [rp.issuerPublicKeyPem],
        maxStoredDatapoints: 500_000,
        extraHandler: (req, res) => (fleet && handleFleetAdmin(fleet, req, res)) || explorer(req, res),
      }),
    );
    cleanups.push(() => emulator.close());
    // The state between invocations lives in the emulator's Object Storage, as in OCI (STATE_BUCKET).
    emulator.objectStorage.createBucket(DEMO_STATE_BUCKET);
    let fnEnv: Record<string, string>;
    /** With a configuration file: puts the file again when it was edited (before each invocation). */
    let syncConfig = (): Promise<void> => Promise.resolve();
    const common = {
      ...rp.env,
      ...emulatorEndpointsEnv(emulator.url),
      COMPARTMENT_OCID: DEMO_COMPARTMENT,
      METRICS_NAMESPACE: namespace,
      STATE_BUCKET: DEMO_STATE_BUCKET,
      OBJECT_STORAGE_NAMESPACE: emulator.objectStorage.namespace,
    };
    if (fleetSize > 0) {
      fleet = createDemoFleet(emulator, opts.traffic ?? true);
      cleanups.push(() => Promise.all(fleet!.members.map((m) => m.shop.stop())).then(() => undefined));
      for (let i = 0; i < fleetSize; i++) await fleet.add();
      bharatmart = fleet.members[0].shop;
      fnEnv = {
        ...common,
        DISCOVERY_COMPARTMENT_OCID: DEMO_COMPARTMENT,
        DISCOVERY_TAG: 'app=bharatmart',
        DISCOVERY_DIMENSIONS: 'resourceDisplayName,faultDomain',
        // Every invocation discovers afresh, so an added or terminated instance shows at once.
        DISCOVERY_TTL_SECONDS: '0',
        OCI_COMPUTE_ENDPOINT: emulator.url,
      };
    } else if (opts.scrapeConfig) {
      const fixed = opts.fixedPorts ?? true;
      const traffic = opts.traffic ?? true;
      const shop = await onPortOrFree(fixed ? portOf(DEMO_ADDRESSES.bharatmart) : 0, (port) => startBharatMart({ port, traffic }));
      bharatmart = shop;
      cleanups.push(() => shop.stop());
      const gateway = await onPortOrFree(fixed ? portOf(DEMO_ADDRESSES.payments) : 0, (port) => startPaymentGateway({ port, traffic }));
      payments = gateway;
      cleanups.push(() => gateway.stop());
      const listed = listedTargets(opts.scrapeConfig.text);
      const moved: [string, string][] = [
        [DEMO_ADDRESSES.bharatmart, new URL(shop.url).host],
        [DEMO_ADDRESSES.payments, new URL(gateway.url).host],
      ].filter(([from, to]) => from !== to && listed.includes(from)) as [string, string][];
      const text = substituteTargets(opts.scrapeConfig.text, new Map(moved));
      const object = `${DEMO_STATE_BUCKET}/${DEMO_CONFIG_OBJECT}`;
      config = { name: opts.scrapeConfig.name, moved, text, object };
      // The file is put into Object Storage and read by the function as SCRAPE_CONFIG_OBJECT, as in OCI (revalidated by
      // ETag); read again before each invocation and put again when edited. Its jobs replace METRICS_ENDPOINT;
      // METRICS_NAMESPACE stays the default destination.
      const file = opts.scrapeConfig.name;
      let put = '';
      syncConfig = async () => {
        // A file that cannot be read now (moved, half saved) keeps the copy put last.
        const now = await readFile(file, 'utf8').then(
          (t) => substituteTargets(t, new Map(moved)),
          () => put,
        );
        if (now === put) return;
        emulator.objectStorage.putDirect(DEMO_STATE_BUCKET, DEMO_CONFIG_OBJECT, Buffer.from(now));
        put = now;
      };
      emulator.objectStorage.putDirect(DEMO_STATE_BUCKET, DEMO_CONFIG_OBJECT, Buffer.from(text));
      put = text;
      fnEnv = { ...common, SCRAPE_CONFIG_OBJECT: object };
    } else {
      bharatmart = await startBharatMart({ traffic: opts.traffic ?? true });
      const shop = bharatmart;
      cleanups.push(() => shop.stop());
      fnEnv = { ...common, METRICS_ENDPOINT: bharatmart.url };
    }
    let fn: LocalFunction | undefined;
    cleanups.push(async () => fn?.stop());
    // FN_MEMORY as the platform sets it for the deployed function: func.yaml's memory, read once.
    const memoryMb = funcYamlMemoryMb(opts.entry);
    let seq = 0;

    /** One Fn call (a dry run when asked); a dead container is replaced first (the platform's cold start). */
    const invoke = async (dryRun = false): Promise<InvocationRecord> => {
      const record: InvocationRecord = { seq: ++seq, time: new Date().toISOString(), status: 0, ok: false, durationMs: 0 };
      const started = performance.now();
      try {
        await syncConfig();
        if (!fn?.alive) {
          fn = await startFunction({ entry: opts.entry, env: fnEnv, onLine: opts.onFunctionLine, memoryMb });
          record.coldStartMs = Math.round(fn.readyMs);
          record.functionPid = fn.pid;
        }
        // Fn-Deadline = now + func.yaml's timeout, as the platform sends it.
        const res = await fn.invoke(dryRun ? { body: { dryRun: true } } : {});
        record.status = res.status;
        if (res.status === 200 && res.json && typeof res.json === 'object') {
          const { metricData: _m, skippedSamples: _s, ...summary } = res.json as InvocationSummary;
          record.summary = summary;
          record.ok = summary.ok;
        } else record.error = errorText(res.body, res.json);
      } catch (e) {
        record.error = e instanceof Error ? e.message.split('\n')[0] : String(e);
      }
      record.durationMs = Math.round(performance.now() - started);
      history.push(record);
      if (history.length > historySize) history.splice(0, history.length - historySize);
      opts.onInvocation?.(record);
      return record;
    };
    later.dryRun = () => invoke(true);
    schedule = startSchedule(
      async () => {
        await invoke();
      },
      { intervalMs },
    );
    const sched = schedule;
    // Wait for a call in flight, but not for its whole deadline: stopping the function ends it.
    cleanups.push(() => Promise.race([sched.stop(), new Promise<void>((r) => setTimeout(r, 5000).unref())]));
    let stopping: Promise<void> | undefined;
    return {
      explorerUrl: `${emulator.url}/explorer/`,
      emulator,
      bharatmart,
      fleet,
      payments,
      config,
      intervalMs,
      namespace,
      history,
      stop: () => (stopping ??= cleanup()),
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** The demo fleet over the emulator's simulated compute fleet: one BharatMart simulator per instance. */
function createDemoFleet(emulator: IngestionEmulator, traffic: boolean): DemoFleet {
  const members: FleetMember[] = [];
  let seq = 0;
  return {
    members,
    async add() {
      const n = ++seq;
      // Light traffic per instance: a fleet of simulators shares this machine.
      const shop = await startBharatMart({ seed: n, traffic: traffic ? { intervalMs: 1000 } : false });
      const instance = emulator.fleet.addInstance({
        compartmentId: DEMO_COMPARTMENT,
        displayName: `bharatmart-${n}`,
        freeformTags: { app: 'bharatmart', prometheus_port: new URL(shop.url).port },
      });
      const member = { instance, shop };
      members.push(member);
      return member;
    },
    async terminate(id) {
      const running = members.filter((m) => m.instance.lifecycleState === 'RUNNING');
      const member = id === undefined ? running[running.length - 1] : running.find((m) => m.instance.id === id);
      if (!member) return undefined;
      emulator.fleet.terminate(member.instance.id);
      await member.shop.stop();
      return member;
    },
  };
}

/** A fleet member as the admin routes show it. */
function memberJson(m: FleetMember): Record<string, unknown> {
  return { id: m.instance.id, displayName: m.instance.displayName, lifecycleState: m.instance.lifecycleState, url: m.shop.url };
}

/**
 * The demo's fleet admin routes (local only, like the explorer):
 *   GET  /demo/fleet                 -> the instances
 *   POST /demo/fleet/add             -> starts a simulator, adds a RUNNING instance
 *   POST /demo/fleet/terminate[?id=] -> terminates the newest running instance (or that one)
 */
function handleFleetAdmin(fleet: DemoFleet, req: IncomingMessage, res: ServerResponse): boolean {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== '/demo/fleet' && !url.pathname.startsWith('/demo/fleet/')) return false;
  const send = (status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  };
  const route = `${req.method ?? 'GET'} ${url.pathname}`;
  if (route === 'GET /demo/fleet') send(200, fleet.members.map(memberJson));
  else if (route === 'POST /demo/fleet/add') {
    fleet.add().then(
      (m) => send(201, memberJson(m)),
      (e: Error) => send(500, { message: e.message }),
    );
  } else if (route === 'POST /demo/fleet/terminate') {
    fleet.terminate(url.searchParams.get('id') ?? undefined).then(
      (m) => (m ? send(200, memberJson(m)) : send(404, { message: 'no such running instance' })),
      (e: Error) => send(500, { message: e.message }),
    );
  } else send(404, { message: `no such route: ${route} (GET /demo/fleet, POST /demo/fleet/add, POST /demo/fleet/terminate?id=)` });
  return true;
}
