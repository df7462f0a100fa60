import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readFileChunks } from './file-chunks.ts';
import { tempName } from './temp-file.ts';

// The one way promote replaces a file (the agent's inventory and replay state, an OCI layout's
// index, a report mark, a key with --force): readers and crashes see the old content or the new.

/**
 * Writes `content` to a new temp file beside `path` (named for its writer: src/temp-file.ts) and
 * fsyncs it; returns the temp file's path. `{ source }` streams the content from that file (a
 * shipped file can be hundreds of MiB); `{ text }` writes the strings in turn, so a large document
 * (an inventory of 100,000 files) is never one string and one Buffer at once. On any failure — a full disk half-way through — the temp
 * file is removed again before the error is thrown, so nothing is left behind. `sync: false`
 * leaves the fsync to the caller (syncFiles), who must not rename the file into place before it.
 * `mode` (default 0644) is set exactly, whatever the umask (a private key is 0600).
 */
export type StagedContent = Uint8Array | string | { source: string } | { text: Iterable<string> };

export interface StageOptions {
  sync?: boolean;
  mode?: number;
}

export async function stageFile(path: string, content: StagedContent, options: StageOptions = {}): Promise<string> {
  const tmp = join(dirname(path), tempName(basename(path)));
  try {
    const handle = await open(tmp, 'wx', options.mode ?? 0o644);
    try {
      if (options.mode !== undefined) await handle.chmod(options.mode);
      if (content instanceof Uint8Array || typeof content === 'string') await handle.writeFile(content);
      else if ('text' in content) {
        for (const part of content.text) await handle.writeFile(part);
      } else {
        await readFileChunks(content.source, async (chunk) => {
          for (let off = 0; off < chunk.length; ) off += (await handle.write(chunk, off, chunk.length - off)).bytesWritten;
        });
      }
      if (options.sync !== false) await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return tmp;
}

/** How many fsyncs are in flight at once: enough for the file system to commit them together. */
const SYNC_CONCURRENCY = 16;

/**
 * fsyncs every file of `paths`, several at a time: one after the other, each fsync waits for its
 * own journal commit (99,000 small files made an agent round take half an hour); concurrent ones
 * share commits. Returns the first failure (which file, and the error) once all have finished.
 */
export async function syncFiles(paths: readonly string[]): Promise<{ index: number; error: unknown } | undefined> {
  let next = 0;
  let failure: { index: number; error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < paths.length && !failure) {
      const index = next++;
      try {
        const handle = await open(paths[index]!, 'r');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      } catch (error) {
        failure ??= { index, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SYNC_CONCURRENCY, paths.length) }, worker));
  return failure;
}

/**
 * Writes `content` to `path` atomically and durably: a sibling temp file, fsync, rename over the
 * old one, fsync of the directory. A reader (or a crash) sees the old content or the new, never
 * half of it or an empty file, and once this returns the new content survives a power cut (the
 * rename is in the directory, which the file's own fsync does not cover).
 */
export async function writeFileAtomic(path: string, content: StagedContent, options: { mode?: number } = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = await stageFile(path, content, options);
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dirname(path));
}

/** fsyncs a directory, so the renames and links made in it survive a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
