/** Injected faults (per API, matched by path and query) and the sleeps they and the latency setting make. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallRecord, Route } from './calls';
import { sendJson } from './http';

/** A fault injected into the next matching calls; `match` limits it to calls whose path and query match. */
export type Fault =
  /** An OCI error; `echoAuthorization` appends the request's Authorization header to its message, as a careless server or proxy might. */
  (
    | { status: number; code?: string; message?: string; echoAuthorization?: true }
    | { reset: true }
    | { hangMs: number }
    /** The call is processed (and its metrics stored) as usual; its 2xx response carries this body instead. */
    | { acceptedBody: string }
    /** The call is processed (its metrics or object stored) as usual; then the connection is reset before the answer: a lost answer. */
    | { lostAnswer: true }
  ) & { match?: RegExp; /** Only calls of this HTTP method (e.g. PUT: a PutObject, not the GetObject before it). */ method?: string };

/** An API faults can be queued for. */
export type FaultRoute = Exclude<Route, 'other'>;

/** Default OCI error code for a status (used by injected faults without a code). */
const DEFAULT_CODES: Record<number, string> = {
  400: 'InvalidParameter',
  401: 'NotAuthenticated',
  404: 'NotAuthorizedOrNotFound',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

/**
 * The sleeps in progress (latency, hangs), each ended early by close(). A set rather than one
 * abort listener per request on a shared signal: with latency, every request in flight sleeps,
 * and more than 10 at once made Node warn of a listener leak (MaxListenersExceededWarning).
 */
export class Sleeps {
  private readonly sleepers = new Set<() => void>();
  private closed = false;

  /** Sleeps `ms`, or less when the emulator closes or `until` aborts. */
  sleep(ms: number, until?: AbortSignal): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    const sleepers = this.sleepers;
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        sleepers.delete(done);
        until?.removeEventListener('abort', done);
        resolve();
      }
      sleepers.add(done);
      until?.addEventListener('abort', done, { once: true });
    });
  }

  /** Ends every sleep now and every later one at once. */
  close(): void {
    this.closed = true;
    for (const wake of [...this.sleepers]) wake();
  }
}

/** True when a fault applies to this call (its path and query, its method). */
function matches(f: Fault, req: IncomingMessage): boolean {
  return (!f.match || f.match.test(req.url ?? '')) && (!f.method || f.method === (req.method ?? 'GET').toUpperCase());
}

/** The queued faults of each API. */
export class FaultQueue {
  private readonly queues: Record<FaultRoute, Fault[]> = { metrics: [], secrets: [], objectstorage: [], discovery: [] };

  constructor(private readonly sleeps: Sleeps) {}

  /** Apply a fault to the next `times` calls of a route. */
  enqueue(fault: Fault, times: number, route: FaultRoute): void {
    for (let i = 0; i < times; i++) this.queues[route].push(fault);
  }

  /** Number of queued fault applications left for a route. */
  pending(route: FaultRoute): number {
    return this.queues[route].length;
  }

  /** Drops the queued faults of a route; without one, those of metrics, secrets and Object Storage. */
  clear(route?: FaultRoute): void {
    for (const r of route ? [route] : (['metrics', 'secrets', 'objectstorage'] as const)) this.queues[r].length = 0;
  }

  /** Drops every queued fault (reset()). */
  clearAll(): void {
    for (const queue of Object.values(this.queues)) queue.length = 0;
  }

  /** True when a queued `lostAnswer` fault is the first that matches this call (then taken): the caller processes it, then resets the connection. */
  takeLostAnswer(route: FaultRoute, req: IncomingMessage): boolean {
    const queue = this.queues[route];
    const at = queue.findIndex((f) => matches(f, req));
    if (at < 0 || !('lostAnswer' in queue[at])) return false;
    queue.splice(at, 1);
    return true;
  }

  /** The body of a queued `acceptedBody` fault when it is next for the route (then taken), else undefined. */
  takeAcceptedBody(route: FaultRoute): string | undefined {
    const next = this.queues[route][0];
    return next && 'acceptedBody' in next ? (this.queues[route].shift(), next.acceptedBody) : undefined;
  }

  /** Apply a queued fault; true when it answered (or killed) the call. `current`: the call began after the last reset(). */
  async apply(route: Route, req: IncomingMessage, res: ServerResponse, call: CallRecord, current: boolean): Promise<boolean> {
    // A call that began before reset() (e.g. still in its latency delay) must not take faults queued after it.
    if (route === 'other' || !current) return false;
    const queue = this.queues[route];
    const at = queue.findIndex((f) => matches(f, req));
    if (at < 0 || 'acceptedBody' in queue[at] || 'lostAnswer' in queue[at]) return false;
    const fault = queue.splice(at, 1)[0];
    if ('reset' in fault) {
      call.fault = 'reset';
      req.socket.destroy();
      return true;
    }
    if ('hangMs' in fault) {
      call.fault = 'hang';
      // The hang ends early when the client gives up (closes), so it is recorded promptly.
      const gaveUp = new AbortController();
      const onClose = (): void => gaveUp.abort();
      req.socket.once('close', onClose);
      await this.sleeps.sleep(fault.hangMs, gaveUp.signal);
      req.socket.off('close', onClose);
      req.socket.destroy();
      return true;
    }
    if ('acceptedBody' in fault || 'lostAnswer' in fault) return false; // taken by the call's own handling (see takeAcceptedBody, takeLostAnswer)
    call.fault = 'status';
    call.status = fault.status;
    call.code = fault.code ?? DEFAULT_CODES[fault.status] ?? 'InternalServerError';
    const message = fault.message ?? `Injected fault: ${fault.status} ${call.code}`;
    const echoed = fault.echoAuthorization ? `${message} (request had Authorization: ${req.headers.authorization ?? 'none'})` : message;
    sendJson(res, fault.status, call.requestId, { code: call.code, message: echoed });
    return true;
  }
}
