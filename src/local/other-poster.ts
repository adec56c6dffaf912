/**
 * Another poster in the function's tenancy, for the shared-tenancy benchmark and test: its own resource
 * principal (same tenancy, own session key, trusted by the emulator), the real SDK client, and a
 * steady rate of one-metric PostMetricData calls that does not back off (the worst neighbour).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeResourcePrincipal } from './emulator/credentials';
import type { IngestionEmulator } from './emulator/server';
import { createAuth, createMonitoringClient } from '../oci/clients';

/** A running steady poster. */
export interface OtherPoster {
  /** The poster's principal (emulator CallRecord.subjectId). */
  subjectId: string;
  /** The HTTP status of each call that has finished (200, or the error's status; 0 without one). */
  statuses: number[];
  /** Starts posting `perSecond` calls per second, evenly spaced. */
  start(perSecond: number): void;
  /** Stops and waits for calls in flight. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** Creates the poster's credentials in the stack's tenancy; nothing is sent before start(). */
export async function createOtherPoster(stack: { tenancyId: string; emulator: IngestionEmulator }, compartmentId: string): Promise<OtherPoster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'prom2oci-bench-other-'));
  const rp = await makeResourcePrincipal(dir, { tenancyId: stack.tenancyId });
  stack.emulator.options.trustedIssuers.push(rp.issuerPublicKeyPem);
  const saved = { ...process.env };
  Object.assign(process.env, rp.env); // the SDK's RP builder reads process.env when the client is built
  const client = createMonitoringClient(createAuth(process.env), { monitoringEndpoint: stack.emulator.url });
  for (const k of Object.keys(rp.env)) process.env[k] = saved[k];
  const statuses: number[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let timer: NodeJS.Timeout | undefined;
  const postOne = (): void => {
    const p = client
      .postMetricData({
        postMetricDataDetails: {
          metricData: [
            {
              namespace: 'other_poster',
              compartmentId,
              name: 'beat',
              dimensions: { poster: 'other' },
              datapoints: [{ timestamp: new Date(), value: 1 }],
            },
          ],
        },
      })
      .then(
        () => void statuses.push(200),
        (e: { statusCode?: number }) => void statuses.push(e.statusCode ?? 0),
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  return {
    subjectId: rp.claims.res_id,
    statuses,
    start(perSecond) {
      timer = setInterval(postOne, 1000 / perSecond);
    },
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
    },
    async close() {
      clearInterval(timer);
      await Promise.all(inFlight);
      client.close?.();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
