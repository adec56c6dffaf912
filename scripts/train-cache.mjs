// The code caches of the function, trained by one real invocation (used by scripts/build.mjs).
// V8 compiles a function's bytecode when it first runs, and a code cache holds only what was
// compiled when it was made. A cache made right after loading a bundle therefore leaves every
// function of the first invocation (pipeline, SDK client, signer, serialisation) to be compiled on
// the cold path. So the build starts `node <image flags> dist/func.js` with PROM2OCI_TRAIN_CACHE=1,
// invokes it once over the Fn socket exactly as the platform does, against a scrape target and an
// ingestion endpoint of its own on 127.0.0.1 (nothing leaves the machine), and the loader writes
// each bundle's cache when that process exits (after what it compiled for the call).
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Every sample kind the function maps: counter, gauge, labelled histogram and summary, untyped. */
function trainingExposition() {
  const lines = [];
  for (let f = 0; f < 6; f++) {
    lines.push(`# HELP train_requests_${f}_total Requests.`, `# TYPE train_requests_${f}_total counter`);
    for (let i = 0; i < 10; i++) lines.push(`train_requests_${f}_total{route="/r${i}",method="GET",code="200"} ${i * 7 + f}`);
    lines.push(`# TYPE train_temperature_${f} gauge`, `train_temperature_${f}{zone="z${f}"} ${20.5 + f}`);
    lines.push(`# HELP train_latency_${f}_seconds Latency.`, `# TYPE train_latency_${f}_seconds histogram`);
    for (const route of ['/a', '/b']) {
      let cumulative = 0;
      for (const le of ['0.005', '0.01', '0.1', '1', '+Inf']) {
        cumulative += 3;
        lines.push(`train_latency_${f}_seconds_bucket{route="${route}",le="${le}"} ${cumulative}`);
      }
      lines.push(`train_latency_${f}_seconds_sum{route="${route}"} 1.25`, `train_latency_${f}_seconds_count{route="${route}"} ${cumulative}`);
    }
    lines.push(`# TYPE train_rpc_${f}_seconds summary`);
    for (const q of ['0.5', '0.9', '0.99']) lines.push(`train_rpc_${f}_seconds{quantile="${q}"} 0.0${f + 1}`);
    lines.push(`train_rpc_${f}_seconds_sum 3.5`, `train_rpc_${f}_seconds_count 42`, `train_untyped_${f} ${f} 1700000000000`);
  }
  return lines.join('\n') + '\n# EOF\n';
}

/** Resource-principal files the SDK reads: a session key and an RPST (a JWT; the SDK reads its claims, OCI would verify it). */
function resourcePrincipal(dir) {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const b64 = (s) => Buffer.from(s).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const id = 'ocid1.tenancy.oc1..aaaaaaaaprom2ocitraining';
  const claims = {
    sub: id,
    iss: 'authService.oracle.com',
    aud: 'oci',
    iat: now,
    exp: now + 3600,
    ttype: 'res',
    ptype: 'resource',
    res_type: 'fnfunc',
    res_id: id,
    res_tenant: id,
    res_compartment: id,
  };
  const unsigned = `${b64(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'asw' }))}.${b64(JSON.stringify(claims))}`;
  const rpst = `${unsigned}.${sign('sha256', Buffer.from(unsigned), privateKey).toString('base64url')}`;
  writeFileSync(path.join(dir, 'rpst'), rpst);
  writeFileSync(path.join(dir, 'session.pem'), privateKey, { mode: 0o600 });
  return {
    OCI_RESOURCE_PRINCIPAL_VERSION: '2.2',
    OCI_RESOURCE_PRINCIPAL_RPST: path.join(dir, 'rpst'),
    OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM: path.join(dir, 'session.pem'),
    OCI_RESOURCE_PRINCIPAL_REGION: 'us-ashburn-1',
  };
}

/** Starts an HTTP server on 127.0.0.1 and resolves its base URL. */
function serve(handler) {
  const server = http.createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` })));
}

/** Waits for a file to exist (the FDK's socket symlink), failing after `timeoutMs`. */
async function waitFor(file, child, timeoutMs) {
  for (const started = Date.now(); !existsSync(file);) {
    if (child.exitCode !== null) throw new Error(`build: the training process exited (${child.exitCode}) before its Fn socket was ready`);
    if (Date.now() - started > timeoutMs) throw new Error(`build: the training process had no Fn socket after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** POST /call over the Fn socket; resolves status and body. */
function invoke(socketPath) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        path: '/call',
        method: 'POST',
        headers: { 'Fn-Call-Id': 'training', 'Fn-Deadline': new Date(Date.now() + 120_000).toISOString(), 'Content-Type': 'text/plain' },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end('');
  });
}

/**
 * Runs dist/func.js once with `nodeFlags` (the image's) so that it writes the trained caches on exit;
 * throws when the invocation does not post every sample (an untrained cache would pass silently).
 */
export async function trainCodeCaches(distDir, nodeFlags) {
  const dir = mkdtempSync(path.join(tmpdir(), 'prom2oci-train-'));
  const target = await serve((_req, res) => res.end(trainingExposition()));
  let posts = 0;
  const ingestion = await serve((req, res) => {
    req.resume();
    req.on('end', () => {
      posts++;
      res.setHeader('content-type', 'application/json');
      res.setHeader('opc-request-id', `training-${posts}`);
      res.end('{"failedMetricsCount":0}');
    });
  });
  const listener = path.join(dir, 'lsnr.sock');
  const child = spawn(process.execPath, [...nodeFlags, path.join(distDir, 'func.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_OPTIONS: '', // V8 flags from elsewhere would make a cache the image rejects
      PROM2OCI_TRAIN_CACHE: '1',
      FN_FORMAT: 'http-stream',
      FN_LISTENER: `unix:${listener}`,
      FN_MEMORY: '256',
      FN_TYPE: 'sync',
      ...resourcePrincipal(dir),
      METRICS_ENDPOINT: `${target.url}/metrics`,
      OCI_MONITORING_ENDPOINT: ingestion.url,
      COMPARTMENT_OCID: 'ocid1.compartment.oc1..aaaaaaaaprom2ocitraining',
      POST_CALLS_PER_SECOND: '50',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const output = [];
  child.stdout.on('data', (c) => output.push(c));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    await waitFor(listener, child, 60_000);
    const res = await invoke(listener);
    const summary = JSON.parse(res.body);
    if (res.status !== 200 || !summary.ok || !(summary.posted > 0) || summary.posted !== summary.series) {
      throw new Error(`build: the training invocation did not post every sample (${res.status}): ${res.body.slice(0, 400)}`);
    }
    child.kill('SIGTERM');
    const end = await exited;
    if (end.code !== 0) throw new Error(`build: the training process ended with ${end.code ?? end.signal}, caches not written`);
    return { posted: summary.posted, calls: posts };
  } catch (e) {
    if (child.exitCode === null) child.kill('SIGKILL');
    process.stderr.write(Buffer.concat(output).toString('utf8').slice(-2000));
    throw e;
  } finally {
    target.server.close();
    ingestion.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
