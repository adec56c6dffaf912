/**
 * `prom2oci start` (what `npm start` runs): the whole pipeline on this machine with the explorer
 * page, nothing to configure. Ctrl-C (SIGINT) or SIGTERM stops everything it started and exits 0.
 */
import { parseCommandLine, parseDuration, readScrapeConfigFile, UsageError } from './args';
import { startDemo, type Demo, type InvocationRecord } from '../local/demo/stack';
import { summaryLine } from './format';
import { functionEntry } from './invoke';

export const START_HELP = `usage: prom2oci start [--interval 60s] [--port 8080] [--namespace bharatmart] [--fleet N] [--config FILE] [--verbose]

Runs the local demo: a BharatMart shop simulator with traffic (prom-client /metrics), the local OCI
Telemetry Ingestion emulator (verifies request signatures, stores what it accepts) with the Metric
Explorer page, and the real function (dist/func.js, build it with npm run build) invoked over the Fn
socket protocol on a fixed-rate schedule, the first call at once, with locally generated
resource-principal credentials. One line per invocation. Ctrl-C stops everything.

  --interval D    time between invocations: 60s (default, like production), 10s to watch it move
  --port N        emulator and explorer port (default 8080; a free port when 8080 is taken, 0 = any)
  --namespace NS  metric namespace (default bharatmart)
  --fleet N       N simulated BharatMart instances, tagged in the emulator's compute fleet and
                  found by the function's OCI discovery (resourceId per instance); add and
                  terminate instances while it runs:
                    curl -X POST http://127.0.0.1:PORT/demo/fleet/add
                    curl -X POST http://127.0.0.1:PORT/demo/fleet/terminate[?id=<instance OCID>]
                    curl http://127.0.0.1:PORT/demo/fleet
  --config FILE   a Prometheus configuration file (jobs, relabelling, a namespace per job) instead
                  of the single target, e.g. examples/bharatmart.yml: BharatMart (127.0.0.1:3000)
                  and its payment gateway (127.0.0.1:3001), each into its own namespace. A target
                  naming one of these addresses is rewritten when its port was taken. The file is
                  put into the emulator's Object Storage and the function reads it as
                  SCRAPE_CONFIG_OBJECT (revalidated by ETag), as in OCI: edit the file and the
                  next invocation uses it
  --verbose       also print the function's own log lines`;

/** The banner's line for a simulated fleet: its size and the admin routes that change it. */
function fleetLine(members: number, emulatorUrl: string): string {
  return `fleet:     ${members} BharatMart instances found by discovery ` + `(${emulatorUrl}/demo/fleet; POST /demo/fleet/add, POST /demo/fleet/terminate)`;
}

/** The banner's lines for a configuration file: the file, the demo's apps, any target rewritten. */
function configLines(demo: Demo): string {
  const moved = demo.config!.moved.map(([from, to]) => `\n  moved:     ${from} -> ${to} (the port was taken; the file's target rewritten)`).join('');
  return (
    `config:    ${demo.config!.name} (its jobs and namespaces)\n` +
    `  object:    ${demo.config!.object} (SCRAPE_CONFIG_OBJECT, the file in the emulator's Object Storage: edit the file, the next invocation uses it)\n` +
    `  apps:      ${demo.bharatmart.url} (BharatMart with traffic), ${demo.payments!.url} (its payment gateway)${moved}`
  );
}

/** The line printed for one invocation. */
function invocationLine(r: InvocationRecord): string {
  const time = r.time.slice(11, 19);
  const cold = r.coldStartMs !== undefined ? ` (cold start ${r.coldStartMs} ms, function pid ${r.functionPid})` : '';
  if (r.summary) return `${time} #${r.seq} ${r.ok ? 'ok' : 'FAILED'}: ${summaryLine(r.summary)}${cold}`;
  return `${time} #${r.seq} FAILED (HTTP ${r.status || 'none'}, ${r.durationMs} ms): ${r.error ?? 'no answer'}${cold}`;
}

/** `prom2oci start`: returns the exit code once stopped. */
export async function startCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    flags: { interval: 'string', port: 'string', namespace: 'string', fleet: 'string', config: 'string', verbose: 'boolean' },
  });
  if (args.flags.help) {
    console.log(START_HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`start takes no arguments, got "${args.positionals[0]}"`);
  const intervalMs = parseDuration('--interval', typeof args.flags.interval === 'string' ? args.flags.interval : '60s', 1000);
  const portText = typeof args.flags.port === 'string' ? args.flags.port : '8080';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new UsageError(`--port: expected a port number 0-65535, got "${portText}"`);
  const fleetText = typeof args.flags.fleet === 'string' ? args.flags.fleet : '0';
  if (!/^\d{1,3}$/.test(fleetText) || Number(fleetText) > 200) throw new UsageError(`--fleet: expected a number of instances 0-200, got "${fleetText}"`);
  const fleet = Number(fleetText);
  const configFile = typeof args.flags.config === 'string' ? args.flags.config : undefined;
  if (configFile !== undefined && fleet > 0) throw new UsageError('--config and --fleet: choose one (a job takes discovered instances with __oci_discovery__)');
  // Checked before anything starts: an error names the file, the line and the key.
  const scrapeConfig = configFile === undefined ? undefined : { text: readScrapeConfigFile(configFile), name: configFile };
  const entry = functionEntry();
  // Signals are taken before anything starts, so an early Ctrl-C still cleans up.
  let signalled: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    signalled ??= sig;
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const demo = await startDemo({
    entry,
    intervalMs,
    port: Number(portText),
    namespace: typeof args.flags.namespace === 'string' ? args.flags.namespace : undefined,
    fleet,
    scrapeConfig,
    // A call cut short by Ctrl-C is not news: print only while running.
    onInvocation: (r) => {
      if (!signalled) console.log(invocationLine(r));
    },
    onFunctionLine: args.flags.verbose ? (_s, line) => console.log(`  fn | ${line}`) : undefined,
  });
  const targets = demo.fleet
    ? fleetLine(demo.fleet.members.length, demo.emulator.url)
    : demo.config
      ? configLines(demo)
      : `target:    ${demo.bharatmart.url} (BharatMart simulator with traffic)`;
  console.log(`prom2oci local demo
  explorer:  ${demo.explorerUrl}
  ${targets}
  ingestion: ${demo.emulator.url} (OCI Telemetry Ingestion emulator)
  function:  ${entry}, invoked every ${intervalMs / 1000} s${intervalMs >= 60_000 ? ' (--interval 10s to watch it move faster)' : ''}
Ctrl-C stops everything.`);
  if (!signalled) await new Promise<void>((resolve) => (wake = resolve));
  console.log(`stopping (${signalled})...`);
  await demo.stop();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  console.log('stopped: function, emulator and simulator are down');
  return 0;
}
