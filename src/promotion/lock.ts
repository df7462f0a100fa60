import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PromoteError } from '../errors.ts';

// A cross-process lock on a cache directory (mkdir is atomic on every filesystem we run on).
// Two promote processes on one machine share the ledger cache; git itself refuses concurrent
// ref updates in one repository ("cannot lock ref"), so they take turns on the cache. The
// compare-and-swap that decides who wins is still the remote's (a non-fast-forward push is
// refused): this lock only keeps the local clone consistent. A lock whose owner died is stolen.

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function withDirectoryLock<T>(dir: string, what: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const lock = join(dir, 'promote.lock');
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
      if (owner && !alive(owner)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > timeoutMs) {
        throw new PromoteError('LOCK_TIMEOUT', `${what} is locked by process ${owner || '(starting)'} for more than ${timeoutMs / 1000}s`, {
          hint: `if no promote process is running, remove ${lock}`,
        });
      }
      await new Promise((r) => setTimeout(r, Math.min(200, 5 + attempt * 5)));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
