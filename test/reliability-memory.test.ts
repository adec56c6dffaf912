/**
 * Reliability, memory: the function process with its heap bounded as in a 256 MB function survives
 * the worst exposition the default limits let through (SCRAPE_MAX_BYTES and SCRAPE_SAMPLE_LIMIT
 * unset): the shortest series up to the sample limit, label values as long as OCI allows filling the
 * byte cap, and one family (with HELP and TYPE) per sample up to the limit. Each is scraped, posted
 * and accounted, and the process stays under the function's memory.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSampleLimit } from '../src/config/settings';
import { FUNCTION_HEAP_ARGS_256MB } from './helpers/stack';
import { assertAccounted, stackAndTargetForSuite, summaryOf } from './helpers/reliability';

const MEMORY_MB = 256;
const LIMIT = defaultSampleLimit(MEMORY_MB);
/** The default SCRAPE_MAX_BYTES, less room for the last line. */
const BYTES = 16 * 1024 * 1024 - 4096;
/** Publishing as fast as the emulator takes it: the memory peak is the point, not the pace. */
const FAST = { POST_CALLS_PER_SECOND: '1000', POST_CONCURRENCY: '8', POST_TIMEOUT_MS: '60000', FUNCTION_TIMEOUT_SECONDS: '600' };

describe('reliability: the worst expositions at the default limits, heap bounded as in a 256 MB function', () => {
  const fx = stackAndTargetForSuite();

  const shapes = [
    { name: `short series up to the sample limit (${LIMIT})`, path: `/short?n=${LIMIT}`, samples: LIMIT },
    { name: 'label values of 500 characters filling SCRAPE_MAX_BYTES', path: `/long-labels?bytes=${BYTES}&len=500`, samples: undefined },
    { name: `one family with HELP and TYPE per sample up to the sample limit (${LIMIT})`, path: `/families?n=${LIMIT}`, samples: LIMIT },
  ];

  for (const shape of shapes) {
    test(shape.name, async () => {
      fx.stack.emulator.reset();
      const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url(shape.path), ...FAST }, FUNCTION_HEAP_ARGS_256MB, { memoryMb: MEMORY_MB });
      // A deadline far above the work on a busy machine: only a crash or a hang can fail it.
      const res = await fn.invoke({ deadline: new Date(Date.now() + 600_000) });
      const s = summaryOf(res);
      assertAccounted(s, shape.name);
      const t = s.targets[0];
      assert.equal(t.up, true, t.error);
      if (shape.samples !== undefined) assert.equal(t.samples, shape.samples);
      else assert.ok(t.samples > 30_000, `${t.samples} samples`);
      assert.equal(s.posted, s.series, JSON.stringify(s.errors));
      assert.equal(fn.alive, true);
      const peak = fn.peakRssBytes()!;
      assert.ok(peak < MEMORY_MB * 1024 * 1024, `peak RSS ${Math.round(peak / 1048576)} MB within the function's ${MEMORY_MB} MB`);
      await fn.stop();
    });
  }
});

describe('reliability: one memory budget for all targets together, heap bounded as in a 256 MB function', () => {
  const fx = stackAndTargetForSuite();

  test('12 targets of 100k samples each (every one within SCRAPE_SAMPLE_LIMIT): what fits is posted, the others are up=0 with the reason', async () => {
    const n = 100_000;
    assert.ok(n <= LIMIT, 'each target alone is within the default sample limit');
    const urls = Array.from({ length: 12 }, (_, i) => fx.target.url(`/short?n=${n}&target=${i}`));
    // Twelve parses at once on a busy 2-core machine: a scrape timeout far above the work.
    const env = { METRICS_ENDPOINT: urls.join(','), ...FAST, SCRAPE_TIMEOUT_MS: '300000' };
    const fn = await fx.stack.startFn(env, FUNCTION_HEAP_ARGS_256MB, { memoryMb: MEMORY_MB });
    // Before the budget every parsed target was held until the posting: a heap OOM, nothing posted, not even `up`.
    const res = await fn.invoke({ deadline: new Date(Date.now() + 600_000) });
    assert.equal(res.status, 200, res.body.slice(0, 500));
    const s = summaryOf(res);
    assertAccounted(s, '12 x 100k');
    const up = s.targets.filter((t) => t.up);
    const refused = s.targets.filter((t) => !t.up);
    assert.ok(up.length >= 1, 'what fits is posted');
    assert.ok(refused.length >= 1, 'the rest is refused');
    for (const t of up) assert.equal(t.samples, n);
    const reason = /^memory budget: this target's exposition was not read: .* of the 51\.2 MB this function's 256 MB memory \(FN_MEMORY\)/;
    for (const t of refused) assert.match(t.error!, reason);
    assert.equal(s.posted, up.length * n, JSON.stringify(s.errors));
    const ups = fx.stack.emulator.accepted.filter((m) => m.name === 'up');
    assert.equal(ups.length, 12, 'an up for every target');
    assert.equal(ups.filter((m) => m.datapoints[0].value === 0).length, refused.length);
    assert.equal(fn.alive, true);
    const peak = fn.peakRssBytes()!;
    assert.ok(peak < MEMORY_MB * 1024 * 1024, `peak RSS ${Math.round(peak / 1048576)} MB within the function's ${MEMORY_MB} MB`);
    await fn.stop();
  });
});
