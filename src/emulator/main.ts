/**
 * Command line: run the emulator on its own for local experiments.
 *   node --import tsx src/emulator/main.ts [--port 8080] [--creds-dir DIR] [--trust-issuer PEMFILE]...
 *     [--config-key KEYID=PEMFILE]... [--rate-limit N] [--latency MS] [--secret OCID=@FILE]...
 * Generates resource-principal credentials (unless --trust-issuer is given), trusts their issuer,
 * and prints the URL and the environment a client needs (paths only, never key material).
 * Logs one JSON line per request to stdout. Ctrl-C stops it.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeResourcePrincipal } from './credentials';
import { createExplorerHandler } from './explorer/serve';
import { startIngestionEmulator } from './server';

/** Parsed command-line flags. */
interface CliArgs {
  port: number;
  credsDir: string;
  trustIssuers: string[];
  configKeys: Record<string, string>;
  rateLimit?: number;
  latencyMs: number;
  secrets: Record<string, string>;
}

const USAGE = `usage: node --import tsx src/emulator/main.ts [--port 8080] [--creds-dir DIR] [--trust-issuer PEMFILE]...
       [--config-key KEYID=PEMFILE]... [--rate-limit N] [--latency MS] [--secret OCID=@FILE]...`;

/** Parse a non-negative integer flag value or exit with the flag's name. */
function intFlag(name: string, v: string | undefined): number {
  if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${name} expects a non-negative integer, got ${v ?? 'nothing'}`);
  return Number(v);
}

/** Split KEY=VALUE (the key may not contain '='). */
function pair(name: string, v: string | undefined): [string, string] {
  const i = v?.indexOf('=') ?? -1;
  if (!v || i < 1) throw new Error(`${name} expects KEY=VALUE, got ${v ?? 'nothing'}`);
  return [v.slice(0, i), v.slice(i + 1)];
}

/** Parse argv into CliArgs. */
export function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = { port: 8080, credsDir: join(tmpdir(), 'prom2oci-emulator-creds'), trustIssuers: [], configKeys: {}, latencyMs: 0, secrets: {} };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = (): string | undefined => argv[++i];
    switch (flag) {
      case '--port':
        args.port = intFlag(flag, next());
        break;
      case '--creds-dir':
        args.credsDir = resolve(next() ?? '');
        break;
      case '--trust-issuer':
        args.trustIssuers.push(readFileSync(next() ?? '', 'utf8'));
        break;
      case '--config-key': {
        const [keyId, file] = pair(flag, next());
        args.configKeys[keyId] = readFileSync(file, 'utf8');
        break;
      }
      case '--rate-limit':
        args.rateLimit = intFlag(flag, next());
        break;
      case '--latency':
        args.latencyMs = intFlag(flag, next());
        break;
      case '--secret': {
        const [id, value] = pair(flag, next());
        args.secrets[id] = value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
        break;
      }
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  return args;
}

/** Start the emulator from the command line and run until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const generated = args.trustIssuers.length === 0 ? await makeResourcePrincipal(args.credsDir, { ttlSeconds: 24 * 3600 }) : undefined;
  const emulator = await startIngestionEmulator({
    port: args.port,
    trustedIssuers: generated ? [generated.issuerPublicKeyPem] : args.trustIssuers,
    configKeys: args.configKeys,
    rateLimitPerSecond: args.rateLimit,
    latencyMs: args.latencyMs,
    // The explorer page shows what was posted (no invocation history: nothing is invoked from here).
    extraHandler: createExplorerHandler({ invocations: () => [] }),
    log: (entry) => console.log(JSON.stringify({ time: new Date().toISOString(), ...entry })),
  });
  for (const [id, value] of Object.entries(args.secrets)) emulator.secrets.set(id, value);
  emulator.objectStorage.createBucket('prom2oci-state');
  const env: Record<string, string> = {
    ...(generated?.env ?? {}), OCI_MONITORING_ENDPOINT: emulator.url, OCI_SECRETS_ENDPOINT: emulator.url, OCI_OBJECT_STORAGE_ENDPOINT: emulator.url,
    STATE_BUCKET: 'prom2oci-state', OBJECT_STORAGE_NAMESPACE: emulator.objectStorage.namespace,
  };
  console.log(JSON.stringify({ event: 'emulator_started', url: emulator.url, explorer: `${emulator.url}/explorer/`, trustedIssuers: generated ? `generated in ${args.credsDir}` : args.trustIssuers.length, configKeys: Object.keys(args.configKeys), env }));
  const stop = (): void => {
    void emulator.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(JSON.stringify({ event: 'emulator_failed', error: err instanceof Error ? err.message : String(err) }));
    process.exit(1);
  });
}
