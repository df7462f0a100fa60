import type { IncomingMessage, ServerResponse } from 'node:http';
import { EXIT_CODES, PromoteError, isPromoteError, type Outcome } from '../errors.ts';
import { redactDeep } from '../redact.ts';
import { errorView } from './pipeline-view.ts';

// The HTTP side every response of promote ui shares: the security headers, JSON and error
// bodies, bounded request bodies, and the checks that keep other sites out (Host against DNS
// rebinding, Origin against cross-site requests).

// Everything the page needs comes from promote itself: no inline script or style, no other
// origin, and no framing (clickjacking). https://www.w3.org/TR/CSP3/
export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const STATUS: Record<Outcome, number> = { usage: 400, refused: 409, verification: 422, failed: 500 };
const CODE_STATUS: Partial<Record<string, number>> = { UI_UNAUTHORIZED: 401, UI_FORBIDDEN: 403, UI_ACTIONS_DISABLED: 403, UI_BUSY: 503, STAGE_UNKNOWN: 404, BUNDLE_NOT_FOUND: 404 };

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(redactDeep(body)));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': bytes.length });
  res.end(bytes);
}

/** An error as a JSON body `{error: {code, message, hint, outcome, exitCode}}` with a status that says what kind it is. */
export function sendError(res: ServerResponse, err: unknown, extra: Record<string, unknown> = {}): void {
  const outcome: Outcome = isPromoteError(err) ? err.outcome : 'failed';
  const status = (isPromoteError(err) && CODE_STATUS[err.code]) || STATUS[outcome];
  const details = isPromoteError(err) && err.details ? { details: err.details } : {};
  sendJson(res, status, { error: { ...errorView(err), outcome, exitCode: EXIT_CODES[outcome], ...details, ...extra } });
}

const MAX_BODY = 16 * 1024;

export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new PromoteError('UI_BAD_REQUEST', `an action is sent as application/json, not ${type || 'no content type'}`, { outcome: 'usage', hint: 'set Content-Type: application/json' });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new PromoteError('UI_BAD_REQUEST', `the request body is over ${MAX_BODY} bytes`, { outcome: 'usage', hint: 'an action is a small JSON object' });
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new PromoteError('UI_BAD_REQUEST', 'the request body is not JSON', { outcome: 'usage', cause: err, hint: 'send a JSON object' });
  }
}

/** The Host values this server answers to: its own address, and localhost for a loopback one. */
export function allowedHosts(host: string, port: number): Set<string> {
  const hosts = new Set([host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`]);
  if (host === '127.0.0.1' || host === '::1' || host === 'localhost') for (const h of ['127.0.0.1', 'localhost', '[::1]']) hosts.add(`${h}:${port}`);
  return hosts;
}

/**
 * Refuses a request for another host name (a DNS-rebinding page that points its own name at
 * 127.0.0.1 sends its name as Host) and, for anything that changes something, one whose Origin
 * is not this server (a cross-site page; browsers send Origin on every cross-origin POST).
 */
export function checkOrigin(req: IncomingMessage, hosts: Set<string>): void {
  const host = req.headers.host ?? '';
  if (!hosts.has(host)) throw new PromoteError('UI_FORBIDDEN', `promote ui does not serve the host name "${host.slice(0, 100)}"`, { outcome: 'refused', hint: `open ${[...hosts][0]}` });
  // Fetch metadata (https://www.w3.org/TR/fetch-metadata/): a browser marks what another site
  // makes it request (an <img> or a form pointing here); only the page itself may use the API.
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none' && req.url?.startsWith('/api/')) {
    throw new PromoteError('UI_FORBIDDEN', `a request made by another site (${String(site).slice(0, 20)}) may not use the API`, { outcome: 'refused', hint: 'the API serves promote ui\'s own page and direct requests (curl, scripts)' });
  }
  const origin = req.headers.origin;
  if (origin !== undefined && req.method !== 'GET' && req.method !== 'HEAD' && !hosts.has(origin.replace(/^http:\/\//, ''))) {
    throw new PromoteError('UI_FORBIDDEN', `a request from ${origin.slice(0, 100)} may not change anything here`, { outcome: 'refused', hint: 'actions are taken from promote ui\'s own page' });
  }
}
