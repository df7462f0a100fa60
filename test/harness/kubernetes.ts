// Test harness: a real Kubernetes API server (v1.20.2 + etcd, built from Debian's archive by
// scripts/k8s/build-k8s-from-debian.sh) on 127.0.0.1, with free ports and a temp run dir.
// The build is cached outside the clone (PROMOTE_K8S_PREFIX, default ~/.cache/promote/k8s);
// when it is missing it is built here (≈ 5 min cold on 2 cores, < 1 s when cached).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const SCRIPTS = resolve(import.meta.dirname, '../../scripts/k8s');

export interface KubeServer {
  /** `https://127.0.0.1:PORT` */
  server: string;
  caFile: string;
  /** Bearer token of a `system:masters` admin. */
  token: string;
  /** Bearer token of `alice` (group `developers`), who has no permissions until a test grants them. */
  userToken: string;
  runDir: string;
  /** One request as the admin (or another token); resolves with status and parsed body. */
  api(method: string, path: string, body?: unknown, options?: { contentType?: string; token?: string }): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export function k8sPrefix(): string {
  return process.env.PROMOTE_K8S_PREFIX ?? join(homedir(), '.cache', 'promote', 'k8s');
}

/** Builds Kubernetes into the cache unless it is there already (idempotent, stamps). */
export async function ensureKubernetesBuild(): Promise<string> {
  const prefix = k8sPrefix();
  if (!existsSync(join(prefix, 'bin', 'kube-apiserver')) || !existsSync(join(prefix, 'bin', 'etcd'))) {
    await execFileAsync(join(SCRIPTS, 'build-k8s-from-debian.sh'), [prefix], { maxBuffer: 256 * 1024 * 1024, timeout: 40 * 60_000 });
  }
  return prefix;
}

// Ports come from below the kernel's ephemeral range (32768+ on Linux): a port the kernel hands
// out as "free" (listen on 0) is in that range, and the API server's own client connections to
// etcd can take it between our check and the controller manager binding it (seen in CI).
async function canBind(port: number): Promise<boolean> {
  return await new Promise((ok) => {
    const s = createServer();
    s.once('error', () => ok(false));
    s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
  });
}

async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (!ports.includes(port) && (await canBind(port))) ports.push(port);
  }
  return ports;
}

function envValue(text: string, name: string): string {
  const m = new RegExp(`^export ${name}=(.*)$`, 'm').exec(text);
  if (!m) throw new Error(`env.sh has no ${name}`);
  return m[1]!.trim();
}

export async function startKubernetes(): Promise<KubeServer> {
  const prefix = await ensureKubernetesBuild();
  let runDir = '';
  let stop = async (): Promise<void> => {};
  // A port taken between our check and the bind ("port N busy") is retried with fresh ports.
  for (let attempt = 1; ; attempt++) {
    runDir = await mkdtemp(join(tmpdir(), 'promote-k8s-'));
    const [etcd, peer, api, kcm] = await freePorts(4);
    const env = { ...process.env, K8S_ETCD_PORT: String(etcd), K8S_ETCD_PEER_PORT: String(peer), K8S_API_PORT: String(api), K8S_KCM_PORT: String(kcm) };
    const dir = runDir;
    stop = async () => {
      await execFileAsync(join(SCRIPTS, 'stop-k8s.sh'), [prefix, dir, '--purge'], { env }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await execFileAsync(join(SCRIPTS, 'start-k8s.sh'), [prefix, runDir], { env, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 });
      break;
    } catch (err) {
      await stop();
      const busy = /busy/.test(String((err as { stderr?: unknown }).stderr ?? ''));
      if (!busy || attempt >= 3) throw err;
    }
  }
  const text = await readFile(join(runDir, 'env.sh'), 'utf8');
  const server = envValue(text, 'K8S_SERVER');
  const caFile = envValue(text, 'K8S_CA');
  const token = envValue(text, 'K8S_TOKEN');
  const userToken = envValue(text, 'K8S_USER_TOKEN');
  const ca = await readFile(caFile);
  const api: KubeServer['api'] = (method, path, body, options = {}) =>
    new Promise((ok, fail) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        new URL(path, server),
        {
          method,
          ca,
          headers: {
            authorization: `Bearer ${options.token ?? token}`,
            accept: 'application/json',
            ...(payload ? { 'content-type': options.contentType ?? 'application/json', 'content-length': String(payload.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const t = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = t;
            try {
              parsed = JSON.parse(t);
            } catch {
              /* not JSON */
            }
            ok({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('error', fail);
      if (payload) req.write(payload);
      req.end();
    });
  return { server, caFile, token, userToken, runDir, api, stop };
}

/** A kubeconfig at `path` for the admin token of `kube`, as a user would hand one to `promote agent --kubeconfig`. */
export async function writeKubeconfig(kube: KubeServer, path: string): Promise<string> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'test',
    clusters: [{ name: 'test', cluster: { server: kube.server, 'certificate-authority': kube.caFile } }],
    users: [{ name: 'admin', user: { token: kube.token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin' } }],
  }));
  return path;
}
