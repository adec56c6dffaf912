import { OCI_LIMITS } from './limits';

/**
 * The first max UTF-16 units of s, one less when the cut would split a surrogate pair. Counting
 * UTF-16 units is stricter than counting code points, so the result fits either reading of OCI's limit.
 */
export function truncateUtf16(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** Metadata of a family's series: its HELP text (trimmed, cut to 256 characters), or none when empty. */
export function metadataFor(help: string): Record<string, string> | undefined {
  const text = truncateUtf16(help.trim(), OCI_LIMITS.maxMetadataLength);
  return text === '' ? undefined : { help: text };
}
