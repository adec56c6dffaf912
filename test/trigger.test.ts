/**
 * The trigger's messages (Notifications alarm messages): the key a message is de-duplicated on,
 * the keys kept in the state document (bounded, validated on read like every section), and the
 * invocation body that carries them. The end-to-end behaviour (a repeated message answered without
 * a run, a trigger run that delivers nothing answered 200) is in test/trigger-function.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseInvocationBody } from '../src/handler/invocation';
import { decodeState, encodeState } from '../src/state/codec';
import { isTriggerKeys, rememberTrigger, seenTrigger, triggerKey, TRIGGER_KEYS_KEPT } from '../src/state/trigger';
import { emptyStateDocument } from '../src/types/state';

const ALARM_MESSAGE = readFileSync(join(__dirname, 'fixtures', 'notifications', 'alarm-repeat.json'), 'utf8');

describe('the key of a trigger message', () => {
  test("an alarm message's dedupeKey and timestampEpochMillis make the run trigger-originated, keyed on both", () => {
    const request = parseInvocationBody(ALARM_MESSAGE);
    assert.equal(request.trigger, '2f1a6e0b-8c1d-4f6b-9a43-6d2f0c7e91ab@1764900060000');
    assert.equal(request.dryRun, undefined, 'the alarm message asks nothing else');
    const next = JSON.stringify({ ...(JSON.parse(ALARM_MESSAGE) as object), timestampEpochMillis: 1764900120000 });
    assert.notEqual(parseInvocationBody(next).trigger, request.trigger, "the next minute's REPEAT (same dedupeKey) is another message");
  });

  test('a body without both fields, or with ill-typed ones, is a normal run (not de-duplicated)', () => {
    for (const body of ['', '{}', '{"dryRun": true}', '{"dedupeKey": "x"}', '{"timestampEpochMillis": 1}', '{"dedupeKey": 1, "timestampEpochMillis": 1}'])
      assert.equal(parseInvocationBody(body).trigger, undefined, body);
    assert.equal(parseInvocationBody('{"dedupeKey": "x", "timestampEpochMillis": 1.5}').trigger, undefined, 'not an epoch in ms');
    assert.equal(parseInvocationBody(JSON.stringify({ dedupeKey: 'x'.repeat(300), timestampEpochMillis: 1 })).trigger, undefined, 'too long to keep');
    assert.equal(parseInvocationBody('{"dedupeKey": "", "timestampEpochMillis": 1}').trigger, undefined);
  });

  test('triggerKey', () => {
    assert.equal(triggerKey('k', 5), 'k@5');
    assert.equal(triggerKey('', 5), undefined);
    assert.equal(triggerKey('k', Number.NaN), undefined);
  });
});

describe('the keys kept in the state document', () => {
  test('remembered last, without repeats, at most TRIGGER_KEYS_KEPT (the oldest dropped)', () => {
    let keys: string[] | undefined;
    for (let i = 0; i < TRIGGER_KEYS_KEPT + 20; i++) keys = rememberTrigger(keys, `k@${i}`);
    assert.equal(keys!.length, TRIGGER_KEYS_KEPT);
    assert.equal(keys![0], 'k@20');
    assert.equal(seenTrigger(keys, `k@${TRIGGER_KEYS_KEPT + 19}`), true);
    assert.equal(seenTrigger(keys, 'k@19'), false, 'dropped');
    assert.equal(seenTrigger(undefined, 'k@1'), false);
    const again = rememberTrigger(['a', 'b', 'c'], 'a');
    assert.deepEqual(again, ['b', 'c', 'a']);
    assert.ok(TRIGGER_KEYS_KEPT >= 120, 'longer than the 2 h Notifications retries a delivery, at one message a minute');
  });

  test('stored and read back with the document; a malformed section is named and dropped, the rest kept', () => {
    const doc = { ...emptyStateDocument(), trigger: ['k@1', 'k@2'] };
    assert.deepEqual(decodeState(encodeState(doc), 'x').doc.trigger, ['k@1', 'k@2']);
    const v1 = (extra: object) => gzipSync(JSON.stringify({ ...emptyStateDocument(), ...extra }));
    for (const bad of ['k@1', [1], [''], Array.from({ length: TRIGGER_KEYS_KEPT + 1 }, (_, i) => `k@${i}`), ['x'.repeat(201)], {}]) {
      const decoded = decodeState(v1({ trigger: bad }), 'x');
      assert.deepEqual(Object.keys(decoded.replaced), ['trigger'], JSON.stringify(bad).slice(0, 60));
      assert.equal(decoded.doc.trigger, undefined);
    }
    assert.equal(isTriggerKeys([]), true);
  });
});
