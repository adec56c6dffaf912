/**
 * The exposition's text values: HELP and label-value escapes, labels on plain objects, and copies
 * that do not pin the exposition text. (Numbers are read by promFloat.ts.)
 */

/** Unescapes a HELP text: only `\\` and `\n` are escapes there (others stay literal). */
export function unescapeHelp(text: string): string {
  if (!text.includes('\\')) return text;
  return text.replace(/\\([\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** Unescapes a quoted label value's body: `\\`, `\"` and `\n` (others stay literal, as in Prometheus). */
export function unescapeLabelValue(raw: string): string {
  if (!raw.includes('\\')) return raw;
  return raw.replace(/\\([\\n"])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

/** Sets a label on a plain object, keeping `__proto__` as an ordinary own property instead of a prototype write. */
export function setLabel(labels: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') {
    Object.defineProperty(labels, name, { value, enumerable: true, writable: true, configurable: true });
  } else {
    labels[name] = value;
  }
}

/**
 * A copy of a string that shares no memory with the text it was cut from. V8 keeps a slice of a
 * long string as a view that holds the whole original alive: a family name or HELP text kept after
 * parsing must not pin megabytes of exposition text.
 */
export function ownCopy(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}
