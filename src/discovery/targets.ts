/**
 * Discovery, pure part: which discovered instances are targets, and how each becomes one or more
 * scrape URLs with its own dimensions. No I/O: the OCI calls live in ./oci.ts.
 *
 *  - only RUNNING instances carrying every DISCOVERY_TAG (freeform `key=value`, defined
 *    `namespace.key=value`; a key alone matches any value) and with a private IP on the chosen VNIC;
 *  - URLs: DISCOVERY_SCHEME://<private IP>:<port><path> for each entry of the port tag
 *    ("9100,8080/actuator/prometheus"), else DISCOVERY_PORT; a port without its own path takes the
 *    path tag, else DISCOVERY_PATH;
 *  - dimensions: `resourceId` (the instance OCID, as OCI's own compute metrics) plus the chosen
 *    DISCOVERY_DIMENSIONS; `instance` is added by the transform from the URL.
 */
import type { DiscoverySettings, InstanceDimension, TagMatch, TagRef } from '../config/settings';

/** The dimension OCI's compute metrics (oci_computeagent) carry the instance OCID in. */
const RESOURCE_ID_DIMENSION = 'resourceId';

/** What discovery knows of one instance (plain data, from ListInstances + the chosen VNIC). */
export interface DiscoveredInstance {
  id: string;
  displayName: string;
  compartmentId: string;
  availabilityDomain: string;
  faultDomain?: string;
  shape: string;
  lifecycleState: string;
  freeformTags: Record<string, string>;
  definedTags: Record<string, Record<string, unknown>>;
  /** Private IP of the chosen VNIC; undefined when the instance has none (yet). */
  privateIp?: string;
}

/** One scrape target found by discovery. */
export interface DiscoveredTarget {
  url: URL;
  resourceId: string;
  displayName: string;
  dimensions: Record<string, string>;
}

/** An instance that matched but cannot be scraped, and why (reported, never silent). */
export interface InstanceProblem {
  resourceId: string;
  displayName: string;
  problem: string;
}

/** The value of a tag on an instance, as text; undefined when absent. */
function tagValue(inst: Pick<DiscoveredInstance, 'freeformTags' | 'definedTags'>, ref: TagRef): string | undefined {
  const v = ref.namespace === undefined ? inst.freeformTags[ref.key] : inst.definedTags[ref.namespace]?.[ref.key];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The tag as a user writes it: key or namespace.key. */
function tagName(ref: TagRef): string {
  return ref.namespace === undefined ? ref.key : `${ref.namespace}.${ref.key}`;
}

/** True when the instance carries every tag of the filter. */
export function matchesTags(inst: Pick<DiscoveredInstance, 'freeformTags' | 'definedTags'>, tags: readonly TagMatch[]): boolean {
  return tags.every((t) => {
    const v = tagValue(inst, t);
    return v !== undefined && (t.value === undefined || v === t.value);
  });
}

/** Host part of a URL for an IP (IPv6 in brackets). */
function hostOf(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

/** The (port, path) pairs of an instance: its port tag, else the default port. */
function exportersOf(inst: DiscoveredInstance, d: DiscoverySettings): { exporters: { port: number; path: string }[]; problem?: string } {
  const defaultPath = tagValue(inst, d.pathTag)?.trim() || d.path;
  if (!defaultPath.startsWith('/')) return { exporters: [], problem: `tag ${tagName(d.pathTag)}="${defaultPath}" is not a path starting with /` };
  const portTag = tagValue(inst, d.portTag);
  if (portTag === undefined || portTag.trim() === '') return { exporters: [{ port: d.port, path: defaultPath }] };
  const exporters: { port: number; path: string }[] = [];
  for (const entry of portTag
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')) {
    const m = /^(\d{1,5})(\/.*)?$/.exec(entry);
    const port = m ? Number(m[1]) : NaN;
    if (!m || port < 1 || port > 65535) {
      return { exporters: [], problem: `tag ${tagName(d.portTag)}="${portTag}": "${entry}" is not a port (1-65535), optionally followed by a path` };
    }
    exporters.push({ port, path: m[2] ?? defaultPath });
  }
  return { exporters };
}

/** The dimensions of a discovered instance's series. */
function instanceDimensions(inst: DiscoveredInstance, chosen: readonly InstanceDimension[]): Record<string, string> {
  const out: Record<string, string> = { [RESOURCE_ID_DIMENSION]: inst.id };
  for (const c of chosen) {
    if (typeof c === 'string') {
      const v = c === 'resourceDisplayName' ? inst.displayName : inst[c];
      if (v) out[c] = v;
    } else {
      const v = tagValue(inst, c.tag);
      if (v !== undefined && v !== '') out[tagName(c.tag)] = v;
    }
  }
  return out;
}

/** Targets of the discovered instances (RUNNING, tag filter, an IP), in a stable order, and the matched instances that have none. */
export function targetsOf(instances: readonly DiscoveredInstance[], d: DiscoverySettings): { targets: DiscoveredTarget[]; problems: InstanceProblem[] } {
  const targets: DiscoveredTarget[] = [];
  const problems: InstanceProblem[] = [];
  const sorted = [...instances].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const inst of sorted) {
    if (inst.lifecycleState !== 'RUNNING' || !matchesTags(inst, d.tags)) continue;
    const who = { resourceId: inst.id, displayName: inst.displayName };
    if (!inst.privateIp) {
      problems.push({ ...who, problem: d.vnic === 'primary' ? 'no private IP on its primary VNIC' : `no VNIC named "${d.vnic}" with a private IP` });
      continue;
    }
    const { exporters, problem } = exportersOf(inst, d);
    if (problem) {
      problems.push({ ...who, problem });
      continue;
    }
    const dimensions = instanceDimensions(inst, d.dimensions);
    const seen = new Set<string>();
    for (const e of exporters) {
      const url = new URL(`${d.scheme}://${hostOf(inst.privateIp)}:${e.port}${e.path}`);
      if (seen.has(url.href)) continue; // "9100,9100" is one exporter
      seen.add(url.href);
      targets.push({ url, resourceId: inst.id, displayName: inst.displayName, dimensions });
    }
  }
  return { targets, problems };
}

/** A target as the churn report names it. */
export interface TargetRef {
  url: string;
  resourceId: string;
  displayName: string;
}

/** Targets that appeared and disappeared between two discoveries (by URL and instance). */
export function churnOf(before: readonly DiscoveredTarget[], after: readonly DiscoveredTarget[]): { appeared: TargetRef[]; disappeared: TargetRef[] } {
  const keyOf = (t: DiscoveredTarget) => `${t.resourceId} ${t.url.href}`;
  const ref = (t: DiscoveredTarget): TargetRef => ({ url: t.url.href, resourceId: t.resourceId, displayName: t.displayName });
  const was = new Set(before.map(keyOf));
  const is = new Set(after.map(keyOf));
  return { appeared: after.filter((t) => !was.has(keyOf(t))).map(ref), disappeared: before.filter((t) => !is.has(keyOf(t))).map(ref) };
}
