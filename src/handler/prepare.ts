/**
 * The prepare step of an invocation: which targets (METRICS_ENDPOINT and discovery), then the
 * bearer token and every target scraped, parsed and set up for the transform, concurrently. Each
 * target ends as a `PreparedTarget`: ready to be drained, or failed with a safe error.
 */
import { setMaxListeners } from 'node:events';
import type { DiscoveryReport } from '../discovery/discovery';
import type { DiscoveredTarget } from '../discovery/targets';
import { ExpositionError, ExpositionParser, SampleLimitError, shownExpositionError } from '../parse/exposition';
import { hideCredentials, instancesOf, notScraped, scrapeTarget, type ScrapeResult } from '../scrape/scrape';
import type { PreviousScrape } from '../types/state';
import { TargetTransform } from '../transform/targetTransform';
import type { MetricFamily, OciMetric, TargetContext, TransformOptions } from '../types/model';
import { withoutDropRules } from '../transform/dropRules';
import { mapConcurrently } from '../util/concurrency';
import type { InvocationBudget } from './budget';
import { ConfigError } from '../config/settings';
import { LISTED_TARGET_BYTES, HELD_BYTES_PER_FAMILY, HELD_BYTES_PER_SAMPLE, MemoryBudgetError, TARGET_IN_FLIGHT_BYTES, type MemoryBudget } from './memory';
import type { Runtime } from './runtime';
import type { PreparedTarget, ScrapeConfigReport, ScrapeTarget, ShardReport } from './summary';
import { inShard, shardText, type Shard } from '../discovery/shard';
import { configTargets, targetOptions } from './jobs';
import { jobLimitError } from '../transform/jobLabels';

/** A target that yields nothing: its scrape, or what came after it, failed with `error`. */
function failedTarget(target: ScrapeTarget, scrape: ScrapeResult, error: string): PreparedTarget {
  return { target, scrape, samples: 0, error, series: 0, derived: 0, notDerived: {}, skipped: [] };
}

/**
 * This invocation's targets: a Prometheus configuration's jobs (SCRAPE_CONFIG or SCRAPE_CONFIG_OBJECT, src/handler/jobs.ts);
 * else METRICS_ENDPOINT, then the discovered ones (a discovered URL that is
 * also listed statically is scraped once, with the instance's dimensions). `instance` follows the
 * one rule for all of them (host:port, the path added when host:port repeats). With SHARD, only the
 * shard's targets (src/discovery/shard.ts); a settings target's address is its URL's host[:port].
 */
export async function targetsOf(
  rt: Runtime,
  budget: InvocationBudget,
  memory: MemoryBudget,
): Promise<{ targets: ScrapeTarget[]; report?: DiscoveryReport; config?: ScrapeConfigReport; shard?: ShardReport }> {
  const s = rt.settings;
  // SCRAPE_CONFIG_OBJECT is read first (revalidated by its ETag while warm): a bad one fails before any other call.
  const fromObject = await rt.configObject?.()?.load(AbortSignal.timeout(budget.stateTimeoutMs()));
  const scrapeConfig = fromObject?.file ?? s.scrapeConfig;
  const fleet = rt.discovery?.();
  let discovered: DiscoveredTarget[] = [];
  let report: DiscoveryReport | undefined;
  if (fleet) {
    ({ targets: discovered, report } = await fleet.targets(budget.signalAt(budget.discoveryStopAt)));
    const { kept, refusal } = withinBudget('discovered targets', discovered, memory);
    discovered = kept;
    if (refusal) {
      report.problems = [{ resourceId: '', displayName: '', problem: refusal }, ...report.problems];
      report.problemCount += 1;
    }
  }
  // A Prometheus configuration replaces METRICS_ENDPOINT: its jobs name the targets (discovered
  // instances feed the jobs that ask for them).
  if (scrapeConfig) {
    // SCRAPE_CONFIG is an environment variable (OCI keeps a function's configuration within a few KB); the object's size is reserved.
    const refused = fromObject ? memory.reserveConfig(fromObject.bytes) : undefined;
    // The configuration's error, naming its setting (a 502 like any other configuration error, never an "unexpected" one).
    if (refused) throw new ConfigError('SCRAPE_CONFIG_OBJECT', refused.message);
    const { targets: listed, report: config } = configTargets(scrapeConfig, discovered, s.shard);
    const { kept: targets, refusal } = withinBudget("targets of the configuration's jobs", listed, memory, discovered.length);
    if (refusal) config.notes.push(refusal);
    const otherShards = config.jobs.reduce((n, j) => n + (j.otherShards ?? 0), 0);
    return {
      targets,
      report,
      config: fromObject ? { object: fromObject.report, ...config } : config,
      ...(s.shard ? { shard: shardReport(s.shard, targets.length, otherShards) } : {}),
    };
  }
  const found = new Set(discovered.map((t) => t.url.href));
  const all: Omit<ScrapeTarget, 'instance'>[] = [
    ...s.endpoints.filter((u) => !found.has(u.href)).map((url) => ({ url })),
    ...discovered.map((t) => ({ url: t.url, dimensions: t.dimensions, resourceId: t.resourceId })),
  ];
  // Named over every target, so a target's instance does not depend on the shards (URLs of one host:port share a shard anyway).
  const instances = instancesOf(all.map((t) => t.url));
  const targets = all.map((t, i) => ({ ...t, instance: instances[i] })).filter((t) => inShard(t.url.host, s.shard));
  return { targets, report, ...(s.shard ? { shard: shardReport(s.shard, targets.length, all.length - targets.length) } : {}) };
}

/** The response's word on this function's shard. */
function shardReport(shard: Shard, targets: number, otherShards: number): ShardReport {
  const report: ShardReport = { shard: shardText(shard), targets, otherShards };
  if (targets === 0 && otherShards > 0)
    report.note = `no target of shard ${shardText(shard)}: all ${otherShards} targets belong to the other shards (fewer targets than shards?)`;
  return report;
}

/**
 * The targets of a list the memory budget holds (LISTED_TARGET_BYTES each, the `listed` share; the
 * first `reserved` of them hold theirs already: the discovered ones that feed a configuration's
 * jobs): the first ones, in the list's order; the rest are not scraped, said in `refusal` (for where
 * the list is reported) and in the response's `memory.limited`.
 */
function withinBudget<T>(what: string, list: T[], memory: MemoryBudget, reserved = 0): { kept: T[]; refusal?: string } {
  const kept = Math.min(list.length, reserved + memory.reserveUpTo('listed', LISTED_TARGET_BYTES, list.length - reserved));
  if (kept === list.length) return { kept: list };
  const refusal =
    `memory budget: ${list.length - kept} of the ${list.length} ${what} were not scraped: this function's ${memory.memoryMb} MB memory ` +
    `(FN_MEMORY) holds ${kept} (${LISTED_TARGET_BYTES / 1024} KB each in its share for the targets listed); raise the memory or split the ` +
    'targets over more functions';
  memory.limit('listed', refusal);
  return { kept: list.slice(0, kept), refusal };
}

/**
 * A dry run's second transform of the same families with the drop rules off (src/transform/dropRules.ts):
 * the forecast compares its streams with the real ones. No state of its own (it reads the same previous scrape).
 */
function baselineTransform(families: MetricFamily[], context: TargetContext, opts: TransformOptions): TargetTransform {
  const off = withoutDropRules(opts, context.job);
  return new TargetTransform(families, { ...context, ...(off.job ? { job: off.job } : {}) }, off.opts);
}

/** Fetches the bearer token (if any), then scrapes, parses and transforms every target concurrently. */
export async function scrapeAll(
  rt: Runtime,
  targets: readonly ScrapeTarget[],
  budget: InvocationBudget,
  memory: MemoryBudget,
  topts: TransformOptions,
  stateOf: (target: ScrapeTarget) => Promise<{ previous: PreviousScrape; inSpool?: (m: OciMetric) => boolean }>,
  keepOrder: boolean,
): Promise<PreparedTarget[]> {
  const s = rt.settings;
  const now = budget.now;
  const signal = budget.signalAt(budget.scrapeStopAt);
  // Every scrape listens to it: one listener per target is expected, not a leak.
  setMaxListeners(targets.length + 10, signal);
  let token: string | undefined;
  let tokenError: string | undefined;
  const source = rt.tokenSource();
  if (source) {
    try {
      // Reading the token is part of the scrape: a Vault that does not answer gets SCRAPE_TIMEOUT_MS, not the whole invocation.
      const t = await source.get(AbortSignal.any([signal, AbortSignal.timeout(s.scrapeTimeoutMs)]));
      token = t.token;
      if (t.stale) rt.log('warn', `using the previous bearer token: ${t.stale}`);
    } catch (e) {
      tokenError = (e as Error).message;
    }
  }
  // Each job secret is read once per invocation (and cached by its source while warm).
  const secrets = new Map<string, Promise<{ token: string }>>();
  const jobSecret = (secretId: string): Promise<{ token: string }> => {
    let p = secrets.get(secretId);
    if (!p) {
      const source = rt.secretSource?.(secretId);
      p = source ? source.get(AbortSignal.any([signal, AbortSignal.timeout(s.scrapeTimeoutMs)])) : Promise.reject(new Error('no OCI Vault client'));
      secrets.set(secretId, p);
    }
    return p;
  };
  // At most SCRAPE_CONCURRENCY targets at once: a fleet must not open hundreds of sockets (and hold
  // hundreds of expositions in memory) at the same moment.
  return mapConcurrently(targets, s.scrapeConcurrency, async (target): Promise<PreparedTarget> => {
    const { url, instance } = target;
    const refused = target.config?.refused;
    if (refused) return failedTarget(target, notScraped(url, refused, now(), instance), refused);
    if (tokenError) return failedTarget(target, notScraped(url, tokenError, now(), instance), tokenError);
    // A job's credentials from OCI Vault: a bearer token, or the password of basic auth (sent from the URL's user:password).
    const auth = target.config?.auth;
    let creds: { token?: string; url: URL } = { token, url };
    if (auth) {
      const secret = auth.kind === 'bearer' ? auth.secretId : auth.passwordSecretId;
      let value = '';
      if (secret) {
        try {
          value = (await jobSecret(secret)).token;
        } catch (e) {
          const why = (e as Error).message;
          return failedTarget(target, notScraped(url, why, now(), instance), why);
        }
      }
      if (auth.kind === 'bearer') creds = { token: value, url };
      else {
        const withUser = new URL(url);
        withUser.username = encodeURIComponent(auth.username);
        withUser.password = encodeURIComponent(value);
        creds = { url: withUser };
      }
    }
    const ownTimeoutMs = target.config?.timeoutMs ?? s.scrapeTimeoutMs;
    const timeoutMs = budget.scrapeTimeoutMs(ownTimeoutMs);
    // The body is parsed as it arrives (never held whole); a malformed one is refused at end().
    // What the target holds draws from the invocation's memory budget: its buffers before the
    // download starts (a target the budget cannot hold is not downloaded), then its parse as it
    // grows; over the budget the parse stops and the download is cut there (never read on outside it).
    if (!memory.reserve('targets', TARGET_IN_FLIGHT_BYTES)) {
      const refusal = memory.refusal(`this target's exposition`, 0).message;
      return failedTarget(target, notScraped(url, refusal, now(), instance), refusal);
    }
    let held = TARGET_IN_FLIGHT_BYTES;
    let overBudget: MemoryBudgetError | undefined;
    const parser = new ExpositionParser({
      sampleLimit: s.scrapeSampleLimit,
      onGrowth: (g) => {
        const bytes = g.samples * HELD_BYTES_PER_SAMPLE + g.families * HELD_BYTES_PER_FAMILY + g.bytes;
        if (memory.reserve('targets', bytes)) {
          held += bytes;
          return;
        }
        // Given back at once (the parse stops here), so the targets still being read can go on.
        overBudget = memory.refusal(`this target's exposition`, held);
        memory.release('targets', held);
        held = 0;
        throw overBudget;
      },
    });
    // The scrape stops reading the body once the parse was refused (readBody ends at a consumer's throw).
    const consume = {
      push(chunk: Buffer): void {
        parser.push(chunk);
        if (overBudget) throw overBudget;
      },
    };
    const scrape = await scrapeTarget(creds.url, {
      timeoutMs,
      maxBytes: s.scrapeMaxBytes,
      bearerToken: creds.token,
      followRedirectsToOtherHosts: s.followRedirectsToOtherHosts,
      signal,
      instance,
      consume,
    });
    if (!scrape.ok) {
      memory.release('targets', held);
      // "timed out after 1 ms" alone would read like a bad SCRAPE_TIMEOUT_MS: say the deadline cut it.
      const cut = timeoutMs < ownTimeoutMs && /^timed out/.test(scrape.error);
      const error = cut ? `${scrape.error} (the invocation deadline left only that for the scrape; raise the function timeout)` : scrape.error;
      return failedTarget(target, { ...scrape, error }, error);
    }
    // The body has ended: its buffers are given back, the parse is kept.
    memory.release('targets', TARGET_IN_FLIGHT_BYTES);
    held -= TARGET_IN_FLIGHT_BYTES;
    try {
      const parsed = parser.end();
      // A job's sample_limit and label limits, after metric relabelling, fail the whole target.
      const rules = target.config?.rules;
      const overLimit = rules && jobLimitError(rules, parsed.families);
      if (overLimit) return { ...failedTarget(target, scrape, overLimit), samples: parsed.sampleCount };
      const { previous, inSpool } = await stateOf(target);
      // The metrics are made batch by batch as the publisher takes them (a dry run keeps their order for the response).
      const context: TargetContext = {
        instance: scrape.instance,
        scrapeTimeMs: scrape.scrapeTimeMs,
        previous,
        dimensions: target.dimensions,
        ...(rules ? { job: rules } : {}),
        ...(inSpool ? { inSpool } : {}),
      };
      const transform = new TargetTransform(parsed.families, context, targetOptions(target, topts), keepOrder);
      const done: PreparedTarget = {
        ...(keepOrder ? { withoutDropRules: baselineTransform(parsed.families, context, targetOptions(target, topts)) } : {}),
        target,
        scrape,
        samples: parsed.sampleCount,
        transform,
        series: 0,
        derived: 0,
        notDerived: transform.notDerived,
        skipped: [],
      };
      if (transform.state) done.state = transform.state;
      return done;
    } catch (e) {
      memory.release('targets', held);
      const msg =
        e instanceof MemoryBudgetError
          ? e.message
          : e instanceof ExpositionError
            ? `invalid exposition: ${shownExpositionError(e)}`
            : e instanceof SampleLimitError
              ? e.message
              : `could not process the exposition: ${(e as Error).message}`;
      // An exposition error quotes the target's line, which may echo the token back.
      return failedTarget(target, scrape, hideCredentials(msg, { bearerToken: creds.token, url: creds.url }));
    }
  });
}
