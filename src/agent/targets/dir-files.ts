import { createHash } from 'node:crypto';
import { link, lstat, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { fileSha256Digest } from '../../oci/digest.ts';
import type { RenderedFile } from '../target.ts';

// The dir target's file operations that know nothing of ownership: reading what is at a path
// without following links, digests of live and desired content, the create that never
// replaces, and tidying the directories an apply or prune leaves empty.

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * `read(path)` of the regular file at `path`; undefined when nothing is there, 'other' when it is
 * not a regular file (a directory, a link, …): never followed, never read.
 */
export async function readRegular<T>(path: string, read: (path: string) => Promise<T>): Promise<T | undefined | 'other'> {
  try {
    if (!(await lstat(path)).isFile()) return 'other';
    return await read(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** What is at `path`, by digest, streamed (never read whole: shipped files can be large). */
export const liveDigest = (path: string) => readRegular(path, fileSha256Digest);

export function desiredDigest(file: RenderedFile): Promise<string> | string {
  return 'source' in file ? fileSha256Digest(file.source) : sha256(file.content);
}

/** Files staged at once: enough to keep the thread pool busy, few enough for the fd limit. */
export const STAGE_CONCURRENCY = 8;

/** Runs `fn` over `items`, `limit` at a time, in order of start; stops starting once `fn` returns false. */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<boolean>): Promise<void> {
  let next = 0;
  let go = true;
  const worker = async (): Promise<void> => {
    while (go && next < items.length) if (!(await fn(items[next++]!))) go = false;
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'ENOSPC' ? `no space left on device (ENOSPC)` : e.code === 'EDQUOT' ? 'disk quota exceeded (EDQUOT)' : e.message;
}

/** Links the staged file into place: unlike rename, this fails (EEXIST) instead of replacing a file someone just created. */
export async function createNew(tmp: string, abs: string): Promise<void> {
  try {
    await link(tmp, abs);
    await rm(tmp, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw err;
    // A file system without hard links: check, then rename (a narrow window, but no worse).
    if ((await liveDigest(abs)) !== undefined) throw Object.assign(new Error(`${abs} exists`), { code: 'EEXIST' });
    await rename(tmp, abs);
  }
}

/** Removes the directories this apply created for files it then did not write (if still empty). */
export async function removeMade(made: string[], files: string[]): Promise<void> {
  for (const top of made) {
    const below = files.map((f) => dirname(f)).filter((d) => d === top || d.startsWith(`${top}${sep}`)).sort((a, b) => b.length - a.length);
    for (let dir of below) {
      while (dir.length >= top.length) {
        await rmdir(dir).catch(() => undefined);
        if (dir === top) break;
        dir = dirname(dir);
      }
    }
    await rmdir(top).catch(() => undefined);
  }
}

/** The files are kept from `desired` itself: `applied` only proves an apply of it came first. */

export async function removeEmptyParents(root: string, rel: string): Promise<void> {
  let dir = dirname(rel);
  while (dir !== '.' && dir !== '') {
    const abs = join(root, dir);
    try {
      if ((await readdir(abs)).length > 0) return;
      await rmdir(abs);
    } catch {
      return;
    }
    dir = dirname(dir);
  }
}
