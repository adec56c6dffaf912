/**
 * The pacing scenarios of issue 23, each run `runs` times with every run reported: the function
 * alone in the tenancy, beside a poster that never backs off (started fresh each invocation, and
 * started from the rate the previous invocation settled on, kept in the state object), two and
 * four deployments posting at once (each its own principal, target and state object), and the
 * most one invocation carries at the defaults; and alone at slower answers (POST_CONCURRENCY=auto
 * against a fixed 8). The emulator has OCI's limit (50 calls/s per tenancy) and 50 ms latency; the
 * function runs at its defaults (POST_CALLS_PER_SECOND=auto, POST_CONCURRENCY=auto) with every
 * sample posted as a series (HISTOGRAM_BUCKETS=true).
 * Each 429 episode (429s less than 1 s apart) is broken down: when it started, whose calls got the
 * 429s, and at what rate each principal's calls reached the tenancy around it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { makeResourcePrincipal } from '../../src/local/emulator/credentials';
import { throttleEpisodes } from '../../src/local/emulator/rate-limit';
import { cruiseRate } from '../../src/publish/pacing';
import { defaultSampleLimit, SETTINGS_TABLE } from '../../src/config/settings';
import type { CallRecord } from '../../src/local/emulator/calls';
import { createOtherPoster, type OtherPoster } from '../../src/local/other-poster';
import type { InvocationSummary } from '../../src/handler/summary';
import type { LocalFunction } from '../../src/local/fn-agent';
import { generateExposition, type GeneratedExposition } from './exposition';
import { achievedRate } from './scenarios';
import { COMPARTMENT, STATE_BUCKET, FUNCTION_NODE_ARGS, type BenchStack } from './stack';
import { count, mb, median, ms, sec, table, verdict } from './stats';
import type { TextTarget } from './target';

/** OCI's limit and a realistic latency, as in the throttled runs. */
const TENANCY = { limitPerSecond: 50, latencyMs: 50, otherPerSecond: 25 };
/** The function's memory (func.yaml) and the old-space bound V8 takes from it in the container. */
const MEMORY_MB = 256;
const BOUNDED_OLD_SPACE_MB = 128;
/** Deadline of the scenario invocations (s): long enough that a shared 100k run is never cut short. */
const DEADLINE_S = 120;
/** OCI's physical limit in one minute: 50 calls/s x 50 series per call. */
const SERIES_PER_MINUTE = 50 * 50 * 60;
/** Invocations a month at one a minute (730 h). */
const INVOCATIONS_PER_MONTH = 730 * 60;

/** Defaults, except what makes the runs comparable: every sample a series, a deadline nothing reaches. */
const ENV: Record<string, string> = {
  HISTOGRAM_BUCKETS: 'true',
  FUNCTION_TIMEOUT_SECONDS: String(DEADLINE_S),
  SCRAPE_TIMEOUT_MS: '60000',
};

/** The pacing scenarios, each a bench section of its own (`--only=`). */
export const PACING_SECTIONS = ['pacing-alone', 'pacing-shared', 'pacing-deployments', 'pacing-limit', 'pacing-cost', 'pacing-latency'] as const;
/** The pacing-latency section's answer times (ms): the bench's usual 50, and slower ones a region's ingestion endpoint may give. */
const LATENCIES_MS = [50, 200, 400, 600];
/** Its exposition (600 calls), and the start its steady rate leaves out (ms after the first acceptance): the slow start's first answer and the ramp. */
const LATENCY_SAMPLES = 30_000;
const LATENCY_START_MS = 2000;
export type PacingSection = (typeof PACING_SECTIONS)[number];

/** One principal of a 429 episode: its 429s in it, and the rate its calls reached the tenancy around it. */
interface EpisodeShare {
  who: string;
  throttled: number;
  callsPerSecond: number;
}

/** A run of 429s less than 1 s apart. */
interface EpisodeRow {
  /** Seconds after the run's first call. */
  atS: number;
  durationMs: number;
  shares: EpisodeShare[];
}

/** One measured invocation of one deployment. */
interface DeploymentRun {
  who: string;
  summary: InvocationSummary;
  wallMs: number;
  calls: number;
  throttled: number;
  /** Emulator times of its accepted calls. */
  acceptedTimes: number[];
  peakRssBytes: number | null;
}

/** One run of a scenario: every deployment's invocation, the other poster's calls, the episodes. */
interface ScenarioRun {
  deployments: DeploymentRun[];
  otherCalls: number;
  otherThrottled: number;
  episodes: EpisodeRow[];
  /** Load average (1 min) when the run ended. */
  load: number;
}

/** A deployment: its own principal (so its calls can be told apart), target URL and state object. */
interface Deployment {
  who: string;
  env: Record<string, string>;
  subjectId: string;
  fn?: LocalFunction;
}

/** Another resource principal of the bench's tenancy, trusted by the emulator. */
async function principalOf(stack: BenchStack, dir: string): Promise<{ env: Record<string, string>; subjectId: string }> {
  const rp = await makeResourcePrincipal(dir, { tenancyId: stack.tenancyId });
  stack.emulator.options.trustedIssuers.push(rp.issuerPublicKeyPem);
  return { env: rp.env, subjectId: rp.claims.res_id };
}

/** Episodes of the tenancy's 429s in these calls, with each principal's share. */
function episodesOf(calls: CallRecord[], names: Map<string, string>): EpisodeRow[] {
  const t0 = calls.length > 0 ? Math.min(...calls.map((c) => c.time)) : 0;
  const nameOf = (c: CallRecord) => names.get(c.subjectId ?? '') ?? 'unknown';
  return throttleEpisodes(calls.filter((c) => c.status === 429).map((c) => c.time)).map((e) => {
    const from = e.startMs - 1000;
    const around = calls.filter((c) => c.time >= from && c.time <= e.endMs);
    const shares = [...new Set(around.map(nameOf))].sort().map((who) => ({
      who,
      throttled: around.filter((c) => nameOf(c) === who && c.status === 429 && c.time >= e.startMs).length,
      callsPerSecond: (around.filter((c) => nameOf(c) === who).length / (e.endMs - from)) * 1000,
    }));
    return { atS: (e.startMs - t0) / 1000, durationMs: e.endMs - e.startMs, shares };
  });
}

/** "0.7 s +320 ms: fn 7 of 29/s, other 9 of 25/s". */
function episodeText(e: EpisodeRow): string {
  const shares = e.shares.map((s) => `${s.who} ${s.throttled} at ${s.callsPerSecond.toFixed(0)}/s`).join(', ');
  return `${e.atS.toFixed(1)} s +${Math.round(e.durationMs)} ms (${shares})`;
}

/** Invokes every deployment at once (the other poster running if given); all must answer 200. */
async function runOnce(stack: BenchStack, deployments: Deployment[], other: OtherPoster | undefined, otherSubject: string | undefined): Promise<ScenarioRun> {
  stack.emulator.reset();
  const statusesBefore = other?.statuses.length ?? 0;
  other?.start(TENANCY.otherPerSecond);
  let answers;
  try {
    answers = await Promise.all(
      deployments.map(async (d) => {
        const started = performance.now();
        const res = await d.fn!.invoke({ body: '', deadline: new Date(Date.now() + DEADLINE_S * 1000) });
        return { res, wallMs: performance.now() - started };
      }),
    );
  } finally {
    await other?.stop();
  }
  const calls = stack.emulator.calls.filter((c) => c.route === 'metrics');
  const names = new Map(deployments.map((d) => [d.subjectId, d.who]));
  if (otherSubject) names.set(otherSubject, 'other');
  const runs = deployments.map((d, i): DeploymentRun => {
    const { res, wallMs } = answers[i];
    const summary = res.json as InvocationSummary | undefined;
    if (res.status !== 200 || !summary) throw new Error(`${d.who}: invocation failed (${res.status}): ${res.body.slice(0, 300)}`);
    const own = calls.filter((c) => c.subjectId === d.subjectId);
    return {
      who: d.who,
      summary,
      wallMs,
      calls: own.length,
      throttled: own.filter((c) => c.status === 429).length,
      acceptedTimes: own.filter((c) => c.status === 200).map((c) => c.time),
      peakRssBytes: d.fn!.peakRssBytes(),
    };
  });
  const otherStatuses = other ? other.statuses.slice(statusesBefore) : [];
  return {
    deployments: runs,
    otherCalls: otherStatuses.length,
    otherThrottled: otherStatuses.filter((s) => s === 429).length,
    episodes: episodesOf(calls, names),
    load: loadavg()[0],
  };
}

/** Starts `n` deployments (own principal, own target URL, state if asked) and warms each up. */
async function startDeployments(
  stack: BenchStack,
  target: TextTarget,
  dir: string,
  n: number,
  withState: boolean,
  extraEnv: Record<string, string> = {},
): Promise<Deployment[]> {
  const out: Deployment[] = [];
  for (let i = 0; i < n; i++) {
    const p = n === 1 ? { env: {}, subjectId: stack.subjectId } : await principalOf(stack, path.join(dir, `d${i}`));
    const env: Record<string, string> = {
      ...ENV,
      ...extraEnv,
      ...p.env,
      METRICS_ENDPOINT: `${target.url}?deployment=${i}`,
      ...(withState ? { STATE_BUCKET, OBJECT_STORAGE_NAMESPACE: stack.emulator.objectStorage.namespace, DERIVED_SERIES: 'none' } : {}),
    };
    out.push({ who: n === 1 ? 'fn' : `d${i + 1}`, env, subjectId: p.subjectId, fn: await stack.startFn(env) });
  }
  return out;
}

/**
 * Runs a scenario `runs` times after one warm-up invocation of each deployment under the same
 * conditions; `firstMinute`: each run starts with the bucket emptied (no settled rate, an empty board).
 */
async function scenario(
  stack: BenchStack,
  target: TextTarget,
  text: { warmup: string; measured: string },
  o: { deployments: number; withOther: boolean; withState: boolean; runs: number; firstMinute?: boolean; latencyMs?: number; env?: Record<string, string> },
): Promise<ScenarioRun[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-bench-pacing-'));
  const other = o.withOther ? await createOtherPoster(stack, COMPARTMENT) : undefined;
  stack.emulator.objectStorage.clearObjects();
  const deployments = await startDeployments(stack, target, dir, o.deployments, o.withState, o.env);
  const out: ScenarioRun[] = [];
  try {
    stack.emulator.options.latencyMs = o.latencyMs ?? TENANCY.latencyMs;
    stack.emulator.options.rateLimitPerSecond = TENANCY.limitPerSecond;
    target.serve(text.warmup);
    await runOnce(stack, deployments, other, other?.subjectId);
    target.serve(text.measured);
    for (let i = 0; i < o.runs; i++) {
      // Their first minute: no state, an empty pacing board (the bucket is shared all the same).
      if (o.firstMinute) stack.emulator.objectStorage.clearObjects();
      out.push(await runOnce(stack, deployments, other, other?.subjectId));
    }
  } finally {
    stack.emulator.options.latencyMs = 0;
    stack.emulator.options.rateLimitPerSecond = undefined;
    await Promise.all(deployments.map((d) => d.fn?.stop() ?? Promise.resolve()));
    await other?.close();
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

/** Accepted calls per second of one deployment within [fromMs, toMs]. */
function rateWithin(d: DeploymentRun, fromMs: number, toMs: number): number {
  return (d.acceptedTimes.filter((t) => t >= fromMs && t <= toMs).length / (toMs - fromMs)) * 1000;
}

/** The figures of one run of a one-deployment scenario, against issue 23's targets. */
function singleRow(i: number, r: ScenarioRun, shared: boolean): string[] {
  const d = r.deployments[0];
  const s = d.summary;
  const rate = achievedRate(d.acceptedTimes);
  const free = TENANCY.limitPerSecond - (shared ? TENANCY.otherPerSecond : 0);
  const longest = Math.max(0, ...r.episodes.map((e) => e.durationMs));
  const lost = s.series - s.posted;
  const share429 = d.throttled / d.calls;
  return [
    String(i + 1),
    s.pacing.startRate === undefined ? '-' : s.pacing.startRate.toFixed(1),
    sec(d.wallMs),
    `${count(s.posted)} / ${count(s.series)}${lost === 0 ? '' : ` (${count(lost)} not posted)`}`,
    `${count(d.throttled)} of ${count(d.calls)} = ${(share429 * 100).toFixed(2)}%`,
    `${rate.toFixed(1)}/s = ${((rate / free) * 100).toFixed(0)}%`,
    `${s.pacing.decreases} / ${s.pacing.trims ?? 0} / ${s.pacing.minRate.toFixed(1)} / ${s.pacing.finalRate.toFixed(1)}`,
    ms(longest),
    shared ? `${count(r.otherCalls)} / ${count(r.otherThrottled)}` : '',
    r.load.toFixed(2),
    shared ? verdict(lost === 0 && share429 < 0.02 && longest <= 1000 && rate >= 0.85 * free) : verdict(lost === 0 && rate >= 0.95 * TENANCY.limitPerSecond),
  ];
}

/** The episode breakdown of a scenario's runs, one line per run. */
function episodeLines(runs: ScenarioRun[]): string {
  return runs
    .map((r, i) => `- run ${i + 1}: ${r.episodes.length === 0 ? 'no 429' : `${r.episodes.length} episode(s): ${r.episodes.map(episodeText).join('; ')}`}`)
    .join('\n');
}

const SINGLE_HEADER = [
  'run',
  'start rate',
  'wall',
  'series posted',
  "function's 429s",
  'accepted rate (% of the free room)',
  'cuts / trims / lowest / final rate',
  'longest episode',
  'other poster: calls / 429s',
  'load',
  '',
];

/** Alone in the tenancy: >= 95% of the limit, nothing lost. */
async function benchAlone(stack: BenchStack, target: TextTarget, e1k: GeneratedExposition, e100k: GeneratedExposition, runs: number): Promise<string> {
  const r = await scenario(stack, target, { warmup: e1k.text, measured: e100k.text }, { deployments: 1, withOther: false, withState: false, runs });
  return (
    `### Pacing alone (${count(e100k.samples)} samples; emulator ${TENANCY.latencyMs} ms latency, ${TENANCY.limitPerSecond} calls/s per tenancy; ` +
    `function at its defaults, POST_CALLS_PER_SECOND=auto; ${runs} run${runs > 1 ? 's' : ''}, each reported)\n\n` +
    table(
      SINGLE_HEADER,
      r.map((x, i) => singleRow(i, x, false)),
    ) +
    `\n\nTarget: every run at least 95% of the tenancy's ${TENANCY.limitPerSecond} calls/s, nothing lost. 429 episodes:\n\n${episodeLines(r)}`
  );
}

const STATE_TITLE = 'Each invocation starts at the rate the previous one settled on (STATE_BUCKET set; DERIVED_SERIES=none so the series are the same)';

/** Beside a poster at 25 calls/s that never backs off: fresh each invocation, then from the state's settled rate. */
async function benchShared(stack: BenchStack, target: TextTarget, e1k: GeneratedExposition, e100k: GeneratedExposition, runs: number): Promise<string> {
  const blocks: string[] = [];
  for (const withState of [false, true]) {
    const r = await scenario(stack, target, { warmup: e1k.text, measured: e100k.text }, { deployments: 1, withOther: true, withState, runs });
    blocks.push(
      `#### ${withState ? STATE_TITLE : 'Each invocation starts fresh (no state)'}\n\n` +
        table(
          SINGLE_HEADER,
          r.map((x, i) => singleRow(i, x, true)),
        ) +
        `\n\n429 episodes (when, whose 429s, each principal's calls/s reaching the tenancy from 1 s before to the end):\n\n${episodeLines(r)}`,
    );
  }
  return (
    `### Pacing beside another poster (${count(e100k.samples)} samples; another principal of the tenancy posts ${TENANCY.otherPerSecond} calls/s ` +
    `throughout and never backs off; emulator ${TENANCY.latencyMs} ms, ${TENANCY.limitPerSecond} calls/s per tenancy; function defaults; ` +
    `${runs} run(s) each)\n\n` +
    `Targets, every run: own 429s < 2%, no episode over 1 s, at least 85% of the ${TENANCY.limitPerSecond - TENANCY.otherPerSecond} calls/s ` +
    `the other leaves free, nothing lost. The warm-up invocation (1k samples) runs under the same conditions: with state, run 1 starts from ` +
    `a settled rate when the warm-up met a 429 (its 21 calls may not), every later run from the one before.\n\n` +
    blocks.join('\n\n')
  );
}

/** Two and four deployments at once: together >= 90% of the limit, each >= 80% of its fair share, 429s < 2%. */
async function benchDeployments(stack: BenchStack, target: TextTarget, e1k: GeneratedExposition, runs: number): Promise<string> {
  const blocks: string[] = [];
  for (const n of [2, 4]) {
    const each = generateExposition(Math.round(100_000 / n));
    for (const firstMinute of [true, false]) {
      // One shared STATE_BUCKET, so the deployments meet on the pacing board (PACING_BOARD's default).
      const r = await scenario(
        stack,
        target,
        { warmup: e1k.text, measured: each.text },
        { deployments: n, withOther: false, withState: true, runs, firstMinute },
      );
      const share = TENANCY.limitPerSecond / n;
      const rows = r.map((x, i) => {
        // While all of them post: the first to finish leaves room the others take only slowly.
        const from = Math.max(...x.deployments.map((d) => Math.min(...d.acceptedTimes)));
        const to = Math.min(...x.deployments.map((d) => Math.max(...d.acceptedTimes)));
        const rates = x.deployments.map((d) => rateWithin(d, from, to));
        const together = rates.reduce((a, b) => a + b, 0);
        const shares429 = x.deployments.map((d) => d.throttled / d.calls);
        const lost = x.deployments.reduce((a, d) => a + d.summary.series - d.summary.posted, 0);
        const ok = together >= 0.9 * TENANCY.limitPerSecond && rates.every((q) => q >= 0.8 * share) && shares429.every((q) => q < 0.02) && lost === 0;
        return [
          String(i + 1),
          x.deployments.map((d) => String(d.summary.pacing.board?.peers ?? '-')).join(' / '),
          x.deployments.map((d) => (d.summary.pacing.startRate === undefined ? '-' : d.summary.pacing.startRate.toFixed(1))).join(' / '),
          sec(to - from || NaN),
          `${together.toFixed(1)}/s = ${((together / TENANCY.limitPerSecond) * 100).toFixed(0)}%`,
          rates.map((q) => `${((q / share) * 100).toFixed(0)}%`).join(' / '),
          shares429.map((q) => `${(q * 100).toFixed(1)}%`).join(' / '),
          lost === 0 ? 'none' : count(lost),
          x.load.toFixed(2),
          verdict(ok),
        ];
      });
      const when = firstMinute ? 'their first minute (no state, an empty board)' : 'a later minute (each its settled rate, the board of the minute before)';
      blocks.push(
        `#### ${n} deployments, ${count(each.samples)} samples each, ${when}\n\n` +
          table(['run', 'peers seen', 'start rates', 'all posting', 'together', 'each, of its fair share', "each one's 429s", 'lost', 'load', ''], rows) +
          `\n\n429 episodes:\n\n${episodeLines(r)}`,
      );
    }
  }
  return (
    `### Several deployments in one tenancy (each its own principal, target and state object in one shared STATE_BUCKET, so one pacing ` +
    `board; invoked at the same moment; emulator ` +
    `${TENANCY.latencyMs} ms, ${TENANCY.limitPerSecond} calls/s per tenancy; function defaults; ${runs} run(s) each)\n\n` +
    `Targets, every run: together at least 90% of the limit and each at least 80% of its fair share while all of them post, 429s under 2% each.\n\n` +
    blocks.join('\n\n')
  );
}

/** The function's timeout (func.yaml, Terraform's timeout_in_seconds): the Fn deadline of a scheduled invocation. */
const FUNCTION_TIMEOUT_S = 120;
/** The trigger's period: one invocation a minute. Every series must be accepted within it, before the next invocation posts. */
const TRIGGER_PERIOD_S = 60;

/** When an invocation's data calls started and were accepted, from the call (s): the self-metrics call (the last) left out. */
function postingTimesOf(calls: CallRecord[], startedAt: number, selfCalls: number): { firstStartS: number; lastAcceptedS: number } {
  const accepted = calls.filter((c) => c.status === 200).sort((a, b) => a.time + a.durationMs - (b.time + b.durationMs));
  const data = accepted.slice(0, Math.max(0, accepted.length - selfCalls));
  if (data.length === 0) return { firstStartS: NaN, lastAcceptedS: NaN };
  const last = data[data.length - 1];
  return { firstStartS: (Math.min(...calls.map((c) => c.time)) - startedAt) / 1000, lastAcceptedS: (last.time + last.durationMs - startedAt) / 1000 };
}

/**
 * 95% of OCI's 150,000 series a minute in one invocation, alone, in a 256 MB function (heap bounded
 * as there), at the function's defaults: the Fn deadline is the function's timeout (120 s) and the
 * trigger comes every 60 s, so the target is every series accepted within 60 s of the call (the
 * self-metrics call, the response and any state write may follow).
 */
async function benchLimit(stack: BenchStack, target: TextTarget, e1k: GeneratedExposition, runs: number): Promise<string> {
  const series = Math.round(0.95 * SERIES_PER_MINUTE);
  const expo = generateExposition(series);
  // The function's defaults (SCRAPE_SAMPLE_LIMIT, SCRAPE_MAX_BYTES, SCRAPE_TIMEOUT_MS included), but every sample a series.
  const env = { HISTOGRAM_BUCKETS: 'true', FUNCTION_TIMEOUT_SECONDS: String(FUNCTION_TIMEOUT_S), METRICS_ENDPOINT: target.url };
  const rows: string[][] = [];
  const episodes: string[] = [];
  for (let i = 0; i < runs; i++) {
    const fn = await stack.startFn(env, [...FUNCTION_NODE_ARGS, `--max-old-space-size=${BOUNDED_OLD_SPACE_MB}`]);
    try {
      target.serve(e1k.text);
      stack.emulator.reset();
      await fn.invoke({ body: '', deadline: new Date(Date.now() + FUNCTION_TIMEOUT_S * 1000) });
      stack.emulator.options.latencyMs = TENANCY.latencyMs;
      stack.emulator.options.rateLimitPerSecond = TENANCY.limitPerSecond;
      target.serve(expo.text);
      stack.emulator.reset();
      const startedAt = Date.now(); // the emulator's clock (same process)
      const res = await fn.invoke({ body: '', deadline: new Date(startedAt + FUNCTION_TIMEOUT_S * 1000) });
      const wallMs = Date.now() - startedAt;
      const s = res.json as InvocationSummary | undefined;
      const own = stack.emulator.calls.filter((c) => c.route === 'metrics' && c.subjectId === stack.subjectId);
      const rss = fn.peakRssBytes();
      const eps = episodesOf(own, new Map([[stack.subjectId, 'fn']]));
      episodes.push(`- run ${i + 1}: ${eps.length === 0 ? 'no 429' : `${eps.length} episode(s): ${eps.map(episodeText).join('; ')}`}`);
      if (!s) {
        rows.push([String(i + 1), `failed (${res.status}): ${res.body.slice(0, 100)}`, '', '', '', '', '', '', '', mb(rss), '', 'NOT met']);
        continue;
      }
      const t = postingTimesOf(own, startedAt, s.selfMetrics.posted > 0 ? 1 : 0);
      const dataAccepted = own.filter((c) => c.status === 200).map((c) => c.time);
      const ok = s.posted === series && t.lastAcceptedS <= TRIGGER_PERIOD_S && rss !== null && rss <= 200e6;
      rows.push([
        String(i + 1),
        `${count(s.posted)} / ${count(s.series)}${s.undelivered ? ` (${count(s.undelivered)} undelivered)` : ''}`,
        sec(s.targets[0]?.durationMs ?? NaN),
        `${t.firstStartS.toFixed(2)} s`,
        `${t.lastAcceptedS.toFixed(2)} s`,
        sec(wallMs),
        `${achievedRate(dataAccepted).toFixed(1)}/s`,
        count(own.filter((c) => c.status === 429).length),
        `${s.pacing.decreases} / ${s.pacing.trims ?? 0} / ${s.pacing.minRate.toFixed(1)}`,
        mb(rss),
        loadavg()[0].toFixed(2),
        verdict(ok),
      ]);
    } finally {
      stack.emulator.options.latencyMs = 0;
      stack.emulator.options.rateLimitPerSecond = undefined;
      await fn.stop();
    }
  }
  const calls = series / 50;
  const cruise = cruiseRate(TENANCY.limitPerSecond);
  return (
    `### The physical limit in one invocation (${count(series)} series = 95% of OCI's ${count(SERIES_PER_MINUTE)} a minute, one target; ` +
    `alone; emulator ${TENANCY.latencyMs} ms, ${TENANCY.limitPerSecond} calls/s per tenancy; the function's defaults: Fn deadline ${FUNCTION_TIMEOUT_S} s ` +
    `(its timeout), POST_CALLS_PER_SECOND=auto, POST_CONCURRENCY=auto; ${MEMORY_MB} MB function, --max-old-space-size=${BOUNDED_OLD_SPACE_MB}; ` +
    `HISTOGRAM_BUCKETS=true (every sample a series), every other setting at its default (SCRAPE_SAMPLE_LIMIT ` +
    `${count(defaultSampleLimit(MEMORY_MB))} at ${MEMORY_MB} MB, SCRAPE_MAX_BYTES ${SETTINGS_TABLE.SCRAPE_MAX_BYTES.default} bytes, ` +
    `the exposition ${mb(Buffer.byteLength(expo.text))}); ${runs} run(s), each reported)\n\n` +
    `Target, every run: all ${count(series)} series accepted within ${TRIGGER_PERIOD_S} s of the call (the trigger's period: the next invocation ` +
    `posts from then on; the self-metrics call and the response may follow), peak RSS <= 200 MB.\n\n` +
    table(
      [
        'run',
        'posted / series',
        'scrape and parse',
        'first data call',
        'last data call accepted',
        'answer',
        'accepted rate',
        '429s',
        'cuts / trims / lowest rate',
        'peak RSS',
        'load',
        `all accepted <= ${TRIGGER_PERIOD_S} s, <= 200 MB`,
      ],
      rows,
    ) +
    `\n\n429 episodes:\n\n${episodes.join('\n')}\n\n` +
    `Times from the call. ${count(calls)} calls at ${cruise} calls/s (the pacing alone: 1 call/s under OCI's limit) take ` +
    `${((calls - 1) / cruise).toFixed(1)} s from the first start to the last (${((calls - TENANCY.limitPerSecond) / TENANCY.limitPerSecond).toFixed(1)} s ` +
    `even at exactly ${TENANCY.limitPerSecond} with a full first second): what is left of the ${TRIGGER_PERIOD_S} s is the time to the first data call ` +
    `(the scrape and parse, which must end first: a malformed exposition is refused whole) and the last call's answer.`
  );
}

/** What a run costs: wall time x memory (GB-seconds) per invocation and per month, alone at the defaults, with the forecast's figure. */
async function benchCost(stack: BenchStack, target: TextTarget, expos: GeneratedExposition[], runs: number): Promise<string> {
  const rows: string[][] = [];
  for (const expo of expos) {
    const r = await scenario(stack, target, { warmup: expos[0].text, measured: expo.text }, { deployments: 1, withOther: false, withState: false, runs });
    const wall = median(r.map((x) => x.deployments[0].wallMs));
    const gbs = (wall / 1000) * (MEMORY_MB / 1024);
    const f = r[0].deployments[0].summary.forecast;
    rows.push([
      count(expo.samples),
      r.map((x) => sec(x.deployments[0].wallMs)).join(', '),
      gbs.toFixed(2),
      count(gbs * INVOCATIONS_PER_MONTH),
      f.gbSecondsPerInvocation === undefined ? 'n/a' : `${f.gbSecondsPerInvocation} / ${count(f.gbSecondsPerMonth ?? NaN)}`,
    ]);
  }
  return (
    `### What a run costs (OCI Functions bill memory x duration; ${MEMORY_MB} MB = ${MEMORY_MB / 1024} GB; alone at the defaults, emulator ` +
    `${TENANCY.latencyMs} ms, ${TENANCY.limitPerSecond} calls/s per tenancy; ${runs} run(s) per size; a month = ${count(INVOCATIONS_PER_MONTH)} ` +
    `invocations at one a minute)\n\n` +
    table(['samples', 'wall per run', 'GB-s per invocation (median)', 'GB-s per month', "the forecast's GB-s per invocation / month"], rows)
  );
}

/** Accepted calls per second from LATENCY_START_MS after the first acceptance to the last. */
function steadyRate(times: number[]): number {
  const from = Math.min(...times) + LATENCY_START_MS;
  return achievedRate(times.filter((t) => t >= from));
}

/** Alone at slower answers: the rate POST_CONCURRENCY=auto reaches against a fixed 8, side by side. */
async function benchLatency(stack: BenchStack, target: TextTarget, e1k: GeneratedExposition, runs: number): Promise<string> {
  const expo = generateExposition(LATENCY_SAMPLES);
  const rows: string[][] = [];
  for (const latencyMs of LATENCIES_MS) {
    const rates: Record<string, number[]> = {};
    for (const concurrency of ['auto', '8']) {
      const r = await scenario(
        stack,
        target,
        { warmup: e1k.text, measured: expo.text },
        { deployments: 1, withOther: false, withState: false, runs, latencyMs, env: { POST_CONCURRENCY: concurrency } },
      );
      rates[concurrency] = r.map((x) => steadyRate(x.deployments[0].acceptedTimes));
      const whole = r.map((x) => achievedRate(x.deployments[0].acceptedTimes));
      const lost = r.map((x) => x.deployments[0].summary.series - x.deployments[0].summary.posted);
      rows.push([
        `${latencyMs} ms`,
        concurrency,
        rates[concurrency].map((x) => `${x.toFixed(1)}/s`).join(', '),
        whole.map((x) => `${x.toFixed(1)}/s`).join(', '),
        r.map((x) => String(x.deployments[0].summary.pacing.inFlightPeak ?? '-')).join(', '),
        r.map((x) => count(x.deployments[0].throttled)).join(', '),
        r.map((x) => sec(x.deployments[0].wallMs)).join(', '),
        lost.every((n) => n === 0) ? 'none' : lost.map(count).join(', '),
        concurrency === 'auto' ? verdict(lost.every((n) => n === 0) && rates.auto.every((x) => x >= 0.95 * TENANCY.limitPerSecond)) : '',
      ]);
    }
    const ratio = median(rates.auto) / median(rates['8']);
    rows[rows.length - 1][8] = `auto / 8 = ${ratio.toFixed(2)}x`;
  }
  return (
    `### Pacing alone at slower answers (${count(expo.samples)} samples; emulator ${TENANCY.limitPerSecond} calls/s per tenancy, answers after the ` +
    `latency shown; function defaults but POST_CONCURRENCY; ${runs} run(s) each, side by side)\n\n` +
    table(
      [
        'latency',
        'POST_CONCURRENCY',
        `accepted rate per run, from ${LATENCY_START_MS / 1000} s after the first acceptance`,
        'the same, the whole run',
        'most held per run',
        "function's 429s per run",
        'wall per run',
        'not posted',
        '',
      ],
      rows,
    ) +
    `\n\nTarget: at every latency up to 600 ms, auto at least 95% of the tenancy's ${TENANCY.limitPerSecond} calls/s in every run once started, ` +
    `nothing lost; a fixed 8 reaches at most 8 / latency. The whole run's rate also counts the start: the first call alone (one answer's time: ` +
    `a 401/404 is seen once), then the latency measured over the first answers.`
  );
}

/** Runs the selected pacing sections; returns their markdown blocks. */
export async function benchPacing(
  stack: BenchStack,
  target: TextTarget,
  expos: { e1k: GeneratedExposition; e10k: GeneratedExposition; e100k: GeneratedExposition },
  only: ReadonlySet<string>,
  runs: number,
): Promise<string[]> {
  const out: string[] = [];
  if (only.has('pacing-alone')) out.push(await benchAlone(stack, target, expos.e1k, expos.e100k, runs));
  if (only.has('pacing-shared')) out.push(await benchShared(stack, target, expos.e1k, expos.e100k, runs));
  if (only.has('pacing-deployments')) out.push(await benchDeployments(stack, target, expos.e1k, runs));
  if (only.has('pacing-limit')) out.push(await benchLimit(stack, target, expos.e1k, Math.min(runs, 3)));
  if (only.has('pacing-cost')) out.push(await benchCost(stack, target, [expos.e1k, expos.e10k, expos.e100k], Math.min(runs, 3)));
  if (only.has('pacing-latency')) out.push(await benchLatency(stack, target, expos.e1k, Math.min(runs, 3)));
  return out;
}
