/**
 * The function (bundled as dist/func-main.js, which the image's `node dist/func.js` loads with its
 * code cache). Only the FDK and the handler wiring load here; the OCI SDK is required once the Fn
 * socket is ready or on first use, so the socket is ready quickly (cold start).
 */
import { existsSync } from 'node:fs';
import { format } from 'node:util';
import * as fdk from '@fnproject/fdk';
import { createHandler } from './handler/handler';
import { isSdkRetrierWarning, jsonLogger, oneLine } from './log';

const log = jsonLogger();

// The FDK and the OCI SDK print multi-line warnings; keep every log entry one structured line
// (and drop the SDK retrier's per-call warnings: the summary counts those calls).
console.warn = (...args: unknown[]) => {
  const text = format(...args);
  if (!isSdkRetrierWarning(text)) log('warn', oneLine(text), { source: 'runtime' });
};

// Node's own warnings (e.g. MaxListenersExceededWarning) as log entries too, not raw stderr text.
process.removeAllListeners('warning');
process.on('warning', (w) => log('warn', oneLine(`${w.name}: ${w.message}`), { source: 'runtime' }));

process.on('unhandledRejection', (reason) => {
  // Never let a stray promise kill the container (the next call would be a cold start).
  log('error', 'unhandled rejection', { error: oneLine(String((reason as Error)?.message ?? reason)) });
});

const handler = createHandler(process.env, log);
fdk.handle(handler, { inputMode: 'string' });

// The first call needs the SDK bundle, credentials and clients: build them as soon as the Fn socket
// is ready (never before: that would delay "ready"), in the time the platform takes to send the call.
const listener = process.env.FN_LISTENER?.startsWith('unix:') ? process.env.FN_LISTENER.slice('unix:'.length) : undefined;
if (listener) {
  let tries = 0;
  const prepareOnceReady = (): void => {
    if (existsSync(listener)) handler.prepare();
    else if (++tries < 200) setTimeout(prepareOnceReady, 5).unref();
  };
  setImmediate(prepareOnceReady).unref();
}
