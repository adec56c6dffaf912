/**
 * The local demo stack behind `npm start`: the BharatMart simulator with traffic, the ingestion
 * emulator (storing, serving the explorer page and query API, trusting self-made resource-principal
 * credentials), and the real function (dist/func.js) started and invoked as the Fn agent does, on a
 * fixed-rate schedule. Everything on 127.0.0.1; stop() ends every process, server and timer.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBharatMart, type BharatMart } from '../demo/bharatmart';
import { makeResourcePrincipal } from '../emulator/credentials';
import { createExplorerHandler } from '../emulator/explorer/serve';
import { startIngestionEmulator, type IngestionEmulator } from '../emulator/server';
import { startFunction, type LocalFunction } from '../fnlocal/agent';
import type { InvocationSummary } from '../handler/run';
import { startSchedule, type Schedule } from './schedule';

/** A made-up compartment: the emulator accepts any well-formed OCID. */
export const DEMO_COMPARTMENT = 'ocid1.compartment.oc1..aaaaaaaalocaldemoprom2ocibharatmart';
/** The Object Storage bucket of the demo function's state (derived series). */
export const DEMO_STATE_BUCKET = 'prom2oci-state';

export interface DemoOptions {
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
  bharatmart: BharatMart;
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

/** Starts the emulator on the port, falling back to a free port when it is taken. */
async function startEmulatorOn(port: number, opts: Parameters<typeof startIngestionEmulator>[0]): Promise<IngestionEmulator> {
  try {
    return await startIngestionEmulator({ ...opts, port });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw e;
    return startIngestionEmulator({ ...opts, port: 0 });
  }
}

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
    const bharatmart = await startBharatMart({ traffic: opts.traffic ?? true });
    cleanups.push(() => bharatmart.stop());
    let schedule: Schedule | undefined;
    const emulator = await startEmulatorOn(opts.port ?? 0, {
      trustedIssuers: [rp.issuerPublicKeyPem],
      maxStoredDatapoints: 500_000,
      extraHandler: createExplorerHandler({
        invocations: () => history,
        info: () => ({ intervalMs, namespace, target: bharatmart.url, compartmentId: DEMO_COMPARTMENT, nextInvocationAt: schedule?.nextDueAt }),
      }),
    });
    cleanups.push(() => emulator.close());
    // The state between invocations lives in the emulator's Object Storage, as in OCI (STATE_BUCKET).
    emulator.objectStorage.createBucket(DEMO_STATE_BUCKET);
    const fnEnv = {
      ...rp.env, OCI_MONITORING_ENDPOINT: emulator.url, OCI_OBJECT_STORAGE_ENDPOINT: emulator.url, METRICS_ENDPOINT: bharatmart.url, COMPARTMENT_OCID: DEMO_COMPARTMENT, METRICS_NAMESPACE: namespace,
      STATE_BUCKET: DEMO_STATE_BUCKET, OBJECT_STORAGE_NAMESPACE: emulator.objectStorage.namespace,
    };
    let fn: LocalFunction | undefined;
    cleanups.push(async () => fn?.stop());
    let seq = 0;

    /** One Fn call; a dead container is replaced first (the platform's cold start). */
    const invoke = async (): Promise<void> => {
      const record: InvocationRecord = { seq: ++seq, time: new Date().toISOString(), status: 0, ok: false, durationMs: 0 };
      const started = performance.now();
      try {
        if (!fn?.alive) {
          fn = await startFunction({ entry: opts.entry, env: fnEnv, onLine: opts.onFunctionLine });
          record.coldStartMs = Math.round(fn.readyMs);
          record.functionPid = fn.pid;
        }
        const res = await fn.invoke({ deadline: new Date(Date.now() + 30_000) });
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
    };
    schedule = startSchedule(invoke, { intervalMs });
    const sched = schedule;
    // Wait for a call in flight, but not for its whole deadline: stopping the function ends it.
    cleanups.push(() => Promise.race([sched.stop(), new Promise<void>((r) => setTimeout(r, 5000).unref())]));
    let stopping: Promise<void> | undefined;
    return {
      explorerUrl: `${emulator.url}/explorer/`,
      emulator,
      bharatmart,
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
