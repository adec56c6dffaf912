/**
 * Loaded into a function process with `node --require` by the image test: reports, as one stderr
 * line `code-cache-probe {...}`, whether V8 accepted the code cache of every script compiled with
 * one (vm.Script with cachedData). `--require` is a Node option, not a V8 flag, so it does not
 * change what V8 compares the cache against; the rest of the command line stays the image's.
 */
'use strict';
const vm = require('vm');
const OriginalScript = vm.Script;
vm.Script = class ProbedScript extends OriginalScript {
  constructor(code, options) {
    super(code, options);
    if (options && options.cachedData) {
      process.stderr.write(`code-cache-probe ${JSON.stringify({ filename: options.filename, rejected: this.cachedDataRejected })}\n`);
    }
  }
};
