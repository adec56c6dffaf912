/**
 * The function image, checked offline: the Node flags have one home (package.json
 * "prom2oci.nodeFlags") that the Dockerfile's command line and the code-cache build share; the
 * Dockerfile's build stage has every file the build reads; func.yaml holds only keys `fn` reads
 * next to a Dockerfile; and the built bundle, started with the image's exact command line, gets
 * its SDK code cache accepted by V8. Negative fixtures show each check fails when the defect returns.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { checkBuildStageInputs, checkFuncYaml, checkImageNodeFlags, filesReadBy, imageCommandLine } from './helpers/image';
import { FUNC_ENTRY, startStack, type Stack } from './helpers/stack';

const ROOT = path.join(__dirname, '..');
const FIXTURES = path.join(__dirname, 'fixtures', 'image');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const fixture = (file: string) => readFileSync(path.join(FIXTURES, file), 'utf8');
const PROBE = path.join(__dirname, 'helpers', 'code-cache-probe.cjs');

/** package.json "prom2oci.nodeFlags": the one home of the image's Node flags. */
function nodeFlags(): string[] {
  const pkg = JSON.parse(read('package.json')) as { prom2oci?: { nodeFlags?: unknown } };
  const flags = pkg.prom2oci?.nodeFlags;
  assert.ok(Array.isArray(flags) && flags.every((f) => typeof f === 'string'), 'package.json "prom2oci.nodeFlags" is a list of strings');
  return flags as string[];
}

describe('image: one home for the Node flags', () => {
  test('the Dockerfile runs exactly node <package.json nodeFlags> dist/func.js', () => {
    assert.deepEqual(checkImageNodeFlags(read('Dockerfile'), nodeFlags()), []);
  });

  test('negative: a Dockerfile whose flags drifted from package.json', () => {
    const drifted = read('Dockerfile').replace(
      /^ENTRYPOINT .*$/m,
      `ENTRYPOINT ${JSON.stringify(['node', ...nodeFlags(), '--max-old-space-size=100', 'dist/func.js'])}`,
    );
    assert.match(checkImageNodeFlags(drifted, nodeFlags()).join('\n'), /V8 would reject it/);
    const shellForm = read('Dockerfile').replace(/^ENTRYPOINT .*$/m, `ENTRYPOINT node ${nodeFlags().join(' ')} dist/func.js`);
    assert.match(checkImageNodeFlags(shellForm, nodeFlags()).join('\n'), /exec form/);
  });

  test('scripts/build.mjs takes the flags from package.json, never from the Dockerfile', () => {
    const inputs = filesReadBy(read('scripts/build.mjs'));
    assert.ok(inputs.includes('package.json'), `build.mjs reads ${inputs.join(', ')}`);
    assert.ok(!inputs.includes('Dockerfile'), 'the build stage of the image has no Dockerfile to read');
  });

  test('the Dockerfile build stage has every file the build reads before it runs npm run build', () => {
    assert.deepEqual(checkBuildStageInputs(read('Dockerfile'), filesReadBy(read('scripts/build.mjs'))), []);
  });

  test('negative: the old build read the flags from a Dockerfile the build stage never copies', () => {
    const oldBuild = fixture('build-reads-dockerfile.mjs');
    assert.deepEqual(filesReadBy(oldBuild), ['Dockerfile']);
    assert.deepEqual(checkBuildStageInputs(read('Dockerfile'), filesReadBy(oldBuild)), [
      'the build stage runs `npm run build` without Dockerfile, which the build reads: COPY it before that RUN',
    ]);
    const noPackageJson = read('Dockerfile').replace('COPY package.json package-lock.json ./', 'COPY package-lock.json ./');
    assert.equal(checkBuildStageInputs(noPackageJson, ['package.json']).length, 1);
  });

  test('imageCommandLine: ENTRYPOINT then CMD of the last stage', () => {
    const text = 'FROM a AS build\nENTRYPOINT ["x"]\nFROM b\nENTRYPOINT ["node", "--a=1"]\nCMD ["dist/func.js"]\n';
    assert.deepEqual(imageCommandLine(text), ['node', '--a=1', 'dist/func.js']);
  });
});

describe('image: func.yaml holds only what fn reads next to a Dockerfile', () => {
  test('func.yaml: runtime docker, no ignored keys', () => {
    assert.deepEqual(checkFuncYaml(read('func.yaml')), []);
  });

  test('negative: runtime node with build_image, run_image and entrypoint (ignored by fn build)', () => {
    const problems = checkFuncYaml(fixture('func-ignored-keys.yaml'));
    assert.match(problems.join('\n'), /runtime is "node", expected "docker"/);
    for (const key of ['build_image', 'run_image', 'entrypoint'])
      assert.ok(
        problems.some((p) => p.includes(`key "${key}" does nothing`)),
        `${key}: ${problems.join('; ')}`,
      );
  });
});

describe('image: the SDK code cache is accepted under the image command line', () => {
  const built = existsSync(FUNC_ENTRY) && existsSync(path.join(ROOT, 'dist', 'oci-sdk.cache'));
  let stack: Stack;
  let target: http.Server;
  before(async () => {
    if (!built) return;
    stack = await startStack();
    target = http.createServer((_req, res) => res.end('# TYPE probe_total counter\nprobe_total 1\n'));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await stack?.close();
    await new Promise((resolve) => target?.close(resolve));
  });

  /** Starts dist/func.js with `node <flags> --require probe dist/func.js`, runs one real invocation, returns the probe's verdict. */
  async function cacheVerdict(flags: string[]): Promise<{ filename: string; rejected: boolean }> {
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/metrics`;
    const fn = await stack.startFn({ METRICS_ENDPOINT: url, NODE_OPTIONS: '' }, [...flags, '--require', PROBE]);
    try {
      // A real (not dry) run posts to the emulator: the SDK bundle is loaded.
      const r = await fn.invoke({ body: {} });
      assert.equal(r.status, 200, r.body);
      const line = fn.stderr.find((l) => l.startsWith('code-cache-probe '));
      assert.ok(line, `the SDK bundle was compiled with its code cache (stderr: ${fn.stderr.join(' | ')})`);
      return JSON.parse(line.slice('code-cache-probe '.length)) as { filename: string; rejected: boolean };
    } finally {
      await fn.stop();
    }
  }

  test('node <image flags> dist/func.js: cachedDataRejected === false', { skip: !built && 'dist/ missing: run npm run build' }, async () => {
    const argv = imageCommandLine(read('Dockerfile'));
    assert.equal(argv[0], 'node');
    assert.equal(argv.at(-1), 'dist/func.js');
    const verdict = await cacheVerdict(argv.slice(1, -1));
    assert.match(verdict.filename, /oci-sdk\.js$/);
    assert.equal(verdict.rejected, false);
  });

  test('negative: other V8 flags than the cache was made with -> rejected', { skip: !built && 'dist/ missing: run npm run build' }, async () => {
    const others = nodeFlags().includes('--max-semi-space-size=8') ? ['--max-semi-space-size=16'] : ['--max-semi-space-size=8'];
    const verdict = await cacheVerdict(others);
    assert.equal(verdict.rejected, true);
  });
});
