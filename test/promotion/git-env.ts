import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

// Git set-up for tests: CI machines have no global identity, so tests never rely on one — every
// git call gets an isolated config and an explicit identity (or none, on purpose).

export function isolatedEnv(dir: string, who?: { name: string; email: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_CONFIG_GLOBAL: join(dir, 'no-global-gitconfig'), GIT_CONFIG_NOSYSTEM: '1', PROMOTE_CACHE_DIR: join(dir, 'cache') };
  for (const k of ['GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL', 'EMAIL', 'GIT_DIR', 'GIT_INDEX_FILE', 'GIT_WORK_TREE']) delete env[k];
  if (who) {
    env.GIT_AUTHOR_NAME = who.name;
    env.GIT_AUTHOR_EMAIL = who.email;
    env.GIT_COMMITTER_NAME = who.name;
    env.GIT_COMMITTER_EMAIL = who.email;
  }
  return env;
}

export function git(cwd: string, env: NodeJS.ProcessEnv, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A bare repository with default branch main: the ledger's remote. */
export async function bareRemote(dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const path = join(dir, 'ledger.git');
  await mkdir(path, { recursive: true });
  git(path, env, 'init', '--quiet', '--bare', '--initial-branch=main');
  // Test speed only: a throw-away remote needs no durability.
  git(path, env, 'config', 'core.fsync', 'none');
  return path;
}

/** A working repository with one commit on main: a team's config repo holding the ledger. */
export async function localRepo(dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const path = join(dir, 'config');
  await mkdir(path, { recursive: true });
  git(path, env, 'init', '--quiet', '--initial-branch=main');
  git(path, env, 'commit', '--quiet', '--allow-empty', '-m', 'initial');
  return path;
}
