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
