import { spawn } from 'node:child_process';
import { PromoteError } from '../../errors.ts';
import { killProcessGroup } from '../../kill-group.ts';
import { redact } from '../../redact.ts';
import type { DesiredState, HealthOptions, HealthResult, ObjectResult } from '../target.ts';

// The health of a directory target is whatever reads those files says it is: `nginx -t`,
// `promtool check config`, a curl of the app's /healthz after it reloaded. The command runs
// after each apply and on steady rounds; exit 0 is Healthy. A failure is retried (every
// pollMs) until the agent's health timeout, then Degraded with the command's last output lines.
//
// No shell runs unless the command is one (`sh -c '…'`): the words are split as a shell would
// split them (quotes group) and handed to the program as execFile does, so no $VAR, glob or
// pipe is interpreted. The command gets a minimal environment — PATH, HOME, LANG, TZ and the
// PROMOTE_* variables below — never the agent's own (registry credentials, key passwords), so
// its output, which goes into the signed status report, cannot echo them.

/** How a dir target checks its health. */
export interface DirHealthCheck {
  /** The program and its arguments (argv[0] is looked up on PATH). */
  argv: string[];
  /** One run longer than this is killed (its whole process group) and counts as failed. Default 10 s. */
  timeoutMs?: number;
}

/** The id of the check's own entry among the target's objects. */
export const HEALTH_CHECK_ID = 'health-exec';
export const DEFAULT_HEALTH_EXEC_TIMEOUT_MS = 10_000;
/** Output kept per run (its tail: the last lines are what explain a failure). */
export const OUTPUT_CAP_BYTES = 16 * 1024;
const MESSAGE_LINES = 3;
const LINE_CHARS = 200;
const PASSED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'];

interface RunResult {
  ok: boolean;
  reason: 'HealthCheckFailed' | 'HealthCheckTimeout';
  /** `exited 1`, `was killed after 10s`, `could not start: …`. */
  how: string;
  output: string;
}

/** Splits `--health-exec` into words: blanks separate, '…' and "…" group, \ escapes outside '…'. */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) word = (word ?? '') + text[++i]!;
      else word = (word ?? '') + c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i]!;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new PromoteError('USAGE', `--health-exec: unterminated ${quote} in ${JSON.stringify(text)}`, { outcome: 'usage', hint: "close the quote, e.g. --health-exec 'sh -c \"grep -q ok status.txt\"'" });
  if (word !== undefined) words.push(word);
  if (words.length === 0) throw new PromoteError('USAGE', '--health-exec needs a command', { outcome: 'usage', hint: "e.g. --health-exec 'nginx -t -c nginx.conf'" });
  return words;
}

/** The command as messages show it. */
export function commandText(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
}

/** Runs the check once. */
export async function runHealthCheck(check: DirHealthCheck, root: string, desired: DesiredState, signal?: AbortSignal): Promise<RunResult> {
  const timeoutMs = check.timeoutMs ?? DEFAULT_HEALTH_EXEC_TIMEOUT_MS;
  const env: Record<string, string> = {};
  for (const k of PASSED_ENV) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  Object.assign(env, {
    PROMOTE_TARGET_DIR: root,
    PROMOTE_BUNDLE: desired.bundleDigest,
    PROMOTE_RECORD: desired.recordDigest,
    PROMOTE_PIPELINE: desired.owner.pipeline,
    PROMOTE_STAGE: desired.owner.stage,
    PROMOTE_CLUSTER: desired.owner.cluster,
  });
  return await new Promise<RunResult>((done) => {
    let output = Buffer.alloc(0);
    const keep = (chunk: Buffer): void => {
      output = Buffer.concat([output, chunk]);
      if (output.length > OUTPUT_CAP_BYTES) output = output.subarray(output.length - OUTPUT_CAP_BYTES);
    };
    // Its own process group, so a timeout kills what it started too (a `sh -c` with a child).
    const child = spawn(check.argv[0]!, check.argv.slice(1), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let killed = false;
    const kill = (): void => {
      killed = true;
      killProcessGroup(child);
    };
    const timer = setTimeout(kill, timeoutMs);
    signal?.addEventListener('abort', kill, { once: true });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const finish = (r: Omit<RunResult, 'output'>): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', kill);
      done({ ...r, output: output.toString('utf8') });
    };
    child.once('error', (err) => finish({ ok: false, reason: 'HealthCheckFailed', how: `could not start: ${(err as NodeJS.ErrnoException).code ?? err.message}` }));
    child.once('close', (code, sig) => {
      if (killed) finish({ ok: false, reason: 'HealthCheckTimeout', how: `was killed after ${Math.round(timeoutMs / 100) / 10}s` });
      else if (code === 0) finish({ ok: true, reason: 'HealthCheckFailed', how: 'exited 0' });
      else finish({ ok: false, reason: 'HealthCheckFailed', how: code === null ? `was killed by ${sig}` : `exited ${code}` });
    });
  });
}

/** The last non-empty lines of `output`, control characters removed, each cut short, redacted. */
export function lastLines(output: string): string {
  const lines = output.split(/\r?\n/).map((l) => l.replace(/[\u0000-\u001f\u007f]/g, ' ').trim()).filter(Boolean);
  return redact(lines.slice(-MESSAGE_LINES).map((l) => (l.length > LINE_CHARS ? `${l.slice(0, LINE_CHARS)}…` : l)).join(' | '));
}

/**
 * Runs the check until it passes or `options.timeoutMs` is spent (at least once), as the
 * Kubernetes target waits for its objects: Healthy, or Degraded with why.
 */
export async function checkDirHealth(check: DirHealthCheck, root: string, desired: DesiredState, options: HealthOptions): Promise<ObjectResult> {
  if (check.argv.length === 0) throw new PromoteError('USAGE', 'the health check of a dir target needs a command', { outcome: 'usage', hint: "e.g. {argv: ['nginx', '-t']}" });
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const cmd = commandText(check.argv);
  let runs = 0;
  for (;;) {
    const r = await runHealthCheck(check, root, desired, options.signal);
    runs++;
    if (r.ok) return { id: HEALTH_CHECK_ID, action: 'unchanged', health: 'Healthy' };
    const wait = Math.min(options.pollMs ?? 1000, deadline - Date.now());
    if (wait <= 0 || options.signal?.aborted) {
      const tail = lastLines(r.output);
      const tries = runs > 1 ? ` (${runs} runs over ${Math.round((Date.now() - started) / 1000)}s)` : '';
      return { id: HEALTH_CHECK_ID, action: 'unchanged', health: 'Degraded', reason: r.reason, message: `health check \`${cmd}\` ${r.how}${tries}${tail ? `: ${tail}` : ''}` };
    }
    await new Promise<void>((res) => {
      const t = setTimeout(res, wait);
      options.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        res();
      }, { once: true });
    });
  }
}

/** The dir target's health: its files (healthy once written), and the check's verdict when there is one. */
export async function dirHealth(check: DirHealthCheck | undefined, root: string, desired: DesiredState, options: HealthOptions): Promise<HealthResult> {
  const objects: ObjectResult[] = desired.files.map((f) => ({ id: f.path, action: 'unchanged', health: 'Healthy' }));
  if (!check) return { healthy: true, objects };
  const verdict = await checkDirHealth(check, root, desired, options);
  return { healthy: verdict.health === 'Healthy', objects: [...objects, verdict] };
}
