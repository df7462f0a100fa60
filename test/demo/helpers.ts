import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

// What the demo's tests share: the real CLI in its own process, an environment without the
// caller's passwords and keys, and plain readers of what the demo left (files, git).

export const exec = promisify(execFile);
export const root = join(import.meta.dirname, '..', '..');
export const cli = join(root, 'bin', 'promote.js');

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
  if (!('PROMOTE_PASSWORD' in extra)) delete env.PROMOTE_PASSWORD;
  delete env.COSIGN_PASSWORD;
  delete env.PROMOTE_KEY;
  return env;
}

/** Runs the CLI and fails the test, with its output, unless it exits 0. */
export async function promote(args: string[], cwd: string, env = cleanEnv()): Promise<{ stdout: string; stderr: string }> {
  try {
    return await exec(process.execPath, [cli, ...args], { cwd, env, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    assert.fail(`promote ${args.join(' ')} exited ${e.code}\n${e.stderr}\n${e.stdout}`);
  }
}

/** Runs the CLI expecting it to fail: its exit code and output. */
export async function promoteFails(args: string[], cwd: string, env = cleanEnv()): Promise<{ code: number; stdout: string; stderr: string }> {
  return exec(process.execPath, [cli, ...args], { cwd, env }).then(
    () => assert.fail(`promote ${args.join(' ')} must fail`),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)).split('\\').join('/'));
    }
  };
  await walk(dir);
  return out.sort();
}

/** The ledger's commits, oldest first, as `author|subject`. */
export async function ledgerLog(ledger: string): Promise<string[]> {
  const { stdout } = await exec('git', ['-C', ledger, 'log', '--reverse', '--format=%an|%s'], { env: cleanEnv() });
  return stdout.trim().split('\n');
}

export interface DemoJson {
  releases: { version: string; digest: string }[];
  steps: { step: string; result: string; detail: string }[];
  stages: Record<string, string>;
  drift: { cluster: string; file: string; detected: string; corrected: boolean };
  rollback: { stage: string; from: string; to: string; refusedWithoutForce?: string; reason?: string };
  status: { stage: string; cluster: string; desired?: string; observed?: string; phase: string }[];
  next: string[];
  wallMs: number;
}
