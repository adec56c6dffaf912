/**
 * The real `terraform` binary over terraform/ without the oracle/oci provider (which cannot be
 * downloaded here): every `oci_*` resource and data source becomes a built-in `terraform_data`
 * resource whose `input` holds the block's arguments, and every attribute read from one becomes
 * that stand-in's `id`, which is unknown until apply, like any attribute the provider computes.
 * Variables, locals, validations, count/for_each, preconditions, depends_on, outputs and module
 * calls are kept as written, so `terraform plan` evaluates exactly what Terraform would evaluate
 * at plan time: unknown values in count ("Invalid count argument"), preconditions, validations.
 * `terraform apply`/`destroy` run too (nothing leaves the machine; local-exec commands run).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HclBody, type HclValue, interpolations, parseTfFile } from './tflint';

/** The terraform binary the tests use when it exists (a test that needs it skips without it). */
export const TERRAFORM = '/usr/local/bin/terraform';

/** Meta-arguments of a resource that stay meta-arguments of its stand-in. */
const KEPT_META = ['count', 'for_each', 'depends_on'];
/** Arguments of a block that have no meaning for a stand-in. */
const DROPPED = new Set(['provider', 'timeouts', 'connection']);

function isObject(v: HclValue | undefined): v is { [key: string]: HclValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The stand-in address of `oci_x.name` (`data.oci_x.name` -> `terraform_data.data__oci_x__name`). */
function standInName(type: string, name: string, data: boolean): string {
  return `${data ? 'data__' : ''}${type}__${name}`;
}

/** Per stand-in address (`oci_x.name`, `data.oci_x.name`), the arguments its block sets in the configuration. */
type Configured = Map<string, Set<string>>;

/**
 * One expression with its oci_* references pointed at the stand-ins: an argument the block sets
 * is read from the stand-in's `output` (known once applied, like the provider's echo of it);
 * anything else (computed by the provider) is the stand-in's `id`, unknown until apply.
 */
function rewriteExpression(expr: string, configured: Configured): string {
  return expr.replace(
    /(?<![\w.])(data\.)?(oci_\w+)\.([A-Za-z_][\w-]*)((?:\[[^\]]*\])?)((?:\.\w+|\[[^\]]*\])*)/g,
    (_all, data: string | undefined, type: string, name: string, index: string, rest: string) => {
      const address = `terraform_data.${standInName(type, name, data !== undefined)}${index}`;
      if (!rest) return address;
      const first = /^\.(\w+)/.exec(rest)?.[1];
      const set = data === undefined && first !== undefined && configured.get(`${type}.${name}`)?.has(first);
      return set ? `${address}.output${rest}` : `${address}.id`;
    },
  );
}

/** A value with every interpolation's references rewritten (strings, recursively). */
function rewrite(v: HclValue, configured: Configured): HclValue {
  if (typeof v === 'string') {
    let out = v;
    for (const expr of interpolations(v)) out = out.replace('${' + expr + '}', '${' + rewriteExpression(expr, configured) + '}');
    return out;
  }
  if (Array.isArray(v)) return v.map((x) => rewrite(x, configured));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rewrite(x, configured)]));
  return v;
}

/** An HCL expression for a JSON value as hcl2json gives it (`${expr}` alone -> `(expr)`; templates stay quoted). */
function hclExpression(v: HclValue): string {
  if (typeof v === 'string') {
    const inner = interpolations(v);
    if (inner.length === 1 && v === `\${${inner[0]}}`) return `(${inner[0]})`;
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(hclExpression).join(', ')}]`;
  if (isObject(v))
    return `{ ${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)} = ${hclExpression(x)}`)
      .join(', ')} }`;
  return String(v);
}

/** A block body as a plain value: `dynamic` blocks become `for` expressions over their for_each. */
function bodyValue(body: HclBody): HclValue {
  const out: Record<string, HclValue> = {};
  for (const [key, value] of Object.entries(body)) {
    if (DROPPED.has(key)) continue;
    if (key === 'dynamic' && isObject(value)) {
      for (const [block, defs] of Object.entries(value)) {
        (defs as HclBody[]).forEach((d, i) => {
          const it = typeof d.iterator === 'string' ? d.iterator : block;
          const content = bodyValue((d.content as HclBody[])[0]);
          const forEach = hclExpression(d.for_each);
          out[`dynamic_${block}_${i}`] = `\${[for ${it} in [for k, v in ${forEach} : { key = k, value = v }] : ${hclExpression(content)}]}`;
        });
      }
      continue;
    }
    out[key] = Array.isArray(value) && value.every(isObject) ? value.map((b) => bodyValue(b)) : value;
  }
  return out;
}

/** `${expr}` -> `expr`: JSON syntax wants bare references in depends_on. */
const bare = (s: string) => s.replace(/^\$\{([\s\S]*)\}$/, '$1');

/** A terraform_data block of the module itself, kept, with the keywords JSON syntax wants bare. */
function ownTerraformData(block: HclBody): HclBody {
  const out: HclBody = { ...block };
  if (Array.isArray(block.depends_on)) out.depends_on = (block.depends_on as string[]).map(bare);
  if (isObject(block.provisioner))
    out.provisioner = Object.fromEntries(
      Object.entries(block.provisioner).map(([kind, defs]) => [
        kind,
        (defs as HclBody[]).map((d) => ({
          ...d,
          ...(typeof d.when === 'string' ? { when: bare(d.when) } : {}),
          ...(typeof d.on_failure === 'string' ? { on_failure: bare(d.on_failure) } : {}),
        })),
      ]),
    );
  return out;
}

/** The stand-in of one resource or data block. */
function standInBlock(body: HclBody): HclBody {
  const out: HclBody = {};
  const input: HclBody = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'depends_on') out[key] = (value as string[]).map(bare);
    else if (KEPT_META.includes(key)) out[key] = value;
    else if (key === 'lifecycle') {
      const l = (value as HclBody[])[0];
      const kept = Object.fromEntries(
        Object.entries(l).filter(([k]) => ['precondition', 'postcondition', 'create_before_destroy', 'prevent_destroy'].includes(k)),
      );
      if (Object.keys(kept).length > 0) out.lifecycle = [kept];
    } else input[key] = value;
  }
  out.input = bodyValue(input);
  return out;
}

/** What each oci_* resource block of the files sets (for `rewriteExpression`). */
function configuredArguments(files: HclBody[]): Configured {
  const out: Configured = new Map();
  for (const json of files)
    for (const [type, byName] of Object.entries((json.resource ?? {}) as Record<string, Record<string, HclBody[]>>))
      for (const [name, bodies] of Object.entries(byName))
        out.set(`${type}.${name}`, new Set(Object.keys(bodies[0]).filter((k) => !['count', 'for_each', 'depends_on', 'lifecycle', 'provider'].includes(k))));
  return out;
}

/** The stand-in JSON configuration of one parsed .tf file; module sources are mapped by `sources`. */
function standInConfig(json: HclBody, configured: Configured, sources: Record<string, string>): HclBody {
  const out: Record<string, Record<string, HclValue>> = {};
  const put = (kind: string, name: string, value: HclValue) => ((out[kind] ??= {})[name] = value);
  const rw = (v: HclValue) => rewrite(v, configured);
  const moved: HclBody[] = [];
  for (const [kind, value] of Object.entries(json)) {
    if (kind === 'terraform' || kind === 'provider') continue;
    if (kind === 'moved') {
      // A moved block's addresses, as the stand-ins' (bare references, as JSON syntax wants them).
      for (const m of value as HclBody[]) moved.push({ from: bare(rw(m.from) as string), to: bare(rw(m.to) as string) });
    } else if (kind === 'locals') {
      for (const l of value as HclBody[]) for (const [k, v] of Object.entries(l)) put('locals', k, rw(v));
    } else if (kind === 'variable' || kind === 'output') {
      for (const [name, bodies] of Object.entries(value as Record<string, HclBody[]>)) {
        const body = { ...bodies[0] };
        if (typeof body.type === 'string') body.type = bare(body.type);
        put(kind, name, rw(body));
      }
    } else if (kind === 'module') {
      for (const [name, bodies] of Object.entries(value as Record<string, HclBody[]>)) {
        const body = rw(bodies[0]) as HclBody;
        const source = typeof body.source === 'string' ? body.source : '';
        put('module', name, { ...body, source: sources[source] ?? source });
      }
    } else if (kind === 'resource' || kind === 'data') {
      for (const [type, byName] of Object.entries(value as Record<string, Record<string, HclBody[]>>)) {
        for (const [name, bodies] of Object.entries(byName)) {
          const block = rw(bodies[0]) as HclBody;
          if (kind === 'resource' && type === 'terraform_data') put('resource', name, ownTerraformData(block));
          else put('resource', standInName(type, name, kind === 'data'), standInBlock(block));
        }
      }
    }
  }
  if (out.resource) out.resource = { terraform_data: out.resource };
  return moved.length > 0 ? { ...out, moved } : out;
}

/** Writes the stand-in of every .tf file of `srcDir` into `destDir` (as .tf.json); `replace` swaps a file's text. */
export async function writeStandIn(srcDir: string, destDir: string, sources: Record<string, string> = {}, replace: Record<string, string> = {}): Promise<void> {
  mkdirSync(destDir, { recursive: true });
  const names = readdirSync(srcDir).filter((f) => f.endsWith('.tf'));
  const parsed = await Promise.all(names.map((name) => parseTfFile(name, replace[name] ?? readFileSync(join(srcDir, name), 'utf8'))));
  const configured = configuredArguments(parsed.map((p) => p.json));
  for (const p of parsed) writeFileSync(join(destDir, `${p.file}.json`), JSON.stringify(standInConfig(p.json, configured, sources), null, 1));
}

/** What a terraform command said. */
export interface TerraformRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs terraform in `dir` (no CLI config, no prompts); `input` is its stdin (e.g. for `console`). */
export function terraform(dir: string, args: string[], env: Record<string, string> = {}, input?: string): TerraformRun {
  const r = spawnSync(TERRAFORM, args, {
    cwd: dir,
    input,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1', TF_CLI_CONFIG_FILE: '/dev/null', TF_INPUT: '0', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A scratch directory holding the stand-in module (`module/`), removed by `dispose()`. */
export interface StandInWorkspace {
  root: string;
  /** The stand-in of terraform/ (plus `replace`d files). */
  module: string;
  dispose(): void;
}

/** Makes the stand-in of terraform/ (some files replaced by other text, e.g. a negative fixture). */
export async function standInWorkspace(tfDir: string, replace: Record<string, string> = {}): Promise<StandInWorkspace> {
  const root = mkdtempSync(join(tmpdir(), 'prom2oci-standin-'));
  const module = join(root, 'module');
  await writeStandIn(tfDir, module, {}, replace);
  return { root, module, dispose: () => rmSync(root, { recursive: true, force: true }) };
}

/** `terraform init` then `plan` of a root directory; the plan's run (init failures are returned as is). */
export function initAndPlan(dir: string, planArgs: string[] = [], env: Record<string, string> = {}): TerraformRun {
  if (!existsSync(join(dir, '.terraform'))) {
    const init = terraform(dir, ['init', '-backend=false', '-input=false', '-no-color'], env);
    if (init.status !== 0) return init;
  }
  return terraform(dir, ['plan', '-input=false', '-lock=false', '-no-color', ...planArgs], env);
}

/** The text of a run, stdout and stderr together, for assertions on messages. */
export function output(r: TerraformRun): string {
  return `${r.stdout}\n${r.stderr}`.replace(/│\s?/g, '').replace(/\s+/g, ' ');
}
