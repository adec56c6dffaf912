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
 *    DISCOVERY_DIMENSIONS; `instance` is added by the transform from the URL;
 *  - metaLabels: the instance's facts as Prometheus-style `__meta_oci_*` labels, for relabelling;
 *  - tags: defined tag namespaces and keys compare case-insensitively (OCI treats `Ops.Scrape` and
 *    `ops.scrape` as one tag), freeform keys and every value exactly (OCI keeps them distinct);
 *  - addresses: a private IP that is link-local (169.254.0.0/16, the instance metadata service
 *    among them; fe80::/10) or unspecified (0.0.0.0/8, ::), or no IP at all, is never scraped: the
 *    instance is a named problem. Loopback stays allowed (local fleets live there).
 */
import { BlockList, isIP } from 'node:net';
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
  /** The instance's facts as `__meta_oci_*` labels (see metaLabelsOf), for relabelling; never posted as they are. */
  metaLabels: Record<string, string>;
}

/** An instance that matched but cannot be scraped, and why (reported, never silent). */
export interface InstanceProblem {
  resourceId: string;
  displayName: string;
  problem: string;
}

/** A tag value as text (a defined tag may hold a number or a list). */
function tagText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The own entry `name` of a map, compared case-insensitively (defined tag namespaces and keys). */
function ownCaseless<T>(map: Record<string, T>, name: string): T | undefined {
  if (Object.hasOwn(map, name)) return map[name];
  const lower = name.toLowerCase();
  const found = Object.keys(map).find((k) => k.toLowerCase() === lower);
  return found === undefined ? undefined : map[found];
}

/** The value of a tag on an instance, as text; undefined when absent. */
function tagValue(inst: Pick<DiscoveredInstance, 'freeformTags' | 'definedTags'>, ref: TagRef): string | undefined {
  if (ref.namespace === undefined) return Object.hasOwn(inst.freeformTags, ref.key) ? tagText(inst.freeformTags[ref.key]) : undefined;
  const namespace = ownCaseless(inst.definedTags, ref.namespace);
  return namespace === undefined || namespace === null || typeof namespace !== 'object' ? undefined : tagText(ownCaseless(namespace, ref.key));
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

/** Addresses discovery never scrapes: link-local (the metadata service answers on 169.254.169.254) and unspecified (0.0.0.0 reaches this host). */
const REFUSED_ADDRESSES = new BlockList();
REFUSED_ADDRESSES.addSubnet('169.254.0.0', 16, 'ipv4');
REFUSED_ADDRESSES.addSubnet('fe80::', 10, 'ipv6');
REFUSED_ADDRESSES.addSubnet('0.0.0.0', 8, 'ipv4');
REFUSED_ADDRESSES.addAddress('::', 'ipv6');

/** Why an instance's private IP is not scraped, or undefined when it may be (IPv4-mapped IPv6 forms are checked as IPv4). */
function addressProblem(ip: string): string | undefined {
  const shown = JSON.stringify(ip.length > 60 ? `${ip.slice(0, 60)}...` : ip);
  const kind = isIP(ip);
  if (kind === 0) return `private IP ${shown} is not an IP address`;
  if (REFUSED_ADDRESSES.check(ip, kind === 4 ? 'ipv4' : 'ipv6')) {
    const why = 'refused, it could reach the instance metadata service or this host';
    return `private IP ${shown} is link-local (169.254.0.0/16, fe80::/10) or unspecified (0.0.0.0/8, ::): ${why}`;
  }
  // A zone index (fe80::1%ens3) names an interface of the instance, meaningless here, and cannot be in a URL.
  if (ip.includes('%')) return `private IP ${shown} has a zone index: not a routable address`;
  return undefined;
}

/** Host part of a URL for an IP (IPv6 in brackets). */
function hostOf(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

/** A `__meta_oci_*` label name part: characters outside [a-zA-Z0-9_] become `_`, as Prometheus' service discoveries do. */
function labelPart(s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, '_');
}

/**
 * The instance's facts as Prometheus-style labels (like `__meta_ec2_*`): id, name, private IP,
 * availability and fault domain, shape, compartment, and every freeform and defined tag (names
 * sanitised; keys sorted, so when two sanitise alike the last in order wins, the same every time).
 */
function metaLabelsOf(inst: DiscoveredInstance & { privateIp: string }): Record<string, string> {
  const out: Record<string, string> = {
    __meta_oci_instance_id: inst.id,
    __meta_oci_instance_name: inst.displayName,
    __meta_oci_private_ip: inst.privateIp,
    __meta_oci_availability_domain: inst.availabilityDomain,
    __meta_oci_fault_domain: inst.faultDomain ?? '',
    __meta_oci_shape: inst.shape,
    __meta_oci_compartment_id: inst.compartmentId,
  };
  for (const key of Object.keys(inst.freeformTags).sort()) {
    const v = tagText(inst.freeformTags[key]);
    if (v !== undefined) out[`__meta_oci_freeform_tag_${labelPart(key)}`] = v;
  }
  for (const namespace of Object.keys(inst.definedTags).sort()) {
    const tags = inst.definedTags[namespace];
    if (tags === null || typeof tags !== 'object') continue;
    for (const key of Object.keys(tags).sort()) {
      const v = tagText(tags[key]);
      if (v !== undefined) out[`__meta_oci_defined_tag_${labelPart(namespace)}_${labelPart(key)}`] = v;
    }
  }
  return out;
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
    const privateIp = inst.privateIp;
    if (!privateIp) {
      problems.push({ ...who, problem: d.vnic === 'primary' ? 'no private IP on its primary VNIC' : `no VNIC named "${d.vnic}" with a private IP` });
      continue;
    }
    const refused = addressProblem(privateIp);
    const { exporters, problem } = refused === undefined ? exportersOf(inst, d) : { exporters: [], problem: refused };
    const urls = exporters.map((e) => urlOf(`${d.scheme}://${hostOf(privateIp)}:${e.port}${e.path}`));
    const bad = problem ?? (urls.includes(undefined) ? `private IP and port tag do not make a valid URL` : undefined);
    if (bad) {
      problems.push({ ...who, problem: bad });
      continue;
    }
    const dimensions = instanceDimensions(inst, d.dimensions);
    const metaLabels = metaLabelsOf({ ...inst, privateIp });
    const seen = new Set<string>();
    for (const url of urls as URL[]) {
      if (seen.has(url.href)) continue; // "9100,9100" is one exporter
      seen.add(url.href);
      targets.push({ url, resourceId: inst.id, displayName: inst.displayName, dimensions, metaLabels });
    }
  }
  return { targets, problems };
}

/** The URL of a text, or undefined when it is not one. */
function urlOf(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
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
