// A loopback HTTP proxy in front of a *real* registry that injects faults chosen per request:
// an HTTP error status, a dropped connection, a corrupted response body (a registry that lies),
// a body trickled a byte at a time (a stalled proxy), or a delay (a registry far away, for
// benchmarks). Everything else is forwarded untouched, except Location headers, which are
// rewritten to point back at the proxy so a client keeps talking through it.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Transform } from 'node:stream';

export interface ProxiedRequest {
  method: string;
  /** Path and query. */
  path: string;
  /** 1-based count of requests seen so far with this method (handy for "the 2nd PATCH"). */
  nth: number;
}

export type Fault =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { reset: true }
  | { corruptBody: true }
  /** Forward the headers and the first chunk of the body, then drop the connection. */
  | { cutBody: true }
  /** Forward, and add (or replace) these headers on the real response. */
  | { addHeaders: Record<string, string> }
  /** Forward after this many milliseconds: one network round trip per request (benchmarks). */
  | { delayMs: number }
  /** Forward the real headers, then the body one byte every `trickleMs`: never idle, and very slow. */
  | { trickleMs: number };

export interface FaultProxy {
  host: string;
  url: string;
  /** What reached the proxy, with the status the client saw (or 0 for a reset). */
  seen: Array<{ method: string; path: string; status: number }>;
  stop(): Promise<void>;
}

/** Flips one bit of the first byte: same length, different digest. */
function corrupter(): Transform {
  let first = true;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (first && chunk.length > 0) {
        first = false;
        const copy = Buffer.from(chunk);
        copy[0] = copy[0]! ^ 0x01;
        done(null, copy);
        return;
      }
      done(null, chunk);
    },
  });
}

export async function startFaultProxy(target: string, rule: (req: ProxiedRequest) => Fault | undefined): Promise<FaultProxy> {
  const targetUrl = new URL(target);
  if (targetUrl.protocol !== 'http:') throw new Error('fault proxy: only plain-HTTP registries can be proxied');
  const counts = new Map<string, number>();
  const seen: FaultProxy['seen'] = [];
  let selfOrigin = '';

  const server: Server = createServer((req: IncomingMessage, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const nth = (counts.get(method) ?? 0) + 1;
    counts.set(method, nth);
    const fault = rule({ method, path, nth });
    if (fault && 'reset' in fault) {
      seen.push({ method, path, status: 0 });
      req.socket.destroy();
      return;
    }
    if (fault && 'status' in fault) {
      seen.push({ method, path, status: fault.status });
      req.resume();
      req.on('end', () => {
        const body = fault.body ?? JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'injected fault', detail: null }] });
        res.writeHead(fault.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...fault.headers });
        res.end(body);
      });
      return;
    }
    if (fault && 'delayMs' in fault) {
      req.pause();
      setTimeout(() => forward(req, res, method, path, undefined), fault.delayMs);
      return;
    }
    forward(req, res, method, path, fault);
  });

  const forward = (req: IncomingMessage, res: ServerResponse, method: string, path: string, fault: Fault | undefined): void => {
    const headers = { ...req.headers, host: targetUrl.host };
    const upstream = httpRequest({ host: targetUrl.hostname, port: targetUrl.port, method, path, headers }, (up) => {
      const outHeaders = { ...up.headers };
      if (typeof outHeaders.location === 'string') outHeaders.location = outHeaders.location.replace(targetUrl.origin, selfOrigin);
      if (fault && 'addHeaders' in fault) Object.assign(outHeaders, fault.addHeaders);
      seen.push({ method, path, status: up.statusCode ?? 0 });
      res.writeHead(up.statusCode ?? 502, outHeaders);
      if (fault && 'corruptBody' in fault) up.pipe(corrupter()).pipe(res);
      else if (fault && 'trickleMs' in fault) {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.once('end', () => {
          const body = Buffer.concat(chunks);
          let i = 0;
          const timer = setInterval(() => {
            if (i >= body.length || res.destroyed) { clearInterval(timer); if (!res.destroyed) res.end(); return; }
            res.write(body.subarray(i, i + 1));
            i++;
          }, fault.trickleMs);
          res.once('close', () => clearInterval(timer));
        });
      }
      else if (fault && 'cutBody' in fault) {
        up.once('data', (chunk: Buffer) => {
          up.pause();
          res.write(chunk.subarray(0, Math.max(1, chunk.length >> 1)), () => res.socket?.destroy());
        });
      } else up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
    req.resume();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  selfOrigin = `http://127.0.0.1:${port}`;
  return {
    host: `127.0.0.1:${port}`,
    url: selfOrigin,
    seen,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
