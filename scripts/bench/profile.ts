/**
 * Profiles one warm invocation of `dist/func.js` (after `npm run build`): the same rig as the
 * benchmark, with `--cpu-prof` (or any node flags) on the function process. Prints the summary
 * and the heaviest functions by self time.
 * Run: `node --import tsx scripts/bench/profile.ts [samples=100000] [out-dir=/tmp/prom2oci-prof] [extra node flags...]`
 * `profile.ts cold [out-dir]` profiles a cold start instead, as the benchmark measures it: spawn,
 * Fn socket ready, the first invocation on 1k samples (with the image's node flags; build with
 * PROM2OCI_BUILD_READABLE=1 for names). The profiler slows compilation and loading more than the
 * rest: read the shares, not the milliseconds.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { generateExposition } from './exposition';
import { UNTHROTTLED_ENV } from './scenarios';
import { FUNC_ENTRY, FUNCTION_NODE_ARGS, startBenchStack } from './stack';
import { startTextTarget } from './target';
import { startFunction } from '../../src/local/fn-agent';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
}

/** Self time per function (by name and file) of a .cpuprofile, heaviest first. */
export function topSelfTime(file: string, n = 25): string[] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] };
  const total = prof.samples.length;
  const by = new Map<string, number>();
  for (const node of prof.nodes) {
    const f = node.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, 'nm/').replace(/^.*\/dist\//, 'dist/')}:${f.lineNumber + 1}`;
    by.set(key, (by.get(key) ?? 0) + node.hitCount);
  }
  return [...by]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
}

/** Inclusive time (ms) of the functions with these names (outermost frames only, so recursion is not counted twice). */
export function inclusiveMs(file: string, names: string[]): Record<string, number> {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: (ProfileNode & { children?: number[] })[];
    startTime: number;
    endTime: number;
    samples: number[];
  };
  const msPerSample = (prof.endTime - prof.startTime) / 1000 / prof.samples.length;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const out: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, Object.fromEntries(names.map((n) => [n, 0])));
  /** Sum of hits of a subtree. */
  const total = (id: number): number => {
    const n = byId.get(id)!;
    return n.hitCount + (n.children ?? []).reduce((a, c) => a + total(c), 0);
  };
  /** Walks down, charging a subtree to the first named frame met. */
  const walk = (id: number): void => {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName.replace(/\d+$/, '');
    if (name in out) out[name] += total(id) * msPerSample;
    else for (const c of n.children ?? []) walk(c);
  };
  walk(prof.nodes[0].id);
  return out;
}

/** The newest .cpuprofile in a directory, if any. */
function newestProfile(dir: string): string | undefined {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f))
    .sort()
    .pop();
}

/** Profiles spawn -> ready -> first answer (1k samples) of one function process. */
async function profileCold(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const stack = await startBenchStack();
  const target = await startTextTarget(generateExposition(1000).text);
  try {
    const fn = await stack.startFn({ ...UNTHROTTLED_ENV, METRICS_ENDPOINT: target.url }, [
      ...FUNCTION_NODE_ARGS,
      '--require',
      path.join(__dirname, 'exit-on-sigterm.cjs'),
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
    ]);
    const res = await fn.invoke({ body: '' });
    console.log(`status ${res.status}, spawn -> ready ${fn.readyMs.toFixed(0)} ms, first answer after ${res.durationMs.toFixed(0)} ms`);
    await fn.stop();
  } finally {
    await target.close();
    await stack.close();
  }
  const latest = newestProfile(dir);
  if (!latest) return;
  console.log(`profile: ${latest}`);
  for (const line of topSelfTime(latest)) console.log(line);
  const stages = ['loadBundle', 'createAuth', 'scrapeAll', 'toOciMetrics', 'publish', 'signRequest', 'serialize', 'send'];
  console.log(
    'inclusive ms (loadBundle: the function and SDK bundles; createAuth: SDK and credentials):',
    JSON.stringify(inclusiveMs(latest, stages), (_k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v)),
  );
}

/** Starts the rig, runs warm-up + measured invocation under the profiler, prints the hot spots. */
async function main(): Promise<void> {
  if (process.argv[2] === 'cold') return profileCold(process.argv[3] ?? '/tmp/prom2oci-prof-cold');
  const samples = Number(process.argv[2] ?? 100_000);
  const dir = process.argv[3] ?? '/tmp/prom2oci-prof';
  const extra = process.argv.slice(4);
  mkdirSync(dir, { recursive: true });
  const stack = await startBenchStack();
  const target = await startTextTarget(generateExposition(1000).text);
  const fn = await startFunction({
    entry: FUNC_ENTRY,
    memoryMb: 256,
    nodeArgs: ['--require', path.join(__dirname, 'exit-on-sigterm.cjs'), '--cpu-prof', `--cpu-prof-dir=${dir}`, ...extra],
    env: {
      ...stack.rpEnv,
      ...UNTHROTTLED_ENV,
      OCI_MONITORING_ENDPOINT: stack.emulator.url,
      COMPARTMENT_OCID: 'ocid1.compartment.oc1..aaaaaaaaprom2ocibenchcompartment',
      METRICS_ENDPOINT: target.url,
    },
  });
  try {
    await fn.invoke({ body: '' });
    target.serve(generateExposition(samples).text);
    stack.emulator.reset();
    const cpuBefore = process.cpuUsage();
    const res = await fn.invoke({ body: '', deadline: new Date(Date.now() + 120_000) });
    const cpu = process.cpuUsage(cpuBefore);
    const s = res.json as { posted: number; series: number; requests: number; durationMs: number };
    console.log(
      `status ${res.status}, wall ${res.durationMs.toFixed(0)} ms, posted ${s.posted}/${s.series}, requests ${s.requests}, peak RSS ` +
        `${((fn.peakRssBytes() ?? 0) / 1e6).toFixed(0)} MB`,
    );
    console.log(`bench process (emulator) CPU during the call: ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms`);
  } finally {
    await fn.stop();
    await target.close();
    await stack.close();
  }
  const latest = newestProfile(dir);
  if (latest) {
    console.log(`profile: ${latest}`);
    for (const line of topSelfTime(latest)) console.log(line);
    const stages = ['parseExposition', 'toOciMetrics', 'publish', 'scrapeTarget', 'postMetricData', 'signHttpRequest', 'serialize', 'fetch'];
    console.log(
      'inclusive ms (needs PROM2OCI_BUILD_READABLE=1 build):',
      JSON.stringify(inclusiveMs(latest, stages), (_k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v)),
    );
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
