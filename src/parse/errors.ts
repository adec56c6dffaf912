/**
 * The error the parse stage throws for a malformed exposition. It names the 1-based line like
 * Prometheus' own scrape errors do, so a failed scrape can be traced to the offending line.
 */
export class ExpositionError extends Error {
  readonly line: number;

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
