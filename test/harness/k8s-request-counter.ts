// Test harness: a loopback HTTPS proxy in front of the test API server (test/harness/kubernetes.ts)
// that counts what a client sends — by Kubernetes verb and by path class, with body bytes each
// way — so a test or bench can hold the agent and kubectl to the same count. It serves the API
// server's own certificate (valid for 127.0.0.1, signed by the run's CA), so a kubeconfig for it
// differs from the real one only in the port. Requests are streamed both ways (watches work);
// credentials pass through untouched. Node's https server speaks HTTP/1.1 only: a client that
// would use HTTP/2 with the API server (kubectl) falls back to HTTP/1.1 through the proxy, which
// changes connections, not requests.
import { readFile, writeFile } from 'node:fs/promises';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { KubeServer } from './kubernetes.ts';

/** get, list, watch, create, update, patch, delete, deletecollection (the API server's own verbs); `other` for anything else. */
export type KubeVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'other';

/** discovery: /api, /apis, /apis/G, /apis/G/V, /api/v1 resource lists, /openapi, /version; object: one named object (or its subresource); collection: a list of a resource. */
export type PathClass = 'discovery' | 'object' | 'collection' | 'other';

export interface CountedRequest {
  method: string;
  /** Path and query, as sent. */
  path: string;
  verb: KubeVerb;
  pathClass: PathClass;
  /** `?dryRun=All`: asks, changes nothing. */
  dryRun: boolean;
  /** The answer's status (0 until it arrives, or when the API server dropped the connection). */
  status: number;
  /** Body bytes sent by the client. */
  requestBytes: number;
  /** Body bytes of the answer, as on the wire (compressed if the client asked for it). */
  responseBytes: number;
}

export interface RequestTally {
  total: number;
  /** By verb; dry runs are counted under `<verb> (dry run)`, not under the verb. */
  byVerb: Record<string, number>;
  byClass: Record<PathClass, number>;
  /** Requests that may change the cluster: create/update/patch/delete/deletecollection, not dry runs. */
  writes: number;
  requestBytes: number;
  responseBytes: number;
}

export interface KubeRequestCounter {
  /** `https://127.0.0.1:PORT`, serving the API server's certificate (trust `caFile`). */
  server: string;
  caFile: string;
  /** Every request since the start or the last reset(), in arrival order. */
  readonly requests: readonly CountedRequest[];
  /** Totals over `requests` (optionally only those `filter` keeps). */
  tally(filter?: (r: CountedRequest) => boolean): RequestTally;
  reset(): void;
  /** Writes a kubeconfig for the proxy with the admin token (or `token`) and returns `path`. */
  writeKubeconfig(path: string, token?: string): Promise<string>;
  stop(): Promise<void>;
}

const WRITE_VERBS = new Set<KubeVerb>(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Verb and path class of one request, as the API server's request-info resolver sees them (simplified). */
export function classifyRequest(method: string, pathAndQuery: string): { verb: KubeVerb; pathClass: PathClass; dryRun: boolean } {
  const url = new URL(pathAndQuery, 'http://x');
  const dryRun = url.searchParams.has('dryRun');
  const parts = url.pathname.split('/').filter(Boolean);
  let rest: string[] | undefined;
  if (parts[0] === 'api') rest = parts.length >= 2 ? parts.slice(2) : [];
  else if (parts[0] === 'apis') rest = parts.length >= 3 ? parts.slice(3) : [];
  const m = method.toUpperCase();
  if (rest === undefined || rest.length === 0) {
    const discovery = rest !== undefined || parts[0] === 'openapi' || parts[0] === 'version';
    return { verb: m === 'GET' ? 'get' : 'other', pathClass: discovery ? 'discovery' : 'other', dryRun };
  }
  // [namespaces, NS, resource, name?, sub?] or [resource, name?, sub?]; `namespaces/NS` alone is the Namespace object.
  const resource = rest[0] === 'namespaces' && rest.length >= 3 ? rest.slice(2) : rest;
  const named = resource.length >= 2;
  const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1' || resource[0] === 'watch';
  let verb: KubeVerb;
  if (m === 'GET') verb = watch ? 'watch' : named ? 'get' : 'list';
  else if (m === 'POST') verb = 'create';
  else if (m === 'PUT') verb = 'update';
  else if (m === 'PATCH') verb = 'patch';
  else if (m === 'DELETE') verb = named ? 'delete' : 'deletecollection';
  else verb = 'other';
  return { verb, pathClass: named ? 'object' : 'collection', dryRun };
}

export function tallyRequests(requests: readonly CountedRequest[]): RequestTally {
  const t: RequestTally = { total: 0, byVerb: {}, byClass: { discovery: 0, object: 0, collection: 0, other: 0 }, writes: 0, requestBytes: 0, responseBytes: 0 };
  for (const r of requests) {
    t.total++;
    const key = r.dryRun ? `${r.verb} (dry run)` : r.verb;
    t.byVerb[key] = (t.byVerb[key] ?? 0) + 1;
    t.byClass[r.pathClass]++;
    if (!r.dryRun && WRITE_VERBS.has(r.verb)) t.writes++;
    t.requestBytes += r.requestBytes;
    t.responseBytes += r.responseBytes;
  }
  return t;
}

/** `get 131, patch 131, list 2` — the verbs of a tally, most frequent first. */
export function formatVerbs(t: RequestTally): string {
  return Object.entries(t.byVerb).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([v, n]) => `${v} ${n}`).join(', ');
}

export async function startKubeRequestCounter(kube: Pick<KubeServer, 'server' | 'caFile' | 'token' | 'runDir'>): Promise<KubeRequestCounter> {
  const upstream = new URL(kube.server);
  const ca = await readFile(kube.caFile);
  const pki = join(kube.runDir, 'pki');
  const [cert, key] = await Promise.all([readFile(join(pki, 'apiserver.crt')), readFile(join(pki, 'apiserver.key'))]);
  const agent = new Agent({ keepAlive: true, ca });
  let requests: CountedRequest[] = [];

  const server: Server = createServer({ cert, key }, (req, res) => {
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    const entry: CountedRequest = { method, path, ...classifyRequest(method, path), status: 0, requestBytes: 0, responseBytes: 0 };
    requests.push(entry);
    const headers = { ...req.headers, host: upstream.host };
    const out = request({ protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port, method, path, headers, agent }, (up) => {
      entry.status = up.statusCode ?? 0;
      res.writeHead(up.statusCode ?? 502, up.statusMessage, up.headers);
      up.on('data', (c: Buffer) => { entry.responseBytes += c.length; });
      up.pipe(res);
    });
    // The API server dropping the connection (v1.20 panics on server-side apply of an APIService)
    // is passed on as a dropped connection, not turned into an answer: clients react to each differently.
    out.on('error', () => {
      entry.status = 0;
      res.destroy();
      req.socket.destroy();
    });
    // A client that goes away (a watch stopped) ends the upstream request too.
    res.on('close', () => out.destroy());
    req.on('data', (c: Buffer) => { entry.requestBytes += c.length; });
    req.pipe(out);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    server: url,
    caFile: kube.caFile,
    get requests() {
      return requests;
    },
    tally: (filter) => tallyRequests(filter ? requests.filter(filter) : requests),
    reset: () => {
      requests = [];
    },
    writeKubeconfig: async (path, token = kube.token) => {
      await writeFile(path, JSON.stringify({
        apiVersion: 'v1', kind: 'Config', 'current-context': 'counted',
        clusters: [{ name: 'counted', cluster: { server: url, 'certificate-authority': kube.caFile } }],
        users: [{ name: 'admin', user: { token } }],
        contexts: [{ name: 'counted', context: { cluster: 'counted', user: 'admin' } }],
      }));
      return path;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      agent.destroy();
    },
  };
}
