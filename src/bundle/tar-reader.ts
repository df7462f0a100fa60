import { PromoteError } from '../errors.ts';

// A small streaming tar reader: ustar, pax ('x', 'g') and GNU long names ('L', 'K'), enough to
// read our own archives and what other tars produce. It reports every entry with its raw type and
// link target and lets the caller decide what is acceptable (extract.ts refuses links, devices…).
// It never buffers an entry's body: the caller gets it as a stream of chunks.

const BLOCK = 512;
const MAX_META_BYTES = 1024 * 1024; // pax / GNU long-name data: a name, not content

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'character-device' | 'block-device' | 'fifo' | 'other';

export interface TarEntryHeader {
  /** The path as stored (pax `path` / GNU long name / ustar prefix+name), not yet checked. */
  path: string;
  type: TarEntryType;
  /** The raw typeflag character, for messages. */
  typeflag: string;
  mode: number;
  size: number;
  linkname: string;
}

function malformed(why: string): PromoteError {
  return new PromoteError('TAR_MALFORMED', `the bundle content is not a valid tar archive: ${why}`, {
    outcome: 'verification',
    hint: 'the artefact was not built by promote or is damaged; rebuild and push it again',
  });
}

/** Reads exact byte counts from an async iterable of chunks without concatenating everything. */
class ByteReader {
  private readonly it: AsyncIterator<Buffer | string>;
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(source: AsyncIterable<Buffer | string>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.it.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    return true;
  }

  /** Exactly n bytes, or undefined at a clean end of input before the first byte. */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.buf.length < n) {
      if (!(await this.fill())) {
        if (this.buf.length === 0) return undefined;
        throw malformed('it ends in the middle of a block');
      }
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** n bytes as a series of chunks (copied, so callers may keep them). */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill())) throw malformed('an entry is cut short');
      const take = Math.min(left, this.buf.length);
      yield Buffer.from(this.buf.subarray(0, take));
      this.buf = this.buf.subarray(take);
      left -= take;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n));
  }

  /** Consumes whatever follows the archive, so that a verifying source reaches its end. */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (await this.fill()) this.buf = Buffer.alloc(0);
  }
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

function parseNumber(field: Buffer, what: string): number {
  const first = field[0] ?? 0;
  if (first & 0x80) {
    // GNU base-256: big-endian binary, first byte's high bit set. Positive values only.
    if (first !== 0x80) throw malformed(`a negative or oversized ${what}`);
    let v = 0;
    for (const byte of field.subarray(1)) v = v * 256 + byte;
    if (!Number.isSafeInteger(v)) throw malformed(`an oversized ${what}`);
    return v;
  }
  const text = field.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw malformed(`${what} "${text}" is not an octal number`);
  return parseInt(text, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = parseNumber(h.subarray(148, 156), 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < data.length) {
    const space = data.indexOf(0x20, off);
    if (space < 0) throw malformed('a pax record has no length');
    const length = Number(data.subarray(off, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= space - off || off + length > data.length) throw malformed('a pax record has a bad length');
    const record = data.subarray(space + 1, off + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq < 0) throw malformed('a pax record has no "="');
    out.set(record.slice(0, eq), record.slice(eq + 1));
    off += length;
  }
  return out;
}

function typeOf(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
      return 'file';
    case '5':
      return 'directory';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'character-device';
    case '4':
      return 'block-device';
    case '6':
      return 'fifo';
    default:
      return 'other';
  }
}

/**
 * Calls `onEntry` for every entry, in archive order, with a body stream the callback may read
 * (what it leaves unread is skipped). Resolves after the end-of-archive marker *and* the end of
 * the input, which it drains so that a digest-verifying source gets to check the whole blob.
 */
export async function readTar(
  source: AsyncIterable<Buffer | string>,
  onEntry: (header: TarEntryHeader, body: AsyncGenerator<Buffer>) => Promise<void>,
): Promise<void> {
  const reader = new ByteReader(source);
  let pax = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await reader.read(BLOCK);
    if (!h) throw malformed('it has no end-of-archive marker');
    if (h.every((b) => b === 0)) break;
    if (!checksumOk(h)) throw malformed('a header checksum is wrong');
    const typeflag = String.fromCharCode(h[156]!);
    let size = parseNumber(h.subarray(124, 136), 'size');
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > MAX_META_BYTES) throw malformed(`a metadata entry of ${size} bytes`);
      const data = (await reader.read(Math.ceil(size / BLOCK) * BLOCK)) ?? Buffer.alloc(0);
      const body = data.subarray(0, size);
      if (typeflag === 'x') pax = parsePax(body);
      else if (typeflag === 'L') longName = cString(body);
      else if (typeflag === 'K') longLink = cString(body);
      // 'g' (global pax) carries nothing we use.
      continue;
    }
    const magic = h.subarray(257, 263).toString('latin1');
    const prefix = magic === 'ustar\0' ? cString(h.subarray(345, 500)) : '';
    const name = cString(h.subarray(0, 100));
    const path = pax.get('path') ?? longName ?? (prefix ? `${prefix}/${name}` : name);
    const linkname = pax.get('linkpath') ?? longLink ?? cString(h.subarray(157, 257));
    const paxSize = pax.get('size');
    if (paxSize !== undefined) {
      if (!/^\d+$/.test(paxSize) || !Number.isSafeInteger(Number(paxSize))) throw malformed(`pax size "${paxSize}"`);
      size = Number(paxSize);
    }
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    const type = typeOf(typeflag);
    const header: TarEntryHeader = {
      path,
      type,
      typeflag,
      mode: parseNumber(h.subarray(100, 108), 'mode') & 0o7777,
      size: type === 'file' ? size : 0,
      linkname,
    };
    // The callback sees only a file's content; whatever it leaves unread, the block padding, and
    // any data other entry types carry are skipped here.
    const state = { read: 0 };
    const dataSize = type === 'file' ? size : 0;
    const body = (async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of reader.chunks(dataSize)) {
        state.read += chunk.length;
        yield chunk;
      }
    })();
    await onEntry(header, body);
    const rest = Math.ceil(size / BLOCK) * BLOCK - state.read;
    if (rest) await reader.skip(rest);
  }
  await reader.drain();
}
