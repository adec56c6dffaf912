/** What the emulator saw: one record per request (bounded) and running counters, both cleared by reset(). */
import type { AuthKind } from './signature';

/** Which API a request was for ('discovery': the simulated fleet's Compute, VCN and Identity calls). */
export type Route = 'metrics' | 'secrets' | 'objectstorage' | 'discovery' | 'other';

/** One request as the emulator saw it. */
export interface CallRecord {
  /** Emulator clock (ms) when the request arrived. */
  time: number;
  method: string;
  path: string;
  route: Route;
  /** HTTP status sent; 0 when the connection was reset or hung up without a response. */
  status: number;
  /** OCI error code of an error response. */
  code?: string;
  authKind: AuthKind;
  /** Tenancy of the verified principal (the rate limit's key). */
  tenancyId?: string;
  /** The verified principal itself (resource id or user id): tells clients of one tenancy apart. */
  subjectId?: string;
  /** Number of items in metricData (0 when the body could not be read). */
  metricCount: number;
  acceptedCount: number;
  failedCount: number;
  durationMs: number;
  requestId: string;
  /** Set when an injected fault answered this call. */
  fault?: 'status' | 'reset' | 'hang' | 'body' | 'lost_answer';
  /** Secret id of a GetSecretBundle call. */
  secretId?: string;
}

/** Running totals since start or the last reset(). */
export interface EmulatorCounters {
  calls: number;
  postMetricData: number;
  secretFetches: number;
  /** HTTP status -> count ("0" = reset/hung connections). */
  byStatus: Record<string, number>;
  throttled: number;
  faults: number;
  metricsAccepted: number;
  metricsFailed: number;
  datapointsAccepted: number;
}

/** Fresh zeroed counters. */
function newCounters(): EmulatorCounters {
  return { calls: 0, postMetricData: 0, secretFetches: 0, byStatus: {}, throttled: 0, faults: 0, metricsAccepted: 0, metricsFailed: 0, datapointsAccepted: 0 };
}

/** The call records and counters, with the generation that keeps calls begun before a reset() out of them. */
export class CallLog {
  readonly calls: CallRecord[] = [];
  counters = newCounters();
  /** Bumped by reset(): calls that began earlier are not recorded. */
  generation = 0;

  constructor(
    /** The emulator's live options: read at each call. */
    private readonly options: { readonly maxCallRecords: number; readonly log?: (entry: Record<string, unknown>) => void },
    /** How a secret's path is shown in the log (never the secret id). */
    private readonly secretPathShown: string,
  ) {}

  /** Keep a bounded record of a finished call and update the counters. */
  record(call: CallRecord, callGeneration: number): void {
    // A call that began before reset() (e.g. a hung one) must not leak into the next test's records.
    if (callGeneration !== this.generation) return;
    const { calls, counters } = this;
    calls.push(call);
    if (calls.length > this.options.maxCallRecords) calls.splice(0, calls.length - this.options.maxCallRecords);
    counters.calls++;
    counters.byStatus[String(call.status)] = (counters.byStatus[String(call.status)] ?? 0) + 1;
    if (call.status === 429) counters.throttled++;
    if (call.fault) counters.faults++;
    if (call.route === 'metrics') counters.postMetricData++;
    if (call.route === 'secrets') counters.secretFetches++;
    this.options.log?.({
      event: 'emulator_call',
      method: call.method,
      path: call.route === 'secrets' ? this.secretPathShown : call.path,
      status: call.status,
      code: call.code,
      authKind: call.authKind,
      metrics: call.metricCount,
      accepted: call.acceptedCount,
      failed: call.failedCount,
      durationMs: call.durationMs,
      fault: call.fault,
    });
  }

  /** Forget the records and counters; calls still in flight will not be recorded. */
  reset(): void {
    this.generation++;
    this.calls.length = 0;
    this.counters = newCounters();
  }
}
