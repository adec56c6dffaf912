/** What may be shown of values that can carry credentials: URLs and error messages. */

/** Query parameters whose values are credentials (e.g. ?access_token=..., ?pwd=..., ?X-Amz-Signature=...). */
const SECRET_QUERY_PARAM_RE = /([?&;])([^=&;#\s]*(?:token|secret|pass|pwd|key|auth|sig|credential|session|jwt|bearer|cookie|private)[^=&;#\s]*)=[^&;#\s]*/gi;

/**
 * A URL as it may be shown anywhere (messages, logs, summaries, self-metric dimensions): no
 * user:password, no credential-like query values. The one redaction for every URL that can reach
 * an output. A string that does not parse is redacted as text: everything from "//" to the last
 * "@" goes, since an unencoded password may hold "/", "?" or "#" (and then hides the host too).
 */
export function redactUrl(u: string | URL): string {
  const text = typeof u === 'string' ? u : u.href;
  let parsed: URL | undefined;
  try {
    parsed = typeof u === 'string' ? new URL(u) : new URL(u.href);
  } catch {
    parsed = undefined;
  }
  let out: string;
  if (parsed && /^https?:$/.test(parsed.protocol)) {
    parsed.username = '';
    parsed.password = '';
    // "http://us/er:pw@host" parses as host "us" with "@" in the path: what was meant is a password.
    const href = parsed.href;
    const queryAt = href.search(/[?#]/);
    const head = queryAt < 0 ? href : href.slice(0, queryAt);
    out = stripUserinfo(head) + (queryAt < 0 ? '' : href.slice(queryAt));
  } else {
    out = stripUserinfo(text);
  }
  return out.replace(SECRET_QUERY_PARAM_RE, '$1$2=redacted');
}

/** Removes everything from "//" to the last "@" after it. */
function stripUserinfo(s: string): string {
  const slashes = s.indexOf('//');
  const at = s.lastIndexOf('@');
  return slashes >= 0 && at > slashes ? s.slice(0, slashes + 2) + s.slice(at + 1) : s;
}

/** An error's message without stack or key material, trimmed for a log line. */
export function safeMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : typeof e === 'object' && e && 'message' in e ? String(e.message) : String(e);
  return m
    .replace(/-----BEGIN[\s\S]*?-----END[^-]*-----/g, '[key]')
    .split('\n')[0]
    .slice(0, 300);
}
