/**
 * Loaded into a function process with `node --require`: records which SDK bundles (dist/oci-*.js)
 * the process reads, and on SIGUSR2 writes one stderr line `bundle-probe [...]` with their names.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const read = fs.readFileSync;
const bundles = new Set();
fs.readFileSync = function readFileSyncProbe(file, ...rest) {
  if (typeof file === 'string' && /[\\/]dist[\\/]oci-[a-z]+\.js$/.test(file)) bundles.add(path.basename(file));
  return read.call(this, file, ...rest);
};
process.on('SIGUSR2', () => process.stderr.write(`bundle-probe ${JSON.stringify([...bundles].sort())}\n`));
