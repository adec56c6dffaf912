/**
 * The cardinality report's cost, run in a fresh process by `npm run bench` (section `cardinality`):
 * the report over 100k streams in two shapes, time and the heap its counting holds (the streams
 * themselves are the dry run's, not the report's). Prints one JSON line (CardinalityCost).
 * Run alone: `node --expose-gc --import tsx scripts/bench/cardinality-cost.ts [streams]`.
 *   - typical: 10 names of 10k streams, 5 labels each (path with up to 2,000 values, method, status...);
 *   - worst: 10 names x 10k streams x 19 labels, every label with a distinct value per stream (every
 *     sketch full), plus 10,000 one-stream names (the first pass at its bound).
 */
import { cardinalityReport, type StreamGroup } from '../../src/forecast/cardinality';

/** One shape's figures. */
interface ShapeCost {
  streams: number;
  ms: number;
  /** Heap growth from before the report to right after it (no GC in between): an upper bound of what its counting held (bytes). */
  heapBytes: number;
}

export interface CardinalityCost {
  typical: ShapeCost;
  worst: ShapeCost;
}

/** The streams of one shape. */
function streamsOf(shape: 'typical' | 'worst', total: number): StreamGroup[] {
  const streams: StreamGroup['streams'][number][] = [];
  const perName = Math.floor(total / 10);
  for (let n = 0; n < 10; n++)
    for (let i = 0; i < perName; i++) {
      const dimensions: Record<string, string> = { instance: '10.0.0.5:9100', job: 'app' };
      if (shape === 'typical') Object.assign(dimensions, { path: `/orders/${i % 2000}`, method: ['GET', 'POST'][i % 2], status: String(200 + (i % 5)) });
      else for (let l = 0; l < 17; l++) dimensions[`l${l}`] = `v${n}-${i}-${l}`;
      streams.push({ name: `metric_${n}_total`, dimensions });
    }
  if (shape === 'worst') for (let i = 0; i < 10_000; i++) streams.push({ name: `one_${i}`, dimensions: { instance: '10.0.0.5:9100' } });
  return [{ job: 'app', streams }];
}

/** Time and heap growth of the report over one shape (the streams built and collected first). */
function measure(shape: 'typical' | 'worst', total: number): ShapeCost {
  const groups = streamsOf(shape, total);
  (globalThis as { gc?: () => void }).gc?.();
  const base = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  const report = cardinalityReport(groups, { totalStreams: total, pricePerMillionDatapoints: 1, freeDatapointsPerMonth: 0 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const heapBytes = process.memoryUsage().heapUsed - base;
  if (report.jobs.length !== 1) throw new Error('one job expected');
  return { streams: groups[0].streams.length, ms, heapBytes };
}

if (require.main === module) {
  const total = Number(process.argv[2] ?? 100_000);
  const out: CardinalityCost = { typical: measure('typical', total), worst: measure('worst', total) };
  console.log(JSON.stringify(out));
}
