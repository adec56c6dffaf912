import { createHash } from 'node:crypto';

/** A target's key in the state: a hash of its URL (a URL may carry credentials; the state never does). */
export function targetStateKey(url: URL): string {
  return createHash('sha256').update(url.href).digest('base64url').slice(0, 22);
}
