import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

/**
 * True when the binary exists. Otherwise the test is skipped with the Debian package to install,
 * except under CI=true, where a missing package is a failure (CI must install everything).
 */
export function requireBinary(t: TestContext, path: string, debPackage: string): boolean {
  if (existsSync(path)) return true;
  const message = `${path} not found: install the Debian package ${debPackage} (apt-get install ${debPackage})`;
  if (process.env.CI === 'true') assert.fail(`CI=true and ${message}`);
  t.skip(message);
  return false;
}

/**
 * True when /usr/bin/python3 can import `module` (Debian's Python modules are only visible to
 * that interpreter). Otherwise skipped with the Debian package to install, or failed under CI=true.
 */
export function requirePythonModule(t: TestContext, module: string, debPackage: string): boolean {
  if (!requireBinary(t, '/usr/bin/python3', 'python3')) return false;
  const probe = spawnSync('/usr/bin/python3', ['-c', `import ${module}`], { encoding: 'utf8', timeout: 20_000 });
  if (probe.status === 0) return true;
  const message = `python3 cannot import ${module}: install the Debian package ${debPackage} (apt-get install ${debPackage})`;
  if (process.env.CI === 'true') assert.fail(`CI=true and ${message}`);
  t.skip(message);
  return false;
}
