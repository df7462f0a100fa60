import { access, stat } from 'node:fs/promises';
import { normalize } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { PromoteError } from '../errors.ts';
import { formatDuration, parseDuration } from '../pipeline/duration.ts';
import { redact } from '../redact.ts';

// Running git for the ledger (ledger.ts): the environment it gets, the deadline on every
// command, and git's failures turned into PromoteErrors that never show a credential.

/** Each git command must finish within this (PROMOTE_GIT_TIMEOUT): a remote that stalls must not hang a promotion. */
export const DEFAULT_GIT_TIMEOUT_MS = 120_000;

export function gitError(err: unknown, what: string, hint?: string, timeoutMs?: number): PromoteError {
  // git quotes the URL it talked to, credentials included: never let them into a message.
  const text = redact((err instanceof Error ? err.message : String(err)).trim());
  if ((err as { plugin?: unknown })?.plugin === 'timeout') {
    return new PromoteError('LEDGER_TIMEOUT', `${what}: git did not finish within ${timeoutMs ? formatDuration(timeoutMs) : 'PROMOTE_GIT_TIMEOUT'}`, {
      cause: err,
      hint: 'the ledger remote is not answering (or answering too slowly); check the network, or raise PROMOTE_GIT_TIMEOUT (e.g. 5m)',
    });
  }
  const found = staleLock(text);
  const lock = found && normalize(found);
  if (lock) {
    return new PromoteError('LEDGER_LOCKED', `${what}: git cannot lock a ref because ${lock} exists`, {
      cause: err,
      hint: `another git process is updating the ledger, or one crashed and left its lock behind: if no git process is running there, remove ${lock} and run the command again`,
      details: { lockFile: lock },
    });
  }
  const message = text.split('\n').filter(Boolean).slice(-3).join(' / ');
  return new PromoteError('LEDGER_GIT_FAILED', `${what}: ${message}`, { cause: err, hint: hint ?? 'check that git works in the ledger repository (run with --debug for the cause)' });
}

/**
 * The lock file named by git's "Unable to create '<ref>.lock': File exists" (a crashed or
 * running git), which is not a lost compare-and-swap ("is at X but expected Y", "fetch first").
 */
export function staleLock(message: string): string | undefined {
  return /Unable to create '([^']+\.lock)': File exists/.exec(message)?.[1];
}

export function isMissingObject(err: unknown): boolean {
  return /does not exist|exists on disk, but not in|invalid object name|not a valid object name|bad revision|unknown revision|Not a valid object/i.test(String((err as Error)?.message ?? err));
}

export function isRejectedPush(err: unknown): boolean {
  if (staleLock(String((err as Error)?.message ?? err))) return false;
  return /\[rejected\]|non-fast-forward|fetch first|\(stale info\)|failed to push some refs|cannot lock ref|failed to update ref/i.test(String((err as Error)?.message ?? err));
}

// simple-git guards against untrusted input reaching git; here every argument is ours and the
// environment is the user's own (or ours: GIT_INDEX_FILE), so what they rely on for their git
// (GIT_CONFIG_GLOBAL, GIT_SSL_CAINFO, GIT_SSH_COMMAND for an SSH ledger remote, an askpass
// helper, identity via GIT_AUTHOR_*) passes through rather than being silently stripped. What
// the ledger's plumbing never uses (editors, pagers, external diff, templates) is dropped, so an
// EDITOR set by the user's shell or by npm does not make simple-git refuse the command.
const TRUSTED_ENV = {
  allowUnsafeConfigPaths: true,
  allowUnsafeConfigEnvCount: true,
  allowUnsafeSshCommand: true,
  allowUnsafeAskPass: true,
  allowUnsafeGitProxy: true,
  allowUnsafeExec: true,
};
const UNUSED_ENV = new Set(['EDITOR', 'VISUAL', 'GIT_EDITOR', 'GIT_SEQUENCE_EDITOR', 'PAGER', 'GIT_PAGER', 'GIT_EXTERNAL_DIFF', 'PREFIX', 'GIT_TEMPLATE_DIR']);

/** PROMOTE_GIT_TIMEOUT (`30s`, `5m`) or the default. */
export function gitTimeout(env: NodeJS.ProcessEnv): number {
  const text = env.PROMOTE_GIT_TIMEOUT;
  if (text === undefined || text === '') return DEFAULT_GIT_TIMEOUT_MS;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    throw new PromoteError('USAGE', `PROMOTE_GIT_TIMEOUT=${text} is not a duration`, { outcome: 'usage', hint: 'write it like 30s, 2m or 1h' });
  }
  return ms;
}

/**
 * Adds an Authorization header for `url`'s origin as config carried in the environment
 * (GIT_CONFIG_COUNT/KEY/VALUE, git ≥ 2.31): not on a command line (`ps` shows those), not in
 * the clone's config, and not through git's credential helpers (which would store it).
 */
export function withHttpCredential(env: NodeJS.ProcessEnv, url: string, username: string, password: string): NodeJS.ProcessEnv {
  const n = Number(env.GIT_CONFIG_COUNT ?? 0) || 0;
  return {
    ...env,
    GIT_CONFIG_COUNT: String(n + 1),
    [`GIT_CONFIG_KEY_${n}`]: `http.${new URL(url).origin}/.extraHeader`,
    [`GIT_CONFIG_VALUE_${n}`]: `Authorization: Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
  };
}

export function makeGit(dir: string, fullEnv: NodeJS.ProcessEnv, timeoutMs: number): SimpleGit {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(fullEnv)) if (v !== undefined && !UNUSED_ENV.has(k.toUpperCase())) env[k] = v;
  // The deadline below stops git itself; its HTTP helper (git-remote-http) is a child of git's
  // that would live on, waiting on a silent server (and holding our pipes open). curl's own
  // stall limit makes it give up on the same schedule, unless the user set one.
  if (env.GIT_HTTP_LOW_SPEED_LIMIT === undefined && env.GIT_HTTP_LOW_SPEED_TIME === undefined) {
    env.GIT_HTTP_LOW_SPEED_LIMIT = '1';
    env.GIT_HTTP_LOW_SPEED_TIME = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  }
  const allowEnvironment = Object.keys(env);
  return (
    // An overall deadline per git command: output does not reset it (a remote trickling bytes
    // would otherwise hold the promotion, and the ledger lock, for ever).
    simpleGit({ baseDir: dir, maxConcurrentProcesses: 4, trimmed: false, unsafe: TRUSTED_ENV, allowEnvironment, timeout: { block: timeoutMs, stdOut: false, stdErr: false } })
      .env(env)
      // simple-git's completion plugin sleeps 50 ms after any command that printed nothing
      // (update-ref, read-tree, config …): half the cost of a promotion. An empty chunk, sent
      // once its listeners are attached, tells it output was seen; the bytes collected are the same.
      .outputHandler((_cmd, stdout) => {
        setImmediate(() => stdout.emit('data', Buffer.alloc(0)));
      })
  );
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export async function isBareRepository(path: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<boolean> {
  try {
    if (!(await stat(path)).isDirectory()) return false;
  } catch {
    return false;
  }
  const out = await makeGit(path, env, timeoutMs)
    .raw(['rev-parse', '--is-bare-repository'])
    .catch(() => 'false');
  return out.trim() === 'true';
}

export async function topLevel(path: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  try {
    if (!(await stat(path)).isDirectory()) throw new Error('not a directory');
    return (await makeGit(path, env, timeoutMs).raw(['rev-parse', '--show-toplevel'])).trim();
  } catch (err) {
    throw new PromoteError('LEDGER_NOT_A_REPOSITORY', `the ledger ${path} is not a git repository`, {
      cause: err,
      outcome: 'usage',
      hint: 'run `git init` there, or set spec.ledger.repository in the pipeline to a git URL or repository path',
    });
  }
}
