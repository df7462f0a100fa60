import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { PromoteError } from '../errors.ts';
import { BlockDeflate } from './block-deflate.ts';
import { BLOCK, headerRoom, paddingOf, writeEntryHeaders } from './tar-header.ts';
import type { WalkEntry } from './walk.ts';

// Deterministic tar + gzip, hashed while it is compressed (one pass over the data, bounded memory).
//
// The tar headers are written by tar-header.ts (format and the reasons for our own writer there).
// Gzip (RFC 1952): we frame a raw deflate stream ourselves so the 10-byte header is fixed — no
// file name, MTIME 0, XFL 0, OS 255 ("unknown", as Go's compress/gzip writes) — instead of
// zlib's, whose OS byte depends on the platform zlib was built for. Deflate settings are fixed:
// level 6 (gzip's default), windowBits 15, memLevel 8, default strategy, in 512 KiB blocks
// compressed in parallel (block-deflate.ts; the block size is part of the format).
// Caveat: the compressed bytes are those of Node's bundled (Chromium) zlib. Another zlib build —
// a different Node release, possibly a CPU-specific hash path in it — may compress differently,
// and then the digest differs although the tar stream is identical (the golden-digest test says
// so). A pure-JS deflate (fflate) would pin the bytes everywhere but measured 1.6× (random data)
// to 8× (YAML) slower than zlib here, on the main thread; we chose speed and document the scope:
// one digest per tree for one promote release on its pinned Node.

const READ_CHUNK = 1024 * 1024;
const BATCH = 256 * 1024;

export const GZIP_LEVEL = 6;
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

export interface PackResult {
  /** sha256 of the compressed stream, as an OCI digest. */
  digest: string;
  /** Size of the compressed stream in bytes. */
  size: number;
  /** Size of the tar stream before compression. */
  uncompressedSize: number;
  files: number;
  directories: number;
}

function changedWhileReading(entry: WalkEntry): PromoteError {
  return new PromoteError('BUNDLE_CHANGED', `${entry.path} changed size while the bundle was being built`, {
    hint: 'build again once nothing is writing to the bundle directory',
    details: { path: entry.path },
  });
}

/** Files up to this size are read straight into the batch; larger ones are read 1 MiB at a time. */
const SMALL_FILE = 64 * 1024;

/** Reads `length` bytes at `position` into `buf` at `offset` (the file must still be as long as the walk saw it). */
function readFully(fd: number, buf: Buffer, offset: number, length: number, position: number, entry: WalkEntry): void {
  let filled = 0;
  while (filled < length) {
    const n = readSync(fd, buf, offset + filled, length - filled, position + filled);
    if (n === 0) throw changedWhileReading(entry);
    filled += n;
  }
}

/** Fails when the file has grown past the size the walk saw (one byte more is enough to know). */
function requireEnd(fd: number, entry: WalkEntry, probe: Buffer): void {
  if (readSync(fd, probe, 0, 1, entry.size) !== 0) throw changedWhileReading(entry);
}

/**
 * The tar stream for `entries` (already sorted and normalised), in chunks that are views of two
 * reused buffers — each valid only until the next is asked for (the compressor copies it at once):
 * headers and small files are written straight into a 256 KiB batch, large files come 1 MiB at a
 * time. No buffer per file or per header: a tree of thousands of small manifests makes no garbage.
 * `onFile` sees each small file's content (a view, valid during the call).
 *
 * Reads are synchronous: the thread pool is the compressor's, and an asynchronous read queued
 * behind a dozen deflate blocks would stall the producer until they finish (seen in a profile);
 * from the page cache a 1 MiB read takes well under a millisecond.
 */
function* tarChunks(entries: WalkEntry[], onFile?: (entry: WalkEntry, content: Buffer) => void): Generator<Buffer> {
  const batch = Buffer.allocUnsafeSlow(BATCH);
  const probe = Buffer.allocUnsafe(1);
  let used = 0;
  let scratch: Buffer | undefined;
  for (const entry of entries) {
    const room = headerRoom(entry);
    if (used + room > BATCH) {
      yield batch.subarray(0, used);
      used = 0;
    }
    used += writeEntryHeaders(entry, batch, used);
    if (entry.type !== 'file' || entry.size === 0) continue;
    const padded = entry.size + paddingOf(entry.size);
    const fd = openSync(entry.source, 'r');
    try {
      if (entry.size <= SMALL_FILE) {
        if (used + padded + 1 > BATCH) {
          yield batch.subarray(0, used);
          used = 0;
        }
        // One read of a byte more than the walk saw: a regular file returns less only at its end,
        // so getting exactly `size` bytes settles both the content and that it did not grow.
        const n = readSync(fd, batch, used, entry.size + 1, 0);
        if (n > entry.size) throw changedWhileReading(entry);
        if (n < entry.size) {
          readFully(fd, batch, used + n, entry.size - n, n, entry);
          requireEnd(fd, entry, probe);
        }
        onFile?.(entry, batch.subarray(used, used + entry.size));
        batch.fill(0, used + entry.size, used + padded);
        used += padded;
        continue;
      }
      if (used > 0) yield batch.subarray(0, used);
      used = 0;
      scratch ??= Buffer.allocUnsafeSlow(READ_CHUNK);
      for (let done = 0; done < entry.size; ) {
        const want = Math.min(READ_CHUNK, entry.size - done);
        readFully(fd, scratch, 0, want, done, entry);
        done += want;
        yield scratch.subarray(0, want);
      }
      requireEnd(fd, entry, probe);
    } finally {
      closeSync(fd);
    }
    batch.fill(0, 0, padded - entry.size);
    used = padded - entry.size;
  }
  if (used + 2 * BLOCK > BATCH) {
    yield batch.subarray(0, used);
    used = 0;
  }
  batch.fill(0, used, used + 2 * BLOCK);
  yield batch.subarray(0, used + 2 * BLOCK);
}

export interface WriteTarGzOptions {
  /** Stops packing early (the caller found another reason to fail). */
  signal?: AbortSignal;
  /** See BlockDeflateOptions.onSaturated. */
  onSaturated?: () => void;
  /** Sees the content of each file of up to 64 KiB as it is packed (a view, valid during the call). */
  onFile?: (entry: WalkEntry, content: Buffer) => void;
}

export async function writeTarGz(entries: WalkEntry[], outFile: string, options: WriteTarGzOptions = {}): Promise<PackResult> {
  const { signal, onSaturated, onFile } = options;
  const hash = createHash('sha256');
  let crc = 0;
  let uncompressedSize = 0;
  let size = 0;
  // Synchronous writes for the same reason as the reads (tarChunks): the thread pool is busy
  // compressing, and the page cache takes a block's output in well under a millisecond.
  const out = openSync(outFile, 'w');
  const write = async (b: Buffer): Promise<void> => {
    hash.update(b);
    size += b.length;
    for (let off = 0; off < b.length; ) off += writeSync(out, b, off, b.length - off);
  };
  let deflate: BlockDeflate | undefined;
  try {
    await write(GZIP_HEADER);
    deflate = new BlockDeflate(write, { level: GZIP_LEVEL, ...(onSaturated && { onSaturated }) });
    for (const data of tarChunks(entries, onFile)) {
      signal?.throwIfAborted();
      crc = crc32(data, crc);
      uncompressedSize += data.length;
      await deflate.write(data);
    }
    await deflate.end();
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc >>> 0, 0);
    trailer.writeUInt32LE(uncompressedSize % 2 ** 32, 4);
    await write(trailer);
  } catch (err) {
    // Blocks still on the thread pool would otherwise reach the sink after `out` is closed, and
    // write into whatever file has since been given its descriptor number.
    await deflate?.abort(err);
    throw err;
  } finally {
    closeSync(out);
  }
  return {
    digest: `sha256:${hash.digest('hex')}`,
    size,
    uncompressedSize,
    files: entries.filter((e) => e.type === 'file').length,
    directories: entries.filter((e) => e.type === 'directory').length,
  };
}
