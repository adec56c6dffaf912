/**
 * Discovery, OCI part: lists the compartment's (and optionally its sub-compartments') RUNNING
 * instances with the SDK, keeps those that carry the tag filter, and finds each one's chosen VNIC
 * private IP. Calls, in order:
 *   Identity ListCompartments (sub-compartments only, one level at a time: the subtree flag works
 *   only on the tenancy), then per compartment Compute ListInstances (lifecycleState=RUNNING) and
 *   Compute ListVnicAttachments side by side, then VCN GetVnic per attachment of a matching
 *   instance not seen before (a VNIC's private IP does not change, so it is cached).
 * Every list follows opc-next-page to the end. A call answered 429 or 5xx, or without an answer,
 * is tried again with back-off (the SDK's own retries are off) up to DISCOVERY_CALL_ATTEMPTS times
 * while the discovery's time lasts; a call that still fails fails the whole discovery (a half
 * list would make the missing instances look terminated). An instance listed twice (it changed
 * state between two pages, or moved compartment) is one instance: lists are de-duplicated by OCID.
 */
import type * as coreT from 'oci-core';
import type * as identityT from 'oci-identity';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DiscoverySettings } from '../config/settings';
import { withCallSignal } from '../oci/call-signal';
import { backoffMs } from '../publish/publisher';
import type { DiscoveryOperation } from '../oci/iam';
import { safeMessage } from '../util/redact';
import { mapConcurrently } from '../util/concurrency';
import { matchesTags, type DiscoveredInstance } from './targets';

/** OCI API calls discovery keeps in flight at once. */
export const DISCOVERY_CALL_CONCURRENCY = 32;
/** Page size asked for (OCI's list calls accept 1-1000; 100 is every list call's default). */
const DISCOVERY_PAGE_LIMIT = 100;
/** Attempts of one call answered 429, 5xx or not at all (the back-off between them is the publisher's). */
const DISCOVERY_CALL_ATTEMPTS = 4;

/** The SDK clients discovery uses; identity only when sub-compartments are included. */
export interface DiscoveryClients {
  compute: Pick<coreT.ComputeClient, 'listInstances' | 'listVnicAttachments'>;
  network: Pick<coreT.VirtualNetworkClient, 'getVnic'>;
  identity?: Pick<identityT.IdentityClient, 'listCompartments'>;
}

/** A discovery call that failed; says which call, OCI's status and message (the grant it needs: src/oci/iam.ts). */
export class DiscoveryError extends Error {
  override name = 'DiscoveryError';
  constructor(
    readonly operation: DiscoveryOperation,
    readonly compartmentId: string,
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
  }

  /** True when OCI said the caller may not (404 NotAuthorizedOrNotFound, 401, 403): a policy is missing. */
  get isAuthorization(): boolean {
    return this.status === 401 || this.status === 403 || this.status === 404;
  }
}

/** A VNIC's facts discovery needs, cached by VNIC id. */
export interface VnicFacts {
  privateIp?: string;
  isPrimary: boolean;
  displayName: string;
}

/** The HTTP status and OCI service code of an SDK error, when it has them. */
function statusOf(e: unknown): { status?: number; code?: string } {
  const r = (e ?? {}) as { statusCode?: unknown; serviceCode?: unknown };
  return { status: typeof r.statusCode === 'number' ? r.statusCode : undefined, code: typeof r.serviceCode === 'string' ? r.serviceCode : undefined };
}

/** True for what a later attempt may not meet: throttling, a server error, or no answer at all (every discovery call is a read). */
function worthRetrying(status: number | undefined): boolean {
  return status === undefined || status === 429 || status >= 500;
}

/** The DiscoveryError of a call the discovery's signal ended. */
function unfinished(op: DiscoveryOperation, compartmentId: string, signal: AbortSignal): DiscoveryError {
  const reason = signal.reason instanceof Error ? signal.reason.message : 'aborted';
  return new DiscoveryError(op, compartmentId, undefined, `${op} did not finish: ${reason}`);
}

/**
 * Runs one SDK call under the discovery's signal, again after a 429, 5xx or network error (at most
 * DISCOVERY_CALL_ATTEMPTS in all, back-off between them); a final failure is a DiscoveryError.
 * `attempted` is told of each attempt (the report's call count).
 */
async function call<T>(op: DiscoveryOperation, compartmentId: string, signal: AbortSignal, fn: () => Promise<T>, attempted: () => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    attempted();
    try {
      return await withCallSignal(signal, fn);
    } catch (e) {
      if (signal.aborted) throw unfinished(op, compartmentId, signal);
      const { status, code } = statusOf(e);
      if (worthRetrying(status) && attempt < DISCOVERY_CALL_ATTEMPTS) {
        await sleep(backoffMs(attempt, Math.random), undefined, { signal }).catch(() => undefined);
        if (signal.aborted) throw unfinished(op, compartmentId, signal);
        continue;
      }
      const tries = attempt > 1 ? `, ${attempt} attempts` : '';
      const detail = safeMessage(status !== undefined ? `${status}${code ? ` ${code}` : ''}: ${safeMessage(e)}` : e);
      throw new DiscoveryError(op, compartmentId, status, `${op} failed (${detail}${tries})`);
    }
  }
}

/** Every page of a list call. */
async function allPages<T>(fetchPage: (page: string | undefined) => Promise<{ items: T[]; opcNextPage?: string }>): Promise<T[]> {
  const out: T[] = [];
  let page: string | undefined;
  do {
    const r = await fetchPage(page);
    out.push(...r.items);
    page = r.opcNextPage || undefined;
  } while (page !== undefined);
  return out;
}

/** One counted SDK call. */
type Counted = <T>(op: DiscoveryOperation, compartmentId: string, fn: () => Promise<T>) => Promise<T>;

/** The compartment and, when asked, every ACTIVE compartment below it (breadth first). */
async function compartmentsOf(c: DiscoveryClients, d: DiscoverySettings, counted: Counted): Promise<string[]> {
  if (!d.includeSubcompartments) return [d.compartmentId];
  const identity = c.identity;
  if (!identity) throw new Error('discovery: sub-compartments need the identity client');
  const all = [d.compartmentId];
  let level = [d.compartmentId];
  while (level.length > 0) {
    const children = await mapConcurrently(level, DISCOVERY_CALL_CONCURRENCY, (parent) =>
      allPages((page) =>
        counted('ListCompartments', parent, () =>
          identity.listCompartments({ compartmentId: parent, page, limit: DISCOVERY_PAGE_LIMIT, lifecycleState: 'ACTIVE' }),
        ),
      ),
    );
    level = children
      .flat()
      .filter((x) => (x.lifecycleState as string) === 'ACTIVE')
      .map((x) => x.id);
    all.push(...level);
  }
  return all;
}

/** The first of each OCID, in list order. */
function uniqueById<T extends { id: string }>(items: readonly T[]): T[] {
  const seen = new Set<string>();
  return items.filter((i) => !seen.has(i.id) && (seen.add(i.id), true));
}

/** Plain data of an SDK instance. */
function instanceFacts(i: coreT.models.Instance): DiscoveredInstance {
  return {
    id: i.id,
    displayName: i.displayName ?? i.id,
    compartmentId: i.compartmentId,
    availabilityDomain: i.availabilityDomain,
    faultDomain: i.faultDomain,
    shape: i.shape,
    lifecycleState: String(i.lifecycleState),
    freeformTags: i.freeformTags ?? {},
    definedTags: i.definedTags ?? {},
  };
}

/** Counts of a discovery (for the report and the benchmark). */
interface DiscoveryCallCounts {
  compartments: number;
  /** API calls made, retries included. */
  calls: number;
  /** Of `calls`, the attempts after a 429, 5xx or network error. */
  retries: number;
  /** RUNNING instances listed, before the tag filter. */
  running: number;
}

/** Lists the instances discovery may scrape: RUNNING, tag filter matched, with the chosen VNIC's IP looked up. */
export async function discoverInstances(
  c: DiscoveryClients,
  d: DiscoverySettings,
  signal: AbortSignal,
  vnicCache: Map<string, VnicFacts>,
): Promise<{ instances: DiscoveredInstance[]; counts: DiscoveryCallCounts }> {
  let calls = 0;
  let retries = 0;
  let running = 0;
  const counted: Counted = (op, compartmentId, fn) => {
    let first = true;
    return call(op, compartmentId, signal, fn, () => {
      calls++;
      if (!first) retries++;
      first = false;
    });
  };
  const compartments = await compartmentsOf(c, d, counted);
  const perCompartment = await mapConcurrently(compartments, DISCOVERY_CALL_CONCURRENCY, async (compartmentId) => {
    // Both lists at once (each follows its own pages): the attachments do not depend on the instances.
    const [listedOutcome, attachmentsOutcome] = await Promise.allSettled([
      allPages((page) =>
        counted('ListInstances', compartmentId, () => c.compute.listInstances({ compartmentId, page, limit: DISCOVERY_PAGE_LIMIT, lifecycleState: 'RUNNING' })),
      ),
      allPages((page) =>
        counted('ListVnicAttachments', compartmentId, () => c.compute.listVnicAttachments({ compartmentId, page, limit: DISCOVERY_PAGE_LIMIT })),
      ),
    ]);
    // When both fail (a compartment without any policy), the instances' error is the one reported.
    if (listedOutcome.status === 'rejected') throw listedOutcome.reason;
    if (attachmentsOutcome.status === 'rejected') throw attachmentsOutcome.reason;
    const listed = listedOutcome.value;
    const allAttachments = attachmentsOutcome.value;
    const runningHere = uniqueById(listed.map(instanceFacts)).filter((i) => i.lifecycleState === 'RUNNING');
    running += runningHere.length;
    const instances = runningHere.filter((i) => matchesTags(i, d.tags));
    if (instances.length === 0) return [];
    const wanted = new Set(instances.map((i) => i.id));
    const attachments = allAttachments.filter((a) => wanted.has(a.instanceId) && String(a.lifecycleState) === 'ATTACHED' && a.vnicId);
    const byInstance = new Map<string, string[]>();
    for (const a of attachments) byInstance.set(a.instanceId, [...(byInstance.get(a.instanceId) ?? []), a.vnicId!]);
    return mapConcurrently(instances, DISCOVERY_CALL_CONCURRENCY, async (inst) => {
      for (const vnicId of byInstance.get(inst.id) ?? []) {
        let facts = vnicCache.get(vnicId);
        if (!facts) {
          const v = (await counted('GetVnic', compartmentId, () => c.network.getVnic({ vnicId }))).vnic;
          facts = { privateIp: v.privateIp, isPrimary: v.isPrimary === true, displayName: v.displayName ?? '' };
          vnicCache.set(vnicId, facts);
        }
        const chosen = d.vnic === 'primary' ? facts.isPrimary : facts.displayName === d.vnic;
        if (chosen) return { ...inst, privateIp: facts.privateIp };
      }
      return inst;
    });
  });
  // An instance moved to another compartment between two lists shows in both.
  const instances = uniqueById(perCompartment.flat());
  // VNICs of terminated instances stay cached until the cache is well beyond the fleet's size.
  if (vnicCache.size > 4 * Math.max(64, instances.length)) vnicCache.clear();
  return { instances, counts: { compartments: compartments.length, calls, retries, running } };
}
