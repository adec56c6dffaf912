/**
 * The reference parser: Python's prometheus_client (Debian python3-prometheus-client), the parser
 * the original lab used. Tests compare parseExposition against it on the same text.
 */
import { spawn } from 'node:child_process';

/** One sample as Python's text parser reads it, with the sample name exactly as exposed. */
export interface PythonSample {
  name: string;
  labels: Record<string, string>;
  /**
   * The labels as Prometheus stores them: a histogram's `le` and a summary's `quantile` in Go float
   * form (prometheus_client's own floatToGoString, as its exposition writes them).
   */
  storedLabels: Record<string, string>;
  /** null = NaN (JSON has no NaN); +-Infinity for infinite values. */
  value: number | null;
  /** Python's repr of the float value: "1.5", "inf", "-inf", "nan". */
  valueText: string;
  /** The sample's own timestamp in ms, or null. */
  timestampMs: number | null;
}

// Python's text parser renames the samples of a counter `x` to `x_total` (its OpenMetrics view);
// the script undoes that for counters declared without `_total`, so names match the exposition.
const SCRIPT = String.raw`
import json, re, sys
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString
text = sys.stdin.read()
def stored(family, labels):
    key = {'histogram': 'le', 'summary': 'quantile'}.get(family.type)
    out = dict(labels)
    if key in out:
        try:
            out[key] = floatToGoString(out[key])
        except ValueError:
            pass
    return out
counters = set(re.findall(r'^[ \t]*#[ \t]+TYPE[ \t]+(\S+)[ \t]+counter[ \t]*\r?$', text, re.M))
out = []
for family in text_string_to_metric_families(text):
    renamed = family.type == 'counter' and family.name in counters
    for s in family.samples:
        name = s.name[:-6] if renamed and s.name.endswith('_total') else s.name
        ts = None if s.timestamp is None else round(float(s.timestamp) * 1000)
        out.append({'name': name, 'labels': s.labels, 'storedLabels': stored(family, s.labels), 'valueText': repr(float(s.value)), 'timestampMs': ts})
json.dump(out, sys.stdout)
`;

/** Runs /usr/bin/python3 on the text (stdin) and returns every sample it reads, in order. */
export async function pythonSamples(text: string, timeoutMs = 30_000): Promise<PythonSample[]> {
  const stdout = await runPython(text, timeoutMs);
  const rows = JSON.parse(stdout) as Omit<PythonSample, 'value'>[];
  return rows.map((row) => ({ ...row, value: pythonValue(row.valueText) }));
}

/** Converts Python's repr of a float to a JS number (null for NaN). */
function pythonValue(text: string): number | null {
  if (text === 'nan') return null;
  if (text === 'inf') return Infinity;
  if (text === '-inf') return -Infinity;
  return Number(text);
}

/** Spawns python3 with the script, feeds the text, resolves with stdout or rejects with stderr. */
function runPython(text: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`python3 exited with ${code ?? signal}: ${Buffer.concat(err).toString('utf8').slice(-2000)}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(text, 'utf8');
  });
}
