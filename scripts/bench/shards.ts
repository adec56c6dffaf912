/**
 * Issue 22's two benchmark sections (`npm run bench -- --only=relabel-cpu,shards`):
 *  - relabel-cpu: the function CPU of a 100k-sample invocation through a Prometheus configuration
 *    with and without 10 metric_relabel_configs rules (which keep every sample), two warm functions
 *    invoked in turn (ABBA...), every run reported, the medians compared (target: <= 10% more);
 *  - shards: four functions (SHARD=0/4 ... 3/4) over one discovered fleet of 500 targets x ~200
 *    samples, invoked together minute after minute in one emulated tenancy (50 calls/s, 50 ms):
 *    each shard's answer time, what it posted and spooled, its 429s, and the longest time the
 *    tenancy was over its limit (429s less than 1 s apart). Per shard and per run. Env
 *    BENCH_SHARDS_CAP=<n> gives each shard POST_CALLS_PER_SECOND=n instead of auto;
 *    BENCH_SHARDS_DERIVED=1 keeps the derived series on (the second minute is then ~1.5x the series).
 */
import type { InvocationSummary } from '../../src/handler/summary';
import type { LocalFunction } from '../../src/local/fn-agent';
import { throttleEpisodes } from '../../src/local/emulator/rate-limit';
import { generateExposition, type GeneratedExposition } from './exposition';
import { fleetEnv, registerFleet, startExporters } from './fleet';
import { processCpuMs, UNTHROTTLED_ENV } from './scenarios';
import { STATE_BUCKET, type BenchStack } from './stack';
import { count, mb, median, ms, sec, table, verdict } from './stats';
import type { TextTarget } from './target';

/** The ten rules: each reads every sample (names, labels, regexes), none drops or adds one. */
const TEN_RULES = `    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'go_gc_.*'
        action: drop
      - source_labels: [__name__, le]
        regex: 'debug_.*;.*'
        action: drop
      - source_labels: [__name__]
        regex: '.+'
        action: keep
      - regex: pod_template_hash
        action: labeldrop
      - regex: 'uid|container_id'
        action: labeldrop
      - source_labels: [instance]
        regex: '(.*):9999'
        target_label: host
      - source_labels: [job]
        regex: 'never-this-job'
        target_label: env
        replacement: prod
      - source_labels: [code]
        regex: '5\\d\\d_never'
        action: drop
      - regex: '__meta_(.+)'
        action: labelmap
      - source_labels: [__name__]
        regex: '[a-zA-Z_:][a-zA-Z0-9_:]*'
        action: keep
`;

/** A one-job configuration scraping `target`, with the ten rules or none. */
function relabelConfig(target: string, withRules: boolean): string {
  const job = `scrape_configs:\n  - job_name: app\n    scrape_timeout: 60s\n    scrape_interval: 2m\n`;
  return `${job}    static_configs:\n      - targets: ['${target}']\n${withRules ? TEN_RULES : ''}`;
}

interface CpuRun {
  cpuMs: number;
  wallMs: number;
  series: number;
  posted: number;
}

/** One invocation of a warm function, its CPU time. */
async function cpuRun(stack: BenchStack, fn: LocalFunction): Promise<CpuRun> {
  stack.emulator.reset();
  const before = processCpuMs(fn.pid);
  const res = await fn.invoke({ body: '', deadline: new Date(Date.now() + 120_000) });
  const cpuMs = processCpuMs(fn.pid) - before;
  const s = res.json as InvocationSummary | undefined;
  if (res.status !== 200 || !s?.ok) throw new Error(`relabel-cpu invocation failed (${res.status}): ${res.body.slice(0, 400)}`);
  return { cpuMs, wallMs: res.durationMs, series: s.series, posted: s.posted };
}

/** Section relabel-cpu. */
export async function benchRelabelCpu(stack: BenchStack, target: TextTarget, e100k: GeneratedExposition, runs: number): Promise<string> {
  stack.emulator.options.latencyMs = 0;
  stack.emulator.options.rateLimitPerSecond = undefined;
  target.serve(e100k.text);
  const address = new URL(target.url).host;
  const env = (withRules: boolean) => ({ ...UNTHROTTLED_ENV, SCRAPE_CONFIG: relabelConfig(address, withRules), SCRAPE_SAMPLE_LIMIT: '1000000' });
  const plain = await stack.startFn(env(false));
  const rules = await stack.startFn(env(true));
  const a: CpuRun[] = [];
  const b: CpuRun[] = [];
  try {
    // One warm-up each (JIT, code caches, the SDK loaded), then in turn, the order alternating.
    await cpuRun(stack, plain);
    await cpuRun(stack, rules);
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        a.push(await cpuRun(stack, plain));
        b.push(await cpuRun(stack, rules));
      } else {
        b.push(await cpuRun(stack, rules));
        a.push(await cpuRun(stack, plain));
      }
    }
  } finally {
    await plain.stop();
    await rules.stop();
  }
  const ma = median(a.map((r) => r.cpuMs));
  const mbr = median(b.map((r) => r.cpuMs));
  const extra = mbr / ma - 1;
  const same = a.every((r) => r.series === a[0].series && r.posted === r.series) && b.every((r) => r.series === a[0].series && r.posted === r.series);
  return (
    `### Metric relabelling: 10 metric_relabel_configs rules on a 100k-sample invocation (one job, SCRAPE_CONFIG; two warm functions ` +
    `invoked in turn, order alternating, after one warm-up each; emulator unthrottled; ${runs} runs each)\n\n` +
    table(
      ['case', 'function CPU (median)', 'every run (CPU)', 'wall (median)', 'series posted'],
      [
        ['no rules', ms(ma), a.map((r) => ms(r.cpuMs)).join(', '), sec(median(a.map((r) => r.wallMs))), count(a[0].posted)],
        ['10 rules', ms(mbr), b.map((r) => ms(r.cpuMs)).join(', '), sec(median(b.map((r) => r.wallMs))), count(b[0].posted)],
      ],
    ) +
    `\n\nThe rules add ${(extra * 100).toFixed(1)}% CPU (median against median; target <= 10%: ${verdict(extra <= 0.1)}). ` +
    `Both post every series, the same number (${verdict(same)}): the rules read every sample and keep it.`
  );
}

/** The sharded fleet: 500 targets in all, split over four functions. */
const SHARDED = { shards: 4, targets: 500, samplesPerTarget: 200, latencyMs: 50, limitPerSecond: 50, deadlineS: 60 };

interface ShardRun {
  shard: string;
  wallMs: number;
  summary: InvocationSummary;
  peakRssBytes: number | null;
  cpuMs: number;
}

/** Section shards: `runs` minutes of four shards invoked together. */
export async function benchShards(stack: BenchStack, runs: number, derived = process.env.BENCH_SHARDS_DERIVED === '1'): Promise<string> {
  const expo = generateExposition(SHARDED.samplesPerTarget, 11, 20);
  const exporters = await startExporters(SHARDED.targets, expo.text);
  registerFleet(stack, exporters.ports);
  stack.emulator.options.latencyMs = SHARDED.latencyMs;
  stack.emulator.options.rateLimitPerSecond = SHARDED.limitPerSecond;
  const fns: LocalFunction[] = [];
  const rows: string[][] = [];
  const episodes: number[] = [];
  const problems: string[] = [];
  // Their first minute: no state, an empty pacing board (the shards share STATE_BUCKET, so one board).
  stack.emulator.objectStorage.clearObjects();
  try {
    for (let i = 0; i < SHARDED.shards; i++)
      fns.push(
        await stack.startFn({
          ...fleetEnv(stack, 50),
          // BENCH_SHARDS_CAP: a hard cap per shard instead of the adaptive share (e.g. 12 = 48 / 4).
          POST_CALLS_PER_SECOND: process.env.BENCH_SHARDS_CAP ?? 'auto',
          // The issue's 500 x 200 samples a minute as series: with derived series on, the second minute is ~1.5x that.
          DERIVED_SERIES: derived ? 'rate,avg,quantiles' : 'none',
          SHARD: `${i}/${SHARDED.shards}`,
          STATE_BUCKET,
          OBJECT_STORAGE_NAMESPACE: stack.emulator.objectStorage.namespace,
          FUNCTION_TIMEOUT_SECONDS: String(SHARDED.deadlineS),
        }),
      );
    for (let run = 1; run <= runs; run++) {
      stack.emulator.reset();
      const results = await Promise.all(
        fns.map(async (fn, i): Promise<ShardRun> => {
          const before = processCpuMs(fn.pid);
          const res = await fn.invoke({ body: '', deadline: new Date(Date.now() + SHARDED.deadlineS * 1000) });
          const summary = res.json as InvocationSummary | undefined;
          if (res.status !== 200 || !summary) throw new Error(`shard ${i} failed (${res.status}): ${res.body.slice(0, 400)}`);
          return { shard: `${i}/${SHARDED.shards}`, wallMs: res.durationMs, summary, peakRssBytes: fn.peakRssBytes(), cpuMs: processCpuMs(fn.pid) - before };
        }),
      );
      const calls = stack.emulator.calls.filter((c) => c.route === 'metrics');
      const longest = Math.max(0, ...throttleEpisodes(calls.filter((c) => c.status === 429).map((c) => c.time)).map((e) => e.endMs - e.startMs));
      episodes.push(longest);
      for (const r of results) {
        const s = r.summary;
        const dropped = Object.entries(s.spool?.dropped ?? {}).filter(([, n]) => (n ?? 0) > 0);
        // selfMetrics.failed counts the undelivered ones too, which the spool keeps (spool.selfMetrics).
        const selfLost = s.selfMetrics.failed - (s.spool?.selfMetrics ?? 0);
        const lost = s.failed + selfLost + dropped.reduce((n, [, x]) => n + (x ?? 0), 0);
        const why = [
          ...(s.failed > 0 ? [`failed ${s.failed}`] : []),
          ...(selfLost > 0 ? [`self-metrics failed ${selfLost}`] : []),
          ...dropped.map(([reason, n]) => `spool ${reason} ${n}`),
        ];
        if (r.wallMs > SHARDED.deadlineS * 1000) problems.push(`run ${run} shard ${r.shard}: answered after ${sec(r.wallMs)}`);
        if (lost > 0) problems.push(`run ${run} shard ${r.shard}: ${lost} lost`);
        rows.push([
          String(run),
          r.shard,
          `${count(s.shard?.targets ?? 0)} (+${count(s.shard?.otherShards ?? 0)} others')`,
          count(s.targets.filter((t) => t.up).length),
          count(s.series),
          count(s.posted),
          count(s.undelivered),
          count(s.spool?.replayed ?? 0),
          lost > 0 ? `${count(lost)} (${why.join(', ')})` : '0',
          sec(r.wallMs),
          `${count(s.requests)} / ${count(s.throttled)}`,
          String(s.pacing.board?.peers ?? '-'),
          `${s.pacing.startRate ?? '-'} -> ${s.pacing.finalRate}`,
          mb(r.peakRssBytes ?? NaN),
          ms(r.cpuMs),
        ]);
      }
    }
  } finally {
    stack.emulator.options.latencyMs = 0;
    stack.emulator.options.rateLimitPerSecond = undefined;
    await Promise.all(fns.map((f) => f.stop()));
    await exporters.close();
  }
  const worst = Math.max(...episodes);
  return (
    `### Shards: four functions (SHARD=0/4 ... 3/4) over one discovered fleet of ${SHARDED.targets} targets x ${count(expo.samples)} samples ` +
    `(${count(SHARDED.targets * expo.samples)} series a minute in all), invoked together, minute after minute (state on: each shard's own ` +
    `object, pacing start and spool); one emulated tenancy: ${SHARDED.limitPerSecond} calls/s, ${SHARDED.latencyMs} ms latency; ` +
    `POST_CALLS_PER_SECOND=${process.env.BENCH_SHARDS_CAP ?? 'auto'}; DERIVED_SERIES=${derived ? 'rate,avg,quantiles (the default)' : 'none'}; ` +
    `Fn deadline ${SHARDED.deadlineS} s; 256 MB functions; ${runs} run${runs > 1 ? 's' : ''}\n\n` +
    table(
      [
        'run',
        'shard',
        'targets',
        'up',
        'series',
        'posted',
        'undelivered (spooled)',
        'replayed',
        'lost',
        'answer',
        'calls / 429s',
        'board peers',
        'rate start -> end (calls/s)',
        'peak RSS',
        'CPU',
      ],
      rows,
    ) +
    `\n\nLongest time the tenancy was over its limit (429s less than 1 s apart), per run: ${episodes.map(ms).join(', ')} ` +
    `(target <= 1 s: ${verdict(worst <= 1000)}). Every shard answered within ${SHARDED.deadlineS} s and nothing was lost: ` +
    `${verdict(problems.length === 0)}${problems.length > 0 ? ` (${problems.join('; ')})` : ''}.`
  );
}
