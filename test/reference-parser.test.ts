/**
 * Reference: the parser against the real Prometheus server (Debian `prometheus`, 2.42). Each case is
 * one exposition served as its own target; Prometheus scrapes them all, and for each the function's
 * parser must refuse what Prometheus refuses (the whole target fails) and read what Prometheus reads,
 * sample for sample (name, labels, value). The float grammar (src/parse/promFloat.ts) and the
 * parser's decisions of docs/mapping.md ("What the parser accepts and refuses") are checked here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseExposition } from '../src/parse/exposition';
import { flattenSamples } from './helpers/flat-samples';
import { startPrometheusServer, type RunningExporter } from './helpers/exporters';
import { requireBinary } from './helpers/requires';

const PROMETHEUS = '/usr/bin/prometheus';
const WAIT_MS = 60_000;

/** A sample value spelled many ways: each its own target, since one bad value fails the whole scrape. */
const VALUES = ['1', '-1.5', '.5', '5.', '00012', '1.5E3', '+.5e+2', '1e-400', 'Inf', '+inf', '-INFINITY', 'infinity', 'nan', 'NaN'];
const BAD_VALUES = ['0x10', '0x1p4', '1_000', '1e400', '-1e400', '+NaN', '-nan', '1e', 'one'];

const CASES: Record<string, string> = {
  ...Object.fromEntries([...VALUES, ...BAD_VALUES].map((v) => [`value ${v}`, `m ${v}\n`])),
  'label escapes: \\t kept literally, \\\\ \\n \\" unescaped': 'm{a="x\\ty",b="p\\\\q",c="n\\nl",d="q\\""} 1\n',
  'a second HELP line': '# HELP m first\n# HELP m second\n# TYPE m gauge\nm 1\n',
  'a TYPE line after its samples': 'm_bucket{le="1"} 1\nm_bucket{le="+Inf"} 2\nm_count 2\nm_sum 3\n# TYPE m histogram\nother 1\n',
  'negative histogram counts and populations': '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="2"} 3\nh_bucket{le="+Inf"} -2\nh_count -2\nh_sum -1\n',
  'a negative timestamp': 'ok 1\nm 1 -1\n',
  'a timestamp beyond int64': 'ok 1\nm 1 99999999999999999999\n',
  "Prometheus 3's quoted UTF-8 name": 'ok 1\n{"my.metric"} 1\n',
  'a quoted UTF-8 name with labels': 'ok 1\n{"my.metric",a="b"} 1\n',
  'le and quantile as written': '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="2.0"} 1\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n',
};
const NAMES = Object.keys(CASES);

interface TargetOutcome {
  health: string;
  lastError: string;
}

/** A number as Prometheus' API writes it. */
function apiNumber(text: string): number {
  return text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
}

/** name{sorted labels} -> value of a sample list. */
function keyed(samples: { name: string; labels: Record<string, string>; value: number }[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    const labels = Object.entries(s.labels)
      .filter(([, v]) => v !== '')
      .sort(([a], [b]) => (a < b ? -1 : 1));
    out.set(JSON.stringify([s.name, labels]), s.value);
  }
  return out;
}

describe('reference: the parser refuses and reads what Prometheus 2.42 refuses and reads', () => {
  let server: Server;
  let prometheus: RunningExporter | undefined;
  let api = '';
  const outcomes = new Map<string, TargetOutcome>();

  before(async () => {
    server = createServer((req, res) => {
      const body = CASES[NAMES[Number(req.url!.slice(1))]];
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(body ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await prometheus?.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Starts Prometheus on every case and waits (polling, an event) until each target was scraped once. */
  async function scrapeAll(): Promise<void> {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    prometheus = await startPrometheusServer({ targets: NAMES.map((_, i) => `${base}/${i}`) });
    api = prometheus.url.replace(/\/metrics$/, '/api/v1');
    const until = Date.now() + WAIT_MS;
    for (;;) {
      const res = (await (await fetch(`${api}/targets`)).json()) as {
        data: { activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] };
      };
      const refs = res.data.activeTargets.filter((t) => t.labels.job.startsWith('ref'));
      if (refs.length === NAMES.length && refs.every((t) => t.health !== 'unknown')) {
        for (const t of refs) outcomes.set(NAMES[Number(t.labels.job.slice(3))], { health: t.health, lastError: t.lastError });
        return;
      }
      assert.ok(Date.now() < until, 'Prometheus scraped every case');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The samples Prometheus stored for a case. */
  async function stored(i: number): Promise<Map<string, number>> {
    const query = encodeURIComponent(`{job="ref${i}",__name__!~"up|scrape_.*"}`);
    const res = (await (await fetch(`${api}/query?query=${query}`)).json()) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return keyed(
      res.data.result.map((r) => {
        const { __name__: name, job: _job, instance: _instance, ...labels } = r.metric;
        return { name, labels, value: apiNumber(r.value[1]) };
      }),
    );
  }

  test('every case: refused by both, or read by both with the same samples', async (t) => {
    if (!requireBinary(t, PROMETHEUS, 'prometheus')) return;
    await scrapeAll();
    const differences: string[] = [];
    for (const [i, name] of NAMES.entries()) {
      const theirs = outcomes.get(name)!;
      let ours: Map<string, number> | string;
      try {
        ours = keyed(flattenSamples(parseExposition(CASES[name])));
      } catch (e) {
        ours = (e as Error).message;
      }
      if (theirs.health !== 'up' || typeof ours === 'string') {
        if ((theirs.health === 'up') !== (typeof ours !== 'string'))
          differences.push(`${name}: Prometheus ${theirs.health} ${theirs.lastError}, ours ${typeof ours === 'string' ? ours : 'read it'}`);
        continue;
      }
      assert.deepEqual(ours, await stored(i), name);
    }
    assert.deepEqual(differences, []);
    // The cases that must be refused are (the table cannot pass by accepting everything).
    for (const v of BAD_VALUES) assert.equal(outcomes.get(`value ${v}`)!.health, 'down', v);
    assert.equal(outcomes.get('a negative timestamp')!.health, 'down');
    assert.equal(outcomes.get("Prometheus 3's quoted UTF-8 name")!.health, 'down');
  });

  test('a second HELP line: the last one is the metadata, in Prometheus and in the family', async (t) => {
    if (!requireBinary(t, PROMETHEUS, 'prometheus')) return;
    if (outcomes.size === 0) await scrapeAll();
    const i = NAMES.indexOf('a second HELP line');
    const res = (await (await fetch(`${api}/targets/metadata?match_target=${encodeURIComponent(`{job="ref${i}"}`)}`)).json()) as {
      data: { metric: string; help: string }[];
    };
    assert.deepEqual(
      res.data.map((m) => [m.metric, m.help]),
      [['m', 'second']],
    );
    assert.equal(parseExposition(CASES['a second HELP line']).families[0].help, 'second');
  });
});
