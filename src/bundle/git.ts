import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

// Read-only questions to git about a bundle directory (build.ts: created/revision; walk.ts: what
// git ignores). Never let the user's pager, prompts or a foreign GIT_DIR steer them.

export function gitEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat' };
  delete out.GIT_DIR;
  delete out.GIT_WORK_TREE;
  return out;
}

/** git's stdout (trimmed unless `raw`), or undefined when git fails or is missing. */
export function git(dir: string, args: string[], env: NodeJS.ProcessEnv, options: { input?: string; raw?: boolean } = {}): Promise<string | undefined> {
  return new Promise((done) => {
    const child = execFile('git', ['-C', dir, ...args], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      done(err ? undefined : options.raw ? stdout : stdout.trim());
    });
    child.stdin?.on('error', () => {}); // git may exit before reading all of it; the callback reports that
    child.stdin?.end(options.input ?? '');
  });
}

/** Is `dir` inside a git work tree? Looked up as git does (a `.git` file or directory upwards). */
export function inGitWorkTree(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return true;
    if (dirname(d) === d) return false;
  }
}
