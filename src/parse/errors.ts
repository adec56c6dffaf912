/**
 * The error the parse stage throws for a malformed exposition. It names the 1-based line like
 * Prometheus' own scrape errors do, so a failed scrape can be traced to the offending line.
 */
export class ExpositionError extends Error {
  readonly line: number;
  /** True when no line before this one was exposition (a valid sample, HELP or TYPE line): the body may not be metrics at all. */
  beforeExposition = false;

  /** `line` is 1-based; `reason` is the bare explanation without the line prefix. */
  constructor(line: number, reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = 'ExpositionError';
    this.line = line;
  }
}

/** Quotes a piece of the exposition for an error message, cut short so a huge line stays readable. */
export function quote(text: string, max = 60): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return JSON.stringify(cut);
}

/**
 * The error as a response or log shows it. Its content is quoted only once the body has shown
 * itself an exposition (a valid line before the bad one): a target that is not an exporter (the
 * instance metadata service, a login page, a JSON API) may serve anything, and its first line must
 * not reach an output.
 */
export function shownExpositionError(e: ExpositionError): string {
  if (!e.beforeExposition) return e.message;
  return `line ${e.line}: not the Prometheus text format (no valid sample, HELP or TYPE line before it; the content is not quoted)`;
}
