/**
 * The outage spool's size and codec cost, run in a fresh process by the benchmark: N undelivered
 * series of a generated exposition (HISTOGRAM_BUCKETS=true, the function's own mapping) as a state
 * document's spool section, encoded (JSON + gzip) and decoded as the function does, and the heap the
 * decoded spool holds; beside it the same for the entries stored as plain objects (the form the
 * compact one replaced). Prints one JSON line (SpoolSize).
 * The encode includes making the stored form from the entries. Usage: node --expose-gc --import tsx spool-size.ts <series> <runs>
 */
import { decodeState, encodeState } from '../../src/state/codec';
import { decodeSpool, encodeSpool, type SpoolEntry } from '../../src/state/spool';
import { emptyStateDocument, type StateDocument } from '../../src/types/state';
import { spoolEntries } from './spool-entries';
import { median } from './stats';

/** What one spool size costs. */
export interface SpoolSize {
  series: number;
  /** The spool section as JSON, and as stored (gzip of the whole document). */
  jsonBytes: number;
  storedBytes: number;
  /** encodeState / decodeState of the document, ms (medians). */
  encodeMs: number;
  decodeMs: number;
  /** Heap held by the decoded document and its entries (after a full GC), bytes. */
  heapBytes: number;
  /** The same entries stored as an array of objects: JSON, gzip, heap. */
  objects: { jsonBytes: number; storedBytes: number; encodeMs: number; decodeMs: number; heapBytes: number };
}

/** Heap used after a full collection (needs --expose-gc). */
function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Median encode/decode times of a document (made by `build`, which is timed as part of the encode), and its stored bytes. */
function codec(build: () => StateDocument, runs: number): { stored: Buffer; encodeMs: number; decodeMs: number } {
  const encodeMs: number[] = [];
  const decodeMs: number[] = [];
  let stored = encodeState(build());
  for (let i = 0; i < runs + 1; i++) {
    let t = performance.now();
    stored = encodeState(build());
    const e = performance.now() - t;
    t = performance.now();
    decodeSpool(decodeState(stored, 'bench').doc.spool, { max: Infinity });
    const d = performance.now() - t;
    if (i === 0) continue; // warm-up
    encodeMs.push(e);
    decodeMs.push(d);
  }
  return { stored, encodeMs: median(encodeMs), decodeMs: median(decodeMs) };
}

/** Heap held by a decoded stored document and its spool entries: what a function carries through an invocation that replays it. */
function decodedHeap(stored: Buffer, series: number): number {
  const before = heapAfterGc();
  const decoded = decodeState(stored, 'bench').doc;
  const { entries } = decodeSpool(decoded.spool, { max: Infinity });
  const heapBytes = heapAfterGc() - before;
  if (entries.length !== series) throw new Error(`the decoded spool has ${entries.length} entries, not ${series}`);
  return heapBytes;
}

const series = Number(process.argv[2] ?? 20_000);
const runs = Number(process.argv[3] ?? 5);

/** Sizes and codec times of both forms; the entries are not kept (the heap figures come after). */
function measureForms(): { jsonBytes: number; objectJsonBytes: number; c: ReturnType<typeof codec>; o: ReturnType<typeof codec> } {
  const entries: SpoolEntry[] = spoolEntries(
    series,
    Date.now() - 30 * 60_000,
    'ocid1.compartment.oc1..aaaaaaaa6dhfn3ahtxatcmhqj5ynhaenbyhrdqucjkzt2b3hw6kbc5a3wpuq',
  );
  const compact = (): StateDocument => ({ ...emptyStateDocument(), spool: encodeSpool(entries) });
  // The form before: the state document's spool section as an array of entry objects (still read).
  const objects = (): StateDocument => ({ ...emptyStateDocument(), spool: entries }) as unknown as StateDocument;
  return {
    jsonBytes: Buffer.byteLength(JSON.stringify(compact().spool)),
    objectJsonBytes: Buffer.byteLength(JSON.stringify(entries)),
    c: codec(compact, runs),
    o: codec(objects, runs),
  };
}

const { jsonBytes, objectJsonBytes, c, o } = measureForms();
const out: SpoolSize = {
  series,
  jsonBytes,
  storedBytes: c.stored.length,
  encodeMs: c.encodeMs,
  decodeMs: c.decodeMs,
  heapBytes: decodedHeap(c.stored, series),
  objects: { jsonBytes: objectJsonBytes, storedBytes: o.stored.length, encodeMs: o.encodeMs, decodeMs: o.decodeMs, heapBytes: decodedHeap(o.stored, series) },
};
console.log(JSON.stringify(out));
