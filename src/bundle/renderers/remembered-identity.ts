import { createHash } from 'node:crypto';
import { lstat, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promoteCacheRoot, writtenByUser } from '../../cache-root.ts';
import type { RendererIdentity, RendererOptions } from './renderer.ts';

// A renderer binary's version, remembered between runs (issue 15): asking it (`helm version`) is a
// second process beside the render on every `promote render`, for an answer that changes only
// when the binary does. Remembered per file — its path, device, inode, size, modification and
// change times: replacing or rewriting the binary in place changes at least one — under
// `<cache root>/renderers/`, written atomically. The version ends up in the agent's signed status
// report, so an entry is used only when this user alone can have written it (writtenByUser).

const DIR = 'renderers';
const MAX_VERSION_LENGTH = 200;

/** The file as it is now; undefined when it cannot be looked at (then nothing is remembered). */
async function fileKey(kind: string, path: string, prefix: readonly string[]): Promise<string | undefined> {
  const s = await stat(path, { bigint: true }).catch(() => undefined);
  return s && JSON.stringify([kind, path, prefix, `${s.dev}`, `${s.ino}`, `${s.size}`, `${s.mtimeNs}`, `${s.ctimeNs}`]);
}

function plausible(value: unknown, kind: string, binary: string): value is RendererIdentity {
  const v = value as RendererIdentity | null;
  return v !== null && typeof v === 'object' && v.kind === kind && v.binary === binary && typeof v.version === 'string' && v.version.length > 0 && v.version.length <= MAX_VERSION_LENGTH && !/[\u0000-\u001f\u007f]/.test(v.version);
}

/**
 * The identity of the binary at `binary` (run with `prefix`): remembered from an earlier run
 * when this very file was asked, else `ask()`ed and remembered. Remembering is best effort: a
 * cache that cannot be read or written changes nothing but the time taken.
 */
export async function rememberedIdentity(kind: string, binary: string, prefix: readonly string[], options: RendererOptions, ask: () => Promise<RendererIdentity>): Promise<RendererIdentity> {
  const key = await fileKey(kind, binary, prefix);
  if (key === undefined) return ask();
  const dir = join(promoteCacheRoot(options.env ?? process.env), DIR);
  const file = join(dir, `${createHash('sha256').update(key).digest('hex')}.json`);
  try {
    if (writtenByUser(await lstat(dir).catch(() => undefined), 'directory') && writtenByUser(await lstat(file).catch(() => undefined), 'file')) {
      const entry = JSON.parse(await readFile(file, 'utf8')) as { key?: unknown; identity?: unknown };
      if (entry.key === key && plausible(entry.identity, kind, binary)) return entry.identity;
    }
  } catch {
    // unreadable or damaged: asked again below, and written anew
  }
  const identity = await ask();
  if (plausible(identity, kind, binary)) void remember(dir, file, key, identity);
  return identity;
}

/** Written in the background, so that asking is no slower than before; best effort: asked again next time. */
async function remember(dir: string, file: string, key: string, identity: RendererIdentity): Promise<void> {
  try {
    const [{ mkdir }, { writeFileAtomic }] = await Promise.all([import('node:fs/promises'), import('../../write-file-atomic.ts')]);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (writtenByUser(await lstat(dir), 'directory')) await writeFileAtomic(file, `${JSON.stringify({ key, identity })}\n`);
  } catch {
    // see above
  }
}
