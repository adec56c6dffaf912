/**
 * `npm start -- --config FILE`: the demo's apps have fixed addresses a Prometheus configuration can
 * name (examples/bharatmart.yml does). When such a port is taken on this machine, the app listens
 * on a free port instead and the file's targets are rewritten to it before the function reads it,
 * in place, so every other byte (and every line number in an error) stays as written. Pure, no I/O.
 */
import { isPair, isScalar, isSeq, parseDocument, visit } from 'yaml';

/** The fixed addresses of the demo's apps (127.0.0.1 only). */
export const DEMO_ADDRESSES = {
  /** The BharatMart shop simulator (the lab's backend port). */
  bharatmart: '127.0.0.1:3000',
  /** Its payment gateway, the second exporter (src/local/demo/payments.ts). */
  payments: '127.0.0.1:3001',
} as const;

/** A target string of a `targets:` list and where its scalar is in the text. */
interface TargetScalar {
  value: string;
  start: number;
  end: number;
}

/** Every scalar of every `targets:` list in the file (static_configs), in text order. */
function targetScalars(text: string): TargetScalar[] {
  const out: TargetScalar[] = [];
  visit(parseDocument(text), {
    Scalar(_key, node, path) {
      const list = path[path.length - 1];
      const pair = path[path.length - 2];
      if (!isSeq(list) || !isPair(pair) || !isScalar(pair.key) || pair.key.value !== 'targets' || !node.range) return;
      out.push({ value: String(node.value), start: node.range[0], end: node.range[1] });
    },
  });
  return out;
}

/** The distinct target addresses the file lists. */
export function listedTargets(text: string): string[] {
  return [...new Set(targetScalars(text).map((t) => t.value))];
}

/** The file with every target equal to a key of `moved` replaced by its value (quoted), nothing else changed. */
export function substituteTargets(text: string, moved: ReadonlyMap<string, string>): string {
  let out = text;
  for (const t of targetScalars(text).reverse()) {
    const to = moved.get(t.value);
    if (to !== undefined) out = `${out.slice(0, t.start)}'${to}'${out.slice(t.end)}`;
  }
  return out;
}
