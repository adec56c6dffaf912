/**
 * bench-results/latest.md by section (scripts/bench/results.ts): `npm run bench -- --only=... --merge`
 * re-runs some sections and keeps the others as they were, each dated.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeResults, parseResults, renderResults, type Results } from '../scripts/bench/results';

const run = (date: string, names: string[], tag: string): Results => ({
  head: `## prom2oci benchmark\n\nMachine: AMD EPYC, 2 cores; ${date}T09:00:00Z; load average at start 0.50\n\nExpositions: 1,000 samples`,
  sections: names.map((name) => ({
    name,
    ranAt: `${date}T09:0${names.indexOf(name)}:00Z`,
    text: `### ${name} (${tag})\n\n| a | b |\n| --- | --- |\n| 1 | 2 |`,
  })),
  foot: `_Total benchmark time 10 s (${tag})._`,
});

describe('the results file by section', () => {
  test('rendered and read back: the same head, sections (name, date, text) and footer', () => {
    const r = run('2026-12-05', ['cold', 'parse', 'pacing-alone'], 'first');
    assert.deepEqual(parseResults(renderResults(r)), r);
  });

  test('a merge replaces the sections that ran, keeps the others in place with their dates, and says which were kept', () => {
    const old = parseResults(renderResults(run('2026-12-04', ['cold', 'parse', 'pacing-alone'], 'old')));
    const fresh = run('2026-12-05', ['pacing-alone', 'shards'], 'new');
    const { results, kept } = mergeResults(old, fresh);
    assert.deepEqual(
      results.sections.map((s) => `${s.name} ${s.ranAt.slice(0, 10)} ${/\((\w+)\)/.exec(s.text)?.[1]}`),
      ['cold 2026-12-04 old', 'parse 2026-12-04 old', 'pacing-alone 2026-12-05 new', 'shards 2026-12-05 new'],
    );
    assert.deepEqual(
      kept.map((s) => s.name),
      ['cold', 'parse'],
    );
    const text = renderResults(results, kept);
    assert.match(text, /^Machine: .*2026-12-05T09:00:00Z/m, "the head is the new run's (its date is the newest figures')");
    assert.match(text, /^Sections kept from earlier runs: cold \(2026-12-04T09:00:00Z\), parse \(2026-12-04T09:01:00Z\)\.$/m);
    // Merged again with nothing kept: the line goes.
    const again = mergeResults(parseResults(text), run('2026-12-06', ['cold', 'parse', 'pacing-alone', 'shards'], 'all'));
    assert.deepEqual(again.kept, []);
    assert.doesNotMatch(renderResults(again.results, again.kept), /Sections kept/);
  });

  test('a file written before the markers is all head: a merge into it keeps none of its figures', () => {
    const legacy = '## prom2oci benchmark\n\nMachine: x; 2026-11-30T16:59:28Z\n\n### Cold start\n\n| a |\n';
    const old = parseResults(legacy);
    assert.deepEqual(old.sections, []);
    const { results, kept } = mergeResults(old, run('2026-12-05', ['cold'], 'new'));
    assert.deepEqual(kept, []);
    assert.doesNotMatch(renderResults(results, kept), /2026-11-30/);
  });
});
