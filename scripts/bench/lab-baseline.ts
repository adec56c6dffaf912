/**
 * The original lab's approach, reproduced for the comparison in `npm run bench`: scrape once, then
 * one PostMetricData call per sample, strictly sequential, with the SDK's default client settings.
 * Each object carries the sample's own labels as dimensions and nothing else (no `instance`, no
 * extra dimension), so OCI rejects every unlabelled sample (at least one dimension is required).
 */
import type * as commonT from 'oci-common';
import type * as monitoringT from 'oci-monitoring';
import { parseExposition } from '../../src/parse/exposition';
import { expandFamily, type SampleLine } from '../../src/transform/samples';

/** One sample as the lab posted it. */
export interface LabSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** What one lab-style run did. */
export interface LabRunResult {
  samples: number;
  calls: number;
  /** Objects OCI (the emulator) returned in failedMetrics. */
  rejected: number;
  /** Calls that failed as a whole (the lab crashed on the first one; here they are counted). */
  callErrors: number;
  wallMs: number;
}

/** Every sample line of an exposition with its full label set (`le`/`quantile` included), in order. */
export function labSamples(text: string): LabSample[] {
  const lines = parseExposition(text)
    .families.flatMap(expandFamily)
    .filter((l): l is SampleLine => l.kind === 'sample');
  return lines.map((l) => ({
    name: l.sampleName,
    labels: l.structural ? { ...l.labels, [l.structural.key]: l.structural.value } : { ...l.labels },
    value: l.value,
  }));
}

/**
 * A MonitoringClient the way the lab built it: SDK defaults (one attempt, circuit breaker on),
 * resource-principal auth read from process.env, pointed at `endpoint`.
 */
export function labClient(endpoint: string): monitoringT.MonitoringClient {
  const common = require('oci-common') as typeof commonT;
  const monitoring = require('oci-monitoring') as typeof monitoringT;
  const provider = common.ResourcePrincipalAuthenticationDetailsProvider.builder();
  const client = new monitoring.MonitoringClient({ authenticationDetailsProvider: provider });
  client.endpoint = endpoint;
  return client;
}

/** Scrapes `url` once and posts each sample in its own call, one after the other. */
export async function runLabBaseline(url: string, client: monitoringT.MonitoringClient, namespace: string, compartmentId: string): Promise<LabRunResult> {
  const started = performance.now();
  const text = await (await fetch(url, { headers: { accept: 'text/plain;version=0.0.4' } })).text();
  const samples = labSamples(text);
  const out: LabRunResult = { samples: samples.length, calls: 0, rejected: 0, callErrors: 0, wallMs: 0 };
  for (const s of samples) {
    out.calls++;
    try {
      const res = await client.postMetricData({
        postMetricDataDetails: {
          metricData: [{ namespace, compartmentId, name: s.name, dimensions: s.labels, datapoints: [{ timestamp: new Date(), value: s.value }] }],
        },
      });
      out.rejected += res.postMetricDataResponseDetails.failedMetricsCount;
    } catch (e) {
      // One object per call: OCI answers a call whose only object is invalid with 400, not failedMetrics.
      if ((e as { statusCode?: number }).statusCode === 400) out.rejected++;
      else out.callErrors++;
    }
  }
  out.wallMs = performance.now() - started;
  return out;
}
