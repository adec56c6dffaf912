/**
 * The function's pipeline run in this process, for `once` and `run`: the same handler the Fn
 * image runs (createHandler -> runInvocation), with settings from the environment and flags and
 * OCI config-file auth. Settings and auth are checked up front so a bad setting is exit code 2
 * before anything is scraped.
 */
import { ConfigError, parseSettings, type Env } from '../config/settings';
import { createHandler, FunctionFailure } from '../handler/handler';
import { SUMMARY_LOG_EVENT, type InvocationSummary } from '../handler/summary';
import { jsonLogger, type Logger, type LogLevel } from '../log';
import { createAuth } from '../oci/clients';
import type { StateStore } from '../state/store';

/** An invocation that delivered nothing or failed; the message is the function's own cause. */
export class InvocationFailed extends Error {
  override name = 'InvocationFailed';
}

export interface LocalRunner {
  /** One invocation (scrape, transform, post unless dry run); rejects with InvocationFailed. */
  invoke(dryRun: boolean): Promise<InvocationSummary>;
}

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * A JSON-lines logger on stderr that drops entries below `min` (stdout stays for results). Unless
 * verbose, the pipeline's own per-invocation summary line is dropped too: the CLI prints it.
 */
export function stderrLogger(verbose: boolean): Logger {
  const inner = jsonLogger((line) => process.stderr.write(line));
  const min: LogLevel = verbose ? 'debug' : 'warn';
  return (level, msg, fields) => {
    if (LEVELS.indexOf(level) < LEVELS.indexOf(min)) return;
    if (!verbose && fields?.event === SUMMARY_LOG_EVENT) return;
    inner(level, msg, fields);
  };
}

/** A ConfigError for a key set by a flag names the flag too. */
export function namingFlag(e: unknown, settingFlags: Record<string, string>): unknown {
  if (!(e instanceof ConfigError) || !settingFlags[e.key]) return e;
  return new ConfigError(e.key, `${e.message.slice(e.key.length + 2)} (given by ${settingFlags[e.key]})`);
}

/** Validates settings (and auth unless every run is a dry run), then builds the runner. Throws ConfigError. */
export function createLocalRunner(env: Env, log: Logger, opts: { dryRunOnly: boolean; stateStore?: StateStore }): LocalRunner {
  parseSettings(env, { dryRun: opts.dryRunOnly });
  if (!opts.dryRunOnly) createAuth(env);
  const handler = createHandler(env, log, opts.stateStore ? { localStateStore: opts.stateStore } : {});
  return {
    async invoke(dryRun) {
      try {
        return (await handler(JSON.stringify({ dryRun }), { deadline: null })) as InvocationSummary;
      } catch (e) {
        if (e instanceof FunctionFailure) throw new InvocationFailed(e.message);
        throw e;
      }
    },
  };
}
