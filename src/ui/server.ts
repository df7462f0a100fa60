import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readAsset, type AssetName } from '../assets.ts';
import { PromoteError } from '../errors.ts';
import type { ProjectOptions } from '../promotion/actions.ts';
import { bearer, cliCommand, parseAction, runAction, tokenMatches, type ActionKeys } from './actions.ts';
import { allowedHosts, checkOrigin, readJsonBody, SECURITY_HEADERS, sendError, sendJson } from './http.ts';
import { LiveView } from './live.ts';

// `promote ui`: a page and a read-only JSON API over the engine's own calls. Every GET answers
// with what the matching command prints with --output json (status, plan, history) or with a
// view assembled from those calls (pipeline-view.ts, bundle-view.ts); nothing is cached but the
// pipeline view, which live.ts rebuilds when the ledger or a report changes. Actions are off
// unless a token is given (actions.ts). docs/ui.md describes the API and the security model.

export interface UiOptions {
  project: ProjectOptions;
  host: string;
  port: number;
  /** Between polls of the ledger and the report tags. */
  intervalMs: number;
  /** With a token, the page may approve, promote, hold and release (--allow-actions). */
  token?: string;
  keys?: ActionKeys;
  signal: AbortSignal;
}

export interface UiServer {
  url: string;
  /** Resolves once the server stopped (the signal aborted). */
  closed: Promise<void>;
}

const PAGES: Record<string, { asset: AssetName; type: string }> = {
  '/': { asset: 'web/index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { asset: 'web/app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { asset: 'web/app.css', type: 'text/css; charset=utf-8' },
  '/icon.svg': { asset: 'web/icon.svg', type: 'image/svg+xml' },
};

export async function serveUi(o: UiOptions): Promise<UiServer> {
  const { openProject } = await import('../promotion/project.ts');
  const project = await openProject(o.project);
  const live = new LiveView({ project, options: o.project, actions: o.token !== undefined, intervalMs: o.intervalMs, signal: o.signal, log: (m) => o.project.log?.(m) });
  let hosts = new Set<string>();

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const [, , what, ...rest] = url.pathname.split('/');
    let arg: string;
    try {
      arg = rest.map(decodeURIComponent).join('/');
    } catch (err) {
      throw new PromoteError('UI_BAD_REQUEST', `${url.pathname.slice(0, 100)} is not a well-formed path (a % not followed by UTF-8 in hex)`, { outcome: 'usage', cause: err, hint: 'encode stage names and digests with encodeURIComponent' });
    }
    if (req.method === 'POST' && what === 'actions') return action(req, res, arg);
    if (req.method !== 'GET') throw new PromoteError('UI_BAD_REQUEST', `${req.method} ${url.pathname} is not part of the API`, { outcome: 'usage', hint: 'the API reads with GET; actions are POST /api/actions/<name>' });
    if (what === 'events' && !arg) return live.subscribe(res);
    if (what === 'pipeline' && !arg) {
      const { status, bytes } = await live.body();
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': bytes.length });
      return void res.end(bytes);
    }
    if (what === 'status' && !arg) {
      const { view, problem, version } = await live.current();
      if (!view) return sendJson(res, 503, { error: problem, version });
      return sendJson(res, 200, view.status);
    }
    const { planCommand, historyCommand } = await import('../promotion/actions.ts');
    if (what === 'plan' && arg) {
      const bundle = url.searchParams.get('bundle') ?? undefined;
      return sendJson(res, 200, await planCommand(o.project, arg, bundle, url.searchParams.get('diff') !== '0'));
    }
    if (what === 'history' && arg) {
      const limit = Number(url.searchParams.get('limit') ?? 50);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new PromoteError('UI_BAD_REQUEST', 'limit must be a whole number from 1 to 1000', { outcome: 'usage', hint: 'e.g. ?limit=50' });
      return sendJson(res, 200, await historyCommand(o.project, arg, limit));
    }
    if (what === 'bundle' && arg) {
      const { bundleView } = await import('./bundle-view.ts');
      return sendJson(res, 200, await bundleView(project, arg));
    }
    throw new PromoteError('UI_BAD_REQUEST', `${url.pathname} is not part of the API`, { outcome: 'usage', hint: 'see docs/ui.md for the API' });
  };

  const action = async (req: IncomingMessage, res: ServerResponse, name: string): Promise<void> => {
    // Refused before the body is even read: without the token nothing of the request counts.
    if (o.token === undefined) throw new PromoteError('UI_ACTIONS_DISABLED', 'promote ui runs read-only: actions are off', { outcome: 'refused', hint: 'run the command the page shows yourself, or restart promote ui with --allow-actions and a token' });
    if (!tokenMatches(o.token, bearer(req.headers.authorization))) throw new PromoteError('UI_UNAUTHORIZED', 'the action needs the token promote ui was started with', { outcome: 'refused', hint: 'enter the token (from --token-file or PROMOTE_UI_TOKEN) on the page' });
    const { name: verb, request } = parseAction(name, await readJsonBody(req));
    const command = cliCommand(verb, request, o.project.pipeline);
    try {
      const result = await runAction(o.project, o.keys ?? {}, verb, request);
      sendJson(res, 200, { action: verb, command, result });
    } catch (err) {
      sendError(res, err, { command });
    } finally {
      live.poke();
    }
  };

  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const url = new URL(req.url ?? '/', 'http://promote.invalid');
    const handle = async () => {
      checkOrigin(req, hosts);
      if (url.pathname.startsWith('/api/')) return api(req, res, url);
      const page = PAGES[url.pathname];
      if (!page || (req.method !== 'GET' && req.method !== 'HEAD')) return sendJson(res, 404, { error: { code: 'UI_BAD_REQUEST', message: `no page ${url.pathname}` } });
      const bytes = Buffer.from(readAsset(page.asset));
      res.writeHead(200, { 'Content-Type': page.type, 'Content-Length': bytes.length });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    };
    handle().catch((err: unknown) => {
      if (res.headersSent) res.end();
      else sendError(res, err);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new PromoteError('UI_LISTEN_FAILED', `cannot listen on ${o.host}:${o.port}: ${err.code ?? err.message}`, { outcome: 'failed', cause: err, hint: err.code === 'EADDRINUSE' ? 'another process uses the port: pick another with --listen 127.0.0.1:<port>' : 'check the address given to --listen' })));
    server.listen(o.port, o.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  hosts = allowedHosts(o.host, port);
  const closed = new Promise<void>((resolve) => {
    const stop = () => {
      live.close();
      server.close(() => resolve());
      server.closeAllConnections();
    };
    if (o.signal.aborted) stop();
    else o.signal.addEventListener('abort', stop, { once: true });
  });
  return { url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}/`, closed };
}
