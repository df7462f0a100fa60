import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { constants as zc, crc32, createDeflateRaw } from 'node:zlib';
import { PromoteError } from '../errors.ts';
import type { WalkEntry } from './walk.ts';

// Deterministic tar + gzip, hashed while it is compressed (one pass over the data, bounded memory).
//
// Why our own header writer instead of node-tar: node-tar's `portable` mode drops uid/gid/uname,
// but it still takes modes (umask-dependent) and mtimes from the file system, chooses between
// pax and ustar on its own, emits pax headers with atime/ctime when not portable, and its output
// is only as stable as its next release. Reproducibility is the product here, so every byte of a
// header is written below, in ~100 lines, where a reviewer can see it (Flux does the same in Go).
//
// Format: POSIX ustar (IEEE 1003.1-1988 "ustar Interchange Format"), readable by every tar.
//   - uid/gid 0, uname/gname empty, mtime 0, devmajor/devminor 0; modes as normalised by walk.
//   - Directories are entries too ("dir/", typeflag '5') so empty directories survive.
//   - A path over 100 bytes is split into ustar `prefix` (≤155) + `name` (≤100) at the last '/'
//     that fits; if no split fits, a pax extended header (typeflag 'x', POSIX.1-2001) with a
//     `path` record precedes the entry; its own name is the fixed "././@PaxHeader". Files of
//     8 GiB or more get a pax `size` record the same way.
//   - The archive ends with two zero blocks and is not padded to a 10 KiB record (not needed;
//     one fewer thing to vary).
// Gzip (RFC 1952): we frame a raw deflate stream ourselves so the 10-byte header is fixed — no
// file name, MTIME 0, XFL 0, OS 255 ("unknown", as Go's compress/gzip writes) — instead of
// zlib's, whose OS byte depends on the platform zlib was built for. Deflate settings are fixed:
// level 6 (gzip's default), windowBits 15, memLevel 8, default strategy.
// Caveat: the compressed bytes are those of Node's bundled (Chromium) zlib. Another zlib build —
// a different Node release, possibly a CPU-specific hash path in it — may compress differently,
// and then the digest differs although the tar stream is identical (the golden-digest test says
// so). A pure-JS deflate (fflate) would pin the bytes everywhere but measured 1.6× (random data)
// to 8× (YAML) slower than zlib here, on the main thread; we chose speed and document the scope:
// one digest per tree for one promote release on its pinned Node.

const BLOCK = 512;
const NAME_MAX = 100;
const PREFIX_MAX = 155;
const OCTAL_SIZE_MAX = 8 ** 11; // 11 octal digits
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

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function ustarHeader(name: Buffer, prefix: Buffer, type: '0' | '5' | 'x', mode: number, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0, 0, NAME_MAX);
  h.write(octal(mode, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1'); // uid
  h.write(octal(0, 8), 116, 'latin1'); // gid
  h.write(octal(size < OCTAL_SIZE_MAX ? size : 0, 12), 124, 'latin1');
  h.write(octal(0, 12), 136, 'latin1'); // mtime
  h.write(' '.repeat(8), 148, 'latin1'); // checksum placeholder (spaces, per the spec)
  h.write(type, 156, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  // uname (265) and gname (297) stay empty.
  h.write(octal(0, 8), 329, 'latin1'); // devmajor
  h.write(octal(0, 8), 337, 'latin1'); // devminor
  prefix.copy(h, 345, 0, PREFIX_MAX);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** One pax record: "<len> <key>=<value>\n" where <len> counts the whole record, itself included. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let length = bodyLength + 1;
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
  return `${length}${body}`;
}

/** Splits a path into ustar prefix/name, or returns undefined when it needs a pax header. */
function splitPath(path: Buffer): { prefix: Buffer; name: Buffer } | undefined {
  if (path.length <= NAME_MAX) return { prefix: Buffer.alloc(0), name: path };
  // The longest prefix that fits, leaving a non-empty name that fits.
  for (let i = Math.min(PREFIX_MAX, path.length - 2); i > 0; i--) {
    if (path[i] !== 0x2f) continue;
    const name = path.subarray(i + 1);
    if (name.length > NAME_MAX) return undefined;
    if (name.length > 0) return { prefix: path.subarray(0, i), name };
  }
  return undefined;
}

/** Header block(s) for one entry: [pax header + pax data +] ustar header. */
export function entryHeaders(entry: Pick<WalkEntry, 'path' | 'type' | 'mode' | 'size'>): Buffer[] {
  const tarPath = entry.type === 'directory' ? `${entry.path}/` : entry.path;
  const pathBytes = Buffer.from(tarPath, 'utf8');
  const type = entry.type === 'directory' ? '5' : '0';
  const split = splitPath(pathBytes);
  const records: string[] = [];
  if (!split) records.push(paxRecord('path', tarPath));
  if (entry.size >= OCTAL_SIZE_MAX) records.push(paxRecord('size', String(entry.size)));
  const out: Buffer[] = [];
  if (records.length) {
    const data = Buffer.from(records.join(''), 'utf8');
    out.push(ustarHeader(Buffer.from('././@PaxHeader'), Buffer.alloc(0), 'x', 0o644, data.length), data, padding(data.length));
  }
  out.push(ustarHeader(split?.name ?? pathBytes.subarray(0, NAME_MAX), split?.prefix ?? Buffer.alloc(0), type, entry.mode, entry.size));
  return out;
}

function changedWhileReading(entry: WalkEntry): PromoteError {
  return new PromoteError('BUNDLE_CHANGED', `${entry.path} changed size while the bundle was being built`, {
    hint: 'build again once nothing is writing to the bundle directory',
    details: { path: entry.path },
  });
}

/** A chunk of the tar stream; `release` returns a pooled buffer once the compressor is done with it. */
interface TarChunk {
  data: Buffer;
  release?: () => void;
}

/**
 * A few fixed read buffers, reused once the compressor has consumed them: memory stays flat
 * however large the bundle (fresh 1 MiB buffers per read would let garbage pile up until the
 * next GC — tens of MiB on a 200 MiB tree).
 */
class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly waiting: Array<(b: Buffer) => void> = [];

  constructor(count: number, size: number) {
    for (let i = 0; i < count; i++) this.free.push(Buffer.allocUnsafeSlow(size));
  }

  acquire(): Promise<Buffer> {
    const b = this.free.pop();
    return b ? Promise.resolve(b) : new Promise((resolve) => this.waiting.push(resolve));
  }

  release(b: Buffer): void {
    const next = this.waiting.shift();
    if (next) next(b);
    else this.free.push(b);
  }
}

/** Files up to this size are read whole and batched; larger ones stream through the pool. */
const SMALL_FILE = 64 * 1024;

function readSmallFile(entry: WalkEntry): Buffer {
  // One byte more than expected, to notice a file that grew since the walk.
  const buf = Buffer.allocUnsafe(entry.size + 1);
  const fd = openSync(entry.source, 'r');
  try {
    let filled = 0;
    for (;;) {
      const n = readSync(fd, buf, filled, buf.length - filled, filled);
      if (n === 0) break;
      filled += n;
      if (filled === buf.length) break;
    }
    if (filled !== entry.size) throw changedWhileReading(entry);
    return buf.subarray(0, entry.size);
  } finally {
    closeSync(fd);
  }
}

async function readFully(fh: import('node:fs/promises').FileHandle, buf: Buffer, length: number, position: number, entry: WalkEntry): Promise<void> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) throw changedWhileReading(entry);
    filled += bytesRead;
  }
}

/**
 * The tar stream for `entries` (already sorted and normalised). Headers and small files are
 * batched into chunks of about 256 KiB; large files stream 1 MiB at a time through `pool`.
 */
async function* tarChunks(entries: WalkEntry[], pool: BufferPool): AsyncGenerator<TarChunk> {
  let batch: Buffer[] = [];
  let batched = 0;
  const add = (b: Buffer): void => {
    if (b.length) {
      batch.push(b);
      batched += b.length;
    }
  };
  const take = (): TarChunk => {
    const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    return { data };
  };
  for (const entry of entries) {
    for (const h of entryHeaders(entry)) add(h);
    if (entry.type === 'file' && entry.size > 0 && entry.size <= SMALL_FILE) {
      // Small files are read synchronously: three syscalls instead of four thread-pool round
      // trips per file (what makes a tree of thousands of small manifests fast). Compression
      // keeps running on the thread pool meanwhile.
      add(readSmallFile(entry));
      add(padding(entry.size));
    } else if (entry.type === 'file' && entry.size > 0) {
      if (batched) yield take();
      const fh = await open(entry.source, 'r');
      try {
        for (let done = 0; done < entry.size; ) {
          const want = Math.min(READ_CHUNK, entry.size - done);
          const buf = await pool.acquire();
          try {
            await readFully(fh, buf, want, done, entry);
          } catch (err) {
            pool.release(buf);
            throw err;
          }
          done += want;
          yield { data: buf.subarray(0, want), release: () => pool.release(buf) };
        }
        const probe = Buffer.alloc(1);
        if ((await fh.read(probe, 0, 1, entry.size)).bytesRead !== 0) throw changedWhileReading(entry);
      } finally {
        await fh.close();
      }
      add(padding(entry.size));
    }
    if (batched >= BATCH) yield take();
  }
  add(Buffer.alloc(2 * BLOCK));
  yield take();
}

/**
 * Writes the gzip-compressed tar of `entries` to `outFile`, hashing the compressed bytes as they
 * are written; `signal` stops it early (the caller found another reason to fail). Memory stays bounded: the producer waits for the compressor ('drain'), and the
 * compressor's output is written and hashed as it appears.
 */
export async function writeTarGz(entries: WalkEntry[], outFile: string, signal?: AbortSignal): Promise<PackResult> {
  const deflate = createDeflateRaw({
    level: GZIP_LEVEL,
    windowBits: 15,
    memLevel: 8,
    strategy: zc.Z_DEFAULT_STRATEGY,
    chunkSize: 64 * 1024,
  });
  // Failures reach us through the producer's and consumer's promises (the async iterator
  // rethrows a destroyed stream's error); without this listener, a failure before the consumer
  // starts iterating would be an uncaught 'error' event.
  deflate.on('error', () => undefined);
  const hash = createHash('sha256');
  let crc = 0;
  let uncompressedSize = 0;
  let size = 0;
  const out = await open(outFile, 'w');
  const write = async (b: Buffer): Promise<void> => {
    hash.update(b);
    size += b.length;
    let off = 0;
    while (off < b.length) off += (await out.write(b, off, b.length - off)).bytesWritten;
  };

  const produce = async (): Promise<void> => {
    for await (const { data, release } of tarChunks(entries, new BufferPool(4, READ_CHUNK))) {
      if (deflate.destroyed) return; // the consumer failed; its error is the one reported
      signal?.throwIfAborted();
      crc = crc32(data, crc);
      uncompressedSize += data.length;
      // The write callback runs once zlib has consumed the chunk: only then is its buffer reused.
      if (!deflate.write(data, release && (() => release()))) await once(deflate, 'drain');
    }
    deflate.end();
  };
  const consume = async (): Promise<void> => {
    await write(GZIP_HEADER);
    for await (const chunk of deflate) await write(chunk as Buffer);
  };

  try {
    const producing = produce().catch((err: unknown) => {
      deflate.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    });
    const consuming = consume().catch((err: unknown) => {
      deflate.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    });
    await Promise.all([producing, consuming]);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc >>> 0, 0);
    trailer.writeUInt32LE(uncompressedSize % 2 ** 32, 4);
    await write(trailer);
  } finally {
    await out.close();
  }
  return {
    digest: `sha256:${hash.digest('hex')}`,
    size,
    uncompressedSize,
    files: entries.filter((e) => e.type === 'file').length,
    directories: entries.filter((e) => e.type === 'directory').length,
  };
}
