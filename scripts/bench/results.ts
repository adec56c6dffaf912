/**
 * bench-results/latest.md as sections: the head (title, machine, expositions), one part per section
 * that ran, each behind a marker naming it and when it ran, and the footer. `--merge` re-runs some
 * sections and keeps the others from the file as they were, dated: a quiet-machine hour is rare, and
 * a change to the pacing should not cost the figures of the parse. Pure: the caller reads and writes.
 */

/** One section's output: its name, when it ran (ISO date-time), its markdown blocks. */
export interface ResultSection {
  name: string;
  ranAt: string;
  text: string;
}

/** The file's parts. */
export interface Results {
  head: string;
  sections: ResultSection[];
  foot: string;
}

const MARKER = /^<!-- bench-section: ([a-z0-9-]+) @ (\S+) -->$/;
const FOOT_MARKER = '<!-- bench-footer -->';
const KEPT_LINE = /^Sections kept from earlier runs: .*$/m;

/** The marker line before a section's blocks. */
function marker(s: ResultSection): string {
  return `<!-- bench-section: ${s.name} @ ${s.ranAt} -->`;
}

/** Renders the file. `kept` names the sections that did not run this time (a merge), with their dates. */
export function renderResults(r: Results, kept: readonly ResultSection[] = []): string {
  const head = r.head.replace(KEPT_LINE, '').trimEnd();
  const keptLine = kept.length > 0 ? `\n\nSections kept from earlier runs: ${kept.map((s) => `${s.name} (${s.ranAt})`).join(', ')}.` : '';
  const parts = [head + keptLine, ...r.sections.map((s) => `${marker(s)}\n\n${s.text.trim()}`), `${FOOT_MARKER}\n\n${r.foot.trim()}`];
  return parts.join('\n\n') + '\n';
}

/**
 * Reads a file written by renderResults. A file without markers (written before them) is all head:
 * its sections cannot be told apart, so a merge into it keeps none of them.
 */
export function parseResults(markdown: string): Results {
  const head: string[] = [];
  const foot: string[] = [];
  const sections: { name: string; ranAt: string; lines: string[] }[] = [];
  let into = head;
  for (const line of markdown.split('\n')) {
    const m = MARKER.exec(line);
    if (m) {
      into = [];
      sections.push({ name: m[1], ranAt: m[2], lines: into });
    } else if (line === FOOT_MARKER) into = foot;
    else into.push(line);
  }
  return {
    head: head.join('\n').trim(),
    sections: sections.map((s) => ({ name: s.name, ranAt: s.ranAt, text: s.lines.join('\n').trim() })),
    foot: foot.join('\n').trim(),
  };
}

/**
 * The fresh run's sections, and the old file's sections that did not run now, in the old file's
 * order with new sections after it. Returns the merged results and which sections were kept.
 */
export function mergeResults(old: Results, fresh: Results): { results: Results; kept: ResultSection[] } {
  const ranNow = new Map(fresh.sections.map((s) => [s.name, s]));
  const ordered: ResultSection[] = [];
  const kept: ResultSection[] = [];
  for (const s of old.sections) {
    const now = ranNow.get(s.name);
    if (now) {
      ordered.push(now);
      ranNow.delete(s.name);
    } else {
      ordered.push(s);
      kept.push(s);
    }
  }
  ordered.push(...ranNow.values());
  return { results: { head: fresh.head, sections: ordered, foot: fresh.foot }, kept };
}
