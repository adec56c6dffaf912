/**
 * The scrape bearer token, read from an OCI Vault secret and cached while the container is warm.
 * The token never leaves this module except as the Authorization header of a scrape.
 */
import type * as secretsT from 'oci-secrets';
import { safeMessage } from '../util/redact';
import { secretStatement } from './iam';
import { withCallSignal } from './call-signal';

/** A token that could not be obtained; the message names the secret's problem, never its content. */
class SecretError extends Error {
  override name = 'SecretError';
}

/** Reads the secret's current version as text. */
type SecretReader = (signal: AbortSignal) => Promise<string>;

/** Caches a bearer token for ttlMs; after a failed refresh a previous token is reused (and said so). */
export class BearerTokenSource {
  private cached?: { token: string; fetchedAt: number };
  constructor(
    private readonly read: SecretReader,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The token, from cache while fresh. */
  async get(signal: AbortSignal): Promise<{ token: string; stale?: string }> {
    const c = this.cached;
    if (c && this.now() - c.fetchedAt < this.ttlMs) return { token: c.token };
    try {
      const token = normaliseToken(await this.read(signal));
      this.cached = { token, fetchedAt: this.now() };
      return { token };
    } catch (e) {
      const message = e instanceof SecretError ? e.message : `bearer token secret could not be read: ${safeMessage(e)}`;
      if (c) return { token: c.token, stale: message };
      throw new SecretError(message);
    }
  }
}

/** Trims the trailing newline editors and `echo` add; an empty token is an error. */
function normaliseToken(raw: string): string {
  const token = raw.replace(/[\r\n]+$/, '').trim();
  if (token === '') throw new SecretError('the bearer token secret is empty');
  if (/[\r\n]/.test(token)) throw new SecretError('the bearer token secret has several lines; it must hold only the token');
  // An Authorization header carries visible ASCII only; say so here rather than fail every scrape.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new SecretError('the bearer token secret has spaces or characters that cannot be sent in an HTTP header');
  return token;
}

/** A SecretReader using the real oci-secrets client; `dynamicGroup` (FUNCTION_DYNAMIC_GROUP) is named in the IAM hint. */
export function sdkSecretReader(client: secretsT.SecretsClient, secretId: string, dynamicGroup?: string): SecretReader {
  return async (signal) => {
    let res: secretsT.responses.GetSecretBundleResponse;
    try {
      res = await withCallSignal(signal, () => client.getSecretBundle({ secretId }));
    } catch (e) {
      if (signal.aborted) throw new SecretError('bearer token secret could not be read: OCI Vault did not answer in time');
      const status = (e as { statusCode?: number }).statusCode;
      if (status === 404) {
        throw new SecretError(`secret ${secretId} not found or not authorised (needs "${secretStatement(dynamicGroup, secretId)}")`);
      }
      if (status === 401) throw new SecretError("not authenticated to OCI Vault (check the function's resource principal)");
      if (!status) {
        // No HTTP answer at all; the SDK drops fetch's cause, so give the usual reasons.
        throw new SecretError(
          `bearer token secret could not be read: network error (${safeMessage(e)}): check OCI_SECRETS_ENDPOINT, and that the function's subnet ` +
            `reaches OCI services through a service gateway or NAT gateway`,
        );
      }
      throw new SecretError(`bearer token secret could not be read: HTTP ${status} ${safeMessage(e)}`);
    }
    const content = res.secretBundle.secretBundleContent as { contentType?: string; content?: string } | undefined;
    if (!content || content.contentType !== 'BASE64' || typeof content.content !== 'string') {
      throw new SecretError(`secret ${secretId} has no BASE64 content`);
    }
    return Buffer.from(content.content, 'base64').toString('utf8');
  };
}
