/**
 * The local Fn agent against a real FDK function (test/fixtures/echo-func.js, @fnproject/fdk 0.0.76).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitUntil } from './helpers/wait';
import {
  checkSocketReady,
  FunctionStartError,
  funcYamlMemoryMb,
  funcYamlTimeoutSeconds,
  invokeOnce,
  startFunction,
  type LocalFunction,
} from '../src/local/fn-agent';

const ECHO = path.join(__dirname, 'fixtures', 'echo-func.js');

/** Shape of the echo fixture's answer. */
interface Echo {
  input: unknown;
  contentType: string | null;
  headers: Record<string, string[]>;
  callID: string;
  deadline: string | null;
  config: Record<string, string>;
  appName: string;
  fnName: string;
  appID: string;
  fnID: string;
  memory: number;
  pid: number;
}

/** True while the pid is a live (non-zombie) process. */
function isRunning(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** Polls until the pid is gone (or fails after the timeout). */
async function waitGone(pid: number, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > end) assert.fail(`process ${pid} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts the echo fixture and guarantees stop() after the test. */
async function startEcho(t: { after: (fn: () => Promise<void>) => void }, extra: Partial<Parameters<typeof startFunction>[0]> = {}): Promise<LocalFunction> {
  const fn = await startFunction({ entry: ECHO, ...extra });
  t.after(() => fn.stop());
  return fn;
}

/** Writes a throwaway script and returns its path. */
function script(t: { after: (fn: () => void) => void }, source: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fnlocal-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'entry.js');
  writeFileSync(file, source);
  return file;
}

test('start: the socket is a relative symlink lsnr.sock -> lsnr.sock.tmp, world-writable, ready in time', async (t) => {
  const fn = await startEcho(t);
  assert.ok(fn.readyMs > 0 && fn.readyMs < 5000, `readyMs=${fn.readyMs}`);
  assert.ok(fn.alive);
  const link = path.join(fn.dir, 'lsnr.sock');
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal(readlinkSync(link), 'lsnr.sock.tmp');
  const target = lstatSync(path.join(fn.dir, 'lsnr.sock.tmp'));
  assert.ok(target.isSocket());
  assert.equal(target.mode & 0o666, 0o666);
  // Written before the socket listens, but its pipe can be read after the socket is seen ready.
  await waitUntil(() => fn.stdout.length > 0, "the function's first stdout line");
  assert.match(fn.stdout[0] ?? '', /echo-func starting/);
  assert.ok(fn.peakRssBytes()! > 1024 * 1024, 'VmHWM readable');
});

test('invoke: JSON body, Fn headers, caller headers and FDK response headers', async (t) => {
  const fn = await startEcho(t, { appName: 'app1', fnName: 'fn1', memoryMb: 256 });
  const res = await fn.invoke({ body: { dryRun: true, n: 1 }, callId: 'call-123', headers: { 'X-Caller': 'yes' } });
  assert.equal(res.status, 200);
  assert.equal(res.callId, 'call-123');
  assert.match(String(res.headers['fn-fdk-version']), /^fdk-node\/0\.0\.76/);
  assert.match(String(res.headers['fn-fdk-runtime']), /^node\//);
  assert.match(String(res.headers['content-type']), /application\/json/);
  const echo = res.json as Echo;
  assert.deepEqual(echo.input, { dryRun: true, n: 1 });
  assert.equal(echo.contentType, 'application/json');
  assert.equal(echo.callID, 'call-123');
  assert.deepEqual(echo.headers['Fn-Call-Id'], ['call-123']);
  assert.deepEqual(echo.headers['X-Caller'], ['yes']);
  assert.equal(echo.headers['Transfer-Encoding'], undefined, 'the FDK strips hop-by-hop headers');
  assert.equal(echo.appName, 'app1');
  assert.equal(echo.fnName, 'fn1');
  assert.equal(echo.memory, 256);
  assert.match(echo.appID, /^ocid1\.fnapp\./);
  assert.match(echo.fnID, /^ocid1\.fnfunc\./);
  // The function's log lines travel on pipes that can be read after its answer: awaited, not sampled.
  await waitUntil(() => fn.stdout.some((l) => l.includes('call-123')), 'the stdout line of call-123');
  await waitUntil(() => fn.stderr.some((l) => l.includes('stderr line for call-123')), 'the stderr line of call-123');
});

test('wire format: POST /call, chunked body, Fn headers (seen by a raw socket server)', async (t) => {
  // A stand-in for the FDK that follows the same listener protocol and echoes the raw request bytes.
  const raw = script(
    t,
    `
    const fs = require('fs'), net = require('net'), path = require('path');
    const file = process.env.FN_LISTENER.slice('unix:'.length);
    const tmp = file + '.tmp';
    const server = net.createServer((sock) => {
      let seen = '';
      sock.on('data', (d) => {
        seen += d.toString('latin1');
        if (!seen.includes('\\r\\n0\\r\\n\\r\\n')) return;
        const body = Buffer.from(seen, 'latin1');
        sock.end('HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: ' + body.length + '\\r\\n\\r\\n' + seen);
      });
    });
    server.listen(tmp, () => { fs.chmodSync(tmp, 0o666); fs.symlinkSync(path.basename(tmp), file); });
  `,
  );
  const fn = await startFunction({ entry: raw });
  t.after(() => fn.stop());
  const deadline = new Date(Date.now() + 5000);
  const res = await fn.invoke({ body: { a: 1 }, callId: 'wire-1', deadline, headers: { 'X-Extra': 'v' } });
  assert.equal(res.status, 200);
  assert.equal(res.json, undefined, 'text/plain is not parsed');
  const req = res.body;
  assert.match(req, /^POST \/call HTTP\/1\.1\r\n/);
  assert.match(req, /\r\nTransfer-Encoding: chunked\r\n/i);
  assert.match(req, /\r\nFn-Call-Id: wire-1\r\n/);
  assert.match(req, new RegExp(`\\r\\nFn-Deadline: ${deadline.toISOString().replace(/\./g, '\\.')}\\r\\n`));
  assert.match(req, /\r\nContent-Type: application\/json\r\n/);
  assert.match(req, /\r\nX-Extra: v\r\n/);
  assert.doesNotMatch(req, /Content-Length/i);
  assert.match(req, /\r\n\r\n7\r\n\{"a":1\}\r\n0\r\n\r\n$/);
});

test('invoke: string and Buffer bodies, empty body, large body', async (t) => {
  const fn = await startEcho(t);
  const text = await fn.invoke({ body: 'hello world' });
  assert.equal((text.json as Echo).input, 'hello world');
  assert.equal((text.json as Echo).contentType, 'text/plain', 'fn invoke default content type');
  const empty = await fn.invoke();
  assert.equal((empty.json as Echo).input, '', 'json mode turns an empty body into ""');
  const jsonText = await fn.invoke({ body: '{"a":2}', contentType: 'application/json' });
  assert.deepEqual((jsonText.json as Echo).input, { a: 2 });
  const big = 'x'.repeat(300_000);
  const large = await fn.invoke({ body: big });
  assert.equal(((large.json as Echo).input as string).length, big.length);

  const bufFn = await startEcho(t, { env: { ECHO_INPUT_MODE: 'buffer' } });
  const bytes = Buffer.from([0, 1, 2, 255]);
  const buf = await bufFn.invoke({ body: bytes });
  assert.deepEqual((buf.json as Echo).input, { buffer: bytes.toString('base64') });
  assert.equal((buf.json as Echo).contentType, 'application/octet-stream');
});

test("invoke: Fn-Deadline reaches ctx.deadline; the default is now + the timeout of the function's func.yaml", async (t) => {
  const fn = await startEcho(t);
  const deadline = new Date(Date.now() + 12_345);
  const res = await fn.invoke({ body: {}, deadline });
  assert.equal((res.json as Echo).deadline, deadline.toISOString());
  assert.deepEqual((res.json as Echo).headers['Fn-Deadline'], [deadline.toISOString()]);
  // The echo fixture lives in this repository: the func.yaml above it is the function's.
  const yamlTimeout = Number(/^timeout:\s*(\d+)\s*$/m.exec(readFileSync(path.join(__dirname, '..', 'func.yaml'), 'utf8'))![1]);
  assert.ok(yamlTimeout > 30, `func.yaml's timeout ${yamlTimeout} differs from the 30 s the agent sent before`);
  const before = Date.now();
  const dflt = await fn.invoke({ body: {} });
  const got = Date.parse((dflt.json as Echo).deadline!);
  assert.ok(got >= before + (yamlTimeout - 1) * 1000 && got <= Date.now() + (yamlTimeout + 1) * 1000, `default deadline ${(dflt.json as Echo).deadline}`);
});

test("funcYamlTimeoutSeconds: the func.yaml in the entry's directory or the nearest above it; none -> undefined (the agent then sends 30 s)", (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fnyaml-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'fn', 'dist'), { recursive: true });
  writeFileSync(path.join(dir, 'fn', 'func.yaml'), 'schema_version: 20180708\nname: x\nversion: 0.0.1\ntimeout: 45\n');
  assert.equal(funcYamlTimeoutSeconds(path.join(dir, 'fn', 'dist', 'func.js')), 45);
  writeFileSync(path.join(dir, 'fn', 'dist', 'func.yaml'), 'name: y\n');
  assert.equal(funcYamlTimeoutSeconds(path.join(dir, 'fn', 'dist', 'func.js')), undefined, 'the nearest func.yaml sets no timeout');
  assert.equal(funcYamlTimeoutSeconds(path.join(os.tmpdir(), 'no-such-dir-fnyaml', 'func.js')), undefined);
});

test("funcYamlMemoryMb: the func.yaml's memory, as the platform gives it (FN_MEMORY); the repository's is 256", (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fnyaml-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'func.yaml'), 'name: x\nmemory: 512\ntimeout: 45\n');
  assert.equal(funcYamlMemoryMb(path.join(dir, 'func.js')), 512);
  writeFileSync(path.join(dir, 'func.yaml'), 'name: x\nmemory: lots\n');
  assert.equal(funcYamlMemoryMb(path.join(dir, 'func.js')), undefined, 'not a whole number');
  assert.equal(funcYamlMemoryMb(path.resolve('dist/func.js')), 256);
});

test('config: env reaches ctx.config with the FN_* variables; the parent env does not leak', async (t) => {
  process.env.FNLOCAL_TEST_PARENT_ONLY = 'parent';
  t.after(() => delete process.env.FNLOCAL_TEST_PARENT_ONLY);
  const fn = await startEcho(t, { env: { METRICS_ENDPOINT: 'http://127.0.0.1:9/metrics', METRICS_NAMESPACE: 'bharatmart' } });
  const cfg = ((await fn.invoke({ body: {} })).json as Echo).config;
  assert.equal(cfg.METRICS_ENDPOINT, 'http://127.0.0.1:9/metrics');
  assert.equal(cfg.METRICS_NAMESPACE, 'bharatmart');
  assert.equal(cfg.FN_FORMAT, 'http-stream');
  assert.equal(cfg.FN_LISTENER, `unix:${path.join(fn.dir, 'lsnr.sock')}`);
  assert.equal(cfg.FN_TYPE, 'sync');
  assert.equal(cfg.FN_MEMORY, '128');
  assert.ok(cfg.PATH, 'PATH is inherited');
  assert.equal(cfg.FNLOCAL_TEST_PARENT_ONLY, undefined, 'only PATH, HOME and NODE_* are inherited');
  assert.equal(cfg.NODE_TEST_CONTEXT, undefined, "the test runner's plumbing is not inherited");

  const inheriting = await startEcho(t, { inheritEnv: true });
  const cfg2 = ((await inheriting.invoke({ body: {} })).json as Echo).config;
  assert.equal(cfg2.FNLOCAL_TEST_PARENT_ONLY, 'parent');
});

test('a throwing handler answers 502 with the FDK message; the container is kept (like the agent)', async (t) => {
  const fn = await startEcho(t);
  const res = await fn.invoke({ body: { action: 'throw', message: 'metrics endpoint down' } });
  assert.equal(res.status, 502);
  assert.deepEqual(res.json, { message: 'Exception in function, consult logs for details', detail: 'Error: metrics endpoint down' });
  assert.ok(fn.alive, '502 keeps the container');
  const next = await fn.invoke({ body: 'again' });
  assert.equal(next.status, 200);
  assert.equal((next.json as Echo).pid, fn.pid, 'same warm container');
});

test('a crashing function is a socket error: the call rejects, the container is dead', async (t) => {
  const fn = await startEcho(t);
  await assert.rejects(fn.invoke({ body: { action: 'exit', code: 7 } }), /failed/);
  assert.equal(fn.alive, false);
  const info = await fn.exited;
  assert.equal(info.code, 7);
  await assert.rejects(fn.invoke({ body: {} }), /not running/);
});

test('a call past its timeout answers 504 and the container is killed', async (t) => {
  const fn = await startEcho(t);
  const res = await fn.invoke({ body: { action: 'sleep', ms: 5000 }, timeoutMs: 300 });
  assert.equal(res.status, 504);
  assert.equal(fn.alive, false);
  const info = await fn.exited;
  assert.ok(info.signal === 'SIGTERM' || info.signal === 'SIGKILL', `killed, got ${JSON.stringify(info)}`);
});

test('calls are serialised, one at a time per container', async (t) => {
  const fn = await startEcho(t);
  const order: string[] = [];
  const slow = fn.invoke({ body: { action: 'sleep', ms: 300 } }).then(() => order.push('slow'));
  const fast = fn.invoke({ body: 'fast' }).then(() => order.push('fast'));
  await Promise.all([slow, fast]);
  assert.deepEqual(order, ['slow', 'fast']);
});

test('start failures carry the stderr; nothing is left running', async (t) => {
  const crashing = script(t, "console.error('cannot load settings: METRICS_ENDPOINT missing'); process.exit(4);");
  await assert.rejects(startFunction({ entry: crashing }), (err: Error) => {
    assert.match(err.message, /exited during start-up \(code 4\)/);
    assert.match(err.message, /METRICS_ENDPOINT missing/);
    return true;
  });

  // The pid comes with the error: the process may not even have printed anything in 300 ms on a busy machine.
  const silent = script(t, 'setInterval(() => {}, 1000);');
  let pid = 0;
  await assert.rejects(startFunction({ entry: silent, startTimeoutMs: 300 }), (err: Error) => {
    assert.ok(err instanceof FunctionStartError);
    assert.match(err.message, /socket not ready within 300 ms/);
    pid = err.pid;
    return true;
  });
  assert.ok(pid > 0);
  await waitGone(pid);

  // The FDK itself exits 2 when FN_FORMAT is wrong; the agent always sets it, so override via a wrapper.
  const wrongFormat = script(t, `process.env.FN_FORMAT = 'json'; require(${JSON.stringify(require.resolve('@fnproject/fdk'))}).handle(() => 1);`);
  await assert.rejects(startFunction({ entry: wrongFormat }), /code 2[\s\S]*http-stream/);
});

test('symlink check: absolute or non-socket targets are rejected like the agent does', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fnlocal-link-'));
  try {
    assert.equal(checkSocketReady(dir), null, 'nothing yet');
    writeFileSync(path.join(dir, 'lsnr.sock.tmp'), 'not a socket');
    symlinkSync(path.join(dir, 'lsnr.sock.tmp'), path.join(dir, 'lsnr.sock'));
    assert.throws(() => checkSocketReady(dir), /must be relative/);
    rmSync(path.join(dir, 'lsnr.sock'));
    symlinkSync('lsnr.sock.tmp', path.join(dir, 'lsnr.sock'));
    assert.throws(() => checkSocketReady(dir), /not a unix socket/);
    rmSync(path.join(dir, 'lsnr.sock'));
    writeFileSync(path.join(dir, 'lsnr.sock'), 'plain file');
    assert.throws(() => checkSocketReady(dir), /not a symlink/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stale lsnr.sock files: the FDK fails on them, the agent removes them first', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fnlocal-stale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Leave behind what a killed container leaves: the socket file and the symlink.
  const first = await startFunction({ entry: ECHO, socketDir: dir });
  process.kill(-first.pid, 'SIGKILL');
  await first.exited;
  assert.ok(lstatSync(path.join(dir, 'lsnr.sock')).isSymbolicLink(), 'stale symlink left behind');
  assert.ok(lstatSync(path.join(dir, 'lsnr.sock.tmp')).isSocket(), 'stale socket left behind');

  // The FDK started by hand on that directory dies (EADDRINUSE on lsnr.sock.tmp -> exit 3).
  const raw = spawn(process.execPath, [ECHO], {
    env: { PATH: process.env.PATH ?? '', FN_FORMAT: 'http-stream', FN_LISTENER: `unix:${path.join(dir, 'lsnr.sock')}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let rawErr = '';
  raw.stderr.on('data', (d: Buffer) => (rawErr += d.toString()));
  const rawCode = await new Promise<number | null>((r) => raw.on('exit', (code) => r(code)));
  assert.equal(rawCode, 3, rawErr);
  assert.match(rawErr, /EADDRINUSE/);

  // The agent clears the stale files and starts normally in the same directory.
  const second = await startFunction({ entry: ECHO, socketDir: dir });
  t.after(() => second.stop());
  assert.equal((await second.invoke({ body: 'ok' })).status, 200);
  await second.stop();
  assert.ok(existsSync(dir), "a caller's socketDir is kept");
  assert.ok(!existsSync(path.join(dir, 'lsnr.sock')) && !existsSync(path.join(dir, 'lsnr.sock.tmp')), 'socket files removed on stop');
});

test('stop(): kills the function and its children, removes the temp dir, is idempotent', async () => {
  const fn = await startFunction({ entry: ECHO, killGraceMs: 300 });
  const res = await fn.invoke({ body: { action: 'spawn-child' } });
  const childPid = (res.json as { childPid: number }).childPid;
  assert.ok(isRunning(fn.pid) && isRunning(childPid));
  await fn.stop();
  await fn.stop();
  await waitGone(fn.pid);
  await waitGone(childPid);
  assert.equal(existsSync(fn.dir), false, 'temp dir removed');
  assert.equal(fn.alive, false);
});

test('a parent that exits without stop() still leaves no function running', async () => {
  // A child node process starts a function and exits; the exit hook must kill it.
  const agentPath = path.join(__dirname, '..', 'src', 'local', 'fn-agent.ts');
  const code = `
    const { startFunction } = require(${JSON.stringify(agentPath)});
    startFunction({ entry: ${JSON.stringify(ECHO)} }).then((fn) => { console.log(JSON.stringify({ pid: fn.pid, dir: fn.dir })); process.exit(0); });
  `;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fnlocal-exit-'));
  const file = path.join(dir, 'parent.js');
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, code);
  try {
    const parent = spawn(process.execPath, ['--import', 'tsx', file], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    });
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => parent.on('exit', r));
    const info = JSON.parse(out.trim()) as { pid: number; dir: string };
    await waitGone(info.pid);
    assert.equal(existsSync(info.dir), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('invokeOnce: a cold start, one call, then nothing left behind', async () => {
  const res = await invokeOnce({ entry: ECHO, env: { K: 'v' } }, { body: { once: true } });
  assert.equal(res.status, 200);
  assert.deepEqual((res.json as Echo).input, { once: true });
  assert.equal((res.json as Echo).config.K, 'v');
  assert.ok(res.readyMs > 0);
  assert.ok(res.stdout.some((l) => l.includes('echo-func starting')));
  await waitGone((res.json as Echo).pid);
});

test('a parent killed by SIGTERM (no handler of its own) takes its functions down and still dies by the signal', async () => {
  const agentPath = path.join(__dirname, '..', 'src', 'local', 'fn-agent.ts');
  const code = `
    const { startFunction } = require(${JSON.stringify(agentPath)});
    startFunction({ entry: ${JSON.stringify(ECHO)} }).then((fn) => { console.log(JSON.stringify({ pid: fn.pid, dir: fn.dir })); });
  `;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fnlocal-sig-'));
  const file = path.join(dir, 'parent.js');
  writeFileSync(file, code);
  try {
    const parent = spawn(process.execPath, ['--import', 'tsx', file], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    });
    const exit = new Promise<{ code: number | null; signal: string | null }>((r) => parent.on('exit', (code, signal) => r({ code, signal })));
    const line = await new Promise<string>((resolve) => {
      let out = '';
      parent.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
    });
    const info = JSON.parse(line) as { pid: number; dir: string };
    assert.ok(isRunning(info.pid));
    parent.kill('SIGTERM');
    assert.deepEqual(await exit, { code: null, signal: 'SIGTERM' });
    await waitGone(info.pid);
    assert.equal(existsSync(info.dir), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
