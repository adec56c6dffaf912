/**
 * The benchmark's end-to-end rig, all on 127.0.0.1: the signature-verifying ingestion emulator,
 * self-made resource-principal credentials, and `dist/func.js` started by the local Fn agent.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { format } from 'node:util';
import { makeResourcePrincipal } from '../../src/local/emulator/credentials';
import { emulatorEndpointsEnv, startIngestionEmulator, type IngestionEmulator } from '../../src/local/emulator/server';
import { startFunction, type LocalFunction } from '../../src/local/fn-agent';
import { isSdkRetrierWarning } from '../../src/log';

export const COMPARTMENT = 'ocid1.compartment.oc1..aaaaaaaaprom2ocibenchcompartment';
/** The emulator bucket of the runs with state on (STATE_BUCKET). */
export const STATE_BUCKET = 'bench-state';
export const FUNC_ENTRY = path.resolve(__dirname, '../../dist/func.js');
const DOCKERFILE = path.resolve(__dirname, '../../Dockerfile');

/**
 * The node flags the image runs the function with: the items between "node" and "dist/func.js" in
 * the Dockerfile's ENTRYPOINT, so the benchmark measures what is deployed.
 */
export function entrypointNodeArgs(dockerfile = DOCKERFILE): string[] {
  let text: string;
  try {
    text = readFileSync(dockerfile, 'utf8');
  } catch {
    return [];
  }
  const m = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(text);
  if (!m) return [];
  const argv = JSON.parse(m[1]) as string[];
  const entry = argv.indexOf('dist/func.js');
  return argv[0] === 'node' && entry > 0 ? argv.slice(1, entry) : [];
}

/** Node flags of every function process started by the benchmark. */
export const FUNCTION_NODE_ARGS = entrypointNodeArgs();

/** The running rig. */
export interface BenchStack {
  emulator: IngestionEmulator;
  /** OCI_RESOURCE_PRINCIPAL_* for the function (and the lab baseline). */
  rpEnv: Record<string, string>;
  /** The tenancy of that principal: the emulator's rate limit is per tenancy. */
  tenancyId: string;
  /** That principal itself (emulator CallRecord.subjectId): the function's calls. */
  subjectId: string;
  /** Starts `node [nodeArgs] dist/func.js` with RP auth, the emulator endpoints and `env`. */
  /** `memoryMb`: FN_MEMORY (default 256, the function's). */
  startFn(env: Record<string, string>, nodeArgs?: string[], memoryMb?: number): Promise<LocalFunction>;
  close(): Promise<void>;
}

/**
 * The bench's own SDK clients (the lab baseline, the other poster) fail calls on purpose; the SDK's
 * retrier prints a line for each, which the bench counts itself: those lines are dropped.
 */
function quietSdkRetrier(): void {
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (!isSdkRetrierWarning(format(...args))) warn(...args);
  };
}

/** Starts the emulator (unthrottled, no latency) and writes the credentials. */
export async function startBenchStack(): Promise<BenchStack> {
  quietSdkRetrier();
  const dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-bench-'));
  const rp = await makeResourcePrincipal(dir);
  // Room for a 100k run plus self-metrics in the store and call records of the throttled run.
  const emulator = await startIngestionEmulator({ trustedIssuers: [rp.issuerPublicKeyPem], maxStoredDatapoints: 400_000, maxCallRecords: 20_000 });
  emulator.objectStorage.createBucket(STATE_BUCKET);
  const fns = new Set<LocalFunction>();
  return {
    emulator,
    rpEnv: rp.env,
    tenancyId: rp.claims.res_tenant,
    subjectId: rp.claims.res_id,
    async startFn(env, nodeArgs = FUNCTION_NODE_ARGS, memoryMb = 256) {
      const fn = await startFunction({
        entry: FUNC_ENTRY,
        memoryMb,
        nodeArgs,
        env: {
          ...rp.env,
          ...emulatorEndpointsEnv(emulator.url),
          COMPARTMENT_OCID: COMPARTMENT,
          ...env,
        },
      });
      fns.add(fn);
      void fn.exited.then(() => fns.delete(fn));
      return fn;
    },
    async close() {
      await Promise.all([...fns].map((f) => f.stop()));
      await emulator.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
