/**
 * Locally generated OCI credentials for tests and the local demo: a resource-principal session
 * token (RPST, a JWT like OCI's) with its session key, and an ~/.oci/config-style profile.
 * Nothing here talks to OCI; the emulator trusts the self-made issuer key instead.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject, randomBytes, sign } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

/** An RSA key pair as PEM text (SPKI public, PKCS#8 private). */
interface RsaPemPair {
  publicKeyPem: string;
  privateKeyPem: string;
}

/** What makeResourcePrincipal returns. */
export interface ResourcePrincipalCredentials {
  /** The OCI_RESOURCE_PRINCIPAL_* variables that the SDK's builder reads. */
  env: Record<string, string>;
  /** PEM public key of the self-made issuer: give it to the emulator as a trusted issuer. */
  issuerPublicKeyPem: string;
  /** The session private key (for tests only; never log it). */
  privateKeyPem: string;
  /** Absolute paths of the written files. */
  rpstPath: string;
  privateKeyPath: string;
  /** The claims written into the token. */
  claims: RpstClaims;
  /** Re-issue the token (same session key) with a new lifetime, rewriting the RPST file. */
  renew(ttlSeconds: number): Promise<string>;
}

/** Options of makeResourcePrincipal. */
interface ResourcePrincipalOptions {
  region?: string;
  tenancyId?: string;
  compartmentId?: string;
  /** Token lifetime from now (default 3600 s; negative gives an already expired token). */
  ttlSeconds?: number;
  /** Sign with this issuer key instead of a fresh one (e.g. to share one trusted issuer). */
  issuer?: RsaPemPair;
}

/** The claims of a self-made RPST (a subset of what OCI puts in a real one). */
interface RpstClaims {
  sub: string;
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  ttype: string;
  ptype: string;
  res_type: string;
  res_id: string;
  res_tenant: string;
  res_compartment: string;
  /** JSON text of the session public key as a JWK, as OCI writes it. */
  jwk: string;
  [claim: string]: string | number;
}

/** What makeConfigFile returns. */
export interface ConfigFileCredentials {
  configPath: string;
  keyPath: string;
  profile: string;
  /** `tenancy/user/fingerprint`, the key id the SDK signs with. */
  keyId: string;
  publicKeyPem: string;
  tenancyId: string;
  userId: string;
  fingerprint: string;
}

/** Generate a 2048-bit RSA key pair as PEM text. */
export async function generateRsaPemPair(): Promise<RsaPemPair> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** A made-up but OCID-shaped identifier, e.g. ocid1.tenancy.oc1..aaaa... */
function fakeOcid(kind: string, region = ''): string {
  const unique = randomBytes(20).toString('hex').slice(0, 40);
  return `ocid1.${kind}.oc1.${region}.aaaaaaaa${unique}`;
}

/** base64url of a buffer or UTF-8 string (JWT segments). */
function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

/** Sign a JWT (RS256) over the given claims with the issuer's private key. */
function signJwt(claims: Record<string, unknown>, issuerPrivateKeyPem: string, kid = 'asw'): string {
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
  const payload = base64url(JSON.stringify(claims));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), createPrivateKey(issuerPrivateKeyPem));
  return `${header}.${payload}.${base64url(signature)}`;
}

/** The JWK (as OCI embeds it in security tokens) for an RSA public key. */
function publicKeyJwk(publicKey: KeyObject | string, kid: string): Record<string, string> {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const jwk = key.export({ format: 'jwk' });
  return { kid, n: String(jwk.n), e: String(jwk.e), kty: 'RSA', alg: 'RS256', use: 'sig' };
}

/** OCI's API key fingerprint: MD5 of the DER SubjectPublicKeyInfo, colon-separated hex. */
export function apiKeyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  const hex = createHash('md5').update(der).digest('hex');
  return hex.match(/../g)!.join(':');
}

/** Claims of a resource-principal session token for a function in the given tenancy. */
function rpstClaims(tenancyId: string, compartmentId: string, sessionPublicKeyPem: string, ttlSeconds: number): RpstClaims {
  const now = Math.floor(Date.now() / 1000);
  const resourceId = fakeOcid('fnfunc');
  return {
    sub: resourceId,
    iss: 'authService.oracle.com',
    aud: 'oci',
    iat: now,
    exp: now + ttlSeconds,
    jti: randomBytes(16).toString('hex'),
    ttype: 'res',
    ptype: 'resource',
    res_type: 'fnfunc',
    res_id: resourceId,
    res_tenant: tenancyId,
    res_compartment: compartmentId,
    jwk: JSON.stringify(publicKeyJwk(sessionPublicKeyPem, 'sessionKey')),
  };
}

/**
 * Write an RPST and its session private key into dir, as OCI Functions mounts them, and return the
 * environment that makes `ResourcePrincipalAuthenticationDetailsProvider.builder()` use them.
 * The token file has no trailing newline: the SDK reads it verbatim into the key id.
 */
export async function makeResourcePrincipal(dir: string, opts: ResourcePrincipalOptions = {}): Promise<ResourcePrincipalCredentials> {
  const absDir = resolve(dir);
  await mkdir(absDir, { recursive: true });
  const issuer = opts.issuer ?? (await generateRsaPemPair());
  const session = await generateRsaPemPair();
  const tenancyId = opts.tenancyId ?? fakeOcid('tenancy');
  const compartmentId = opts.compartmentId ?? fakeOcid('compartment');
  const rpstPath = resolve(absDir, 'rpst');
  const privateKeyPath = resolve(absDir, 'private.pem');
  const claims = rpstClaims(tenancyId, compartmentId, session.publicKeyPem, opts.ttlSeconds ?? 3600);
  await writeFile(rpstPath, signJwt(claims, issuer.privateKeyPem), { mode: 0o600 });
  await writeFile(privateKeyPath, session.privateKeyPem, { mode: 0o600 });
  const renew = async (ttlSeconds: number): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    Object.assign(claims, { iat: now, exp: now + ttlSeconds, jti: randomBytes(16).toString('hex') });
    const token = signJwt(claims, issuer.privateKeyPem);
    await writeFile(rpstPath, token, { mode: 0o600 });
    return token;
  };
  return {
    env: {
      OCI_RESOURCE_PRINCIPAL_VERSION: '2.2',
      OCI_RESOURCE_PRINCIPAL_RPST: rpstPath,
      OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM: privateKeyPath,
      OCI_RESOURCE_PRINCIPAL_REGION: opts.region ?? 'us-ashburn-1',
    },
    issuerPublicKeyPem: issuer.publicKeyPem,
    privateKeyPem: session.privateKeyPem,
    rpstPath,
    privateKeyPath,
    claims,
    renew,
  };
}

/**
 * Write an ~/.oci/config-style file (one profile) and its API private key into dir. The key id
 * (`tenancy/user/fingerprint`) and public key are returned for the emulator's `configKeys`.
 */
export async function makeConfigFile(dir: string, opts: { profile?: string; region?: string } = {}): Promise<ConfigFileCredentials> {
  const absDir = resolve(dir);
  await mkdir(absDir, { recursive: true });
  const { publicKeyPem, privateKeyPem } = await generateRsaPemPair();
  const profile = opts.profile ?? 'DEFAULT';
  const tenancyId = fakeOcid('tenancy');
  const userId = fakeOcid('user');
  const fingerprint = apiKeyFingerprint(publicKeyPem);
  const keyPath = resolve(absDir, 'oci_api_key.pem');
  const configPath = resolve(absDir, 'config');
  await writeFile(keyPath, privateKeyPem, { mode: 0o600 });
  const lines = [
    `[${profile}]`,
    `user=${userId}`,
    `fingerprint=${fingerprint}`,
    `tenancy=${tenancyId}`,
    `region=${opts.region ?? 'us-ashburn-1'}`,
    `key_file=${keyPath}`,
    '',
  ];
  await writeFile(configPath, lines.join('\n'), { mode: 0o600 });
  return { configPath, keyPath, profile, keyId: `${tenancyId}/${userId}/${fingerprint}`, publicKeyPem, tenancyId, userId, fingerprint };
}
