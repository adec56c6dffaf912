/**
 * The emulator's PostMetricData limit: N calls per sliding second per tenancy, shared by every
 * principal of that tenancy (several functions, API-key users), as OCI's limit is. The key is the
 * tenancy of the verified principal, never the signing key id.
 */

/** Per-tenancy sliding one-second windows of admitted calls. */
export class TenancyRateLimiter {
  private windows = new Map<string, number[]>();

  /** True when the call is admitted (and counted), false when it must get 429. `nowMs`: the emulator's monotonic clock. */
  admit(tenancyId: string, perSecond: number | undefined, nowMs: number): boolean {
    if (perSecond === undefined) return true;
    let window = this.windows.get(tenancyId);
    if (!window) this.windows.set(tenancyId, (window = []));
    let expired = 0;
    while (expired < window.length && nowMs - window[expired] >= 1000) expired++;
    if (expired > 0) window.splice(0, expired);
    if (window.length >= perSecond) return false;
    window.push(nowMs);
    return true;
  }

  /** Forget all windows. */
  clear(): void {
    this.windows.clear();
  }
}

/** A run of 429s no more than `gapMs` apart: how long the tenancy was pushed over its limit. */
interface ThrottleEpisode {
  startMs: number;
  endMs: number;
  count: number;
}

/** Groups 429 times into episodes (429s closer than `gapMs` belong to one). */
export function throttleEpisodes(times: number[], gapMs = 1000): ThrottleEpisode[] {
  const sorted = [...times].sort((a, b) => a - b);
  const out: ThrottleEpisode[] = [];
  for (const t of sorted) {
    const last = out[out.length - 1];
    if (last && t - last.endMs < gapMs) {
      last.endMs = t;
      last.count++;
    } else out.push({ startMs: t, endMs: t, count: 1 });
  }
  return out;
}
