/**
 * The invocation's memory budget (pure): the figures per FN_MEMORY, reservations by named item
 * against each item's ceiling and the one total, and the account the response carries. The
 * function-level proofs (a run over the budget answers with named partial failures, never an OOM)
 * are in test/reliability-memory.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseSettings } from '../src/config/settings';
import { memoryFigures, MemoryBudget, SPOOL_BYTES_PER_SERIES, spoolSeriesBound, stateJsonBound } from '../src/handler/memory';

const MB = 1024 * 1024;

describe('memory budget', () => {
  test('the figures follow FN_MEMORY: a quarter of it in all; targets a fifth, state and spool an eighth each', () => {
    for (const memoryMb of [256, 512, 1024, 2048]) {
      const f = memoryFigures(memoryMb);
      assert.equal(f.budgetBytes, memoryMb * MB * 0.25);
      assert.equal(f.items.targets, Math.floor(memoryMb * MB * 0.2));
      assert.equal(f.items.state, memoryMb * MB * 0.125);
      assert.equal(f.items.spool, memoryMb * MB * 0.125);
      assert.equal(spoolSeriesBound(memoryMb), Math.floor((memoryMb * MB) / 8 / SPOOL_BYTES_PER_SERIES));
      assert.equal(stateJsonBound(memoryMb), Math.floor((memoryMb * MB) / 8 / 5));
    }
    assert.equal(spoolSeriesBound(256), 21_845);
  });

  test('a reservation is refused over its item’s ceiling, and over the budget whatever the item', () => {
    const m = new MemoryBudget(256);
    assert.equal(m.reserve('targets', m.available('targets') + 1), false, 'over the targets’ ceiling');
    assert.equal(m.used, 0, 'a refused reservation takes nothing');
    assert.equal(m.reserve('targets', 51 * MB), true);
    assert.equal(m.available('state'), 64 * MB - 51 * MB, 'the state may take only what the budget has left');
    assert.equal(m.reserve('state', 14 * MB), false);
    m.release('targets', 20 * MB);
    assert.equal(m.reserve('state', 14 * MB), true, 'given back, it is there for the others');
    assert.equal(m.used, 45 * MB);
  });

  test('reserveUpTo takes the units that fit, at most those wanted', () => {
    const m = new MemoryBudget(256);
    assert.equal(m.reserveUpTo('spool', SPOOL_BYTES_PER_SERIES, 100), 100);
    assert.equal(m.reserveUpTo('spool', SPOOL_BYTES_PER_SERIES, 1_000_000), 21_845 - 100, 'the spool share holds 21,845 in all');
    assert.equal(m.reserveUpTo('spool', SPOOL_BYTES_PER_SERIES, 1), 0);
  });

  test('reserveAll takes what an item may take while its size is unknown; settle keeps what it holds, and that is its peak', () => {
    const m = new MemoryBudget(256);
    m.reserve('targets', 40 * MB);
    const taken = m.reserveAll('state');
    assert.equal(taken, 24 * MB, 'what the budget has left, within the state’s 32 MB');
    assert.equal(m.available('targets'), 0, 'the targets wait while the state is read');
    m.settle('state', taken, 6 * MB);
    assert.equal(m.heldBy('state'), 6 * MB);
    assert.equal(m.available('targets'), Math.floor(51.2 * MB) - 40 * MB);
    assert.equal(m.report().items.state?.peakMb, 6);
  });

  test('the account names each item’s peak and what was limited; a refusal names what the run holds', () => {
    const m = new MemoryBudget(256);
    m.reserve('state', 10 * MB);
    m.reserve('targets', 30 * MB);
    m.release('targets', 30 * MB);
    m.limit('spool', '5 of the 9 stored spool entries read');
    const r = m.report();
    assert.deepEqual(r.items, { targets: { capMb: 51.2, peakMb: 30 }, state: { capMb: 32, peakMb: 10 } });
    assert.deepEqual(r.limited, [{ item: 'spool', what: '5 of the 9 stored spool entries read' }]);
    assert.equal(r.budgetMb, 64);
    const refusal = m.refusal("this target's exposition", 2 * MB).message;
    assert.match(refusal, /the run holds 10\.0 MB \(state 10\.0 MB\) of the 64\.0 MB .* 256 MB memory \(FN_MEMORY\)/);
  });

  test('the scrape configuration reserves 16 bytes per byte of its text; over the config share it is refused, named, before it is parsed', () => {
    const m = new MemoryBudget(256);
    assert.equal(m.reserveConfig(100 * 1024), undefined);
    assert.equal(m.heldBy('config'), 1600 * 1024);
    const refused = m.reserveConfig(1024 * 1024);
    assert.match(refused?.message ?? '', /^memory budget: the scrape configuration \(1\.0 MB of text, about 16\.0 MB parsed\) is more than .* 256 MB memory/);
    assert.equal(m.heldBy('config'), 1600 * 1024, 'a refusal takes nothing');
    assert.equal(m.report().limited?.[0].item, 'config');
  });

  test('SPOOL_MAX_SERIES: unset, the most FN_MEMORY holds; above it, a configuration error naming both settings', () => {
    const env = { METRICS_ENDPOINT: 'http://127.0.0.1:9/metrics' };
    assert.equal(parseSettings(env).spoolMaxSeries, 21_845, 'at the default 256 MB');
    assert.equal(parseSettings({ ...env, FN_MEMORY: '1024' }).spoolMaxSeries, spoolSeriesBound(1024));
    assert.equal(parseSettings({ ...env, FN_MEMORY: '1024', SPOOL_MAX_SERIES: '50000' }).spoolMaxSeries, 50_000);
    assert.throws(
      () => parseSettings({ ...env, FN_MEMORY: '256', SPOOL_MAX_SERIES: '50000' }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'SPOOL_MAX_SERIES' &&
        /^SPOOL_MAX_SERIES: 50000 is more than the function's 256 MB memory \(FN_MEMORY\) holds, 21845/.test(e.message),
    );
  });
});
