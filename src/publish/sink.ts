/**
 * The one place that calls PostMetricData: turns SDK results and errors into a PostResult or a
 * classified PostError, so the publisher can decide about retries without knowing the SDK.
 */
import type * as monitoringT from 'oci-monitoring';
import type { OciMetric } from '../types/model';
import { withCallSignal, type ResponseSeen } from '../oci/call-signal';
import { metricsStatement } from '../oci/iam';
import { redactTokens, redactUrl, safeMessage } from '../util/redact';
import { streamKey } from '../transform/streams';

/** OCI rejected some objects of an accepted call (NON_ATOMIC); indexes refer to the batch. */
interface PostResult {
  rejected: { index: number; message: string }[];
  /**
   * Set when OCI accepted the call (2xx) but its answer could not be read: the batch counts as
   * posted and is never sent again; which objects (if any) OCI rejected is unknown.
   */
  unreadable?: string;
}

/** A call that failed as a whole. */
export class PostError extends Error {
  override name = 'PostError';
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
    readonly retryable: boolean,
    readonly opcRequestId?: string,
    /** The request was sent whole and no answer came: OCI may have stored it (sending it again may store it twice). */
    readonly answerLost = false,
  ) {
    super(message);
  }
}

/** Posts one batch; `signal` aborts the HTTP request (timeout or deadline). */
export type PostBatch = (batch: OciMetric[], signal: AbortSignal) => Promise<PostResult>;

/** What to do about a status that says the call will never work as configured; the 404 hint names the statement for the batch's namespace and compartment. */
function hintFor(status: number, batch: readonly OciMetric[], dynamicGroup: string | undefined): string | undefined {
  if (status === 401) return "not authenticated: check the function's resource principal or OCI config, and that the clock is within 5 minutes of OCI's";
  if (status !== 404) return undefined;
  const statement = metricsStatement(dynamicGroup, batch[0]?.compartmentId, batch[0]?.namespace);
  return `not authorised or not found: usually a missing IAM policy "${statement}" (new policies can take ~15 min), or a wrong COMPARTMENT_OCID`;
}

const NETWORK_HINT = "check OCI_MONITORING_ENDPOINT, and that the function's subnet reaches OCI services through a service gateway or NAT gateway";

/** The PostBatch that uses the real SDK client; `dynamicGroup` (FUNCTION_DYNAMIC_GROUP) is named in the IAM hint. */
export function sdkPostBatch(client: monitoringT.MonitoringClient, dynamicGroup?: string): PostBatch {
  return async (batch, signal) => {
    let response: monitoringT.responses.PostMetricDataResponse;
    const seen: ResponseSeen = {};
    try {
      response = await withCallSignal(
        signal,
        // A run that posts has passed checkForPosting: every object carries COMPARTMENT_OCID.
        () =>
          client.postMetricData({
            postMetricDataDetails: { metricData: batch as monitoringT.models.MetricDataDetails[], batchAtomicity: 'NON_ATOMIC' as never },
          }),
        seen,
      );
    } catch (e) {
      // A 2xx is an accepted call whatever its body (the SDK may fail reading it): sending it again would store it twice.
      if (seen.status !== undefined && seen.status >= 200 && seen.status < 300) {
        const msg = safeMessage((e as Error)?.message ?? e).slice(0, 200);
        return { rejected: [], unreadable: unreadableNote(msg.startsWith('HTTP ') ? msg : `HTTP ${seen.status}, the SDK could not read it: ${msg}`) };
      }
      throw classify(e, signal, (status) => hintFor(status, batch, dynamicGroup), seen.sent === true);
    }
    const failed = failedMetricsOf(response);
    if (typeof failed === 'string') return { rejected: [], unreadable: unreadableNote(failed) };
    return { rejected: matchRejected(batch, failed) };
  };
}

/** The message counted for the objects of an accepted call whose answer could not be read. */
function unreadableNote(cause: string): string {
  return `ingestion accepted the call but its answer could not be read (${cause}): any objects OCI rejected in it are unknown; not sent again`;
}

type FailedMetric = { message: string; metricData: { name: string; dimensions: Record<string, string> } };

/** The failedMetrics of a response, checked; a string says what is malformed about them. */
function failedMetricsOf(response: unknown): FailedMetric[] | string {
  const details = (response as { postMetricDataResponseDetails?: unknown } | undefined)?.postMetricDataResponseDetails;
  if (details === null || typeof details !== 'object') return 'the response has no postMetricDataResponseDetails object';
  const failed = (details as { failedMetrics?: unknown }).failedMetrics;
  if (failed === undefined || failed === null) return [];
  if (!Array.isArray(failed)) return `failedMetrics is ${typeof failed}, not a list`;
  for (const f of failed as unknown[]) {
    const item = f as { message?: unknown; metricData?: unknown } | null;
    if (item === null || typeof item !== 'object' || typeof item.message !== 'string') return 'failedMetrics has an entry without a message';
    if (item.metricData !== undefined && (item.metricData === null || typeof item.metricData !== 'object'))
      return 'failedMetrics has an entry whose metricData is not an object';
  }
  return failed as FailedMetric[];
}

/** Maps OCI's failedMetrics (objects echoed back) to indexes in the batch. */
function matchRejected(batch: OciMetric[], failed: FailedMetric[]): PostResult['rejected'] {
  if (failed.length === 0) return [];
  const byKey = new Map<string, number[]>();
  batch.forEach((m, i) => {
    const k = streamKey(m);
    byKey.set(k, [...(byKey.get(k) ?? []), i]);
  });
  const out: PostResult['rejected'] = [];
  const unmatched: string[] = [];
  for (const f of failed) {
    const idx = byKey.get(streamKey(f.metricData ?? {}))?.shift();
    if (idx === undefined) unmatched.push(f.message);
    else out.push({ index: idx, message: redactTokens(f.message) });
  }
  // OCI may echo an object we cannot match (e.g. normalised fields): count it against some unreported one.
  const taken = new Set(out.map((r) => r.index));
  for (let i = 0; i < batch.length && unmatched.length > 0; i++) {
    if (!taken.has(i)) out.push({ index: i, message: redactTokens(unmatched.shift()!) });
  }
  return out;
}

/** Turns an SDK error (OciError or a plain network error object) into a PostError. */
function classify(e: unknown, signal: AbortSignal | undefined, hintOf: (status: number) => string | undefined, sent = false): PostError {
  const err = (e ?? {}) as {
    statusCode?: number;
    serviceCode?: string;
    message?: string;
    opcRequestId?: string | null;
    code?: string;
    name?: string;
    requestEndpoint?: string;
  };
  const status = typeof err.statusCode === 'number' && err.statusCode > 0 ? err.statusCode : undefined;
  if (status === undefined) {
    const aborted = signal?.aborted === true;
    // The SDK drops fetch's cause (ECONNREFUSED, ENOTFOUND, ...): name the endpoint and the usual reasons instead.
    const where = err.requestEndpoint ? ` reaching ${originOf(err.requestEndpoint)}` : '';
    const reason = aborted ? abortReason(signal) : `network error${where}: ${safeMessage(err.message ?? e)} (${NETWORK_HINT})`;
    return new PostError(reason, undefined, err.code, true, undefined, sent);
  }
  // OCI's message as it may be shown: a server echoing the request's Authorization header must not put the token in the response.
  const oci = safeMessage(`${status} ${err.serviceCode ?? ''}: ${err.message ?? ''}`).trim();
  const hint = hintOf(status);
  const retryable = status === 429 || status === 409 || status >= 500;
  return new PostError(hint ? `${oci} (${hint})` : oci, status, err.serviceCode, retryable, err.opcRequestId ?? undefined);
}

/** scheme://host:port of the SDK's request endpoint (no method, path or query), or the text cut short. */
function originOf(endpoint: string): string {
  const url = /https?:\/\/\S+/.exec(endpoint)?.[0]; // the SDK writes e.g. "POST https://host/20180401/metrics"
  try {
    return new URL(url ?? endpoint).origin;
  } catch {
    return redactUrl(endpoint).slice(0, 80);
  }
}

/** Why a call's signal fired: its own timeout, or the invocation deadline. */
function abortReason(signal: AbortSignal): string {
  const r = signal.reason as { name?: string; message?: string } | undefined;
  if (r?.name === 'TimeoutError') return 'PostMetricData call timed out (POST_TIMEOUT_MS)';
  return r?.message ?? 'PostMetricData call aborted';
}
