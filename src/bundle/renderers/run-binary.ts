import { spawn } from 'node:child_process';
import { PromoteError } from '../../errors.ts';
import { formatBytes } from '../../params/limits.ts';
import { redact } from '../../redact.ts';
import type { RendererOptions } from './renderer.ts';

// Running a renderer's binary (helm, kustomize) bounded and offline (issue 15 "Rendering is
// offline, bounded and recorded"): a clean environment — none of the caller's variables, so no
// credential, kubeconfig or proxy setting of theirs reaches it —, HOME and the tool's cache and
// config directories in a private scratch directory (no repositories or plugins the user added),
// every proxy pointed at a closed loopback port so any network attempt fails at once, a
// wall-clock limit and a cap on what it may print. Output is collected whole: a render is applied
// whole (BUNDLE_MAX_MANIFESTS_TOTAL_BYTES bounds it).

/** Default wall-clock limit of one render: 60 s (PROMOTE_RENDER_TIMEOUT overrides, in seconds). */
export const RENDER_TIMEOUT_MS = 60_000;

/** A loopback port nothing listens on: a binary that tries the network fails, never waits. */
const NO_NETWORK = 'http://127.0.0.1:9';

export interface BinaryRun {
  /** Absolute path of the binary. */
  binary: string;
  args: readonly string[];
  cwd: string;
  /** The scratch directory that stands in for HOME. */
  home: string;
  /** Variables the tool needs beyond the offline defaults (its own cache/config homes). */
  env?: Record<string, string>;
  timeoutMs: number;
  maxOutputBytes: number;
  /** `helm template for bundle x`, for messages. */
  what: string;
}

export function offlineEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: home,
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C',
    LC_ALL: 'C',
    TZ: 'UTC',
    KUBECONFIG: `${home}/no-kubeconfig`,
    HTTP_PROXY: NO_NETWORK,
    HTTPS_PROXY: NO_NETWORK,
    http_proxy: NO_NETWORK,
    https_proxy: NO_NETWORK,
    NO_PROXY: '',
    no_proxy: '',
    ...extra,
  };
}

/** The tail of a tool's error output, redacted and cut to a few lines, for a message. */
export function stderrTail(text: string, lines = 8): string {
  const all = redact(text).trim().split('\n');
  const tail = all.slice(-lines).map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l));
  return tail.join('\n');
}

/** Runs the binary; resolves with its stdout when it exits 0, throws RENDER_* otherwise. */
export function runBinary(run: BinaryRun): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(run.binary, run.args, { cwd: run.cwd, env: offlineEnv(run.home, run.env), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let outBytes = 0;
    const err: Buffer[] = [];
    let errBytes = 0;
    let failure: PromoteError | undefined;
    const stop = (e: PromoteError) => {
      failure ??= e;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      stop(
        new PromoteError('RENDER_TIMEOUT', `${run.what} did not finish within ${run.timeoutMs < 1000 ? `${run.timeoutMs} ms` : `${Math.round(run.timeoutMs / 1000)} s`}`, {
          outcome: 'failed',
          hint: 'a template that loops or a very large render; fix the bundle, or raise PROMOTE_RENDER_TIMEOUT (seconds) where the machine is slow',
        }),
      );
    }, run.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > run.maxOutputBytes) {
        return stop(
          new PromoteError('RENDER_TOO_LARGE', `${run.what} printed more than ${formatBytes(run.maxOutputBytes)} of manifests, over the limit of a render`, {
            outcome: 'verification',
            hint: 'a render is held whole to be applied (README "Bundles" limits); look for a template or generator that repeats without bound',
          }),
        );
      }
      out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      // Only the tail is ever shown; keep a bounded amount.
      if (errBytes < 64 * 1024) err.push(chunk);
      errBytes += chunk.length;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        failure ??
          new PromoteError('RENDERER_MISSING', `${run.what}: cannot run ${run.binary}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'not executable' : e.message}`, {
            outcome: 'failed',
            cause: e,
            hint: 'install the binary, or point PROMOTE_HELM / PROMOTE_KUSTOMIZE at it',
          }),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      const tail = stderrTail(Buffer.concat(err).toString('utf8'));
      reject(
        new PromoteError('RENDER_FAILED', `${run.what} failed (${signal ? `killed by ${signal}` : `exit ${code}`})${tail ? `:\n${tail}` : ''}`, {
          outcome: 'verification',
          hint: 'the message above is the tool\'s own; fix the bundle or the parameters it names. Nothing was applied',
        }),
      );
    });
  });
}

/** The time and output limits of a render: the options', else PROMOTE_RENDER_TIMEOUT (seconds), else the defaults. */
export function renderLimits(options: RendererOptions = {}, maxManifestsBytes: number): { timeoutMs: number; maxOutputBytes: number } {
  const env = options.env ?? process.env;
  const given = env.PROMOTE_RENDER_TIMEOUT;
  const seconds = Number(given);
  // A typo here must not silently mean the default: say so, before anything runs.
  if (given !== undefined && given !== '' && !(Number.isFinite(seconds) && seconds > 0)) {
    throw new PromoteError('USAGE', `PROMOTE_RENDER_TIMEOUT=${given} is not a positive number of seconds`, { outcome: 'usage', hint: 'set it to the seconds one render may take, e.g. PROMOTE_RENDER_TIMEOUT=120, or unset it for the default of 60' });
  }
  const fromEnv = given !== undefined && given !== '' ? seconds * 1000 : undefined;
  return { timeoutMs: options.timeoutMs ?? fromEnv ?? RENDER_TIMEOUT_MS, maxOutputBytes: options.maxOutputBytes ?? maxManifestsBytes };
}
