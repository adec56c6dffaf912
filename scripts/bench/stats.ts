/** Small statistics and formatting helpers for the benchmark table. */

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Min-max spread of a list, as "min-max" with the given formatter. */
export function range(values: number[], fmt: (n: number) => string): string {
  if (values.length < 2) return '';
  return `${fmt(Math.min(...values))}-${fmt(Math.max(...values))}`;
}

/** Milliseconds with a sensible precision. */
export function ms(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n >= 100 ? `${Math.round(n)} ms` : `${n.toFixed(1)} ms`;
}

/** Seconds with two decimals. */
export function sec(n: number): string {
  return Number.isFinite(n) ? `${(n / 1000).toFixed(2)} s` : 'n/a';
}

/** Bytes as MB (10^6, as the target is stated). */
export function mb(bytes: number | null): string {
  return bytes === null || !Number.isFinite(bytes) ? 'n/a' : `${(bytes / 1e6).toFixed(0)} MB`;
}

/** A count with thousands separators. */
export function count(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

/** A ratio like "52.3x". */
export function times(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(1)}x` : 'n/a';
}

/** "yes"/"NO" against a target. */
export function verdict(ok: boolean): string {
  return ok ? 'met' : 'NOT met';
}

/** Renders a markdown table. */
export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
