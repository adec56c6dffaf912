/**
 * Command-line parsing for `prom2oci`: flags, durations, env files, and the mapping of flags to
 * the function's settings keys (every key of SETTING_SPECS has a flag, so the CLI cannot drift
 * from the function's configuration table).
 */
import { readFileSync } from 'node:fs';
import { parseArgs as nodeParseArgs } from 'node:util';
import { SETTING_SPECS } from '../config/settings';
import { parseScrapeConfig, ScrapeConfigError } from '../config/scrapeConfig';

/** A command line the CLI cannot act on: exit code 2, message names the flag. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** How a command's own flags are declared: boolean flags take no value. */
interface FlagSpec {
  /** Flag name without dashes -> takes a value (string) or not (boolean). */
  flags: Record<string, 'string' | 'boolean'>;
  /** Also accept the settings flags (--endpoint, --compartment, ...). */
  settings?: boolean;
}

/** The parsed command line. */
export interface ParsedArgs {
  /** Values of the command's own flags (booleans as true). */
  flags: Record<string, string | true>;
  /** Settings given by flags: setting key -> value, and which flag set it. */
  settings: Record<string, string>;
  settingFlags: Record<string, string>;
  positionals: string[];
}

/** Short names for the settings users pass most; every key also has its long kebab-case flag. */
const SETTING_ALIASES: Record<string, string> = {
  endpoint: 'METRICS_ENDPOINT',
  compartment: 'COMPARTMENT_OCID',
  namespace: 'METRICS_NAMESPACE',
  include: 'METRICS_INCLUDE',
  exclude: 'METRICS_EXCLUDE',
  'monitoring-endpoint': 'OCI_MONITORING_ENDPOINT',
  'secrets-endpoint': 'OCI_SECRETS_ENDPOINT',
  'bearer-token-secret': 'SCRAPE_BEARER_TOKEN_SECRET_OCID',
  // --config FILE: a Prometheus configuration file, read here (its errors name the file) and passed as SCRAPE_CONFIG.
  config: 'SCRAPE_CONFIG',
  profile: 'OCI_CONFIG_PROFILE',
};

/** Setting keys that are not in SETTING_SPECS but are read from the environment (auth). */
const AUTH_KEYS = ['OCI_CONFIG_FILE', 'OCI_CONFIG_PROFILE'];

/** Flag name (no dashes) -> setting key, for every setting except DRY_RUN (that is `--dry-run`). */
export function settingFlagNames(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of SETTING_SPECS) {
    if (spec.key === 'DRY_RUN') continue;
    out[spec.key.toLowerCase().replace(/_/g, '-')] = spec.key;
  }
  for (const key of AUTH_KEYS) out[key.toLowerCase().replace(/_/g, '-')] = key;
  return { ...out, ...SETTING_ALIASES };
}

/**
 * Parses argv against a spec with Node's util.parseArgs (the flag grammar: `--x v`, `--x=v`, `--`,
 * `-h`); what is ours is which flags exist. Unknown flags and missing values are UsageErrors.
 */
export function parseCommandLine(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const settingFlags = spec.settings ? settingFlagNames() : {};
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const name of Object.keys(settingFlags)) options[name] = { type: 'string' };
  if (spec.settings) options.set = { type: 'string' };
  for (const [name, kind] of Object.entries(spec.flags)) options[name] = { type: kind };
  // Not strict: unknown flags and missing values come back as tokens and get our own messages.
  const { tokens } = nodeParseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const out: ParsedArgs = { flags: {}, settings: {}, settingFlags: {}, positionals: [] };
  for (const token of tokens) {
    if (token.kind === 'positional') out.positionals.push(token.value);
    if (token.kind !== 'option') continue;
    const flag = token.rawName;
    const kind = options[token.name]?.type;
    if (kind === undefined) throw new UsageError(`unknown flag ${flag} (see --help)`);
    if (kind === 'boolean') {
      if (token.inlineValue) throw new UsageError(`${flag} takes no value`);
      out.flags[token.name] = true;
      continue;
    }
    // A value is inline (--x=v) or the next argument, which may not be another flag.
    const value = token.value;
    if (value === undefined || (!token.inlineValue && value.startsWith('--') && value.length > 2)) throw new UsageError(`${flag} needs a value`);
    if (spec.flags[token.name]) {
      out.flags[token.name] = value;
    } else if (token.name === 'set') {
      const [key, v] = splitPair(value, '--set');
      out.settings[key] = v;
      out.settingFlags[key] = '--set';
    } else if (token.name === 'config') {
      out.settings.SCRAPE_CONFIG = readScrapeConfigFile(value);
      out.settingFlags.SCRAPE_CONFIG = flag;
    } else {
      const key = settingFlags[token.name];
      out.settings[key] = value;
      out.settingFlags[key] = flag;
    }
  }
  return out;
}

/** The text of a Prometheus configuration file, checked (an error names the file, the line and the key). */
export function readScrapeConfigFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--config: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    parseScrapeConfig(text, path);
  } catch (e) {
    if (e instanceof ScrapeConfigError) throw new UsageError(`--config ${e.message}`);
    throw e;
  }
  return text;
}

/** Splits KEY=VALUE. */
function splitPair(text: string, where: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`${where} expects KEY=VALUE, got "${text}"`);
  return [text.slice(0, eq).trim(), text.slice(eq + 1)];
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `60s`, `1m`, `500ms`, `2h` or a bare number of seconds into ms. */
export function parseDuration(flag: string, text: string, minMs = 100): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new UsageError(`${flag}: "${text}" is not a duration (e.g. 60s, 10s, 1m, 500ms)`);
  const ms = Math.round(Number(m[1]) * DURATION_UNITS_MS[m[2] ?? 's']);
  if (ms < minMs) throw new UsageError(`${flag}: must be at least ${minMs} ms, got "${text}"`);
  return ms;
}

/** Reads a KEY=VALUE env file (blank lines, # comments, `export ` and quotes allowed). */
export function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--env-file: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, n) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new UsageError(`--env-file ${path} line ${n + 1}: expected KEY=VALUE`);
    let v = m[2];
    if (/^(["']).*\1$/.test(v)) v = v.slice(1, -1);
    out[m[1]] = v;
  });
  return out;
}

/** The environment the pipeline reads: process env, overridden by settings flags; `--dry-run` is DRY_RUN=true. */
export function settingsEnv(base: NodeJS.ProcessEnv, args: ParsedArgs): Record<string, string | undefined> {
  return { ...base, ...args.settings, ...(args.flags['dry-run'] === true ? { DRY_RUN: 'true' } : {}) };
}

/** Only the variables the function reads (settings and OCI auth), for a child function process. */
export function functionEnvFrom(base: NodeJS.ProcessEnv): Record<string, string> {
  const keys = new Set<string>(SETTING_SPECS.map((s) => s.key));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (v !== undefined && (keys.has(k) || k.startsWith('OCI_'))) out[k] = v;
  }
  return out;
}

/** The help text lines for the settings flags. */
export function settingsHelp(): string {
  const aliasOf: Record<string, string> = {};
  for (const [flag, key] of Object.entries(SETTING_ALIASES)) aliasOf[key] = flag;
  const rows = SETTING_SPECS.filter((s) => s.key !== 'DRY_RUN').map((s) => {
    const flag = aliasOf[s.key] ? `--${aliasOf[s.key]}` : `--${s.key.toLowerCase().replace(/_/g, '-')}`;
    const def = s.default !== undefined ? ` (default ${s.default})` : s.required === 'unless-dry-run' ? ' (required unless --dry-run)' : '';
    return `  ${flag.padEnd(28)} ${s.key}: ${s.description}; ${s.accepts}${def}`;
  });
  rows.push(`  ${'--oci-config-file FILE'.padEnd(28)} OCI_CONFIG_FILE: OCI config file (default ~/.oci/config)`);
  rows.push(`  ${'--profile NAME'.padEnd(28)} OCI_CONFIG_PROFILE: profile in the config file (default DEFAULT)`);
  rows.push(`  ${'--set KEY=VALUE'.padEnd(28)} any setting by its environment name`);
  return rows.join('\n');
}
