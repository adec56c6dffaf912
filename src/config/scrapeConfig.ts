/**
 * Prometheus' configuration file (`global`, `scrape_configs`), read as Prometheus 2.42 reads it,
 * into typed jobs. Pure, no I/O: the text comes from SCRAPE_CONFIG, the SCRAPE_CONFIG_OBJECT or
 * `--config FILE`. Errors name the source, the line and column and the key path; keys that do not
 * apply to a function that scrapes once per invocation are accepted and named in `notes`; keys
 * prom2oci does not support (other service discoveries, TLS, proxies, OAuth 2) are refused.
 *
 * Secrets never sit in the file: `authorization.credentials`, `bearer_token` or `basic_auth.password`
 * (or their `_file` forms) hold `oci-vault://<secret OCID>`, read from OCI Vault at scrape time.
 */
import type * as yamlT from 'yaml';
import type { Node, Pair, Scalar, YAMLMap } from 'yaml';
import type { Labels } from '../types/model';
import { isLabelName, relabelRule, RelabelConfigError, type RelabelRule, type RelabelRuleInput } from '../relabel/relabel';
import { Re2Error } from '../relabel/re2';
import { OCID_RE } from '../transform/limits';

/** Where a secret-valued key points: `oci-vault://<secret OCID>`. */
const VAULT_REF_PREFIX = 'oci-vault://';

/** A credential read from OCI Vault when the job is scraped. */
export type ScrapeAuth = { kind: 'bearer'; secretId: string } | { kind: 'basic'; username: string; passwordSecretId?: string };

/** One `static_configs` entry. */
interface StaticGroup {
  targets: string[];
  labels: Labels;
}

/** One `scrape_configs` entry, with Prometheus' defaults applied. */
export interface ScrapeJob {
  name: string;
  scheme: 'http' | 'https';
  metricsPath: string;
  params: Record<string, string[]>;
  /** The job's scrape_interval as written or inherited (Go duration text, for `__scrape_interval__`). */
  scrapeInterval: string;
  scrapeTimeout: string;
  scrapeTimeoutMs: number;
  honorLabels: boolean;
  honorTimestamps: boolean;
  /** 0 = no limit, as in Prometheus. */
  sampleLimit: number;
  targetLimit: number;
  labelLimit: number;
  labelNameLengthLimit: number;
  labelValueLengthLimit: number;
  staticConfigs: StaticGroup[];
  relabelConfigs: RelabelRule[];
  metricRelabelConfigs: RelabelRule[];
  auth?: ScrapeAuth;
}

/** A parsed configuration file. */
export interface ScrapeConfigFile {
  jobs: ScrapeJob[];
  /** Keys accepted but not applied, each with its line and why. */
  notes: string[];
}

/** The file cannot be used; the message names the source, line, column and key path. */
export class ScrapeConfigError extends Error {
  override name = 'ScrapeConfigError';
}

/** What a key of a mapping is, for prom2oci. */
type KeyKind = 'supported' | { note: string } | { unsupported: string };

const NOT_APPLIED_INTERVAL = 'not applied: the function scrapes once per invocation, on the schedule of its trigger';

const TOP_KEYS: Record<string, KeyKind> = {
  global: 'supported',
  scrape_configs: 'supported',
  scrape_config_files: { unsupported: 'put the jobs in this file' },
  rule_files: { note: 'not applied: prom2oci evaluates no rules (use OCI Monitoring alarms)' },
  alerting: { note: 'not applied: prom2oci sends no alerts (use OCI Monitoring alarms)' },
  remote_write: { note: 'not applied: prom2oci posts to OCI Monitoring' },
  remote_read: { note: 'not applied: prom2oci stores nothing to read' },
  storage: { note: 'not applied: prom2oci stores nothing' },
  tracing: { note: 'not applied' },
};

const GLOBAL_KEYS: Record<string, KeyKind> = {
  scrape_interval: { note: NOT_APPLIED_INTERVAL },
  scrape_timeout: 'supported',
  evaluation_interval: { note: 'not applied: prom2oci evaluates no rules' },
  external_labels: { note: 'not applied: Prometheus does not store them with the series either (add them as static labels)' },
  query_log_file: { note: 'not applied' },
};

const JOB_KEYS: Record<string, KeyKind> = {
  job_name: 'supported',
  static_configs: 'supported',
  metrics_path: 'supported',
  scheme: 'supported',
  params: 'supported',
  scrape_timeout: 'supported',
  scrape_interval: { note: NOT_APPLIED_INTERVAL },
  honor_labels: 'supported',
  honor_timestamps: 'supported',
  sample_limit: 'supported',
  target_limit: 'supported',
  label_limit: 'supported',
  label_name_length_limit: 'supported',
  label_value_length_limit: 'supported',
  relabel_configs: 'supported',
  metric_relabel_configs: 'supported',
  authorization: 'supported',
  basic_auth: 'supported',
  bearer_token: 'supported',
  bearer_token_file: 'supported',
  body_size_limit: { note: 'not applied: SCRAPE_MAX_BYTES bounds every exposition' },
  follow_redirects: { note: 'not applied: redirects to the same host are followed, to other hosts per SCRAPE_FOLLOW_REDIRECTS_TO_OTHER_HOSTS' },
  enable_http2: { note: 'not applied' },
  tls_config: { unsupported: 'prom2oci verifies https targets with the system CAs and takes no client certificate' },
  oauth2: { unsupported: 'use a bearer token from OCI Vault (authorization.credentials: oci-vault://<secret OCID>)' },
  proxy_url: { unsupported: 'prom2oci reaches targets directly' },
  no_proxy: { unsupported: 'prom2oci reaches targets directly' },
  proxy_from_environment: { unsupported: 'prom2oci reaches targets directly' },
  proxy_connect_header: { unsupported: 'prom2oci reaches targets directly' },
};

const RELABEL_KEYS = ['source_labels', 'separator', 'regex', 'modulus', 'target_label', 'replacement', 'action'];

/** Prometheus' default global scrape interval and timeout. */
const DEFAULT_INTERVAL = '1m';
const DEFAULT_TIMEOUT = '10s';

const DURATION_UNITS: [string, number][] = [
  ['y', 365 * 24 * 3600_000],
  ['w', 7 * 24 * 3600_000],
  ['d', 24 * 3600_000],
  ['h', 3600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
];

/** Prometheus' duration (model.ParseDuration: `1h30m`, `15s`, `500ms`, `0`) in ms; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const m = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(text);
  if (!m || text === '') return undefined;
  return DURATION_UNITS.reduce((ms, [, unit], i) => ms + Number(m[i + 1] ?? 0) * unit, 0);
}

/**
 * The YAML package, loaded on first use: in the image it is a bundle of its own (dist/oci-yaml.js,
 * scripts/build.mjs), so a function configured by settings alone never reads it.
 */
function yaml(): typeof yamlT {
  return require('yaml') as typeof yamlT;
}
const isMap = (n: unknown): n is YAMLMap => yaml().isMap(n);
const isSeq = (n: unknown): n is yamlT.YAMLSeq => yaml().isSeq(n);
const isScalar = (n: unknown): n is Scalar => yaml().isScalar(n);

/** Reads one YAML document with positions: every error says where. */
class Reader {
  readonly notes: string[] = [];
  private readonly lines = new (yaml().LineCounter)();

  constructor(private readonly source: string) {}

  where(node: Node | Pair | undefined): string {
    const range = node && 'range' in node ? node.range : node && 'key' in node && isScalar(node.key) ? node.key.range : undefined;
    if (!range) return this.source || '(the file)';
    const { line, col } = this.lines.linePos(range[0]);
    return `${this.source ? `${this.source} ` : ''}line ${line}, column ${col}`;
  }

  fail(node: Node | Pair | undefined, path: string, message: string): never {
    throw new ScrapeConfigError(`${this.where(node)}: ${path}: ${message}`);
  }

  parse(text: string): YAMLMap | undefined {
    const doc = yaml().parseDocument(text, { lineCounter: this.lines, uniqueKeys: true, version: '1.1', intAsBigInt: true, prettyErrors: true });
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      const at = pos ? `${this.source ? `${this.source} ` : ''}line ${pos.line}, column ${pos.col}` : this.source || '(the file)';
      throw new ScrapeConfigError(`${at}: invalid YAML: ${err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`);
    }
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return undefined;
    if (!isMap(doc.contents)) this.fail(doc.contents, '(top level)', 'expected a mapping with scrape_configs');
    return doc.contents;
  }

  /** The pairs of a mapping, each key checked against `keys` (unknown and unsupported keys fail, notes recorded). */
  pairs(node: Node | null | undefined, path: string, keys: Record<string, KeyKind> | undefined): Map<string, Pair<Scalar, Node | null>> {
    const out = new Map<string, Pair<Scalar, Node | null>>();
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return out;
    if (!isMap(node)) this.fail(node, path, 'expected a mapping');
    for (const pair of node.items) {
      if (!isScalar(pair.key)) this.fail(node, path, 'keys must be plain strings');
      const key = String(pair.key.value);
      const keyPath = path ? `${path}.${key}` : key;
      if (keys) {
        const kind = keys[key];
        if (kind === undefined) {
          if (/_sd_configs$/.test(key))
            this.fail(pair.key, keyPath, 'is not supported: prom2oci takes static_configs (and OCI compute discovery, see docs/scrape-config.md)');
          this.fail(pair.key, keyPath, 'is not a key Prometheus knows here');
        }
        if (typeof kind === 'object' && 'unsupported' in kind) this.fail(pair.key, keyPath, `is not supported: ${kind.unsupported}`);
        if (typeof kind === 'object' && 'note' in kind) this.notes.push(`${keyPath} (${this.where(pair.key)}): ${kind.note}`);
      }
      out.set(key, pair as Pair<Scalar, Node | null>);
    }
    return out;
  }

  /** A scalar as Go's yaml.v2 decodes it into a string field: its text as written. */
  string(node: Node | null | undefined, path: string): string {
    if (!isScalar(node)) this.fail(node ?? undefined, path, 'expected a string');
    if (node.value === null) return '';
    return typeof node.value === 'string' ? node.value : (node.source ?? JSON.stringify(node.value));
  }

  bool(node: Node | null | undefined, path: string): boolean {
    if (!isScalar(node) || typeof node.value !== 'boolean') this.fail(node ?? undefined, path, 'expected true or false');
    return node.value;
  }

  /** A non-negative whole number (Prometheus' uint fields). */
  uint(node: Node | null | undefined, path: string, max = BigInt(Number.MAX_SAFE_INTEGER)): bigint {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== 'bigint' || v < 0n) this.fail(node ?? undefined, path, 'expected a whole number, 0 or more');
    if (v > max) this.fail(node ?? undefined, path, `at most ${max}`);
    return v;
  }

  duration(node: Node | null | undefined, path: string): { text: string; ms: number } {
    const text = this.string(node, path);
    const ms = parseDuration(text);
    if (ms === undefined) this.fail(node ?? undefined, path, `"${text}" is not a duration (e.g. 10s, 1m30s, 500ms)`);
    return { text, ms };
  }

  strings(node: Node | null | undefined, path: string): string[] {
    if (node === null || node === undefined) return [];
    if (!isSeq(node)) this.fail(node, path, 'expected a list');
    return node.items.map((item, i) => this.string(item as Node, `${path}[${i}]`));
  }

  seq(node: Node | null | undefined, path: string): Node[] {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return [];
    if (!isSeq(node)) this.fail(node, path, 'expected a list');
    return node.items as Node[];
  }
}

/** Prometheus' model.Duration.String() (`1m`, `10s`, `1m30s`, `90d`): how it writes `__scrape_timeout__`. */
export function promDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, mult] of DURATION_UNITS) {
    // Years and weeks only when exact, as Prometheus writes them (90d, not 12w6d).
    if ((unit === 'y' || unit === 'w') && rest % mult !== 0) continue;
    const v = Math.floor(rest / mult);
    if (v > 0) {
      out += `${v}${unit}`;
      rest -= v * mult;
    }
  }
  return out;
}

function parseRelabel(r: Reader, nodes: Node[], path: string): RelabelRule[] {
  return nodes.map((node, i) => {
    const p = `${path}[${i}]`;
    const pairs = r.pairs(node, p, Object.fromEntries(RELABEL_KEYS.map((k) => [k, 'supported' as const])));
    const input: RelabelRuleInput = {};
    for (const [key, pair] of pairs) {
      const kp = `${p}.${key}`;
      if (key === 'source_labels') input.source_labels = r.strings(pair.value, kp);
      else if (key === 'modulus') input.modulus = r.uint(pair.value, kp, 2n ** 64n - 1n);
      else input[key as 'separator' | 'regex' | 'target_label' | 'replacement' | 'action'] = r.string(pair.value, kp);
    }
    try {
      return relabelRule(input);
    } catch (e) {
      if (e instanceof Re2Error)
        r.fail(pairs.get('regex') ?? node, `${p}.regex`, `${JSON.stringify(input.regex)} is not a regex prom2oci can run as Prometheus does: ${e.message}`);
      if (e instanceof RelabelConfigError) r.fail(pairs.get(e.message.startsWith('unknown relabel action') ? 'action' : 'target_label') ?? node, p, e.message);
      throw e;
    }
  });
}

/** `oci-vault://<OCID>` in a secret-valued key, as the secret's OCID; anything else is refused. */
function vaultRef(r: Reader, node: Node | null | undefined, path: string): string {
  const value = r.string(node, path);
  const ocid = value.startsWith(VAULT_REF_PREFIX) ? value.slice(VAULT_REF_PREFIX.length) : undefined;
  if (ocid === undefined || !OCID_RE.test(ocid))
    r.fail(
      node ?? undefined,
      path,
      // Anything else may be the secret itself: never repeated.
      `must be ${VAULT_REF_PREFIX}<secret OCID> (the secret stays in OCI Vault, never in the file); ` +
        `got ${ocid === undefined ? 'something else' : `"${value.slice(0, 80)}"`}`,
    );
  return ocid;
}

function parseAuth(r: Reader, pairs: Map<string, Pair<Scalar, Node | null>>, path: string): ScrapeAuth | undefined {
  const given = ['authorization', 'basic_auth', 'bearer_token', 'bearer_token_file'].filter((k) => pairs.has(k));
  if (given.length > 1) r.fail(pairs.get(given[1]), `${path}.${given[1]}`, `cannot be set together with ${given[0]} (as in Prometheus)`);
  const bearer = pairs.get('bearer_token') ?? pairs.get('bearer_token_file');
  if (bearer) return { kind: 'bearer', secretId: vaultRef(r, bearer.value, `${path}.${given[0]}`) };
  const authz = pairs.get('authorization');
  if (authz) {
    const p = `${path}.authorization`;
    const a = r.pairs(authz.value, p, { type: 'supported', credentials: 'supported', credentials_file: 'supported' });
    const type = a.has('type') ? r.string(a.get('type')!.value, `${p}.type`) : 'Bearer';
    if (type.toLowerCase() !== 'bearer') r.fail(a.get('type'), `${p}.type`, `"${type}" is not supported: only Bearer`);
    const cred = a.get('credentials') ?? a.get('credentials_file');
    if (a.has('credentials') && a.has('credentials_file')) r.fail(a.get('credentials_file'), p, 'credentials and credentials_file are mutually exclusive');
    if (!cred) r.fail(authz, p, `needs credentials: ${VAULT_REF_PREFIX}<secret OCID>`);
    return { kind: 'bearer', secretId: vaultRef(r, cred.value, `${p}.${a.has('credentials') ? 'credentials' : 'credentials_file'}`) };
  }
  const basic = pairs.get('basic_auth');
  if (basic) {
    const p = `${path}.basic_auth`;
    const b = r.pairs(basic.value, p, { username: 'supported', password: 'supported', password_file: 'supported' });
    if (b.has('password') && b.has('password_file')) r.fail(b.get('password_file'), p, 'password and password_file are mutually exclusive');
    const pw = b.get('password') ?? b.get('password_file');
    const username = b.has('username') ? r.string(b.get('username')!.value, `${p}.username`) : '';
    return { kind: 'basic', username, ...(pw ? { passwordSecretId: vaultRef(r, pw.value, `${p}.${b.has('password') ? 'password' : 'password_file'}`) } : {}) };
  }
  return undefined;
}

function parseLabels(r: Reader, node: Node | null | undefined, path: string): Labels {
  const labels: Labels = {};
  for (const [name, pair] of r.pairs(node, path, undefined)) {
    if (!isLabelName(name)) r.fail(pair.key, `${path}.${name}`, `"${name}" is not a valid label name`);
    labels[name] = r.string(pair.value, `${path}.${name}`);
  }
  return labels;
}

function parseJob(r: Reader, node: Node, path: string, global: { interval: string; intervalMs: number; timeout?: { text: string; ms: number } }): ScrapeJob {
  const pairs = r.pairs(node, path, JOB_KEYS);
  const get = (k: string) => pairs.get(k)?.value;
  if (!pairs.has('job_name')) r.fail(node, path, 'job_name is missing');
  const name = r.string(get('job_name'), `${path}.job_name`);
  if (name === '') r.fail(pairs.get('job_name'), `${path}.job_name`, 'job_name is empty');
  const scheme = pairs.has('scheme') ? r.string(get('scheme'), `${path}.scheme`) : 'http';
  if (scheme !== 'http' && scheme !== 'https') r.fail(pairs.get('scheme'), `${path}.scheme`, `"${scheme}" is not http or https`);
  const interval = pairs.has('scrape_interval')
    ? r.duration(get('scrape_interval'), `${path}.scrape_interval`)
    : { text: global.interval, ms: global.intervalMs };
  let timeout = pairs.has('scrape_timeout') ? r.duration(get('scrape_timeout'), `${path}.scrape_timeout`) : undefined;
  if (timeout && timeout.ms > interval.ms)
    r.fail(pairs.get('scrape_timeout'), `${path}.scrape_timeout`, `scrape timeout greater than scrape interval for scrape config with job name "${name}"`);
  if (!timeout) {
    const inherited = global.timeout ?? { text: DEFAULT_TIMEOUT, ms: parseDuration(DEFAULT_TIMEOUT)! };
    timeout = inherited.ms > interval.ms ? interval : inherited;
  }
  const params: Record<string, string[]> = {};
  for (const [k, pair] of r.pairs(get('params'), `${path}.params`, undefined)) params[k] = r.strings(pair.value, `${path}.params.${k}`);
  const limit = (k: string) => (pairs.has(k) ? Number(r.uint(get(k), `${path}.${k}`, 2n ** 32n - 1n)) : 0);
  const staticConfigs = r.seq(get('static_configs'), `${path}.static_configs`).map((g, i): StaticGroup => {
    const gp = `${path}.static_configs[${i}]`;
    const gpairs = r.pairs(g, gp, { targets: 'supported', labels: 'supported' });
    return { targets: r.strings(gpairs.get('targets')?.value, `${gp}.targets`), labels: parseLabels(r, gpairs.get('labels')?.value, `${gp}.labels`) };
  });
  const auth = parseAuth(r, pairs, path);
  return {
    name,
    scheme,
    metricsPath: pairs.has('metrics_path') ? r.string(get('metrics_path'), `${path}.metrics_path`) : '/metrics',
    params,
    scrapeInterval: promDuration(interval.ms),
    scrapeTimeout: promDuration(timeout.ms),
    scrapeTimeoutMs: timeout.ms,
    honorLabels: pairs.has('honor_labels') ? r.bool(get('honor_labels'), `${path}.honor_labels`) : false,
    honorTimestamps: pairs.has('honor_timestamps') ? r.bool(get('honor_timestamps'), `${path}.honor_timestamps`) : true,
    sampleLimit: limit('sample_limit'),
    targetLimit: limit('target_limit'),
    labelLimit: limit('label_limit'),
    labelNameLengthLimit: limit('label_name_length_limit'),
    labelValueLengthLimit: limit('label_value_length_limit'),
    staticConfigs,
    relabelConfigs: parseRelabel(r, r.seq(get('relabel_configs'), `${path}.relabel_configs`), `${path}.relabel_configs`),
    metricRelabelConfigs: parseRelabel(r, r.seq(get('metric_relabel_configs'), `${path}.metric_relabel_configs`), `${path}.metric_relabel_configs`),
    ...(auth ? { auth } : {}),
  };
}

/**
 * Parses a Prometheus configuration file. `source` names it in errors (`SCRAPE_CONFIG`,
 * `bucket/object`, a file name). Throws ScrapeConfigError.
 */
export function parseScrapeConfig(text: string, source: string): ScrapeConfigFile {
  const r = new Reader(source);
  const top = r.pairs(r.parse(text), '', TOP_KEYS);
  const g = r.pairs(top.get('global')?.value, 'global', GLOBAL_KEYS);
  const interval = g.has('scrape_interval') ? r.duration(g.get('scrape_interval')!.value, 'global.scrape_interval') : undefined;
  const intervalMs = interval?.ms ?? parseDuration(DEFAULT_INTERVAL)!;
  const timeout = g.has('scrape_timeout') ? r.duration(g.get('scrape_timeout')!.value, 'global.scrape_timeout') : undefined;
  if (timeout && timeout.ms > intervalMs) r.fail(g.get('scrape_timeout'), 'global.scrape_timeout', 'global scrape timeout greater than scrape interval');
  const jobNodes = r.seq(top.get('scrape_configs')?.value, 'scrape_configs');
  const jobs: ScrapeJob[] = [];
  const seen = new Set<string>();
  jobNodes.forEach((node, i) => {
    const job = parseJob(r, node, `scrape_configs[${i}]`, { interval: promDuration(intervalMs), intervalMs, timeout });
    if (seen.has(job.name)) r.fail(node, `scrape_configs[${i}].job_name`, `found multiple scrape configs with job name "${job.name}"`);
    seen.add(job.name);
    jobs.push(job);
  });
  if (jobs.length === 0) r.fail(top.get('scrape_configs') ?? undefined, 'scrape_configs', 'no jobs: the file configures nothing to scrape');
  return { jobs, notes: r.notes };
}
