/** Vault Secrets' GetSecretBundle: stored secrets with versions, denied ids (no IAM policy), fetch counts. */
import type { CallRecord } from './calls';
import { HttpFailure } from './http';

export const SECRET_BUNDLE_PREFIX = '/20190301/secretbundles/';

/** Secret id -> plaintext value; every set() makes a new version (for rotation tests). */
export class SecretStore extends Map<string, string> {
  private readonly versions = new Map<string, number>();

  /** Store a new version of a secret. */
  override set(secretId: string, value: string): this {
    this.versions?.set(secretId, (this.versions.get(secretId) ?? 0) + 1);
    return super.set(secretId, value);
  }

  /** Current version number of a secret (1 after the first set). */
  version(secretId: string): number {
    return this.versions.get(secretId) ?? 0;
  }
}

/** The Vault Secrets service of the emulator. */
export class SecretsService {
  /** Secret id -> plaintext value served by GetSecretBundle. */
  readonly secrets = new SecretStore();
  /** Secret ids that answer 404 NotAuthorizedOrNotFound even when present (no IAM policy). */
  readonly denied = new Set<string>();
  /** Secret id -> number of GetSecretBundle calls for it. */
  readonly fetchCounts = new Map<string, number>();

  /** GetSecretBundle after authentication. */
  getSecretBundle(path: string, call: CallRecord, now: number): { status: number; body: unknown; headers: Record<string, string> } {
    let secretId: string;
    try {
      secretId = decodeURIComponent(path.slice(SECRET_BUNDLE_PREFIX.length));
    } catch {
      throw new HttpFailure(400, 'InvalidParameter', 'The secret id is not valid URL encoding');
    }
    call.secretId = secretId;
    this.fetchCounts.set(secretId, (this.fetchCounts.get(secretId) ?? 0) + 1);
    const value = this.secrets.get(secretId);
    if (value === undefined || this.denied.has(secretId)) {
      throw new HttpFailure(404, 'NotAuthorizedOrNotFound', 'Authorization failed or requested resource not found');
    }
    const version = this.secrets.version(secretId);
    const bundle = {
      secretId,
      versionNumber: version,
      stages: ['CURRENT', 'LATEST'],
      timeCreated: new Date(now).toISOString(),
      secretBundleContent: { contentType: 'BASE64', content: Buffer.from(value, 'utf8').toString('base64') },
    };
    return { status: 200, body: bundle, headers: { etag: `${secretId}-v${version}` } };
  }
}
