/**
 * OCI clients and auth: created once per warm container, reused by every invocation.
 * The SDK packages are required lazily: loading them costs ~0.2 s, which must not delay the
 * Fn socket becoming ready (cold start), and a dry run never needs them.
 */
import type * as commonT from 'oci-common';
import type * as monitoringT from 'oci-monitoring';
import type * as objectStorageT from 'oci-objectstorage';
import type * as secretsT from 'oci-secrets';
import type * as coreT from 'oci-core';
import type * as identityT from 'oci-identity';
import { ConfigError, type DiscoverySettings, type Env, type Settings } from '../config/settings';
import { safeMessage } from '../util/redact';
import { currentCallSignal, currentResponseSeen, httpOptions } from './call-signal';
import { NodeHttpClient } from './node-http-client';

/** Loads oci-common on first use. */
function loadCommon(): typeof commonT {
  return require('oci-common') as typeof commonT;
}

type AuthKind = 'resource-principal' | 'config-file';

export interface OciAuth {
  kind: AuthKind;
  provider: commonT.AuthenticationDetailsProvider & commonT.RegionProvider;
  regionId: string;
}

/** Resource principal inside OCI Functions, else the OCI config file; errors name the setting. */
export function createAuth(env: Env): OciAuth {
  const common = loadCommon();
  if (env.OCI_RESOURCE_PRINCIPAL_VERSION) {
    if (env.OCI_RESOURCE_PRINCIPAL_VERSION !== '2.2') {
      throw new ConfigError('OCI_RESOURCE_PRINCIPAL_VERSION', `version "${env.OCI_RESOURCE_PRINCIPAL_VERSION}" is not supported (the OCI SDK supports 2.2)`);
    }
    for (const key of ['OCI_RESOURCE_PRINCIPAL_RPST', 'OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM', 'OCI_RESOURCE_PRINCIPAL_REGION']) {
      if (!env[key]) throw new ConfigError(key, 'is required for resource-principal auth (set by OCI Functions)');
    }
    let provider: commonT.ResourcePrincipalAuthenticationDetailsProvider;
    try {
      provider = common.ResourcePrincipalAuthenticationDetailsProvider.builder();
    } catch (e) {
      throw new ConfigError('OCI_RESOURCE_PRINCIPAL_RPST', `resource-principal credentials could not be loaded: ${safeMessage(e)}`);
    }
    return { kind: 'resource-principal', provider, regionId: env.OCI_RESOURCE_PRINCIPAL_REGION! };
  }
  const path = env.OCI_CONFIG_FILE || undefined;
  const profile = env.OCI_CONFIG_PROFILE || 'DEFAULT';
  let provider: commonT.ConfigFileAuthenticationDetailsProvider;
  try {
    provider = new common.ConfigFileAuthenticationDetailsProvider(path, profile);
  } catch (e) {
    throw new ConfigError(
      path ? 'OCI_CONFIG_FILE' : 'OCI_CONFIG_FILE',
      `no usable OCI config (${path ?? '~/.oci/config'}, profile ${profile}): ${safeMessage(e)}; outside OCI Functions set OCI_CONFIG_FILE/OCI_CONFIG_PROFILE`,
    );
  }
  const region = provider.getRegion();
  if (!region) throw new ConfigError('OCI_CONFIG_FILE', `profile ${profile} has no region`);
  return { kind: 'config-file', provider, regionId: region.regionId };
}

/** The telemetry-ingestion endpoint for a region, in every realm (e.g. oraclecloud.com, oraclegovcloud.com). */
function ingestionEndpoint(regionId: string): string {
  return loadCommon().EndpointBuilder.createEndpointFromRegionId('https://telemetry-ingestion.{region}.{secondLevelDomain}', regionId, '');
}

/** The Vault secrets endpoint for a region. */
function secretsEndpoint(regionId: string): string {
  return loadCommon().EndpointBuilder.createEndpointFromRegionId('https://secrets.vaults.{region}.oci.{secondLevelDomain}', regionId, '');
}

/** Client options: our own retries and timeouts, never the SDK's silent circuit breaker. */
function clientConfiguration(): commonT.ClientConfiguration {
  const common = loadCommon();
  return {
    retryConfiguration: common.NoRetryConfigurationDetails,
    circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
    httpOptions,
  };
}

/** A MonitoringClient pointed at the ingestion endpoint (or the override). */
export function createMonitoringClient(auth: OciAuth, settings: Pick<Settings, 'monitoringEndpoint'>): monitoringT.MonitoringClient {
  const monitoring = require('oci-monitoring') as typeof monitoringT;
  const common = loadCommon();
  const httpClient = new NodeHttpClient(new common.DefaultRequestSigner(auth.provider), currentCallSignal, currentResponseSeen);
  const client = new monitoring.MonitoringClient({ httpClient: httpClient as unknown as commonT.HttpClient }, clientConfiguration());
  // Set after construction: region setters overwrite the endpoint with telemetry.<region> (query host).
  client.endpoint = settings.monitoringEndpoint ?? ingestionEndpoint(auth.regionId);
  return client;
}

/** A SecretsClient pointed at the Vault secrets endpoint (or the override). */
export function createSecretsClient(auth: OciAuth, settings: Pick<Settings, 'secretsEndpoint'>): secretsT.SecretsClient {
  const secrets = require('oci-secrets') as typeof secretsT;
  const client = new secrets.SecretsClient({ authenticationDetailsProvider: auth.provider }, clientConfiguration());
  client.endpoint = settings.secretsEndpoint ?? secretsEndpoint(auth.regionId);
  return client;
}

/** The Object Storage endpoint for a region. */
function objectStorageEndpoint(regionId: string): string {
  return loadCommon().EndpointBuilder.createEndpointFromRegionId('https://objectstorage.{region}.{secondLevelDomain}', regionId, '');
}

/** An ObjectStorageClient pointed at the regional endpoint (or the override); loaded only when the state is on. */
export function createObjectStorageClient(auth: OciAuth, settings: Pick<Settings, 'objectStorageEndpoint'>): objectStorageT.ObjectStorageClient {
  const objectStorage = require('oci-objectstorage') as typeof objectStorageT;
  const client = new objectStorage.ObjectStorageClient({ authenticationDetailsProvider: auth.provider }, clientConfiguration());
  client.endpoint = settings.objectStorageEndpoint ?? objectStorageEndpoint(auth.regionId);
  return client;
}

/** The Compute/VCN (iaas) endpoint for a region. */
function computeEndpoint(regionId: string): string {
  return loadCommon().EndpointBuilder.createEndpointFromRegionId('https://iaas.{region}.{secondLevelDomain}', regionId, '');
}

/** The Identity endpoint for a region. */
function identityEndpoint(regionId: string): string {
  return loadCommon().EndpointBuilder.createEndpointFromRegionId('https://identity.{region}.oci.{secondLevelDomain}', regionId, '');
}

/**
 * The clients discovery calls: oci-core (Compute, VCN) and, for sub-compartments only,
 * oci-identity. Both are required here, on first discovery, never at cold start.
 */
export function createDiscoveryClients(
  auth: OciAuth,
  d: DiscoverySettings,
): { compute: coreT.ComputeClient; network: coreT.VirtualNetworkClient; identity?: identityT.IdentityClient } {
  const core = require('oci-core') as typeof coreT;
  const params = { authenticationDetailsProvider: auth.provider };
  const compute = new core.ComputeClient(params, clientConfiguration());
  const network = new core.VirtualNetworkClient(params, clientConfiguration());
  compute.endpoint = d.computeEndpoint ?? computeEndpoint(auth.regionId);
  network.endpoint = d.computeEndpoint ?? computeEndpoint(auth.regionId);
  if (!d.includeSubcompartments) return { compute, network };
  const identityPkg = require('oci-identity') as typeof identityT;
  const identity = new identityPkg.IdentityClient(params, clientConfiguration());
  identity.endpoint = d.identityEndpoint ?? identityEndpoint(auth.regionId);
  return { compute, network, identity };
}
