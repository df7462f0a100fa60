import { lstat, readdir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

// `rm -rf` for trees that may hold a whole bundle (100,000 entries): fs.promises.rm's recursive
// mode starts an operation for every entry at once, and removing an extracted bundle of 99,000
// files that way took 290 MiB of memory — more than the rest of a render (issue 12 §13). Here one
// directory is listed at a time and its files are unlinked a few at a time, so memory stays
// bounded by the largest directory's listing.

/** Unlinks in flight at once within one directory. */
const CONCURRENCY = 16;

function isGone(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Removes `path` and everything below it, like `rm(path, { recursive: true, force: true })`. */
export async function removeTree(path: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await lstat(path)).isDirectory();
  } catch (err) {
    if (isGone(err)) return;
    throw err;
  }
  if (!isDir) {
    await unlink(path).catch((err: unknown) => {
      if (!isGone(err)) throw err;
    });
    return;
  }
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch (err) {
    if (isGone(err)) return;
    throw err;
  }
  const files = entries.filter((e) => !e.isDirectory()).map((e) => e.name);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      await unlink(join(path, files[next++]!)).catch((err: unknown) => {
        if (!isGone(err)) throw err;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker));
  for (const e of entries) if (e.isDirectory()) await removeTree(join(path, e.name));
  await rmdir(path).catch((err: unknown) => {
    if (!isGone(err)) throw err;
  });
}
