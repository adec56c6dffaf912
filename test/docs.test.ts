/**
 * The user documentation that is made from code: docs/configuration.md is generated from the
 * settings table (scripts/docs-config.ts) and must be current.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SETTING_SPECS } from '../src/config/settings';
import { CONFIGURATION_PAGE, configurationPage } from '../scripts/docs-config';

/** The rows of the page's settings table: the key, and the default cell. */
function settingRows(page: string): { key: string; defaultCell: string }[] {
  return page
    .split('\n')
    .filter((l) => /^\| `[A-Z0-9_]+` \|/.test(l))
    .map((line) => {
      const cells = line.split(/ (?<!\\)\| /);
      return { key: cells[0].replace(/^\| `|`$/g, ''), defaultCell: cells[2] };
    });
}

describe('docs/configuration.md, generated from SETTINGS_TABLE', () => {
  test('is current (else: npm run docs:config)', () => {
    assert.equal(readFileSync(CONFIGURATION_PAGE, 'utf8'), configurationPage(), 'docs/configuration.md is stale: run `npm run docs:config`');
  });

  test('has one row per setting, in the table order, with its default or its requirement', () => {
    const rows = settingRows(configurationPage());
    assert.deepEqual(
      rows.map((r) => r.key),
      SETTING_SPECS.map((s) => s.key),
    );
    for (const spec of SETTING_SPECS) {
      const cell = rows.find((r) => r.key === spec.key)!.defaultCell;
      if (spec.default !== undefined) assert.equal(cell, `\`${spec.default}\``, spec.key);
      else if (spec.required !== undefined) assert.match(cell, /^required unless/, spec.key);
      else assert.equal(cell === 'none', spec.unset === undefined, `${spec.key}: unset means nothing, or what its row says (${cell})`);
    }
  });

  test('negative: a changed row makes the page stale, and the page shows the change', () => {
    const changed = SETTING_SPECS.map((s) => (s.key === 'POST_CONCURRENCY' ? { ...s, default: '5', description: 'changed' } : s));
    const page = configurationPage(changed);
    assert.notEqual(page, configurationPage());
    assert.match(page, /^\| `POST_CONCURRENCY` \| changed \| `5` \|/m);
  });

  test('cells stay one cell: a | is escaped, names and placeholders are code', () => {
    const line = configurationPage()
      .split('\n')
      .find((l) => l.startsWith('| `DRY_RUN` |'))!;
    assert.match(line, /true\\\|false/);
    assert.match(configurationPage(), /`<name>_bucket`/);
    assert.match(configurationPage(), /`DISCOVERY_COMPARTMENT_OCID`/);
  });
});
