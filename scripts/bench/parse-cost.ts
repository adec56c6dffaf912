/**
 * Parse cost, run in a fresh process by `npm run bench`: the required package alone on the raw
 * text versus parseExposition (package + our layer) on the generated exposition, interleaved
 * runs after a warm-up, medians. Prints one JSON line (ParseCost).
 * Run alone: `node --import tsx scripts/bench/parse-cost.ts [samples] [runs]`.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { parseExposition } from '../../src/parse/exposition';
import { generateExposition } from './exposition';
import { median } from './stats';

/** Medians (ms) of both parsers and the layer's share of the package's cost. */
export interface ParseCost {
  samples: number;
  bytes: number;
  runs: number;
  packageMs: number;
  layeredMs: number;
  /** (layered - package) / package; the budget is 0.5. */
  layerShare: number;
}

/** Wall time of one call, ms. */
function time(fn: () => unknown): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Measures both parsers side by side on the same text. */
export function measureParseCost(samples: number, runs: number): ParseCost {
  const { text, bytes } = generateExposition(samples);
  for (let i = 0; i < 2; i++) {
    parsePrometheusTextFormat(text);
    parseExposition(text);
  }
  const pkg: number[] = [];
  const ours: number[] = [];
  for (let i = 0; i < runs; i++) {
    pkg.push(time(() => parsePrometheusTextFormat(text)));
    ours.push(time(() => parseExposition(text)));
  }
  const packageMs = median(pkg);
  const layeredMs = median(ours);
  return { samples, bytes, runs, packageMs, layeredMs, layerShare: (layeredMs - packageMs) / packageMs };
}

if (require.main === module) {
  console.log(JSON.stringify(measureParseCost(Number(process.argv[2] ?? 100_000), Number(process.argv[3] ?? 7))));
}
