/**
 * Command line: run the emulator on its own for local experiments.
 *   node --import tsx src/local/emulator/main.ts [--port 8080] [--creds-dir DIR] [--trust-issuer PEMFILE]...
 *     [--config-key KEYID=PEMFILE]... [--rate-limit N] [--latency MS] [--secret OCID=@FILE]...
 * Generates resource-principal credentials (unless --trust-issuer is given), trusts their issuer,
 * and prints the URL and the environment a client needs (paths only, never key material).
 * Logs one JSON line per request to stdout. Ctrl-C stops it.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
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

const USAGE = `usage: node --import tsx src/local/emulator/main.ts [--port 8080] [--creds-dir DIR] [--trust-issuer PEMFILE]...
       [--config-key KEYID=PEMFILE]... [--rate-limit N] [--latency MS] [--secret OCID=@FILE]...`;

/** Parse a non-negative integer flag value or exit with the flag's name. */
function intFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`${name} expects a non-negative integer, got ${v}`);
  return Number(v);
}

/** Split KEY=VALUE (the key may not contain '='). */
function pair(name: string, v: string): [string, string] {
  const i = v.indexOf('=');
  if (i < 1) throw new Error(`${name} expects KEY=VALUE, got ${v}`);
  return [v.slice(0, i), v.slice(i + 1)];
}

/** The flags, for util.parseArgs. */
const OPTIONS = {
  port: { type: 'string' },
  'creds-dir': { type: 'string' },
  'trust-issuer': { type: 'string', multiple: true },
  'config-key': { type: 'string', multiple: true },
  'rate-limit': { type: 'string' },
  latency: { type: 'string' },
  secret: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parse argv into CliArgs (Node's util.parseArgs reads the flags; unknown ones are errors). */
export function parseEmulatorArgs(argv: string[]): CliArgs {
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS }>>['values'];
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${USAGE}`, { cause: e });
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const args: CliArgs = {
    port: intFlag('--port', values.port) ?? 8080,
    credsDir: values['creds-dir'] === undefined ? join(tmpdir(), 'prom2oci-emulator-creds') : resolve(values['creds-dir']),
    trustIssuers: (values['trust-issuer'] ?? []).map((file) => readFileSync(file, 'utf8')),
    configKeys: {},
    latencyMs: intFlag('--latency', values.latency) ?? 0,
    secrets: {},
  };
  const rateLimit = intFlag('--rate-limit', values['rate-limit']);
  if (rateLimit !== undefined) args.rateLimit = rateLimit;
  for (const text of values['config-key'] ?? []) {
    const [keyId, file] = pair('--config-key', text);
    args.configKeys[keyId] = readFileSync(file, 'utf8');
  }
  for (const text of values.secret ?? []) {
    const [id, value] = pair('--secret', text);
    args.secrets[id] = value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
  }
  return args;
}

/** Start the emulator from the command line and run until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const args = parseEmulatorArgs(process.argv.slice(2));
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
    ...(generated?.env ?? {}),
    OCI_MONITORING_ENDPOINT: emulator.url,
    OCI_SECRETS_ENDPOINT: emulator.url,
    OCI_OBJECT_STORAGE_ENDPOINT: emulator.url,
    STATE_BUCKET: 'prom2oci-state',
    OBJECT_STORAGE_NAMESPACE: emulator.objectStorage.namespace,
  };
  console.log(
    JSON.stringify({
      event: 'emulator_started',
      url: emulator.url,
      explorer: `${emulator.url}/explorer/`,
      trustedIssuers: generated ? `generated in ${args.credsDir}` : args.trustIssuers.length,
      configKeys: Object.keys(args.configKeys),
      env,
    }),
  );
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
