import type { Stats } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The one directory every cache of promote lives under: ledger clones, an agent's bundles and
 * its replay state, compiled validators, renderer versions. PROMOTE_CACHE_DIR, else
 * $XDG_CACHE_HOME/promote, else ~/.cache/promote.
 */
export function promoteCacheRoot(env: NodeJS.ProcessEnv): string {
  return env.PROMOTE_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'promote');
}

/**
 * Whether a cache entry (lstat'ed: a symlink is neither) can only have been written by this user:
 * theirs, and writable by no one else. A cache whose content promote acts on (code it runs, a
 * version it reports) uses an entry only then, and only in a directory that passes this too —
 * PROMOTE_CACHE_DIR may point somewhere shared.
 */
export function writtenByUser(info: Stats | undefined, kind: 'file' | 'directory'): boolean {
  if (!info || !(kind === 'file' ? info.isFile() : info.isDirectory())) return false;
  const uid = process.getuid?.();
  return (uid === undefined || info.uid === uid) && (info.mode & 0o022) === 0;
}
