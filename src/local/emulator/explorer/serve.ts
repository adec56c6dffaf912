/**
 * Serves the local Metric Explorer page (static HTML/CSS/JS in this directory, no build step) and
 * its invocation history, as the emulator's `extraHandler`. The metric data itself comes from the
 * emulator's /emulator/api/ routes (namespaces, metrics, dimensions, query).
 *   GET /                          -> 302 /explorer/
 *   GET /explorer/                 -> index.html (also app.js, style.css)
 *   GET /explorer/api/invocations  -> { info, invocations } (newest last)
 *   POST /explorer/api/dry-run     -> a dry-run invocation's record (its summary has the cardinality report)
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

/** Where the page's files are: next to this file (tsx), or copied to dist/explorer (bundle). */
function explorerAssetsDir(): string {
  const candidates = [__dirname, path.join(__dirname, 'explorer'), path.resolve(__dirname, '../src/local/emulator/explorer')];
  const dir = candidates.find((d) => existsSync(path.join(d, 'index.html')));
  if (!dir) throw new Error(`the explorer page is missing (looked in ${candidates.join(', ')})`);
  return dir;
}

const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/** What the page shows besides metrics: facts about the demo and the recent invocations. */
interface ExplorerSource {
  /** Recent invocations, oldest first (any JSON-serialisable records). */
  invocations(): readonly unknown[];
  /** Facts shown in the header (interval, target, namespace, next run...). */
  info?(): Record<string, unknown>;
  /** Invokes the function with {"dryRun": true}; resolves its record (also kept in the invocations). */
  dryRun?: () => Promise<unknown>;
}

/** Sends a body with no caching (the page must pick up edits while developing). */
function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff' });
  res.end(body);
}

/** Builds the extraHandler for the emulator; answers only its own paths. */
export function createExplorerHandler(src: ExplorerSource, assetsDir: string = explorerAssetsDir()): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname !== '/' && pathname !== '/explorer' && !pathname.startsWith('/explorer/')) return false;
    if (pathname === '/explorer/api/dry-run' && req.method === 'POST') {
      const run = src.dryRun;
      if (!run) send(res, 404, 'application/json', JSON.stringify({ code: 'NotFound', message: 'no function to dry-run here' }));
      else
        run().then(
          (record) => send(res, 200, 'application/json', JSON.stringify(record)),
          (e: unknown) => send(res, 500, 'application/json', JSON.stringify({ code: 'DryRunFailed', message: e instanceof Error ? e.message : String(e) })),
        );
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'application/json', JSON.stringify({ code: 'MethodNotAllowed', message: 'GET only (POST /explorer/api/dry-run)' }));
      return true;
    }
    if (pathname === '/' || pathname === '/explorer') {
      res.writeHead(302, { location: '/explorer/' });
      res.end();
      return true;
    }
    if (pathname === '/explorer/api/invocations') {
      send(res, 200, 'application/json', JSON.stringify({ info: src.info?.() ?? {}, invocations: src.invocations() }));
      return true;
    }
    const name = pathname === '/explorer/' ? 'index.html' : pathname.slice('/explorer/'.length);
    const type = ASSETS[name];
    if (!type) {
      send(res, 404, 'text/plain; charset=utf-8', `not found: ${pathname}`);
      return true;
    }
    // Read per request: files are small and edits show up on reload without a restart.
    send(res, 200, type, readFileSync(path.join(assetsDir, name)));
    return true;
  };
}
