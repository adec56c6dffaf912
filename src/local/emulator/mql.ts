/**
 * A subset of OCI Monitoring Query Language (MQL), evaluated over the emulator's store so the local
 * explorer page can show what a query typed in OCI's Metric Explorer would chart.
 *
 * Supported form (whitespace free between tokens):
 *   metric[interval]{filters}.grouping.statistic        (grouping and filters optional; grouping
 *                                                         may also follow the statistic)
 * - metric:    an OCI metric name: a letter, then letters, digits, `.`, `_`, `-`, `$`.
 * - interval:  OCI's values: `1m`-`60m`, `1h`-`24h`, `1d`. `<n>s` (1-59) is accepted as a local-only
 *              extension, so a short demo shows movement; OCI rejects it.
 * - filters:   `dim = "v"`, `dim != "v"`, `dim =~ "glob*|other"` (`*` any text, `|` alternatives),
 *              `dim !~ "..."`, joined with `,` or `&&` (and) and `||` (or; `&&` binds tighter).
 * - grouping:  `.grouping()` (all streams into one) or `.groupBy(dim1, dim2)`.
 * - statistic: `.mean()` (`.avg()` is the same here), `.max()`, `.min()`, `.sum()`, `.count()`,
 *              `.rate()`, `.increment()`, `.last()`, `.percentile(p)` with 0 < p < 1, `.absent()`.
 * Not supported (a clear MqlError says so): arithmetic between queries, alarm conditions
 * (`> 80`), other functions (topK, bottomK, ...), a missing interval or statistic.
 *
 * Semantics, per stream and per interval window (windows aligned to multiples of the interval,
 * labelled by their start time). A datapoint's `count` (default 1) is the number of observations
 * of its value, as OCI defines it:
 * - count = the sum of counts; sum = the sum of value x count; mean = sum / count (OCI: "Sum
 *   divided by Count"); max/min/last over the values; percentile over the observations (each value
 *   weighted by its count), linear interpolation between closest ranks.
 * - rate: per-second average rate of change within the window; increment: the change within the
 *   window (rate = increment / seconds between first and last point). The change is summed over
 *   consecutive datapoints, starting from the last datapoint before the window (at most
 *   max(interval, 5 min) earlier) so one sample per window still gives a value.
 * - absent: 1 for a window of the range without datapoints, else 0 (for streams seen in the range).
 * - With grouping, streams of a group combine per window: sum, count, rate, increment and last add
 *   up (rate sums per-stream rates, so counter streams never mix), max/min take the extreme, mean
 *   and percentile use all the group's datapoints, absent is 1 only when no stream of the group has data.
 *
 * Where OCI documents nothing, these are the emulator's own choices, not OCI's behaviour: a
 * decrease is taken as a counter reset (the counter restarted from 0, so the step adds the new
 * value, Prometheus' convention); a window with a single raw point and none before it has no
 * rate/increment; whether OCI weights percentiles by `count` is not documented.
 */
import type { MetricSeries, StoredDatapoint } from './store';

/** A query the explorer cannot evaluate; `column` is 1-based within the query text. */
export class MqlError extends Error {
  override name = 'MqlError';
  constructor(
    message: string,
    readonly column?: number,
  ) {
    super(column === undefined ? message : `${message} (at column ${column})`);
  }
}

type Statistic = 'mean' | 'avg' | 'max' | 'min' | 'sum' | 'count' | 'rate' | 'increment' | 'last' | 'percentile' | 'absent';

const STATISTICS: readonly Statistic[] = ['mean', 'avg', 'max', 'min', 'sum', 'count', 'rate', 'increment', 'last', 'percentile', 'absent'];

type FilterOp = '=' | '!=' | '=~' | '!~';

/** One dimension condition. */
interface DimensionFilter {
  key: string;
  op: FilterOp;
  value: string;
}

type Grouping = { kind: 'all' } | { kind: 'by'; keys: string[] };

/** A parsed query. `filters` is a disjunction of conjunctions (empty = every stream). */
export interface MqlQuery {
  metric: string;
  intervalMs: number;
  /** The interval as written, normalised (e.g. `1m`). */
  interval: string;
  filters: DimensionFilter[][];
  grouping?: Grouping;
  statistic: Statistic;
  /** The percentile rank (0 < p < 1) for `percentile`. */
  percentile?: number;
  /** True when the interval is under a minute (accepted here, rejected by OCI). */
  localOnlyInterval: boolean;
}

/** One result stream: the dimensions that identify it and a value per window. */
export interface MqlSeries {
  dimensions: Record<string, string>;
  points: { timestamp: number; value: number }[];
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** The largest count OCI accepts per unit (`1m`-`60m`, `1h`-`24h`, `1d`); seconds are local-only. */
const MAX_PER_UNIT: Record<string, number> = { s: 59, m: 60, h: 24, d: 1 };
/** Longest gap before a window from which `rate` still takes its starting value. */
const RATE_LOOKBACK_MIN_MS = 5 * 60_000;
const GROUPING_FUNCTIONS = ['grouping', 'groupBy'];

/** Character-level reader over the query text. */
class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  /** Skips whitespace. */
  skip(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  /** The next non-space character (not consumed). */
  peek(): string | undefined {
    this.skip();
    return this.text[this.pos];
  }

  /** True (and consumed) when the text continues with `s`. */
  eat(s: string): boolean {
    this.skip();
    if (this.text.startsWith(s, this.pos)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }

  /** Consumes `s` or fails naming what was expected. */
  expect(s: string, what: string): void {
    if (!this.eat(s)) this.fail(`expected ${what}`);
  }

  /** Reads an identifier (letters, digits, `_`, starting with a letter or `_`). */
  ident(what: string): string {
    this.skip();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos));
    if (!m) this.fail(`expected ${what}`);
    this.pos += m[0].length;
    return m[0];
  }

  /** Reads a double-quoted string with `\"` and `\\` escapes. */
  quoted(what: string): string {
    this.skip();
    if (this.text[this.pos] !== '"') this.fail(`expected ${what} in double quotes`);
    let out = '';
    for (let i = this.pos + 1; i < this.text.length; i++) {
      const c = this.text[i];
      if (c === '\\' && i + 1 < this.text.length) {
        out += this.text[++i];
      } else if (c === '"') {
        this.pos = i + 1;
        return out;
      } else out += c;
    }
    this.fail('unterminated string (missing closing ")');
  }

  /** Throws an MqlError at the current position, showing what was found there. */
  fail(message: string): never {
    this.skip();
    const rest = this.text.slice(this.pos);
    const found = rest === '' ? 'end of query' : `"${rest.slice(0, 12)}${rest.length > 12 ? '…' : ''}"`;
    throw new MqlError(`${message}, found ${found}`, this.pos + 1);
  }
}

/** Parses an interval: OCI's `1m`-`60m`, `1h`-`24h`, `1d` (and local-only `1s`-`59s`). */
export function parseInterval(text: string): { ms: number; normalised: string } {
  const m = /^\s*(\d{1,6})\s*([smhd])\s*$/.exec(text);
  if (!m) throw new MqlError(`"${text}" is not an interval: use a number and a unit, e.g. 1m, 5m, 1h, 1d`);
  const n = Number(m[1]);
  const unit = m[2];
  if (n < 1 || n > MAX_PER_UNIT[unit]) {
    throw new MqlError(`${text.trim()} is not a valid interval: OCI accepts 1m-60m, 1h-24h or 1d${unit === 's' ? ' (1s-59s only locally)' : ''}`);
  }
  return { ms: n * UNIT_MS[unit], normalised: `${n}${unit}` };
}

/** OCI's metric-name rule, as the start of the query text. */
const METRIC_NAME_AT = /^[A-Za-z][A-Za-z0-9._\-$]*/;

/** Parses the `{...}` dimension filter into OR-of-AND clauses. */
function parseFilters(r: Reader): DimensionFilter[][] {
  const alternatives: DimensionFilter[][] = [[]];
  if (r.eat('}')) return [];
  for (;;) {
    const key = r.peek() === '"' ? r.quoted('a dimension name') : r.ident('a dimension name');
    let op: FilterOp;
    if (r.eat('=~')) op = '=~';
    else if (r.eat('!~')) op = '!~';
    else if (r.eat('!=')) op = '!=';
    else if (r.eat('==') || r.eat('=')) op = '=';
    else r.fail(`expected =, !=, =~ or !~ after the dimension name ${key}`);
    const value = r.quoted(`the value of ${key}`);
    alternatives[alternatives.length - 1].push({ key, op, value });
    if (r.eat('}')) return alternatives;
    if (r.eat('||')) alternatives.push([]);
    else if (!(r.eat('&&') || r.eat(','))) r.fail('expected , && || or } in the dimension filter');
  }
}

/** Parses a comma-separated argument list up to `)`. */
function readCallArgs(r: Reader, fn: string): string[] {
  const args: string[] = [];
  if (r.eat(')')) return args;
  for (;;) {
    r.skip();
    const m = /^("(?:[^"\\]|\\.)*"|[A-Za-z0-9_.+-]+)/.exec(r.text.slice(r.pos));
    if (!m) r.fail(`expected an argument of ${fn}()`);
    r.pos += m[0].length;
    args.push(m[0].startsWith('"') ? m[0].slice(1, -1).replace(/\\(.)/g, '$1') : m[0]);
    if (r.eat(')')) return args;
    r.expect(',', `, or ) in ${fn}()`);
  }
}

/** Parses an MQL query (the supported subset; see the file comment). */
export function parseMql(text: string): MqlQuery {
  if (text.length > 4000) throw new MqlError('the query is longer than 4000 characters');
  const r = new Reader(text);
  if (r.peek() === undefined) throw new MqlError('the query is empty: write e.g. http_requests_total[1m].rate()');
  r.skip();
  const nameMatch = METRIC_NAME_AT.exec(r.text.slice(r.pos));
  if (!nameMatch) return r.fail('expected a metric name (a letter, then letters, digits, ., _, - or $)');
  const metric = nameMatch[0];
  r.pos += metric.length;
  if (r.peek() !== '[') r.fail(`expected an interval after the metric name, e.g. ${metric}[1m]`);
  r.eat('[');
  const close = r.text.indexOf(']', r.pos);
  if (close < 0) r.fail('expected ] to close the interval');
  const intervalColumn = r.pos + 1;
  let interval: { ms: number; normalised: string };
  try {
    interval = parseInterval(r.text.slice(r.pos, close));
  } catch (e) {
    throw new MqlError((e as Error).message, intervalColumn);
  }
  r.pos = close + 1;
  const filters = r.eat('{') ? parseFilters(r) : [];
  let grouping: Grouping | undefined;
  let statistic: Statistic | undefined;
  let percentile: number | undefined;
  while (r.eat('.')) {
    const column = r.pos + 1;
    const fn = r.ident('a function name after .');
    r.expect('(', `( after ${fn}`);
    const args = readCallArgs(r, fn);
    if (GROUPING_FUNCTIONS.includes(fn)) {
      if (grouping) throw new MqlError('only one grouping function (grouping() or groupBy()) is allowed', column);
      grouping = parseGrouping(fn, args, column);
    } else if ((STATISTICS as readonly string[]).includes(fn)) {
      if (statistic) throw new MqlError(`only one statistic is allowed (already ${statistic}())`, column);
      statistic = fn as Statistic;
      percentile = checkStatisticArgs(statistic, args, column);
    } else {
      throw new MqlError(`${fn}() is not supported here; supported: ${[...GROUPING_FUNCTIONS, ...STATISTICS].map((f) => `${f}()`).join(', ')}`, column);
    }
  }
  rejectTrailing(r);
  if (!statistic) throw new MqlError(`a statistic is required at the end, e.g. ${metric}[${interval.normalised}].mean() or .rate()`);
  const q: MqlQuery = { metric, intervalMs: interval.ms, interval: interval.normalised, filters, statistic, localOnlyInterval: interval.ms < 60_000 };
  if (grouping) q.grouping = grouping;
  if (percentile !== undefined) q.percentile = percentile;
  return q;
}

/** Builds a Grouping from grouping()/groupBy(args). */
function parseGrouping(fn: string, args: string[], column: number): Grouping {
  if (fn === 'grouping') {
    if (args.length > 0) throw new MqlError('grouping() takes no arguments; use groupBy(dimension) to group by dimensions', column);
    return { kind: 'all' };
  }
  if (args.length === 0) throw new MqlError('groupBy() needs at least one dimension name, e.g. groupBy(route)', column);
  for (const a of args) if (!/^[^\s"]+$/.test(a)) throw new MqlError(`groupBy(): "${a}" is not a dimension name`, column);
  return { kind: 'by', keys: args };
}

/** Checks a statistic's arguments; returns the percentile rank when there is one. */
function checkStatisticArgs(stat: Statistic, args: string[], column: number): number | undefined {
  if (stat !== 'percentile') {
    if (args.length > 0) throw new MqlError(`${stat}() takes no arguments here`, column);
    return undefined;
  }
  const p = args.length === 1 ? Number(args[0]) : NaN;
  if (!(p > 0 && p < 1)) throw new MqlError('percentile() needs one rank between 0 and 1, e.g. percentile(0.9)', column);
  return p;
}

/** Fails on text after the last function, naming the unsupported construct. */
function rejectTrailing(r: Reader): void {
  const c = r.peek();
  if (c === undefined) return;
  const column = r.pos + 1;
  if (/^(>=|<=|==|!=|>|<)/.test(r.text.slice(r.pos)) || /^(in|not)\b/.test(r.text.slice(r.pos))) {
    throw new MqlError('alarm conditions (e.g. "> 80") are not supported in the explorer; remove the condition to chart the values', column);
  }
  if ('+-*/&|'.includes(c)) throw new MqlError('arithmetic and joins between queries are not supported in the explorer; chart one query at a time', column);
  r.fail('unexpected text after the query');
}

/** The canonical text of a query (what the page shows after parsing). */
export function formatMql(q: MqlQuery): string {
  const quote = (s: string) => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  const filter = q.filters.length === 0 ? '' : `{${q.filters.map((and) => and.map((f) => `${f.key} ${f.op} ${quote(f.value)}`).join(', ')).join(' || ')}}`;
  const grouping = !q.grouping ? '' : q.grouping.kind === 'all' ? '.grouping()' : `.groupBy(${q.grouping.keys.join(', ')})`;
  const stat = q.statistic === 'percentile' ? `.percentile(${q.percentile})` : `.${q.statistic}()`;
  return `${q.metric}[${q.interval}]${filter}${grouping}${stat}`;
}

/** Compiles an `=~` pattern (OCI style: `*` any text, `|` alternatives) to a RegExp. */
function globRegex(pattern: string): RegExp {
  const alts = pattern.split('|').map((a) =>
    a
      .split('*')
      .map((p) => p.replace(/[.+?^${}()[\]\\]/g, '\\$&'))
      .join('.*'),
  );
  return new RegExp(`^(?:${alts.join('|')})$`);
}

/** True when the dimensions satisfy the query's filters. */
export function matchesFilters(dims: Record<string, string>, filters: DimensionFilter[][]): boolean {
  if (filters.length === 0) return true;
  return filters.some((and) =>
    and.every((f) => {
      const v = dims[f.key];
      switch (f.op) {
        case '=':
          return v === f.value;
        case '!=':
          return v !== f.value;
        case '=~':
          return v !== undefined && globRegex(f.value).test(v);
        case '!~':
          return v === undefined || !globRegex(f.value).test(v);
      }
    }),
  );
}

/** Linear-interpolated percentile of values (0 < p < 1). */
export function percentileOf(values: number[], p: number): number {
  return weightedPercentile(
    values.map((value) => ({ value, count: 1 })),
    p,
  );
}

/**
 * Percentile over observations given as (value, count) pairs: exactly as if each value appeared
 * `count` times, with linear interpolation between closest ranks, without expanding the counts.
 */
function weightedPercentile(points: readonly { value: number; count: number }[], p: number): number {
  const sorted = [...points].sort((a, b) => a.value - b.value);
  const total = sorted.reduce((n, x) => n + x.count, 0);
  const pos = (total - 1) * p;
  const at = (rank: number): number => {
    let seen = 0;
    for (const x of sorted) {
      seen += x.count;
      if (rank < seen) return x.value;
    }
    return sorted[sorted.length - 1].value;
  };
  const lo = at(Math.floor(pos));
  const hi = at(Math.ceil(pos));
  return lo + (hi - lo) * (pos - Math.floor(pos));
}

/**
 * The change over a run of counter values, summed step by step: a decrease is a reset (the step's
 * change is the new value). Undefined with fewer than two points.
 */
function counterIncrease(points: readonly StoredDatapoint[]): number | undefined {
  if (points.length < 2) return undefined;
  let increase = 0;
  for (let i = 1; i < points.length; i++) {
    const delta = points[i].value - points[i - 1].value;
    increase += delta >= 0 ? delta : points[i].value;
  }
  return increase;
}

/** Per-second rate over a run of counter values: counterIncrease divided by the time from first to last. */
export function counterRate(points: readonly StoredDatapoint[]): number | undefined {
  if (points.length < 2) return undefined;
  const seconds = (points[points.length - 1].timestamp - points[0].timestamp) / 1000;
  if (seconds <= 0) return undefined;
  return counterIncrease(points)! / seconds;
}

/** A datapoint's number of observations (`count`, default 1). */
function countOf(p: StoredDatapoint): number {
  return p.count ?? 1;
}

/** A stream's datapoints cut into windows: the points of each window plus the point before it. */
interface StreamWindow {
  points: StoredDatapoint[];
  before?: StoredDatapoint;
}

/** The statistic of one stream in one window (undefined = no value). */
function streamValue(q: MqlQuery, w: StreamWindow): number | undefined {
  const points = w.points;
  if (q.statistic === 'absent') return points.length === 0 ? 1 : 0;
  if (points.length === 0) return undefined;
  switch (q.statistic) {
    case 'mean':
    case 'avg':
      return points.reduce((a, p) => a + p.value * countOf(p), 0) / points.reduce((a, p) => a + countOf(p), 0);
    case 'max':
      return points.reduce((m, p) => Math.max(m, p.value), -Infinity);
    case 'min':
      return points.reduce((m, p) => Math.min(m, p.value), Infinity);
    case 'sum':
      return points.reduce((a, p) => a + p.value * countOf(p), 0);
    case 'count':
      return points.reduce((a, p) => a + countOf(p), 0);
    case 'last':
      return points[points.length - 1].value;
    case 'percentile':
      return weightedPercentile(
        points.map((p) => ({ value: p.value, count: countOf(p) })),
        q.percentile ?? 0.5,
      );
    case 'rate':
      return counterRate(w.before ? [w.before, ...points] : points);
    case 'increment':
      return counterIncrease(w.before ? [w.before, ...points] : points);
  }
}

/** Combines the windows of a group's streams into one value (see the file comment). */
function groupValue(q: MqlQuery, windows: StreamWindow[]): number | undefined {
  if (q.statistic === 'mean' || q.statistic === 'avg' || q.statistic === 'percentile') return streamValue(q, { points: windows.flatMap((w) => w.points) });
  const each = windows.map((w) => streamValue(q, w)).filter((v): v is number => v !== undefined);
  if (each.length === 0) return undefined;
  switch (q.statistic) {
    case 'max':
      return Math.max(...each);
    case 'min':
      return Math.min(...each);
    case 'absent':
      return Math.min(...each);
    default:
      return each.reduce((a, b) => a + b, 0);
  }
}

/** Range and limits of an evaluation. */
interface EvalRange {
  /** Inclusive start (ms); the first window is the one containing it. */
  from: number;
  /** Exclusive end (ms). */
  to: number;
  /** Most windows computed (default 5000); a longer range is an MqlError. */
  maxWindows?: number;
}

/** How far before `from` datapoints are needed (the rate's starting value). */
export function lookbackMs(q: MqlQuery): number {
  return q.statistic === 'rate' || q.statistic === 'increment' ? Math.max(q.intervalMs, RATE_LOOKBACK_MIN_MS) : 0;
}

/** The group a stream belongs to: its key and the dimensions that label the group. */
function groupOf(q: MqlQuery, dims: Record<string, string>): { key: string; dimensions: Record<string, string> } {
  if (!q.grouping) return { key: JSON.stringify(Object.entries(dims).sort()), dimensions: { ...dims } };
  if (q.grouping.kind === 'all') return { key: '', dimensions: {} };
  const picked: Record<string, string> = {};
  for (const k of q.grouping.keys) if (dims[k] !== undefined) picked[k] = dims[k];
  return { key: JSON.stringify(q.grouping.keys.map((k) => dims[k] ?? null)), dimensions: picked };
}

/** Splits a stream's sorted datapoints into windows [start, start + interval) over the range. */
function windowsOf(q: MqlQuery, points: readonly StoredDatapoint[], starts: number[]): StreamWindow[] {
  const lookback = lookbackMs(q);
  const out: StreamWindow[] = [];
  let i = 0;
  for (const start of starts) {
    const end = start + q.intervalMs;
    let before: StoredDatapoint | undefined;
    while (i < points.length && points[i].timestamp < start) before = points[i++];
    const inWindow: StoredDatapoint[] = [];
    let j = i;
    while (j < points.length && points[j].timestamp < end) inWindow.push(points[j++]);
    const w: StreamWindow = { points: inWindow };
    if (before && start - before.timestamp <= lookback) w.before = before;
    out.push(w);
  }
  return out;
}

/** Evaluates a parsed query over stored series of its metric (other names are ignored). */
export function evaluateMql(q: MqlQuery, series: readonly MetricSeries[], range: EvalRange): MqlSeries[] {
  const first = Math.floor(range.from / q.intervalMs) * q.intervalMs;
  const count = Math.max(0, Math.ceil((range.to - first) / q.intervalMs));
  const maxWindows = range.maxWindows ?? 5000;
  if (count > maxWindows) {
    throw new MqlError(`the time range holds ${count} intervals of ${q.interval} (at most ${maxWindows}); choose a longer interval or a shorter range`);
  }
  const starts = Array.from({ length: count }, (_, k) => first + k * q.intervalMs);
  const groups = new Map<string, { dimensions: Record<string, string>; windows: StreamWindow[][] }>();
  for (const s of series) {
    if (s.name !== q.metric || !matchesFilters(s.dimensions, q.filters)) continue;
    const points = [...s.datapoints].sort((a, b) => a.timestamp - b.timestamp);
    // A stream counts only when it has data in the range (absent() needs a stream to exist).
    if (!points.some((p) => p.timestamp >= first && p.timestamp < range.to)) continue;
    const g = groupOf(q, s.dimensions);
    const entry = groups.get(g.key) ?? { dimensions: g.dimensions, windows: [] };
    entry.windows.push(windowsOf(q, points, starts));
    groups.set(g.key, entry);
  }
  const out: MqlSeries[] = [];
  for (const { dimensions, windows } of groups.values()) {
    const pointsOut: MqlSeries['points'] = [];
    starts.forEach((start, k) => {
      const v = groupValue(
        q,
        windows.map((w) => w[k]),
      );
      if (v !== undefined && Number.isFinite(v)) pointsOut.push({ timestamp: start, value: v });
    });
    out.push({ dimensions, points: pointsOut });
  }
  return out.sort((a, b) => JSON.stringify(Object.entries(a.dimensions).sort()).localeCompare(JSON.stringify(Object.entries(b.dimensions).sort())));
}
