/**
 * The invocation body: empty, or a JSON object. Known keys are type-checked; unknown keys are
 * ignored, so a Notifications alarm message (the alarm-based schedule) triggers a normal run. An
 * alarm message's `dedupeKey` and `timestampEpochMillis` make the run trigger-originated: keyed
 * for de-duplication (src/state/trigger.ts), and answered 200 when it delivers nothing.
 */
import { triggerKey } from '../state/trigger';

/** What a caller may ask of one invocation. */
interface InvocationRequest {
  dryRun?: boolean;
  /** The trigger message's key (`dedupeKey@timestampEpochMillis`): the run was invoked by the alarm trigger. */
  trigger?: string;
}

/** A body the function cannot act on; nothing is scraped or posted. */
export class InvocationError extends Error {
  override name = 'InvocationError';
}

/** Parses the raw body of an invocation. */
export function parseInvocationBody(body: string | Buffer | undefined): InvocationRequest {
  const text = (Buffer.isBuffer(body) ? body.toString('utf8') : (body ?? '')).trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvocationError(
      `the invocation body is not JSON (send nothing, or e.g. {"dryRun": true}); got "${text.slice(0, 40)}${text.length > 40 ? '...' : ''}"`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvocationError('the invocation body must be a JSON object, e.g. {"dryRun": true}');
  }
  const obj = value as Record<string, unknown>;
  const out: InvocationRequest = {};
  if ('dryRun' in obj) {
    if (typeof obj.dryRun !== 'boolean') throw new InvocationError(`"dryRun" must be true or false (a JSON boolean), got ${JSON.stringify(obj.dryRun)}`);
    out.dryRun = obj.dryRun;
  }
  // A Notifications message: both fields as Oracle documents them, else not de-duplicated (a normal run).
  if (typeof obj.dedupeKey === 'string' && typeof obj.timestampEpochMillis === 'number') {
    const key = triggerKey(obj.dedupeKey, obj.timestampEpochMillis);
    if (key !== undefined) out.trigger = key;
  }
  return out;
}
