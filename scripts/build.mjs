// Bundles the function (cold start and per-call cost):
//  - dist/func-main.js: the FDK, the handler and every stage, minified. It is all that loads before
//    the Fn socket is ready. dist/func.js, the image's entry point, is a small launcher that loads
//    it with its code cache (Node's own loader has no code cache for it).
//  - dist/oci-sdk.js: oci-common, oci-monitoring and oci-secrets with their dependencies, loaded
//    once the socket is ready or on first use (src/oci/clients.ts requires them lazily; each package
//    is evaluated on first access). One file loads faster than the ~400 files of node_modules, and
//    node-fetch (only needed by instance-principal auth; Node has fetch) is evaluated only if called.
//  - dist/oci-state.js (+ .cache): oci-objectstorage, only with a state bucket (STATE_BUCKET).
//  - dist/oci-discovery.js (+ .cache): oci-core and oci-identity, only for OCI compute discovery.
//    Separate files so a function without state or discovery never reads or compiles them (each is
//    as large as the rest of the SDK: every model of its service); oci-common is not bundled again
//    but taken from dist/oci-sdk.js, so all share one auth provider type and the patched signer.
//  - dist/*.cache: V8's code cache of each bundle. The feature bundles' caches are made by loading
//    them once; those of func-main.js and oci-sdk.js are trained by one real invocation
//    (scripts/train-cache.mjs), so they also hold every function the first call runs (pipeline,
//    client, signer): the first invocation compiles almost nothing. V8 rejects a cache made by
//    another Node version or with other V8 flags (e.g. heap sizes); the bundle then compiles as
//    usual. So they are made with the image's Node flags (package.json "prom2oci.nodeFlags") by
//    the image's build stage (same Node as the runtime). The image ships these files and nothing else.
// The SDK bundle carries small, behaviour-preserving patches of hot spots of the pinned SDK
// (oci-common 2.139.1 and its dependencies), each asserted so that a different SDK version fails
// the build instead of being silently mis-patched. The first three cut the CPU cost of one
// PostMetricData call about 3x; the last two cut the SDK's share of a cold start:
//  1. utils.isEmpty(body) ran Object.keys() over the JSON string (one array entry per character).
//  2. x-content-sha256 used jssha (pure JS SHA-256); node:crypto computes the same digest.
//  3. every signature parsed the PEM private key in JS (sshpk), re-encoded it and had OpenSSL parse
//     it again; the parsed key and its KeyObject are made once and reused.
//  4. request headers were a global Headers, whose first use loads undici.
//  5. jsonwebtoken checked the Node version with semver ranges, loading all of semver.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { trainCodeCaches } from './train-cache.mjs';

const SDK_PACKAGES = ['oci-common', 'oci-monitoring', 'oci-secrets'];
const SDK_BUNDLE = './oci-sdk.js';
/** Bundles loaded only by the feature that needs them, on top of the SDK bundle (name -> packages). */
const FEATURE_BUNDLES = {
  state: ['oci-objectstorage'],
  discovery: ['oci-core', 'oci-identity'],
  // Not OCI's, but loaded the same way: only a function given a Prometheus configuration file reads it.
  yaml: ['yaml'],
};
const featureFile = (name) => `./oci-${name}.js`;
const featureOf = (pkg) => Object.keys(FEATURE_BUNDLES).find((name) => FEATURE_BUNDLES[name].includes(pkg));

/** Replaces `from` by `to` in a file's text; throws when `from` is not there exactly once. */
function patchOnce(text, from, to, file) {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) {
    throw new Error(`build: cannot patch ${file}: expected exactly one "${from}" (SDK version changed? see scripts/build.mjs)`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/**
 * The part of WHATWG Headers the SDK and its HTTP clients use, over a Map: names are lower-cased,
 * append() joins values with ", ", values are trimmed, iteration is sorted by name (as Headers does),
 * and it is iterable as [name, value] pairs, so fetch()/Request (the SDK's own HTTP client, used by
 * the other clients) accept it as HeadersInit and still validate names and values.
 */
const REQUEST_HEADERS = `class RequestHeaders {
  constructor() { this.map = new Map(); }
  append(name, value) {
    const key = String(name).toLowerCase();
    const v = String(value).trim();
    const old = this.map.get(key);
    this.map.set(key, old === undefined ? v : old + ', ' + v);
  }
  set(name, value) { this.map.set(String(name).toLowerCase(), String(value).trim()); }
  get(name) { const v = this.map.get(String(name).toLowerCase()); return v === undefined ? null : v; }
  has(name) { return this.map.has(String(name).toLowerCase()); }
  delete(name) { this.map.delete(String(name).toLowerCase()); }
  forEach(callback, thisArg) { for (const [k, v] of this.entries()) callback.call(thisArg, v, k, this); }
  entries() { return [...this.map].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))[Symbol.iterator](); }
  keys() { return [...this.entries()].map((e) => e[0])[Symbol.iterator](); }
  values() { return [...this.entries()].map((e) => e[1])[Symbol.iterator](); }
  [Symbol.iterator]() { return this.entries(); }
}`;

/** `process.version >= major.minor` without semver (Node 6.12 has no 8.x minor to care about). */
const NODE_AT_LEAST = (major, minor) => `((v) => v[0] > ${major} || (v[0] === ${major} && v[1] >= ${minor}))(process.versions.node.split('.').map(Number))`;

/** The SDK files to patch: path suffix -> [search, replacement] pairs. */
const SDK_PATCHES = {
  'oci-common/lib/utils.js': [
    // Same result for strings (Object.keys(s).length === s.length), without the per-character array.
    ['return Object.keys(obj).length === 0;', 'return typeof obj === "string" ? obj.length === 0 : Object.keys(obj).length === 0;'],
  ],
  'oci-common/lib/request-generator.js': [
    // Every request's headers: a Map-backed Headers instead of the global one, whose first use loads
    // undici (fetch, web streams, http2, worker_threads: about as long as the rest of a cold call's SDK work).
    ['const headers = new Headers();', 'const headers = new RequestHeaders();'],
    ['const helper_1 = require("./helper");', `const helper_1 = require("./helper");\n${REQUEST_HEADERS}`],
  ],
  // jsonwebtoken's Node version checks parsed semver ranges when the SDK loads (and pulled in all
  // of semver): the same answers from process.versions.
  'jsonwebtoken/lib/psSupported.js': [
    ["var semver = require('semver');", ''],
    ["semver.satisfies(process.version, '^6.12.0 || >=8.0.0')", NODE_AT_LEAST(8, 0)],
  ],
  'jsonwebtoken/lib/asymmetricKeyDetailsSupported.js': [
    ["const semver = require('semver');", ''],
    ["semver.satisfies(process.version, '>=15.7.0')", NODE_AT_LEAST(15, 7)],
  ],
  'jsonwebtoken/lib/rsaPssKeyDetailsSupported.js': [
    ["const semver = require('semver');", ''],
    ["semver.satisfies(process.version, '>=16.9.0')", NODE_AT_LEAST(16, 9)],
  ],
  'sshpk/lib/private-key.js': [
    // Sign with the KeyObject of this key, made once, instead of re-encoding the key to PEM in JS and
    // handing OpenSSL that text to parse on every call.
    ["var key = this.toBuffer('pkcs1');", 'var key = prom2ociKeyObject(this);'],
    [
      "var crypto = require('crypto');",
      "var crypto = require('crypto');\n" +
        'var prom2ociKeys = new WeakMap();\n' +
        'function prom2ociKeyObject(privateKey) {\n' +
        '  var k = prom2ociKeys.get(privateKey);\n' +
        '  if (k === undefined) {\n' +
        "    k = crypto.createPrivateKey(privateKey.toBuffer('pkcs1'));\n" +
        '    prom2ociKeys.set(privateKey, k);\n' +
        '  }\n' +
        '  return k;\n' +
        '}',
    ],
  ],
  'http-signature/lib/signer.js': [
    // The signer hands the same PEM to every signature: parse it (in JS, sshpk) once, not per call.
    ['key = sshpk.parsePrivateKey(options.key);', 'key = prom2ociParsedKey(options.key);'],
    [
      "var sshpk = require('sshpk');",
      "var sshpk = require('sshpk');\n" +
        'var prom2ociParsed = new Map();\n' +
        'function prom2ociParsedKey(pem) {\n' +
        "  var id = Buffer.isBuffer(pem) ? pem.toString('latin1') : pem;\n" +
        '  var k = prom2ociParsed.get(id);\n' +
        '  if (k === undefined) {\n' +
        '    if (prom2ociParsed.size >= 4) prom2ociParsed.clear();\n' +
        '    k = sshpk.parsePrivateKey(pem);\n' +
        '    prom2ociParsed.set(id, k);\n' +
        '  }\n' +
        '  return k;\n' +
        '}',
    ],
  ],
};

/** jssha replacement: the SDK only computes SHA-256 of UTF-8 text as base64 (signer, X.509 federation). */
const JSSHA_SHIM = `
const { createHash } = require('crypto');
class JsShaSha256 {
  constructor(variant, inputFormat, options) {
    if (variant !== 'SHA-256' || inputFormat !== 'TEXT' || (options && options.encoding && options.encoding !== 'UTF8')) {
      throw new Error('prom2oci jssha shim: only SHA-256 over UTF-8 text is supported, got ' + variant + '/' + inputFormat);
    }
    this.hash = createHash('sha256');
  }
  update(text) {
    this.hash.update(text, 'utf8');
    return this;
  }
  getHash(format) {
    if (format !== 'B64') throw new Error('prom2oci jssha shim: only B64 output is supported, got ' + format);
    return this.hash.digest('base64');
  }
}
module.exports = JsShaSha256;
`;

/**
 * node-fetch, evaluated on first call: isomorphic-fetch and the instance-principal certificate
 * supplier require it at load time, but on Node >= 18 only the latter ever calls it.
 */
const LAZY_NODE_FETCH = `
let real;
function load() {
  if (real === undefined) real = require('node-fetch/lib/index.js');
  return real;
}
function fetch(url, options) {
  return load().call(this, url, options);
}
for (const name of ['Headers', 'Request', 'Response', 'FetchError', 'AbortError']) {
  Object.defineProperty(fetch, name, { enumerable: true, get: () => load()[name] });
}
fetch.isRedirect = (code) => load().isRedirect(code);
module.exports = fetch;
`;

/** Applies SDK_PATCHES and the jssha shim while the SDK is bundled. */
const sdkPatchPlugin = {
  name: 'prom2oci-sdk-patches',
  setup(b) {
    const applied = new Set();
    b.onResolve({ filter: /^(jssha|node-fetch)$/ }, (args) => ({ path: args.path, namespace: 'prom2oci-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'prom2oci-shim' }, (args) => ({
      contents: args.path === 'jssha' ? JSSHA_SHIM : LAZY_NODE_FETCH,
      loader: 'js',
      resolveDir: process.cwd(),
    }));
    const patched = new RegExp(
      `(${Object.keys(SDK_PATCHES)
        .map((f) => f.replace(/[.]/g, '\\.').replace(/\//g, '[\\\\/]'))
        .join('|')})$`,
    );
    b.onLoad({ filter: patched }, async (args) => {
      const file = Object.keys(SDK_PATCHES).find((suffix) => args.path.replace(/\\/g, '/').endsWith(`node_modules/${suffix}`));
      if (!file) return undefined;
      let text = await readFile(args.path, 'utf8');
      for (const [from, to] of SDK_PATCHES[file]) text = patchOnce(text, from, to, file);
      applied.add(file);
      return { contents: text, loader: 'js' };
    });
    b.onEnd((result) => {
      if (result.errors.length > 0) return;
      const missing = Object.keys(SDK_PATCHES).filter((f) => !applied.has(f));
      if (missing.length > 0) throw new Error(`build: SDK patches not applied to ${missing.join(', ')} (file layout changed?)`);
    });
  },
};

/**
 * Loads a bundle (dist/func-main.js, dist/oci-*.js) like require() would, but compiled with its
 * code cache when V8 accepts it. With PROM2OCI_WRITE_CACHE set (this script) it writes the cache
 * right after loading; with PROM2OCI_TRAIN_CACHE=1 (scripts/train-cache.mjs) when the process
 * exits, so that the cache also holds every function the training invocation compiled.
 */
const BUNDLE_LOADER_FN = `
function loadBundle(dir, name, requireFor) {
  const fs = require('fs');
  const path = require('path');
  const vm = require('vm');
  const Module = require('module');
  const file = path.join(dir, name);
  const cacheFile = file.replace(/\\.js$/, '.cache');
  const source = fs.readFileSync(file, 'utf8');
  const training = process.env.PROM2OCI_TRAIN_CACHE === '1';
  let cachedData;
  if (!process.env.PROM2OCI_WRITE_CACHE && !training) {
    try {
      cachedData = fs.readFileSync(cacheFile);
    } catch {
      cachedData = undefined; // no cache: V8 compiles as usual
    }
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, requireFor, mod, file, dir);
  if (process.env.PROM2OCI_WRITE_CACHE) {
    for (const key of Object.keys(mod.exports)) void mod.exports[key]; // evaluate every package before caching
    fs.writeFileSync(cacheFile, script.createCachedData());
  }
  if (training) process.once('exit', () => fs.writeFileSync(cacheFile, script.createCachedData()));
  return mod.exports;
}
`;

/**
 * dist/func.js, the image's entry point: loads the function bundle with its code cache. A training
 * run (PROM2OCI_TRAIN_CACHE=1) exits on SIGTERM so that the caches are written.
 */
const FUNC_LAUNCHER = `'use strict';
// Generated by scripts/build.mjs: loads func-main.js (the function) with its V8 code cache.
${BUNDLE_LOADER_FN}
if (process.env.PROM2OCI_TRAIN_CACHE === '1') process.once('SIGTERM', () => process.exit(0));
loadBundle(__dirname, './func-main.js', require);
`;

const SDK_LOADER = `${BUNDLE_LOADER_FN}
module.exports = loadBundle(__dirname, ${JSON.stringify(SDK_BUNDLE)}, require);
`;

/** dist/oci-<feature>.js: its `require('oci-common')` is answered by the SDK bundle already loaded. */
const featureLoader = (name) => `${BUNDLE_LOADER_FN}
const sdk = require('prom2oci-sdk-loader');
module.exports = loadBundle(__dirname, ${JSON.stringify(featureFile(name))}, (id) => (id === 'oci-common' ? sdk['oci-common'] : require(id)));
`;

/** In dist/func.js, `require('oci-…')` reads the package from the lazily loaded SDK bundle. */
const lazySdkPlugin = {
  name: 'prom2oci-lazy-sdk',
  setup(b) {
    const filter = new RegExp(`^(${[...SDK_PACKAGES, ...Object.values(FEATURE_BUNDLES).flat()].join('|')})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'prom2oci-sdk' }));
    b.onResolve({ filter: /^prom2oci-[a-z]+-loader$/ }, (args) => ({ path: args.path, namespace: 'prom2oci-loader' }));
    b.onLoad({ filter: /.*/, namespace: 'prom2oci-loader' }, (args) => {
      const name = args.path.slice('prom2oci-'.length, -'-loader'.length);
      return { contents: name === 'sdk' ? SDK_LOADER : featureLoader(name), loader: 'js' };
    });
    b.onLoad({ filter: /.*/, namespace: 'prom2oci-sdk' }, (args) => {
      const loader = `prom2oci-${featureOf(args.path) ?? 'sdk'}-loader`;
      return { contents: `module.exports = require(${JSON.stringify(loader)})[${JSON.stringify(args.path)}];`, loader: 'js' };
    });
  },
};

/** The SDK bundle's entry: one getter per package, so each is evaluated only when first read. */
const entryOf = (packages) =>
  `module.exports = {\n${packages.map((p) => `  get ${JSON.stringify(p)}() { return require(${JSON.stringify(p)}); },`).join('\n')}\n};\n`;
const SDK_ENTRY = entryOf(SDK_PACKAGES);

// PROM2OCI_BUILD_READABLE=1 keeps names and whitespace (for CPU profiles: scripts/bench/profile.ts).
const minify = process.env.PROM2OCI_BUILD_READABLE !== '1';
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify, keepNames: true, legalComments: 'none', logLevel: 'warning' };

await Promise.all([
  build({
    ...common,
    entryPoints: ['src/func.ts'],
    outfile: 'dist/func-main.js',
    sourcemap: 'linked',
    plugins: [lazySdkPlugin],
  }),
  build({
    ...common,
    stdin: { contents: SDK_ENTRY, resolveDir: process.cwd(), sourcefile: 'oci-sdk-entry.js', loader: 'js' },
    outfile: 'dist/oci-sdk.js',
    plugins: [sdkPatchPlugin],
  }),
  ...Object.entries(FEATURE_BUNDLES).map(([name, packages]) =>
    build({
      ...common,
      stdin: { contents: entryOf(packages), resolveDir: process.cwd(), sourcefile: `oci-${name}-entry.js`, loader: 'js' },
      outfile: `dist/${featureFile(name).slice(2)}`,
      external: ['oci-common'],
    }),
  ),
]);

/**
 * The Node flags the image starts the function with: package.json "prom2oci.nodeFlags", their one
 * home (the Dockerfile's ENTRYPOINT repeats them, and a test fails when the two differ). V8 only
 * accepts a code cache made with the same flags, so a missing or malformed list fails the build
 * instead of silently producing a cache every cold start would throw away.
 */
async function imageNodeFlags() {
  const pkg = JSON.parse(await readFile('package.json', 'utf8'));
  const flags = pkg.prom2oci?.nodeFlags;
  if (!Array.isArray(flags) || !flags.every((f) => typeof f === 'string' && /^--[a-z0-9-]+(=\S+)?$/.test(f))) {
    throw new Error('build: package.json "prom2oci.nodeFlags" must be a list of node flags such as ["--max-semi-space-size=4"] (the image ENTRYPOINT flags)');
  }
  return flags;
}

// The code cache: load the SDK bundle once through the same loader (same source text), with the
// runtime's node flags, and save what V8 compiled.
// Each feature bundle's cache is written the same way, with the SDK bundle (not cached again) under it.
const distDir = "require('path').resolve('dist')";
const writeCaches = `${BUNDLE_LOADER_FN}
const sdk = loadBundle(${distDir}, ${JSON.stringify(SDK_BUNDLE)}, require);
${Object.keys(FEATURE_BUNDLES)
  .map((name) => `loadBundle(${distDir}, ${JSON.stringify(featureFile(name))}, (id) => (id === 'oci-common' ? sdk['oci-common'] : require(id)));`)
  .join('\n')}
`;
const nodeFlags = await imageNodeFlags();
execFileSync(process.execPath, [...nodeFlags, '-e', writeCaches], {
  // NODE_OPTIONS could carry other V8 flags than the image has: the cache is made without it.
  env: { ...process.env, NODE_OPTIONS: '', PROM2OCI_WRITE_CACHE: '1' },
  stdio: 'inherit',
});
// Then the caches of the function and the SDK bundle again, trained by one real invocation (the
// feature bundles keep the load-time caches above: the training configures neither).
writeFileSync('dist/func.js', FUNC_LAUNCHER);
await trainCodeCaches(path.resolve('dist'), nodeFlags);
