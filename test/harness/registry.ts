// Test harness: a real OCI registry (distribution 2.8, Debian `docker-registry`) on 127.0.0.1 with
// a free port and a temp storage dir, optionally behind htpasswd basic auth, token auth (a small
// in-process token server signing RS256 JWTs) or TLS with a generated CA, optionally POSTing its
// push events to webhook endpoints (`notifications`). Never the packaged
// /etc/docker/registry/config.yml: it binds all interfaces and its htpasswd path is broken
// (REGISTRY-NOTES.md). Key material is generated once per test process and reused, so starting
// several registries stays fast (a registry itself is ready in ~60 ms).
// The token server runs inside the calling process: while a child process (the CLI, skopeo)
// talks to a token-auth registry, do not block the event loop (no spawnSync/execFileSync), or
// the child waits forever for its token.
import { spawn, execFile } from 'node:child_process';
import { randomBytes, createPrivateKey, sign as cryptoSign, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile, readFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, delimiter } from 'node:path';
import { promisify } from 'node:util';
import { freePort, trackServer, type ServerProcess } from './process.ts';

export { freePort };

const execFileAsync = promisify(execFile);

export type AuthMode = 'none' | 'basic' | 'token';

export interface StartRegistryOptions {
  auth?: AuthMode;
  tls?: boolean;
  /** Token auth only: anonymous clients get pull scope (like a public repository). */
  anonPull?: boolean;
  /** Location headers relative (`/v2/...`) instead of absolute. */
  relativeUrls?: boolean;
  /** Webhook endpoints the registry POSTs its push events to (distribution's `notifications.endpoints`). */
  notifications?: NotificationEndpoint[];
}

/** One of distribution's `notifications.endpoints` (docs/about/configuration.md#notifications). */
export interface NotificationEndpoint {
  /** Default: `endpoint-<n>`. */
  name?: string;
  url: string;
  /** Sent as `Authorization: Bearer <bearer>`. */
  bearer?: string;
  headers?: Record<string, string[]>;
  /** Defaults below: answer within 1 s, back off 200 ms after 3 failures, so a test waits little. */
  timeout?: string;
  threshold?: number;
  backoff?: string;
  /** Default: pulls are not sent (a listener sees pushes only); `[]` sends every action. */
  ignoreActions?: string[];
}

export interface AccessLogEntry {
  method: string;
  /** Request URI as logged: path plus query. */
  path: string;
  status: number;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryServer {
  /** `127.0.0.1:PORT`, to prefix repository names: `${host}/acme/webapp`. */
  host: string;
  /** `http://127.0.0.1:PORT` or `https://…`. */
  url: string;
  storageDir: string;
  /** Credentials with pull and push on every repository (basic and token auth). */
  username?: string;
  password?: string;
  /** Token auth only: a user whose tokens carry `pull` and never `push` (insufficient scope). */
  readOnly?: Credentials;
  /** TLS only: the CA certificate (PEM) that signed the server certificate. */
  caFile?: string;
  /** TLS only: a directory holding just `ca.crt` (skopeo `--dest-cert-dir`/`--src-cert-dir`). */
  certDir?: string;
  /** Token auth only: the token server's URL (`realm`). */
  tokenUrl?: string;
  /** Token auth only: an OAuth2 refresh token for the main user (docker's `identitytoken`). */
  refreshToken?: string;
  /** The docker-registry process (benches read its CPU time from /proc/<pid>/stat). */
  pid: number;
  /** Requests the registry has completed so far (harness probes excluded), in log order. */
  requests(): Promise<AccessLogEntry[]>;
  /** Forgets the requests seen so far, so a test can count what one operation sends. */
  clearRequests(): Promise<void>;
  stop(): Promise<void>;
}

const SERVICE = 'test-registry';
const ISSUER = 'test-issuer';
/** Query marker on harness-made requests, filtered out of `requests()`. */
const PROBE = '__harness_probe';

function fail(message: string): never {
  throw new Error(`registry harness: ${message}`);
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, cmd)));
}

function requireTool(cmd: string, apt: string): void {
  if (!onPath(cmd)) fail(`\`${cmd}\` is not installed; run \`apt-get install -y ${apt}\``);
}

// From below the kernel's ephemeral range (32768+): a port the kernel calls free is in that
// range, and the outbound connections of parallel tests can take it before the registry binds.
async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (err) {
    fail(`openssl ${args.slice(0, 2).join(' ')} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  }
}

// ---- key material, made once per process -------------------------------------------------

export interface TlsMaterial { caCert: string; serverCert: string; serverKey: string }
interface SignerMaterial { cert: string; key: string }

let tlsMaterial: Promise<TlsMaterial> | undefined;
let signerMaterial: Promise<SignerMaterial> | undefined;

async function makeTlsMaterial(): Promise<TlsMaterial> {
  requireTool('openssl', 'openssl');
  const dir = await mkdtemp(join(tmpdir(), 'promote-reg-tls-'));
  try {
    // EC keys: generation is instant, unlike RSA.
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=promote test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
    await writeFile(join(dir, 'ext.cnf'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
    await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf'], dir);
    const [caCert, serverCert, serverKey] = await Promise.all(
      ['ca.crt', 'server.crt', 'server.key'].map((f) => readFile(join(dir, f), 'utf8')));
    return { caCert: caCert!, serverCert: serverCert!, serverKey: serverKey! };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The test CA and its certificate for 127.0.0.1 (made once per process): for any https server a test starts. */
export function testTlsMaterial(): Promise<TlsMaterial> {
  return (tlsMaterial ??= makeTlsMaterial());
}

async function makeSignerMaterial(): Promise<SignerMaterial> {
  requireTool('openssl', 'openssl');
  const dir = await mkdtemp(join(tmpdir(), 'promote-reg-signer-'));
  try {
    await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'signer.key', '-out', 'signer.crt',
      '-days', '2', '-subj', '/CN=promote test token signer'], dir);
    const [cert, key] = await Promise.all(['signer.crt', 'signer.key'].map((f) => readFile(join(dir, f), 'utf8')));
    return { cert: cert!, key: key! };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- token server ---------------------------------------------------------------------------

interface TokenUser { password: string; actions: string[]; refreshToken?: string }

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * The Docker token flow (distribution docs/spec/auth/token.md): GET /token?service=&scope=… with
 * optional Basic credentials; answers `{token, access_token, expires_in}` with a JWT whose
 * `access` claim is the requested scope cut down to what the user may do.
 */
async function startTokenServer(users: Map<string, TokenUser>, anonPull: boolean, signer: SignerMaterial): Promise<{ server: Server; url: string }> {
  const key = createPrivateKey(signer.key);
  const x5c = [new X509Certificate(signer.cert).raw.toString('base64')];
  const server = createHttpServer((req, res) => {
    if (req.method === 'POST') {
      // OAuth2 form (distribution docs/spec/auth/oauth.md): fold it into the GET handling below.
      let form = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => { form += d; });
      req.on('end', () => answer(req, res, new URLSearchParams(form)));
      return;
    }
    answer(req, res, undefined);
  });
  const answer = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, form: URLSearchParams | undefined) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (form) {
      for (const key of ['service', 'client_id']) if (form.has(key)) url.searchParams.set(key, form.get(key)!);
      for (const scope of (form.get('scope') ?? '').split(' ').filter(Boolean)) url.searchParams.append('scope', scope);
    }
    const deny = (status: number, message: string) => {
      res.writeHead(status, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="token"' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message }] }));
    };
    if (url.pathname !== '/token') return deny(404, 'not found');
    let subject = '';
    let allowed: string[] = [];
    const header = req.headers.authorization;
    if (form) {
      const grant = form.get('grant_type');
      const entry = grant === 'refresh_token'
        ? [...users.entries()].find(([, u]) => u.refreshToken !== undefined && u.refreshToken === form.get('refresh_token'))
        : grant === 'password' ? [...users.entries()].find(([n, u]) => n === form.get('username') && u.password === form.get('password')) : undefined;
      if (!entry) return deny(401, 'invalid grant');
      subject = entry[0];
      allowed = entry[1].actions;
    } else if (header?.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = users.get(decoded.slice(0, colon));
      if (!user || user.password !== decoded.slice(colon + 1)) return deny(401, 'invalid username or password');
      subject = decoded.slice(0, colon);
      allowed = user.actions;
    } else if (anonPull) {
      allowed = ['pull'];
    } else {
      return deny(401, 'authentication required');
    }
    const access = url.searchParams.getAll('scope').flatMap((scope) => {
      const parts = scope.split(':');
      if (parts.length < 3) return [];
      const actions = parts[parts.length - 1]!.split(',');
      const type = parts[0]!;
      const name = parts.slice(1, -1).join(':');
      const granted = type === 'registry' ? (allowed.includes('push') ? actions : []) : actions.filter((a) => allowed.includes(a));
      return granted.length ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const head = { alg: 'RS256', typ: 'JWT', x5c };
    const claims = { iss: ISSUER, sub: subject, aud: url.searchParams.get('service') ?? SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(head))}.${b64url(JSON.stringify(claims))}`;
    const token = `${input}.${b64url(cryptoSign('sha256', Buffer.from(input), key))}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(form
      ? { access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }
      : { token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }));
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { server, url: `http://127.0.0.1:${port}/token` };
}

// ---- the registry process -------------------------------------------------------------------

// gorilla/handlers combined log format: 127.0.0.1 - - [date] "GET /v2/ HTTP/1.1" 200 2 "" "agent"
const ACCESS_LINE = /^\S+ \S+ \S+ \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) /;

function probe(url: string, caCert: string | undefined, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, {
      method: 'GET', agent: false, ...(caCert !== undefined && { ca: caCert }),
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('probe timed out')));
    req.end();
  });
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RegistryServer> {
  requireTool('docker-registry', 'docker-registry');
  const auth = opts.auth ?? 'none';
  if (opts.anonPull && auth !== 'token') fail('anonPull needs auth: "token" (htpasswd auth has no anonymous access)');

  const dir = await mkdtemp(join(tmpdir(), 'promote-registry-'));
  const storageDir = join(dir, 'storage');
  await mkdir(storageDir);
  let tokenServer: Server | undefined;
  let server: ServerProcess | undefined;
  const cleanup = async () => {
    if (tokenServer) await new Promise<void>((r) => tokenServer!.close(() => r()));
    tokenServer?.closeAllConnections();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const scheme = opts.tls ? 'https' : 'http';
    const url = `${scheme}://${host}`;
    const result: Partial<RegistryServer> = { host, url, storageDir };
    const lines = [
      'version: 0.1',
      'log: {level: warn, formatter: text, accesslog: {disabled: false}}',
      'storage:',
      `  filesystem: {rootdirectory: ${JSON.stringify(storageDir)}}`,
      '  delete: {enabled: true}',
      '  cache: {blobdescriptor: inmemory}',
      '  maintenance: {uploadpurging: {enabled: false}}',
      'http:',
      `  addr: ${host}`,
      `  secret: ${randomBytes(16).toString('hex')}`,
      `  relativeurls: ${opts.relativeUrls ? 'true' : 'false'}`,
      '  headers: {X-Content-Type-Options: [nosniff]}',
    ];

    if (opts.notifications?.length) {
      // Flow-style YAML with JSON-quoted values: a URL or a header never needs escaping rules.
      lines.push('notifications:', '  endpoints:');
      opts.notifications.forEach((e, i) => {
        const headers = { ...e.headers, ...(e.bearer !== undefined && { Authorization: [`Bearer ${e.bearer}`] }) };
        lines.push(`    - name: ${JSON.stringify(e.name ?? `endpoint-${i + 1}`)}`, `      url: ${JSON.stringify(e.url)}`,
          `      headers: ${JSON.stringify(headers)}`, `      timeout: ${e.timeout ?? '1s'}`, `      threshold: ${e.threshold ?? 3}`,
          `      backoff: ${e.backoff ?? '200ms'}`, `      ignore: {actions: ${JSON.stringify(e.ignoreActions ?? ['pull'])}}`);
      });
    }

    let caCert: string | undefined;
    if (opts.tls) {
      const tls = await testTlsMaterial();
      caCert = tls.caCert;
      const certDir = join(dir, 'certs.d');
      await mkdir(certDir);
      await writeFile(join(certDir, 'ca.crt'), tls.caCert);
      await writeFile(join(dir, 'server.crt'), tls.serverCert);
      await writeFile(join(dir, 'server.key'), tls.serverKey, { mode: 0o600 });
      lines.push(`  tls: {certificate: ${JSON.stringify(join(dir, 'server.crt'))}, key: ${JSON.stringify(join(dir, 'server.key'))}}`);
      result.caFile = join(certDir, 'ca.crt');
      result.certDir = certDir;
    }

    if (auth === 'basic') {
      requireTool('htpasswd', 'apache2-utils');
      const username = 'promote';
      const password = randomBytes(9).toString('base64url');
      // bcrypt only: distribution ignores other htpasswd hash types.
      const { stdout } = await execFileAsync('htpasswd', ['-Bbn', '-C', '4', username, password]);
      await writeFile(join(dir, 'htpasswd'), stdout.trim() + '\n');
      lines.push(`auth: {htpasswd: {realm: ${SERVICE}, path: ${JSON.stringify(join(dir, 'htpasswd'))}}}`);
      Object.assign(result, { username, password });
    } else if (auth === 'token') {
      signerMaterial ??= makeSignerMaterial();
      const signer = await signerMaterial;
      await writeFile(join(dir, 'signer.crt'), signer.cert);
      const main = { username: 'promote', password: randomBytes(9).toString('base64url') };
      const readOnly = { username: 'reader', password: randomBytes(9).toString('base64url') };
      const refreshToken = randomBytes(18).toString('base64url');
      const users = new Map<string, TokenUser>([
        [main.username, { password: main.password, actions: ['pull', 'push', 'delete', '*'], refreshToken }],
        [readOnly.username, { password: readOnly.password, actions: ['pull'] }],
      ]);
      const ts = await startTokenServer(users, opts.anonPull ?? false, signer);
      tokenServer = ts.server;
      lines.push(`auth: {token: {realm: ${JSON.stringify(ts.url)}, service: ${SERVICE}, issuer: ${ISSUER}, rootcertbundle: ${JSON.stringify(join(dir, 'signer.crt'))}}}`);
      Object.assign(result, { username: main.username, password: main.password, readOnly, tokenUrl: ts.url, refreshToken });
    }

    const configFile = join(dir, 'config.yml');
    await writeFile(configFile, lines.join('\n') + '\n');

    const log: AccessLogEntry[] = [];
    let sentinel = 0;
    const waiters: Array<{ marker: string; resolve: () => void }> = [];
    const proc = trackServer(spawn('docker-registry', ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] }));
    server = proc;
    // Access log lines go to stdout, application logs to stderr.
    let pending = '';
    proc.child.stdout!.setEncoding('utf8');
    proc.child.stdout!.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const m = ACCESS_LINE.exec(line);
        if (!m) continue;
        const [, method, path, status] = m;
        if (path!.includes(PROBE)) {
          for (let i = waiters.length - 1; i >= 0; i--) {
            if (path!.includes(waiters[i]!.marker)) waiters.splice(i, 1)[0]!.resolve();
          }
          continue;
        }
        log.push({ method: method!, path: path!, status: Number(status) });
      }
    });

    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exited()) fail(`docker-registry exited during start-up:\n${proc.stderrTail()}`);
      try {
        const status = await probe(url, caCert, `/v2/?${PROBE}=ready`);
        if (status === 200 || status === 401) break;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) fail(`docker-registry did not answer on ${url}/v2/ within 10 s:\n${proc.stderrTail()}`);
      await new Promise((r) => setTimeout(r, 15));
    }

    // The access log is written after a response is sent; a probe request made after the
    // operation under test, once logged, proves every earlier request is logged too.
    const flush = async () => {
      if (proc.exited()) return;
      const marker = `${PROBE}=s${++sentinel}`;
      const seen = new Promise<void>((resolve) => waiters.push({ marker, resolve }));
      await probe(url, caCert, `/v2/?${marker}`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([seen, new Promise((r) => { timer = setTimeout(r, 2000); })]);
      clearTimeout(timer);
    };

    let stopped = false;
    server = undefined;
    return {
      ...result,
      host,
      url,
      storageDir,
      pid: proc.child.pid!,
      async requests() {
        await flush();
        return log.slice();
      },
      async clearRequests() {
        await flush();
        log.length = 0;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        // The registry exits within milliseconds of SIGTERM.
        await proc.stop(3000);
        await cleanup();
      },
    } as RegistryServer;
  } catch (err) {
    await server?.kill();
    await cleanup();
    throw err;
  }
}
