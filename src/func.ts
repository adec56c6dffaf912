/**
 * Entry point of the function image: `node dist/func.js`. Only the FDK and the handler wiring load
 * here; the OCI SDK is required on first use, so the Fn socket is ready quickly (cold start).
 */
import { format } from 'node:util';
import * as fdk from '@fnproject/fdk';
import { createHandler } from './handler/handler';
import { jsonLogger, oneLine } from './log';

const log = jsonLogger();

// The FDK and the OCI SDK print multi-line warnings; keep every log entry one structured line.
console.warn = (...args: unknown[]) => log('warn', oneLine(format(...args)), { source: 'runtime' });

// Node's own warnings (e.g. MaxListenersExceededWarning) as log entries too, not raw stderr text.
process.removeAllListeners('warning');
process.on('warning', (w) => log('warn', oneLine(`${w.name}: ${w.message}`), { source: 'runtime' }));

process.on('unhandledRejection', (reason) => {
  // Never let a stray promise kill the container (the next call would be a cold start).
  log('error', 'unhandled rejection', { error: oneLine(String((reason as Error)?.message ?? reason)) });
});

fdk.handle(createHandler(process.env, log), { inputMode: 'string' });
