/**
 * Reliability, the scrape bearer token from OCI Vault (the emulator's GetSecretBundle, signed with
 * RP auth), through the real function process: missing, not authorised, empty, trailing newline,
 * rotation after SECRET_CACHE_TTL_SECONDS, a failed refresh; and the token never appears in any
 * byte the function lets out (stdout, stderr, responses, errors). The cache's expiry is timed with an
 * injected clock (BearerTokenSource in-process), never by sleeping.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InvokeResult, LocalFunction } from '../src/local/fn-agent';
import { BearerTokenSource } from '../src/oci/secrets';
import { closedPort, startStack, type Stack } from './helpers/stack';
import { startFaultyTarget, type FaultyTarget } from './helpers/faulty-target';
import { assertAccounted, capturedText, summaryOf, waitForLine } from './helpers/reliability';

const secretId = (name: string) => `ocid1.vaultsecret.oc1..aaaaaaaa${name}`;
/** Every token value used below: none may ever be seen outside the scrape's Authorization header. */
const TOKENS = ['tok-Alpha-7f3c9e1d2b', 'tok-Bravo-44e1aa09c6', 'tok-Charlie-90b2d1f7e3', 'tok-Delta-1c8e5a3b70', 'tok-Echo-6d2f0b9a14'];

describe('reliability: bearer token from Vault through the function process', () => {
  let stack: Stack;
  let secured: FaultyTarget;
  let open: FaultyTarget;
  /** Every function and response, searched for the tokens at the end. */
  const seen: { fn: LocalFunction; responses: InvokeResult[] }[] = [];
  before(async () => {
    stack = await startStack();
    secured = await startFaultyTarget();
    open = await startFaultyTarget();
  });
  after(async () => {
    await stack?.close();
    await secured?.close();
    await open?.close();
  });

  /** Starts a function for a secret with the secured and the open target, recording what it prints. */
  async function fnFor(name: string, env: Record<string, string> = {}): Promise<{ invoke: () => Promise<InvokeResult>; fn: LocalFunction }> {
    const fn = await stack.startFn({
      METRICS_ENDPOINT: `${secured.url('/auth')},${open.url('/ok?n=2')}`,
      SCRAPE_BEARER_TOKEN_SECRET_OCID: secretId(name),
      ...env,
    });
    const record = { fn, responses: [] as InvokeResult[] };
    seen.push(record);
    return {
      fn,
      invoke: async () => {
        const r = await fn.invoke();
        record.responses.push(r);
        return r;
      },
    };
  }

  /** Asserts a secret problem: both targets down with the cause, up=0 posted for both, neither scraped. */
  async function assertSecretProblem(name: string, cause: RegExp): Promise<void> {
    stack.emulator.reset();
    const hitsBefore = (secured.hits.get('/auth') ?? 0) + (open.hits.get('/ok') ?? 0);
    const { invoke, fn } = await fnFor(name);
    const res = await invoke();
    assert.equal(res.status, 502, res.body);
    const detail = (res.json as { detail: string }).detail;
    assert.match(detail, /all 2 targets are down/);
    assert.match(detail, cause);
    assert.equal((secured.hits.get('/auth') ?? 0) + (open.hits.get('/ok') ?? 0), hitsBefore, 'no target is scraped without its token');
    const ups = stack.emulator.accepted.filter((m) => m.name === 'up');
    assert.deepEqual(
      ups.map((m) => m.datapoints[0].value),
      [0, 0],
      'up=0 posted for both targets',
    );
    assert.equal(fn.alive, true);
  }

  test('secret missing: every target down, the cause names the IAM statement to add', async () => {
    await assertSecretProblem('missing', /not found or not authorised .*read secret-bundles/);
  });

  test('secret not authorised (no IAM policy): same cause', async () => {
    stack.emulator.secrets.set(secretId('denied'), TOKENS[0]);
    stack.emulator.deniedSecrets.add(secretId('denied'));
    await assertSecretProblem('denied', /not found or not authorised/);
  });

  test('secret empty, only a newline, several lines or with a space: a clear error, nothing sent', async () => {
    stack.emulator.secrets.set(secretId('empty'), '');
    await assertSecretProblem('empty', /the bearer token secret is empty/);
    stack.emulator.secrets.set(secretId('newline'), '\n');
    await assertSecretProblem('newline', /the bearer token secret is empty/);
    stack.emulator.secrets.set(secretId('lines'), `${TOKENS[1]}\n${TOKENS[2]}\n`);
    await assertSecretProblem('lines', /several lines/);
    stack.emulator.secrets.set(secretId('space'), `Bearer ${TOKENS[3]}`);
    await assertSecretProblem('space', /spaces or characters that cannot be sent/);
  });

  test('a trailing newline is trimmed: the token works; it is fetched once while cached', async () => {
    stack.emulator.reset();
    stack.emulator.secrets.set(secretId('trailing'), `${TOKENS[0]}\r\n`);
    secured.token = TOKENS[0];
    const { invoke } = await fnFor('trailing');
    for (let i = 0; i < 3; i++) {
      const s = summaryOf(await invoke());
      assertAccounted(s, `trailing newline #${i}`);
      assert.deepEqual(
        s.targets.map((t) => t.up),
        [true, true],
        JSON.stringify(s.targets.map((t) => t.error)),
      );
      assert.equal(s.posted, 5);
    }
    assert.equal(stack.emulator.secretFetchCounts.get(secretId('trailing')), 1, 'cached while warm (default TTL 300 s)');
    assert.equal(secured.authSeen.filter((a) => a.path === '/auth').at(-1)!.authorization, `Bearer ${TOKENS[0]}`, 'sent exactly, without the newline');
  });

  test('a rotated secret: the cached token within SECRET_CACHE_TTL_SECONDS (a 401 that says so), read again once it expired', async () => {
    stack.emulator.reset();
    const id = secretId('rotating');
    stack.emulator.secrets.set(id, TOKENS[1]);
    secured.token = TOKENS[1];
    const { invoke } = await fnFor('rotating');
    const first = summaryOf(await invoke());
    assert.equal(first.targets[0].up, true, first.targets[0].error);
    // Rotate: Vault and the target move to the new token together.
    stack.emulator.secrets.set(id, TOKENS[2]);
    secured.token = TOKENS[2];
    const cached = summaryOf(await invoke());
    assertAccounted(cached, 'cached old token');
    assert.equal(cached.targets[0].up, false, 'still the cached token within the TTL (default 300 s)');
    assert.match(
      cached.targets[0].error!,
      /^HTTP 401 Unauthorized \(the target refused the bearer token: check the Vault secret; a rotated one is read again after SECRET_CACHE_TTL_SECONDS\)$/,
    );
    assert.equal(cached.targets[1].up, true);
    assert.equal(stack.emulator.secretFetchCounts.get(id), 1);
    // The expiry itself is timed with an injected clock (below); here a TTL of 0 makes every invocation's token expired.
    const { invoke: invokeExpired, fn } = await fnFor('rotating', { SECRET_CACHE_TTL_SECONDS: '0' });
    const rotated = summaryOf(await invokeExpired());
    assertAccounted(rotated, 'rotated');
    assert.equal(rotated.targets[0].up, true, rotated.targets[0].error);
    assert.equal(stack.emulator.secretFetchCounts.get(id), 2, 'read again once expired');
    // Vault fails on the next refresh: the previous token is reused and the log says so.
    stack.emulator.enqueueFault({ status: 500 }, 1, 'secrets');
    const stale = summaryOf(await invokeExpired());
    assert.equal(stale.targets[0].up, true, stale.targets[0].error);
    await waitForLine(fn, (l) => l.includes('"level":"warn"') && l.includes('using the previous bearer token') && l.includes('500'));
  });

  test('a Vault that never answers costs SCRAPE_TIMEOUT_MS, not the invocation: up=0 with the cause', async () => {
    stack.emulator.reset();
    stack.emulator.secrets.set(secretId('hanging'), TOKENS[3]);
    stack.emulator.enqueueFault({ hangMs: 300_000 }, 1, 'secrets');
    const { invoke, fn } = await fnFor('hanging', { SCRAPE_TIMEOUT_MS: '3000' });
    const started = Date.now();
    const res = await invoke();
    // The invocation's own deadline is 30 s away: answering well before it means the scrape timeout bounded the read.
    assert.ok(Date.now() - started < 20_000, `answered after ${Date.now() - started} ms`);
    assert.equal(res.status, 502);
    assert.match((res.json as { detail: string }).detail, /bearer token secret could not be read: OCI Vault did not answer in time/);
    assert.deepEqual(
      stack.emulator.accepted.filter((m) => m.name === 'up').map((m) => m.datapoints[0].value),
      [0, 0],
    );
    // The next invocation reads the secret again and scrapes.
    secured.token = TOKENS[3];
    const next = summaryOf(await invoke());
    assert.equal(next.targets[0].up, true, next.targets[0].error);
    assert.equal(fn.alive, true);
  });

  test('Vault unreachable: a clear cause naming OCI_SECRETS_ENDPOINT', async () => {
    stack.emulator.reset();
    const { invoke } = await fnFor('unreachable', { OCI_SECRETS_ENDPOINT: `http://127.0.0.1:${await closedPort()}` });
    const res = await invoke();
    assert.equal(res.status, 502);
    assert.match((res.json as { detail: string }).detail, /bearer token secret could not be read: network error \(fetch failed\): check OCI_SECRETS_ENDPOINT/);
  });

  test('a token with a character HTTP headers cannot carry fails that secret, never the process', async () => {
    stack.emulator.secrets.set(secretId('unicode'), `${TOKENS[4]}é`);
    await assertSecretProblem('unicode', /cannot be sent in an HTTP header/);
  });

  test('no token ever appears in any captured byte (stdout, stderr, responses, errors)', () => {
    assert.ok(seen.length >= 11, `all functions above were recorded (${seen.length})`);
    const all = seen.map(({ fn, responses }) => capturedText(fn, responses)).join('\n');
    assert.ok(all.length > 1000, 'something was captured');
    for (const token of TOKENS) {
      for (const form of [token, Buffer.from(token).toString('base64'), token.slice(4)]) {
        assert.equal(all.includes(form), false, `"${form.slice(0, 6)}..." leaked into the function's output`);
      }
    }
  });
});

describe('the bearer token cache with an injected clock', () => {
  const signal = new AbortController().signal;
  /** A source over a scripted Vault: each read answers the next step (a token, or an Error to throw). */
  function source(ttlMs: number, steps: (string | Error)[]) {
    let clock = 1_000_000;
    let reads = 0;
    const tokens = new BearerTokenSource(
      () => {
        const step = steps[reads++];
        return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
      },
      ttlMs,
      () => clock,
    );
    return { tokens, advance: (ms: number) => void (clock += ms), reads: () => reads };
  }

  test('cached for exactly the TTL: the same token one millisecond before it, read again at it', async () => {
    const { tokens, advance, reads } = source(300_000, ['tok-A', 'tok-B']);
    assert.deepEqual(await tokens.get(signal), { token: 'tok-A' });
    advance(299_999);
    assert.deepEqual(await tokens.get(signal), { token: 'tok-A' });
    assert.equal(reads(), 1);
    advance(1);
    assert.deepEqual(await tokens.get(signal), { token: 'tok-B' });
    assert.equal(reads(), 2);
  });

  test('a failed refresh reuses the previous token and says why; a first failure is an error; a TTL of 0 reads every time', async () => {
    const { tokens, advance } = source(1000, ['tok-A', new Error('HTTP 500 boom'), 'tok-C']);
    await tokens.get(signal);
    advance(1000);
    assert.deepEqual(await tokens.get(signal), { token: 'tok-A', stale: 'bearer token secret could not be read: HTTP 500 boom' });
    assert.deepEqual(await tokens.get(signal), { token: 'tok-C' }, 'the failure did not restart the TTL');
    const failing = source(1000, [new Error('Vault is down')]);
    await assert.rejects(failing.tokens.get(signal), /bearer token secret could not be read: Vault is down/);
    const uncached = source(0, ['tok-A', 'tok-B']);
    await uncached.tokens.get(signal);
    assert.deepEqual(await uncached.tokens.get(signal), { token: 'tok-B' });
    assert.equal(uncached.reads(), 2);
  });
});
