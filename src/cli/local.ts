/**
 * The function's pipeline run in this process, for `once` and `run`: the same handler the Fn
 * image runs (createHandler -> runInvocation), with settings from the environment and flags and
 * OCI config-file auth. Settings and auth are checked up front so a bad setting is exit code 2
 * before anything is scraped.
 */
import { checkForPosting, ConfigError, parseSettings, type Env, type Settings } from '../config/settings';
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
  /** The settings every invocation runs with (`dryRun` included). */
  settings: Settings;
  /** One invocation (scrape, transform, post unless a dry run); rejects with InvocationFailed. */
  invoke(): Promise<InvocationSummary>;
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

/** Parses the settings and checks them (and auth unless DRY_RUN), then builds the runner. Throws ConfigError. */
export function createLocalRunner(env: Env, log: Logger, opts: { stateStore?: StateStore } = {}): LocalRunner {
  const settings = parseSettings(env);
  if (!settings.dryRun) {
    checkForPosting(settings);
    createAuth(env);
  }
  const handler = createHandler(env, log, { settings, ...(opts.stateStore ? { localStateStore: opts.stateStore } : {}) });
  return {
    settings,
    async invoke() {
      try {
        // An empty body: the handler runs as DRY_RUN says.
        return (await handler('', { deadline: null })) as InvocationSummary;
      } catch (e) {
        if (e instanceof FunctionFailure) throw new InvocationFailed(e.message);
        throw e;
      }
    },
  };
}
