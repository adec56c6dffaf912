/** What may be shown of values that can carry credentials: URLs and error messages. */

/** Query parameters whose values are credentials (e.g. ?access_token=...). */
const SECRET_QUERY_PARAM_RE = /([?&])([^=&#\s]*(?:token|secret|passw|key|auth|sig|credential)[^=&#\s]*)=[^&#\s]*/gi;

/** A URL-looking string as it may be shown: no user:password, credential-like query values "redacted". */
export function redactUrl(u: string): string {
  return u.replace(/\/\/[^/@\s]*@/, '//').replace(SECRET_QUERY_PARAM_RE, '$1$2=redacted');
}

/** An error's message without stack or key material, trimmed for a log line. */
export function safeMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : typeof e === 'object' && e && 'message' in e ? String((e as { message: unknown }).message) : String(e);
  return m.replace(/-----BEGIN[\s\S]*?-----END[^-]*-----/g, '[key]').split('\n')[0]!.slice(0, 300);
}
