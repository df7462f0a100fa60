import { lstatSync, readdirSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { PromoteError } from '../errors.ts';

// Walks a bundle directory into the exact, sorted list of entries the tar writer packs.
//
// Policy (also in README "Bundles"):
// - `.promoteignore` at the bundle root, gitignore syntax (the `ignore` package implements git's
//   matching rules). An excluded directory is not descended into, so, as in git, a later `!rule`
//   cannot re-include a file below it. `.git/` is always excluded.
// - Only regular files and directories. Device files, sockets and FIFOs are refused by name: a
//   bundle is data that must mean the same thing on every machine.
// - Symbolic links are *resolved*, never stored as links: a link whose target is a regular file
//   inside the bundle (and not excluded) is packed as a regular file with the target's content
//   and mode. Links that dangle, leave the bundle, point at a directory (cycles, duplicated trees)
//   or at excluded content are refused. Pulled bundles therefore never contain links, and a link
//   cannot smuggle a file from outside the bundle (e.g. ~/.kube/config) into an artefact.
// - Modes are normalised: 0755 for directories and for files with any execute bit, else 0644.
// - Order is the byte order of the UTF-8 path, independent of locale and file-system order.

export const IGNORE_FILE = '.promoteignore';

export interface WalkEntry {
  /** Path relative to the bundle root, '/'-separated, without a leading './' or trailing '/'. */
  path: string;
  type: 'file' | 'directory';
  mode: 0o644 | 0o755;
  /** Content size in bytes (0 for directories). */
  size: number;
  /** Absolute path the content is read from: the link target for a resolved symbolic link. */
  source: string;
}

function walkError(code: string, message: string, hint: string, path: string): PromoteError {
  return new PromoteError(code, message, { hint, details: { path } });
}

function normalisedMode(type: 'file' | 'directory', mode: number): 0o644 | 0o755 {
  return type === 'directory' || (mode & 0o111) !== 0 ? 0o755 : 0o644;
}

/**
 * Byte order of the UTF-8 encoding, which is code point order, computed on the UTF-16 code units
 * without encoding (two Buffers per comparison made sorting 5,000 paths take ~100 ms). The two
 * orders differ in one case only: a surrogate (half of a code point above U+FFFF) sorts below
 * U+E000–U+FFFF in UTF-16 but above them in UTF-8.
 */
export function compareBytes(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate && !ySurrogate && y >= 0xe000) return 1;
    if (ySurrogate && !xSurrogate && x >= 0xe000) return -1;
    return x - y;
  }
  return a.length - b.length;
}

function kindOf(st: { isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isCharacterDevice()) return 'a character device';
  return 'neither a regular file nor a directory';
}

/** `(relative path, is a directory) → excluded?` from .promoteignore, with `.git/` always excluded. */
async function loadIgnore(root: string): Promise<(rel: string, isDir: boolean) => boolean> {
  let rules: string;
  try {
    rules = await readFile(join(root, IGNORE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // No ignore file: the one rule `.git/` is a directory named .git at any depth. Said directly,
    // it saves the matcher's work on every path of a tree of thousands of files.
    return (rel, isDir) => isDir && (rel === '.git' || rel.endsWith('/.git'));
  }
  const ig: Ignore = ignore().add('.git/').add(rules);
  return (rel, isDir) => ig.ignores(isDir ? `${rel}/` : rel);
}

/** Lists the entries of the bundle rooted at `root`, sorted, with every policy above applied. */
export async function walkBundle(root: string): Promise<WalkEntry[]> {
  let rootReal: string;
  try {
    rootReal = await realpath(root);
    if (!(await stat(rootReal)).isDirectory()) {
      throw walkError('BUNDLE_NOT_A_DIRECTORY', `${root} is not a directory`, 'give the bundle directory (the one holding bundle.yaml)', root);
    }
  } catch (err) {
    if (err instanceof PromoteError) throw err;
    throw walkError('BUNDLE_NOT_FOUND', `bundle directory ${root} does not exist`, 'give the bundle directory (the one holding bundle.yaml)', root);
  }
  const isExcluded = await loadIgnore(rootReal);
  const entries: WalkEntry[] = [];

  async function resolveLink(abs: string, rel: string): Promise<WalkEntry> {
    let target: string;
    try {
      target = await realpath(abs);
    } catch {
      throw walkError('BUNDLE_SYMLINK_DANGLING', `symbolic link ${rel} points at nothing`, `remove the link, or add "${rel}" to ${IGNORE_FILE}`, rel);
    }
    if (!target.startsWith(rootReal + sep)) {
      throw walkError(
        'BUNDLE_SYMLINK_OUTSIDE',
        `symbolic link ${rel} points outside the bundle (to ${target})`,
        `a bundle may only link to files inside it: copy the file into the bundle, or add "${rel}" to ${IGNORE_FILE}`,
        rel,
      );
    }
    const targetRel = relative(rootReal, target).split(sep).join('/');
    const st = await stat(target);
    if (st.isDirectory()) {
      throw walkError(
        'BUNDLE_SYMLINK_DIRECTORY',
        `symbolic link ${rel} points at a directory (${targetRel})`,
        `links are resolved to file content; link the files instead, or add "${rel}" to ${IGNORE_FILE}`,
        rel,
      );
    }
    if (!st.isFile()) {
      throw walkError('BUNDLE_SPECIAL_FILE', `symbolic link ${rel} points at ${kindOf(st)} (${targetRel})`, `remove it or add "${rel}" to ${IGNORE_FILE}`, rel);
    }
    if (targetRel.split('/').some((_, i, parts) => isExcluded(parts.slice(0, i + 1).join('/'), i < parts.length - 1))) {
      throw walkError(
        'BUNDLE_SYMLINK_EXCLUDED',
        `symbolic link ${rel} points at ${targetRel}, which ${IGNORE_FILE} or .git/ excludes`,
        `a link cannot bring excluded content into a bundle; remove the link or add "${rel}" to ${IGNORE_FILE}`,
        rel,
      );
    }
    return { path: rel, type: 'file', mode: normalisedMode('file', st.mode), size: st.size, source: target };
  }

  // Synchronous readdir/lstat on purpose: metadata calls take microseconds, while each async
  // call is a thread-pool round trip — 5,000 small files walked 4× faster this way. Nothing else
  // waits on the main thread at this point (packing starts when the walk is done).
  async function visit(dirAbs: string, dirRel: string): Promise<void> {
    const names = readdirSync(dirAbs).sort(compareBytes);
    for (const name of names) {
      const abs = join(dirAbs, name);
      const rel = dirRel ? `${dirRel}/${name}` : name;
      const st = lstatSync(abs);
      if (isExcluded(rel, st.isDirectory())) continue;
      if (st.isDirectory()) {
        entries.push({ path: rel, type: 'directory', mode: 0o755, size: 0, source: abs });
        await visit(abs, rel);
      } else if (st.isFile()) {
        entries.push({ path: rel, type: 'file', mode: normalisedMode('file', st.mode), size: st.size, source: abs });
      } else if (st.isSymbolicLink()) {
        entries.push(await resolveLink(abs, rel));
      } else {
        throw walkError(
          'BUNDLE_SPECIAL_FILE',
          `${rel} in ${root} is ${kindOf(st)}; a bundle holds only regular files and directories`,
          `remove it or add "${rel}" to ${IGNORE_FILE}`,
          rel,
        );
      }
    }
  }

  await visit(rootReal, '');
  // Siblings were visited in byte order, but "a/b" must still sort after "a-b" and "a.txt":
  // sort the whole list once by full path.
  return entries.sort((a, b) => compareBytes(a.path, b.path));
}
