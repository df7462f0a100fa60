import { spawn } from 'node:child_process';
import { BIN, cleanEnv } from '../bundle/helpers.ts';

// Runs the real CLI (bin/promote.js) in a child process, as a user or a script would.

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock time of the run. */
  ms: number;
  /** True when `killAfterMs` ran out and the CLI was killed (then `code` is null). */
  killed: boolean;
}

export function promote(args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; killAfterMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: options.env ?? cleanEnv({ NO_COLOR: '1' }) });
    let stdout = '';
    let stderr = '';
    let killed = false;
    // A CLI that hangs fails the test with what it printed so far, instead of hanging the suite.
    const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => { killed = true; child.kill('SIGKILL'); }, options.killAfterMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, ms: Date.now() - started, killed }); });
    // A command that never reads its input (most) may exit before the pipe takes it: EPIPE then
    // says nothing about the command, which is judged by its exit code and output.
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') reject(err);
    });
    child.stdin.end(options.input ?? '');
  });
}
