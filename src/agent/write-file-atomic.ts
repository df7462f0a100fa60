import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Writes `content` to `path` atomically: a sibling temp file, fsync, rename over the old one, so a
 * reader (or a crash) sees the old content or the new, never half of it or an empty file.
 * `{ source }` streams the content from that file (a shipped file can be hundreds of MiB).
 */
export async function writeFileAtomic(path: string, content: Uint8Array | { source: string }): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.promote-tmp`);
  const handle = await open(tmp, 'w', 0o644);
  try {
    if (content instanceof Uint8Array) await handle.writeFile(content);
    else {
      for await (const chunk of createReadStream(content.source, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
        for (let off = 0; off < chunk.length; ) off += (await handle.write(chunk, off, chunk.length - off)).bytesWritten;
      }
    }
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
