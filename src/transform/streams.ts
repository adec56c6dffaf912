/**
 * A metric stream's identity, defined once: its namespace, compartment, name and dimensions (key
 * order does not matter). The transform's duplicate check (StreamKeys), the match of OCI's
 * rejected objects to a batch (publish/sink.ts) and the spool's entries (state/spool.ts) all key
 * streams through visitStreamParts, so they can never disagree on what "the same stream" is.
 */

/** The fields that identify a stream (an OciMetric, or an object OCI echoed back). */
interface StreamFields {
  namespace?: string;
  compartmentId?: string;
  name?: string;
  dimensions?: Record<string, string>;
}

/** The keys of a record in code-unit order (already sorted, as the transform builds them, costs no sort). */
function sortedKeys(record: Record<string, string>): string[] {
  const keys = Object.keys(record);
  for (let i = 1; i < keys.length; i++) if (keys[i - 1] > keys[i]) return keys.sort();
  return keys;
}

/** Hands `visit` the parts that identify a stream, in one canonical order: namespace, compartment, name, then each dimension key and value by key. */
function visitStreamParts(m: StreamFields, visit: (part: string) => void): void {
  visit(m.namespace ?? '');
  visit(m.compartmentId ?? '');
  visit(m.name ?? '');
  const dims = m.dimensions ?? {};
  for (const k of sortedKeys(dims)) {
    visit(k);
    visit(dims[k]);
  }
}

/** A stream's identity as a readable string (JSON of its parts). */
export function streamKey(m: StreamFields): string {
  const parts: string[] = [];
  visitStreamParts(m, (p) => parts.push(p));
  return JSON.stringify(parts);
}

/**
 * Streams already taken, exactly and compactly: each distinct part gets a number, and a stream is
 * one flat string of its parts' numbers. Nothing of the metric itself is kept, so a metric is
 * garbage once it is posted; on 100k series this is about 5 MB instead of every metric object.
 */
export class StreamKeys {
  private readonly ids = new Map<string, number>();
  private readonly seen = new Set<string>();
  /** The code units of the key being built (reused: one flat string per key, no concatenation). */
  private readonly codes: number[] = [];
  private readonly push = (s: string): void => {
    let id = this.ids.get(s);
    if (id === undefined) this.ids.set(s, (id = this.ids.size));
    // One code unit below 0x8000, else two (the first marked by its top bit): prefix-free.
    if (id < 0x8000) this.codes.push(id);
    else this.codes.push(0x8000 | (id >>> 15), id & 0x7fff);
  };

  /** The stream's key; distinct streams never share one. */
  key(metric: StreamFields): string {
    this.codes.length = 0;
    visitStreamParts(metric, this.push);
    return String.fromCharCode(...this.codes);
  }

  has(key: string): boolean {
    return this.seen.has(key);
  }

  add(key: string): void {
    this.seen.add(key);
  }
}
