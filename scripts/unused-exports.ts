/**
 * Lists the exports of src/ that no other file imports (src, test, scripts): an export nobody
 * imports is either dead or should not be exported. Part of `npm run lint`; exits 1 when it finds
 * any. Run alone: `node --import tsx scripts/unused-exports.ts [--fix]` (--fix drops the `export`
 * keyword of each; what is then unused anywhere, tsc's noUnusedLocals reports as dead code).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');
/** Entry points: their exports are used by the runtime or the command line, not by imports. */
const ENTRY_POINTS = new Set(['src/func.ts', 'src/cli/main.ts', 'src/local/emulator/main.ts']);

const configPath = ts.findConfigFile(ROOT, (f) => ts.sys.fileExists(f), 'tsconfig.json')!;
const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, (f) => ts.sys.readFile(f)).config, ts.sys, ROOT);
const program = ts.createProgram(parsed.fileNames, parsed.options);
const checker = program.getTypeChecker();

/** Imported names per module file; '*' when a file takes the whole module (namespace import, re-export *, import()). */
const used = new Map<string, Set<string>>();

function use(fileName: string, name: string): void {
  let names = used.get(fileName);
  if (!names) used.set(fileName, (names = new Set()));
  names.add(name);
}

/** The project file a module specifier of `from` resolves to, if any. */
function resolve(specifier: string, from: string): string | undefined {
  const r = ts.resolveModuleName(specifier, from, parsed.options, ts.sys).resolvedModule;
  return r && !r.isExternalLibraryImport ? path.resolve(r.resolvedFileName) : undefined;
}

for (const file of program.getSourceFiles()) {
  if (file.isDeclarationFile || file.fileName.includes('node_modules')) continue;
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const target = resolve(node.moduleSpecifier.text, file.fileName);
      if (target) {
        if (ts.isImportDeclaration(node)) {
          const clause = node.importClause;
          if (clause?.name) use(target, 'default');
          const bindings = clause?.namedBindings;
          if (bindings && ts.isNamespaceImport(bindings)) use(target, '*');
          if (bindings && ts.isNamedImports(bindings)) for (const el of bindings.elements) use(target, (el.propertyName ?? el.name).text);
        } else if (node.exportClause && ts.isNamedExports(node.exportClause)) {
          for (const el of node.exportClause.elements) use(target, (el.propertyName ?? el.name).text);
        } else {
          use(target, '*');
        }
      }
    }
    // import('...') and require('...') of a project file: every export counts as used.
    if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0])) {
      const isImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      const target = isImport || isRequire ? resolve(node.arguments[0].text, file.fileName) : undefined;
      if (target) use(target, '*');
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

const unused: string[] = [];
/** With --fix: per file, the offsets of `export ` keywords to drop. */
const fixes = new Map<string, number[]>();
for (const file of program.getSourceFiles()) {
  const rel = path.relative(ROOT, file.fileName);
  if (!rel.startsWith('src/') || file.isDeclarationFile || ENTRY_POINTS.has(rel)) continue;
  const names = used.get(path.resolve(file.fileName)) ?? new Set<string>();
  if (names.has('*')) continue;
  const moduleSymbol = checker.getSymbolAtLocation(file);
  if (!moduleSymbol) continue;
  for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
    if (names.has(symbol.name)) continue;
    const decl = symbol.declarations?.[0];
    const line = decl ? file.getLineAndCharacterOfPosition(decl.getStart()).line + 1 : 0;
    unused.push(`${rel}:${line}: ${symbol.name} is exported but imported nowhere`);
    // `export const x = ...`: the keyword is on the statement around the declaration.
    const holder = decl && ts.isVariableDeclaration(decl) ? decl.parent.parent : decl;
    const exportKeyword = holder && ts.canHaveModifiers(holder) ? ts.getModifiers(holder)?.find((m) => m.kind === ts.SyntaxKind.ExportKeyword) : undefined;
    if (exportKeyword) fixes.set(file.fileName, [...(fixes.get(file.fileName) ?? []), exportKeyword.getStart()]);
  }
}

if (process.argv.includes('--fix')) {
  for (const [fileName, offsets] of fixes) {
    let text = readFileSync(fileName, 'utf8');
    for (const at of [...new Set(offsets)].sort((a, b) => b - a)) text = text.slice(0, at) + text.slice(at).replace(/^export\s+/, '');
    writeFileSync(fileName, text);
  }
  console.error(`dropped ${[...fixes.values()].reduce((n, o) => n + new Set(o).size, 0)} export keyword(s); run tsc for what is now dead`);
}

if (unused.length > 0) {
  console.error(unused.join('\n'));
  console.error(`${unused.length} unused export(s): remove them, or stop exporting them.`);
  process.exit(1);
}
console.log('unused exports: none');
