/**
 * The targets of a Prometheus configuration's jobs, as Prometheus 2.42 makes them
 * (scrape/target.go PopulateLabels and Target.URL): the target labels (`__address__`, `job`,
 * `__scheme__`, `__metrics_path__`, `__param_<name>`, `__scrape_interval__`, `__scrape_timeout__`,
 * the static `labels`, a discovered instance's `__meta_oci_*`), target relabelling, the default
 * port, `instance` = `__address__` unless a rule set it, every `__` label removed from the labels
 * the series carry, the URL and timeout from the labels, and `target_limit`. Pure, no I/O.
 *
 * The OCI destination of a target is read from reserved labels before they are removed:
 * `__oci_namespace__`, `__oci_compartment__` (an OCID), `__oci_resource_group__`.
 */
import type { Labels } from '../types/model';
import { relabel } from '../relabel/relabel';
import { parseDuration, type ScrapeJob } from '../config/scrapeConfig';
import { OCI_NAME_RE, OCI_NAMESPACE_RE, OCID_RE, RESERVED_NAMESPACE_PREFIX_RE } from '../transform/limits';
import { inShard, type Shard } from './shard';

/** A static group label that makes the group's targets the discovered instances (DISCOVERY_* settings). */
const DISCOVERY_LABEL = '__oci_discovery__';

/** One target of a job, ready to scrape (or refused, with the reason: it is reported `up=0`, never requested). */
interface JobTarget {
  job: ScrapeJob;
  url: URL;
  /** The labels every series of the target carries (`job`, `instance`, static and relabelled labels; no `__` label). */
  labels: Labels;
  timeoutMs: number;
  /** Per-target OCI destination from the reserved labels. */
  namespace?: string;
  compartmentId?: string;
  resourceGroup?: string;
  /** The discovered instance it came from. */
  resourceId?: string;
  /** Why it is not scraped (target_limit, an invalid address or label). */
  refused?: string;
  /** `__address__` after relabelling, before the default port is added (what a last `hashmod` rule would read): its shard. */
  address: string;
}

/** What a job's targets came to. */
export interface JobReport {
  job: string;
  targets: number;
  /** Dropped by relabel_configs: never requested. */
  dropped: number;
  /** With SHARD: targets left to the other shards (never requested). */
  otherShards?: number;
}

/** A discovered target as a job reads it. */
interface DiscoveredForJob {
  url: URL;
  resourceId: string;
  metaLabels: Record<string, string>;
}

/** Go's net.SplitHostPort succeeds on `s` (host:port, [v6]:port; the port may be empty). */
function hasPort(s: string): boolean {
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    return end > 0 && s[end + 1] === ':' && !s.slice(end + 2).includes(']') && !s.slice(end + 2).includes('[');
  }
  const i = s.lastIndexOf(':');
  return i >= 0 && !s.slice(0, i).includes(':') && !s.includes('[') && !s.includes(']');
}

/** The address with Prometheus 2.42's default port added (80 for http, 443 for https) when it has none. */
function withDefaultPort(address: string, scheme: string): string | { error: string } {
  if (hasPort(address)) return address;
  if (!hasPort(`${address}:1234`)) return address;
  if (scheme === 'http' || scheme === '') return `${address}:80`;
  if (scheme === 'https') return `${address}:443`;
  return { error: `invalid scheme: "${scheme}"` };
}

/** The labels Prometheus gives a target before relabelling. */
function initialLabels(job: ScrapeJob, address: string | undefined, groupLabels: Labels, meta: Labels): Labels {
  const l: Labels = { ...meta, ...groupLabels };
  if (address !== undefined) l.__address__ = address;
  const defaults: Labels = {
    job: job.name,
    __scrape_interval__: job.scrapeInterval,
    __scrape_timeout__: job.scrapeTimeout,
    __metrics_path__: job.metricsPath,
    __scheme__: job.scheme,
  };
  for (const [k, v] of Object.entries(defaults)) if (!l[k]) l[k] = v;
  for (const [k, v] of Object.entries(job.params)) if (v.length > 0) l[`__param_${k}`] = v[0];
  return l;
}

/** The URL of a target from its labels (Target.URL): the job's params, overridden by `__param_<name>` labels. */
function targetUrl(job: ScrapeJob, labels: Labels): URL {
  const params = new Map(Object.entries(job.params).map(([k, v]) => [k, [...v]]));
  for (const [k, v] of Object.entries(labels)) {
    if (!k.startsWith('__param_')) continue;
    const name = k.slice('__param_'.length);
    const list = params.get(name);
    if (list && list.length > 0) list[0] = v;
    else params.set(name, [v]);
  }
  const query = new URLSearchParams();
  for (const name of [...params.keys()].sort()) for (const v of params.get(name)!) query.append(name, v);
  const q = query.toString();
  const path = labels.__metrics_path__ ?? '';
  return new URL(`${labels.__scheme__}://${labels.__address__}${path.startsWith('/') || path === '' ? '' : '/'}${path}${q ? `?${q}` : ''}`);
}

/** The OCI destination named by reserved labels, or the label that is not valid. */
function destinationOf(labels: Labels): Pick<JobTarget, 'namespace' | 'compartmentId' | 'resourceGroup'> | { error: string } {
  const out: Pick<JobTarget, 'namespace' | 'compartmentId' | 'resourceGroup'> = {};
  const ns = labels.__oci_namespace__;
  if (ns) {
    if (!OCI_NAMESPACE_RE.test(ns) || RESERVED_NAMESPACE_PREFIX_RE.test(ns)) return { error: `__oci_namespace__="${ns}" is not a valid OCI namespace` };
    out.namespace = ns;
  }
  const c = labels.__oci_compartment__;
  if (c) {
    if (!OCID_RE.test(c)) return { error: `__oci_compartment__="${c.slice(0, 80)}" is not an OCID` };
    out.compartmentId = c;
  }
  const rg = labels.__oci_resource_group__;
  if (rg) {
    if (!OCI_NAME_RE.test(rg)) return { error: `__oci_resource_group__="${rg}" is not a valid resource group` };
    out.resourceGroup = rg;
  }
  return out;
}

/** One candidate through relabelling: the target, or undefined when dropped. */
function populate(job: ScrapeJob, initial: Labels, resourceId: string | undefined): JobTarget | undefined {
  const relabelled = relabel(initial, job.relabelConfigs);
  if (relabelled === undefined) return undefined;
  // Before the default port is added: what a last `hashmod` rule of relabel_configs reads.
  const address = relabelled.__address__ ?? '';
  const refuse = (why: string): JobTarget => ({
    job,
    address,
    url: new URL(`http://invalid.target.invalid/`),
    labels: { job: relabelled.job ?? job.name, instance: relabelled.instance ?? relabelled.__address__ ?? '' },
    timeoutMs: job.scrapeTimeoutMs,
    refused: why,
    ...(resourceId ? { resourceId } : {}),
  });
  if (!address) return refuse('no address (relabel_configs removed __address__)');
  const withPort = withDefaultPort(address, relabelled.__scheme__ ?? '');
  if (typeof withPort !== 'string') return refuse(withPort.error);
  if (withPort.includes('/')) return refuse(`"${withPort}" is not a valid hostname`);
  relabelled.__address__ = withPort;
  const interval = parseDuration(relabelled.__scrape_interval__ ?? '');
  const timeout = parseDuration(relabelled.__scrape_timeout__ ?? '');
  if (interval === undefined || interval === 0) return refuse(`invalid __scrape_interval__ "${relabelled.__scrape_interval__ ?? ''}"`);
  if (timeout === undefined || timeout === 0) return refuse(`invalid __scrape_timeout__ "${relabelled.__scrape_timeout__ ?? ''}"`);
  if (timeout > interval)
    return refuse(`scrape timeout cannot be greater than scrape interval ("${relabelled.__scrape_timeout__}" > "${relabelled.__scrape_interval__}")`);
  const labels: Labels = {};
  for (const [k, v] of Object.entries(relabelled)) if (!k.startsWith('__')) labels[k] = v;
  if (!labels.instance) labels.instance = withPort;
  const destination = destinationOf(relabelled);
  if ('error' in destination) return { ...refuse(destination.error), labels };
  let url: URL;
  try {
    url = targetUrl(job, relabelled);
  } catch {
    return { ...refuse(`"${relabelled.__scheme__}://${withPort}${relabelled.__metrics_path__ ?? ''}" is not a valid URL`), labels };
  }
  return { job, url, labels, timeoutMs: timeout, address, ...destination, ...(resourceId ? { resourceId } : {}) };
}

/**
 * Every job's targets, in configuration order: static targets, then the discovered instances for a
 * static group labelled `__oci_discovery__`. With a shard, only its targets are kept, as a last
 * `hashmod` + `keep` rule on `__address__` would keep them. A job over its `target_limit` (counted
 * in the shard, as Prometheus counts after relabelling) has every target refused, as Prometheus
 * marks them failed without scraping.
 */
export function jobTargets(jobs: readonly ScrapeJob[], discovered: readonly DiscoveredForJob[], shard?: Shard): { targets: JobTarget[]; reports: JobReport[] } {
  const targets: JobTarget[] = [];
  const reports: JobReport[] = [];
  for (const job of jobs) {
    const own: JobTarget[] = [];
    let candidates = 0;
    let otherShards = 0;
    const add = (t: JobTarget | undefined) => {
      if (!t) return;
      if (inShard(t.address, shard)) own.push(t);
      else otherShards++;
    };
    for (const group of job.staticConfigs) {
      const { [DISCOVERY_LABEL]: fromDiscovery, ...groupLabels } = group.labels;
      for (const address of group.targets) {
        candidates++;
        add(populate(job, initialLabels(job, address, groupLabels, {}), undefined));
      }
      if (!fromDiscovery) continue;
      for (const d of discovered) {
        candidates++;
        add(populate(job, initialLabels(job, d.url.host, groupLabels, d.metaLabels), d.resourceId));
      }
    }
    const scraped = own.filter((t) => !t.refused).length;
    if (job.targetLimit > 0 && scraped > job.targetLimit) {
      for (const t of own) if (!t.refused) t.refused = `target_limit exceeded (${scraped} targets > target_limit ${job.targetLimit})`;
    }
    targets.push(...own);
    reports.push({ job: job.name, targets: own.length, dropped: candidates - own.length - otherShards, ...(shard ? { otherShards } : {}) });
  }
  return { targets, reports };
}
