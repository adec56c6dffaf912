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

/**
 * Credentials a server may echo in an error (OCI answering with the request's Authorization header,
 * a proxy quoting it): each pattern is replaced by "[redacted]", keeping the name before it.
 *  - an auth scheme and its credential (Signature with its parameters; Bearer, Basic, Token, Digest);
 *  - a header that carries a credential, up to the end of the quoted string or line;
 *  - a Signature parameter holding the key id (a resource-principal keyId is `ST$` + the session token) or the signature;
 *  - any JWT (resource-principal session tokens, instance-principal and OAuth tokens: base64url
 *    `eyJ...` header, payload and signature).
 */
const TOKEN_PATTERNS: readonly (readonly [RegExp, string])[] = [
  [/\b(Signature)\s+(?:[a-zA-Z]+=\\?"[^"\\]*\\?",?\s*)+/g, '$1 [redacted] '],
  [/\b((?:proxy-)?authorization|x-api-key|opc-obo-token|x-auth-token|cookie)(\\?["']?\s*[:=]\s*\\?["']?)[^"'\\\r\n]*/gi, '$1$2[redacted]'],
  [/\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9\-._~+/=$:]{8,}/g, '$1 [redacted]'],
  [/\b(keyId|signature|access_token|id_token|refresh_token|token|password|secret)(\s*[:=]\s*\\?["']?)[^"'\\\s,&;]+/gi, '$1$2[redacted]'],
  [/\bST\$[A-Za-z0-9\-_.=]+/g, '[redacted]'],
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.?[A-Za-z0-9_-]*/g, '[redacted]'],
];

/** A text with the credentials of TOKEN_PATTERNS replaced. */
export function redactTokens(text: string): string {
  let out = text;
  for (const [re, by] of TOKEN_PATTERNS) out = out.replace(re, by);
  return out;
}

/** An error's message without stack, key material or credentials echoed by a server, trimmed for a log line. */
export function safeMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : typeof e === 'object' && e && 'message' in e ? String(e.message) : String(e);
  // Redacted before it is cut: a token cut in two would escape its pattern.
  return redactTokens(m.replace(/-----BEGIN[\s\S]*?-----END[^-]*-----/g, '[key]'))
    .split('\n')[0]
    .slice(0, 300);
}
