/**
 * Waiting for a condition instead of a fixed window: polls `condition` until it holds. The timeout
 * only bounds a failure and is sized far above the work, so a busy machine slows a test down but
 * never fails it.
 */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves once a simulator has served at least `n` requests (traffic that touched every route). */
export function servedAtLeast(shop: { requestsServed(): number }, n: number): Promise<void> {
  return waitUntil(() => shop.requestsServed() >= n, `${n} requests served by the simulator (served ${shop.requestsServed()})`);
}
