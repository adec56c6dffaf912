/**
 * Fleet scenarios of `npm run bench`:
 *  - one invocation of the built function over 200 discovered targets of ~500 samples each (100k
 *    series) at POST_CALLS_PER_SECOND=48 against an emulator limited to OCI's 50 calls/s with 50 ms
 *    latency: when the last target was scraped, when the invocation finished, what was delivered,
 *    and the function's peak RSS;
 *  - discovery alone: 300 instances over pages of 100, in the built function, 50 ms per API call.
 * Every target is its own HTTP server on 127.0.0.1 (one port each), as one exporter per VM.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InvocationSummary } from '../../src/handler/summary';
import { processCpuMs } from './scenarios';
import { COMPARTMENT, type BenchStack } from './stack';

export const FLEET_COMPARTMENT = 'ocid1.compartment.oc1..aaaaaaaaprom2ocibenchfleet';

/** A set of exporters, one server each, recording when each scrape's response was sent. */
export interface Exporters {
  ports: number[];
  /** performance.now() of the last response sent since reset(). */
  lastResponseAt(): number;
  scrapes(): number;
  reset(): void;
  close(): Promise<void>;
}

/** Starts `n` servers on 127.0.0.1 serving `text` at /metrics. */
export async function startExporters(n: number, text: string): Promise<Exporters> {
  const body = Buffer.from(text, 'utf8');
  let last = 0;
  let scrapes = 0;
  const servers: Server[] = [];
  for (let i = 0; i < n; i++) {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': body.length });
      res.end(body, () => {
        scrapes++;
        last = performance.now();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
  }
  return {
    ports: servers.map((s) => (s.address() as AddressInfo).port),
    lastResponseAt: () => last,
    scrapes: () => scrapes,
    reset() {
      last = 0;
      scrapes = 0;
    },
    close: () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined),
  };
}

/** One fleet invocation, measured. */
export interface FleetRun {
  wallMs: number;
  /** From the call to the last target's response. */
  scrapedAllMs: number;
  summary: InvocationSummary;
  peakRssBytes: number | null;
  cpuMs: number;
  throttled: number;
}

/** Registers `ports` as RUNNING tagged instances of the bench stack's fleet. */
export function registerFleet(stack: BenchStack, ports: number[]): void {
  const fleet = stack.emulator.fleet;
  fleet.instances.clear();
  fleet.pageSize = 100;
  ports.forEach((port, i) =>
    fleet.addInstance({ compartmentId: FLEET_COMPARTMENT, displayName: `vm-${i}`, freeformTags: { prom2oci: 'scrape', prometheus_port: String(port) } }),
  );
}

/** The function settings of the fleet run. */
export function fleetEnv(stack: BenchStack, callsPerSecond: number): Record<string, string> {
  return {
    DISCOVERY_COMPARTMENT_OCID: FLEET_COMPARTMENT,
    DISCOVERY_TAG: 'prom2oci=scrape',
    OCI_COMPUTE_ENDPOINT: stack.emulator.url,
    HISTOGRAM_BUCKETS: 'true',
    POST_CALLS_PER_SECOND: String(callsPerSecond),
    POST_CONCURRENCY: '8',
    COMPARTMENT_OCID: COMPARTMENT,
  };
}

/** One invocation of a fresh function over the fleet, with the Fn deadline of a 60 s function. */
export async function fleetRun(stack: BenchStack, exporters: Exporters, env: Record<string, string>, deadlineS: number): Promise<FleetRun> {
  const fn = await stack.startFn({ ...env, FUNCTION_TIMEOUT_SECONDS: String(deadlineS) });
  try {
    stack.emulator.reset();
    exporters.reset();
    const cpuBefore = processCpuMs(fn.pid);
    const started = performance.now();
    const res = await fn.invoke({ body: '', deadline: new Date(Date.now() + deadlineS * 1000) });
    const summary = res.json as InvocationSummary | undefined;
    if (res.status !== 200 || !summary)
      throw new Error(`fleet invocation failed (${res.status}): ${res.body.slice(0, 500)}\n${fn.stderr.slice(-5).join('\n')}`);
    return {
      wallMs: res.durationMs,
      scrapedAllMs: exporters.lastResponseAt() - started,
      summary,
      peakRssBytes: fn.peakRssBytes(),
      cpuMs: processCpuMs(fn.pid) - cpuBefore,
      throttled: stack.emulator.counters.throttled,
    };
  } finally {
    await fn.stop();
  }
}

/**
 * Discovery alone, in the built function (the bundle it ships, with its patched signer): a dry run
 * over `instances` tagged instances (pages of 100) whose exporters are tiny, `latencyMs` per API
 * call; the figure is the function's own `discovery.durationMs`. A fresh function each run: no
 * cached list, no cached VNICs, and the discovery bundle loaded from its code cache.
 */
export async function discoveryRuns(
  stack: BenchStack,
  instances: number,
  latencyMs: number,
  runs: number,
): Promise<{ ms: number[]; calls: number; targets: number }> {
  const exporters = await startExporters(instances, '# TYPE tiny gauge\ntiny 1\n');
  registerFleet(stack, exporters.ports);
  stack.emulator.options.latencyMs = latencyMs;
  const out: { ms: number; calls: number; targets: number }[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const fn = await stack.startFn({ ...fleetEnv(stack, 20), FUNCTION_TIMEOUT_SECONDS: '120' });
      try {
        const res = await fn.invoke({ body: { dryRun: true }, deadline: new Date(Date.now() + 120_000) });
        const s = res.json as InvocationSummary | undefined;
        const d = s?.discovery;
        if (res.status !== 200 || !d || d.error || d.durationMs === undefined)
          throw new Error(`discovery run failed (${res.status}): ${res.body.slice(0, 300)}`);
        out.push({ ms: d.durationMs, calls: d.calls ?? 0, targets: d.targets });
      } finally {
        await fn.stop();
      }
    }
  } finally {
    stack.emulator.options.latencyMs = 0;
    await exporters.close();
  }
  return { ms: out.map((o) => o.ms), calls: out[0].calls, targets: out[0].targets };
}
