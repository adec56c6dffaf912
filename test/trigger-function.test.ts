/**
 * The trigger's messages through the real function process (Fn socket protocol, the emulator's
 * Object Storage and ingestion): Notifications can deliver one alarm message twice, and retries a
 * delivery that failed for 2 hours. A repeated message is answered without a run (no scrape, no
 * post, no write), and a run the trigger invoked that delivered nothing answers 200 (Notifications
 * does not retry it; the spool replays its series) while any other caller still gets a 502.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { InvocationSummary } from '../src/handler/summary';
import type { StateDocument } from '../src/types/state';
import { startFaultyTarget, type FaultyTarget } from './helpers/faulty-target';
import { assertAccounted } from './helpers/reliability';
import { startStack, type Stack } from './helpers/stack';

const BUCKET = 'trigger-state';
const ALARM = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'notifications', 'alarm-repeat.json'), 'utf8')) as Record<string, unknown>;
/** The alarm message of minute `n` of one firing episode (same dedupeKey, its own timestamp). */
const message = (n: number) => JSON.stringify({ ...ALARM, timestampEpochMillis: (ALARM.timestampEpochMillis as number) + n * 60_000 });
const keyOf = (n: number) => `${ALARM.dedupeKey as string}@${(ALARM.timestampEpochMillis as number) + n * 60_000}`;

describe('trigger messages: repeats are not run twice, failures are not retried', () => {
  let stack: Stack;
  let target: FaultyTarget;
  before(async () => {
    stack = await startStack();
    stack.emulator.objectStorage.createBucket(BUCKET);
    target = await startFaultyTarget();
  });
  after(async () => {
    await stack.close();
    await target.close();
  });

  const env = () => ({
    METRICS_ENDPOINT: target.url('/ok?n=3'),
    STATE_BUCKET: BUCKET,
    // The state object alone in the bucket: the pacing board's own object is tested in test/board-function.test.ts.
    PACING_BOARD: 'false',
    OBJECT_STORAGE_NAMESPACE: stack.emulator.objectStorage.namespace,
    POST_TIMEOUT_MS: '2000',
    POST_CALLS_PER_SECOND: '1000',
  });
  const stateDoc = (): StateDocument => {
    const [only] = [...stack.emulator.objectStorage.buckets.get(BUCKET)!.values()];
    return JSON.parse(gunzipSync(only.bytes).toString('utf8')) as StateDocument;
  };
  const invoke = (fn: Awaited<ReturnType<Stack['startFn']>>, body: string, deadlineMs = 120_000) =>
    fn.invoke({ body, contentType: 'application/json', deadline: new Date(Date.now() + deadlineMs) });
  /** The deadline of a run whose every post fails with a 503: it retries until the deadline's reserve, so a
   * shorter deadline (still far above a 3-sample scrape) keeps the test from waiting twice 2 minutes. */
  const FAILING_RUN_DEADLINE_MS = 25_000;

  test('a message delivered twice runs once: the second answer names it, nothing is scraped, posted or written', async () => {
    stack.emulator.reset();
    const fn = await stack.startFn(env());
    const first = await invoke(fn, message(0));
    assert.equal(first.status, 200, first.body);
    const s = first.json as InvocationSummary;
    assertAccounted(s, 'first delivery');
    assert.equal(s.posted, 3);
    assert.deepEqual(stateDoc().trigger, [keyOf(0)], 'the key is stored with the state');
    const posts = stack.emulator.calls.filter((c) => c.route === 'metrics').length;
    const writes = stack.emulator.calls.filter((c) => c.route === 'objectstorage' && c.method === 'PUT').length;
    const scrapes = target.hits.get('/ok');

    const again = await invoke(fn, message(0));
    assert.equal(again.status, 200);
    assert.deepEqual(again.json, { ok: true, duplicate: keyOf(0) });
    assert.equal(stack.emulator.calls.filter((c) => c.route === 'metrics').length, posts, 'no post');
    assert.equal(stack.emulator.calls.filter((c) => c.route === 'objectstorage' && c.method === 'PUT').length, writes, 'no write');
    assert.ok(writes > 0, 'the first run wrote the state');
    assert.equal(target.hits.get('/ok'), scrapes, 'no scrape');
    assert.ok(
      fn.stdout.some((l) => l.includes('trigger message run already') && l.includes(keyOf(0))),
      'logged',
    );

    const next = await invoke(fn, message(1));
    const n = next.json as InvocationSummary;
    assert.ok(n.targets[0].up && n.posted >= 3, "the next minute's message is a new one: scraped and posted (with its derived series)");
    assert.deepEqual(stateDoc().trigger, [keyOf(0), keyOf(1)]);
  });

  test('a trigger run that delivers nothing answers 200 with the cause; the same run from fn invoke answers 502', async () => {
    stack.emulator.reset();
    const fn = await stack.startFn(env());
    await invoke(fn, message(10)); // warm: the SDK and the state loaded
    stack.emulator.enqueueFault({ status: 503 }, 1_000_000, 'metrics');
    try {
      const failed = await invoke(fn, message(11), FAILING_RUN_DEADLINE_MS);
      assert.equal(failed.status, 200, 'Notifications sees a delivered message: no retry');
      const s = failed.json as InvocationSummary;
      assert.equal(s.ok, false);
      assert.equal(s.posted, 0);
      assert.match(s.nothingDelivered ?? '', /none of \d+ series was posted/);
      assert.ok((s.spool?.pending ?? 0) > 0, 'the undelivered series are spooled for a later run');
      assert.ok(
        fn.stdout.some((l) => l.includes('invocation delivered nothing')),
        'still logged as an error',
      );
      assert.ok(stateDoc().trigger!.includes(keyOf(11)), 'a retry of it would not run again');

      const manual = await fn.invoke({ body: '', deadline: new Date(Date.now() + FAILING_RUN_DEADLINE_MS) });
      assert.equal(manual.status, 502, 'fn invoke (no trigger message) still fails visibly');
      assert.match((manual.json as { detail: string }).detail, /none of \d+ series was posted/);
    } finally {
      stack.emulator.clearFaults('metrics');
    }
  });

  test('a dry run is neither de-duplicated nor answered 200 on failure (it writes no state)', async () => {
    stack.emulator.reset();
    const fn = await stack.startFn({ ...env(), METRICS_ENDPOINT: target.url('/status/500'), DRY_RUN: 'true' });
    const res = await invoke(fn, message(20));
    assert.equal(res.status, 502);
    const again = await invoke(fn, message(20));
    assert.equal(again.status, 502, 'run again: nothing was stored to recognise it');
  });
});
