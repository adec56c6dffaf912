import { OCI_LIMITS } from './limits';

/** Prometheus' classic metric-name rule (the only names the text format can carry). */
const PROMETHEUS_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Marks a name that did not start with a letter. It contains `$`, which no mapped name has
 * otherwise, so a marked name can never equal an unmarked one.
 */
export const LEADING_NON_LETTER_PREFIX = 'prom$';

/**
 * The OCI metric name for a Prometheus sample name, or undefined when there is none (not a
 * Prometheus name, or longer than 256 characters once mapped).
 *
 * The mapping is injective, so two distinct Prometheus names never share an OCI name:
 *  - `:` becomes `.` (Prometheus names never contain `.`, so `.` always came from `:`);
 *  - a name that does not start with a letter (`_x`, `:x`) gets the prefix `prom$` (Prometheus
 *    names never contain `$`, so the prefix is always recognisable and removable).
 * Inverse: drop a leading `prom$`, then turn every `.` back into `:`.
 */
export function sanitizeMetricName(name: string): string | undefined {
  if (!PROMETHEUS_NAME_RE.test(name)) return undefined;
  const dotted = name.includes(':') ? name.replaceAll(':', '.') : name;
  const first = name.charCodeAt(0) | 0x20;
  const mapped = first >= 0x61 && first <= 0x7a ? dotted : LEADING_NON_LETTER_PREFIX + dotted;
  return mapped.length <= OCI_LIMITS.maxNameLength ? mapped : undefined;
}
