import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { RequestOptions } from 'node:https';
import { parse } from 'yaml';
import { PromoteError } from '../../../errors.ts';

// The kubeconfig cases an agent meets most — a token, a token file, client certificates, the
// in-cluster service account — read here, because @kubernetes/client-node costs 40–90 MiB of
// memory once imported (its config module loads every generated API model), a third of an
// agent's budget. Exec plugins, legacy auth providers and proxies stay with client-node
// (client.ts), imported only for a kubeconfig that uses them.

export interface KubeconfigSource {
  kubeconfig?: string;
  context?: string;
  server?: string;
  token?: string;
  caFile?: string;
}

/** What a request needs: the server and a function that fills in TLS and credentials. */
export interface ResolvedConfig {
  server: string;
  apply: (options: RequestOptions) => Promise<void>;
}

const SA = '/var/run/secrets/kubernetes.io/serviceaccount';

interface NamedCluster { name: string; cluster?: Record<string, unknown> }
interface NamedUser { name: string; user?: Record<string, unknown> }
interface NamedContext { name: string; context?: { cluster?: string; user?: string } }
interface Kubeconfig { clusters: NamedCluster[]; users: NamedUser[]; contexts: NamedContext[]; current?: string; dirs: Map<object, string> }

function invalid(message: string, cause?: unknown): PromoteError {
  return new PromoteError('KUBE_CONFIG_INVALID', `cannot load the Kubernetes configuration: ${message}`, {
    ...(cause !== undefined && { cause }),
    hint: 'pass --kubeconfig <file>, set KUBECONFIG, or run inside a cluster with a service account',
  });
}

/** The kubeconfig files to read, as kubectl picks them: --kubeconfig, else $KUBECONFIG's list, else ~/.kube/config. */
function files(conn: KubeconfigSource): string[] {
  if (conn.kubeconfig) return [conn.kubeconfig];
  if (process.env.KUBECONFIG) return process.env.KUBECONFIG.split(':').filter((f) => f && existsSync(f));
  const home = join(homedir(), '.kube', 'config');
  return existsSync(home) ? [home] : [];
}

/** Merged as kubectl merges them: the first file to name a cluster, user, context or current-context wins. */
function load(paths: string[]): Kubeconfig {
  const out: Kubeconfig = { clusters: [], users: [], contexts: [], dirs: new Map() };
  for (const path of paths) {
    let doc: Record<string, unknown>;
    try {
      doc = (parse(readFileSync(path, 'utf8')) ?? {}) as Record<string, unknown>;
    } catch (err) {
      throw invalid(`${path}: ${(err as Error).message}`, err);
    }
    const add = <T extends { name: string }>(list: T[], items: unknown): void => {
      for (const it of Array.isArray(items) ? (items as T[]) : []) {
        if (it && typeof it.name === 'string' && !list.some((x) => x.name === it.name)) {
          list.push(it);
          out.dirs.set(it, dirname(path));
        }
      }
    };
    add(out.clusters, doc.clusters);
    add(out.users, doc.users);
    add(out.contexts, doc.contexts);
    if (!out.current && typeof doc['current-context'] === 'string' && doc['current-context']) out.current = doc['current-context'];
  }
  return out;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The configuration for `conn`, or undefined when it needs client-node (an exec plugin, an auth
 * provider, a proxy). Credentials from files are re-read at each `apply` (tokens rotate).
 */
export function resolveKubeconfig(conn: KubeconfigSource): ResolvedConfig | undefined {
  if (conn.server) {
    const server = conn.server;
    return {
      server,
      apply: async (o) => {
        if (conn.caFile) o.ca = readFileSync(conn.caFile);
        if (conn.token) o.headers = { ...(o.headers as object), authorization: `Bearer ${conn.token}` };
      },
    };
  }
  const paths = files(conn);
  if (paths.length === 0) {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    if (!host || !existsSync(join(SA, 'token'))) throw invalid('no kubeconfig found and not running inside a cluster');
    const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
    return {
      server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
      apply: async (o) => {
        o.ca = readFileSync(join(SA, 'ca.crt'));
        o.headers = { ...(o.headers as object), authorization: `Bearer ${readFileSync(join(SA, 'token'), 'utf8').trim()}` };
      },
    };
  }
  const kc = load(paths);
  const name = conn.context ?? kc.current;
  if (!name) throw invalid('the kubeconfig has no current-context (pick one with --context)');
  const ctx = kc.contexts.find((c) => c.name === name);
  if (!ctx) throw invalid(`the kubeconfig has no context ${JSON.stringify(name)}`);
  const namedCluster = kc.clusters.find((c) => c.name === ctx.context?.cluster);
  const cluster = namedCluster?.cluster;
  if (!cluster || !str(cluster.server)) throw invalid(`context ${JSON.stringify(name)} names no cluster with a server`);
  const namedUser = kc.users.find((u) => u.name === ctx.context?.user);
  const user = namedUser?.user ?? {};
  if (user.exec || user['auth-provider'] || cluster['proxy-url']) return undefined;
  const rel = (owner: object | undefined, p: string): string => (isAbsolute(p) || !owner ? p : join(kc.dirs.get(owner) ?? '.', p));
  const bytes = (owner: object | undefined, data: unknown, file: unknown): Buffer | undefined => {
    if (str(data)) return Buffer.from(data as string, 'base64');
    if (str(file)) return readFileSync(rel(owner, file as string));
    return undefined;
  };
  return {
    server: cluster.server as string,
    apply: async (o) => {
      const ca = bytes(namedCluster, cluster['certificate-authority-data'], cluster['certificate-authority']);
      if (ca) o.ca = ca;
      if (cluster['insecure-skip-tls-verify'] === true) o.rejectUnauthorized = false;
      if (str(cluster['tls-server-name'])) o.servername = cluster['tls-server-name'] as string;
      const cert = bytes(namedUser, user['client-certificate-data'], user['client-certificate']);
      const key = bytes(namedUser, user['client-key-data'], user['client-key']);
      if (cert) o.cert = cert;
      if (key) o.key = key;
      const token = str(user.token) ?? (str(user.tokenFile) ? readFileSync(rel(namedUser, user.tokenFile as string), 'utf8').trim() : undefined);
      if (token) o.headers = { ...(o.headers as object), authorization: `Bearer ${token}` };
      else if (str(user.username)) o.headers = { ...(o.headers as object), authorization: `Basic ${Buffer.from(`${user.username}:${str(user.password) ?? ''}`).toString('base64')}` };
    },
  };
}
