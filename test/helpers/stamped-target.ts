/**
 * A scrape target whose samples carry the timestamp the test sets (the exposition's third field), so
 * every datapoint can be found again in the emulator by series and time: the state and outage suites
 * simulate minutes of invocations without waiting for them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on a free port of 127.0.0.1: the server's /metrics URL, and a close that ends its open connections too. */
export async function listenLocal(server: Server): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface StampedTarget {
  url: string;
  /** The timestamp (ms) of every sample of the next answer. */
  stampMs: number;
  /** Extra exposition lines. */
  extra: string[];
  /** Requests answered so far. */
  requests: number;
  /** While set, a request waits until this many requests have arrived (two invocations at once). */
  barrier?: number;
  close(): Promise<void>;
}

/** Starts a target exposing the counter `name` in `series` series (`name{series="i"} i+1 stampMs`). */
export async function startStampedTarget(name: string, series: number): Promise<StampedTarget> {
  const waiting: (() => void)[] = [];
  const target: StampedTarget = { url: '', stampMs: 0, extra: [], requests: 0, close: async () => {} };
  const server = createServer((_req, res) => {
    const answer = () => {
      target.requests++;
      const lines = [`# TYPE ${name} counter`];
      for (let i = 0; i < series; i++) lines.push(`${name}{series="${i}"} ${i + 1} ${target.stampMs}`);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end([...lines, ...target.extra].join('\n') + '\n');
    };
    waiting.push(answer);
    if (target.barrier === undefined || waiting.length >= target.barrier) for (const go of waiting.splice(0)) go();
  });
  const { url, close } = await listenLocal(server);
  target.url = url;
  target.close = close;
  return target;
}
