/**
 * The real Debian node_exporter on 127.0.0.1 for the lab comparison, or, when it is not
 * installed, a generated exposition of the same size served by the tiny target.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { generateExposition } from './exposition';
import { startTextTarget } from './target';

export const NODE_EXPORTER_BIN = '/usr/bin/prometheus-node-exporter';

/** A /metrics URL of node_exporter size and how it is produced. */
export interface NodeExporterTarget {
  url: string;
  /** 'node_exporter' (the real binary) or 'generated' (about 500 samples). */
  source: 'node_exporter' | 'generated';
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Polls the URL until it answers 200 (or the time runs out). */
async function waitUp(url: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > end) throw new Error(`${url} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts node_exporter on 127.0.0.1 (or the generated stand-in). */
export async function startNodeExporterTarget(): Promise<NodeExporterTarget> {
  if (!existsSync(NODE_EXPORTER_BIN)) {
    const target = await startTextTarget(generateExposition(500, 7).text);
    return { url: target.url, source: 'generated', close: () => target.close() };
  }
  const port = await freePort();
  const child: ChildProcess = spawn(NODE_EXPORTER_BIN, [`--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/metrics`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitUp(url, 5000);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    url,
    source: 'node_exporter',
    async close() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
