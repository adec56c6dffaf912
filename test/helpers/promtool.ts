/** The real Prometheus server's config checker (Debian package `prometheus`), one home for how the tests run it. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const PROMTOOL = '/usr/bin/promtool';

let dir: string | undefined;

/** `promtool check config` on a configuration text, written to a temporary file named after `name`: its verdict and output. */
export function promtoolCheck(text: string, name = 'config'): { ok: boolean; output: string } {
  dir ??= mkdtempSync(path.join(tmpdir(), 'prom2oci-promtool-'));
  const file = path.join(dir, `${name.replace(/[^\w.-]/g, '_')}-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, text);
  const r = spawnSync(PROMTOOL, ['check', 'config', file], { encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
