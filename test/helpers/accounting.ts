import assert from 'node:assert/strict';
import type { InvocationSummary } from '../../src/handler/summary';

/** The accounting invariants every summary must satisfy. */
export function assertAccounted(s: InvocationSummary): void {
  const skippedTotal = Object.values(s.skipped).reduce((a, b) => a + (b ?? 0), 0);
  assert.equal(s.posted + s.failed + s.undelivered, s.dryRun ? 0 : s.series, 'every series is posted, failed or undelivered');
  for (const t of s.targets) {
    assert.equal(t.posted + t.failed + t.undelivered, s.dryRun ? 0 : t.series, `target ${t.url}: series accounted`);
    if (t.up) assert.ok(t.series + t.skipped >= t.samples, `target ${t.url}: every sample is a series or a skip`);
  }
  assert.equal(
    skippedTotal,
    s.targets.reduce((a, t) => a + t.skipped, 0),
  );
}
