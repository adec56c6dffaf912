/**
 * The state's size and codec cost for a generated exposition (run in a fresh process by the
 * benchmark): parse, derive (first scrape: the state to store), encode (JSON + gzip), decode.
 * Prints one JSON line. Usage: state-size.ts <samples> <runs>
 */
import { parseExposition } from '../../src/parse/exposition';
import { decodeState, encodeState } from '../../src/state/codec';
import { deriveTarget } from '../../src/transform/derive';
import { emptyStateDocument } from '../../src/types/state';
import { generateExposition } from './exposition';
import { median } from './stats';

const samples = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 5);
const { text } = generateExposition(samples);
const families = parseExposition(text).families;
const opts = { kinds: { rate: true, avg: true, quantiles: true }, quantiles: [0.5, 0.9, 0.99], maxAgeMs: 300_000 };
const deriveMs: number[] = [];
const encodeMs: number[] = [];
const decodeMs: number[] = [];
let jsonBytes = 0;
let storedBytes = 0;
let series = 0;
for (let i = 0; i < runs + 1; i++) {
  let t = performance.now();
  const first = deriveTarget(families, undefined, Date.now(), opts);
  const d = performance.now() - t;
  const doc = { ...emptyStateDocument(), targets: { target: first.state! } };
  t = performance.now();
  const bytes = encodeState(doc);
  const e = performance.now() - t;
  t = performance.now();
  decodeState(bytes, 'bench');
  const c = performance.now() - t;
  if (i === 0) continue; // warm-up
  deriveMs.push(d);
  encodeMs.push(e);
  decodeMs.push(c);
  jsonBytes = Buffer.byteLength(JSON.stringify(doc));
  storedBytes = bytes.length;
  series = Object.values(first.state!.f).reduce((n, f) => n + Object.keys(f.s).length, 0);
}
console.log(JSON.stringify({ samples, series, jsonBytes, storedBytes, deriveMs: median(deriveMs), encodeMs: median(encodeMs), decodeMs: median(decodeMs) }));
