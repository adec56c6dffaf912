/**
 * RE2 (Go's regexp, as Prometheus compiles relabel regexes) translated to a JavaScript RegExp that
 * matches the same strings, or refused with an error naming the construct. Pure, no I/O.
 *
 * Where the two dialects read the same text differently, the translation spells RE2's meaning out:
 *  - `.` is "any character but \n" (JavaScript also excludes \r, U+2028, U+2029); `\s` is
 *    `[\t\n\f\r ]` (JavaScript's is Unicode whitespace); `\A`/`\z` are the text's ends;
 *  - inline flags `(?imsU)`, `(?flags:...)`, `(?-flags)` are scoped as in RE2: `s`, `m` and `U` are
 *    applied while translating; `i` becomes JavaScript's `i` flag when it covers every letter of
 *    the regex, else each letter it covers becomes the class of its case variants;
 *  - `\Q...\E` quotes, POSIX classes `[[:alpha:]]`, `\pL`/`\p{Greek}`, octal and `\x{...}` escapes;
 *  - named groups `(?P<name>...)` become plain groups (the names are kept for `${name}`).
 * Refused, as RE2 refuses them (Prometheus would not load the file): lookaround, backreferences,
 * possessive or stacked quantifiers, `\C`, `\Z`, `(?<name>...)` (Go before 1.22), repeat counts over
 * 1000, unknown escapes and classes.
 */

/** A regex RE2 refuses or that cannot be translated exactly; the message names the construct. */
export class Re2Error extends Error {
  override name = 'Re2Error';
}

/** A compiled, fully anchored relabel regex. */
export interface Re2Regex {
  /** The regex as written in the configuration. */
  source: string;
  /** The anchored JavaScript equivalent. */
  regex: RegExp;
  /** Capture group names (`(?P<name>...)`) -> group number. */
  names: ReadonlyMap<string, number>;
}

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  U: boolean;
}

/** A set of code points: sorted, disjoint ranges, plus Unicode property escapes kept as JavaScript text. */
interface CharSet {
  ranges: [number, number][];
  props: string[];
}

const MAX_CP = 0x10ffff;
/** RE2's largest repeat count. */
const MAX_REPEAT = 1000;
/** Largest class a partial `(?i)` expands code point by code point. */
const MAX_FOLDED_CLASS = 4096;

const DIGIT: [number, number][] = [[0x30, 0x39]];
const SPACE: [number, number][] = [
  [0x09, 0x0a],
  [0x0c, 0x0d],
  [0x20, 0x20],
];
const WORD: [number, number][] = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const POSIX: Record<string, [number, number][]> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0x00, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: DIGIT,
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: WORD,
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};

/** Sorted, merged ranges. */
function normalise(ranges: [number, number][]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/** Every code point not in `ranges`. */
function complement(ranges: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of normalise(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}

/** A code point as JavaScript regex text (u flag): letters and digits as themselves, the rest escaped. */
function cpText(cp: number): string {
  return /^[A-Za-z0-9_ ]$/.test(String.fromCodePoint(cp)) ? String.fromCodePoint(cp) : `\\u{${cp.toString(16)}}`;
}

function classText(set: CharSet, negated: boolean): string {
  const items = set.ranges.map(([lo, hi]) => (lo === hi ? cpText(lo) : `${cpText(lo)}-${cpText(hi)}`)).join('') + set.props.join('');
  if (items === '') return negated ? '[\\u{0}-\\u{10ffff}]' : '[]';
  return `[${negated ? '^' : ''}${items}]`;
}

/** True when JavaScript's `i` flag could change what the set matches (conservative: any letter or non-ASCII). */
function caseRelevant(set: CharSet): boolean {
  return set.props.length > 0 || set.ranges.some(([lo, hi]) => hi >= 0x80 || (lo <= 0x7a && hi >= 0x61) || (lo <= 0x5a && hi >= 0x41));
}

let foldGroups: Map<string, number[]> | undefined;

/** The code points JavaScript's `iu` matching takes as the same letter as `cp` (its case-fold orbit). */
function foldOrbit(cp: number): number[] {
  const keyOf = (c: number) => String.fromCodePoint(c).toUpperCase().toLowerCase();
  if (!foldGroups) {
    foldGroups = new Map();
    for (let c = 0; c <= 0x1ffff; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const k = keyOf(c);
      const g = foldGroups.get(k);
      if (g) g.push(c);
      else foldGroups.set(k, [c]);
    }
  }
  const self = new RegExp(`^${cpText(cp)}$`, 'iu');
  const orbit = (foldGroups.get(keyOf(cp)) ?? []).filter((c) => self.test(String.fromCodePoint(c)));
  return orbit.includes(cp) ? orbit : [cp, ...orbit];
}

function hasCase(cp: number): boolean {
  const ch = String.fromCodePoint(cp);
  return ch.toLowerCase() !== ch.toUpperCase() || cp === 0x130 || cp === 0x131 || cp === 0x17f || cp === 0x212a || cp === 0x212b;
}

/** Go's unicode classes that JavaScript names differently (JavaScript's `C` includes unassigned code points, Go's does not). */
const GO_CATEGORY_C = ['\\p{Cc}', '\\p{Cf}', '\\p{Co}', '\\p{Cs}'];

/** `\pX` / `\p{Name}` as JavaScript property escapes (one or more, to be unioned), or undefined when JavaScript does not know the name. */
function unicodeClass(name: string, negated: boolean): { props: string[]; ranges?: [number, number][] } {
  if (name === 'Any') return negated ? { props: [], ranges: [] } : { props: [], ranges: [[0, MAX_CP]] };
  if (name === 'C') {
    if (negated) throw new Re2Error('\\PC (not a control, format, private-use or surrogate character) has no exact JavaScript translation');
    return { props: GO_CATEGORY_C };
  }
  const p = negated ? 'P' : 'p';
  const text = /^[A-Z][a-z]?$/.test(name) ? `\\${p}{${name}}` : `\\${p}{Script=${name}}`;
  try {
    new RegExp(text, 'u');
  } catch {
    throw new Re2Error(`unknown Unicode class \\p{${name}}`);
  }
  return { props: [text] };
}

/** One RE2 pattern being translated. */
class Translator {
  private pos = 0;
  private readonly cps: number[];
  groups = 0;
  readonly names = new Map<string, number>();
  sawFolded = false;
  sawUnfolded = false;

  constructor(
    private readonly pattern: string,
    /** Fold `(?i)` atoms by hand (true), or leave them to JavaScript's `i` flag (false). */
    private readonly expandFolds: boolean,
  ) {
    this.cps = Array.from(pattern, (c) => c.codePointAt(0)!);
  }

  translate(): string {
    const out = this.alternation({ i: false, m: false, s: false, U: false });
    if (this.pos < this.cps.length) throw new Re2Error(`unexpected ) at position ${this.pos + 1}`);
    return out;
  }

  private peek(offset = 0): string | undefined {
    const cp = this.cps[this.pos + offset];
    return cp === undefined ? undefined : String.fromCodePoint(cp);
  }

  private rest(n = 12): string {
    return this.cps
      .slice(this.pos, this.pos + n)
      .map((c) => String.fromCodePoint(c))
      .join('');
  }

  /** Alternatives up to the closing `)` (not consumed) or the end; flags set inside stay inside. */
  private alternation(outer: Flags): string {
    const flags = { ...outer };
    const branches: string[] = [];
    let pieces: { text: string; quantifiable: boolean }[] = [];
    let lastWasRepeat = false;
    while (this.pos < this.cps.length) {
      const c = this.peek()!;
      if (c === ')') break;
      if (c === '|') {
        branches.push(pieces.map((p) => p.text).join(''));
        pieces = [];
        lastWasRepeat = false;
        this.pos++;
        continue;
      }
      const repeat = this.repeatOp();
      if (repeat) {
        if (lastWasRepeat) throw new Re2Error(`invalid nested repetition operator ${repeat.text} (possessive and stacked quantifiers are not RE2)`);
        const last = pieces[pieces.length - 1];
        if (!last) throw new Re2Error(`missing argument to repetition operator ${repeat.text}`);
        const lazy = repeat.lazy !== flags.U;
        last.text = `${last.quantifiable ? last.text : `(?:${last.text})`}${repeat.js}${lazy ? '?' : ''}`;
        lastWasRepeat = true;
        continue;
      }
      lastWasRepeat = false;
      const atom = this.atom(flags);
      if (atom !== undefined) pieces.push(...atom);
    }
    branches.push(pieces.map((p) => p.text).join(''));
    return branches.join('|');
  }

  /** A repetition operator at the cursor (consumed), or undefined (a `{` that is not one is a literal). */
  private repeatOp(): { text: string; js: string; lazy: boolean } | undefined {
    const c = this.peek();
    let text: string;
    let js: string;
    if (c === '*' || c === '+' || c === '?') {
      text = c;
      js = c;
      this.pos++;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.rest(24));
      if (!m) return undefined;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? undefined : Number(m[3]);
      if (min > MAX_REPEAT || (max !== undefined && (max > MAX_REPEAT || max < min)))
        throw new Re2Error(`invalid repeat count ${m[0]} (RE2 allows at most ${MAX_REPEAT})`);
      text = m[0];
      js = max === undefined ? `{${min},}` : max === min ? `{${min}}` : `{${min},${max}}`;
      this.pos += m[0].length;
    } else {
      return undefined;
    }
    const lazy = this.peek() === '?';
    if (lazy) {
      this.pos++;
      text += '?';
    }
    const next = this.peek();
    if (next === '*' || next === '+' || next === '?' || (next === '{' && /^\{\d+(,\d*)?\}/.test(this.rest(24))))
      throw new Re2Error(`invalid nested repetition operator ${text}${next} (possessive and stacked quantifiers are not RE2)`);
    return { text, js, lazy };
  }

  /** The next atom(s); undefined for a flag group `(?i)`, several for a `\Q...\E` run. */
  private atom(flags: Flags): { text: string; quantifiable: boolean }[] | undefined {
    const c = this.peek()!;
    switch (c) {
      case '(':
        return this.group(flags);
      case '[':
        return [{ text: this.charClass(flags), quantifiable: true }];
      case '.':
        this.pos++;
        return [{ text: flags.s ? '[\\u{0}-\\u{10ffff}]' : '[^\\n]', quantifiable: true }];
      case '^':
        this.pos++;
        return [{ text: flags.m ? '(?<![^\\n])' : '^', quantifiable: false }];
      case '$':
        this.pos++;
        return [{ text: flags.m ? '(?![^\\n])' : '$', quantifiable: false }];
      case '\\':
        return this.escapeAtom(flags);
      default:
        this.pos++;
        return [{ text: this.literal(c.codePointAt(0)!, flags), quantifiable: true }];
    }
  }

  private literal(cp: number, flags: Flags): string {
    if (!hasCase(cp)) return cpText(cp);
    if (!flags.i) {
      this.sawUnfolded = true;
      return cpText(cp);
    }
    this.sawFolded = true;
    if (!this.expandFolds) return cpText(cp);
    const orbit = foldOrbit(cp);
    return orbit.length === 1 ? cpText(cp) : `[${orbit.map(cpText).join('')}]`;
  }

  private group(flags: Flags): { text: string; quantifiable: boolean }[] | undefined {
    const start = this.pos;
    this.pos++; // (
    let open = '(';
    let inner = flags;
    if (this.peek() === '?') {
      const rest = this.rest(4);
      if (rest.startsWith('?P<')) {
        const m = /^\?P<([^>]*)>/.exec(this.rest(200));
        if (!m || !/^[A-Za-z0-9_]+$/.test(m[1])) throw new Re2Error(`invalid named capture ${this.pattern.slice(start, start + 24)}`);
        if (this.names.has(m[1])) throw new Re2Error(`duplicate capture group name ${m[1]}`);
        this.pos += m[0].length;
        this.names.set(m[1], ++this.groups);
      } else if (rest.startsWith('?=') || rest.startsWith('?!') || rest.startsWith('?<=') || rest.startsWith('?<!')) {
        throw new Re2Error(`lookaround (${rest.slice(0, rest[1] === '<' ? 3 : 2)}...) is not RE2`);
      } else if (rest.startsWith('?<')) {
        throw new Re2Error('(?<name>...) is not RE2 in Prometheus 2.x: write (?P<name>...)');
      } else {
        const set = this.flagGroup();
        if (set.closed) {
          Object.assign(flags, set.flags); // (?i): for the rest of the enclosing group
          return undefined;
        }
        open = '(?:';
        inner = set.flags;
      }
    } else {
      this.groups++;
    }
    const body = this.alternation(inner);
    if (this.peek() !== ')') throw new Re2Error(`missing closing ) for the group at position ${start + 1}`);
    this.pos++;
    return [{ text: `${open}${body})`, quantifiable: true }];
  }

  /** `?flags)` or `?flags:` after `(` (consumed): the flags, and whether the group ended there. */
  private flagGroup(): { flags: Flags; closed: boolean } {
    const start = this.pos - 1;
    this.pos++; // ?
    const flags: Partial<Flags> = {};
    let on = true;
    let sawFlag = false;
    for (;;) {
      const c = this.peek();
      this.pos++;
      if (c === 'i' || c === 'm' || c === 's' || c === 'U') {
        flags[c] = on;
        sawFlag = true;
      } else if (c === '-' && on) {
        on = false;
        sawFlag = false;
      } else if ((c === ':' || c === ')') && (on || sawFlag)) {
        return { flags: flags as Flags, closed: c === ')' };
      } else {
        throw new Re2Error(`invalid or unsupported Perl syntax ${this.pattern.slice(start, Math.min(this.pattern.length, start + this.pos - start))}`);
      }
    }
  }

  private escapeAtom(flags: Flags): { text: string; quantifiable: boolean }[] {
    const next = this.peek(1);
    if (next === 'Q') {
      this.pos += 2;
      const out: { text: string; quantifiable: boolean }[] = [];
      while (this.pos < this.cps.length && !(this.peek() === '\\' && this.peek(1) === 'E')) {
        out.push({ text: this.literal(this.cps[this.pos], flags), quantifiable: true });
        this.pos++;
      }
      if (this.pos < this.cps.length) this.pos += 2;
      return out;
    }
    const assertions: Record<string, string> = { A: '^', z: '$', b: '\\b', B: '\\B' };
    if (next !== undefined && next in assertions) {
      this.pos += 2;
      return [{ text: assertions[next], quantifiable: false }];
    }
    const cls = this.perlOrUnicodeClass();
    if (cls) return [{ text: this.setText(cls, false, flags), quantifiable: true }];
    return [{ text: this.literal(this.escapedChar(), flags), quantifiable: true }];
  }

  /** `\d \s \w` (and negations), `\pX`, `\p{Name}` at the cursor (consumed) as a set; undefined if not one. */
  private perlOrUnicodeClass(): CharSet | undefined {
    const next = this.peek(1);
    const perl: Record<string, [number, number][]> = { d: DIGIT, s: SPACE, w: WORD };
    if (next !== undefined && next.toLowerCase() in perl) {
      this.pos += 2;
      const base = perl[next.toLowerCase()];
      return { ranges: next === next.toLowerCase() ? base : complement(base), props: [] };
    }
    if (next !== 'p' && next !== 'P') return undefined;
    this.pos += 2;
    let name: string;
    if (this.peek() === '{') {
      const end = this.cps.indexOf('}'.codePointAt(0)!, this.pos);
      if (end < 0) throw new Re2Error(`invalid character class range \\${next}${this.rest()}`);
      name = String.fromCodePoint(...this.cps.slice(this.pos + 1, end));
      this.pos = end + 1;
    } else {
      if (this.pos >= this.cps.length) throw new Re2Error(`invalid character class range \\${next}`);
      name = this.peek()!;
      this.pos++;
    }
    let negated = next === 'P';
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    const u = unicodeClass(name, negated);
    return { ranges: u.ranges ?? [], props: u.props };
  }

  /** One escaped character at the cursor (consumed), as RE2 reads it. */
  private escapedChar(): number {
    const start = this.pos;
    this.pos++; // backslash
    const c = this.peek();
    if (c === undefined) throw new Re2Error('trailing backslash at the end of the regex');
    this.pos++;
    const simple: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
    if (c in simple) return simple[c];
    if (c >= '0' && c <= '7') {
      // RE2: \0, or two or three octal digits; \1 to \7 alone are backreferences.
      if (c !== '0' && !/^[0-7]/.test(this.peek() ?? '')) throw new Re2Error(`backreference \\${c} is not RE2`);
      let v = Number(c);
      for (let k = 0; k < 2 && /^[0-7]$/.test(this.peek() ?? ''); k++) v = v * 8 + Number(this.cps[this.pos++] - 0x30);
      return v;
    }
    if (c === 'x') {
      const braced = /^\{([0-9A-Fa-f]+)\}/.exec(this.rest(12));
      const two = /^[0-9A-Fa-f]{2}/.exec(this.rest(2));
      const hex = braced ? braced[1] : two?.[0];
      const v = hex === undefined ? NaN : parseInt(hex, 16);
      if (hex === undefined || v > MAX_CP) throw new Re2Error(`invalid escape sequence ${this.pattern.slice(start, start + 8)}`);
      this.pos += braced ? braced[0].length : 2;
      return v;
    }
    const cp = c.codePointAt(0)!;
    if (cp < 0x80 && !/[A-Za-z0-9]/.test(c)) return cp;
    const hint =
      c === 'Z'
        ? ' (RE2 has \\z for the end of the text)'
        : c === 'C'
          ? ' (\\C, one byte, is not RE2)'
          : /[1-9]/.test(c)
            ? ' (backreferences are not RE2)'
            : '';
    throw new Re2Error(`invalid escape sequence \\${c}${hint}`);
  }

  /** A `[...]` class at the cursor (consumed). */
  private charClass(flags: Flags): string {
    const start = this.pos;
    this.pos++;
    let negated = false;
    if (this.peek() === '^') {
      negated = true;
      this.pos++;
    }
    const set: CharSet = { ranges: [], props: [] };
    let first = true;
    while (this.pos < this.cps.length && (this.peek() !== ']' || first)) {
      first = false;
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.rest(16));
      if (posix) {
        const base = POSIX[posix[2]];
        if (!base) throw new Re2Error(`invalid character class range ${posix[0]}`);
        set.ranges.push(...(posix[1] ? complement(base) : base));
        this.pos += posix[0].length;
        continue;
      }
      if (this.peek() === '\\') {
        const cls = this.perlOrUnicodeClass();
        if (cls) {
          set.ranges.push(...cls.ranges);
          set.props.push(...cls.props);
          continue;
        }
      }
      const lo = this.classChar();
      let hi = lo;
      if (this.peek() === '-' && this.peek(1) !== undefined && this.peek(1) !== ']') {
        this.pos++;
        hi = this.classChar();
        if (hi < lo) throw new Re2Error(`invalid character class range ${String.fromCodePoint(lo)}-${String.fromCodePoint(hi)}`);
      }
      set.ranges.push([lo, hi]);
    }
    if (this.peek() !== ']') throw new Re2Error(`missing closing ] for the class at position ${start + 1}`);
    this.pos++;
    set.ranges = normalise(set.ranges);
    return this.setText(set, negated, flags);
  }

  private classChar(): number {
    if (this.peek() === '\\') return this.escapedChar();
    return this.cps[this.pos++];
  }

  /** A set as a JavaScript class, folded by hand when only part of the regex is under `(?i)`. */
  private setText(set: CharSet, negated: boolean, flags: Flags): string {
    if (!caseRelevant(set)) return classText(set, negated);
    if (!flags.i) {
      this.sawUnfolded = true;
      return classText(set, negated);
    }
    this.sawFolded = true;
    if (!this.expandFolds) return classText(set, negated);
    const size = set.ranges.reduce((n, [lo, hi]) => n + hi - lo + 1, 0);
    if (set.props.length > 0 || size > MAX_FOLDED_CLASS)
      throw new Re2Error(
        '(?i) covering only part of the regex cannot be translated for this class (Unicode or very large): put (?i) at the start of the regex',
      );
    const folded: [number, number][] = [...set.ranges];
    for (const [lo, hi] of set.ranges) for (let c = lo; c <= hi; c++) if (hasCase(c)) for (const o of foldOrbit(c)) folded.push([o, o]);
    return classText({ ranges: normalise(folded), props: [] }, negated);
  }
}

/**
 * Compiles a relabel regex as Prometheus does (`^(?:regex)$`, RE2), translated to JavaScript.
 * Throws Re2Error naming the construct when RE2 refuses it or it has no exact translation.
 */
export function compileRe2(source: string): Re2Regex {
  const plain = new Translator(source, false);
  const text = plain.translate();
  let body = text;
  let flags = 'u';
  let names: ReadonlyMap<string, number> = plain.names;
  if (plain.sawFolded && !plain.sawUnfolded) flags = 'iu';
  else if (plain.sawFolded) {
    const folded = new Translator(source, true);
    body = folded.translate();
    names = folded.names;
  }
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${body})$`, flags);
  } catch (e) {
    throw new Re2Error(`cannot be translated to JavaScript (${(e as Error).message})`);
  }
  return { source, regex, names };
}
