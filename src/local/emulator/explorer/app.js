// Local Metrics Explorer: plays the part of OCI's Metric Explorer over the emulator's store.
// Plain browser JavaScript, no build step, no network beyond this emulator. The form builds an
// MQL expression; the expression (typed or built) is evaluated by the emulator (/emulator/api/query).
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 5000;
  const PALETTE = ['#227e9e', '#c74634', '#2b7d2b', '#ac630c', '#6b4fa6', '#0f8f87', '#b34d87', '#5b6b7c', '#8a7a17', '#d16f1f', '#3659b4', '#7d4f2a'];
  // job: the chosen Prometheus job ('' = all); jobs: job -> the namespaces its streams are in.
  const state = {
    namespace: '',
    metric: '',
    job: '',
    jobs: {},
    filters: [],
    groupBy: '',
    dims: {},
    hidden: new Set(),
    lastResult: null,
    custom: false,
    info: {},
  };
  const numberFormat = new Intl.NumberFormat('en', { notation: 'compact', maximumSignificantDigits: 4 });

  /** Formats a value compactly (1.234K, 0.0123, 1.2e-5). */
  function fmt(v) {
    if (v === 0) return '0';
    const a = Math.abs(v);
    if (a < 0.001) return v.toExponential(2);
    if (a < 1) return String(Number(v.toPrecision(3)));
    return numberFormat.format(v);
  }

  /** HH:MM(:SS) in local time. */
  function clock(ms, seconds) {
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, '0');
    return `${p(d.getHours())}:${p(d.getMinutes())}${seconds ? `:${p(d.getSeconds())}` : ''}`;
  }

  /** GET a JSON API; rejects with the API's message. */
  async function api(path, params) {
    const url = `${path}${params ? `?${new URLSearchParams(params)}` : ''}`;
    const res = await fetch(url, { cache: 'no-store' });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.message || `${res.status} ${res.statusText}`);
    return body;
  }

  /** Replaces a select's options, keeping `selected` when present. */
  function fillSelect(select, options, selected) {
    select.replaceChildren(...options.map(([value, label]) => new Option(label, value, false, value === selected)));
    if (options.some(([v]) => v === selected)) select.value = selected;
  }

  /** The MQL string quoting of a value. */
  function quote(s) {
    return `"${String(s).replace(/["\\]/g, (c) => `\\${c}`)}"`;
  }

  /** The filters of the expression: the chosen job's, then the dimension filters. */
  function allFilters() {
    return [...(state.job ? [{ key: 'job', value: state.job }] : []), ...state.filters.filter((f) => f.key !== 'job')];
  }

  /** The MQL expression the form describes. */
  function buildMql() {
    const list = allFilters();
    const filters = list.length ? `{${list.map((f) => `${f.key} = ${quote(f.value)}`).join(', ')}}` : '';
    const grouping = state.groupBy === '*' ? '.grouping()' : state.groupBy ? `.groupBy(${state.groupBy})` : '';
    return `${state.metric}[${$('interval').value}]${filters}${grouping}.${$('statistic').value.includes('(') ? $('statistic').value : `${$('statistic').value}()`}`;
  }

  /** A sensible statistic for a metric: rate for counters, max for a percentile series (the worst stream), mean for the rest. */
  function defaultStatistic(name) {
    if (/_p\d+(_\d+)?$/.test(name)) return 'max';
    return /(_total|_count|_sum|_created)$/.test(name) ? 'rate' : 'mean';
  }

  /** The default view, best first: the p99 latency by route (what an SRE looks at), else requests by route. */
  const PREFERRED_METRICS = ['http_request_duration_seconds_p99', 'http_requests_total'];

  /**
   * Loads the jobs (the `job` dimension's values in every namespace: a Prometheus configuration's
   * jobs) and the namespaces; with a job chosen, only the namespaces its streams are in.
   */
  async function loadNamespaces() {
    const all = await api('/emulator/api/namespaces');
    const jobs = {};
    for (const ns of all) {
      const dims = await api('/emulator/api/dimensions', { namespace: ns });
      for (const job of dims.job || []) (jobs[job] = jobs[job] || []).push(ns);
    }
    state.jobs = jobs;
    const names = Object.keys(jobs).sort();
    if (state.job && !jobs[state.job]) state.job = '';
    fillSelect($('job'), [['', names.length ? 'All jobs' : 'All (no job dimension)'], ...names.map((j) => [j, `${j} (${jobs[j].join(', ')})`])], state.job);
    const list = state.job ? jobs[state.job] : all;
    if (!state.namespace || !list.includes(state.namespace)) state.namespace = list.includes(state.info.namespace) ? state.info.namespace : list[0] || '';
    fillSelect($('namespace'), list.length ? list.map((n) => [n, n]) : [['', '(no metrics posted yet)']], state.namespace);
  }

  /** Loads metric names of the namespace (keeps the current one). */
  async function loadMetrics() {
    if (!state.namespace) return;
    // With a job chosen, the names of that job's streams only.
    const list = await api('/emulator/api/metrics', { namespace: state.namespace, ...(state.job ? { 'dim.job': state.job } : {}) });
    const preferred = PREFERRED_METRICS.find((n) => list.includes(n));
    // Until the user picks a metric, the default follows what exists: the p99 series appear from
    // the function's second invocation (the first has no previous scrape to derive from).
    const automatic = state.autoMetric !== false && preferred !== undefined && state.metric !== preferred;
    if (!state.metric || !list.includes(state.metric) || automatic) {
      state.metric = preferred || list[0] || '';
      if (preferred !== undefined && state.metric === preferred) {
        state.groupBy = 'route';
        state.filters = [];
        state.custom = false;
        $('mql').value = ''; // rebuilt from the form by refresh()
      }
      $('statistic').value = defaultStatistic(state.metric);
    }
    fillSelect(
      $('metric'),
      list.map((n) => [n, n]),
      state.metric,
    );
  }

  /** Loads the metric's dimensions into the group-by and filter selects. */
  async function loadDimensions() {
    if (!state.metric) return;
    state.dims = await api('/emulator/api/dimensions', { namespace: state.namespace, name: state.metric });
    const keys = Object.keys(state.dims);
    const groupOptions = [['', 'None (each stream)'], ['*', 'All streams: grouping()'], ...keys.map((k) => [k, k])];
    // A typed groupBy(a, b) has no option of its own: keep it selectable.
    if (!groupOptions.some(([v]) => v === state.groupBy)) groupOptions.push([state.groupBy, state.groupBy]);
    fillSelect($('groupby'), groupOptions, state.groupBy);
    const key = keys.includes($('filter-key').value) ? $('filter-key').value : keys[0] || '';
    fillSelect(
      $('filter-key'),
      keys.map((k) => [k, k]),
      key,
    );
    fillFilterValues();
  }

  /** Values of the chosen filter dimension. */
  function fillFilterValues() {
    const values = state.dims[$('filter-key').value] || [];
    fillSelect(
      $('filter-value'),
      values.map((v) => [v, v]),
      $('filter-value').value,
    );
  }

  /** Shows the filter chips. */
  function renderChips() {
    $('filter-chips').replaceChildren(
      ...state.filters.map((f, i) => {
        if (f.key === 'job') return document.createTextNode(''); // the Job select shows it
        const chip = document.createElement('span');
        chip.className = 'chip';
        chip.textContent = `${f.key} = ${f.value}`;
        const x = document.createElement('button');
        x.type = 'button';
        x.title = 'Remove filter';
        x.textContent = '\u00d7';
        x.addEventListener('click', () => {
          state.filters.splice(i, 1);
          formChanged();
        });
        chip.append(x);
        return chip;
      }),
    );
  }

  /** The form changed: rebuild the expression and run it. */
  function formChanged() {
    state.autoMetric = false; // the user chose: the default view no longer moves
    state.custom = false;
    renderChips();
    $('mql').value = buildMql();
    runQuery();
  }

  /** Makes sure a select has an option for value (e.g. a typed 2m interval), then selects it. */
  function selectValue(select, value, label) {
    if (![...select.options].some((o) => o.value === value)) select.append(new Option(label || value, value));
    select.value = value;
  }

  /** After a typed query ran: show it in the form controls where the form can express it. */
  async function syncForm(q) {
    if (q.metric !== state.metric && [...$('metric').options].some((o) => o.value === q.metric)) {
      state.metric = q.metric;
      $('metric').value = q.metric;
      await loadDimensions();
    }
    selectValue($('interval'), q.interval);
    const stat = q.statistic === 'percentile' ? `percentile(${q.percentile})` : q.statistic;
    selectValue(
      $('statistic'),
      stat,
      stat.replace(/^\w/, (c) => c.toUpperCase()),
    );
    state.groupBy = !q.grouping ? '' : q.grouping.kind === 'all' ? '*' : q.grouping.keys.join(', ');
    selectValue($('groupby'), state.groupBy);
    // Only a plain list of `dim = "v"` filters is shown as chips; anything richer lives in the box.
    const simple = q.filters.length <= 1 && (q.filters[0] || []).every((f) => f.op === '=');
    state.filters = simple ? (q.filters[0] || []).map((f) => ({ key: f.key, value: f.value })) : [];
    const typedJob = state.filters.find((f) => f.key === 'job');
    if (simple && (typedJob ? typedJob.value : '') !== state.job && (!typedJob || state.jobs[typedJob.value])) {
      state.job = typedJob ? typedJob.value : '';
      $('job').value = state.job;
    }
    renderChips();
    if (!simple) {
      const note = document.createElement('span');
      note.className = 'muted';
      note.textContent = 'filters as written in the expression';
      $('filter-chips').append(note);
    }
  }

  /** Label of a result stream from its dimensions. */
  function seriesLabel(s) {
    const parts = Object.entries(s.dimensions).map(([k, v]) => `${k}=${v}`);
    return parts.length ? parts.join(', ') : state.lastQueryName || 'all streams';
  }

  /** Runs the expression in the MQL box and draws the result. */
  async function runQuery() {
    const mql = $('mql').value.trim();
    if (!mql || !state.namespace) return;
    const to = Date.now();
    const from = to - Number($('range').value);
    try {
      const result = await api('/emulator/api/query', { namespace: state.namespace, query: mql, from: String(from), to: String(to) });
      $('query-error').hidden = true;
      $('query-warnings').hidden = result.warnings.length === 0;
      $('query-warnings').textContent = result.warnings.join('; ');
      state.lastQueryName = result.query.split('[')[0];
      if (state.custom) await syncForm(result.parsed);
      state.lastResult = result;
      render(result);
    } catch (e) {
      $('query-error').hidden = false;
      $('query-error').textContent = `Query error: ${e.message}`;
    }
  }

  /** Draws chart, legend and latest-values table. */
  function render(result) {
    $('chart-title').textContent = result.query;
    const points = result.series.reduce((n, s) => n + s.points.length, 0);
    $('chart-sub').textContent =
      `${result.series.length} stream${result.series.length === 1 ? '' : 's'}, ${points} points, ${$('range').selectedOptions[0].text.toLowerCase()}`;
    drawChart(result);
    drawLegend(result);
    drawLatest(result);
  }

  /** A "nice" step (1, 2, 5 x 10^n) for about `count` ticks over span. */
  function niceStep(span, count) {
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    return (norm >= 5 ? 10 : norm >= 2 ? 5 : norm >= 1 ? 2 : 1) * mag;
  }

  const TIME_STEPS = [10e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 21600e3, 43200e3, 86400e3];

  /** Creates an SVG element with attributes. */
  function svgEl(name, attrs, text) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', name);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  /** Hand-rolled SVG time-series chart. */
  function drawChart(result) {
    const svg = $('chart');
    const W = svg.clientWidth || 800;
    const H = svg.clientHeight || 340;
    const m = { l: 60, r: 16, t: 12, b: 26 };
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.replaceChildren();
    const visible = result.series.map((s, i) => ({ s, i })).filter(({ s }) => !state.hidden.has(seriesLabel(s)));
    const values = visible.flatMap(({ s }) => s.points.map((p) => p.value));
    svg.dataset.series = String(result.series.length);
    svg.dataset.points = String(result.series.reduce((n, s) => n + s.points.length, 0));
    svg.dataset.maxSeriesPoints = String(Math.max(0, ...result.series.map((s) => s.points.length)));
    const x0 = result.from;
    const x1 = result.to;
    let yMin = Math.min(0, ...values);
    let yMax = values.length ? Math.max(...values) : 1;
    if (yMax === yMin) yMax = yMin + (Math.abs(yMin) || 1);
    const yStep = niceStep(yMax - yMin, 5);
    yMin = Math.floor(yMin / yStep) * yStep;
    yMax = Math.ceil(yMax / yStep) * yStep;
    const sx = (t) => m.l + ((t - x0) / (x1 - x0)) * (W - m.l - m.r);
    const sy = (v) => H - m.b - ((v - yMin) / (yMax - yMin)) * (H - m.t - m.b);
    const grid = svgEl('g', { class: 'grid' });
    const axis = svgEl('g', { class: 'axis' });
    for (let v = yMin; v <= yMax + yStep / 2; v += yStep) {
      grid.append(svgEl('line', { x1: m.l, x2: W - m.r, y1: sy(v), y2: sy(v) }));
      axis.append(svgEl('text', { x: m.l - 6, y: sy(v) + 4, 'text-anchor': 'end' }, fmt(Number(v.toPrecision(12)))));
    }
    const tStep = TIME_STEPS.find((s) => (x1 - x0) / s <= 7) || 86400e3;
    for (let t = Math.ceil(x0 / tStep) * tStep; t <= x1; t += tStep) {
      grid.append(svgEl('line', { x1: sx(t), x2: sx(t), y1: m.t, y2: H - m.b }));
      axis.append(svgEl('text', { x: sx(t), y: H - 8, 'text-anchor': 'middle' }, clock(t, tStep < 60e3)));
    }
    axis.append(svgEl('line', { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
    svg.append(grid, axis);
    if (values.length === 0) {
      svg.append(
        svgEl(
          'text',
          { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' },
          result.series.length ? 'All streams hidden' : 'No data in this time range yet: the function posts on its schedule',
        ),
      );
      return;
    }
    const layer = svgEl('g', { class: 'series' });
    const dots = values.length <= 600;
    for (const { s, i } of visible) {
      const color = PALETTE[i % PALETTE.length];
      const peak = s.points.length ? Math.max(...s.points.map((p) => p.value)) : '';
      const g = svgEl('g', { 'data-label': seriesLabel(s), 'data-points': s.points.length, 'data-max': peak });
      const d = s.points.map((p, k) => `${k ? 'L' : 'M'}${sx(p.timestamp).toFixed(1)},${sy(p.value).toFixed(1)}`).join('');
      if (d) g.append(svgEl('path', { d, stroke: color }));
      if (dots) for (const p of s.points) g.append(svgEl('circle', { cx: sx(p.timestamp), cy: sy(p.value), r: 2.5, fill: color }));
      layer.append(g);
    }
    const cursor = svgEl('line', { class: 'cursor', y1: m.t, y2: H - m.b, visibility: 'hidden' });
    svg.append(layer, cursor);
    state.scale = { sx, x0, x1, m, W, cursor, visible };
  }

  /** Tooltip: the values of the visible streams at the window nearest the mouse. */
  function onChartMove(ev) {
    const sc = state.scale;
    const tip = $('tooltip');
    if (!sc || !state.lastResult) return;
    const rect = $('chart').getBoundingClientRect();
    const x = ((ev.clientX - rect.left) / rect.width) * sc.W;
    const t = sc.x0 + ((x - sc.m.l) / (sc.W - sc.m.l - sc.m.r)) * (sc.x1 - sc.x0);
    const stamps = [...new Set(sc.visible.flatMap(({ s }) => s.points.map((p) => p.timestamp)))];
    if (stamps.length === 0) return;
    const at = stamps.reduce((a, b) => (Math.abs(b - t) < Math.abs(a - t) ? b : a));
    const rows = sc.visible
      .map(({ s, i }) => ({ label: seriesLabel(s), color: PALETTE[i % PALETTE.length], p: s.points.find((p) => p.timestamp === at) }))
      .filter((r) => r.p)
      .sort((a, b) => b.p.value - a.p.value)
      .slice(0, 10);
    sc.cursor.setAttribute('x1', sc.sx(at));
    sc.cursor.setAttribute('x2', sc.sx(at));
    sc.cursor.setAttribute('visibility', 'visible');
    tip.replaceChildren();
    const head = document.createElement('div');
    head.textContent = new Date(at).toLocaleString();
    tip.append(head);
    for (const r of rows) {
      const line = document.createElement('div');
      const sw = document.createElement('span');
      sw.className = 'sw';
      sw.style.background = r.color;
      line.append(sw, `${fmt(r.p.value)}  ${r.label}`);
      tip.append(line);
    }
    tip.hidden = false;
    const px = (sc.sx(at) / sc.W) * rect.width;
    tip.style.left = `${Math.min(px + 12, rect.width - tip.offsetWidth - 4)}px`;
    tip.style.top = '8px';
  }

  /** Legend with the latest value; a click hides or shows a stream. */
  function drawLegend(result) {
    $('legend').replaceChildren(
      ...result.series.map((s, i) => {
        const label = seriesLabel(s);
        const item = document.createElement('span');
        item.className = `item${state.hidden.has(label) ? ' off' : ''}`;
        const sw = document.createElement('span');
        sw.className = 'sw';
        sw.style.background = PALETTE[i % PALETTE.length];
        item.append(sw, label);
        item.title = 'Click to hide or show';
        item.addEventListener('click', () => {
          if (state.hidden.has(label)) state.hidden.delete(label);
          else state.hidden.add(label);
          render(result);
        });
        return item;
      }),
    );
  }

  /** Table of the latest value of every stream, largest first. */
  function drawLatest(result) {
    const keys = [...new Set(result.series.flatMap((s) => Object.keys(s.dimensions)))].sort();
    const head = document.createElement('tr');
    for (const k of [...keys, 'Latest', 'At']) {
      const th = document.createElement('th');
      th.textContent = k;
      if (k === 'Latest') th.className = 'num';
      head.append(th);
    }
    $('latest').tHead.replaceChildren(head);
    const rows = result.series
      .filter((s) => s.points.length)
      .map((s) => ({ s, last: s.points[s.points.length - 1] }))
      .sort((a, b) => b.last.value - a.last.value);
    $('latest').tBodies[0].replaceChildren(
      ...rows.map(({ s, last }) => {
        const tr = document.createElement('tr');
        const cells = [...keys.map((k) => s.dimensions[k] ?? ''), fmt(last.value), clock(last.timestamp, true)];
        cells.forEach((c, i) => {
          const td = document.createElement('td');
          td.textContent = c;
          td.className = i < keys.length ? 'dimcell' : i === keys.length ? 'num' : '';
          tr.append(td);
        });
        return tr;
      }),
    );
  }

  /** A table cell. */
  function td(text, cls) {
    const el = document.createElement('td');
    if (text instanceof Node) el.append(text);
    else el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  /** The invocations panel (newest first) and the header facts. */
  async function loadInvocations() {
    const { info, invocations } = await api('/explorer/api/invocations');
    state.info = info || {};
    renderFacts();
    const rows = invocations
      .slice(-30)
      .reverse()
      .map((r) => {
        const tr = document.createElement('tr');
        tr.dataset.seq = String(r.seq);
        tr.dataset.ok = String(r.ok);
        const s = r.summary;
        const badge = document.createElement('span');
        badge.className = `badge ${r.ok ? (s && s.dryRun ? 'dry' : 'ok') : 'bad'}`;
        badge.textContent = r.ok ? (s && s.dryRun ? 'dry run' : 'ok') : 'failed';
        const skipped = document.createElement('div');
        const details = document.createElement('div');
        details.className = 'details';
        if (s) {
          const total = Object.values(s.skipped).reduce((a, b) => a + b, 0);
          const count = document.createElement('b');
          count.textContent = String(total);
          skipped.append(count);
          const reasons = document.createElement('div');
          reasons.className = 'reasons';
          reasons.textContent = Object.entries(s.skipped)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', ');
          skipped.append(reasons);
          // Every target: up or down, what it gave, and why not when it is down.
          for (const t of s.targets) {
            const line = document.createElement('div');
            line.className = `target ${t.up ? 'up' : 'down'}`;
            line.dataset.up = String(t.up);
            // A configuration file's target names its job; with a job chosen, only that job's targets are listed.
            const job = t.job ? `[${t.job}] ` : '';
            if (t.job) line.dataset.job = t.job;
            line.hidden = state.job !== '' && t.job !== state.job;
            line.textContent = t.up
              ? `up ${job}${t.instance}: ${t.samples} samples in ${Math.round(t.durationMs)} ms`
              : `down ${job}${t.url}: ${t.error || 'no answer'}`;
            details.append(line);
          }
          for (const e of s.errors.slice(0, 3)) {
            const line = document.createElement('div');
            line.textContent = `${e.message} (${e.metrics} metrics)`;
            details.append(line);
          }
        }
        if (r.error) details.append(r.error);
        if (r.coldStartMs !== undefined) {
          const cold = document.createElement('div');
          cold.className = 'reasons';
          cold.textContent = `cold start ${r.coldStartMs} ms`;
          details.append(cold);
        }
        const up = s ? `${s.targets.filter((t) => t.up).length}/${s.targets.length}` : '-';
        tr.append(
          td(String(r.seq), 'num'),
          td(clock(Date.parse(r.time), true)),
          td(badge),
          td(up, 'num'),
          td(s ? String(s.samples) : '-', 'num'),
          td(s ? String(s.dryRun ? 0 : s.posted) : '-', 'num'),
          td(s ? skipped : '-', 'skipcell'),
          td(s ? String(s.failed + s.undelivered) : '-', 'num'),
          td(`${r.durationMs} ms`, 'num'),
          td(details),
        );
        return tr;
      });
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      const cell = td('No invocation yet.');
      cell.colSpan = 10;
      tr.append(cell);
      rows.push(tr);
    }
    $('invocations').tBodies[0].replaceChildren(...rows);
    const latest = invocations
      .slice()
      .reverse()
      .find((r) => r.summary && r.summary.forecast);
    if (latest) renderForecast(latest.summary.forecast, latest.seq);
    const dry = invocations
      .slice()
      .reverse()
      .find((r) => r.summary && r.summary.cardinality);
    if (dry && String(dry.seq) !== $('cardinality').dataset.seq) renderCardinality(dry);
  }

  /** A share as a percentage with one decimal. */
  function percent(x) {
    return `${Math.round(x * 1000) / 10}%`;
  }

  /** A monthly cost and its share of the total, or '-' without a price. */
  function costText(c) {
    return c.monthlyCost === undefined ? '-' : `${c.monthlyCost} (${percent(c.shareOfMonthlyCost || 0)})`;
  }

  /**
   * A dry run's cardinality report (computed by the function, src/forecast/cardinality.ts): per job a
   * table, one row per label of each top name; "merged" = streams that merge away if the label is dropped.
   */
  function renderCardinality(record) {
    const s = record.summary;
    const r = s.cardinality;
    const box = $('cardinality');
    box.dataset.seq = String(record.seq);
    const rules = s.forecast && s.forecast.rules;
    $('cardinality-rules').textContent = rules
      ? `Drop rules (METRICS_INCLUDE/EXCLUDE, metric_relabel_configs) save ${rules.savedStreams} streams: ${rules.streamsWithout} without, ` +
        `${rules.streamsWith} with${rules.monthlyCostWithout === undefined ? '' : `; ${rules.monthlyCostWithout} -> ${rules.monthlyCostWith} a month`}.`
      : '';
    $('cardinality-sub').textContent =
      `${r.totalStreams} metric streams${r.monthlyCost === undefined ? '' : `, ${r.monthlyCost} a month`}, from dry run #${record.seq}`;
    const sections = r.jobs.map((j) => {
      const section = document.createElement('div');
      section.className = 'cardinality-job';
      section.dataset.job = j.job;
      const h = document.createElement('h3');
      h.textContent =
        `${j.job === '' ? 'implicit job (METRICS_ENDPOINT, discovery)' : `job ${j.job}`}: ${j.streams} streams (${percent(j.shareOfStreams)}), ` +
        `${j.families} names${j.approximate ? ' (approximate)' : ''}, cost ${costText(j)}`;
      const table = document.createElement('table');
      const head = document.createElement('tr');
      for (const t of ['Name', 'Streams', 'Label', 'Values', 'Merged if dropped', 'Of name', 'Of all', 'Monthly cost']) {
        const th = document.createElement('th');
        th.textContent = t;
        head.append(th);
      }
      table.createTHead().append(head);
      const body = table.createTBody();
      for (const f of j.top) {
        const labels = f.labels.length ? f.labels : [undefined];
        labels.forEach((l, i) => {
          const tr = document.createElement('tr');
          tr.dataset.name = f.name;
          if (i === 0) {
            const name = td(f.name, 'name');
            const streams = td(`${f.streams} (${percent(f.shareOfStreams)})`, 'num');
            name.rowSpan = streams.rowSpan = labels.length;
            tr.append(name, streams);
          }
          if (l) {
            tr.dataset.label = l.label;
            tr.dataset.values = String(l.values);
            tr.dataset.merged = String(l.mergedStreams);
            tr.append(
              td(l.label),
              td(`${l.values}${l.approximate ? '~' : ''}`, 'num'),
              td(String(l.mergedStreams), 'num'),
              td(percent(l.shareOfFamily), 'num'),
              td(percent(l.shareOfStreams), 'num'),
              td(costText(l), 'num'),
            );
          } else tr.append(td('(no labels)'), td('-'), td('-'), td('-'), td('-'), td('-'));
          body.append(tr);
        });
      }
      section.append(h, table);
      return section;
    });
    box.replaceChildren(...sections);
    showCardinalityJob();
  }

  /** With a job chosen, the cardinality report shows that job only. */
  function showCardinalityJob() {
    for (const section of document.querySelectorAll('#cardinality .cardinality-job')) section.hidden = state.job !== '' && section.dataset.job !== state.job;
  }

  /** Asks the demo for a dry run and shows its report. */
  async function dryRunNow() {
    const button = $('dry-run');
    button.disabled = true;
    $('cardinality-sub').textContent = 'dry run in progress...';
    try {
      const res = await fetch('/explorer/api/dry-run', { method: 'POST', cache: 'no-store' });
      const record = await res.json();
      if (!res.ok) throw new Error(record.message || `${res.status}`);
      if (!record.summary || !record.summary.cardinality) throw new Error(record.error || 'the dry run gave no report');
      renderCardinality(record);
    } catch (e) {
      $('cardinality-sub').textContent = `dry run failed: ${e.message}`;
    } finally {
      button.disabled = false;
    }
  }

  /** The cost forecast of one invocation (computed by the function; shown as it says). */
  function renderForecast(f, seq) {
    const pct = (x) => `${Math.round(x * 1000) / 10}%`;
    const num = (x) => x.toLocaleString('en-US');
    const rows = [
      ['Metric streams', num(f.metricStreams)],
      ['Datapoints per month', num(f.datapointsPerMonth)],
      ['PostMetricData calls per invocation', num(f.postCallsPerInvocation)],
      ["Share of the tenancy's 50 calls/s", `${pct(f.averageShareOfTenancyLimit)} on average, ${pct(f.postingShareOfTenancyLimit)} while posting`],
      ['Posting time', `${f.postingSeconds} s`],
      ['Fits the function timeout', `${f.fitsFunctionTimeout ? 'yes' : 'no'} (~${f.invocationSeconds} s of ${f.functionTimeoutSeconds} s)`],
      [
        'Monthly ingestion cost',
        f.monthlyCost === undefined
          ? 'no price configured'
          : `${f.monthlyCost} (${f.pricePerMillionDatapoints} per million beyond ${num(f.freeDatapointsPerMonth)} free)`,
      ],
    ];
    $('forecast').replaceChildren(
      ...rows.flatMap(([k, v]) => {
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = v;
        dd.dataset.key = k;
        return [dt, dd];
      }),
    );
    $('forecast').dataset.fits = String(f.fitsFunctionTimeout);
    $('forecast-sub').textContent = `at one invocation a minute, from invocation #${seq}`;
    $('forecast-notes').replaceChildren(
      ...f.notes.map((n) => {
        const li = document.createElement('li');
        li.textContent = n;
        return li;
      }),
    );
  }

  /** Header facts and the countdown to the next invocation. */
  function renderFacts() {
    const i = state.info;
    $('compartment').value = i.compartmentId || '';
    const facts = [];
    if (i.target) facts.push(['target', i.target]);
    if (i.fleet) facts.push(['fleet', i.fleet]);
    if (i.namespace) facts.push(['namespace', i.namespace]);
    if (i.intervalMs) facts.push(['function every', `${i.intervalMs / 1000} s`]);
    $('facts').replaceChildren(
      ...facts.map(([k, v]) => {
        const span = document.createElement('span');
        const b = document.createElement('b');
        b.textContent = v;
        span.append(`${k} `, b);
        return span;
      }),
    );
    tickCountdown();
  }

  /** Updates "next invocation in N s". */
  function tickCountdown() {
    const next = state.info.nextInvocationAt;
    $('next-run').textContent = next ? `next invocation in ${Math.max(0, Math.round((next - Date.now()) / 1000))} s` : '';
  }

  /** Reloads lists, the query and the invocations. */
  async function refresh() {
    try {
      await loadInvocations();
      await loadNamespaces();
      await loadMetrics();
      await loadDimensions();
      if (!$('mql').value) $('mql').value = buildMql();
      await runQuery();
      $('refreshed').textContent = `updated ${clock(Date.now(), true)}`;
    } catch (e) {
      $('refreshed').textContent = `cannot reach the emulator: ${e.message}`;
    }
  }

  $('job').addEventListener('change', async () => {
    state.job = $('job').value;
    state.metric = '';
    state.filters = [];
    state.groupBy = '';
    state.hidden.clear();
    await loadNamespaces();
    await loadMetrics();
    await loadDimensions();
    showCardinalityJob();
    formChanged();
    await loadInvocations();
  });
  $('namespace').addEventListener('change', async () => {
    state.namespace = $('namespace').value;
    state.metric = '';
    state.filters = [];
    state.groupBy = '';
    await loadMetrics();
    await loadDimensions();
    formChanged();
  });
  $('metric').addEventListener('change', async () => {
    state.metric = $('metric').value;
    state.filters = [];
    state.groupBy = '';
    state.hidden.clear();
    $('statistic').value = defaultStatistic(state.metric);
    await loadDimensions();
    formChanged();
  });
  for (const id of ['interval', 'statistic']) $(id).addEventListener('change', formChanged);
  $('groupby').addEventListener('change', () => {
    state.groupBy = $('groupby').value;
    state.hidden.clear();
    formChanged();
  });
  $('filter-key').addEventListener('change', fillFilterValues);
  $('filter-add').addEventListener('click', () => {
    const key = $('filter-key').value;
    const value = $('filter-value').value;
    if (!key || value === '') return;
    state.filters = state.filters.filter((f) => f.key !== key).concat([{ key, value }]);
    formChanged();
  });
  $('mql-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.autoMetric = false;
    state.custom = true;
    state.hidden.clear();
    runQuery();
  });
  $('range').addEventListener('change', runQuery);
  $('dry-run').addEventListener('click', dryRunNow);
  $('chart').addEventListener('mousemove', onChartMove);
  $('chart').addEventListener('mouseleave', () => {
    $('tooltip').hidden = true;
    if (state.scale) state.scale.cursor.setAttribute('visibility', 'hidden');
  });
  window.addEventListener('resize', () => state.lastResult && render(state.lastResult));

  setInterval(() => {
    if ($('autorefresh').checked) refresh();
  }, REFRESH_MS);
  setInterval(tickCountdown, 1000);
  refresh();
})();
