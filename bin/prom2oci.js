#!/usr/bin/env node
// `prom2oci` command: runs the bundled CLI (dist/cli.js, made by `npm run build`). In a checkout
// that has not been built yet, it falls back to the TypeScript sources through tsx (a dev
// dependency), so `npx prom2oci --help` works right after `npm install`.
'use strict';
const { existsSync } = require('node:fs');
const path = require('node:path');

const bundle = path.join(__dirname, '..', 'dist', 'cli.js');
if (existsSync(bundle)) {
  require(bundle).runMain(process.argv.slice(2));
} else {
  try {
    require('tsx/cjs');
  } catch {
    console.error('prom2oci: dist/cli.js is missing; run `npm run build` first');
    process.exit(2);
  }
  require('../src/cli/main.ts').runMain(process.argv.slice(2));
}
