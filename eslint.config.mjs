// Lint: typescript-eslint's type-checked rules (floating promises, unsafe any, ...) on every
// TypeScript file; formatting is Prettier's (`npm run format`), so no style rules here beyond max-len,
// which also catches the long strings and comments Prettier leaves alone.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench-results/**', 'test/fixtures/**', 'src/local/emulator/explorer/app.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'max-len': ['error', { code: 160, ignoreUrls: true }],
      // node:test's describe/it/test return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // The FDK shows a thrown value's toString() as the 502 detail: FunctionFailure is deliberately not an Error (no stack).
      '@typescript-eslint/only-throw-error': ['error', { allow: [{ from: 'file', name: 'FunctionFailure', path: 'src/handler/handler.ts' }] }],
      // 'l' is V8's linear-time RegExp engine (--enable-experimental-regexp-engine), used for user-given patterns.
      'no-invalid-regexp': ['error', { allowConstructorFlags: ['l'] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // The OCI SDK (and yaml, for a Prometheus configuration file) is required lazily, on first use, so that it does not delay the cold start.
      '@typescript-eslint/no-require-imports': ['error', { allow: ['^oci-', '^node:', '^yaml$'] }],
    },
  },
  {
    // Plain JavaScript is in no tsconfig: no type information (keeping disableTypeChecked's parserOptions, which a bare
    // `languageOptions` here would replace, leaving the project service to fail on these files).
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
  {
    files: ['**/*.cjs', 'bin/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
