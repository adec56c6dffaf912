/**
 * The measured scenarios of `npm run bench`. Each returns raw per-run figures; bench.ts takes
 * the medians and renders the table. Every function process is started fresh and stopped.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { InvocationSummary } from '../../src/handler/summary';
import type { LocalFunction } from '../../src/local/fn-agent';
import { runLabBaseline, labClient, type LabRunResult } from './lab-baseline';
import { COMPARTMENT, type BenchStack } from './stack';
import type { TextTarget } from './target';

/** Deadline given to every measured invocation (and FUNCTION_TIMEOUT_SECONDS): long enough that nothing is cut short. */
export const BENCH_DEADLINE_S = 120;

/** Settings that make the function measure its own cost: pacing raised, zero-latency emulator. */
export const UNTHROTTLED_ENV: Record<string, string> = {
  HISTOGRAM_BUCKETS: 'true',
  POST_CALLS_PER_SECOND: '1000',
  POST_CONCURRENCY: '8',
  FUNCTION_TIMEOUT_SECONDS: String(BENCH_DEADLINE_S),
  // The body is parsed while it is read, so the scrape timeout covers the parse too: on a loaded
  // machine 300k samples need more than the default 10 s.
  SCRAPE_TIMEOUT_MS: '60000',
};

/** One invocation as measured from the agent's side. */
export interface InvocationRun {
  wallMs: number;
  status: number;
  summary: InvocationSummary;
  /** PostMetricData calls the emulator saw (data + self-metrics, retries included). */
  calls: number;
  throttled: number;
  /** Calls that carried self-metrics only (the last call of an invocation). */
  selfCalls: number;
  peakRssBytes: number | null;
  /** CPU time (user + system) the function process spent on this call, ms: less noisy than wall time on a shared machine. */
  cpuMs: number;
  /** Emulator arrival times (ms) of the function's accepted calls, for the achieved rate. */
  acceptedCallTimes: number[];
  /** The function's own PostMetricData calls and 429s (without another poster's). */
  ownCalls: number;
  ownThrottled: number;
  /** Emulator times of every 429 in the tenancy (the function's and any other poster's). */
  tenancy429Times: number[];
  /** Another poster's calls and 429s during the invocation (0 when alone). */
  otherCalls: number;
  otherThrottled: number;
}

/** One cold start: spawn to ready, then the first invocation. */
export interface ColdRun {
  nodeBareMs: number;
  readyMs: number;
  firstAnswerMs: number;
  /** CPU time of the function process from spawn to the first answer, ms. */
  cpuToFirstAnswerMs: number;
  /** ... and from spawn to the socket being ready (seen by the agent), ms. */
  cpuToReadyMs: number;
  posted: number;
}

/** Spawn -> exit of `node -e 1`, the floor of any Node cold start. */
export function timeBareNode(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['-e', '1'], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(performance.now() - started));
  });
}

/** CPU time (user + system) a process has used so far, ms (Linux /proc; NaN elsewhere). */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command name; clock ticks are 100/s on Linux.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** The Fn-Deadline of a benchmark invocation. */
function deadline(): Date {
  return new Date(Date.now() + BENCH_DEADLINE_S * 1000);
}

/** Invokes once and checks the function delivered everything; throws with its output otherwise. */
export async function invokeMeasured(stack: BenchStack, fn: LocalFunction): Promise<InvocationRun> {
  stack.emulator.reset();
  const cpuBefore = processCpuMs(fn.pid);
  const res = await fn.invoke({ body: '', deadline: deadline() });
  const cpuMs = processCpuMs(fn.pid) - cpuBefore;
  const summary = res.json as InvocationSummary | undefined;
  if (res.status !== 200 || !summary?.ok) throw new Error(`invocation failed (${res.status}): ${res.body.slice(0, 500)}\n${fn.stderr.slice(-5).join('\n')}`);
  const metricsCalls = stack.emulator.calls.filter((c) => c.route === 'metrics');
  const own = metricsCalls.filter((c) => c.subjectId === stack.subjectId);
  const others = metricsCalls.filter((c) => c.subjectId !== stack.subjectId);
  return {
    wallMs: res.durationMs,
    status: res.status,
    summary,
    calls: stack.emulator.counters.postMetricData,
    throttled: stack.emulator.counters.throttled,
    selfCalls: Math.ceil(summary.selfMetrics.posted / 50),
    peakRssBytes: fn.peakRssBytes(),
    cpuMs,
    acceptedCallTimes: own.filter((c) => c.status === 200).map((c) => c.time),
    ownCalls: own.length,
    ownThrottled: own.filter((c) => c.status === 429).length,
    tenancy429Times: metricsCalls.filter((c) => c.status === 429).map((c) => c.time),
    otherCalls: others.length,
    otherThrottled: others.filter((c) => c.status === 429).length,
  };
}

/** Cold starts: `node -e 1` and the function interleaved, each followed by a first call on `target`. */
export async function coldStarts(stack: BenchStack, runs: number, env: Record<string, string>): Promise<ColdRun[]> {
  const out: ColdRun[] = [];
  for (let i = 0; i < runs; i++) {
    const nodeBareMs = await timeBareNode();
    const fn = await stack.startFn(env);
    const cpuToReadyMs = processCpuMs(fn.pid);
    try {
      const r = await invokeMeasured(stack, fn);
      out.push({ nodeBareMs, readyMs: fn.readyMs, firstAnswerMs: r.wallMs, cpuToFirstAnswerMs: processCpuMs(fn.pid), cpuToReadyMs, posted: r.summary.posted });
    } finally {
      await fn.stop();
    }
  }
  return out;
}

/**
 * Warm invocations: a fresh process per run, one warm-up call on `warmupText` (SDK loaded, clients
 * built), then the measured call on `text`. Peak RSS is the process's high-water mark. `during`
 * runs just before the measured call; a function it returns is awaited right after it.
 */
export async function warmRuns(
  stack: BenchStack,
  target: TextTarget,
  warmupText: string,
  text: string,
  runs: number,
  env: Record<string, string>,
  during?: () => (() => Promise<void>) | void,
  nodeArgs?: string[],
): Promise<InvocationRun[]> {
  const out: InvocationRun[] = [];
  for (let i = 0; i < runs; i++) {
    const fn = await stack.startFn({ ...env, METRICS_ENDPOINT: target.url }, nodeArgs);
    try {
      const limits = { latencyMs: stack.emulator.options.latencyMs, rate: stack.emulator.options.rateLimitPerSecond };
      stack.emulator.options.latencyMs = 0;
      stack.emulator.options.rateLimitPerSecond = undefined;
      target.serve(warmupText);
      await invokeMeasured(stack, fn);
      stack.emulator.options.latencyMs = limits.latencyMs;
      stack.emulator.options.rateLimitPerSecond = limits.rate;
      target.serve(text);
      const afterMeasured = during?.();
      try {
        out.push(await invokeMeasured(stack, fn));
      } finally {
        await afterMeasured?.();
      }
    } finally {
      await fn.stop();
    }
  }
  return out;
}

/** Lab baseline runs against `url` with the SDK in this process (RP credentials put in process.env). */
export async function labRuns(stack: BenchStack, url: string, runs: number): Promise<LabRunResult[]> {
  Object.assign(process.env, stack.rpEnv);
  const client = labClient(stack.emulator.url);
  const out: LabRunResult[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      stack.emulator.reset();
      out.push(await runLabBaseline(url, client, 'bharatmart', COMPARTMENT));
    }
  } finally {
    client.close?.();
  }
  return out;
}

/** Achieved accepted-call rate over the span of the accepted calls (calls/s). */
export function achievedRate(times: number[]): number {
  if (times.length < 2) return NaN;
  const sorted = [...times].sort((a, b) => a - b);
  return ((sorted.length - 1) / (sorted[sorted.length - 1] - sorted[0])) * 1000;
}
