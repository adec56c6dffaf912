/**
 * `prom2oci once` (one scrape and push) and `prom2oci run` (the long-running loop the lab ran on a
 * VM with nohup, done right: fixed rate, no overlap, graceful stop). Both run the function's own
 * handler in this process with OCI config-file auth.
 */
import type { InvocationSummary } from '../handler/summary';
import { parseCommandLine, parseDuration, settingsEnv, settingsHelp, UsageError, type ParsedArgs } from './args';
import { metricListing, skippedTotal, summaryLine, summaryTable } from './format';
import { createLocalRunner, InvocationFailed, namingFlag, stderrLogger, type LocalRunner } from './local';
import { startSchedule } from '../local/schedule';
import { fileBackend } from './state-file';
import { createStateStore, memoryBackend, type StateStore } from '../state/store';

export const ONCE_HELP = `usage: prom2oci once [--dry-run] [--json] [--verbose] [--state-file PATH] [settings flags]

Scrapes every METRICS_ENDPOINT once, converts the samples and posts them to OCI Monitoring with
PostMetricData, exactly as one invocation of the function does, then prints the summary.
Settings come from the environment (the function's configuration keys) or from the flags below
(a flag overrides the variable). Auth: the OCI config file (OCI_CONFIG_FILE / --config,
OCI_CONFIG_PROFILE / --profile), or a resource principal when OCI_RESOURCE_PRINCIPAL_VERSION is set.

  --dry-run      do everything except posting; list every metric object that would be posted
  --json         print the function's JSON summary instead of the table
  --verbose      also log the pipeline's info lines (JSON, on stderr)
  --state-file P keep the previous scrape in file P between runs, for the derived series
                 (_rate, _avg, _pNN); without it (and without STATE_BUCKET) nothing is derived

settings flags:
${settingsHelp()}

exit codes: 0 done (also partial success), 1 nothing delivered (every target down or every post
failed), 2 a setting or flag is wrong (the message names it).`;

export const RUN_HELP = `usage: prom2oci run [--interval 60s] [--dry-run] [--verbose] [settings flags]

Runs one invocation every interval on a fixed-rate schedule (no drift), the first at once.
A cycle never overlaps the previous one: when a cycle is still running at the next slot, that slot
is skipped and logged. SIGTERM or SIGINT finishes the cycle in flight and exits 0.
One JSON log line per cycle on stdout; the pipeline's warnings and errors on stderr.
The previous cycle's scrape is kept in memory for the derived series (_rate, _avg, _pNN), or in
Object Storage when STATE_BUCKET is set (as in the function).

  --interval D   time between cycle starts: 60s (default), 10s, 1m, 500ms ...
  --dry-run      scrape and transform only, never post
  --verbose      also log the pipeline's info lines (stderr)

settings flags: the same as \`prom2oci once --help\`.`;

/** The in-process runner; a bad setting given by a flag names the flag. */
function localRunner(env: Record<string, string | undefined>, args: ParsedArgs, stateStore?: StateStore): LocalRunner {
  try {
    return createLocalRunner(env, stderrLogger(args.flags.verbose === true), stateStore ? { stateStore } : {});
  } catch (e) {
    throw namingFlag(e, args.settingFlags);
  }
}

/** `prom2oci once`: returns the exit code. */
export async function onceCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandLine(argv, { flags: { 'dry-run': 'boolean', json: 'boolean', verbose: 'boolean', 'state-file': 'string' }, settings: true });
  if (args.flags.help) {
    console.log(ONCE_HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`once takes no arguments, got "${args.positionals[0]}"`);
  const env = settingsEnv(process.env, args);
  const stateFile = args.flags['state-file'];
  if (stateFile === '') throw new UsageError('--state-file needs a path');
  const runner = localRunner(env, args, typeof stateFile === 'string' ? createStateStore(fileBackend(stateFile)) : undefined);
  let summary: InvocationSummary;
  try {
    summary = await runner.invoke();
  } catch (e) {
    if (!(e instanceof InvocationFailed)) throw namingFlag(e, args.settingFlags);
    if (args.flags.json) console.log(JSON.stringify({ ok: false, error: e.message }));
    console.error(`prom2oci: ${e.message}`);
    return 1;
  }
  if (args.flags.json) console.log(JSON.stringify(summary, null, 2));
  else {
    console.log(summaryTable(summary));
    if (summary.dryRun) console.log(`\n${metricListing(summary)}`);
  }
  return 0;
}

/** Resolves when SIGINT or SIGTERM arrives (handlers removed afterwards). */
function untilSignal(): { promise: Promise<NodeJS.Signals>; dispose(): void } {
  let dispose = (): void => undefined;
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    const on = (sig: NodeJS.Signals) => () => resolve(sig);
    const int = on('SIGINT');
    const term = on('SIGTERM');
    process.once('SIGINT', int);
    process.once('SIGTERM', term);
    dispose = () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
    };
  });
  return { promise, dispose: () => dispose() };
}

/** Writes one structured log line on stdout. */
function logLine(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
}

/** The per-cycle log fields from a summary. */
function cycleFields(s: InvocationSummary): Record<string, unknown> {
  return {
    ok: s.ok,
    dryRun: s.dryRun,
    targetsUp: s.targets.filter((t) => t.up).length,
    targets: s.targets.length,
    samples: s.samples,
    posted: s.posted,
    skipped: skippedTotal(s),
    skippedByReason: s.skipped,
    failed: s.failed + s.undelivered,
    derived: s.derived,
    notDerived: s.notDerived,
    ...(s.state.error ? { stateError: s.state.error } : {}),
    durationMs: Math.round(s.durationMs),
    ...(s.targets.some((t) => !t.up) ? { down: s.targets.filter((t) => !t.up).map((t) => ({ url: t.url, error: t.error })) } : {}),
    ...(s.errors.length > 0 ? { firstError: s.errors[0].message } : {}),
    summary: summaryLine(s),
  };
}

/** `prom2oci run`: returns the exit code once stopped by a signal. */
export async function runCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandLine(argv, { flags: { interval: 'string', 'dry-run': 'boolean', verbose: 'boolean' }, settings: true });
  if (args.flags.help) {
    console.log(RUN_HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`run takes no arguments, got "${args.positionals[0]}"`);
  const intervalMs = parseDuration('--interval', typeof args.flags.interval === 'string' ? args.flags.interval : '60s');
  const env = settingsEnv(process.env, args);
  const runner = localRunner(env, args, createStateStore(memoryBackend('memory (this process)')));
  const signal = untilSignal();
  logLine('info', 'prom2oci run started', { intervalMs, dryRun: runner.settings.dryRun, pid: process.pid });
  const schedule = startSchedule(
    async ({ cycle, dueAt }) => {
      const lateMs = Date.now() - dueAt;
      try {
        const s = await runner.invoke();
        logLine(s.ok ? 'info' : 'error', 'cycle complete', { cycle, dueAt: new Date(dueAt).toISOString(), lateMs, ...cycleFields(s) });
      } catch (e) {
        logLine('error', 'cycle failed', { cycle, dueAt: new Date(dueAt).toISOString(), lateMs, error: e instanceof Error ? e.message : String(e) });
      }
    },
    {
      intervalMs,
      onSkip: ({ cycle, runningCycle }) => logLine('warn', 'cycle skipped: the previous cycle is still running', { cycle, runningCycle, intervalMs }),
    },
  );
  const sig = await signal.promise;
  logLine('info', 'stopping: finishing the cycle in flight', { signal: sig });
  // A second signal while finishing means "now": default handling comes back.
  signal.dispose();
  await schedule.stop();
  logLine('info', 'prom2oci run stopped', { signal: sig, cycles: schedule.started, skipped: schedule.skipped });
  return 0;
}
