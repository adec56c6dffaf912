/**
 * De-duplication of the trigger's messages. Notifications may deliver one alarm message to the
 * function more than once (a function subscription can be invoked twice for one message, and a
 * delivery that failed or timed out is retried for up to 2 hours); Oracle's advice is to
 * de-duplicate on the message's `dedupeKey` together with `timestampEpochMillis` (every minute's
 * REPEAT keeps the dedupeKey and has its own timestamp). The keys of the last messages run are
 * kept in the state document (`trigger`), so a message seen again is answered without a second run.
 */

/** Keys kept: three hours of one message a minute, beyond Notifications' 2-hour retry window. */
export const TRIGGER_KEYS_KEPT = 180;
/** The longest key kept (a dedupeKey is a UUID-like id: a longer one is not de-duplicated). */
const MAX_TRIGGER_KEY_LENGTH = 200;

/** The key of one trigger message, or undefined when the message cannot be told apart (not de-duplicated). */
export function triggerKey(dedupeKey: string, timestampEpochMillis: number): string | undefined {
  const key = `${dedupeKey}@${timestampEpochMillis}`;
  return dedupeKey !== '' && Number.isSafeInteger(timestampEpochMillis) && key.length <= MAX_TRIGGER_KEY_LENGTH ? key : undefined;
}

/** True when v is a stored list of trigger keys (what the state document's `trigger` section may hold). */
export function isTriggerKeys(v: unknown): v is string[] {
  return Array.isArray(v) && v.length <= TRIGGER_KEYS_KEPT && v.every((k) => typeof k === 'string' && k.length > 0 && k.length <= MAX_TRIGGER_KEY_LENGTH);
}

/** True when the message with this key was run already. */
export function seenTrigger(keys: readonly string[] | undefined, key: string): boolean {
  return keys?.includes(key) ?? false;
}

/** The keys to store after running the message `key`: it last, the oldest dropped beyond TRIGGER_KEYS_KEPT. */
export function rememberTrigger(keys: readonly string[] | undefined, key: string): string[] {
  return [...(keys ?? []).filter((k) => k !== key), key].slice(-TRIGGER_KEYS_KEPT);
}
