import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { PromoteError } from '../../errors.ts';
import { DEADLINE, isRetryableNetworkError, networkError } from './network-error.ts';

// HTTP for the registry client, on node:http(s) rather than undici: every CLI run is a fresh
// process, and importing undici costs ~60 ms — about what a whole skopeo push of a small bundle
// takes — while node:http is part of Node and per request it was as fast or faster on loopback.
// Keep-alive agents give one connection pool per trust configuration (a push is a dozen small
// requests to one origin); a CA bundle per client goes through the https Agent
// (NODE_EXTRA_CA_CERTS only works at process start-up, TRAPS.md); bodies are Node streams both
// ways, so blobs flow with bounded memory.
//
// --insecure means what it means to docker and skopeo: HTTPS without certificate verification,
// and plain HTTP when the registry does not speak TLS at all. Which one is decided once per
// client (probe-scheme.ts). Connection failures become errors in network-error.ts.
//
// Retries (exponential backoff with full jitter, Retry-After honoured) are done here only for
// requests that can be replayed safely; an upload session's PATCH cannot, so upload.ts asks the
// session how far it got and continues from there.
//
// Every request has an overall deadline (TransportOptions.timeoutMs: --timeout,
// PROMOTE_REGISTRY_TIMEOUT), retries and the response body included. The idle timer alone is
// reset by every byte, so a registry (or proxy) trickling a byte a second would hold a command,
// or an agent's round, for ever.

/** A request body: bytes, or a function opening a fresh stream for each attempt. */
export type RequestBody = Uint8Array | (() => Readable);

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Retry on 429/5xx/connection resets. Default: true except for PATCH. */
  retry?: boolean;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string | undefined>;
  body: Readable;
  url: string;
  /** How many attempts the transport made (for messages after retries ran out). */
  attempts: number;
}

export interface RetryPolicy {
  /** Total attempts, including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 10_000 };

export interface TransportOptions {
  insecure?: boolean;
  caFile?: string;
  retry?: Partial<RetryPolicy>;
  /** Overall deadline of one request, retries and body included (default DEFAULT_TIMEOUT_MS). */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 300_000;

const USER_AGENT = 'promote (+https://github.com/opencontainers/distribution-spec)';

// `import … from 'node:http'` builds an ES module facade that evaluates every export, and
// node:http's lazy WebSocket/EventSource getters then load Node's bundled undici (~50 ms of
// start-up, seen in a CPU profile of `promote copy`). require() leaves the getters alone.
const require = createRequire(import.meta.url);
const { Agent: HttpAgent, request: httpRequest } = require('node:http') as typeof import('node:http');
const { Agent: HttpsAgent, request: httpsRequest } = require('node:https') as typeof import('node:https');
type HttpsAgent = import('node:https').Agent;

// One pool per trust configuration, shared by every registry client in the process (a copy
// opens two clients to the same host; they should share connections). Idle keep-alive sockets
// are unref'd by Node's Agent, so they never hold the process open.
const httpsAgents = new Map<string, HttpsAgent>();
const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 16 });

function readCa(caFile: string): string {
  try {
    return readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new PromoteError('CA_FILE_UNREADABLE', `cannot read the CA file ${caFile}: ${(err as Error).message}`, {
      outcome: 'usage',
      cause: err,
      hint: 'give --ca-file the path of a PEM file with the certificate(s) of the CA that signed the registry certificate',
    });
  }
}

function httpsAgentFor(caFile: string | undefined, insecure: boolean): HttpsAgent {
  const key = `${insecure ? 'insecure' : 'verify'}|${caFile ?? ''}`;
  let agent = httpsAgents.get(key);
  if (!agent) {
    const ca = caFile !== undefined ? readCa(caFile) : undefined;
    agent = new HttpsAgent({ keepAlive: true, maxSockets: 16, ...(ca !== undefined && { ca }), ...(insecure && { rejectUnauthorized: false }) });
    httpsAgents.set(key, agent);
  }
  return agent;
}

/** Closes every pooled connection (tests and short-lived processes; optional). */
export function closeAllConnections(): void {
  httpAgent.destroy();
  for (const a of httpsAgents.values()) a.destroy();
  httpsAgents.clear();
}

const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 300_000;

/** Delay before attempt `n+1` (n ≥ 1): Retry-After when the server gave one, else full jitter. */
export function backoffDelay(n: number, policy: RetryPolicy, retryAfter?: string, now = Date.now()): number {
  if (retryAfter) {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - now;
    if (Number.isFinite(ms) && ms >= 0) return Math.min(ms, Math.max(policy.maxDelayMs, 30_000));
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
  return Math.round(Math.random() * ceiling);
}

function flattenHeaders(raw: IncomingMessage['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(raw)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function timeoutError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * One request/response exchange. Resolves at the response headers; rejects with the body's own
 * error when the body stream fails (e.g. a VerifyingStream refusing content), else with the
 * socket error.
 */
function exchange(url: string, method: string, headers: Record<string, string>, body: Uint8Array | Readable | undefined, caFile: string | undefined, insecure: boolean, deadline: { at: number; text: string }): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const https = url.startsWith('https:');
    const req = (https ? httpsRequest : httpRequest)(url, {
      method,
      headers,
      agent: https ? httpsAgentFor(caFile, insecure) : httpAgent,
    });
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    // Armed until the response body is done: it bounds the caller's reading too. Unref'd, as the
    // socket it guards keeps the process alive while it matters.
    let response: IncomingMessage | undefined;
    const overdue = setTimeout(() => {
      const err = timeoutError(DEADLINE, `${method} ${new URL(url).pathname} did not finish within ${deadline.text}`);
      // Whoever is reading the body meets the registry error, not a bare socket error.
      if (response) response.destroy(networkError(err, url, insecure));
      req.destroy(err);
    }, Math.max(0, deadline.at - Date.now()));
    overdue.unref();
    req.once('close', () => { if (!response) clearTimeout(overdue); });
    let connectTimer: NodeJS.Timeout | undefined = setTimeout(() => req.destroy(timeoutError('ETIMEDOUT', `no connection within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
    const connected = () => { clearTimeout(connectTimer); connectTimer = undefined; };
    req.on('socket', (socket) => {
      if (!socket.connecting) connected();
      else socket.once(https ? 'secureConnect' : 'connect', connected);
    });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(timeoutError('ETIMEDOUT', `no data for ${IDLE_TIMEOUT_MS / 1000} s`)));
    req.on('error', (err) => { connected(); fail(err); });
    req.on('response', (res) => {
      connected();
      response = res;
      res.once('close', () => clearTimeout(overdue));
      if (settled) { res.resume(); return; }
      settled = true;
      // The server answered before taking the whole body (an early 401/4xx): stop sending, and
      // once the answer is read, drop the connection (it is mid-request, so not reusable).
      if (body instanceof Readable && !body.readableEnded) {
        body.unpipe(req).destroy();
        res.once('close', () => { if (!req.writableFinished) req.destroy(); });
      }
      resolve(res);
    });
    if (body instanceof Readable) {
      body.on('error', (err) => { req.destroy(err); fail(err); });
      body.pipe(req);
    } else {
      req.end(body);
    }
  });
}

export class Transport {
  readonly insecure: boolean;
  private readonly caFile: string | undefined;
  private readonly retry: RetryPolicy;
  readonly timeoutMs: number;

  constructor(options: TransportOptions = {}) {
    this.insecure = options.insecure ?? false;
    this.caFile = options.caFile;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  get retryPolicy(): RetryPolicy {
    return this.retry;
  }

  /**
   * Sends one request, retrying transient failures when the request allows it. Returns the last
   * response whatever its status (the caller maps statuses to errors); throws a PromoteError only
   * when no response could be had at all.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const retryable = req.retry ?? req.method !== 'PATCH';
    const attempts = retryable ? Math.max(1, this.retry.attempts) : 1;
    const deadline = { at: Date.now() + this.timeoutMs, text: formatMs(this.timeoutMs) };
    /** Another attempt only when its backoff still ends before the deadline. */
    const timeLeftFor = (delay: number) => Date.now() + delay < deadline.at;
    for (let n = 1; ; n++) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...req.headers };
      let body: Uint8Array | Readable | undefined;
      if (req.body instanceof Uint8Array) {
        body = req.body;
        headers['content-length'] ??= String(req.body.length);
      } else if (req.body) {
        body = req.body();
      }
      try {
        const res = await exchange(req.url, req.method, headers, body, this.caFile, this.insecure, deadline);
        const status = res.statusCode ?? 0;
        const delay = n < attempts && (status === 429 || status >= 500) ? backoffDelay(n, this.retry, flattenHeaders(res.headers)['retry-after']) : undefined;
        if (delay !== undefined && timeLeftFor(delay)) {
          await discard(res);
          await sleep(delay);
          continue;
        }
        return { status, headers: flattenHeaders(res.headers), body: res, url: req.url, attempts: n };
      } catch (err) {
        if (body instanceof Readable && !body.destroyed) body.destroy();
        if (err instanceof PromoteError) throw err;
        if (n < attempts && isRetryableNetworkError(err)) {
          const delay = backoffDelay(n, this.retry);
          if (timeLeftFor(delay)) {
            await sleep(delay);
            continue;
          }
        }
        throw networkError(err, req.url, this.insecure);
      }
    }
  }
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms} ms`;
}

/** Reads at most `max` bytes of a response body as text (for error bodies), discarding the rest. */
export async function readText(body: Readable, max = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (total < max) chunks.push(chunk.subarray(0, max - total));
      total += chunk.length;
    }
  } catch {
    /* a broken error body must not hide the status */
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Drains a response body so its connection can be reused; never throws. */
export async function discard(body: Readable): Promise<void> {
  if (body.readableEnded || body.destroyed) return;
  await new Promise<void>((resolve) => {
    body.once('end', resolve);
    body.once('close', resolve);
    body.once('error', () => resolve());
    body.resume();
  });
}
