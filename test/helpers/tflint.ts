/**
 * An offline Terraform checker for terraform/: no terraform binary or provider plugin is
 * reachable here, so this parses HCL with @cdktf/hcl2json (HashiCorp's parser, compiled to
 * WebAssembly) and checks resources and data sources against the provider's argument schema
 * (test/fixtures/terraform/oci-provider-schema.json, extracted from oracle/oci 8.28.0).
 *
 * It checks literals only: an expression (`${...}`) is a value Terraform computes, so its
 * contents are not judged. Findings carry file:line so a failing test points at the source.
 */
import { readFileSync } from 'node:fs';
import { parse } from '@cdktf/hcl2json';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** One attribute of the provider schema (the fields of `terraform providers schema -json`). */
export interface SchemaAttr {
  type: 'string' | 'int' | 'bool' | 'float' | 'list' | 'set' | 'map';
  required?: boolean;
  optional?: boolean;
  computed?: boolean;
  min_items?: number;
  max_items?: number;
  elem_type?: string;
  elem_enum?: string[];
  enum?: string[];
  enum_ignore_case?: boolean;
  block?: Record<string, SchemaAttr>;
  conflicts_with?: string[];
  exactly_one_of?: string[];
  at_least_one_of?: string[];
  validate?: { func: string; args?: unknown[] }[];
}

/** One resource or data source of the provider schema. */
export interface SchemaEntry {
  kind: 'resource' | 'data';
  timeouts?: string[];
  attributes: Record<string, SchemaAttr>;
}

/** The provider schema file. */
export interface ProviderSchema {
  provider: string;
  version: string;
  resources: Record<string, SchemaEntry>;
  data_sources: Record<string, SchemaEntry>;
}

/** What the checker reports. `rule` is stable so tests can assert a specific finding. */
export type FindingRule =
  | 'syntax'
  | 'unknown-type'
  | 'unknown-argument'
  | 'missing-required'
  | 'invalid-enum'
  | 'invalid-literal'
  | 'computed-only'
  | 'max-items'
  | 'min-items'
  | 'conflicts'
  | 'block-syntax'
  | 'timeouts'
  | 'undeclared-reference'
  | 'unknown-attribute-reference'
  | 'policy'
  | 'plan-time'
  | 'format';

export interface Finding {
  file: string;
  line: number;
  rule: FindingRule;
  message: string;
}

/** A JSON value as hcl2json produces it; expressions are strings containing `${`. */
export type HclValue = string | number | boolean | null | HclValue[] | { [key: string]: HclValue };
export type HclBody = { [key: string]: HclValue };

/** An attribute as text: a scalar as String() writes it, a list or block as JSON (never "[object Object]"). */
export function hclText(v: HclValue | undefined): string {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/** One parsed .tf file: its name, its text (for line numbers) and its JSON form. */
export interface TfFile {
  file: string;
  text: string;
  json: HclBody;
}

/** A syntax error, located. */
export class TfSyntaxError extends Error {
  override name = 'TfSyntaxError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/** Reads the provider schema JSON. */
export function loadSchema(path: string): ProviderSchema {
  return JSON.parse(readFileSync(path, 'utf8')) as ProviderSchema;
}

/** Parses one .tf (or .tfvars) file; a syntax error becomes a TfSyntaxError naming file:line. */
export async function parseTfFile(file: string, text: string): Promise<TfFile> {
  try {
    const json = (await parse(file, text)) as HclBody;
    return { file, text, json };
  } catch (e) {
    const message = String(e instanceof Error ? e.message : e);
    // hcl2json: "parse config: [name.tf:12,5-6: Summary; Detail.]"
    const m = /\[?([^\s[:]+):(\d+),\d+(?:-\d+(?:,\d+)?)?: ([^\]]*)\]?/.exec(message);
    if (m) throw new TfSyntaxError(file, Number(m[2]), m[3].trim());
    throw new TfSyntaxError(file, 1, message);
  }
}

/** True when a value is a Terraform expression rather than a literal. */
export function isExpression(v: HclValue): boolean {
  return typeof v === 'string' && v.includes('${');
}

/** True for a plain JSON object (hcl2json's form of a block body or a map literal). */
function isObject(v: HclValue | undefined): v is { [key: string]: HclValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True for hcl2json's form of one or more nested blocks: an array of objects. */
function isBlockList(v: HclValue | undefined): v is HclBody[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => isObject(x));
}

// ---------------------------------------------------------------------------------------------
// Line numbers: hcl2json drops positions, so blocks and arguments are found in the text.
// ---------------------------------------------------------------------------------------------

/** Brace depth at the start of every line, ignoring braces in strings, comments and heredocs. */
function lineDepths(text: string): number[] {
  const lines = text.split('\n');
  const depths: number[] = [];
  let depth = 0;
  let heredoc: string | undefined;
  for (const line of lines) {
    depths.push(depth);
    if (heredoc !== undefined) {
      if (line.trim() === heredoc) heredoc = undefined;
      continue;
    }
    let inString = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '#' || (c === '/' && line[i + 1] === '/')) break;
      else if (c === '{') depth++;
      else if (c === '}') depth--;
      else if (c === '<' && line[i + 1] === '<') {
        const m = /^<<-?([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(line.slice(i));
        if (m) {
          heredoc = m[1];
          break;
        }
      }
    }
  }
  return depths;
}

/** Finds 1-based line numbers of blocks and arguments inside one file's text. */
export class LineLocator {
  private readonly lines: string[];
  private readonly depths: number[];

  constructor(text: string) {
    this.lines = text.split('\n');
    this.depths = lineDepths(text);
  }

  /** Line of `<kind> "<type>" "<name>" {` (kind = resource, data, variable, ...), or 1. */
  header(kind: string, ...labels: string[]): number {
    const label = labels.map((l) => `\\s+"?${escapeRe(l)}"?`).join('');
    const re = new RegExp(`^\\s*${escapeRe(kind)}${label}\\s*\\{`);
    const i = this.lines.findIndex((l, idx) => this.depths[idx] === 0 && re.test(l));
    return i + 1 || 1;
  }

  /**
   * Line of a nested argument or block below the block starting at `fromLine`.
   * Each path step is a key, optionally with the index of the repeated block (`["rules", 1]`).
   * Falls back to the deepest line found.
   */
  within(fromLine: number, path: (string | [string, number])[]): number {
    let line = fromLine;
    for (const step of path) {
      const [key, index] = typeof step === 'string' ? [step, 0] : step;
      const found = this.childLine(line, key, index);
      if (found === undefined) return line;
      line = found;
    }
    return line;
  }

  /** The index-th line directly inside the block opened on `blockLine` that starts with key. */
  private childLine(blockLine: number, key: string, index: number): number | undefined {
    const start = blockLine - 1;
    const inner = this.depths[start] + 1;
    const re = new RegExp(`^\\s*(${escapeRe(key)}\\s*(=|\\{)|dynamic\\s+"${escapeRe(key)}"\\s*\\{)`);
    let seen = 0;
    for (let i = start + 1; i < this.lines.length; i++) {
      if (this.depths[i] < inner) break;
      if (this.depths[i] === inner && re.test(this.lines[i])) {
        if (seen === index) return i + 1;
        seen++;
      }
    }
    return undefined;
  }
}

/** Escapes a string for use inside a RegExp. */
function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------
// Schema check
// ---------------------------------------------------------------------------------------------

const RESOURCE_META = new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle', 'provisioner', 'connection']);
const DATA_META = new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle']);
/** The arguments of Terraform's built-in terraform_data resource. */
const TERRAFORM_DATA_ARGUMENTS = new Set(['input', 'triggers_replace']);

/** Context of one block being checked: where findings go and how to find lines. */
interface BlockCtx {
  file: string;
  locate: (path: (string | [string, number])[]) => number;
  out: Finding[];
}

/** Checks every resource and data block of the files against the schema. */
export function checkSchema(files: TfFile[], schema: ProviderSchema): Finding[] {
  const out: Finding[] = [];
  for (const f of files) {
    const locator = new LineLocator(f.text);
    for (const kind of ['resource', 'data'] as const) {
      const byType = f.json[kind];
      if (!isObject(byType)) continue;
      for (const [type, byName] of Object.entries(byType)) {
        if (!isObject(byName)) continue;
        for (const [name, bodies] of Object.entries(byName)) {
          const header = locator.header(kind, type, name);
          const entry = kind === 'resource' ? schema.resources[type] : schema.data_sources[type];
          const label = `${kind === 'data' ? 'data.' : ''}${type}.${name}`;
          if (kind === 'resource' && type === 'terraform_data') {
            // Terraform's built-in resource (no provider): its own arguments and the meta-arguments.
            const body = Array.isArray(bodies) ? bodies[0] : bodies;
            for (const key of isObject(body) ? Object.keys(body) : [])
              if (!TERRAFORM_DATA_ARGUMENTS.has(key) && !RESOURCE_META.has(key))
                out.push({
                  file: f.file,
                  line: header,
                  rule: 'unknown-argument',
                  message: `${label}: unknown argument "${key}" (terraform_data takes input, triggers_replace)`,
                });
            continue;
          }
          if (!entry) {
            out.push({
              file: f.file,
              line: header,
              rule: 'unknown-type',
              message: `${label}: ${kind === 'data' ? 'data source' : 'resource'} type "${type}" is not in the ${schema.provider} ${schema.version} schema`,
            });
            continue;
          }
          const body = Array.isArray(bodies) ? bodies[0] : bodies;
          if (!isObject(body)) continue;
          const ctx: BlockCtx = { file: f.file, locate: (p) => locator.within(header, p), out };
          checkBody(ctx, label, [], body, entry.attributes, {
            meta: kind === 'resource' ? RESOURCE_META : DATA_META,
            timeouts: kind === 'resource' ? entry.timeouts : undefined,
          });
        }
      }
    }
  }
  return out;
}

/** Checks one block body (top level or nested) against its attribute schema. */
function checkBody(
  ctx: BlockCtx,
  label: string,
  path: (string | [string, number])[],
  body: HclBody,
  attrs: Record<string, SchemaAttr>,
  top?: { meta: Set<string>; timeouts?: string[] },
): void {
  const where = (key: string) => ctx.locate([...path, key]);
  const dynamicKeys = new Set<string>();
  const dyn = body.dynamic;
  if (isObject(dyn)) {
    for (const [key, specs] of Object.entries(dyn)) {
      dynamicKeys.add(key);
      checkDynamic(ctx, label, path, key, specs, attrs);
    }
  }
  for (const [key, value] of Object.entries(body)) {
    if (key === 'dynamic') continue;
    if (top?.meta.has(key)) continue;
    const name = `${label}${path.length ? '.' + pathText(path) : ''}.${key}`;
    if (top && key === 'timeouts') {
      checkTimeouts(ctx, name, (k) => ctx.locate(k === undefined ? [...path, key] : [...path, key, k]), value, top.timeouts);
      continue;
    }
    const attr = attrs[key];
    if (!attr) {
      ctx.out.push({
        file: ctx.file,
        line: where(key),
        rule: 'unknown-argument',
        message: `${name}: unknown argument or block "${key}"${suggest(key, Object.keys(attrs))}`,
      });
      continue;
    }
    if (attr.computed && !attr.optional && !attr.required) {
      ctx.out.push({ file: ctx.file, line: where(key), rule: 'computed-only', message: `${name}: "${key}" is computed by the provider and cannot be set` });
      continue;
    }
    if (attr.block) checkNestedBlock(ctx, label, path, key, value, attr);
    else checkArgument(ctx, name, where(key), value, attr);
  }
  checkRequired(ctx, label, path, body, attrs, dynamicKeys);
}

/** Checks a `dynamic "key" { content { ... } }` block: its content is one instance of the block. */
function checkDynamic(
  ctx: BlockCtx,
  label: string,
  path: (string | [string, number])[],
  key: string,
  specs: HclValue,
  attrs: Record<string, SchemaAttr>,
): void {
  const attr = attrs[key];
  const line = ctx.locate([...path, key]);
  const name = `${label}${path.length ? '.' + pathText(path) : ''}.dynamic.${key}`;
  if (!attr) {
    ctx.out.push({ file: ctx.file, line, rule: 'unknown-argument', message: `${name}: unknown block "${key}"${suggest(key, Object.keys(attrs))}` });
    return;
  }
  if (!attr.block) {
    ctx.out.push({ file: ctx.file, line, rule: 'block-syntax', message: `${name}: "${key}" is an argument, not a block; it cannot be dynamic` });
    return;
  }
  const list = Array.isArray(specs) ? specs : [specs];
  for (const spec of list) {
    if (!isObject(spec)) continue;
    const content = spec.content;
    const bodies = Array.isArray(content) ? content : [content];
    for (const b of bodies) if (isObject(b)) checkBody(ctx, label, [...path, key, 'content'], b, attr.block);
  }
}

/** Checks a nested block: its syntax, its count and each instance's body. */
function checkNestedBlock(ctx: BlockCtx, label: string, path: (string | [string, number])[], key: string, value: HclValue, attr: SchemaAttr): void {
  const name = `${label}${path.length ? '.' + pathText(path) : ''}.${key}`;
  const line = ctx.locate([...path, key]);
  if (!isBlockList(value)) {
    if (isExpression(value) || value === null) return;
    ctx.out.push({ file: ctx.file, line, rule: 'block-syntax', message: `${name}: "${key}" is a block; write \`${key} { ... }\`, not \`${key} = ...\`` });
    return;
  }
  if (attr.max_items !== undefined && value.length > attr.max_items) {
    ctx.out.push({
      file: ctx.file,
      line: ctx.locate([...path, [key, attr.max_items]]),
      rule: 'max-items',
      message: `${name}: at most ${attr.max_items} "${key}" block(s) allowed, found ${value.length}`,
    });
  }
  if (attr.min_items !== undefined && value.length < attr.min_items) {
    ctx.out.push({ file: ctx.file, line, rule: 'min-items', message: `${name}: at least ${attr.min_items} "${key}" block(s) required, found ${value.length}` });
  }
  value.forEach((b, i) => checkBody(ctx, label, [...path, [key, i]], b, attr.block!));
}

/** Checks one argument's literal value: block syntax misuse, enums, list length, literal types. */
function checkArgument(ctx: BlockCtx, name: string, line: number, value: HclValue, attr: SchemaAttr): void {
  if (value === null || isExpression(value)) return;
  const push = (rule: FindingRule, message: string): void => {
    ctx.out.push({ file: ctx.file, line, rule, message: `${name}: ${message}` });
  };
  if (isBlockList(value) && (attr.type === 'map' || attr.elem_type !== undefined || !['list', 'set'].includes(attr.type))) {
    push('block-syntax', `is an argument; write \`${name.split('.').pop()} = ...\`, not a block`);
    return;
  }
  if (attr.type === 'list' || attr.type === 'set') {
    if (!Array.isArray(value)) return push('invalid-literal', `expects a list, got ${JSON.stringify(value)}`);
    if (attr.max_items !== undefined && value.length > attr.max_items) push('max-items', `at most ${attr.max_items} element(s) allowed, found ${value.length}`);
    if (attr.min_items !== undefined && value.length < attr.min_items)
      push('min-items', `at least ${attr.min_items} element(s) required, found ${value.length}`);
    if (attr.elem_enum) for (const el of value) checkEnum(el, attr.elem_enum, attr.enum_ignore_case ?? false, push);
    return;
  }
  if (attr.type === 'map') {
    if (!isObject(value)) push('invalid-literal', `expects a map, got ${JSON.stringify(value)}`);
    return;
  }
  if (Array.isArray(value) || isObject(value)) return push('invalid-literal', `expects a ${attr.type}, got ${JSON.stringify(value).slice(0, 60)}`);
  if (attr.type === 'bool' && typeof value === 'string' && !/^(true|false)$/.test(value)) push('invalid-literal', `expects true or false, got "${value}"`);
  if ((attr.type === 'int' || attr.type === 'float') && typeof value === 'string' && !/^-?\d+(\.\d+)?$/.test(value))
    push('invalid-literal', `expects a number, got "${value}"`);
  if (attr.type === 'int' && typeof value === 'number' && !Number.isInteger(value)) push('invalid-literal', `expects a whole number, got ${value}`);
  if (attr.validate?.some((v) => v.func.endsWith('ValidateInt64TypeString')) && !/^-?\d+$/.test(String(value))) {
    push('invalid-literal', `expects a whole number (as a string), got ${JSON.stringify(value)}`);
  }
  if (attr.enum) checkEnum(value, attr.enum, attr.enum_ignore_case ?? false, push);
}

/** Reports a literal that is not one of the allowed values. */
function checkEnum(value: HclValue, allowed: string[], ignoreCase: boolean, push: (rule: FindingRule, message: string) => void): void {
  if (typeof value !== 'string' || isExpression(value)) return;
  const ok = ignoreCase ? allowed.some((a) => a.toLowerCase() === value.toLowerCase()) : allowed.includes(value);
  if (!ok) push('invalid-enum', `"${value}" is not one of ${allowed.join(', ')}`);
}

/** Checks a `timeouts { ... }` block against the operations the resource supports. */
function checkTimeouts(ctx: BlockCtx, name: string, lineOf: (key?: string) => number, value: HclValue, allowed: string[] | undefined): void {
  if (!allowed) {
    ctx.out.push({ file: ctx.file, line: lineOf(), rule: 'timeouts', message: `${name}: this resource has no timeouts block` });
    return;
  }
  const bodies = Array.isArray(value) ? value : [value];
  for (const b of bodies) {
    if (!isObject(b)) continue;
    for (const k of Object.keys(b)) {
      if (!allowed.includes(k))
        ctx.out.push({
          file: ctx.file,
          line: lineOf(k),
          rule: 'timeouts',
          message: `${name}: "${k}" is not a timeout of this resource (${allowed.join(', ')})`,
        });
    }
  }
}

/** Reports required arguments and blocks that are missing, and conflicting or missing groups. */
function checkRequired(
  ctx: BlockCtx,
  label: string,
  path: (string | [string, number])[],
  body: HclBody,
  attrs: Record<string, SchemaAttr>,
  dynamicKeys: Set<string>,
): void {
  const present = (k: string) => (k in body && body[k] !== null) || dynamicKeys.has(k);
  const line = ctx.locate(path);
  const name = `${label}${path.length ? '.' + pathText(path) : ''}`;
  for (const [key, attr] of Object.entries(attrs)) {
    if (attr.required && !present(key)) {
      ctx.out.push({ file: ctx.file, line, rule: 'missing-required', message: `${name}: missing required ${attr.block ? 'block' : 'argument'} "${key}"` });
    }
    if (attr.conflicts_with && present(key)) {
      for (const other of attr.conflicts_with) {
        if (!other.includes('.') && other > key && present(other)) {
          ctx.out.push({
            file: ctx.file,
            line: ctx.locate([...path, other]),
            rule: 'conflicts',
            message: `${name}: "${key}" and "${other}" cannot both be set`,
          });
        }
      }
    }
  }
  const groups = new Set<string>();
  for (const attr of Object.values(attrs)) {
    for (const g of [attr.exactly_one_of, attr.at_least_one_of]) if (g && g.every((k) => !k.includes('.'))) groups.add([...g].sort().join(','));
  }
  for (const g of groups) {
    const names = g.split(',');
    if (!names.some(present)) ctx.out.push({ file: ctx.file, line, rule: 'missing-required', message: `${name}: one of ${names.join(', ')} must be set` });
  }
}

/** Path steps as text: `resources[0].parameters[0]`. */
function pathText(path: (string | [string, number])[]): string {
  return path.map((p) => (typeof p === 'string' ? p : `${p[0]}[${p[1]}]`)).join('.');
}

/** " (did you mean "x"?)" for the closest known name, when one is close. */
function suggest(key: string, known: string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 4)) ? ` (did you mean "${best}"?)` : '';
}

/** Levenshtein distance, for suggestions. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

// ---------------------------------------------------------------------------------------------
// References: var.x, local.x, resource and data addresses, and the attributes read from them
// ---------------------------------------------------------------------------------------------

/** Every string (keys included) in a JSON value. */
function* stringsIn(value: HclValue): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const v of value) yield* stringsIn(v);
  else if (isObject(value))
    for (const [k, v] of Object.entries(value)) {
      yield k;
      yield* stringsIn(v);
    }
}

/** The `${...}` parts of a string (brace-balanced). */
export function interpolations(s: string): string[] {
  const out: string[] = [];
  for (let i = s.indexOf('${'); i >= 0; i = s.indexOf('${', i + 1)) {
    let depth = 0;
    for (let j = i + 1; j < s.length; j++) {
      if (s[j] === '{') depth++;
      else if (s[j] === '}' && --depth === 0) {
        out.push(s.slice(i + 2, j));
        i = j;
        break;
      }
    }
  }
  return out;
}

/**
 * Checks that every var.X, local.X, resource and data address used in an expression is declared
 * in the module, and that attributes read from oci_* addresses exist in the schema.
 */
export function checkReferences(files: TfFile[], schema: ProviderSchema): Finding[] {
  const declared = { variable: new Set<string>(), local: new Set<string>(), resource: new Set<string>(), data: new Set<string>() };
  for (const f of files) {
    const j = f.json;
    if (isObject(j.variable)) for (const k of Object.keys(j.variable)) declared.variable.add(k);
    if (Array.isArray(j.locals)) for (const l of j.locals) if (isObject(l)) for (const k of Object.keys(l)) declared.local.add(k);
    for (const kind of ['resource', 'data'] as const) {
      const byType = j[kind];
      if (isObject(byType))
        for (const [t, byName] of Object.entries(byType)) if (isObject(byName)) for (const n of Object.keys(byName)) declared[kind].add(`${t}.${n}`);
    }
  }
  const out: Finding[] = [];
  for (const f of files) {
    const lines = f.text.split('\n');
    const lineOf = (needle: string) => lines.findIndex((l) => l.includes(needle)) + 1 || 1;
    const report = (needle: string, rule: FindingRule, message: string) => out.push({ file: f.file, line: lineOf(needle), rule, message });
    for (const s of stringsIn(f.json)) {
      for (const expr of interpolations(s)) {
        for (const m of expr.matchAll(/(?<![\w.])var\.([A-Za-z_][\w-]*)/g))
          if (!declared.variable.has(m[1])) report(m[0], 'undeclared-reference', `var.${m[1]} is not declared`);
        for (const m of expr.matchAll(/(?<![\w.])local\.([A-Za-z_][\w-]*)/g))
          if (!declared.local.has(m[1])) report(m[0], 'undeclared-reference', `local.${m[1]} is not declared`);
        for (const m of expr.matchAll(/(?<![\w.])(data\.)?(oci_\w+)\.([A-Za-z_][\w-]*)((?:\[[^\]]*\])?(?:\.\w+(?:\[[^\]]*\])?)*)/g)) {
          const kind = m[1] ? 'data' : 'resource';
          const address = `${m[2]}.${m[3]}`;
          if (!declared[kind].has(address)) {
            report(m[0], 'undeclared-reference', `${m[1] ?? ''}${address} is not declared`);
            continue;
          }
          const entry = kind === 'data' ? schema.data_sources[m[2]] : schema.resources[m[2]];
          if (entry) checkAttributePath(entry.attributes, m[4], `${m[1] ?? ''}${address}`, (msg) => report(m[0], 'unknown-attribute-reference', msg));
        }
      }
    }
  }
  return out;
}

/** Walks `[0].services[0].cidr_block` through the schema, reporting the first unknown name. */
function checkAttributePath(attrs: Record<string, SchemaAttr>, rest: string, address: string, report: (msg: string) => void): void {
  let current: Record<string, SchemaAttr> | undefined = attrs;
  let seen = address;
  // An index (`[0]`, `[count.index]`) names no attribute.
  for (const m of rest.replace(/\[[^\]]*\]/g, '').matchAll(/\.(\w+)/g)) {
    if (!current) return;
    const attr: SchemaAttr | undefined = current[m[1]];
    if (!attr) {
      report(`${seen}: no attribute "${m[1]}"${suggest(m[1], Object.keys(current))}`);
      return;
    }
    seen += `.${m[1]}`;
    current = attr.block;
  }
}

// ---------------------------------------------------------------------------------------------
// IAM policy statements
// ---------------------------------------------------------------------------------------------

/** One parsed policy statement (`Allow <subject> to <verb> <resource> in <location> [where ...]`). */
export interface PolicyStatement {
  subject: string;
  verb: string;
  resource: string;
  location: string;
  /** 'all' for `where all {...}`, 'any' for `where any {...}`, 'single' for one bare condition. */
  conditionMode?: 'all' | 'any' | 'single';
  conditions: { variable: string; operator: string; value: string }[];
}

/** Replaces each `${...}` with a placeholder so that a template statement can be parsed. */
export function withPlaceholders(statement: string): string {
  let out = statement;
  for (const expr of interpolations(statement)) out = out.replace('${' + expr + '}', '<expr>');
  return out;
}

/** Parses a policy statement; undefined when it does not have the documented shape. */
export function parsePolicyStatement(statement: string): PolicyStatement | undefined {
  const s = withPlaceholders(statement).trim().replace(/\s+/g, ' ');
  const m = /^allow (.+?) to (\{[^}]*\}|[a-z-]+) ([^ ]+) in (tenancy|compartment id [^ ]+|compartment [^ ]+)(?: where (.+))?$/i.exec(s);
  if (!m) return undefined;
  const out: PolicyStatement = { subject: m[1], verb: m[2].toLowerCase(), resource: m[3].toLowerCase(), location: m[4], conditions: [] };
  if (m[5] !== undefined) {
    const w = m[5].trim();
    const group = /^(all|any) ?\{(.*)\}$/i.exec(w);
    out.conditionMode = group ? (group[1].toLowerCase() as 'all' | 'any') : 'single';
    const parts = group ? group[2].split(',') : [w];
    for (const p of parts) {
      const c = /^\s*([a-z.\-_]+)\s*(=|!=)\s*'([^']*)'\s*$/i.exec(p);
      if (!c) return undefined;
      out.conditions.push({ variable: c[1].toLowerCase(), operator: c[2], value: c[3] });
    }
  }
  return out;
}

/** The statements this project may grant, by `<verb> <resource>`, with their required conditions. */
const ALLOWED_GRANTS: Record<string, { subject: RegExp; requires: string[]; permission?: string; principal?: string }> = {
  'use metrics': { subject: /^dynamic-group \S+$/i, requires: ['target.metrics.namespace'] },
  // The state bucket: read and overwrite its objects; `manage` only narrowed to the one permission
  // `use` lacks (creating the object the first time).
  'use objects': { subject: /^dynamic-group \S+$/i, requires: ['target.bucket.name'] },
  'manage objects': { subject: /^dynamic-group \S+$/i, requires: ['target.bucket.name', 'request.permission'], permission: 'OBJECT_CREATE' },
  // The configuration object (SCRAPE_CONFIG_OBJECT): read the objects of its one bucket.
  'read objects': { subject: /^dynamic-group \S+$/i, requires: ['target.bucket.name'] },
  'read secret-bundles': { subject: /^dynamic-group \S+$/i, requires: ['target.secret.id'] },
  // The Resource Scheduler schedule: Oracle's documented statement for a schedule ("manage
  // <resource-type>"), narrowed to the one schedule principal, never a broader subject.
  'manage functions-family': { subject: /^any-user$/i, requires: ['request.principal.type', 'request.principal.id'], principal: 'resourceschedule' },
  // Discovery: read-only, scoped by the compartment alone (no condition narrows a listing).
  'read instances': { subject: /^dynamic-group \S+$/i, requires: [] },
  'read vnic-attachments': { subject: /^dynamic-group \S+$/i, requires: [] },
  'read vnics': { subject: /^dynamic-group \S+$/i, requires: [] },
  'inspect compartments': { subject: /^dynamic-group \S+$/i, requires: [] },
};

/**
 * Problems of one statement against this project's least-privilege rules (empty = allowed):
 * only the grants above, each in one compartment, narrowed by its `=` conditions (all of them
 * must hold); never manage (except `manage objects` narrowed to request.permission =
 * 'OBJECT_CREATE' on one bucket), never all-resources, never a whole tenancy.
 */
export function auditPolicyStatement(statement: string): string[] {
  const p = parsePolicyStatement(statement);
  if (!p) return [`cannot parse "${statement}" (expected: Allow <subject> to <verb> <resource> in compartment id <ocid> where ...)`];
  const problems: string[] = [];
  const allowed = ALLOWED_GRANTS[`${p.verb} ${p.resource}`];
  const narrowedManage = allowed?.permission;
  const permissions = p.conditions.filter((x) => x.variable === 'request.permission');
  const principalNarrowed =
    allowed?.principal !== undefined &&
    p.conditionMode !== 'any' &&
    p.conditions.some((x) => x.variable === 'request.principal.type' && x.operator === '=' && x.value === allowed.principal) &&
    p.conditions.some((x) => x.variable === 'request.principal.id' && x.operator === '=');
  if (
    p.verb === 'manage' &&
    !principalNarrowed &&
    !(narrowedManage && p.conditionMode !== 'any' && permissions.length === 1 && permissions[0].operator === '=' && permissions[0].value === narrowedManage)
  ) {
    problems.push(narrowedManage ? `grants manage beyond request.permission = '${narrowedManage}'` : 'grants manage');
  }
  if (p.verb.startsWith('{')) problems.push('grants a raw permission list');
  if (p.resource === 'all-resources') problems.push('grants all-resources');
  if (p.resource.endsWith('-family') && !principalNarrowed) problems.push(`grants a whole family (${p.resource})`);
  if (!/^compartment id /i.test(p.location)) problems.push(`applies to "${p.location}"; expected one compartment by id`);
  const grant = ALLOWED_GRANTS[`${p.verb} ${p.resource}`];
  if (!grant) {
    problems.push(`"${p.verb} ${p.resource}" is not one of the allowed grants (${Object.keys(ALLOWED_GRANTS).join('; ')})`);
    return problems;
  }
  if (!grant.subject.test(p.subject)) problems.push(`subject "${p.subject}" is not allowed for ${p.verb} ${p.resource}`);
  if (p.conditionMode === 'any' && p.conditions.length > 1) problems.push('uses "where any {...}", which widens instead of narrowing');
  for (const v of grant.requires) {
    const c = p.conditions.find((x) => x.variable === v && x.operator === '=');
    if (!c) problems.push(`${p.verb} ${p.resource} lacks the condition ${v} = '...'`);
    else if (c.value === '' || c.value.includes('*')) problems.push(`${v} must name one value, got '${c.value}'`);
  }
  const principalType = p.conditions.find((x) => x.variable === 'request.principal.type');
  if (grant.principal && principalType && principalType.value !== grant.principal) {
    problems.push(`request.principal.type must be '${grant.principal}', got '${principalType.value}'`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Policy condition variables: the one list of what OCI's policy reference allows
// ---------------------------------------------------------------------------------------------

/**
 * The condition variables OCI's IAM policy reference documents, per resource family. A condition
 * on a variable that does not apply to a request makes the statement decline it, so a statement
 * may only use these. To grant a new resource type, add its family with the variables of its
 * "Details for <service>" page (section "Supported Variables") and name the page in `source`.
 */
export const POLICY_CONDITION_VARIABLES: {
  /** "General Variables for All Requests": every service supports them. */
  general: readonly string[];
  families: readonly { family: string; resourceTypes: readonly string[]; variables: readonly string[]; source: string }[];
  /** Variables documented only for one kind of requesting principal (request.principal.type = key). */
  byPrincipalType: Readonly<Record<string, { variables: readonly string[]; source: string }>>;
} = {
  general: [
    'request.user.id',
    'request.user.name',
    'request.user.mfatotpverified',
    'request.groups.id',
    'request.permission',
    'request.operation',
    'request.networksource.name',
    'request.utc-timestamp',
    'request.utc-timestamp.month-of-year',
    'request.utc-timestamp.day-of-month',
    'request.utc-timestamp.day-of-week',
    'request.utc-timestamp.time-of-day',
    'request.region',
    'request.ad',
    'request.principal.compartment.tag',
    'request.principal.group.tag',
    'request.principal.type',
    'target.compartment.name',
    'target.compartment.id',
    'target.resource.compartment.tag',
    'target.resource.tag',
    'target.workrequest.type',
  ],
  families: [
    {
      family: 'functions-family',
      resourceTypes: ['fn-app', 'fn-function', 'fn-invocation'],
      variables: [],
      source: 'Details for Functions: "OCI Functions supports all the general variables" (none of its own)',
    },
    {
      family: 'monitoring',
      resourceTypes: ['metrics', 'alarms'],
      variables: ['target.metrics.namespace'],
      source: 'Details for Monitoring: target.metrics.namespace (for metrics)',
    },
    {
      family: 'object-family',
      resourceTypes: ['objectstorage-namespaces', 'buckets', 'objects'],
      variables: ['target.bucket.name', 'target.bucket.tag', 'target.object.name'],
      source:
        'Details for Object Storage and Archive Storage: target.bucket.name and target.bucket.tag.<ns>.<key> (buckets, objects), target.object.name (objects)',
    },
    {
      family: 'secret-family',
      resourceTypes: ['secrets', 'secret-versions', 'secret-bundles'],
      variables: ['target.secret.id', 'target.secret.name', 'target.vault.id', 'target.key.id'],
      source: 'Details for Vault, Key Management, and Secret Management',
    },
  ],
  byPrincipalType: {
    resourceschedule: {
      variables: ['request.principal.id'],
      source: "Resource Scheduler example policies: where all {request.principal.type='resourceschedule', request.principal.id='<schedule ocid>'}",
    },
  },
};

/** The variables a statement on `resourceType` may use (undefined: the resource type is not in the list). */
export function allowedConditionVariables(resourceType: string, principalType?: string): Set<string> | undefined {
  const family = POLICY_CONDITION_VARIABLES.families.find((f) => f.family === resourceType || f.resourceTypes.includes(resourceType));
  if (!family) return undefined;
  const extra = principalType === undefined ? [] : (POLICY_CONDITION_VARIABLES.byPrincipalType[principalType]?.variables ?? []);
  return new Set([...POLICY_CONDITION_VARIABLES.general, ...family.variables, ...extra].map((v) => v.toLowerCase()));
}

/** True when `variable` is one of `allowed`, or a tag variable below one (`target.resource.tag.<ns>.<key>`). */
function isAllowedVariable(variable: string, allowed: Set<string>): boolean {
  const v = variable.toLowerCase();
  if (allowed.has(v)) return true;
  return [...allowed].some((a) => a.endsWith('.tag') && v.startsWith(`${a}.`));
}

/** Problems of one statement's condition variables (empty = every variable is documented for its resource type). */
export function auditConditionVariables(statement: string): string[] {
  const p = parsePolicyStatement(statement);
  if (!p) return [];
  const principalType = p.conditions.find((c) => c.variable === 'request.principal.type' && c.operator === '=')?.value;
  const allowed = allowedConditionVariables(p.resource, principalType);
  if (!allowed) {
    return p.conditions.length === 0
      ? []
      : [`resource type "${p.resource}" is not in POLICY_CONDITION_VARIABLES: add its family with the variables OCI's policy reference lists for it`];
  }
  return p.conditions
    .filter((c) => !isAllowedVariable(c.variable, allowed))
    .map(
      (c) =>
        `condition variable ${c.variable} is not one OCI's policy reference lists for ` +
        `${p.resource}${principalType ? ` (principal type ${principalType})` : ''}: the condition would decline every request`,
    );
}

/**
 * The variables a dynamic group's matching rule may use ("Writing Matching Rules to Define
 * Dynamic Groups"): the resource's type, OCID and compartment OCID, and its defined tags.
 */
export const DYNAMIC_GROUP_RULE_VARIABLES: readonly string[] = ['resource.type', 'resource.id', 'resource.compartment.id'];

/** Problems of a matching rule: `ALL {...}`/`ANY {...}` of `variable = 'value'` with documented variables only. */
export function auditMatchingRule(rule: string): string[] {
  const m = /^\s*(all|any)\s*\{(.*)\}\s*$/i.exec(withPlaceholders(rule));
  if (!m) return [`cannot parse matching rule "${rule}" (expected ALL {resource.type = '...', ...})`];
  const problems: string[] = [];
  for (const part of m[2].split(',')) {
    const c = /^\s*([A-Za-z.\-_]+)\s*(=|!=)\s*'([^']*)'\s*$/.exec(part);
    if (!c) {
      problems.push(`cannot parse "${part.trim()}" in matching rule`);
      continue;
    }
    const v = c[1].toLowerCase();
    if (!DYNAMIC_GROUP_RULE_VARIABLES.includes(v) && !/^tag\.[^.]+\.[^.]+\.value$/.test(v))
      problems.push(`matching-rule variable ${c[1]} is not documented (${DYNAMIC_GROUP_RULE_VARIABLES.join(', ')}, tag.<ns>.<key>.value)`);
  }
  return problems;
}

/** Audits the literal statements of every oci_identity_policy in the files. */
export function checkPolicies(files: TfFile[]): Finding[] {
  const out: Finding[] = [];
  for (const { file, text, statements } of policyStatements(files)) {
    const lines = text.split('\n');
    for (const s of statements) {
      const probe = s.slice(0, 40);
      const line = lines.findIndex((l) => l.includes(probe)) + 1 || 1;
      for (const problem of [...auditPolicyStatement(s), ...auditConditionVariables(s)]) out.push({ file, line, rule: 'policy', message: `${problem}: ${s}` });
    }
  }
  return out;
}

/** The statements of each oci_identity_policy, with the resource address. */
export function policyStatements(files: TfFile[]): { file: string; text: string; address: string; body: HclBody; statements: string[] }[] {
  const out: { file: string; text: string; address: string; body: HclBody; statements: string[] }[] = [];
  for (const f of files) {
    const byName = isObject(f.json.resource) ? f.json.resource.oci_identity_policy : undefined;
    if (!isObject(byName)) continue;
    for (const [name, bodies] of Object.entries(byName)) {
      const body = Array.isArray(bodies) ? bodies[0] : undefined;
      if (!isObject(body)) continue;
      const st = body.statements;
      const statements = Array.isArray(st) ? st.filter((x): x is string => typeof x === 'string') : typeof st === 'string' ? [st] : [];
      out.push({ file: f.file, text: f.text, address: `oci_identity_policy.${name}`, body, statements });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Plan-time counts: what a module creates never waits for apply
// ---------------------------------------------------------------------------------------------

/** The variables and resource/data addresses an expression depends on, following locals. */
function dependencies(expr: string, locals: Map<string, HclValue>, seen = new Set<string>()): { variables: Set<string>; addresses: Set<string> } {
  const out = { variables: new Set<string>(), addresses: new Set<string>() };
  for (const m of expr.matchAll(/(?<![\w.])var\.([A-Za-z_][\w-]*)/g)) out.variables.add(m[1]);
  for (const m of expr.matchAll(/(?<![\w.])((?:data\.)?(?:oci_\w+|terraform_data)\.[A-Za-z_][\w-]*)/g)) out.addresses.add(m[1]);
  for (const m of expr.matchAll(/(?<![\w.])local\.([A-Za-z_][\w-]*)/g)) {
    if (seen.has(m[1])) continue;
    seen.add(m[1]);
    const value = locals.get(m[1]);
    if (value === undefined) continue;
    const inner = dependencies([...stringsIn(value)].flatMap(interpolations).join('\n'), locals, seen);
    for (const v of inner.variables) out.variables.add(v);
    for (const a of inner.addresses) out.addresses.add(a);
  }
  return out;
}

/**
 * Findings for every `count`/`for_each` of a resource, data source or module that depends, through
 * any chain of locals, on a resource or data attribute or on a variable `mayBeUnknown` names (an
 * OCID a caller may take from a resource of the same apply): Terraform refuses such a plan
 * ("Invalid count argument"). What a module creates must follow values known at plan time.
 */
export function checkPlanTimeCounts(files: TfFile[], mayBeUnknown: (variable: string) => boolean): Finding[] {
  const locals = new Map<string, HclValue>();
  for (const f of files)
    if (Array.isArray(f.json.locals)) for (const l of f.json.locals) if (isObject(l)) for (const [k, v] of Object.entries(l)) locals.set(k, v);
  const out: Finding[] = [];
  for (const f of files) {
    const locator = new LineLocator(f.text);
    const blocks: [string, string[], HclBody][] = [];
    for (const kind of ['resource', 'data'] as const) {
      const byType = f.json[kind];
      if (!isObject(byType)) continue;
      for (const [type, byName] of Object.entries(byType))
        if (isObject(byName)) for (const [name, bodies] of Object.entries(byName)) if (isBlockList(bodies)) blocks.push([kind, [type, name], bodies[0]]);
    }
    if (isObject(f.json.module))
      for (const [name, bodies] of Object.entries(f.json.module)) if (isBlockList(bodies)) blocks.push(['module', [name], bodies[0]]);
    for (const [kind, labels, body] of blocks) {
      for (const meta of ['count', 'for_each'] as const) {
        if (body[meta] === undefined) continue;
        const deps = dependencies([...stringsIn(body[meta])].flatMap(interpolations).join('\n'), locals);
        const address = `${kind === 'resource' ? '' : `${kind}.`}${labels.join('.')}`;
        const line = locator.within(locator.header(kind, ...labels), [meta]);
        for (const a of deps.addresses)
          out.push({ file: f.file, line, rule: 'plan-time', message: `${address}: ${meta} depends on ${a}, which is unknown until apply` });
        for (const v of [...deps.variables].filter(mayBeUnknown).sort())
          out.push({
            file: f.file,
            line,
            rule: 'plan-time',
            message:
              `${address}: ${meta} depends on var.${v}, which a caller may set from a resource of the same apply ` +
              '(unknown at plan time): decide it with a bool',
          });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cron
// ---------------------------------------------------------------------------------------------

/** True when a five-field cron expression fires exactly once a day, every day (`<minute> <hour> * * *`). */
export function cronFiresDaily(expr: string): boolean {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return false;
  const [minute, hour, ...rest] = fields;
  return /^\d{1,2}$/.test(minute) && Number(minute) < 60 && /^\d{1,2}$/.test(hour) && Number(hour) < 24 && rest.every((f) => f === '*');
}

/** True when a five-field cron expression fires every minute of every hour and day. */
export function cronFiresEveryMinute(expr: string): boolean {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return false;
  const [minute, ...rest] = fields;
  return ['*', '*/1', '0-59', '0-59/1'].includes(minute) && rest.every((f) => f === '*' || f === '?');
}

// ---------------------------------------------------------------------------------------------
// Formatting (the parts of `terraform fmt` that matter for review)
// ---------------------------------------------------------------------------------------------

/** The brackets ({[( and )]}) of a line outside strings and comments, in order. */
function bracketsOf(line: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '#' || (c === '/' && line[i + 1] === '/')) break;
    else if ('{[()]}'.includes(c)) out += c;
  }
  return out;
}

/**
 * The layout rules of `terraform fmt` that matter in review: each line that leaves brackets open
 * indents the following lines by two spaces (however many it opens, as hclwrite does), a line
 * starting with closing brackets goes back out; no tabs, no trailing spaces, one final newline.
 */
export function checkFormat(file: string, text: string): Finding[] {
  const out: Finding[] = [];
  const lines = text.split('\n');
  const open: number[] = []; // per indenting line: how many of its brackets are still open
  const close = () => {
    if (open.length > 0 && --open[open.length - 1] === 0) open.pop();
  };
  let heredocEnd: string | undefined;
  lines.forEach((line, i) => {
    const push = (message: string) => out.push({ file, line: i + 1, rule: 'format', message });
    if (heredocEnd !== undefined) {
      if (line.trim() === heredocEnd) heredocEnd = undefined;
      return;
    }
    if (line.includes('\t')) push('tab character (use two spaces)');
    if (/\s+$/.test(line)) push('trailing whitespace');
    const brackets = bracketsOf(line);
    const leading = /^[)\]}]*/.exec(line.trim())?.[0].length ?? 0;
    for (let k = 0; k < leading; k++) close();
    const expected = open.length * 2;
    const indent = line.length - line.trimStart().length;
    if (line.trim() !== '' && indent !== expected) push(`indented ${indent} spaces, expected ${expected}`);
    let opened = 0;
    for (const c of brackets.slice(leading)) {
      if ('{[('.includes(c)) opened++;
      else if (opened > 0) opened--;
      else close();
    }
    if (opened > 0) open.push(opened);
    heredocEnd = /<<-?([A-Za-z_]\w*)\s*$/.exec(line)?.[1];
  });
  if (!text.endsWith('\n')) out.push({ file, line: lines.length, rule: 'format', message: 'no newline at end of file' });
  if (text.endsWith('\n\n')) out.push({ file, line: lines.length, rule: 'format', message: 'blank lines at end of file' });
  return out;
}

/** Findings in source order (file, then line). */
export function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.message.localeCompare(b.message));
}

/** `file:line: [rule] message`, the form tests print. */
export function formatFinding(f: Finding): string {
  return `${f.file}:${f.line}: [${f.rule}] ${f.message}`;
}
