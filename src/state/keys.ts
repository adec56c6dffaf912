/**
 * What identifies a function's state, and a target within it: one home for both keys.
 *
 *   stateObjectName()  the state object of a function: a hash of everything that defines its
 *                      targets and where it posts (METRICS_ENDPOINT, the namespace and compartment,
 *                      the discovery settings that choose the instances and their URLs, and the
 *                      jobs of SCRAPE_CONFIG or the name of SCRAPE_CONFIG_OBJECT, and SHARD), so two
 *                      functions that scrape different fleets, or different shards of one, never share
 *                      one object. Changing any of them starts a new state object.
 *   targetStateKey()   a target's key in the state: its job, URL and resource id (a 10.0.0.5
 *                      address reused by another instance is another target).
 *
 * Both are hashes: a URL may carry credentials, and the state never does.
 */
import { createHash } from 'node:crypto';
import type { Settings } from '../config/settings';

/** What keys a target in the state (see the seam "Target identity" in TEAM.md: `job` absent/'' = the implicit job). */
interface TargetIdentity {
  job?: string;
  url: URL;
  resourceId?: string;
}

/** A hash of a string, cut to `length` characters. */
function hashOf(text: string, encoding: 'hex' | 'base64url', length: number): string {
  return createHash('sha256').update(text).digest(encoding).slice(0, length);
}

/** A target's key in the state; a target of the implicit job without a resource id keeps the key of its URL alone, as earlier versions stored it. */
export function targetStateKey(t: TargetIdentity): string {
  const job = t.job ?? '';
  const identity = job === '' && t.resourceId === undefined ? t.url.href : JSON.stringify([job, t.url.href, t.resourceId ?? '']);
  return hashOf(identity, 'base64url', 22);
}

/** The settings that decide which instances discovery finds and which URLs it scrapes on them (not how long it caches, nor the dimensions it adds). */
function discoveryIdentity(d: NonNullable<Settings['discovery']>): unknown[] {
  return [
    d.compartmentId,
    d.includeSubcompartments,
    d.tags,
    d.scheme,
    d.port,
    d.path,
    d.portTag,
    d.pathTag,
    d.vnic,
    d.computeEndpoint ?? '',
    d.identityEndpoint ?? '',
  ];
}

/** The settings stateObjectName reads. */
type StateIdentitySettings = Pick<Settings, 'endpoints' | 'namespace' | 'compartmentId' | 'discovery' | 'scrapeConfig' | 'scrapeConfigObject' | 'shard'>;

/** A Prometheus configuration's jobs as text (a relabel rule's regular expression by its source, a hashmod modulus, a bigint, as digits). */
function jobsIdentity(jobs: unknown): string {
  return JSON.stringify(jobs, (_key, value: unknown) => (value instanceof RegExp ? value.source : typeof value === 'bigint' ? value.toString() : value));
}

/** The name of a function's state object (see top); a settings-only function keeps the name earlier versions gave it. */
export function stateObjectName(s: StateIdentitySettings): string {
  const parts: unknown[] = [s.endpoints.map((u) => u.href).sort(), s.namespace, s.compartmentId ?? ''];
  if (s.discovery) parts.push(discoveryIdentity(s.discovery));
  // The jobs (SCRAPE_CONFIG) define the targets too: another configuration is another state.
  if (s.scrapeConfig) parts.push(jobsIdentity(s.scrapeConfig.jobs));
  // SCRAPE_CONFIG_OBJECT by its name, never its ETag or content: a changed file keeps its state (the targets' keys follow their jobs).
  if (s.scrapeConfigObject) parts.push(['SCRAPE_CONFIG_OBJECT', s.scrapeConfigObject.bucket, s.scrapeConfigObject.object]);
  // Each shard has its own object (its state, spool and trigger keys); one shard of one is every target, as without SHARD.
  if (s.shard && s.shard.count > 1) parts.push({ shard: [s.shard.index, s.shard.count] });
  return `prom2oci/state-${hashOf(JSON.stringify(parts), 'hex', 32)}.json.gz`;
}
