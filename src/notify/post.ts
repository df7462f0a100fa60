import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { redact } from '../redact.ts';

// One webhook delivery attempt and its retries. A delivery never throws: it ends delivered or
// not, with why, so a notification can only ever be a warning for the verb that sent it.
// Bounded three ways: a timeout per request, a number of attempts, and a deadline over all of
// them (with backoff between). No redirect is followed: the pipeline names the receiver.

export interface RetryPolicy {
  attempts: number;
  /** Per request, over the whole exchange. */
  timeoutMs: number;
  /** The first pause between attempts; it doubles each time (with jitter). */
  backoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, timeoutMs: 5000, backoffMs: 250 };

export interface PostRequest {
  url: string;
  /** Builds the body and headers of one attempt (each attempt is signed at its own time). */
  build: () => Promise<{ body: string; headers: Record<string, string> }>;
}

type Attempt = { delivered: true; status: number } | { delivered: false; error: string; status?: number; retryable: boolean };
export type PostResult = Attempt & { attempts: number };

/** How a receiver is named in messages: its origin only (a Slack webhook's path is its secret). */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.length > 1 || u.search ? '/…' : ''}`;
  } catch {
    return '(not a URL)';
  }
}

export async function post(request: PostRequest, policy: RetryPolicy, deadline: number): Promise<PostResult> {
  let last: PostResult = { delivered: false, attempts: 0, error: 'not attempted: no time left', retryable: true };
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const once = await postOnce(request, Math.min(policy.timeoutMs, left));
    last = { ...once, attempts: attempt };
    if (once.delivered || !once.retryable) return last;
    const pause = policy.backoffMs * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5);
    if (attempt === policy.attempts || Date.now() + pause >= deadline) break;
    await new Promise((r) => setTimeout(r, pause));
  }
  return last;
}

async function postOnce(request: PostRequest, timeoutMs: number): Promise<Attempt> {
  const shown = shownUrl(request.url);
  let target: URL;
  try {
    target = new URL(request.url);
  } catch {
    return { delivered: false, error: `${shown} is not a URL`, retryable: false };
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return { delivered: false, error: `${shown}: only http and https are posted to`, retryable: false };
  let built: { body: string; headers: Record<string, string> };
  try {
    built = await request.build();
  } catch (err) {
    // The secret is missing: sending unsigned would hand receivers a body they must not trust.
    return { delivered: false, error: redact(err instanceof Error ? err.message : String(err)), retryable: false };
  }
  const body = Buffer.from(built.body, 'utf8');
  return new Promise((done) => {
    let settled = false;
    const finish = (value: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      done(value);
    };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: 'POST', headers: { ...built.headers, 'content-length': String(body.length) }, agent: false }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      // The answer is not read beyond a little: a receiver says yes or no with its status.
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > 64 * 1024) res.destroy();
      });
      const end = () => {
        if (status >= 200 && status < 300) finish({ delivered: true, status });
        // Throttled, timed out, or a server error: try again. Any other no will not change.
        else finish({ delivered: false, status, error: `${shown} answered ${status}`, retryable: status === 408 || status === 429 || status >= 500 });
      };
      res.on('end', end);
      res.on('close', end);
      res.on('error', end);
    });
    const timer = setTimeout(() => finish({ delivered: false, error: `${shown} did not answer within ${Math.round(timeoutMs) / 1000}s`, retryable: true }), timeoutMs);
    req.on('error', (err) => finish({ delivered: false, error: `cannot reach ${shown}: ${redact(err.message)}`, retryable: true }));
    req.end(body);
  });
}
