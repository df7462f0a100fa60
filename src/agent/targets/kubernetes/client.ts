import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { PromoteError } from '../../../errors.ts';
import { resolveKubeconfig, type ResolvedConfig } from './kubeconfig.ts';

// A small REST client for the Kubernetes API: kubeconfig.ts loads the configuration (and
// @kubernetes/client-node where it takes an exec plugin or an auth provider), and we send the
// requests ourselves. The generated typed clients know only built-in kinds and hide
// the status code and content type we need for server-side apply, dry runs and discovery of
// arbitrary groups; one request function also lets us count every request (bench, no-op tests).

export interface KubeConnection {
  /** Path of a kubeconfig file; default $KUBECONFIG, then ~/.kube/config, then in-cluster. */
  kubeconfig?: string;
  context?: string;
  /** Explicit server + bearer token (+ CA file), used instead of a kubeconfig. */
  server?: string;
  token?: string;
  caFile?: string;
  /** Request timeout (default 30 s). */
  timeoutMs?: number;
}

export interface KubeResponse {
  status: number;
  body: unknown;
  /** The raw body when it is not JSON. */
  text: string;
}

export interface RequestCounts {
  total: number;
  /** Requests that may change cluster state (POST/PUT/PATCH/DELETE without dryRun). */
  writes: number;
  byMethod: Record<string, number>;
}

interface Prepared {
  base: URL;
  options: RequestOptions;
}

/** The API server's `Status` object, as returned with 4xx/5xx answers. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { field?: string; message?: string; reason?: string }[] };
}

export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  readonly status: number;
  readonly reason: string;
  readonly details: KubeStatus | undefined;

  constructor(method: string, path: string, res: KubeResponse) {
    const st = (res.body && typeof res.body === 'object' ? res.body : undefined) as KubeStatus | undefined;
    super(st?.message ?? `${method} ${path}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
    this.status = res.status;
    this.reason = st?.reason ?? `HTTP${res.status}`;
    this.details = st;
  }
}

export class KubeClient {
  readonly server: string;
  private readonly prepare: () => Promise<Prepared>;
  private readonly timeoutMs: number;
  private readonly counts: RequestCounts = { total: 0, writes: 0, byMethod: {} };
  private readonly agent: HttpsAgent | HttpAgent;
  private readonly watchAgent: HttpsAgent | HttpAgent;

  private constructor(server: string, prepare: () => Promise<Prepared>, agent: HttpsAgent | HttpAgent, watchAgent: HttpsAgent | HttpAgent, timeoutMs: number) {
    this.server = server;
    this.prepare = prepare;
    this.agent = agent;
    this.watchAgent = watchAgent;
    this.timeoutMs = timeoutMs;
  }

  /** Loads the configuration (kubeconfig.ts; @kubernetes/client-node only for exec plugins, auth providers, proxies). */
  static async connect(conn: KubeConnection = {}): Promise<KubeClient> {
    const config = resolveKubeconfig(conn) ?? (await viaClientNode(conn));
    const base = new URL(config.server.endsWith('/') ? config.server : `${config.server}/`);
    const tls = base.protocol === 'https:';
    const agent = tls ? new HttpsAgent({ keepAlive: true, maxSockets: 8 }) : new HttpAgent({ keepAlive: true, maxSockets: 8 });
    const watchAgent = tls ? new HttpsAgent({ keepAlive: false }) : new HttpAgent({ keepAlive: false });
    // Credentials are re-read every 10 s, not once: token files and exec credentials rotate
    // (bound service-account tokens), and not per request: that reads the CA file each time.
    let cached: { at: number; prepared: Prepared } | undefined;
    const prepare = async (): Promise<Prepared> => {
      if (cached && Date.now() - cached.at < 10_000) return cached.prepared;
      const options: RequestOptions = { headers: {} };
      await config.apply(options);
      cached = { at: Date.now(), prepared: { base, options } };
      return cached.prepared;
    };
    return new KubeClient(base.origin + base.pathname.replace(/\/$/, ''), prepare, agent, watchAgent, conn.timeoutMs ?? 30_000);
  }

  /** Called with every request as it is sent (tests and benches that need more than counts). */
  onRequest: ((method: string, path: string) => void) | undefined;

  requestCounts(): RequestCounts {
    return { total: this.counts.total, writes: this.counts.writes, byMethod: { ...this.counts.byMethod } };
  }

  resetCounts(): void {
    this.counts.total = 0;
    this.counts.writes = 0;
    this.counts.byMethod = {};
  }

  /** Sends one request; resolves with any status (callers decide what a 404 means). */
  async send(method: string, path: string, body?: unknown, contentType = 'application/json', accept = 'application/json'): Promise<KubeResponse> {
    const { base, options } = await this.prepare();
    const url = new URL(path.replace(/^\//, ''), `${base.href.endsWith('/') ? base.href : `${base.href}/`}`);
    this.counts.total++;
    this.onRequest?.(method, url.pathname + url.search);
    this.counts.byMethod[method] = (this.counts.byMethod[method] ?? 0) + 1;
    if (method !== 'GET' && method !== 'HEAD' && !url.searchParams.has('dryRun')) this.counts.writes++;
    const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const headers: Record<string, string> = { ...(options.headers as Record<string, string>), accept };
    if (payload) {
      headers['content-type'] = contentType;
      headers['content-length'] = String(payload.length);
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return await new Promise<KubeResponse>((resolve, reject) => {
      const req = send(
        url,
        { ...options, method, headers, agent: this.agent, timeout: this.timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            let text = Buffer.concat(chunks).toString('utf8');
            chunks.length = 0;
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            const status = res.statusCode ?? 0;
            // A parsed success body is all anyone reads; its text (a 1 MB CRD twice over) is not kept.
            if (parsed !== undefined && status >= 200 && status < 300) text = '';
            resolve({ status, body: parsed, text });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) =>
        reject(
          new PromoteError('KUBE_UNREACHABLE', `cannot reach the Kubernetes API server at ${this.server}: ${err.message}`, {
            cause: err,
            hint: 'check the server address and network access from the agent; the agent retries with backoff',
          }),
        ),
      );
      if (payload) req.write(payload);
      req.end();
    });
  }

  /** Like send, but a non-2xx answer throws a KubeApiError carrying the server's Status. */
  async call(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
    const res = await this.send(method, path, body, contentType);
    if (res.status < 200 || res.status >= 300) throw new KubeApiError(method, path, res);
    return res.body;
  }

  /**
   * A watch (`?watch=1`): each newline-delimited event goes to `onEvent` as it arrives; resolves
   * with the HTTP status when the server ends the stream (or at once for a non-200 answer, with
   * its body), rejects when the connection fails. Watches hold their connection for minutes, so
   * they get their own sockets rather than the 8 shared by requests. Counted like any request.
   */
  async watch(path: string, accept: string, onEvent: (event: unknown) => void, signal: AbortSignal, idleMs: number): Promise<KubeResponse> {
    const { base, options } = await this.prepare();
    const url = new URL(path.replace(/^\//, ''), `${base.href.endsWith('/') ? base.href : `${base.href}/`}`);
    this.counts.total++;
    this.onRequest?.('GET', url.pathname + url.search);
    this.counts.byMethod.GET = (this.counts.byMethod.GET ?? 0) + 1;
    const headers: Record<string, string> = { ...(options.headers as Record<string, string>), accept };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return await new Promise<KubeResponse>((resolve, reject) => {
      const req = send(url, { ...options, method: 'GET', headers, agent: this.watchAgent, timeout: idleMs, signal }, (res) => {
        const status = res.statusCode ?? 0;
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          pending += chunk;
          if (status !== 200) return;
          let nl: number;
          while ((nl = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            if (line.trim()) {
              try {
                onEvent(JSON.parse(line));
              } catch (err) {
                req.destroy(err as Error);
                return;
              }
            }
          }
        });
        res.on('error', reject);
        res.on('end', () => {
          let body: unknown;
          try {
            body = status !== 200 && pending ? JSON.parse(pending) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status, body, text: status === 200 ? '' : pending });
        });
      });
      // An idle watch must not keep a finished process alive.
      req.on('socket', (socket) => socket.unref());
      req.on('timeout', () => req.destroy(new Error(`watch idle for ${idleMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }
}

/** A kubeconfig whose user runs an exec plugin or an auth provider, or whose cluster has a proxy: client-node's. */
async function viaClientNode(conn: KubeConnection): Promise<ResolvedConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (conn.kubeconfig) kc.loadFromFile(conn.kubeconfig);
    else kc.loadFromDefault();
    if (conn.context) kc.setCurrentContext(conn.context);
  } catch (err) {
    throw new PromoteError('KUBE_CONFIG_INVALID', `cannot load the Kubernetes configuration: ${(err as Error).message}`, {
      cause: err,
      hint: 'pass --kubeconfig <file>, set KUBECONFIG, or run inside a cluster with a service account',
    });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new PromoteError('KUBE_CONFIG_INVALID', 'the Kubernetes configuration has no current cluster', {
      hint: 'pick a context with --context, or set current-context in the kubeconfig',
    });
  }
  return { server: cluster.server, apply: async (o) => await kc.applyToHTTPSOptions(o) };
}
