/**
 * The Fn handler: thin. Settings are parsed once per warm container, SDK clients are created once
 * and reused, every invocation returns a value (the FDK crashes on undefined) and every failure
 * is a FunctionFailure whose text is a one-line cause: never a stack trace to the caller.
 */
import { inspect } from 'node:util';
import { checkForPosting, ConfigError, parseSettings, type Env, type Settings } from '../config/settings';
import { safeMessage } from '../util/redact';
import type { Logger } from '../log';
import type { ObjectStorageClient } from 'oci-objectstorage';
import { createAuth, createDiscoveryClients, createMonitoringClient, createObjectStorageClient, createSecretsClient, type OciAuth } from '../oci/clients';
import { objectStorageBackend } from '../state/objectStorage';
import { boardObjectName, objectStorageBoard, type PacingBoard } from '../state/board';
import { ConfigObjectSource, sdkConfigObjectGet } from '../config/configObject';
import { stateObjectName } from '../state/keys';
import { createStateStore, type StateStore } from '../state/store';
import { FleetDiscovery } from '../discovery/discovery';
import { BearerTokenSource, sdkSecretReader } from '../oci/secrets';
import { sdkPostBatch, type PostBatch } from '../publish/sink';
import { InvocationError, parseInvocationBody } from './invocation';
import { DeliveryFailure, DuplicateTrigger, runInvocation } from './pipeline';
import type { Runtime } from './runtime';
import type { InvocationSummary } from './summary';
import { OCI_LIMITS } from '../transform/limits';
import { stateJsonBound } from './memory';

/** What the FDK shows as `detail` of a 502: `toString()`, and what it logs: `inspect`. Both one line. */
export class FunctionFailure {
  constructor(readonly message: string) {}
  toString(): string {
    return `prom2oci: ${this.message}`;
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

/** The subset of the FDK context the handler reads. */
interface InvocationContext {
  deadline: Date | null;
  callID?: string;
}

/** Memoises a factory; a thrown error is remembered too (config does not change while warm). */
function once<T>(make: () => T): () => T {
  let done: { value: T } | { error: unknown } | undefined;
  return () => {
    if (!done) {
      try {
        done = { value: make() };
      } catch (error) {
        done = { error };
      }
    }
    if ('error' in done) throw done.error;
    return done.value;
  };
}

/** Options of the handler besides the environment. */
interface HandlerOptions {
  /**
   * Where the state between invocations lives when STATE_BUCKET is unset (the CLI keeps it in
   * memory or in a file); by default the state is then off. A store of this process only: a dry
   * run writes it too (Runtime.dryRunWritesState), as it is never the function's.
   */
  localStateStore?: StateStore;
  /** Settings already parsed from `env` (the CLI parses them up front); by default parsed on first use. */
  settings?: Settings;
}

/** Whether the settings keep the state in Object Storage (STATE_BUCKET and its namespace). */
function hasObjectStorageState(settings: Settings): settings is Settings & { stateBucket: string; objectStorageNamespace: string } {
  return settings.stateBucket !== undefined && settings.objectStorageNamespace !== undefined;
}

/** The Object Storage state store of the settings, or undefined when STATE_BUCKET is unset. */
function objectStorageStateStore(settings: Settings, client: () => ObjectStorageClient): StateStore | undefined {
  if (!hasObjectStorageState(settings)) return undefined;
  const objectName = stateObjectName(settings);
  const where = { namespace: settings.objectStorageNamespace, bucket: settings.stateBucket, objectName };
  // The object is not even downloaded beyond what the memory budget's state share decodes (src/handler/memory.ts).
  const maxBytes = stateJsonBound(settings.memoryMb);
  return createStateStore(objectStorageBackend(client(), where, settings.dynamicGroup, maxBytes), { maxBytes });
}

/** The pacing board of the settings: in STATE_BUCKET, unless PACING_BOARD is false; undefined without a bucket. */
function objectStoragePacingBoard(settings: Settings, client: () => ObjectStorageClient): PacingBoard | undefined {
  if (!hasObjectStorageState(settings) || !settings.pacingBoard) return undefined;
  const where = { namespace: settings.objectStorageNamespace, bucket: settings.stateBucket, own: boardObjectName(stateObjectName(settings)) };
  return objectStorageBoard(client(), where, settings.dynamicGroup);
}

/** The configuration object of the settings (SCRAPE_CONFIG_OBJECT), or undefined when it is unset. */
function configObjectSource(settings: Settings, client: () => ObjectStorageClient): ConfigObjectSource | undefined {
  const address = settings.scrapeConfigObject;
  const namespace = settings.objectStorageNamespace;
  if (address === undefined || namespace === undefined) return undefined;
  const where = { ...address, namespace };
  return new ConfigObjectSource(sdkConfigObjectGet(client(), where), where, settings.dynamicGroup);
}

/** The Fn handler, and what it can do before its first call. */
interface Handler {
  (input: unknown, ctx: InvocationContext): Promise<InvocationSummary | DuplicateTriggerAnswer | FunctionFailure>;
  /**
   * Builds what every real invocation needs first (settings, credentials, the SDK bundle, the
   * monitoring client, the state store when configured) ahead of the first call. Never throws: a
   * failure is remembered and reported by the invocation that needs it, as without this call.
   */
  prepare(): void;
}

/** Builds the handler for an environment (process.env in OCI Functions). */
export function createHandler(env: Env, log: Logger, options: HandlerOptions = {}): Handler {
  const given = options.settings;
  const settingsOf = given ? () => given : once(() => parseSettings(env));
  const auth = once((): OciAuth => createAuth(env));

  /** Clients are built on first use and reused while warm. */
  const runtime = once((): Runtime => {
    const settings = settingsOf();
    const post = once((): PostBatch => sdkPostBatch(createMonitoringClient(auth(), settings), settings.dynamicGroup));
    const tokens = once(() =>
      settings.bearerTokenSecretId
        ? new BearerTokenSource(
            sdkSecretReader(createSecretsClient(auth(), settings), settings.bearerTokenSecretId, settings.dynamicGroup),
            settings.secretCacheTtlMs,
          )
        : undefined,
    );
    const secretsClient = once(() => createSecretsClient(auth(), settings));
    const secretSources = new Map<string, BearerTokenSource>();
    const secretSource = (secretId: string): BearerTokenSource => {
      let source = secretSources.get(secretId);
      if (!source) {
        source = new BearerTokenSource(sdkSecretReader(secretsClient(), secretId, settings.dynamicGroup), settings.secretCacheTtlMs);
        secretSources.set(secretId, source);
      }
      return source;
    };
    // One Object Storage client for the state and the configuration object.
    const objectStorage = once(() => createObjectStorageClient(auth(), settings));
    const states = once(() => objectStorageStateStore(settings, objectStorage) ?? options.localStateStore);
    const configObject = once(() => configObjectSource(settings, objectStorage));
    const pacingBoard = once(() => objectStoragePacingBoard(settings, objectStorage));
    const d = settings.discovery;
    const discovery = once(() =>
      d
        ? new FleetDiscovery(
            d,
            once(() => createDiscoveryClients(auth(), d)),
            Date.now,
            settings.dynamicGroup,
          )
        : undefined,
    );
    const dryRunWritesState = options.localStateStore !== undefined && !hasObjectStorageState(settings);
    return { settings, log, postBatch: post, tokenSource: tokens, secretSource, stateStore: states, pacingBoard, dryRunWritesState, discovery, configObject };
  });

  const handler = async (input: unknown, ctx: InvocationContext): Promise<InvocationSummary | DuplicateTriggerAnswer | FunctionFailure> => {
    let trigger: string | undefined;
    let dryRun = false;
    try {
      const request = parseInvocationBody(typeof input === 'string' || Buffer.isBuffer(input) ? input : input == null ? '' : JSON.stringify(input));
      const rt = runtime();
      const settings = rt.settings;
      // The one decision: the invocation's body, else DRY_RUN.
      dryRun = request.dryRun ?? settings.dryRun;
      trigger = request.trigger;
      if (!dryRun) {
        checkForPosting(settings);
        rt.postBatch(); // fail fast on auth/config problems, before scraping
        rt.tokenSource();
      } else if (settings.bearerTokenSecretId) rt.tokenSource();
      return await runInvocation(rt, { dryRun, deadline: validDeadline(ctx.deadline, log), trigger });
    } catch (e) {
      return triggerAnswer(e, trigger, dryRun) ?? failure(e, log);
    }
  };
  const prepare = (): void => {
    try {
      const rt = runtime();
      // The configuration object (SCRAPE_CONFIG_OBJECT) is read by every invocation, a dry run's too: its client first.
      rt.configObject?.();
      if (rt.settings.dryRun) return; // otherwise a dry run never needs the SDK
      checkForPosting(rt.settings);
      rt.postBatch();
      rt.stateStore?.();
    } catch {
      // remembered by once(): the first invocation reports it
    }
  };
  return Object.assign(handler, { prepare });
}

/**
 * The invocation's deadline: the platform's Fn-Deadline, which carries the deployed function's
 * timeout (Terraform's timeout_in_seconds = func.yaml's timeout), so a run uses the time it is given;
 * FUNCTION_TIMEOUT_SECONDS is only for a call without one (the CLI) or with an unparsable one (the
 * FDK yields an Invalid Date). A deadline further ahead than any OCI function may run cannot come
 * from the platform: it is clamped to that longest timeout, so no timer overflows.
 */
function validDeadline(deadline: Date | null, log: Logger): Date | undefined {
  if (deadline === null) return undefined;
  if (Number.isNaN(deadline.getTime())) {
    log('warn', 'the Fn-Deadline header is not a date; using FUNCTION_TIMEOUT_SECONDS instead');
    return undefined;
  }
  const latest = Date.now() + OCI_LIMITS.maxFunctionTimeoutSeconds * 1000;
  if (deadline.getTime() > latest) {
    log(
      'warn',
      `the Fn-Deadline header is ${Math.round((deadline.getTime() - Date.now()) / 1000)} s ahead, more than OCI's longest function timeout ` +
        `(${OCI_LIMITS.maxFunctionTimeoutSeconds} s); using that instead`,
    );
    return new Date(latest);
  }
  return deadline;
}

/** The answer to a repeated delivery of a trigger message: nothing was run. */
interface DuplicateTriggerAnswer {
  ok: true;
  /** The message's key (`dedupeKey@timestampEpochMillis`), run already by an earlier invocation. */
  duplicate: string;
}

/**
 * What a run invoked by the trigger (an alarm message) answers instead of failing: Notifications
 * retries a failed delivery (at once, then after 1, 2, 4, 8, 16 and 32 minutes, for 2 hours), and a
 * retry cannot deliver more than this run did: the spool replays its undelivered series with their
 * timestamps, and the next minute's message runs anyway. So a posting run that delivered nothing
 * answers 200 with its summary and `nothingDelivered` (logged as an error, and seen by the alarms
 * as `up` absent), and a repeated message answers without a run. Other failures (configuration, a
 * bad body, a dry run) stay 502: they show as oci_faas errors.
 */
function triggerAnswer(e: unknown, trigger: string | undefined, dryRun: boolean): InvocationSummary | DuplicateTriggerAnswer | undefined {
  if (e instanceof DuplicateTrigger) return { ok: true, duplicate: e.trigger };
  if (trigger !== undefined && !dryRun && e instanceof DeliveryFailure) return { ...e.summary, nothingDelivered: e.message };
  return undefined;
}

/** Turns any error into a logged FunctionFailure with a cause a user can act on. */
function failure(e: unknown, log: Logger): never {
  if (e instanceof DeliveryFailure) throw new FunctionFailure(e.message);
  if (e instanceof ConfigError) {
    log('error', `configuration error: ${e.message}`, { key: e.key });
    throw new FunctionFailure(`configuration error: ${e.message}`);
  }
  if (e instanceof InvocationError) {
    log('error', `bad invocation: ${e.message}`);
    throw new FunctionFailure(`bad invocation: ${e.message}`);
  }
  log('error', `unexpected error: ${safeMessage(e)}`, { error: e instanceof Error ? e.name : typeof e });
  throw new FunctionFailure(`unexpected error: ${safeMessage(e)}`);
}
