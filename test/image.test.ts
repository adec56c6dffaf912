/**
 * The function image, checked offline: the Node flags have one home (package.json
 * "prom2oci.nodeFlags") that the Dockerfile's command line and the code-cache build share; the
 * Dockerfile's build stage has every file the build reads; func.yaml holds only keys `fn` reads
 * next to a Dockerfile; and the files the image ships, alone in a directory and started with the
 * image's exact command line, post a sample with the code caches of the function and the SDK
 * accepted by V8. Negative fixtures show each check fails when the defect returns.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFunction } from '../src/local/fn-agent';
import { checkBuildStageInputs, checkFuncYaml, checkImageNodeFlags, filesReadBy, imageCommandLine, shippedFiles, type ShippedFile } from './helpers/image';
import { COMPARTMENT, FUNC_ENTRY, startStack, type Stack } from './helpers/stack';

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
  return flags;
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

describe('image: the files the Dockerfile ships', () => {
  test('the last stage copies only single built files', () => {
    const { files, problems } = shippedFiles(read('Dockerfile'));
    assert.deepEqual(problems, []);
    assert.ok(
      files.some((f) => f.target === 'dist/func.js'),
      JSON.stringify(files),
    );
    assert.ok(!files.some((f) => f.source.startsWith('node_modules')), 'no node_modules in the image: the bundles hold every dependency');
  });

  test('negative: a directory, a glob or a COPY of the build context are reported', () => {
    const text = read('Dockerfile').replace(
      /^ENTRYPOINT/m,
      'COPY --from=build /function/node_modules ./node_modules\nCOPY --from=build /function/dist/*.js ./dist/\nCOPY README.md ./\nENTRYPOINT',
    );
    assert.equal(shippedFiles(text).problems.length, 3);
  });
});

describe('image: the shipped files run the function under the image command line, with their code caches', () => {
  const built = existsSync(FUNC_ENTRY) && existsSync(path.join(ROOT, 'dist', 'func-main.cache'));
  const skip = !built && 'dist/ missing: run npm run build';
  let stack: Stack;
  let target: http.Server;
  let imageDir: string;
  before(async () => {
    if (!built) return;
    stack = await startStack();
    target = http.createServer((_req, res) => res.end('# TYPE probe_total counter\nprobe_total 1\n'));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    imageDir = imageLayout(shippedFiles(read('Dockerfile')).files);
  });
  after(async () => {
    await stack?.close();
    await new Promise((resolve) => target?.close(resolve));
    if (imageDir) rmSync(imageDir, { recursive: true, force: true });
  });

  /** A directory outside the repository (no node_modules above it) holding exactly these files. */
  function imageLayout(files: ShippedFile[]): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'prom2oci-image-'));
    for (const f of files) {
      mkdirSync(path.dirname(path.join(dir, f.target)), { recursive: true });
      copyFileSync(path.join(ROOT, f.source), path.join(dir, f.target));
    }
    return dir;
  }

  /** Starts `node <flags> --require probe dist/func.js` in `dir` as the platform does, runs one real invocation. */
  async function runIn(
    dir: string,
    flags: string[],
    env: Record<string, string> = {},
  ): Promise<{ status: number; body: string; verdicts: { filename: string; rejected: boolean }[] }> {
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/metrics`;
    const fn = await startFunction({
      entry: 'dist/func.js',
      cwd: dir,
      startTimeoutMs: 60_000,
      nodeArgs: [...flags, '--require', PROBE],
      env: { ...stack.rpEnv, OCI_MONITORING_ENDPOINT: stack.emulator.url, COMPARTMENT_OCID: COMPARTMENT, METRICS_ENDPOINT: url, NODE_OPTIONS: '', ...env },
    });
    try {
      // A real (not dry) run posts to the emulator: the SDK bundle is loaded.
      const r = await fn.invoke({ body: {} });
      const verdicts = fn.stderr
        .filter((l) => l.startsWith('code-cache-probe '))
        .map((l) => JSON.parse(l.slice('code-cache-probe '.length)) as { filename: string; rejected: boolean });
      return { status: r.status, body: r.body, verdicts };
    } finally {
      await fn.stop();
    }
  }

  const imageFlags = (): string[] => {
    const argv = imageCommandLine(read('Dockerfile'));
    assert.equal(argv[0], 'node');
    assert.equal(argv.at(-1), 'dist/func.js');
    return argv.slice(1, -1);
  };

  test('node <image flags> dist/func.js posts, and V8 accepts the cache of the function and of the SDK bundle', { skip }, async () => {
    const r = await runIn(imageDir, imageFlags());
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { posted: number }).posted, 1, r.body);
    assert.deepEqual(r.verdicts.map((v) => path.basename(v.filename)).sort(), ['func-main.js', 'oci-sdk.js'], JSON.stringify(r.verdicts));
    assert.ok(
      r.verdicts.every((v) => !v.rejected),
      JSON.stringify(r.verdicts),
    );
  });

  test('with a state bucket, the lazily loaded state bundle runs from the shipped files with its cache accepted', { skip }, async () => {
    stack.emulator.objectStorage.createBucket('prom2oci-image');
    const r = await runIn(imageDir, imageFlags(), {
      OCI_OBJECT_STORAGE_ENDPOINT: stack.emulator.url,
      STATE_BUCKET: 'prom2oci-image',
      OBJECT_STORAGE_NAMESPACE: stack.emulator.objectStorage.namespace,
    });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.verdicts.map((v) => path.basename(v.filename)).sort(), ['func-main.js', 'oci-sdk.js', 'oci-state.js'], JSON.stringify(r.verdicts));
    assert.ok(
      r.verdicts.every((v) => !v.rejected),
      JSON.stringify(r.verdicts),
    );
  });

  test('negative: other V8 flags than the caches were made with -> rejected', { skip }, async () => {
    const others = nodeFlags().includes('--max-semi-space-size=8') ? ['--max-semi-space-size=16'] : ['--max-semi-space-size=8'];
    const r = await runIn(imageDir, others);
    assert.equal(r.status, 200, r.body);
    assert.ok(r.verdicts.length === 2 && r.verdicts.every((v) => v.rejected), JSON.stringify(r.verdicts));
  });

  test('negative: an image without the SDK bundle fails its first real invocation, naming the file', { skip }, async () => {
    const files = shippedFiles(read('Dockerfile')).files.filter((f) => !f.target.startsWith('dist/oci-sdk.'));
    const dir = imageLayout(files);
    try {
      const r = await runIn(dir, imageFlags());
      assert.equal(r.status, 502, r.body);
      assert.match(r.body, /oci-sdk\.js/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
