/**
 * Reliability against hostile targets and edge inputs, through the real function process
 * (`dist/func.js` over the Fn socket, RP auth, the emulator): an exposition of more series than
 * the memory holds, credentials echoed back by the target, endpoints differing only in a secret,
 * an Fn-Deadline weeks ahead, many endpoints, and a METRICS_INCLUDE that backtracks forever.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSampleLimit } from '../src/config/settings';
import { FUNCTION_HEAP_ARGS_256MB } from './helpers/stack';
import { assertAccounted, capturedText, lastInvocationLog, stackAndTargetForSuite, summaryOf } from './helpers/reliability';
import type { InvokeResult } from '../src/local/fn-agent';

/** Fast publishing so the suites stay short; the emulator sets the pace. */
const FAST = { POST_CALLS_PER_SECOND: '200', POST_CONCURRENCY: '8' };
/** Deadlines far above the work (a busy 2-core machine), so only a hang can reach them. */
const GENEROUS = { deadline: () => new Date(Date.now() + 120_000) };

describe('reliability: hostile targets through the function process', () => {
  const fx = stackAndTargetForSuite();

  test(
    '400k short series (6 MB, far under the byte cap): that target is up=0 ' + 'naming SCRAPE_SAMPLE_LIMIT, the other is posted, the container lives',
    async () => {
      fx.stack.emulator.reset();
      const fn = await fx.stack.startFn(
        { METRICS_ENDPOINT: `${fx.target.url('/short?n=400000')},${fx.target.url('/ok?n=5')}`, ...FAST },
        FUNCTION_HEAP_ARGS_256MB,
        { memoryMb: 256 },
      );
      const res = await fn.invoke({ deadline: GENEROUS.deadline() });
      const s = summaryOf(res);
      assertAccounted(s, 'sample limit');
      const limit = defaultSampleLimit(256);
      const [big, ok] = s.targets;
      assert.equal(big.up, false);
      assert.equal(
        big.error,
        `more than ${limit} samples (SCRAPE_SAMPLE_LIMIT): nothing of this target was posted; filter the exposition on the target, or raise ` +
          `SCRAPE_SAMPLE_LIMIT together with the function's memory`,
      );
      assert.equal(ok.up, true);
      assert.equal(s.posted, 5);
      const ups = fx.stack.emulator.accepted.filter((m) => m.name === 'up').map((m) => [m.dimensions.instance, m.datapoints[0].value]);
      assert.deepEqual(
        new Map(ups as [string, number][]),
        new Map([
          [big.instance, 0],
          [ok.instance, 1],
        ]),
        'up=0 posted for the refused target',
      );
      assert.equal(fn.alive, true);
      // An explicit limit is applied as given.
      const small = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=11'), SCRAPE_SAMPLE_LIMIT: '10', ...FAST });
      const r2 = await small.invoke();
      assert.equal(r2.status, 502);
      assert.match((r2.json as { detail: string }).detail, /more than 10 samples \(SCRAPE_SAMPLE_LIMIT\)/);
    },
  );

  test('a target echoing the credentials back (reason phrase, Location, Content-Type, exposition line): none reaches any output', async () => {
    fx.stack.emulator.reset();
    const token = 'hostile-Tok3n/x+y=z';
    const password = 'pa/ss?w#rd@9';
    const secretId = 'ocid1.vaultsecret.oc1..aaaaaaaahostileecho';
    fx.stack.emulator.secrets.set(secretId, token);
    const routes = ['reason', 'location', 'type', 'body'].map((w) => fx.target.url(`/echo-auth/${w}`));
    const responses: InvokeResult[] = [];
    const withToken = await fx.stack.startFn({
      METRICS_ENDPOINT: [...routes, fx.target.url('/ok?n=2')].join(','),
      SCRAPE_BEARER_TOKEN_SECRET_OCID: secretId,
      ...FAST,
    });
    responses.push(await withToken.invoke());
    const s = summaryOf(responses[0]);
    assertAccounted(s, 'echoed token');
    assert.deepEqual(
      s.targets.map((t) => t.up),
      [false, false, false, false, true],
      JSON.stringify(s.targets.map((t) => t.error)),
    );
    assert.match(s.targets[0].error!, /^HTTP 500 Refused Bearer \[redacted\] \(\[redacted\]\)$/);
    assert.match(s.targets[1].error!, /redirect to a different scheme \(https:\/\/127\.0\.0\.1:1\/login\?t=\[redacted\]&auth=/);
    assert.match(s.targets[2].error!, /unsupported content type "application\/x-\[redacted\]"/);
    assert.match(s.targets[3].error!, /^invalid exposition: line 2: invalid metric type "\[redacted\]"/);
    // user:password in the URL (Basic auth), password with characters that would need encoding.
    const encoded = encodeURIComponent(password);
    const withPassword = await fx.stack.startFn({ METRICS_ENDPOINT: routes.map((r) => r.replace('http://', `http://scraper:${encoded}@`)).join(','), ...FAST });
    responses.push(await withPassword.invoke());
    assert.equal(responses[1].status, 502, 'every target down');
    const logs = await lastInvocationLog(withPassword);
    assert.equal(logs.targets.filter((t) => /\[redacted\]/.test(t.error ?? '')).length, 4, JSON.stringify(logs.targets));
    // Every byte the functions let out: responses, stdout, stderr, and what reached OCI (self-metric dimensions).
    const all = [
      capturedText(withToken, responses.slice(0, 1)),
      capturedText(withPassword, responses.slice(1)),
      JSON.stringify(fx.stack.emulator.accepted),
    ].join('\n');
    assert.ok(all.includes('[redacted]'), 'the echoes were captured');
    for (const secret of [
      token,
      encodeURIComponent(token),
      Buffer.from(token).toString('base64'),
      password,
      encoded,
      Buffer.from(`scraper:${password}`).toString('base64'),
    ]) {
      assert.equal(all.includes(secret), false, `"${secret}" leaked into the output`);
    }
  });

  test('endpoints differing only in a credential query value keep distinct identities, and the secret stays hidden', async () => {
    fx.stack.emulator.reset();
    const a = fx.target.url('/ok?n=2&access_token=first-Secret-111');
    const b = fx.target.url('/ok?n=2&access_token=second-Secret-222');
    const fn = await fx.stack.startFn({ METRICS_ENDPOINT: `${a},${b}`, ...FAST });
    const res = await fn.invoke();
    const s = summaryOf(res);
    assertAccounted(s, 'credential query');
    const [ia, ib] = s.targets.map((t) => t.instance);
    assert.notEqual(ia, ib, 'two identities');
    assert.match(ia, /^127\.0\.0\.1:\d+\/ok\?n=2&access_token=redacted#[0-9a-f]{8}$/);
    const stored = (inst: string) => fx.stack.emulator.accepted.filter((m) => m.name === 'faulty_ok_total' && m.dimensions.instance === inst).length;
    assert.equal(stored(ia), 2, "the first endpoint's series under its own instance");
    assert.equal(stored(ib), 2, "the second's under its own");
    assert.equal(s.posted, 4);
    const all = capturedText(fn, [res]) + JSON.stringify(fx.stack.emulator.accepted);
    assert.equal(all.includes('Secret-111') || all.includes('Secret-222'), false, 'no secret shown');
  });

  test("an Fn-Deadline weeks ahead is clamped to OCI's longest function timeout: the call runs normally, no timer overflows", async () => {
    fx.stack.emulator.reset();
    const fn = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok?n=4'), ...FAST });
    const res = await fn.invoke({ deadline: new Date(Date.now() + 30 * 86_400_000), timeoutMs: 120_000 });
    const s = summaryOf(res);
    assertAccounted(s, 'far deadline');
    assert.equal(s.posted, 4);
    assert.equal(s.selfMetrics.posted, 7);
    const out = capturedText(fn, [res]);
    assert.doesNotMatch(out, /TimeoutOverflowWarning/);
    assert.match(out, /the Fn-Deadline header is \d+ s ahead, more than OCI's longest function timeout \(3600 s\); using that instead/);
  });

  test('12 endpoints: no MaxListenersExceededWarning, every target posted', async () => {
    fx.stack.emulator.reset();
    const urls = Array.from({ length: 12 }, (_, i) => fx.target.url(`/ok?n=1&name=many_${i}_total`));
    const fn = await fx.stack.startFn({ METRICS_ENDPOINT: urls.join(','), ...FAST });
    const res = await fn.invoke();
    const s = summaryOf(res);
    assertAccounted(s, '12 endpoints');
    assert.equal(s.posted, 12);
    await lastInvocationLog(fn);
    assert.doesNotMatch(capturedText(fn, [res]), /MaxListenersExceeded|memory leak/);
    assert.deepEqual(
      fn.stderr.filter((l) => l.trim() !== ''),
      [],
      'nothing on raw stderr',
    );
  });

  test('a catastrophic-backtracking METRICS_INCLUDE costs linear time; patterns that cannot be run so are refused', async () => {
    fx.stack.emulator.reset();
    const name = `${'a'.repeat(40)}_total`;
    const fn = await fx.stack.startFn({
      METRICS_ENDPOINT: `${fx.target.url(`/ok?n=3&name=${name}`)},${fx.target.url('/ok?n=2&name=aaaa')}`,
      METRICS_INCLUDE: '^(a+)+$',
      ...FAST,
    });
    // Backtracking would take hours on the first name; the linear matcher answers at once.
    const res = await fn.invoke({ deadline: GENEROUS.deadline() });
    const s = summaryOf(res);
    assertAccounted(s, 'linear include');
    assert.deepEqual(s.skipped, { filtered_by_include: 3 });
    assert.equal(s.posted, 2);
    const refused = await fx.stack.startFn({ METRICS_ENDPOINT: fx.target.url('/ok'), METRICS_EXCLUDE: '^(\\w+)_\\1$' });
    const r2 = await refused.invoke();
    assert.equal(r2.status, 502);
    assert.match(
      (r2.json as { detail: string }).detail,
      /configuration error: METRICS_EXCLUDE: the regular expression .* cannot be matched in linear time \(backreferences/,
    );
  });
});
