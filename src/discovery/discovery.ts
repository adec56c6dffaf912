/**
 * Discovery while the container is warm: a result is reused for DISCOVERY_TTL_SECONDS, then
 * refreshed; each refresh says which targets appeared and disappeared since the previous one.
 * A failed refresh (policy missing, 5xx, timeout) keeps the last good list while it is fresh
 * (younger than the TTL plus LAST_GOOD_GRACE_MS), else discovery contributes no targets and the
 * static METRICS_ENDPOINT list is scraped alone; either way the report carries OCI's message and,
 * for an authorization failure, the IAM statement to add.
 */
import { setMaxListeners } from 'node:events';
import type { DiscoverySettings } from '../config/settings';
import { discoveryStatement } from '../oci/iam';
import { DISCOVERY_CALL_CONCURRENCY, DiscoveryError, discoverInstances, type DiscoveryClients, type VnicFacts } from './oci';
import { churnOf, targetsOf, type DiscoveredTarget, type InstanceProblem, type TargetRef } from './targets';

/** How long past its TTL a last good list may still stand in for a failed discovery. */
const LAST_GOOD_GRACE_MS = 10 * 60 * 1000;
/** Most problem instances listed in a report, and most appeared/disappeared targets in the summary log line (the counts are always complete). */
const MAX_LISTED = 20;

/** Where the discovered targets of this invocation came from. */
type DiscoverySource = 'discovered' | 'cached' | 'last-good' | 'none';

/** What the response says about discovery. */
export interface DiscoveryReport {
  compartmentId: string;
  includeSubcompartments: boolean;
  source: DiscoverySource;
  /** When the list in use was discovered (ISO 8601); absent when there is none. */
  discoveredAt?: string;
  /** RUNNING instances matching the tag filter in the list in use. */
  instances: number;
  targets: number;
  /** Since the previous discovery in this container (every target on its first discovery). */
  appeared: TargetRef[];
  disappeared: TargetRef[];
  /** Matching instances that give no target (no IP, bad port tag), first few. */
  problems: InstanceProblem[];
  problemCount: number;
  /**
   * Set when discovery worked and RUNNING instances were listed, yet no target came of them: the
   * tag filter matched none, or none that matched can be scraped (see problems). With nothing
   * else to scrape, the invocation fails with it (as a failed discovery does), so an alarm on the
   * function's errors fires; an empty compartment (no RUNNING instance) is not a failure.
   */
  noTargets?: string;
  /** OCI API calls (retries included) and time of this invocation's discovery (absent when the cached list was used). */
  calls?: number;
  /** Of `calls`, the attempts after a 429, 5xx or network error. */
  retries?: number;
  durationMs?: number;
  /** Why this invocation's discovery failed (OCI's status and message). */
  error?: string;
  /** For an authorization failure: the statement the function's dynamic group needs. */
  iamStatement?: string;
}

/** A successful discovery. */
interface Snapshot {
  atMs: number;
  instances: number;
  targets: DiscoveredTarget[];
  problems: InstanceProblem[];
  noTargets?: string;
}

/** DISCOVERY_TAG as a user writes it. */
function tagFilterText(d: DiscoverySettings): string {
  return d.tags.map((t) => `${t.namespace === undefined ? '' : `${t.namespace}.`}${t.key}${t.value === undefined ? '' : `=${t.value}`}`).join(',');
}

/** Why RUNNING instances gave no target, or undefined when there are targets or no RUNNING instance at all. */
function noTargetsCause(d: DiscoverySettings, running: number, matched: number, targets: number): string | undefined {
  if (targets > 0 || running === 0) return undefined;
  const where = `compartment ${d.compartmentId}${d.includeSubcompartments ? ' and its sub-compartments' : ''}`;
  if (matched === 0) {
    return (
      `DISCOVERY_TAG "${tagFilterText(d)}" matches none of the ${running} RUNNING instances in ${where} ` +
      '(defined tag namespaces and keys compare case-insensitively, freeform tag keys and every value exactly)'
    );
  }
  return `none of the ${matched} matching instances in ${where} can be scraped (see discovery.problems)`;
}

/** The report as the summary log line shows it: appeared[] and disappeared[] cut to their first few, with their counts. */
export function discoveryLogFields(r: DiscoveryReport): Record<string, unknown> {
  return {
    ...r,
    appeared: r.appeared.slice(0, MAX_LISTED),
    appearedCount: r.appeared.length,
    disappeared: r.disappeared.slice(0, MAX_LISTED),
    disappearedCount: r.disappeared.length,
  };
}

/** The discovery of one warm container (one per settings object). */
export class FleetDiscovery {
  private last?: Snapshot;
  private readonly vnics = new Map<string, VnicFacts>();

  constructor(
    private readonly settings: DiscoverySettings,
    private readonly clients: () => DiscoveryClients,
    private readonly now: () => number = Date.now,
    /** FUNCTION_DYNAMIC_GROUP, named in the IAM statement of an authorization failure. */
    private readonly dynamicGroup?: string,
  ) {}

  /** The discovered targets for this invocation and the report; never throws. */
  async targets(signal: AbortSignal): Promise<{ targets: DiscoveredTarget[]; report: DiscoveryReport }> {
    const d = this.settings;
    const base = { compartmentId: d.compartmentId, includeSubcompartments: d.includeSubcompartments, appeared: [], disappeared: [] };
    const started = this.now();
    const last = this.last;
    if (last && started - last.atMs < d.ttlMs) return { targets: last.targets, report: { ...base, ...this.facts(last), source: 'cached' } };
    let calls: number | undefined;
    try {
      const timeout = AbortSignal.any([signal, AbortSignal.timeout(d.timeoutMs)]);
      // Every call in flight listens on it: more than Node's default of 10 is the design, not a leak.
      setMaxListeners(4 * DISCOVERY_CALL_CONCURRENCY, timeout);
      const found = await discoverInstances(this.clients(), d, timeout, this.vnics);
      calls = found.counts.calls;
      const { targets, problems } = targetsOf(found.instances, d);
      const instances = found.instances.filter((i) => i.lifecycleState === 'RUNNING').length;
      const noTargets = noTargetsCause(d, found.counts.running, instances, targets.length);
      const snapshot: Snapshot = { atMs: this.now(), instances, targets, problems, ...(noTargets ? { noTargets } : {}) };
      const churn = churnOf(last?.targets ?? [], targets);
      this.last = snapshot;
      const report: DiscoveryReport = {
        ...base,
        ...this.facts(snapshot),
        ...churn,
        source: 'discovered',
        calls,
        retries: found.counts.retries,
        durationMs: this.now() - started,
      };
      return { targets, report };
    } catch (e) {
      const error = e instanceof DiscoveryError ? e.message : `discovery failed: ${e instanceof Error ? e.message : String(e)}`;
      const failure = {
        error,
        durationMs: this.now() - started,
        ...(e instanceof DiscoveryError && e.isAuthorization ? { iamStatement: discoveryStatement(this.dynamicGroup, e.operation, e.compartmentId) } : {}),
      };
      if (last && started - last.atMs < d.ttlMs + LAST_GOOD_GRACE_MS) {
        return { targets: last.targets, report: { ...base, ...this.facts(last), ...failure, source: 'last-good' } };
      }
      return { targets: [], report: { ...base, instances: 0, targets: 0, problems: [], problemCount: 0, ...failure, source: 'none' } };
    }
  }

  /** Report fields of a snapshot. */
  private facts(s: Snapshot): Pick<DiscoveryReport, 'discoveredAt' | 'instances' | 'targets' | 'problems' | 'problemCount' | 'noTargets'> {
    return {
      discoveredAt: new Date(s.atMs).toISOString(),
      instances: s.instances,
      targets: s.targets.length,
      problems: s.problems.slice(0, MAX_LISTED),
      problemCount: s.problems.length,
      ...(s.noTargets ? { noTargets: s.noTargets } : {}),
    };
  }
}
