/**
 * The emulator's bounded in-memory store of accepted metric objects, and the queries the local
 * explorer needs. Oldest objects are dropped first once the datapoint bound is reached.
 */
import type { OciMetric } from '../../types/model';

/** One accepted datapoint: timestamp in ms since epoch. */
export interface StoredDatapoint {
  timestamp: number;
  value: number;
  count?: number;
}

/** A metric object's identity and metadata, as accepted (the SDK's MetricDataDetails without datapoints; the compartment is required). */
type MetricFields = Omit<OciMetric, 'datapoints' | 'compartmentId'> & { compartmentId: string };

/** One accepted MetricDataDetails object, as posted (metadata kept, timestamps parsed). */
export interface StoredMetric extends MetricFields {
  datapoints: StoredDatapoint[];
  /** When the emulator accepted it (emulator clock, ms). */
  receivedAt: number;
}

/** A query over stored metrics; every field narrows the result. */
export interface MetricQuery {
  namespace?: string;
  name?: string;
  compartmentId?: string;
  resourceGroup?: string;
  /** Exact dimension values the series must have (other dimensions are free). */
  dimensions?: Record<string, string>;
  /** Inclusive lower bound on datapoint timestamps (ms). */
  from?: number;
  /** Exclusive upper bound on datapoint timestamps (ms). */
  to?: number;
}

/** One metric stream (identity without metadata) with its datapoints in time order; `metadata` is the most recent object's. */
export interface MetricSeries extends MetricFields {
  datapoints: StoredDatapoint[];
}

/** The identity of a metric stream, as OCI counts streams: metadata is not part of it. */
export function streamIdentity(m: {
  namespace: string;
  compartmentId: string;
  resourceGroup?: string;
  name: string;
  dimensions: Record<string, string>;
}): string {
  const dims = Object.keys(m.dimensions)
    .sort()
    .map((k) => [k, m.dimensions[k]]);
  return JSON.stringify([m.namespace, m.compartmentId, m.resourceGroup ?? null, m.name, dims]);
}

/** True when the stored metric matches the identity filters of the query (not the time range). */
function matchesIdentity(m: StoredMetric, q: MetricQuery): boolean {
  if (q.namespace !== undefined && m.namespace !== q.namespace) return false;
  if (q.name !== undefined && m.name !== q.name) return false;
  if (q.compartmentId !== undefined && m.compartmentId !== q.compartmentId) return false;
  if (q.resourceGroup !== undefined && m.resourceGroup !== q.resourceGroup) return false;
  for (const [k, v] of Object.entries(q.dimensions ?? {})) {
    if (m.dimensions[k] !== v) return false;
  }
  return true;
}

/** Bounded FIFO store of accepted metric objects. */
export class MetricStore {
  private items: StoredMetric[] = [];
  /** Index of the oldest live item: dropping advances it instead of shifting the array. */
  private head = 0;
  private datapointTotal = 0;
  private droppedDatapoints = 0;

  /** maxDatapoints bounds memory; undefined = unbounded. */
  constructor(public maxDatapoints?: number) {}

  /** Add accepted objects, then drop the oldest ones beyond the bound. */
  add(metrics: StoredMetric[]): void {
    for (const m of metrics) {
      this.items.push(m);
      this.datapointTotal += m.datapoints.length;
    }
    this.enforceBound();
  }

  /** Drop oldest objects while over the datapoint bound; compact now and then. */
  private enforceBound(): void {
    const max = this.maxDatapoints;
    if (max === undefined) return;
    while (this.datapointTotal > max && this.head < this.items.length) {
      const dropped = this.items[this.head++];
      this.datapointTotal -= dropped.datapoints.length;
      this.droppedDatapoints += dropped.datapoints.length;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Every stored object, oldest first (a copy of the list, not of the objects). */
  all(): StoredMetric[] {
    return this.items.slice(this.head);
  }

  /** Number of stored objects and datapoints, and how many datapoints were dropped by the bound. */
  stats(): { metrics: number; datapoints: number; droppedDatapoints: number } {
    return { metrics: this.items.length - this.head, datapoints: this.datapointTotal, droppedDatapoints: this.droppedDatapoints };
  }

  /** Remove everything. */
  clear(): void {
    this.items = [];
    this.head = 0;
    this.datapointTotal = 0;
    this.droppedDatapoints = 0;
  }

  /** Series matching the query, datapoints merged per stream, sorted by time, within [from, to). */
  query(q: MetricQuery = {}): MetricSeries[] {
    const byStream = new Map<string, MetricSeries>();
    for (const m of this.all()) {
      if (!matchesIdentity(m, q)) continue;
      const points = m.datapoints.filter((d) => (q.from === undefined || d.timestamp >= q.from) && (q.to === undefined || d.timestamp < q.to));
      if (points.length === 0) continue;
      const key = streamIdentity(m);
      let series = byStream.get(key);
      if (!series) {
        series = { namespace: m.namespace, compartmentId: m.compartmentId, name: m.name, dimensions: { ...m.dimensions }, datapoints: [] };
        if (m.resourceGroup !== undefined) series.resourceGroup = m.resourceGroup;
        byStream.set(key, series);
      }
      if (m.metadata) series.metadata = { ...m.metadata };
      series.datapoints.push(...points);
    }
    const result = [...byStream.values()];
    for (const s of result) s.datapoints.sort((a, b) => a.timestamp - b.timestamp);
    return result;
  }

  /** Distinct namespaces, sorted. */
  namespaces(): string[] {
    return [...new Set(this.all().map((m) => m.namespace))].sort();
  }

  /** Distinct metric names in a namespace (of the streams with these dimension values, e.g. one job's), sorted. */
  metricNames(namespace: string, dimensions: Record<string, string> = {}): string[] {
    const wanted = Object.entries(dimensions);
    return [
      ...new Set(
        this.all()
          .filter((m) => m.namespace === namespace && wanted.every(([k, v]) => m.dimensions[k] === v))
          .map((m) => m.name),
      ),
    ].sort();
  }

  /** Dimension key -> sorted distinct values, for one metric (or a whole namespace). */
  dimensionValues(namespace: string, name?: string): Record<string, string[]> {
    const sets = new Map<string, Set<string>>();
    for (const m of this.all()) {
      if (m.namespace !== namespace || (name !== undefined && m.name !== name)) continue;
      for (const [k, v] of Object.entries(m.dimensions)) {
        if (!sets.has(k)) sets.set(k, new Set());
        sets.get(k)!.add(v);
      }
    }
    const out: Record<string, string[]> = {};
    for (const k of [...sets.keys()].sort()) out[k] = [...sets.get(k)!].sort();
    return out;
  }
}
