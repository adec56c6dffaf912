/**
 * Prometheus' relabelling (model/relabel/relabel.go, as in Prometheus 2.42, the reference server):
 * every action, its defaults and its validation, with Go's template expansion for `$1`/`${name}`.
 * Pure, no I/O; the configuration parser builds the rules (src/config/scrapeConfig.ts).
 */
import { createHash } from 'node:crypto';
import { compileRe2, type Re2Regex } from './re2';

/** Label name -> value (the shape of src/types/model.ts' Labels, which imports this module's types). */
type Labels = Record<string, string>;

const RELABEL_ACTIONS = [
  'replace',
  'keep',
  'drop',
  'keepequal',
  'dropequal',
  'hashmod',
  'labelmap',
  'labeldrop',
  'labelkeep',
  'lowercase',
  'uppercase',
] as const;
type RelabelAction = (typeof RELABEL_ACTIONS)[number];

/** One relabel rule with Prometheus' defaults applied. */
export interface RelabelRule {
  action: RelabelAction;
  sourceLabels: string[];
  separator: string;
  regex: Re2Regex;
  /** A uint64 in Prometheus: kept exact beyond 2^53. */
  modulus: bigint;
  targetLabel: string;
  replacement: string;
}

/** A rule as written (only the keys given), before defaults and validation. */
export interface RelabelRuleInput {
  action?: string;
  source_labels?: string[];
  separator?: string;
  regex?: string;
  modulus?: number | bigint;
  target_label?: string;
  replacement?: string;
}

const DEFAULT_REGEX = '(.*)';
const DEFAULT_SEPARATOR = ';';
const DEFAULT_REPLACEMENT = '$1';
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Prometheus' check of a templated target label or a labelmap replacement. */
const RELABEL_TARGET = /^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$/;

/** A rule Prometheus would refuse; the message is Prometheus' own where it has one. */
export class RelabelConfigError extends Error {
  override name = 'RelabelConfigError';
}

/** True for a valid Prometheus label name (the classic, pre-UTF-8 rule of Prometheus 2.x). */
export function isLabelName(name: string): boolean {
  return LABEL_NAME.test(name);
}

/** Applies the defaults and Prometheus' validation (relabel.Config.Validate); throws RelabelConfigError or Re2Error. */
export function relabelRule(input: RelabelRuleInput): RelabelRule {
  const actionText = input.action ?? 'replace';
  const action = actionText.toLowerCase() as RelabelAction;
  if (!RELABEL_ACTIONS.includes(action)) throw new RelabelConfigError(`unknown relabel action "${actionText}" (one of ${RELABEL_ACTIONS.join(', ')})`);
  const rule: RelabelRule = {
    action,
    sourceLabels: input.source_labels ?? [],
    separator: input.separator ?? DEFAULT_SEPARATOR,
    regex: compileRe2(input.regex ?? DEFAULT_REGEX),
    modulus: BigInt(input.modulus ?? 0),
    targetLabel: input.target_label ?? '',
    replacement: input.replacement ?? DEFAULT_REPLACEMENT,
  };
  for (const l of rule.sourceLabels) if (!isLabelName(l)) throw new RelabelConfigError(`"${l}" is not a valid label name in source_labels`);
  validate(rule, input);
  return rule;
}

function validate(r: RelabelRule, input: RelabelRuleInput): void {
  const a = r.action;
  if (a === 'hashmod' && r.modulus === 0n) throw new RelabelConfigError('relabel configuration for hashmod requires non-zero modulus');
  const needsTarget = ['replace', 'hashmod', 'lowercase', 'uppercase', 'keepequal', 'dropequal'];
  if (needsTarget.includes(a) && r.targetLabel === '') throw new RelabelConfigError(`relabel configuration for ${a} action requires 'target_label' value`);
  const invalidTarget = () => new RelabelConfigError(`"${r.targetLabel}" is invalid 'target_label' for ${a} action`);
  if (a === 'replace' && !(r.targetLabel.includes('$') ? RELABEL_TARGET.test(r.targetLabel) : isLabelName(r.targetLabel))) throw invalidTarget();
  if (['lowercase', 'uppercase', 'keepequal', 'dropequal', 'hashmod'].includes(a) && !isLabelName(r.targetLabel)) throw invalidTarget();
  if (['lowercase', 'uppercase', 'keepequal', 'dropequal'].includes(a) && r.replacement !== DEFAULT_REPLACEMENT)
    throw new RelabelConfigError(`'replacement' can not be set for ${a} action`);
  if (a === 'labelmap' && !RELABEL_TARGET.test(r.replacement)) throw new RelabelConfigError(`"${r.replacement}" is invalid 'replacement' for ${a} action`);
  if (
    (a === 'keepequal' || a === 'dropequal') &&
    // Prometheus compares the regex by identity with the default one: any regex written is refused.
    (input.regex !== undefined || r.modulus !== 0n || r.separator !== DEFAULT_SEPARATOR)
  )
    throw new RelabelConfigError(`${a} action requires only 'source_labels' and \`target_label\`, and no other fields`);
  if (
    (a === 'labeldrop' || a === 'labelkeep') &&
    (input.source_labels !== undefined ||
      r.targetLabel !== '' ||
      r.modulus !== 0n ||
      r.separator !== DEFAULT_SEPARATOR ||
      r.replacement !== DEFAULT_REPLACEMENT)
  )
    throw new RelabelConfigError(`${a} action requires only 'regex', and no other fields`);
}

/**
 * Go's regexp.Expand: `$name` takes the longest run of letters, digits and `_` (so `$1_x` is the
 * group named "1_x", empty), `${name}` is explicit, `$$` is `$`, a malformed `$` stays as text, and
 * a group that does not exist or did not take part expands to "".
 */
export function expandTemplate(template: string, match: RegExpExecArray, names: ReadonlyMap<string, number>): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf('$', i);
    if (dollar < 0) break;
    out += template.slice(i, dollar);
    i = dollar + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    const m = /^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/u.exec(template.slice(i));
    if (!m) {
      out += '$';
      continue;
    }
    i += m[0].length;
    const name = m[1] ?? m[2];
    // A number (no leading zero) is a group number; anything else a group name.
    const num = /^(0|[1-9][0-9]{0,7})$/.test(name) ? Number(name) : names.get(name);
    if (num !== undefined) out += match[num] ?? '';
  }
  return out + template.slice(i);
}

/** The hashmod of a value: MD5, its last 8 bytes as a big-endian unsigned 64-bit integer, mod `modulus`. */
export function hashmod(value: string, modulus: bigint): bigint {
  const digest = createHash('md5').update(value, 'utf8').digest();
  return digest.readBigUInt64BE(8) % modulus;
}

/**
 * Go's strings.ToLower/ToUpper: each code point mapped alone by its simple case mapping (JavaScript
 * maps some to several, `ß` to `SS`, and lowercases a final `Σ` by context); such ones stay as they are.
 */
function goCase(value: string, upper: boolean): string {
  if (!/[^\p{ASCII}]/u.test(value)) return upper ? value.toUpperCase() : value.toLowerCase();
  let out = '';
  for (const ch of value) {
    if (!upper && ch === '\u0130') {
      out += 'i'; // Go: unicode.ToLower('İ') = 'i'
      continue;
    }
    const mapped = upper ? ch.toUpperCase() : ch.toLowerCase();
    out += [...mapped].length === 1 ? mapped : ch;
  }
  return out;
}

/** The source labels' values joined by the separator (a missing label reads as empty); no array made per sample. */
function sourceValue(r: RelabelRule, labels: Map<string, string>): string {
  const names = r.sourceLabels;
  if (names.length === 0) return '';
  let val = labels.get(names[0]) ?? '';
  for (let i = 1; i < names.length; i++) val += r.separator + (labels.get(names[i]) ?? '');
  return val;
}

/** Applies one rule to `labels` in place; false when the rule drops the label set. */
function applyRule(r: RelabelRule, labels: Map<string, string>): boolean {
  switch (r.action) {
    case 'drop':
      return !r.regex.regex.test(sourceValue(r, labels));
    case 'keep':
      return r.regex.regex.test(sourceValue(r, labels));
    case 'dropequal':
      return (labels.get(r.targetLabel) ?? '') !== sourceValue(r, labels);
    case 'keepequal':
      return (labels.get(r.targetLabel) ?? '') === sourceValue(r, labels);
    case 'replace': {
      const m = r.regex.regex.exec(sourceValue(r, labels));
      if (!m) return true;
      const target = expandTemplate(r.targetLabel, m, r.regex.names);
      // Prometheus 2.42 deletes the target label as written (template included) when the expanded
      // name is invalid or the value empty.
      if (!isLabelName(target)) {
        labels.delete(r.targetLabel);
        return true;
      }
      const res = expandTemplate(r.replacement, m, r.regex.names);
      if (res === '') labels.delete(r.targetLabel);
      else labels.set(target, res);
      return true;
    }
    case 'lowercase':
    case 'uppercase': {
      const res = goCase(sourceValue(r, labels), r.action === 'uppercase');
      if (res === '') labels.delete(r.targetLabel);
      else labels.set(r.targetLabel, res);
      return true;
    }
    case 'hashmod':
      labels.set(r.targetLabel, String(hashmod(sourceValue(r, labels), r.modulus)));
      return true;
    case 'labelmap': {
      // Every label is matched as it was before the rule (the new names are set after the loop, in order).
      let mapped: [string, string][] | undefined;
      for (const [name, value] of labels) {
        const m = r.regex.regex.exec(name);
        if (m) (mapped ??= []).push([expandTemplate(r.replacement, m, r.regex.names), value]);
      }
      if (mapped)
        for (const [res, value] of mapped) {
          if (value === '') labels.delete(res);
          else labels.set(res, value);
        }
      return true;
    }
    case 'labeldrop':
    case 'labelkeep': {
      // Deleting the current key while iterating a Map is safe: the others are still visited once.
      const drop = r.action === 'labeldrop';
      for (const name of labels.keys()) if (r.regex.regex.test(name) === drop) labels.delete(name);
      return true;
    }
  }
}

/**
 * Applies `rules` in order (relabel.Process): the resulting labels, or undefined when a rule drops
 * the set. Labels with an empty value are absent, as in Prometheus.
 */
export function relabel(labels: Labels, rules: readonly RelabelRule[]): Labels | undefined {
  const work = new Map(Object.entries(labels).filter(([, v]) => v !== ''));
  for (const r of rules) if (!applyRule(r, work)) return undefined;
  return Object.fromEntries(work);
}
