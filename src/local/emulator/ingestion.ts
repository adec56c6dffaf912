/** Telemetry Ingestion's PostMetricData: the tenancy rate limit, the IAM stand-in, OCI's rules, the metric store. */
import type { CallRecord, EmulatorCounters } from './calls';
import { HttpFailure } from './http';
import { TenancyRateLimiter } from './rate-limit';
import type { Principal } from './signature';
import { MetricStore } from './store';
import { type RequestError, type ScopeCheck, validatePostBody } from './validation';

export const METRICS_PATH = '/20180401/metrics';

/** The options PostMetricData reads, live (they may change at run time). */
interface IngestionOptions {
  readonly rateLimitPerSecond?: number;
  readonly authorizedCompartments?: string[];
  readonly authorizedNamespaces?: string[];
  readonly maxStoredDatapoints?: number;
  readonly now: () => number;
  readonly monotonicNow: () => number;
}

/** The ingestion service of the emulator. */
export class IngestionService {
  readonly store: MetricStore;
  /** Dimension keys used per metric group (tenancy, namespace, name): kept beyond the store's bound, as OCI keeps the group. */
  private readonly groupDimensionKeys = new Map<string, Set<string>>();
  private readonly limiter = new TenancyRateLimiter();

  constructor(private readonly options: IngestionOptions) {
    this.store = new MetricStore(options.maxStoredDatapoints);
  }

  /** IAM stand-in: compartments and namespaces the caller may post to. */
  private readonly checkScope: ScopeCheck = (compartments, namespaces): RequestError | undefined => {
    const allowedC = this.options.authorizedCompartments;
    const allowedN = this.options.authorizedNamespaces;
    const deniedC = allowedC ? compartments.filter((c) => !allowedC.includes(c)) : [];
    const deniedN = allowedN ? namespaces.filter((n) => !allowedN.includes(n)) : [];
    if (deniedC.length === 0 && deniedN.length === 0) return undefined;
    return {
      status: 404,
      code: 'NotAuthorizedOrNotFound',
      message:
        'Authorization failed or requested resource not found (no policy allows posting metrics' +
        `${deniedN.length ? ` in namespace ${deniedN[0]}` : ''} to compartment ${deniedC[0] ?? compartments[0]})`,
    };
  };

  /** PostMetricData after authentication. */
  postMetricData(principal: Principal, body: Buffer, call: CallRecord, counters: EmulatorCounters): { status: number; body: unknown } {
    const { options, store, groupDimensionKeys } = this;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new HttpFailure(400, 'CannotParseRequest', 'The request body is not valid JSON');
    }
    const items = (parsed as { metricData?: unknown } | null)?.metricData;
    call.metricCount = Array.isArray(items) ? items.length : 0;
    if (!this.limiter.admit(principal.tenancyId, options.rateLimitPerSecond, options.monotonicNow())) {
      throw new HttpFailure(
        429,
        'TooManyRequests',
        `Too many requests for the tenancy (more than ${options.rateLimitPerSecond} PostMetricData calls per second)`,
      );
    }
    const groupKeys = (namespace: string, name: string) => groupDimensionKeys.get(groupId(principal.tenancyId, namespace, name));
    const result = validatePostBody(parsed, options.now(), this.checkScope, groupKeys);
    if (!result.ok) throw new HttpFailure(result.error.status, result.error.code, result.error.message);
    store.maxDatapoints = options.maxStoredDatapoints;
    store.add(result.valid);
    for (const m of result.valid) {
      const id = groupId(principal.tenancyId, m.namespace, m.name);
      const keys = groupDimensionKeys.get(id) ?? new Set<string>();
      for (const k of Object.keys(m.dimensions)) keys.add(k);
      groupDimensionKeys.set(id, keys);
    }
    call.acceptedCount = result.valid.length;
    call.failedCount = result.failed.length;
    counters.metricsAccepted += result.valid.length;
    counters.metricsFailed += result.failed.length;
    counters.datapointsAccepted += result.valid.reduce((n, m) => n + m.datapoints.length, 0);
    const response: { failedMetricsCount: number; failedMetrics?: unknown[] } = { failedMetricsCount: result.failed.length };
    if (result.failed.length > 0) response.failedMetrics = result.failed;
    return { status: 200, body: response };
  }

  /** Forget stored metrics, metric groups and rate windows. */
  reset(): void {
    this.store.clear();
    this.groupDimensionKeys.clear();
    this.limiter.clear();
  }
}

/** A metric group's identity: tenancy, namespace, name. */
function groupId(tenancyId: string, namespace: string, name: string): string {
  return JSON.stringify([tenancyId, namespace, name]);
}
