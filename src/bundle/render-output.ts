import { copyFile, mkdir, mkdtemp, readdir, rename, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PromoteError } from '../errors.ts';
import { removeTree } from '../remove-tree.ts';
import { isOnDisk, type RenderedFile } from './render.ts';

// Writing a render to a directory for `promote render -o <dir>`: all or nothing. Files go to a
// temporary sibling first and the directory appears by rename, so a failed or interrupted render
// never leaves half a set of manifests where a tool might pick them up.

export async function writeRendered(files: readonly RenderedFile[], out: string): Promise<string[]> {
  const target = resolve(out);
  try {
    const entries = await readdir(target);
    if (entries.length) {
      throw new PromoteError('OUTPUT_NOT_EMPTY', `${out} already exists and is not empty`, {
        outcome: 'usage',
        hint: 'render into a new or empty directory (promote never overwrites files it did not write), or remove it first',
      });
    }
  } catch (err) {
    if (err instanceof PromoteError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') throw new PromoteError('OUTPUT_NOT_EMPTY', `${out} exists and is not a directory`, { outcome: 'usage', hint: 'pass a directory path' });
  }
  await mkdir(dirname(target), { recursive: true });
  const tmp = await mkdtemp(join(dirname(target), '.promote-render-'));
  try {
    const made = new Set<string>();
    for (const f of files) {
      const path = join(tmp, f.path);
      const dir = dirname(path);
      if (!made.has(dir)) {
        await mkdir(dir, { recursive: true });
        made.add(dir);
      }
      // A shipped file is streamed from the extracted bundle, never read whole.
      if (isOnDisk(f)) await copyFile(f.source, path);
      else await writeFile(path, f.content);
    }
    const existing = await stat(target).catch(() => undefined);
    // Checked empty above; rmdir (never rm -r) fails if another process has written there since.
    if (existing) await rmdir(target);
    await rename(tmp, target);
  } catch (err) {
    await removeTree(tmp);
    throw err;
  }
  return files.map((f) => f.path);
}
