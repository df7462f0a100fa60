import type { WalkEntry } from './walk.ts';

// The tar headers of a bundle's layer (the stream itself: tar-writer.ts).
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

export const BLOCK = 512;
const NAME_MAX = 100;
const PREFIX_MAX = 155;
export const OCTAL_SIZE_MAX = 8 ** 11; // 11 octal digits

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** The bytes every header shares: owner 0, mtime 0, magic "ustar\0" + "00", no devices, no names. */
const HEADER_TEMPLATE = (() => {
  const h = Buffer.alloc(BLOCK);
  h.write(octal(0, 8), 108, 'latin1'); // uid
  h.write(octal(0, 8), 116, 'latin1'); // gid
  h.write(octal(0, 12), 136, 'latin1'); // mtime
  h.write(' '.repeat(8), 148, 'latin1'); // checksum placeholder (spaces, per the spec)
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  // uname (265) and gname (297) stay empty.
  h.write(octal(0, 8), 329, 'latin1'); // devmajor
  h.write(octal(0, 8), 337, 'latin1'); // devminor
  return h;
})();

/** Writes one ustar header block into `target` at `at`. */
function writeUstarHeader(target: Buffer, at: number, name: Buffer, prefix: Buffer, type: '0' | '5' | 'x', mode: number, size: number): void {
  HEADER_TEMPLATE.copy(target, at);
  name.copy(target, at, 0, NAME_MAX);
  target.write(octal(mode, 8), at + 100, 'latin1');
  target.write(octal(size < OCTAL_SIZE_MAX ? size : 0, 12), at + 124, 'latin1');
  target.write(type, at + 156, 'latin1');
  prefix.copy(target, at + 345, 0, PREFIX_MAX);
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += target[i]!;
  target.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
}

/** Zero bytes after `size` bytes of content, up to the next 512-byte block. */
export function paddingOf(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
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

const EMPTY = Buffer.alloc(0);
const PAX_NAME = Buffer.from('././@PaxHeader');

/** At least the room the header blocks of `entry` take: pax header, pax data, ustar header. */
export function headerRoom(entry: Pick<WalkEntry, 'path'>): number {
  return 4 * BLOCK + Buffer.byteLength(entry.path) + 64;
}

/**
 * Writes the header block(s) for one entry — [pax header + pax data +] ustar header — into
 * `target` at `at` (with headerRoom(entry) bytes of room); returns the bytes written.
 */
export function writeEntryHeaders(entry: Pick<WalkEntry, 'path' | 'type' | 'mode' | 'size'>, target: Buffer, at: number): number {
  const tarPath = entry.type === 'directory' ? `${entry.path}/` : entry.path;
  const pathBytes = Buffer.from(tarPath, 'utf8');
  const type = entry.type === 'directory' ? '5' : '0';
  const split = splitPath(pathBytes);
  const records: string[] = [];
  if (!split) records.push(paxRecord('path', tarPath));
  if (entry.size >= OCTAL_SIZE_MAX) records.push(paxRecord('size', String(entry.size)));
  let n = 0;
  if (records.length) {
    const data = Buffer.from(records.join(''), 'utf8');
    writeUstarHeader(target, at, PAX_NAME, EMPTY, 'x', 0o644, data.length);
    n += BLOCK;
    data.copy(target, at + n);
    const padded = data.length + paddingOf(data.length);
    target.fill(0, at + n + data.length, at + n + padded);
    n += padded;
  }
  writeUstarHeader(target, at + n, split?.name ?? pathBytes.subarray(0, NAME_MAX), split?.prefix ?? EMPTY, type, entry.mode, entry.size);
  return n + BLOCK;
}

/** Header block(s) for one entry: [pax header + pax data +] ustar header. */
export function entryHeaders(entry: Pick<WalkEntry, 'path' | 'type' | 'mode' | 'size'>): Buffer[] {
  const out = Buffer.alloc(headerRoom(entry));
  const n = writeEntryHeaders(entry, out, 0);
  const blocks: Buffer[] = [];
  for (let i = 0; i < n; i += BLOCK) blocks.push(out.subarray(i, i + BLOCK));
  return blocks;
}
