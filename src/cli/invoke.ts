/**
 * `prom2oci invoke`: the local twin of `fn invoke`. Starts the built function (`dist/func.js`)
 * under the Fn http-stream protocol on a unix socket, exactly as the Fn agent does, sends one
 * call with a body and prints the response.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { funcYamlMemoryMb, invokeOnce } from '../local/fn-agent';
import { functionEnvFrom, parseCommandLine, parseDuration, readEnvFile, UsageError } from './args';
import { summaryLine } from './format';
import type { InvocationSummary } from '../handler/summary';

export const INVOKE_HELP = `usage: prom2oci invoke [--body JSON] [--env-file FILE] [--entry dist/func.js] [--timeout 120s]
                      [--json] [--logs] [settings flags]

Starts the built function (npm run build makes dist/func.js) as the Fn agent does (FN_FORMAT=
http-stream over a unix socket, config as environment variables), invokes it once with the body
and prints the HTTP status and the response, then stops it: a cold \`fn invoke\` on this machine.

The function's configuration is: the settings variables (METRICS_ENDPOINT, ...) and OCI_*
variables of this environment, then the --env-file (KEY=VALUE lines), then the settings flags.
Outside OCI, point OCI_CONFIG_FILE at a config file (or give resource-principal variables).

  --body JSON      request body, e.g. '{"dryRun": true}' (default: empty, a normal run)
  --env-file FILE  KEY=VALUE lines added to the function's configuration
  --entry FILE     the function entry point (default dist/func.js of this package)
  --timeout D      the call's deadline (Fn-Deadline); default: func.yaml's timeout, as OCI sends it
  --json           print only the response body
  --logs           also print the function's log lines (stderr)

exit codes: 0 the function answered 200, 1 it answered anything else, 2 wrong flag or no build.`;

/** The package root (this file is src/cli/invoke.ts, or bundled into dist/cli.js). */
function packageRoot(): string {
  for (const up of ['..', '../..']) {
    const dir = path.resolve(__dirname, up);
    if (existsSync(path.join(dir, 'package.json'))) return dir;
  }
  return process.cwd();
}

/** The built function entry, or a UsageError telling how to build it. */
export function functionEntry(given?: string): string {
  const entry = path.resolve(given ?? path.join(packageRoot(), 'dist', 'func.js'));
  if (!existsSync(entry)) throw new UsageError(`${entry} does not exist: build the function first (npm run build)`);
  return entry;
}

/** `prom2oci invoke`: returns the exit code. */
export async function invokeCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    flags: { body: 'string', 'env-file': 'string', entry: 'string', timeout: 'string', json: 'boolean', logs: 'boolean' },
    settings: true,
  });
  if (args.flags.help) {
    console.log(INVOKE_HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`invoke takes no arguments, got "${args.positionals[0]}" (pass the body with --body)`);
  const entry = functionEntry(typeof args.flags.entry === 'string' ? args.flags.entry : undefined);
  const timeoutMs = typeof args.flags.timeout === 'string' ? parseDuration('--timeout', args.flags.timeout, 1000) : undefined;
  const body = typeof args.flags.body === 'string' ? args.flags.body : '';
  const contentType = body.trim() === '' ? 'text/plain' : isJson(body) ? 'application/json' : 'text/plain';
  const env = {
    ...functionEnvFrom(process.env),
    ...(typeof args.flags['env-file'] === 'string' ? readEnvFile(args.flags['env-file']) : {}),
    ...args.settings,
  };
  const logs = args.flags.logs === true;
  const result = await invokeOnce(
    { entry, env, memoryMb: funcYamlMemoryMb(entry), onLine: logs ? (_stream, line) => process.stderr.write(`${line}\n`) : undefined },
    { body, contentType, ...(timeoutMs === undefined ? {} : { deadline: new Date(Date.now() + timeoutMs) }) },
  );
  if (args.flags.json) console.log(result.body);
  else {
    console.log(`HTTP ${result.status} (cold start ${Math.round(result.readyMs)} ms, call ${Math.round(result.durationMs)} ms, Fn-Call-Id ${result.callId})`);
    const summary = result.status === 200 ? asSummary(result.json) : undefined;
    if (summary) console.log(summaryLine(summary));
    console.log(result.json !== undefined ? JSON.stringify(result.json, null, 2) : result.body);
  }
  return result.status === 200 ? 0 : 1;
}

/** True when the text parses as JSON. */
function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The response as an invocation summary when it has that shape. */
function asSummary(json: unknown): InvocationSummary | undefined {
  const o = json as Partial<InvocationSummary> | undefined;
  return o && Array.isArray(o.targets) && typeof o.samples === 'number' && o.skipped !== undefined ? (o as InvocationSummary) : undefined;
}
