/**
 * Structured logs: one JSON object per line on stdout (OCI Logging keeps one entry per line).
 * Callers pass facts, never secrets; messages are single-line by construction.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

type LogFields = Record<string, unknown>;

export interface Logger {
  (level: LogLevel, msg: string, fields?: LogFields): void;
}

/** A logger writing JSON lines to a stream (stdout by default). */
export function jsonLogger(write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  return (level, msg, fields = {}) => {
    write(JSON.stringify({ time: new Date().toISOString(), level, msg: oneLine(msg), ...fields }) + '\n');
  };
}

/** Collapses a message to one line. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' | ').slice(0, 2000);
}

/**
 * Whether a console warning is one the OCI SDK's retrier prints for every failed call. Our clients
 * never let it retry (the publisher does, and counts each outcome with OCI's message), so "All
 * retry attempts have exhausted" would be both wrong and one log entry per throttled call.
 */
export function isSdkRetrierWarning(text: string): boolean {
  return /^(Request cannot be retried\. Not Retrying\.|All retry attempts have exhausted\.|Request failed with Exception :)/.test(text);
}
