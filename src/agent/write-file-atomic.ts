import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tempName } from '../temp-file.ts';

/**
 * Writes `content` to a new temp file beside `path` (named for its writer: src/temp-file.ts) and
 * fsyncs it; returns the temp file's path. `{ source }` streams the content from that file (a
 * shipped file can be hundreds of MiB). On any failure — a full disk half-way through — the temp
 * file is removed again before the error is thrown, so nothing is left behind.
 */
export async function stageFile(path: string, content: Uint8Array | { source: string }): Promise<string> {
  const tmp = join(dirname(path), tempName(basename(path)));
  try {
    const handle = await open(tmp, 'wx', 0o644);
    try {
      if (content instanceof Uint8Array) await handle.writeFile(content);
      else {
        for await (const chunk of createReadStream(content.source, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
          for (let off = 0; off < chunk.length; ) off += (await handle.write(chunk, off, chunk.length - off)).bytesWritten;
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return tmp;
}

/**
 * Writes `content` to `path` atomically: a sibling temp file, fsync, rename over the old one, so a
 * reader (or a crash) sees the old content or the new, never half of it or an empty file.
 */
export async function writeFileAtomic(path: string, content: Uint8Array | { source: string }): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = await stageFile(path, content);
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
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
