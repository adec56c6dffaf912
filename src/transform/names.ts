import { OCI_LIMITS } from './limits';

/** OCI's metric-name rule: a letter, then letters, digits, `.`, `_`, `-`, `$`. */
export const OCI_NAME_RE = /^[A-Za-z][A-Za-z0-9._\-$]*$/;

/** One character OCI allows inside a metric name. */
const NAME_CHAR_RE = /^[A-Za-z0-9._\-$]$/;

/** True when name is accepted by OCI as is (character rule and the 256-character bound). */
export function isValidOciName(name: string): boolean {
  return name.length <= OCI_LIMITS.maxNameLength && OCI_NAME_RE.test(name);
}

/** Replaces every code point OCI does not allow in a name (e.g. Prometheus' `:`) with `_`. */
function replaceInvalidNameChars(name: string): string {
  // Array.from walks code points, so an astral character becomes one `_`, not two.
  return Array.from(name, (ch) => (NAME_CHAR_RE.test(ch) ? ch : '_')).join('');
}

/** Drops leading characters until the name starts with a letter, as OCI requires. */
function stripLeadingNonLetters(name: string): string {
  return name.replace(/^[^A-Za-z]+/, '');
}

/**
 * The OCI metric name for a Prometheus sample name, or undefined when none can be made
 * (nothing valid remains, or the result is longer than 256 characters).
 */
export function sanitizeMetricName(name: string): string | undefined {
  const sanitized = stripLeadingNonLetters(replaceInvalidNameChars(name));
  return sanitized !== '' && isValidOciName(sanitized) ? sanitized : undefined;
}
