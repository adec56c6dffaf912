/**
 * Real Prometheus exporters for tests, started on 127.0.0.1 free ports and always stopped:
 * Debian's prometheus-node-exporter and the prometheus server (its own /metrics).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running exporter: its /metrics URL and a stop that waits for the process to exit. */
export interface RunningExporter {
  url: string;
  stop(): Promise<void>;
}

// Far above a start on a busy machine (Prometheus opens its TSDB first).
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;

/** A free loopback port: bind port 0, read the port, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Starts /usr/bin/prometheus-node-exporter; the systemd collector is off (no D-Bus in test hosts). */
export async function startNodeExporter(): Promise<RunningExporter> {
  return startWithRetry((port) =>
    Promise.resolve({
      command: '/usr/bin/prometheus-node-exporter',
      args: [`--web.listen-address=127.0.0.1:${port}`, '--no-collector.systemd', '--log.level=warn'],
    }),
  );
}

/**
 * Starts /usr/bin/prometheus with a temp config (it scrapes itself, to fill its histograms) and temp
 * storage; `targets` (URLs) are scraped too, every second, as job "ref" (own timestamps honoured).
 */
export async function startPrometheusServer(opts: { targets?: string[]; configText?: string } = {}): Promise<RunningExporter> {
  return startWithRetry(async (port) => {
    const dir = await mkdtemp(join(tmpdir(), 'prom2oci-prometheus-'));
    const config = join(dir, 'prometheus.yml');
    await writeFile(
      config,
      // configText: a whole configuration file of the caller's (the scrape-config comparison).
      opts.configText ??
        [
          'global:',
          '  scrape_interval: 1s',
          'scrape_configs:',
          '  - job_name: self',
          '    static_configs:',
          `      - targets: ['127.0.0.1:${port}']`,
          ...(opts.targets ?? []).flatMap((t, i) => {
            const u = new URL(t);
            return [`  - job_name: ref${i}`, `    metrics_path: ${u.pathname}`, '    static_configs:', `      - targets: ['${u.host}']`];
          }),
          '',
        ].join('\n'),
    );
    return {
      command: '/usr/bin/prometheus',
      args: [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  });
}

/**
 * Waits until the server of `metricsUrl`, started by startPrometheusServer() (default configuration), has scraped
 * itself once (`up{job="self"}` is 1), so its own histograms and summaries have series: the event,
 * not a time window. Bounded far above one 1 s scrape interval on a busy machine.
 */
export async function waitForSelfScrape(metricsUrl: string, timeoutMs = 60_000): Promise<void> {
  const query = metricsUrl.replace(/\/metrics$/, '/api/v1/query?query=') + encodeURIComponent('up{job="self"}');
  const until = Date.now() + timeoutMs;
  for (;;) {
    let last: string;
    try {
      const res = await fetch(query, { signal: AbortSignal.timeout(10_000) });
      last = await res.text();
      const json = JSON.parse(last) as { data?: { result?: { value: [number, string] }[] } };
      if (json.data?.result?.[0]?.value[1] === '1') return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > until) throw new Error(`Prometheus did not scrape itself within ${timeoutMs} ms (last answer: ${last.slice(0, 300)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Launch {
  command: string;
  args: string[];
  cleanup?: () => Promise<void>;
}

/** Launches on a fresh free port, retrying when another process took the port in between. */
async function startWithRetry(prepare: (port: number) => Promise<Launch>): Promise<RunningExporter> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const launch = await prepare(port);
    try {
      return await launchAndWait(launch, `http://127.0.0.1:${port}/metrics`);
    } catch (err) {
      lastError = err;
      await launch.cleanup?.();
    }
  }
  throw lastError;
}

/** Spawns the process and resolves once /metrics answers 200; kills it on failure. */
async function launchAndWait(launch: Launch, url: string): Promise<RunningExporter> {
  const child = spawn(launch.command, launch.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      await terminate(child, exited);
      await launch.cleanup?.();
    }
  };
  try {
    await waitUntilReady(url, child, () => stderr);
  } catch (err) {
    await terminate(child, exited);
    throw err;
  }
  return { url, stop };
}

/** Polls the URL until it answers 200, the process exits, or the timeout passes. */
async function waitUntilReady(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${child.spawnfile} exited early (${child.exitCode ?? child.signalCode}): ${stderr()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${child.spawnfile} did not answer ${url} within ${READY_TIMEOUT_MS} ms: ${stderr()}`);
}

/** SIGTERM, then SIGKILL if the process has not exited in time. */
async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), STOP_TIMEOUT_MS).unref());
  const done = await Promise.race([exited.then(() => true), timer]);
  if (!done) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Tiny exporters on 127.0.0.1 that count the requests each gets (by its host:port): "never requested" is then checkable. */
export interface CountingExporters {
  /** host:port of each, in start order. */
  addresses: string[];
  requests: Map<string, number>;
  close(): Promise<void>;
}

/** Starts `n` exporters; exporter `i` serves `body(i)`. */
export async function startCountingExporters(n: number, body: (i: number) => string): Promise<CountingExporters> {
  const servers: Server[] = [];
  const requests = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    let address = '';
    const server = createHttpServer((_req, res) => {
      requests.set(address, (requests.get(address) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(body(i));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    servers.push(server);
  }
  return {
    addresses: servers.map((s) => `127.0.0.1:${(s.address() as AddressInfo).port}`),
    requests,
    close: () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined),
  };
}
