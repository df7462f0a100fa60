import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import { PromoteError } from '../errors.ts';
import { stageRepository } from '../pipeline/pipeline.ts';
import type { Project } from './project.ts';
import { authenticated } from './webhook-auth.ts';
import { concerns, describeEvent, parseWebhook, repositoryPath, type WebhookInterest } from './webhook-events.ts';

// `promote run --listen`: an HTTP receiver for registry and git push webhooks that wakes the
// run loop at once instead of at the next --interval. It answers before any pass runs (202): a
// registry's notification queue and a git host's delivery must not wait on a promotion. It
// decides nothing itself: an event only says "look now", and the pass verifies what it finds.

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/**
 * Open connections at once; more are closed on arrival. The receiver shares its process (and its
 * file descriptors) with the run loop's git and registry connections: a sender opening sockets
 * faster than the header timeout closes them must not starve the passes. Real senders deliver
 * one request at a time and close it.
 */
export const DEFAULT_MAX_CONNECTIONS = 64;
/**
 * How long the run loop lets a burst settle after the first event before its pass: CI pushes a
 * bundle and then its signature (and distribution sends each manifest on its own), and a pass
 * started on the first would find the bundle unsigned and need a second one.
 */
export const DEFAULT_SETTLE_MS = 500;
/**
 * The least time between the start of a pass and a pass woken by agents' status reports alone.
 * Every agent's report is a registry push and distribution cannot filter notifications by tag,
 * so a fleet of N clusters sends N within an interval of a promotion (and ~N per 10 minutes
 * idle: docs/fleet.md). A report only matters to the gates that judge all of a stage's reports
 * at once (converged, soak, the wave check), so such pushes wake one pass per this time; any
 * other push wakes one at once.
 */
export const DEFAULT_REPORT_WAKE_MS = 30_000;

/** A registry push of a status report (`status-<stage>-<cluster>`, records/status-report.ts). */
export function isReportPush(event: { kind: string; tag?: string }): boolean {
  return event.kind === 'image-push' && typeof event.tag === 'string' && event.tag.startsWith('status-');
}

export interface ListenOptions {
  /** `host:port` (or `[v6]:port`), bound exactly; port 0 takes a free one (logged). */
  address: string;
  /** The shared secret every request must prove (webhook-auth.ts). */
  secret: string;
  maxBodyBytes?: number;
  requestTimeoutMs?: number;
  maxConnections?: number;
  /** Run loop only: DEFAULT_SETTLE_MS. */
  settleMs?: number;
  /** Run loop only: DEFAULT_REPORT_WAKE_MS. */
  reportWakeMs?: number;
}

export interface Listener {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  close(): Promise<void>;
}

/** `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080` → host and port; a missing host is refused (no implicit all-interfaces). */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  const host = m ? (m[1] ?? m[2]!) : '';
  if (!m || port > 65535 || (m[1] !== undefined && isIP(host) !== 6)) {
    throw new PromoteError('LISTEN_ADDRESS_INVALID', `--listen ${JSON.stringify(text)} is not a host:port address`, {
      outcome: 'usage',
      hint: 'name the interface and port to bind, e.g. --listen 127.0.0.1:8080 (or 0.0.0.0:8080 for every interface, behind TLS)',
    });
  }
  return { host, port };
}

/** The shared secret: the file's content (trailing newline dropped), else PROMOTE_LISTEN_SECRET. Never empty. */
export async function readListenSecret(file: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  let secret: string | undefined;
  if (file !== undefined) {
    try {
      secret = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new PromoteError('LISTEN_SECRET_MISSING', `cannot read the listen secret file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { outcome: 'usage', hint: 'give a readable file holding the shared secret', cause: err });
    }
    if (secret === '') throw new PromoteError('LISTEN_SECRET_MISSING', `the listen secret file ${file} is empty`, { outcome: 'usage', hint: 'write the shared secret into it, e.g. openssl rand -hex 32 > <file>' });
  } else {
    secret = env.PROMOTE_LISTEN_SECRET || undefined;
  }
  if (!secret) {
    throw new PromoteError('LISTEN_SECRET_MISSING', '--listen needs a shared secret to authenticate webhooks', {
      outcome: 'usage',
      hint: 'pass --listen-secret-file <file> or set PROMOTE_LISTEN_SECRET (e.g. openssl rand -hex 32), and configure the same secret in the registry and git host (docs/webhooks.md)',
    });
  }
  return secret;
}

const execFileAsync = promisify(execFile);

/** The project directory's own git remote and branch, when it is a checkout (the config repository). */
async function configRepository(root: string, env: NodeJS.ProcessEnv): Promise<{ url: string; branch: string } | undefined> {
  const git = (args: string[]) => execFileAsync('git', ['-C', root, ...args], { env: { ...env, GIT_TERMINAL_PROMPT: '0' }, timeout: 5000 }).then((r) => r.stdout.trim());
  try {
    const [url, branch] = await Promise.all([git(['remote', 'get-url', 'origin']), git(['symbolic-ref', '--short', 'HEAD'])]);
    return url && branch ? { url, branch } : undefined;
  } catch {
    return undefined;
  }
}

/** What wakes this project's passes: pushes to any stage's repository, to the ledger branch, to the config repository's branch. */
export async function projectInterest(project: Project): Promise<WebhookInterest> {
  const p = project.pipeline;
  const repositories = [...new Set([p.repository, ...p.stages.map((s) => stageRepository(p, s))].map(repositoryPath).filter((r): r is string => !!r))];
  const git: WebhookInterest['git'] = [{ url: p.ledger.repository, branch: project.ledger.branchName, why: `a push to the ledger branch ${project.ledger.branchName}` }];
  const config = await configRepository(project.root, project.options.env ?? process.env);
  if (config) git.push({ ...config, why: `a push to the configuration repository's branch ${config.branch}` });
  return { repositories, git };
}

function answer(res: ServerResponse, status: number, body: object): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** Reads at most `max` bytes of body; undefined when it is larger (the rest is not read). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > max) {
        over = true;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => { if (!over) resolve(Buffer.concat(chunks)); });
    req.on('error', reject);
    // Cut off (the request timeout) before its end: settled, so the handler does not linger.
    req.on('close', () => { if (!req.complete && !over) reject(new Error('request closed before its end')); });
  });
}

/**
 * Starts the receiver. `wake(reason, {reports})` is called (synchronously, once per request that
 * concerns the project) after the request is authenticated and parsed; `reports` when every
 * event that concerns it is a status report's push. Coalescing passes is the caller's.
 */
export async function startListener(options: ListenOptions, interest: WebhookInterest, wake: (reason: string, kind: { reports: boolean }) => void, printLine: (line: string) => void): Promise<Listener> {
  const { host, port } = parseListenAddress(options.address);
  // Names and refs come from the payload: one line each, printable, bounded (no forged log lines).
  const log = (line: string): void => printLine(line.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?').slice(0, 400));
  const max = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.method === 'HEAD' ? undefined : 'ok\n');
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return answer(res, 405, { error: 'method not allowed' });
    }
    const tooLarge = () => {
      res.setHeader('connection', 'close');
      answer(res, 413, { error: `body larger than ${max} bytes` });
      log(`listen: refused a request from ${req.socket.remoteAddress}: body over ${max} bytes`);
    };
    if (Number(req.headers['content-length'] ?? 0) > max) return tooLarge();
    const body = await readBody(req, max);
    if (!body) {
      // Once the 413 is out: the rest of the body is not worth receiving.
      res.on('finish', () => req.destroy());
      return tooLarge();
    }
    if (!authenticated(req.headers, body, options.secret)) {
      log(`listen: refused a request from ${req.socket.remoteAddress}: not authenticated`);
      return answer(res, 401, { error: 'unauthorized' });
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      log('listen: ignored a request whose body is not JSON');
      return answer(res, 400, { error: 'the body is not JSON' });
    }
    const parsed = parseWebhook(req.headers, json);
    if ('kind' in parsed) {
      if (!parsed.quiet) log(`listen: ignored: ${parsed.description}`);
      return answer(res, 202, { wake: false, ignored: parsed.description });
    }
    let woke: string | undefined;
    let reports = true;
    for (const event of parsed.events) {
      const why = concerns(event, interest);
      log(`listen: ${describeEvent(event)}: ${why ? (isReportPush(event) ? 'a status report: wakes a pass (at most one per report wake time)' : 'wakes a pass') : 'ignored (not this pipeline)'}`);
      if (why && !isReportPush(event)) reports = false;
      woke ??= why;
    }
    if (woke) wake(woke, { reports });
    answer(res, 202, { wake: !!woke, events: parsed.events.length });
  };
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  // A bounded time for a request to arrive whole: a sender that trickles bytes is cut off. Node
  // checks it every connectionsCheckingInterval (30 s by default, longer than the limit itself).
  const server = createServer({
    requestTimeout,
    headersTimeout: Math.min(requestTimeout, 5000),
    keepAliveTimeout: 5000,
    connectionsCheckingInterval: Math.min(1000, requestTimeout),
  }, (req, res) => {
    handle(req, res).catch(() => {
      answer(res, 400, { error: 'bad request' });
      req.destroy();
    });
  });
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new PromoteError('LISTEN_FAILED', `cannot listen on ${options.address}: ${err.code ?? err.message}`, {
      outcome: 'failed',
      hint: err.code === 'EADDRINUSE' ? 'another process holds that port: choose another --listen port' : 'check the address is one of this machine\'s interfaces',
      cause: err,
    })));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
