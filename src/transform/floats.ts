/**
 * OpenMetrics float formatting, as Prometheus applies it to the `le` of histogram buckets and the
 * `quantile` of summaries when it parses an exposition: `le="1"`, `le="1.0"` and `le="1e0"` are one
 * bucket whatever client library wrote it.
 */
import { parsePromFloat } from '../parse/promFloat';

/**
 * Go's strconv.FormatFloat(f, 'g', -1, 64) plus ".0" when the result has neither "." nor "e"
 * (Prometheus' FormatOpenMetricsFloat): shortest round-trip digits, exponent form when the
 * decimal exponent is below -4 or at least 6 (written `e+06`, `e-05`).
 */
function formatOpenMetricsFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f === 0) return '0.0';
  // toExponential() without digits gives the shortest digits that round-trip, as Go's -1 precision does.
  const [mantissa, exponentText] = f.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  let text: string;
  if (exponent < -4 || exponent >= 6) {
    const abs = Math.abs(exponent);
    text = `${mantissa}e${exponent < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
  } else {
    // In this exponent range JavaScript's own formatting is plain decimal with the same digits.
    text = String(f);
  }
  return text.includes('.') || text.includes('e') ? text : `${text}.0`;
}

/** An `le` or `quantile` value in OpenMetrics form when it is a float; other text is kept as written. */
export function normalizeBoundLabel(value: string): string {
  const f = parsePromFloat(value);
  return f === undefined ? value : formatOpenMetricsFloat(f);
}
