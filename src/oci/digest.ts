import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { PromoteError } from '../errors.ts';
import { readFileChunks } from '../file-chunks.ts';
import { checkDigest } from './reference.ts';

// Content addressing. Every byte that crosses the registry boundary is hashed while it streams;
// nothing is trusted because a header or an index said so (image-spec descriptor.md "Digests").

export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `sha256:<hex>` of a file, streamed (a shipped file can be hundreds of MiB). */
export async function fileSha256Digest(path: string): Promise<string> {
  const hash = createHash('sha256');
  await readFileChunks(path, (chunk) => void hash.update(chunk));
  return `sha256:${hash.digest('hex')}`;
}

export function digestHex(digest: string): string {
  return checkDigest(digest).slice(digest.indexOf(':') + 1);
}

function algorithmOf(digest: string): 'sha256' | 'sha512' {
  return checkDigest(digest).startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function digestMismatch(what: string, expected: string, actual: string, where: string): PromoteError {
  return new PromoteError('BLOB_DIGEST_MISMATCH', `${what} from ${where} does not match its digest: expected ${expected}, got ${actual}`, {
    outcome: 'verification',
    hint: 'the content was altered in the registry or in transit; nothing was written. Re-push the artefact from a trusted source',
    details: { expected, actual },
  });
}

export function sizeMismatch(what: string, expected: number, actual: number, where: string): PromoteError {
  return new PromoteError('BLOB_SIZE_MISMATCH', `${what} from ${where} is ${actual} bytes, but its descriptor says ${expected}`, {
    outcome: 'verification',
    hint: 'the content was altered in the registry or in transit; nothing was written',
    details: { expected, actual },
  });
}

/** Checks bytes held in memory against a descriptor (size, then digest), as VerifyingStream does a stream. */
export function checkBytes(expected: { digest: string; size: number }, bytes: Uint8Array, what: string, where: string): void {
  if (bytes.length !== expected.size) throw sizeMismatch(what, expected.size, bytes.length, where);
  const algorithm = algorithmOf(expected.digest);
  const actual = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
  if (actual !== expected.digest) throw digestMismatch(what, expected.digest, actual, where);
}

/**
 * A pass-through stream that hashes and counts what flows through it and fails (instead of
 * ending) when the total does not match `expected`: a consumer that commits only on 'finish'/'end'
 * can never commit unverified bytes. Also fails early once more than `size` bytes arrive, so a
 * lying server cannot make us read without bound.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash;
  private seen = 0;
  private readonly expected: { digest: string; size: number };
  private readonly what: string;
  private readonly where: string;

  constructor(expected: { digest: string; size: number }, what: string, where: string) {
    super();
    this.expected = expected;
    this.what = what;
    this.where = where;
    this.hash = createHash(algorithmOf(expected.digest));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.expected.size) {
      done(sizeMismatch(this.what, this.expected.size, this.seen, this.where));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.seen !== this.expected.size) {
      done(sizeMismatch(this.what, this.expected.size, this.seen, this.where));
      return;
    }
    const actual = `${this.expected.digest.slice(0, this.expected.digest.indexOf(':'))}:${this.hash.digest('hex')}`;
    done(actual === this.expected.digest ? null : digestMismatch(this.what, this.expected.digest, actual, this.where));
  }
}

/** Reads a whole stream into memory, refusing more than `maxBytes`. */
export async function readLimited(stream: NodeJS.ReadableStream, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += buf.length;
    if (total > maxBytes) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      throw new PromoteError('TOO_LARGE', `${what} is larger than the limit of ${maxBytes} bytes`, {
        outcome: 'verification',
        hint: 'this limit protects memory; the content is not what promote expects here',
      });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}
