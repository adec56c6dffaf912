/**
 * The pieces of an end-to-end run, all real and on 127.0.0.1: the OCI ingestion emulator that
 * verifies signatures, self-made resource-principal credentials, and the built function
 * (`dist/func.js`) driven over the Fn unix-socket protocol.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeResourcePrincipal } from '../../src/local/emulator/credentials';
import { emulatorEndpointsEnv, startIngestionEmulator, type EmulatorOptions, type IngestionEmulator } from '../../src/local/emulator/server';
import { startFunction, type LocalFunction, type LocalFunctionOptions } from '../../src/local/fn-agent';

export const COMPARTMENT = 'ocid1.compartment.oc1..aaaaaaaaprom2ocitestcompartment';
export const FUNC_ENTRY = path.resolve(__dirname, '../../dist/func.js');
/** Node flags bounding the heap as in a 256 MB function (the image's semi-space flag, old space half the memory). */
export const FUNCTION_HEAP_ARGS_256MB = ['--max-semi-space-size=4', '--max-old-space-size=128'];

export interface Stack {
  emulator: IngestionEmulator;
  /** Resource-principal env for the function (OCI_RESOURCE_PRINCIPAL_*). */
  rpEnv: Record<string, string>;
  /** The tenancy of that resource principal (the emulator's rate-limit key). */
  tenancyId: string;
  /** Starts the function with the emulator endpoint and RP auth plus `env` (and node flags `nodeArgs`, agent options `fnOptions`). */
  startFn(env: Record<string, string>, nodeArgs?: string[], fnOptions?: Omit<LocalFunctionOptions, 'entry' | 'env' | 'nodeArgs'>): Promise<LocalFunction>;
  close(): Promise<void>;
}

/** Starts the emulator and writes RP credentials; close() stops every function started here. */
export async function startStack(emulatorOptions: EmulatorOptions = {}): Promise<Stack> {
  const dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-rp-'));
  const rp = await makeResourcePrincipal(dir);
  const emulator = await startIngestionEmulator({ trustedIssuers: [rp.issuerPublicKeyPem], ...emulatorOptions });
  const fns: LocalFunction[] = [];
  return {
    emulator,
    rpEnv: rp.env,
    tenancyId: rp.claims.res_tenant,
    async startFn(env, nodeArgs, fnOptions = {}) {
      const fn = await startFunction({
        // The platform allows 5 s; a busy test machine may need more to start a process.
        startTimeoutMs: 60_000,
        ...fnOptions,
        entry: FUNC_ENTRY,
        nodeArgs,
        env: {
          ...rp.env,
          ...emulatorEndpointsEnv(emulator.url),
          COMPARTMENT_OCID: COMPARTMENT,
          ...env,
        },
      });
      fns.push(fn);
      return fn;
    },
    async close() {
      await Promise.all(fns.map((f) => f.stop()));
      await emulator.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP port on 127.0.0.1 with nothing listening (connection refused). */
export async function closedPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
