/**
 * The spool scenarios of `npm run bench`: a function whose state already holds N undelivered series
 * (an outage of 30 minutes) is invoked on a 100k exposition, with ingestion back (it posts the
 * fresh data and replays the spool) or still down (503: the fresh data joins the spool, which stays
 * at SPOOL_MAX_SERIES). One fresh function per run, warmed up on a small exposition first.
 */
import { spoolSeriesBound } from '../../src/handler/memory';
import type { InvocationSummary } from '../../src/handler/summary';
import type { LocalFunction } from '../../src/local/fn-agent';
import { decodeState, encodeState } from '../../src/state/codec';
import { stateObjectName } from '../../src/state/keys';
import { encodeSpool } from '../../src/state/spool';
import { emptyStateDocument } from '../../src/types/state';
import { invokeMeasured, processCpuMs } from './scenarios';
import { spoolEntries } from './spool-entries';
import { COMPARTMENT, STATE_BUCKET, type BenchStack } from './stack';
import type { TextTarget } from './target';

/** One measured invocation with a spool in the state. */
export interface SpoolRun {
  spooled: number;
  outage: boolean;
  status: number;
  wallMs: number;
  cpuMs: number;
  peakRssBytes: number | null;
  summary: InvocationSummary;
}

/** The namespace of the spool runs (the state object's name depends on it). */
export const SPOOL_BENCH_NAMESPACE = 'prom2oci_bench';

/** Puts a spool of `n` entries, 30 minutes old, into the function's state object (made when the warm-up call wrote none). */
function placeSpool(stack: BenchStack, targetUrl: string, n: number): void {
  const name = stateObjectName({ endpoints: [new URL(targetUrl)], namespace: SPOOL_BENCH_NAMESPACE, compartmentId: COMPARTMENT });
  const object = stack.emulator.objectStorage.buckets.get(STATE_BUCKET)?.get(name);
  const doc = object ? decodeState(object.bytes, name).doc : emptyStateDocument();
  doc.spool = encodeSpool(spoolEntries(n, Date.now() - 30 * 60_000, COMPARTMENT));
  stack.emulator.objectStorage.putDirect(STATE_BUCKET, name, encodeState(doc));
}

/** The summary of an invocation: its response, or (a 502 that delivered nothing) its log line, written after `from`. */
async function summaryOf(body: unknown, fn: LocalFunction, from: number): Promise<InvocationSummary> {
  if (typeof body === 'object' && body !== null && 'series' in body) return body as InvocationSummary;
  // The log line can cross the stdout pipe after the response arrived.
  for (const started = Date.now(); Date.now() - started < 60_000; await new Promise((r) => setTimeout(r, 20))) {
    const line = fn.stdout.slice(from).find((l) => l.includes('"event":"invocation_summary"'));
    if (line) return JSON.parse(line) as InvocationSummary;
  }
  throw new Error(`no summary in the response or the log (${JSON.stringify(body).slice(0, 300)}; stderr: ${fn.stderr.slice(-3).join(' | ').slice(0, 300)})`);
}

/** Fresh function, warm-up on `warmupText`, spool of `n` placed, measured call on `text` with ingestion up or down (503). */
export async function spoolRun(
  stack: BenchStack,
  target: TextTarget,
  warmupText: string,
  text: string,
  n: number,
  outage: boolean,
  env: Record<string, string>,
  nodeArgs: string[],
  deadlineS: number,
): Promise<SpoolRun> {
  stack.emulator.objectStorage.clearObjects();
  // SPOOL_MAX_SERIES above what FN_MEMORY holds is a configuration error (src/handler/memory.ts): a
  // larger spool runs in the smallest memory that holds it, the heap still bounded by `nodeArgs`.
  const memoryMb = [256, 512, 1024, 2048, 3072].find((mb) => spoolSeriesBound(mb) >= n) ?? 3072;
  const fn = await stack.startFn(
    { ...env, METRICS_ENDPOINT: target.url, METRICS_NAMESPACE: SPOOL_BENCH_NAMESPACE, SPOOL_MAX_SERIES: String(Math.max(1, n)) },
    nodeArgs,
    memoryMb,
  );
  try {
    target.serve(warmupText);
    await invokeMeasured(stack, fn);
    if (n > 0) placeSpool(stack, target.url, n);
    target.serve(text);
    stack.emulator.reset();
    if (outage) stack.emulator.enqueueFault({ status: 503 }, 10_000_000, 'metrics');
    const logged = fn.stdout.length;
    const cpuBefore = processCpuMs(fn.pid);
    const res = await fn.invoke({ body: '', deadline: new Date(Date.now() + deadlineS * 1000) });
    const cpuMs = processCpuMs(fn.pid) - cpuBefore;
    stack.emulator.clearFaults('metrics');
    return {
      spooled: n,
      outage,
      status: res.status,
      wallMs: res.durationMs,
      cpuMs,
      peakRssBytes: fn.peakRssBytes(),
      summary: await summaryOf(res.json, fn, logged),
    };
  } finally {
    stack.emulator.clearFaults('metrics');
    await fn.stop();
  }
}
