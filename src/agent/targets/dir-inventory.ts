import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PromoteError } from '../../errors.ts';
import type { DesiredState } from '../target.ts';
import { liveDigest, readRegular } from './dir-files.ts';
import { writeFileAtomic } from '../../write-file-atomic.ts';

// The dir target's inventory (`.promote-inventory.json` at the top of the directory): every
// file this agent wrote with the digest it wrote, the record last applied completely, and the
// files claimed before they are written. Only what it lists is ever replaced or pruned.

export const INVENTORY_FILE = '.promote-inventory.json';

export interface Inventory {
  version: 1;
  owner: { pipeline: string; stage: string; cluster: string };
  /** The record last applied *completely* (apply and prune done); absent until then. */
  recordDigest?: string;
  bundleDigest?: string;
  /** Relative path → `sha256:<hex>` of the content this agent wrote. */
  files: Record<string, string>;
  /**
   * Files about to be created or adopted, with the content about to be written: owned once the
   * file holds exactly that content, dropped otherwise (the write never happened, and whatever is
   * there now is someone else's).
   */
  pending?: Record<string, string>;
}

/**
 * `"files": { path: digest, … }` as JSON.stringify(…, null, 2) writes it at the second level,
 * sorted by path, in parts of a thousand entries: an inventory of 100,000 files is never held as
 * one string (nor a sorted copy of the map built first, as Object.fromEntries would).
 */
function* mapText(key: string, files: Record<string, string>): Generator<string> {
  const paths = Object.keys(files).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (paths.length === 0) {
    yield `  ${JSON.stringify(key)}: {}`;
    return;
  }
  yield `  ${JSON.stringify(key)}: {\n`;
  for (let i = 0; i < paths.length; i += 1000) {
    const part = paths.slice(i, i + 1000).map((p) => `    ${JSON.stringify(p)}: ${JSON.stringify(files[p])}`);
    yield `${i > 0 ? ',\n' : ''}${part.join(',\n')}`;
  }
  yield '\n  }';
}

export function sameFiles(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

export async function readInventory(root: string): Promise<Inventory | undefined> {
  const bytes = await readRegular(join(root, INVENTORY_FILE), (p) => readFile(p));
  if (bytes === undefined) return undefined;
  try {
    if (bytes === 'other') throw new Error('not a regular file');
    const inv = JSON.parse(bytes.toString('utf8')) as Inventory;
    if (inv.version !== 1 || typeof inv.files !== 'object' || inv.files === null) throw new Error('unknown inventory version');
    if (inv.pending !== undefined && (typeof inv.pending !== 'object' || inv.pending === null)) throw new Error('"pending" is not an object');
    return inv;
  } catch (err) {
    throw new PromoteError('TARGET_INVENTORY_INVALID', `${join(root, INVENTORY_FILE)} is not a promote inventory`, {
      cause: err,
      hint: 'it is written by the agent; remove it only if nothing else owns files in this directory, then run the agent again',
    });
  }
}

/** What the inventory owns: its files, plus the pending ones whose write did happen. */
export async function ownedFiles(root: string, inv: Inventory | undefined): Promise<Record<string, string>> {
  const files: Record<string, string> = { ...(inv?.files ?? {}) };
  for (const [path, digest] of Object.entries(inv?.pending ?? {})) {
    if (files[path] !== undefined) continue;
    const live = await liveDigest(join(root, path)).catch(() => undefined);
    if (live === digest) files[path] = digest;
  }
  return files;
}

export async function writeInventory(root: string, owner: Inventory['owner'], files: Record<string, string>, done: { recordDigest?: string; bundleDigest?: string }, pending?: Record<string, string>): Promise<void> {
  const head: Omit<Inventory, 'files' | 'pending'> = {
    version: 1,
    owner,
    ...(done.recordDigest && { recordDigest: done.recordDigest }),
    ...(done.bundleDigest && { bundleDigest: done.bundleDigest }),
  };
  // The same text as JSON.stringify(inventory, null, 2), the two maps sorted by path.
  function* text(): Generator<string> {
    yield `${JSON.stringify(head, null, 2).slice(0, -2)},\n`;
    yield* mapText('files', files);
    if (pending && Object.keys(pending).length > 0) {
      yield ',\n';
      yield* mapText('pending', pending);
    }
    yield '\n}\n';
  }
  await writeFileAtomic(join(root, INVENTORY_FILE), { text: text() });
}

export function checkOwner(root: string, inv: Inventory | undefined, desired: DesiredState): void {
  if (!inv) return;
  const a = inv.owner;
  const b = desired.owner;
  if (a.pipeline !== b.pipeline || a.stage !== b.stage || a.cluster !== b.cluster) {
    throw new PromoteError(
      'TARGET_OWNED_BY_OTHER',
      `${root} is owned by pipeline ${a.pipeline}, stage ${a.stage}, cluster ${a.cluster}, not by ${b.pipeline}/${b.stage}/${b.cluster}`,
      { hint: 'give every agent its own target directory' },
    );
  }
}

export function doneOf(inv: Inventory | undefined): { recordDigest?: string; bundleDigest?: string } {
  return { ...(inv?.recordDigest && { recordDigest: inv.recordDigest }), ...(inv?.bundleDigest && { bundleDigest: inv.bundleDigest }) };
}
