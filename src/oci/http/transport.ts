import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { PromoteError } from '../../errors.ts';

// HTTP for the registry client, on undici rather than node:http(s): one keep-alive connection
// pool per client (a push is dozens of small requests to one origin), a CA bundle per client
// through the Agent's TLS options (NODE_EXTRA_CA_CERTS only works at process start-up,
// TRAPS.md), and request/response bodies as Node streams so blobs flow with bounded memory.
//
// --insecure means what it means to docker and skopeo: HTTPS without certificate verification,
// and plain HTTP when the registry does not speak TLS at all. Which one is decided once per
// host by a bare TLS handshake (no HTTP request, so nothing shows up in the registry's logs).
//
// Retries (exponential backoff with full jitter, Retry-After honoured) are done here only for
// requests that can be replayed safely; an upload session's PATCH cannot, so upload.ts restarts
// the whole session instead.

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
}

const USER_AGENT = 'promote (+https://github.com/opencontainers/distribution-spec)';

// One pool per trust configuration, shared by every registry client in the process (a copy
// opens two clients to the same host; they should share connections).
const agents = new Map<string, Agent>();

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

function agentFor(caFile: string | undefined, insecure: boolean): Agent {
  const key = `${insecure ? 'insecure' : 'verify'}|${caFile ?? ''}`;
  let agent = agents.get(key);
  if (!agent) {
    const ca = caFile !== undefined ? readCa(caFile) : undefined;
    agent = new Agent({
      connect: { timeout: 10_000, ...(ca !== undefined && { ca }), ...(insecure && { rejectUnauthorized: false }) },
      keepAliveTimeout: 4_000,
    });
    agents.set(key, agent);
  }
  return agent;
}

const schemes = new Map<string, Promise<'http' | 'https'>>();

/**
 * For --insecure: does `host` speak TLS? A handshake that fails because the peer answered in
 * plain text means HTTP; anything else (including unreachable) keeps HTTPS so the real request
 * reports the real error.
 */
export function probeScheme(host: string): Promise<'http' | 'https'> {
  let known = schemes.get(host);
  if (!known) {
    known = new Promise((resolve) => {
      const url = new URL(`https://${host}`);
      const hostname = url.hostname.replace(/^\[|\]$/g, '');
      const socket = tlsConnect({
        host: hostname,
        port: Number(url.port || 443),
        rejectUnauthorized: false,
        ...(isIP(hostname) === 0 && { servername: hostname }),
      });
      const done = (scheme: 'http' | 'https', remember: boolean) => {
        socket.destroy();
        if (!remember) schemes.delete(host);
        resolve(scheme);
      };
      socket.setTimeout(5_000, () => done('https', false));
      socket.once('secureConnect', () => done('https', true));
      socket.once('error', (err: NodeJS.ErrnoException) => {
        const plain = /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST|UNKNOWN_PROTOCOL|EPROTO/.test(err.code ?? '') || err.code === 'ECONNRESET';
        done(plain ? 'http' : 'https', plain);
      });
    });
    schemes.set(host, known);
  }
  return known;
}

/** Closes every pooled connection (tests and short-lived processes; optional). */
export async function closeAllConnections(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close()));
}

const RETRYABLE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'EAI_AGAIN']);

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isRetryableNetworkError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_|HOSTNAME|ERR_TLS/;

/** Turns a connection-level failure into a message naming the registry and the next step. */
export function networkError(err: unknown, url: string, insecure: boolean): PromoteError {
  const code = errorCode(err) ?? '';
  const { host, origin } = new URL(url);
  const details = { url: origin, code };
  if (TLS_CODES.test(code)) {
    const plainHttp = code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG';
    return new PromoteError('REGISTRY_TLS', `TLS handshake with the registry at ${host} failed (${code})`, {
      cause: err,
      details,
      hint: plainHttp
        ? 'the registry speaks plain HTTP: use --insecure (only for registries you trust on the network path)'
        : 'if the registry uses a private CA, pass its certificate with --ca-file <pem>; --insecure skips verification (test registries only)',
    });
  }
  const why = code === 'ECONNREFUSED' ? 'connection refused'
    : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'host name not found'
    : code.includes('TIMEOUT') || code === 'ETIMEDOUT' ? 'connection timed out'
    : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' ? 'connection reset'
    : (err as Error)?.message ?? String(err);
  return new PromoteError('REGISTRY_UNREACHABLE', `registry unreachable at ${origin}: ${why}`, {
    cause: err,
    details,
    hint: insecure
      ? 'check the host and port and that the registry is running'
      : 'check the host and port and that the registry is running; for a plain-HTTP registry use --insecure, for a private CA --ca-file <pem>',
  });
}

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

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(raw)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export class Transport {
  readonly insecure: boolean;
  private readonly caFile: string | undefined;
  private readonly retry: RetryPolicy;

  constructor(options: TransportOptions = {}) {
    this.insecure = options.insecure ?? false;
    this.caFile = options.caFile;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
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
    const dispatcher = agentFor(this.caFile, this.insecure);
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
        const res = await request(req.url, { method: req.method, headers, body: body ?? null, dispatcher });
        const status = res.statusCode;
        if (n < attempts && (status === 429 || status >= 500)) {
          const delay = backoffDelay(n, this.retry, flattenHeaders(res.headers)['retry-after']);
          await res.body.dump().catch(() => undefined);
          await sleep(delay);
          continue;
        }
        return { status, headers: flattenHeaders(res.headers), body: res.body, url: req.url, attempts: n };
      } catch (err) {
        if (body instanceof Readable && !body.destroyed) body.destroy();
        if (err instanceof PromoteError) throw err;
        if (n < attempts && isRetryableNetworkError(err)) {
          await sleep(backoffDelay(n, this.retry));
          continue;
        }
        throw networkError(err, req.url, this.insecure);
      }
    }
  }
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

export async function discard(body: Readable): Promise<void> {
  const b = body as Readable & { dump?: () => Promise<void> };
  if (typeof b.dump === 'function') {
    await b.dump().catch(() => undefined);
  } else {
    body.resume();
  }
}
