/**
 * A Prometheus configuration file in the real function process (SCRAPE_CONFIG): a job's credentials
 * read from the OCI Vault twin (bearer token and basic auth, `oci-vault://<secret OCID>`), never
 * shown; a missing secret fails only that job's target, naming the IAM statement; a file whose
 * relabelling drops every target is the run's named cause, not a silent empty run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { summaryOf } from './helpers/reliability';
import { startStack, type Stack } from './helpers/stack';

const TOKEN = 'tok-3f9a1c-very-secret';
const PASSWORD = 'pw-7d2e-also-secret';
const secretOf = (name: string) => `ocid1.vaultsecret.oc1.iad.amaaaaaa${name}`;

describe('SCRAPE_CONFIG in the function: credentials from OCI Vault, an empty run named', () => {
  let stack: Stack;
  let server: Server;
  let host = '';
  const seen: string[] = [];

  before(async () => {
    stack = await startStack();
    stack.emulator.secrets.set(secretOf('bearer'), TOKEN);
    stack.emulator.secrets.set(secretOf('basic'), `${PASSWORD}\n`);
    server = createServer((req, res) => {
      const auth = req.headers.authorization ?? '';
      seen.push(`${req.url} ${auth}`);
      const ok =
        (req.url === '/bearer' && auth === `Bearer ${TOKEN}`) ||
        (req.url === '/basic' && auth === `Basic ${Buffer.from(`prom:${PASSWORD}`).toString('base64')}`);
      res.writeHead(ok ? 200 : 401, { 'content-type': 'text/plain' });
      res.end(ok ? `# TYPE hits counter\nhits{path="${req.url}"} 1\n` : 'no');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await stack.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('bearer and basic auth from Vault; a missing secret fails its target only, with the IAM statement', { timeout: 120_000 }, async () => {
    const config = `scrape_configs:
  - job_name: bearer
    metrics_path: /bearer
    authorization: { credentials: 'oci-vault://${secretOf('bearer')}' }
    static_configs: [{ targets: ['${host}'] }]
  - job_name: basic
    metrics_path: /basic
    basic_auth: { username: prom, password_file: 'oci-vault://${secretOf('basic')}' }
    static_configs: [{ targets: ['${host}'] }]
  - job_name: missing
    metrics_path: /bearer
    bearer_token_file: 'oci-vault://${secretOf('missing')}'
    static_configs: [{ targets: ['${host}'] }]
`;
    const fn = await stack.startFn({ SCRAPE_CONFIG: config, DRY_RUN: 'true' });
    const res = await fn.invoke();
    const s = summaryOf(res);
    const byPath = Object.fromEntries(s.targets.map((t) => [new URL(t.url).pathname + (t.error ? ' error' : ''), t]));
    assert.equal(byPath['/bearer']?.up, true, JSON.stringify(s.targets));
    assert.equal(byPath['/basic']?.up, true, JSON.stringify(s.targets));
    const missing = s.targets.find((t) => !t.up);
    assert.match(
      missing?.error ?? '',
      /secret ocid1\.vaultsecret\.oc1\.iad\.amaaaaaamissing not found or not authorised \(needs "Allow dynamic-group .* to read secret-bundles/,
    );
    const hits = (s.metricData ?? []).filter((m) => m.name === 'hits').map((m) => `${m.dimensions.job} ${m.dimensions.path}`);
    assert.deepEqual(hits.sort(), ['basic /basic', 'bearer /bearer']);
    assert.ok(!res.body.includes(TOKEN) && !res.body.includes(PASSWORD), 'no secret in the response');
    assert.ok(!seen.some((l) => l.startsWith('/bearer Bearer ') && !l.endsWith(TOKEN)), 'only the right token was sent');
    await fn.stop();
  });

  test('relabelling that drops every target: the invocation fails with that cause', { timeout: 120_000 }, async () => {
    const config = `scrape_configs:
  - job_name: gone
    static_configs: [{ targets: ['${host}', '127.0.0.1:1'] }]
    relabel_configs:
      - { source_labels: [__address__], regex: '.*', action: drop }
`;
    const before = seen.length;
    const fn = await stack.startFn({ SCRAPE_CONFIG: config, DRY_RUN: 'true' });
    const res = await fn.invoke();
    assert.notEqual(res.status, 200);
    const detail = (JSON.parse(res.body) as { detail?: string }).detail ?? res.body;
    assert.match(detail, /no targets: relabel_configs dropped every target of the configuration \(job "gone": 2 dropped\)/);
    assert.equal(seen.length, before, 'no target requested');
    await fn.stop();
  });

  test('a YAML error names the setting, the line and the column, and never crashes the process', { timeout: 120_000 }, async () => {
    const fn = await stack.startFn({
      SCRAPE_CONFIG: 'scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [x:1]\n  - job_name: b\n',
      DRY_RUN: 'true',
    });
    const res = await fn.invoke();
    assert.notEqual(res.status, 200);
    assert.match(res.body, /SCRAPE_CONFIG: line \d+, column \d+: invalid YAML/);
    assert.doesNotMatch(res.body, /\n\s+at /);
    const again = await fn.invoke();
    assert.match(again.body, /SCRAPE_CONFIG: line \d+, column \d+: invalid YAML/, 'the process is still up');
    await fn.stop();
  });
});
