import { existsSync } from 'node:fs';
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
