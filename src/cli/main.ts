/**
 * `prom2oci <command>`: the function's pipeline as a command-line tool for use outside OCI
 * Functions, and the local demo. Errors are one line naming the setting or flag (exit 2), never a
 * stack trace.
 *   node --import tsx src/cli/main.ts <command>     (development; what `npm start` runs)
 *   npx prom2oci <command>                          (bin/prom2oci.js -> dist/cli.js, or tsx)
 */
import { format } from 'node:util';
import { ConfigError } from '../config/settings';
import { safeMessage } from '../util/redact';
import { UsageError } from './args';
import { INVOKE_HELP, invokeCommand } from './invoke';
import { ONCE_HELP, onceCommand, RUN_HELP, runCommand } from './once';
import { START_HELP, startCommand } from './start';

export const MAIN_HELP = `usage: prom2oci <command> [flags]     (prom2oci <command> --help for details)

commands:
  once [--dry-run] [--json]      scrape every target once and post to OCI Monitoring (config-file auth)
  run [--interval 60s]           the same on a fixed-rate schedule until SIGTERM/SIGINT
  invoke [--body JSON]           start dist/func.js under the Fn protocol and invoke it once (local fn invoke)
  start [--interval 60s]         local demo: simulator + ingestion emulator + function + Metric Explorer page

Settings are the function's configuration keys, from the environment or flags, e.g.
  prom2oci once --dry-run --endpoint http://127.0.0.1:3000/metrics
  OCI_CONFIG_FILE=~/.oci/config prom2oci once --endpoint http://10.0.0.5:3000/metrics --compartment ocid1.compartment.oc1..aaaa`;

const COMMANDS: Record<string, { run: (argv: readonly string[]) => Promise<number>; help: string }> = {
  once: { run: onceCommand, help: ONCE_HELP },
  run: { run: runCommand, help: RUN_HELP },
  invoke: { run: invokeCommand, help: INVOKE_HELP },
  start: { run: startCommand, help: START_HELP },
};

/** Runs the CLI and resolves the exit code; prints errors as one line on stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = command === 'help' ? rest[0] : undefined;
    console.log(topic && COMMANDS[topic] ? COMMANDS[topic].help : MAIN_HELP);
    return command === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[command];
  if (!cmd) {
    console.error(`prom2oci: unknown command "${command}" (commands: ${Object.keys(COMMANDS).join(', ')}; see prom2oci --help)`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    return reportError(command, e);
  }
}

/** One line for an error, and its exit code: 2 for settings and flags, 1 for anything else. */
function reportError(command: string, e: unknown): number {
  if (e instanceof ConfigError) {
    console.error(`prom2oci ${command}: configuration error: ${e.message}`);
    return 2;
  }
  if (e instanceof UsageError) {
    console.error(`prom2oci ${command}: ${e.message}`);
    return 2;
  }
  console.error(`prom2oci ${command}: ${safeMessage(e)}`);
  return 1;
}

/**
 * stdout carries results only (--json is parsed by scripts): the OCI SDK's console.info/debug
 * notes (e.g. "No DEFAULT profile was specified") go to stderr.
 */
function keepStdoutForResults(): void {
  const toStderr = (...args: unknown[]): void => void process.stderr.write(`${format(...args)}\n`);
  console.info = toStderr;
  console.debug = toStderr;
  // A reader that stops early (`| head`) closes the pipe: stop quietly, as other command-line tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw e;
  });
}

/**
 * Exits with `code` once everything written to stdout and stderr is out. A pipe whose reader is
 * slower than us (`prom2oci once --json | jq`) takes writes asynchronously past its 64 KiB
 * buffer; exiting at once would cut the output there.
 */
export function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  // A write callback runs after every earlier write on that stream has been handed to the OS.
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.destroyed || !stream.writable) done();
    else stream.write('', done);
  }
}

/** Runs main and exits with its code once its output is flushed. */
export function runMain(argv: readonly string[]): void {
  keepStdoutForResults();
  main(argv).then(
    (code) => exitWhenFlushed(code),
    (e: unknown) => {
      console.error(`prom2oci: ${safeMessage(e)}`);
      exitWhenFlushed(1);
    },
  );
}

if (require.main === module) runMain(process.argv.slice(2));
