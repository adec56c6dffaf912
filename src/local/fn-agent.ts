/**
 * A local Fn agent: starts a function process and invokes it the way the Fn platform does
 * (http-stream format over a unix socket). Used by the tests, the CLI `invoke` command, the
 * `npm start` demo and the cold-start benchmark.
 *
 * Contract followed (the fdk-node runtime contract):
 * - a fresh socket directory per function (the platform's /tmp/iofs), FN_FORMAT=http-stream,
 *   FN_LISTENER=unix:<dir>/lsnr.sock, FN_MEMORY, FN_TYPE=sync, FN_APP_ID, FN_FN_ID, FN_APP_NAME,
 *   FN_FN_NAME plus the function's config as environment variables;
 * - ready when `lsnr.sock` is a relative symlink to a world-writable socket in the same directory
 *   (`lsnr.sock.tmp`), within 5 s by default;
 * - each call is `POST /call` with a chunked body and Fn-Call-Id, Fn-Deadline, Content-Type;
 * - one call at a time; after any status other than 200/502, a timeout or a socket error the
 *   container is considered dead and is killed (the next start is a cold start).
 *
 * Stale files: the platform never reuses a socket directory, and neither does this agent by
 * default. When a caller passes `socketDir` explicitly, leftover `lsnr.sock` / `lsnr.sock.tmp`
 * files are removed before the process starts, because the FDK itself fails on them
 * (EADDRINUSE -> exit 3 for the .tmp socket, EEXIST -> crash for the symlink).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, watch, type FSWatcher } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse as parseYaml } from 'yaml';

/** How to start one function process. */
export interface LocalFunctionOptions {
  /** Script run with `node`, e.g. `dist/func.js` (resolved against `cwd`). */
  entry: string;
  /** Function/application config: becomes environment variables, as on the platform. */
  env?: Record<string, string>;
  /** Extra node flags placed before the entry, e.g. `['--max-old-space-size=200']`. */
  nodeArgs?: string[];
  /** How long to wait for the socket symlink (the agent's default is 5 s). */
  startTimeoutMs?: number;
  /** Value of FN_MEMORY in MB (informational, not enforced). Default 128. */
  memoryMb?: number;
  appName?: string;
  fnName?: string;
  /** Working directory of the process. Default: the current directory. */
  cwd?: string;
  /** Use this socket directory instead of a fresh temporary one (stale socket files are removed first; the directory is kept on stop). */
  socketDir?: string;
  /** Inherit the whole parent environment instead of only PATH, HOME and NODE_*. Default false. */
  inheritEnv?: boolean;
  /** Called for every complete stdout/stderr line (e.g. to forward function logs). */
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  /** At most this many lines are kept in `stdout`/`stderr` (oldest dropped). Default 5000. */
  maxLogLines?: number;
  /** Time between SIGTERM and SIGKILL on stop(). Default 1000 ms. */
  killGraceMs?: number;
  /**
   * The function's timeout (s): a call without its own deadline gets Fn-Deadline = now + this, as
   * the platform sends the deployed function's timeout. Default: `timeout` of the func.yaml in the
   * entry's directory or the nearest one above it (the function's folder), else 30 s (OCI's default).
   */
  timeoutSeconds?: number;
}

/** One invocation, the local twin of `fn invoke`. */
interface InvokeOptions {
  /** Request body; an object is sent as JSON (Content-Type application/json unless given). */
  body?: string | Buffer | object;
  /** Default: application/json for objects, text/plain otherwise (like `fn invoke`). */
  contentType?: string;
  /** Sent as Fn-Deadline (RFC 3339). Default: now + the function's timeout (func.yaml's, see `timeoutSeconds`). */
  deadline?: Date;
  /** Extra caller headers, sent as given. */
  headers?: Record<string, string>;
  /** Fn-Call-Id. Default: a random id. */
  callId?: string;
  /** Give up (and kill the container, like the platform) after this long. Default: until the deadline plus 1 s. */
  timeoutMs?: number;
}

/** What came back from the function. */
export interface InvokeResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The parsed body when the response content type is JSON and it parses. */
  json?: unknown;
  durationMs: number;
  callId: string;
}

/** How the process ended. */
interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running function process. */
export interface LocalFunction {
  invoke(opts?: InvokeOptions): Promise<InvokeResult>;
  /** Kills the process group (SIGTERM, then SIGKILL after the grace) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  readonly stdout: string[];
  readonly stderr: string[];
  readonly pid: number;
  /** Milliseconds from spawn to the socket being ready. */
  readonly readyMs: number;
  /** The socket directory (the function's /tmp/iofs). */
  readonly dir: string;
  /** False once the process exited or was declared dead. */
  readonly alive: boolean;
  readonly exited: Promise<ExitInfo>;
  /** Peak resident set size of the process so far (VmHWM, bytes), or null once it is gone. */
  peakRssBytes(): number | null;
}

/** A function that failed to start; `pid` is the process that was started (and stopped). */
export class FunctionStartError extends Error {
  override name = 'FunctionStartError';
  constructor(
    message: string,
    readonly pid: number,
  ) {
    super(message);
  }
}

/** Longest wait for the stdio of a process that exited during start-up (a grandchild may hold it). */
const STDIO_DRAIN_FALLBACK_MS = 5000;
const SOCKET_NAME = 'lsnr.sock';
const DEFAULT_START_TIMEOUT_MS = 5000;
/** OCI's timeout of a function whose func.yaml sets none (s). */
const DEFAULT_TIMEOUT_SECONDS = 30;
const POLL_MS = 5;
const BODY_CHUNK = 64 * 1024;

/** Every process started here and not yet reaped, for the exit-time cleanup. */
const liveFunctions = new Set<FunctionProcess>();
let hooksInstalled = false;

/**
 * A positive whole number `key` of the func.yaml that belongs to `entry`: in its directory or the
 * nearest one above it, as `fn` finds the function's folder; undefined without one (or without the key).
 */
function funcYamlWholeNumber(entry: string, key: 'timeout' | 'memory'): number | undefined {
  for (let dir = path.dirname(path.resolve(entry)); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'func.yaml');
    if (existsSync(file)) {
      const doc: unknown = parseYaml(readFileSync(file, 'utf8'));
      const value = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)[key] : undefined;
      return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The `timeout` (s) of the func.yaml that belongs to `entry` (see funcYamlWholeNumber). */
export function funcYamlTimeoutSeconds(entry: string): number | undefined {
  return funcYamlWholeNumber(entry, 'timeout');
}

/** The `memory` (MB) of the func.yaml that belongs to `entry`: what the platform gives the deployed function as FN_MEMORY. */
export function funcYamlMemoryMb(entry: string): number | undefined {
  return funcYamlWholeNumber(entry, 'memory');
}

/** Starts a function process and resolves once its Fn socket is ready. */
export async function startFunction(opts: LocalFunctionOptions): Promise<LocalFunction> {
  installCleanupHooks();
  const ownsDir = opts.socketDir === undefined;
  const dir = ownsDir ? mkdtempSync(path.join(os.tmpdir(), 'iofs-')) : prepareSocketDir(opts.socketDir as string);
  const fnProcess = new FunctionProcess(opts, dir, ownsDir);
  try {
    await fnProcess.waitReady(opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  } catch (err) {
    await fnProcess.stop();
    throw err;
  }
  return fnProcess;
}

/** Creates a caller-chosen socket dir and removes stale socket files the FDK would choke on. */
function prepareSocketDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const name of [SOCKET_NAME, `${SOCKET_NAME}.tmp`]) rmSync(path.join(dir, name), { force: true });
  return dir;
}

/** Builds the process environment: the platform's FN_* variables over a minimal inherited base. */
function buildFunctionEnv(opts: LocalFunctionOptions, dir: string): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (opts.inheritEnv || isInheritedByDefault(k)) base[k] = v;
  }
  const id = randomBytes(12).toString('hex');
  return {
    ...base,
    ...(opts.env ?? {}),
    FN_FORMAT: 'http-stream',
    FN_LISTENER: `unix:${path.join(dir, SOCKET_NAME)}`,
    FN_MEMORY: String(opts.memoryMb ?? 128),
    FN_TYPE: 'sync',
    FN_APP_ID: `ocid1.fnapp.oc1.local.${id}`,
    FN_FN_ID: `ocid1.fnfunc.oc1.local.${id}`,
    FN_APP_NAME: opts.appName ?? 'local-app',
    FN_FN_NAME: opts.fnName ?? 'local-fn',
  };
}

/** PATH, HOME and NODE_* pass through; node's own test-runner/IPC plumbing does not (it would change the child's behaviour). */
function isInheritedByDefault(key: string): boolean {
  if (key === 'PATH' || key === 'HOME') return true;
  if (!key.startsWith('NODE_')) return false;
  return !['NODE_TEST_CONTEXT', 'NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE', 'NODE_UNIQUE_ID'].includes(key);
}

/** Checks the listener the way the agent does; returns null when not there yet, throws when wrong. */
export function checkSocketReady(dir: string): string | null {
  const link = path.join(dir, SOCKET_NAME);
  let info;
  try {
    info = lstatSync(link);
  } catch {
    return null;
  }
  if (!info.isSymbolicLink()) throw new Error(`${link} is not a symlink (the FDK links lsnr.sock -> lsnr.sock.tmp)`);
  const target = readlinkSync(link);
  if (path.isAbsolute(target) || target.includes('/')) {
    throw new Error(`${link} -> ${target}: the symlink must be relative, to a file in the same directory`);
  }
  let targetInfo;
  try {
    targetInfo = statSync(path.join(dir, target));
  } catch {
    return null; // dangling for an instant is possible only if the listener vanished; keep polling until timeout or exit
  }
  if (!targetInfo.isSocket()) throw new Error(`${link} -> ${target} is not a unix socket`);
  if ((targetInfo.mode & 0o666) !== 0o666) throw new Error(`${link} -> ${target} is not world read/writable`);
  return target;
}

/** The running process and its bookkeeping. */
class FunctionProcess implements LocalFunction {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  /** Resolves once the process's stdout and stderr have ended (every line captured). */
  private readonly stdioClosed: Promise<void>;
  readyMs = NaN;
  private readonly child: ChildProcess;
  private readonly spawnedAt: number;
  private exitInfo: ExitInfo | null = null;
  private dead = false;
  private stopping: Promise<void> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly maxLines: number;
  /** The function's timeout: the default deadline of a call. */
  private readonly timeoutSeconds: number;

  constructor(
    private readonly opts: LocalFunctionOptions,
    readonly dir: string,
    private readonly ownsDir: boolean,
  ) {
    this.maxLines = opts.maxLogLines ?? 5000;
    this.timeoutSeconds = opts.timeoutSeconds ?? funcYamlTimeoutSeconds(path.resolve(opts.cwd ?? process.cwd(), opts.entry)) ?? DEFAULT_TIMEOUT_SECONDS;
    const args = [...(opts.nodeArgs ?? []), opts.entry];
    this.spawnedAt = performance.now();
    // Own process group so stop() can kill the whole tree with one signal.
    this.child = spawn(process.execPath, args, {
      cwd: opts.cwd ?? process.cwd(),
      env: buildFunctionEnv(opts, dir),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`could not spawn ${process.execPath} ${args.join(' ')}`);
    this.pid = this.child.pid;
    liveFunctions.add(this);
    this.captureLines(this.child.stdout, 'stdout', this.stdout);
    this.captureLines(this.child.stderr, 'stderr', this.stderr);
    this.stdioClosed = new Promise((resolve) => this.child.once('close', () => resolve()));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this.dead = true;
        liveFunctions.delete(this);
        resolve(this.exitInfo);
      });
    });
    // The child stays referenced on purpose: a forgotten stop() shows up as a process that does
    // not exit (visible) rather than as awaits on `exited` silently dropped by an empty event loop.
  }

  /** True while the process runs and has not been declared dead. */
  get alive(): boolean {
    return !this.dead && this.exitInfo === null;
  }

  /** Splits a stream into lines, keeps the latest ones and forwards them. */
  private captureLines(stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr', sink: string[]): void {
    if (!stream) return;
    let partial = '';
    stream.setEncoding('utf8');
    const push = (line: string): void => {
      sink.push(line);
      if (sink.length > this.maxLines * 1.25) sink.splice(0, sink.length - this.maxLines);
      this.opts.onLine?.(name, line);
    };
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) push(line);
    });
    stream.on('end', () => {
      if (partial) push(partial);
      partial = '';
    });
  }

  /** Waits for the socket symlink; rejects with stderr when the process exits or the time runs out. */
  waitReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let watcher: FSWatcher | undefined;
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearInterval(poll);
        clearTimeout(timer);
        watcher?.close();
        if (err) reject(err);
        else {
          this.readyMs = performance.now() - this.spawnedAt;
          resolve();
        }
      };
      const check = (): void => {
        try {
          if (checkSocketReady(this.dir) !== null) finish();
        } catch (err) {
          finish(this.startError((err as Error).message));
        }
      };
      // fs.watch reacts at once (cold-start timing); polling covers missed events.
      try {
        watcher = watch(this.dir, check);
        watcher.on('error', () => undefined);
      } catch {
        watcher = undefined;
      }
      const poll = setInterval(check, POLL_MS);
      const timer = setTimeout(() => finish(this.startError(`socket not ready within ${timeoutMs} ms`)), timeoutMs);
      void this.exited.then((info) => {
        // Wait for stdout and stderr to end ('close') so the message carries the cause, however
        // slowly the pipes drain; a grandchild holding them open only delays it by the fallback.
        const report = () => finish(this.startError(`function exited during start-up (${describeExit(info)})`));
        const fallback = setTimeout(report, STDIO_DRAIN_FALLBACK_MS);
        void this.stdioClosed.then(() => {
          clearTimeout(fallback);
          report();
        });
      });
      check();
    });
  }

  /** An Error for a failed start that carries the captured stderr (and stdout tail) and the pid. */
  private startError(reason: string): FunctionStartError {
    const tail = (lines: string[]): string => lines.slice(-20).join('\n');
    return new FunctionStartError(
      `${this.opts.entry}: ${reason}` +
        (this.stderr.length ? `\n--- stderr ---\n${tail(this.stderr)}` : '') +
        (this.stdout.length ? `\n--- stdout ---\n${tail(this.stdout)}` : ''),
      this.pid,
    );
  }

  /** Sends one call; calls are queued, one at a time per container like the platform. */
  invoke(opts: InvokeOptions = {}): Promise<InvokeResult> {
    const run = this.queue.then(() => this.invokeNow(opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Performs one POST /call over the unix socket. */
  private invokeNow(opts: InvokeOptions): Promise<InvokeResult> {
    if (!this.alive) {
      const why = this.exitInfo ? `exited (${describeExit(this.exitInfo)})` : 'was declared dead';
      return Promise.reject(this.deadError(`function is not running: it ${why}`));
    }
    const callId = opts.callId ?? randomUUID();
    const deadline = opts.deadline ?? new Date(Date.now() + this.timeoutSeconds * 1000);
    const timeoutMs = opts.timeoutMs ?? Math.max(1, deadline.getTime() - Date.now() + 1000);
    const { body, contentType } = encodeBody(opts.body, opts.contentType);
    const headers: Record<string, string> = {
      ...(opts.headers ?? {}),
      Host: 'localhost',
      'Fn-Call-Id': callId,
      'Fn-Deadline': deadline.toISOString(),
      'Content-Type': contentType,
      'Transfer-Encoding': 'chunked',
    };
    const started = performance.now();
    return new Promise<InvokeResult>((resolve, reject) => {
      let done = false;
      const req = http.request({ socketPath: path.join(this.dir, SOCKET_NAME), method: 'POST', path: '/call', headers, agent: false });
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        req.destroy();
        // The platform kills a container that overruns its deadline and answers 504.
        this.markDead();
        resolve({
          status: 504,
          headers: { 'content-type': 'application/json' },
          body: '{"message":"Timed out"}',
          json: { message: 'Timed out' },
          durationMs: performance.now() - started,
          callId,
        });
      }, timeoutMs);
      const fail = (err: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.markDead();
        reject(this.deadError(`call ${callId} failed: ${err.message}`));
      };
      req.on('error', fail);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          if (status !== 200 && status !== 502) this.markDead();
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status,
            headers: { ...res.headers },
            body: text,
            json: parseJsonBody(res.headers['content-type'], text),
            durationMs: performance.now() - started,
            callId,
          });
        });
      });
      writeChunked(req, body);
    });
  }

  /** An Error for a dead container, with the stderr tail for diagnosis. */
  private deadError(reason: string): Error {
    const tail = this.stderr.slice(-20).join('\n');
    return new Error(tail ? `${reason}\n--- stderr ---\n${tail}` : reason);
  }

  /** Declares the container dead and kills it, as the agent does after a bad status or socket error. */
  private markDead(): void {
    this.dead = true;
    void this.stop();
  }

  /** Kills the process group and removes the socket directory. */
  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.stopNow();
    return this.stopping;
  }

  /** SIGTERM, then SIGKILL after the grace; resolves once the process is gone and the dir removed. */
  private async stopNow(): Promise<void> {
    this.dead = true;
    if (this.exitInfo === null) {
      signalGroup(this.pid, 'SIGTERM');
      const grace = this.opts.killGraceMs ?? 1000;
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          signalGroup(this.pid, 'SIGKILL');
          resolve();
        }, grace);
      });
      await Promise.race([this.exited, killed]);
      await this.exited;
      clearTimeout(timer);
    }
    // Children of the function (if any) share its group; make sure none outlive it.
    signalGroup(this.pid, 'SIGKILL');
    this.removeDir();
  }

  /** Removes the temp dir (ours) or just our socket files (caller's dir). */
  removeDir(): void {
    try {
      if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
      else for (const name of [SOCKET_NAME, `${SOCKET_NAME}.tmp`]) rmSync(path.join(this.dir, name), { force: true });
    } catch {
      /* best effort at shutdown */
    }
  }

  /** Synchronous last-resort cleanup for process exit. */
  killSync(): void {
    signalGroup(this.pid, 'SIGKILL');
    this.removeDir();
  }

  /** Reads VmHWM from /proc (Linux); null when the process is gone. */
  peakRssBytes(): number | null {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
      return m ? Number(m[1]) * 1024 : null;
    } catch {
      return null;
    }
  }
}

/** Sends a signal to a process group, ignoring "no such process". */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

/** Human-readable exit reason. */
function describeExit(info: ExitInfo): string {
  return info.signal ? `signal ${info.signal}` : `code ${info.code}`;
}

/** Turns the body option into bytes and a content type (fn invoke's defaults). */
function encodeBody(body: InvokeOptions['body'], contentType?: string): { body: Buffer; contentType: string } {
  if (body === undefined) return { body: Buffer.alloc(0), contentType: contentType ?? 'text/plain' };
  if (typeof body === 'string') return { body: Buffer.from(body, 'utf8'), contentType: contentType ?? 'text/plain' };
  if (Buffer.isBuffer(body)) return { body, contentType: contentType ?? 'application/octet-stream' };
  return { body: Buffer.from(JSON.stringify(body), 'utf8'), contentType: contentType ?? 'application/json' };
}

/** Writes the body in chunks (chunked transfer encoding, as the agent streams it). */
function writeChunked(req: http.ClientRequest, body: Buffer): void {
  for (let off = 0; off < body.length; off += BODY_CHUNK) req.write(body.subarray(off, off + BODY_CHUNK));
  req.end();
}

/** Parses a JSON response body; undefined when not JSON or not parseable. */
function parseJsonBody(contentType: string | undefined, text: string): unknown {
  if (!contentType || !/application\/json|\+json/i.test(contentType) || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Kills every live function when this process exits or is killed by a signal. */
function installCleanupHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const fn of liveFunctions) fn.killSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      for (const fn of liveFunctions) fn.killSync();
      // Alone on this signal: restore the default (terminate) so our hook does not swallow it.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

/** What `invokeOnce` returns: the call's result plus the cold start and the process output. */
interface ColdInvokeResult extends InvokeResult {
  /** Spawn -> socket ready, ms. */
  readyMs: number;
  stdout: string[];
  stderr: string[];
}

/** Starts the function, invokes it once and stops it (the local twin of a cold `fn invoke`). */
export async function invokeOnce(fnOpts: LocalFunctionOptions, invokeOpts: InvokeOptions = {}): Promise<ColdInvokeResult> {
  const fn = await startFunction(fnOpts);
  try {
    const result = await fn.invoke(invokeOpts);
    return { ...result, readyMs: fn.readyMs, stdout: [...fn.stdout], stderr: [...fn.stderr] };
  } finally {
    await fn.stop();
  }
}
