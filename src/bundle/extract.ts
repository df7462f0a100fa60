import { chmod, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { PromoteError } from '../errors.ts';
import { BUNDLE_MAX_ENTRIES, BUNDLE_MAX_FILE_BYTES, BUNDLE_MAX_PATH_BYTES, BUNDLE_MAX_PATHS_BYTES, BUNDLE_MAX_TOTAL_BYTES, entryPathProblem } from './limits.ts';
import { readTar, type TarEntryHeader } from './tar-reader.ts';

// Unpacks bundle content (tar+gzip) into a directory the caller has just created, refusing
// anything a promote bundle never contains and anything that could write outside the directory
// (the "zip slip" family). The caller (artifact/pull.ts) extracts into a fresh temporary directory and
// renames it into place only after the whole blob verified, so a refusal leaves nothing behind.
//
// Refused (error code BUNDLE_ENTRY_REFUSED, exit 4): absolute paths, `..` components, backslashes,
// NUL, symbolic and hard links, devices, FIFOs and other special types, and paths that collide:
// one that appears twice (`a` and `a/` are the same path), a file where another entry needs a
// directory (`a` then `a/b`, or `a/b` then `a`). Linux compares names byte for byte, so `A` and
// `a` are two paths, not a collision; nothing here folds case.
// Limits: src/bundle/limits.ts (documented in README "Bundles"; options can lower or raise them),
// shared with `promote build`, which refuses at build what would be refused here.

export const MAX_ENTRY_BYTES = BUNDLE_MAX_FILE_BYTES;
export const MAX_TOTAL_BYTES = BUNDLE_MAX_TOTAL_BYTES;
export const MAX_ENTRIES = BUNDLE_MAX_ENTRIES;
export const MAX_PATH_BYTES = BUNDLE_MAX_PATH_BYTES;

export interface ExtractLimits {
  maxEntryBytes?: number;
  maxTotalBytes?: number;
  maxEntries?: number;
  maxPathsBytes?: number;
}

export interface ListedEntry {
  path: string;
  type: 'file' | 'directory';
  mode: number;
  size: number;
}

export interface ExtractSummary {
  files: number;
  directories: number;
  /** Sum of file sizes. */
  bytes: number;
  /** Every entry, in archive order: listed only (listBundleLayer); extracting keeps none in memory. */
  entries: ListedEntry[];
}

function refused(path: string, why: string, what: string): PromoteError {
  return new PromoteError('BUNDLE_ENTRY_REFUSED', `${what} has a tar entry "${path}" that ${why}`, {
    outcome: 'verification',
    hint: 'promote never builds such entries; the artefact was crafted or damaged, so nothing was extracted. Rebuild it with `promote build`',
    details: { path },
  });
}

/** Checks a stored path and returns its normal form ('a/b', no './', no trailing '/'; '' for the root). */
export function safeEntryPath(raw: string, what: string): string {
  const problem = entryPathProblem(raw);
  if (problem) throw refused(raw.length > 80 ? raw.slice(0, 80) : raw, problem, what);
  return raw
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

function checkType(h: TarEntryHeader, what: string): 'file' | 'directory' {
  switch (h.type) {
    case 'file':
    case 'directory':
      return h.type;
    case 'symlink':
      throw refused(h.path, `is a symbolic link (to "${h.linkname}"); bundles hold no links`, what);
    case 'hardlink':
      throw refused(h.path, `is a hard link (to "${h.linkname}"); bundles hold no links`, what);
    case 'character-device':
    case 'block-device':
      throw refused(h.path, 'is a device file', what);
    case 'fifo':
      throw refused(h.path, 'is a FIFO', what);
    default:
      throw refused(h.path, `has the unsupported tar type "${h.typeflag}"`, what);
  }
}

function tooLarge(what: string, message: string): PromoteError {
  return new PromoteError('BUNDLE_TOO_LARGE', `${what} ${message}`, {
    outcome: 'verification',
    hint: 'bundles are configuration, not data: the limits (README "Bundles") are fixed, so ship large data another way (an image, a volume) or split the bundle',
  });
}

/**
 * Walks the entries of a compressed bundle layer, applying every check and limit, and calls
 * `write` for each accepted entry (or only lists them when `write` is undefined). Resolves only
 * after the whole source has been read, so a verifying source has checked its digest.
 */
async function processLayer(
  source: Readable,
  what: string,
  limits: ExtractLimits,
  write: ((entry: ListedEntry, body: AsyncGenerator<Buffer>) => Promise<void>) | undefined,
): Promise<ExtractSummary> {
  const maxEntry = limits.maxEntryBytes ?? MAX_ENTRY_BYTES;
  const maxTotal = limits.maxTotalBytes ?? MAX_TOTAL_BYTES;
  const maxEntries = limits.maxEntries ?? MAX_ENTRIES;
  const maxPathsBytes = limits.maxPathsBytes ?? BUNDLE_MAX_PATHS_BYTES;
  // Every path seen, explicit or implied by a deeper one ('implied' = a directory no entry named).
  const seen = new Map<string, 'file' | 'directory' | 'implied'>();
  let pathsBytes = 0;
  const remember = (path: string, kind: 'file' | 'directory' | 'implied'): void => {
    seen.set(path, kind);
    pathsBytes += Buffer.byteLength(path);
    if (seen.size > maxEntries) throw tooLarge(what, `has more than ${maxEntries} entries (directories its paths imply included)`);
    if (pathsBytes > maxPathsBytes) throw tooLarge(what, `has more than ${maxPathsBytes} bytes of paths in all`);
  };
  const summary: ExtractSummary = { files: 0, directories: 0, bytes: 0, entries: [] };
  const onEntry = async (h: TarEntryHeader, body: AsyncGenerator<Buffer>): Promise<void> => {
    const type = checkType(h, what);
    const path = safeEntryPath(h.path, what);
    if (path === '') {
      if (type === 'directory') return; // "./", as `tar -C dir .` writes it
      throw refused(h.path, 'names no file', what);
    }
    for (let slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
      const parent = path.slice(0, slash);
      const kind = seen.get(parent);
      if (kind === 'file') throw refused(path, `is under "${parent}", which is a file`, what);
      if (kind === undefined) remember(parent, 'implied');
    }
    const earlier = seen.get(path);
    if (earlier === 'file' || earlier === 'directory') {
      throw refused(path, earlier === type ? 'appears twice' : `appears twice, as a ${earlier} and as a ${type}`, what);
    }
    if (earlier === 'implied' && type === 'file') throw refused(path, 'is a file, but earlier entries are inside a directory of that name', what);
    if (earlier === 'implied') seen.set(path, type);
    else remember(path, type);
    if (h.size > maxEntry) throw tooLarge(what, `has a file "${path}" of ${h.size} bytes, over the limit of ${maxEntry}`);
    summary.bytes += h.size;
    if (summary.bytes > maxTotal) throw tooLarge(what, `unpacks to more than ${maxTotal} bytes`);
    const entry: ListedEntry = { path, type, mode: type === 'directory' || h.mode & 0o111 ? 0o755 : 0o644, size: h.size };
    if (type === 'file') summary.files++;
    else summary.directories++;
    if (write) await write(entry, body);
    else summary.entries.push(entry);
  };
  try {
    await pipeline(source, createGunzip({ chunkSize: 64 * 1024 }), (tar: AsyncIterable<Buffer>) => readTar(tar, onEntry));
  } catch (err) {
    // zlib's own errors (Z_DATA_ERROR, Z_BUF_ERROR…) mean the bytes are not what was built; the
    // digest check, which runs at the end of the stream, never got that far. Say so plainly.
    const code = (err as NodeJS.ErrnoException).code;
    if (!(err instanceof PromoteError) && typeof code === 'string' && code.startsWith('Z_')) {
      throw new PromoteError('BUNDLE_CONTENT_CORRUPT', `${what}: the content does not decompress (${(err as Error).message})`, {
        outcome: 'verification',
        cause: err,
        hint: 'the content was altered in the registry or in transit; nothing was written. Re-push the artefact from a trusted source',
      });
    }
    throw err;
  }
  return summary;
}

/** Lists the files of a bundle layer without writing anything (for `promote inspect`). */
export function listBundleLayer(source: Readable, what: string, limits: ExtractLimits = {}): Promise<ExtractSummary> {
  return processLayer(source, what, limits, undefined);
}

/**
 * Extracts a bundle layer into `dest`, an existing empty directory the caller owns. On failure
 * `dest` may hold partial content: the caller removes it (artifact/pull.ts extracts into a temp dir).
 */
export async function extractBundleLayer(source: Readable, dest: string, what: string, limits: ExtractLimits = {}): Promise<ExtractSummary> {
  const made = new Set<string>(['']);
  const ensureDir = async (rel: string): Promise<void> => {
    if (made.has(rel)) return;
    await mkdir(join(dest, rel), { recursive: true, mode: 0o755 });
    made.add(rel);
  };
  return processLayer(source, what, limits, async (entry, body) => {
    if (entry.type === 'directory') {
      await ensureDir(entry.path);
      await chmod(join(dest, entry.path), 0o755);
      return;
    }
    const slash = entry.path.lastIndexOf('/');
    await ensureDir(slash < 0 ? '' : entry.path.slice(0, slash));
    // 'wx': never follow or replace something already there.
    const fh = await open(join(dest, entry.path), 'wx', entry.mode);
    try {
      let written = 0;
      for await (const chunk of body) {
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        written += chunk.length;
      }
      if (written !== entry.size) {
        throw new PromoteError('TAR_MALFORMED', `${what}: entry ${entry.path} is cut short`, {
          outcome: 'verification',
          hint: 'the artefact was not built by promote or is damaged; nothing was kept. Rebuild and push it again',
        });
      }
      // open()'s mode is filtered by the umask; set the normalised mode exactly.
      await fh.chmod(entry.mode);
    } finally {
      await fh.close();
    }
  });
}
