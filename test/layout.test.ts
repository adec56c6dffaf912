/**
 * The layout rule of docs/ARCHITECTURE.md: the function (src/ except src/cli/ and src/local/) never
 * imports the CLI or the local twins of OCI, so none of them can end up in the image's bundles.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const SRC = path.join(__dirname, '..', 'src');
const LOCAL_ONLY = ['cli', 'local'].map((d) => path.join(SRC, d) + path.sep);

/** Every TypeScript file under a directory. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** The relative module specifiers of a file: static imports and exports, import() and require(). */
function relativeSpecifiers(source: string): string[] {
  const found = source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm);
  return [...found].map((m) => m[2]);
}

describe('layout', () => {
  test('the specifier scan finds static, dynamic and require imports', () => {
    const text = "import { a } from './a';\nimport './b';\nconst c = await import('../c');\nconst d = require('./d');\nimport x from 'node:fs';";
    assert.deepEqual(relativeSpecifiers(text), ['./a', './b', '../c', './d']);
  });

  test('the function never imports src/cli/ or src/local/', () => {
    const functionFiles = tsFiles(SRC).filter((f) => !LOCAL_ONLY.some((d) => f.startsWith(d)));
    assert.ok(
      functionFiles.some((f) => f.endsWith(path.join('src', 'func.ts'))),
      'src/func.ts is scanned',
    );
    const offending: string[] = [];
    for (const file of functionFiles) {
      for (const spec of relativeSpecifiers(readFileSync(file, 'utf8'))) {
        const target = path.resolve(path.dirname(file), spec);
        if (LOCAL_ONLY.some((d) => (target + path.sep).startsWith(d) || target.startsWith(d))) offending.push(`${path.relative(SRC, file)} imports ${spec}`);
      }
    }
    assert.deepEqual(offending, []);
  });
});
