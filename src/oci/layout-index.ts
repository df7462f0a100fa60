import { readFileSync, statSync } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PromoteError } from '../errors.ts';
import { writeFileAtomic } from '../write-file-atomic.ts';
import { canonicalJsonBytes } from './canonical-json.ts';
import { ANNOTATION_REF_NAME, OCI_INDEX } from './media-types.ts';
import type { Descriptor, ImageIndex } from './registry.ts';

// index.json of an OCI image layout (layout-registry.ts): read as is, rewritten atomically and
// durably (src/write-file-atomic.ts) under `index.json.lock`, created O_EXCL, so concurrent
// writers — two `promote push` runs, an agent writing status — never lose each other's entries.

const INDEX_FILE = 'index.json';
const LOCK_FILE = 'index.json.lock';
/** A lock older than this is left over from a crashed writer and is broken. */
const STALE_LOCK_MS = 30_000;
const LOCK_TIMEOUT_MS = 60_000;

/**
 * The last index.json read per layout, by the identity of the file that held it: every write
 * replaces the file (a rename, so a new inode), and a reader of 1,000 status tags would otherwise
 * parse the whole index once per tag. Frozen, so a reader that changed it would throw instead of
 * changing what the next reader sees.
 */
const lastRead = new Map<string, { id: string; index: ImageIndex }>();

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * The layout's index (an empty one when there is no index.json yet). `name` is for messages.
 * Frozen; `fresh` reads the file again and returns a copy a writer may change.
 */
export function readLayoutIndex(dir: string, name: string, options: { fresh?: boolean } = {}): ImageIndex {
  const path = join(dir, INDEX_FILE);
  let id: string;
  try {
    const s = statSync(path, { bigint: true });
    id = `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
    throw err;
  }
  const last = lastRead.get(dir);
  if (!options.fresh && last?.id === id) return last.index;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
    throw err;
  }
  let index: ImageIndex;
  try {
    index = JSON.parse(text) as ImageIndex;
  } catch (err) {
    throw new PromoteError('LAYOUT_INVALID', `${name}: index.json is not valid JSON`, { cause: err, hint: 'the layout is damaged; restore index.json or rebuild the layout' });
  }
  if (!Array.isArray(index.manifests)) {
    throw new PromoteError('LAYOUT_INVALID', `${name}: index.json has no "manifests" list`, { hint: 'the layout is damaged; restore index.json or rebuild the layout' });
  }
  if (options.fresh) return index;
  // The file may have changed between the stat and the read: then the next stat differs and reads again.
  lastRead.delete(dir);
  if (lastRead.size >= 16) lastRead.delete(lastRead.keys().next().value!);
  lastRead.set(dir, { id, index: deepFreeze(index) });
  return index;
}

/** Runs `change` on index.json under the lock file and writes the result atomically. */
export async function updateLayoutIndex(dir: string, name: string, change: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
  const lock = join(dir, LOCK_FILE);
  const started = Date.now();
  let handle;
  for (let attempt = 0; ; attempt++) {
    try {
      handle = await open(lock, 'wx');
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > STALE_LOCK_MS) {
        await unlink(lock).catch(() => undefined);
        continue;
      }
      if (Date.now() - started > LOCK_TIMEOUT_MS) {
        throw new PromoteError('LAYOUT_LOCKED', `${name} is locked by another writer (${lock})`, {
          hint: `if no other promote process is writing to this layout, remove ${lock}`,
        });
      }
      await sleep(1 + Math.random() * Math.min(2 ** attempt, 25)); // jittered: writers do not retry in step
    }
  }
  try {
    const index = readLayoutIndex(dir, name, { fresh: true });
    const manifests = change(index.manifests);
    const next: ImageIndex = { ...index, schemaVersion: 2, mediaType: OCI_INDEX, manifests };
    await writeFileAtomic(join(dir, INDEX_FILE), canonicalJsonBytes(next));
  } finally {
    await handle.close();
    await unlink(lock).catch(() => undefined);
  }
}

/** A stable order for index.json: untagged first, then by tag, then by digest. */
export function sortEntries(manifests: Descriptor[]): Descriptor[] {
  const key = (d: Descriptor): string => `${d.annotations?.[ANNOTATION_REF_NAME] ?? ''}\0${d.digest}`;
  return [...manifests].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
