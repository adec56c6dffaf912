/**
 * Verification of OCI request signatures (draft-cavage HTTP signatures, rsa-sha256), as the OCI
 * SDK's DefaultRequestSigner produces them, for both key kinds the project uses:
 * - resource principal: keyId `ST$<RPST>`, the RPST a JWT signed by a trusted issuer, carrying
 *   the session public key in its `jwk` claim;
 * - API key (config file): keyId `tenancy/user/fingerprint`, looked up in a table.
 * Failure messages never contain the token or any key material.
 */
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { apiKeyFingerprint } from './credentials';

/** Which kind of credential signed a request. */
export type AuthKind = 'resource-principal' | 'config' | 'none';

/** What the verifier needs to know about the trust setup and the clock. */
interface VerifierConfig {
  /** PEM public keys whose RS256 signatures on RPSTs are trusted. */
  trustedIssuers: string[];
  /** keyId (`tenancy/user/fingerprint`) -> PEM public key. */
  configKeys: Record<string, string>;
  maxClockSkewMs: number;
  now: () => number;
}

/** The request facts the verifier needs (the body already read in full). */
interface SignedRequest {
  method: string;
  /** Path and query exactly as received (`req.url`). */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A successful verification: who signed. */
export interface Principal {
  kind: Exclude<AuthKind, 'none'>;
  tenancyId: string;
  /** Resource id (RP) or user id (config). */
  subjectId: string;
  claims?: Record<string, unknown>;
}

/** A failed verification; kind tells what was attempted. */
export class AuthError extends Error {
  constructor(
    message: string,
    public readonly kind: AuthKind,
  ) {
    super(message);
  }
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Parse `Signature version="1",keyId="...",...` into its parameters. */
export function parseAuthorization(header: string | undefined): Record<string, string> {
  if (!header) throw new AuthError('Missing Authorization header: the request is not signed', 'none');
  const match = /^Signature\s+(.*)$/s.exec(header);
  if (!match) throw new AuthError('Authorization header is not an OCI Signature', 'none');
  const params: Record<string, string> = {};
  for (const m of match[1].matchAll(/([A-Za-z]+)="([^"]*)"/g)) params[m[1]] = m[2];
  return params;
}

/** The single value of a header (joined when repeated), or undefined. */
function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Rebuild the signing string from the signed header list, as http-signature builds it. */
function signingString(req: SignedRequest, signedHeaders: string[], kind: AuthKind = 'none'): string {
  return signedHeaders
    .map((h) => {
      if (h === '(request-target)') return `(request-target): ${req.method.toLowerCase()} ${req.url}`;
      const v = headerValue(req.headers, h);
      if (v === undefined || v === '') throw new AuthError(`Signed header '${h}' is missing from the request`, kind);
      return `${h}: ${v}`;
    })
    .join('\n');
}

/** Headers OCI requires to be signed for this method. */
function requiredSignedHeaders(method: string, bodySigned: boolean): string[] {
  const base = ['(request-target)', 'host'];
  return bodySigned && BODY_METHODS.has(method.toUpperCase()) ? [...base, 'content-type', 'content-length', 'x-content-sha256'] : base;
}

/** Check the signed header list covers what OCI requires (a date or x-date included). */
function checkSignedHeaderSet(method: string, signed: string[], kind: AuthKind, bodySigned: boolean): void {
  const missing = requiredSignedHeaders(method, bodySigned).filter((h) => !signed.includes(h));
  if (!signed.includes('date') && !signed.includes('x-date')) missing.unshift('date or x-date');
  if (missing.length > 0) throw new AuthError(`The signature must cover: ${missing.join(', ')}`, kind);
}

/** Check the signed request date (x-date when signed, else date) is within the allowed clock skew. */
function checkClock(req: SignedRequest, signed: string[], cfg: VerifierConfig, kind: AuthKind): void {
  const raw = headerValue(req.headers, signed.includes('x-date') ? 'x-date' : 'date');
  const at = raw === undefined ? NaN : Date.parse(raw);
  if (Number.isNaN(at)) throw new AuthError('The request has no valid date or x-date header', kind);
  const skew = at - cfg.now();
  if (Math.abs(skew) > cfg.maxClockSkewMs) {
    throw new AuthError(
      `The request date is ${Math.round(Math.abs(skew) / 1000)} s ${skew > 0 ? 'ahead of' : 'behind'} the server clock (at most ` +
        `${Math.round(cfg.maxClockSkewMs / 1000)} s allowed): check the client's clock`,
      kind,
    );
  }
}

/** Check x-content-sha256 and content-length against the body actually received. */
function checkBody(req: SignedRequest, kind: AuthKind): void {
  if (!BODY_METHODS.has(req.method.toUpperCase())) return;
  const sha = createHash('sha256').update(req.body).digest('base64');
  if (headerValue(req.headers, 'x-content-sha256') !== sha) throw new AuthError('x-content-sha256 does not match the request body', kind);
  if (headerValue(req.headers, 'content-length') !== String(req.body.length)) throw new AuthError('content-length does not match the request body', kind);
}

/** Parsed public keys by their PEM or JWK text: parsing costs more than the verification itself. */
const publicKeys = new Map<string, KeyObject>();
/** Most keys kept (issuers, sessions, API keys of a run); the cache starts over beyond. */
const MAX_CACHED_KEYS = 256;

/** The KeyObject of a PEM text or an RSA JWK (n, e); parsed once per distinct key. Throws when unusable. */
function publicKeyOf(key: string | { kty: string; n: string; e: string }): KeyObject {
  const id = typeof key === 'string' ? key : `${key.kty}.${key.n}.${key.e}`;
  let parsed = publicKeys.get(id);
  if (!parsed) {
    parsed = typeof key === 'string' ? createPublicKey(key) : createPublicKey({ key, format: 'jwk' });
    if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.clear();
    publicKeys.set(id, parsed);
  }
  return parsed;
}

/** Decode one base64url JWT segment as JSON. */
function decodeSegment(segment: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
  return parsed as Record<string, unknown>;
}

/** Verify an RPST (signature by a trusted issuer, expiry) and return its claims and session key. */
function verifyRpst(token: string, cfg: VerifierConfig): { claims: Record<string, unknown>; sessionKey: KeyObject } {
  const parts = token.split('.');
  if (parts.length !== 3) throw new AuthError('The session token is not a JWT', 'resource-principal');
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = decodeSegment(parts[0]);
    claims = decodeSegment(parts[1]);
  } catch {
    throw new AuthError('The session token cannot be decoded', 'resource-principal');
  }
  if (header.alg !== 'RS256') throw new AuthError(`The session token algorithm must be RS256`, 'resource-principal');
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2], 'base64url');
  const trusted = cfg.trustedIssuers.some((pem) => {
    try {
      return verify('sha256', data, publicKeyOf(pem), signature);
    } catch {
      return false;
    }
  });
  if (!trusted) throw new AuthError('The session token is not signed by a trusted issuer', 'resource-principal');
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= cfg.now()) throw new AuthError('The session token has expired', 'resource-principal');
  return { claims, sessionKey: sessionKeyFromClaims(claims) };
}

/** The session public key from the `jwk` claim (JSON text as OCI writes it, or an object). */
function sessionKeyFromClaims(claims: Record<string, unknown>): KeyObject {
  try {
    const jwk: unknown = typeof claims.jwk === 'string' ? JSON.parse(claims.jwk) : claims.jwk;
    if (typeof jwk !== 'object' || jwk === null) throw new Error('no jwk');
    const { kty, n, e } = jwk as Record<string, string>;
    return publicKeyOf({ kty, n, e });
  } catch {
    throw new AuthError('The session token carries no usable jwk claim', 'resource-principal');
  }
}

/** Resolve the public key and principal for a keyId. */
function resolveKey(keyId: string, cfg: VerifierConfig): { key: KeyObject; principal: Principal } {
  if (keyId.startsWith('ST$')) {
    const { claims, sessionKey } = verifyRpst(keyId.slice(3), cfg);
    const tenancyId = typeof claims.res_tenant === 'string' ? claims.res_tenant : '';
    if (!tenancyId) throw new AuthError('The session token has no res_tenant claim', 'resource-principal');
    const subjectId = typeof claims.res_id === 'string' ? claims.res_id : typeof claims.sub === 'string' ? claims.sub : '';
    return { key: sessionKey, principal: { kind: 'resource-principal', tenancyId, subjectId, claims } };
  }
  const pem = cfg.configKeys[keyId];
  const [tenancyId, userId, fingerprint] = keyId.split('/');
  if (!pem || !userId || !fingerprint) throw new AuthError(`Unknown API key id ${keyId}`, 'config');
  if (apiKeyFingerprint(pem) !== fingerprint) throw new AuthError(`The fingerprint in key id ${keyId} does not match the registered public key`, 'config');
  return { key: publicKeyOf(pem), principal: { kind: 'config', tenancyId, subjectId: userId } };
}

/** Kind of credential a keyId names, for reporting even when verification fails. */
export function authKindOf(keyId: string | undefined): AuthKind {
  if (!keyId) return 'none';
  return keyId.startsWith('ST$') ? 'resource-principal' : 'config';
}

/**
 * Verify a request's OCI signature end to end; throws AuthError, returns the principal.
 * `bodySigned: false` is for the APIs whose body OCI leaves out of the signature (Object Storage
 * PutObject): the body headers are then not required, but checked when they are signed.
 */
export function verifyRequest(req: SignedRequest, cfg: VerifierConfig, opts: { bodySigned?: boolean } = {}): Principal {
  const bodySigned = opts.bodySigned ?? true;
  const params = parseAuthorization(headerValue(req.headers, 'authorization'));
  const kind = authKindOf(params.keyId);
  if (params.version !== '1') throw new AuthError('The Signature must have version="1"', kind);
  if (!params.keyId) throw new AuthError('The Signature has no keyId', 'none');
  if ((params.algorithm ?? '').toLowerCase() !== 'rsa-sha256') throw new AuthError('The Signature algorithm must be rsa-sha256', kind);
  if (!params.signature) throw new AuthError('The Signature has no signature', kind);
  const signed = (params.headers ?? 'date').toLowerCase().split(/\s+/).filter(Boolean);
  checkSignedHeaderSet(req.method, signed, kind, bodySigned);
  checkClock(req, signed, cfg, kind);
  if (bodySigned || signed.includes('x-content-sha256')) checkBody(req, kind);
  const { key, principal } = resolveKey(params.keyId, cfg);
  const ok = verify('sha256', Buffer.from(signingString(req, signed, kind)), key, Buffer.from(params.signature, 'base64'));
  if (!ok) throw new AuthError('The signature does not verify with the public key of the keyId', kind);
  return principal;
}
