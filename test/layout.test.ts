/**
 * The layout rules of docs/ARCHITECTURE.md: the function (src/ except src/cli/ and src/local/)
 * never imports the CLI or the local twins of OCI, so none of them can end up in the image's
 * bundles; every file of the function's tree is part of the function (reached from src/func.ts),
 * so a CLI-only or test-only module cannot sit among the stages; and no module imports itself
 * through others (type-only imports included).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const SRC = path.join(__dirname, '..', 'src');
const LOCAL_ONLY = ['cli', 'local'].map((d) => path.join(SRC, d) + path.sep);
const FUNCTION_ENTRY = path.join(SRC, 'func.ts');
/**
 * Function modules landed ahead of their wiring into the handler. The test fails once one is
 * reached, so the list cannot outlive its reason.
 */
const NOT_WIRED_YET = new Set<string>([]);

/** Every TypeScript module under a directory (declaration files declare, they import nothing of ours). */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** The relative module specifiers of a file: static imports and exports (type-only too), import() and require(). */
function relativeSpecifiers(source: string): string[] {
  const found = source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm);
  return [...found].map((m) => m[2]);
}

/** The file a relative specifier of `from` names (`./x` -> x.ts or x/index.ts); the bare path when none exists. */
function resolveSpecifier(from: string, spec: string): string {
  const bare = path.resolve(path.dirname(from), spec);
  return [`${bare}.ts`, path.join(bare, 'index.ts'), bare].find((f) => f.endsWith('.ts') && existsSync(f)) ?? bare;
}

type Graph = Map<string, string[]>;

/** src/'s import graph: each module -> the modules of src/ it imports. */
function importGraph(): Graph {
  const graph: Graph = new Map();
  for (const file of tsFiles(SRC))
    graph.set(
      file,
      relativeSpecifiers(readFileSync(file, 'utf8')).map((s) => resolveSpecifier(file, s)),
    );
  return graph;
}

/** The import circles of a graph: its strongly connected components of more than one module, or a module importing itself (Tarjan). */
function importCircles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) circles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return circles;
}

/** The modules reached from `entry` by following imports. */
function reachedFrom(graph: Graph, entry: string): Set<string> {
  const reached = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (reached.has(file)) continue;
    reached.add(file);
    todo.push(...(graph.get(file) ?? []));
  }
  return reached;
}

const isLocalOnly = (file: string): boolean => LOCAL_ONLY.some((d) => (file + path.sep).startsWith(d) || file.startsWith(d));
const relative = (file: string): string => path.relative(SRC, file).split(path.sep).join('/');

describe('layout', () => {
  test('the specifier scan finds static, type-only, dynamic and require imports', () => {
    const text =
      "import { a } from './a';\nimport './b';\nconst c = await import('../c');\nconst d = require('./d');\nimport type { E } from './e';\n" +
      "export type { F } from './f';\nimport x from 'node:fs';";
    assert.deepEqual(relativeSpecifiers(text), ['./a', './b', '../c', './d', './e', './f']);
  });

  test('the circle finder finds a circle through type-only imports, a self-import, and none in a tree', () => {
    const g: Graph = new Map([
      ['types/model', ['types/state']],
      ['types/state', ['state/spool']],
      ['state/spool', ['types/model', 'transform/limits']],
      ['transform/limits', []],
      ['self', ['self']],
    ]);
    assert.deepEqual(importCircles(g), [['state/spool', 'types/model', 'types/state'], ['self']]);
    assert.deepEqual(
      importCircles(
        new Map([
          ['a', ['b', 'c']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
      [],
    );
  });

  test('src/ has no import circle, type-only imports included', () => {
    const graph = importGraph();
    assert.ok(graph.size > 50, `the graph holds src/'s modules (${graph.size})`);
    assert.deepEqual(
      importCircles(graph).map((c) => c.map(relative)),
      [],
    );
  });

  test('the function never imports src/cli/ or src/local/', () => {
    const graph = importGraph();
    const offending: string[] = [];
    for (const [file, imports] of graph) {
      if (isLocalOnly(file)) continue;
      for (const target of imports) if (isLocalOnly(target)) offending.push(`${relative(file)} imports ${relative(target)}`);
    }
    assert.ok(graph.has(FUNCTION_ENTRY), 'src/func.ts is scanned');
    assert.deepEqual(offending, []);
  });

  test("every module of the function's tree is part of the function (reached from src/func.ts); the rest lives in src/cli/ or src/local/", () => {
    const graph = importGraph();
    const reached = reachedFrom(graph, FUNCTION_ENTRY);
    assert.ok(reached.has(path.join(SRC, 'handler', 'handler.ts')), 'the handler is reached');
    const misplaced = [...graph.keys()].filter((f) => !isLocalOnly(f) && !reached.has(f)).map(relative);
    assert.deepEqual(
      misplaced.filter((f) => !NOT_WIRED_YET.has(f)),
      [],
      'modules only the CLI, the local twins or the tests use belong in src/cli/ or src/local/ (or test/)',
    );
    const wired = [...NOT_WIRED_YET].filter((f) => !misplaced.includes(f));
    assert.deepEqual(wired, [], 'these are part of the function now: take them off NOT_WIRED_YET');
  });
});
