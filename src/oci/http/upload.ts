import { Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isPromoteError, PromoteError } from '../../errors.ts';
import { checkBytes, VerifyingStream } from '../digest.ts';
import type { BlobContent, Descriptor } from '../registry.ts';
import type { RepositoryClient } from './client.ts';
import { isRetryableNetworkError } from './network-error.ts';
import { backoffDelay, discard } from './transport.ts';

// Blob upload (distribution-spec "Pushing blobs"), shaped by what distribution 2.8 does
// (REGISTRY-NOTES.md): POST opens a session; a body on that POST is ignored, so small blobs go
// POST + PUT ?digest= with the body (2 requests, the curl floor); large ones stream in PATCHes
// then a PUT ?digest=. Every PATCH answers with a new Location and older ones are dead, so the
// newest is always followed. The registry appends whatever arrived, so after a failure the
// session is asked what it holds and the upload goes on from there (see uploadBlob).

export interface UploadOptions {
  /** Blobs up to this size go in one PUT; larger ones are PATCHed. */
  monolithicMax: number;
  /** When set, PATCH in chunks of this many bytes (memory use: one chunk); else one streamed PATCH. */
  chunkSize?: number;
}

export const DEFAULT_MONOLITHIC_MAX = 16 * 1024 * 1024;

/** content → VerifyingStream, with an error on either side tearing down both. */
function verified(open: () => Readable, desc: Descriptor, where: string): Readable {
  const source = open();
  const check = new VerifyingStream(desc, `blob ${desc.digest}`, where);
  source.on('error', (err) => check.destroy(err));
  check.on('error', () => source.destroy());
  check.on('close', () => source.destroy());
  return source.pipe(check);
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/** Failures worth a fresh session: the registry or the connection, not our content or auth. */
export function isTransientUploadFailure(err: unknown): boolean {
  if (!isPromoteError(err)) return isRetryableNetworkError(err);
  if (err.code === 'REGISTRY_ERROR' || err.code === 'BLOB_UPLOAD_INVALID' || err.code === 'REGISTRY_RATE_LIMITED') return true;
  return err.code === 'REGISTRY_UNREACHABLE' && isRetryableNetworkError(err.cause);
}

export async function startSession(client: RepositoryClient, action: string, query = '', extraScopes: string[] = []): Promise<{ status: number; location: string }> {
  const url = client.url(`blobs/uploads/${query}`);
  // Opening a session again is harmless (an unused one is purged), so a 5xx here is retried.
  const res = await client.send({ method: 'POST', url, headers: { 'content-length': '0' }, retry: true }, {
    access: 'push', scopes: extraScopes, ok: [201, 202], action,
  });
  await discard(res.body);
  return { status: res.status, location: client.resolveLocation(res.headers.location, url, action) };
}

export async function cancelSession(client: RepositoryClient, location: string): Promise<void> {
  try {
    const res = await client.send({ method: 'DELETE', url: location, retry: false }, { access: 'push', ok: [200, 202, 204], pass: [404, 405], action: 'cancelling an upload' });
    await discard(res.body);
  } catch {
    /* best effort: the registry purges abandoned sessions itself */
  }
}

async function putFinal(client: RepositoryClient, location: string, desc: Descriptor, body: Uint8Array | (() => Readable), length: number, action: string): Promise<void> {
  const res = await client.send({
    method: 'PUT',
    url: withDigest(location, desc.digest),
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
    body,
    retry: false,
  }, { access: 'push', ok: [201, 204], action });
  await discard(res.body);
}

async function patch(client: RepositoryClient, location: string, body: Uint8Array | (() => Readable), start: number, length: number, action: string): Promise<string> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(length) };
  if (body instanceof Uint8Array) headers['content-range'] = `${start}-${start + length - 1}`;
  const res = await client.send({ method: 'PATCH', url: location, headers, body, retry: false }, { access: 'push', ok: [202, 204], action });
  await discard(res.body);
  const range = res.headers.range;
  const end = range ? Number(range.replace(/^bytes=/, '').split('-')[1]) : NaN;
  if (range && end !== start + length - 1) {
    throw new PromoteError('BLOB_UPLOAD_INVALID', `${action} (${client.name}): the registry holds bytes 0-${end} but ${start + length} were sent`, {
      hint: 'retry the push; the upload session lost data',
    });
  }
  return client.resolveLocation(res.headers.location, location, action);
}

/** Where a session stands: its newest Location and how many bytes it holds. */
interface Session {
  location: string;
  offset: number;
}

/** The content from byte `offset` on, digest-checked over the whole of it (a resumed stream re-reads and drops the head). */
function contentFrom(content: BlobContent, desc: Descriptor, offset: number, where: string): Uint8Array | (() => Readable) {
  if (content instanceof Uint8Array) return content.subarray(offset);
  return () => {
    const all = verified(content, desc, where);
    if (offset === 0) return all;
    let skip = offset;
    const tail = new Transform({
      transform(chunk: Buffer, _enc, done) {
        if (skip >= chunk.length) { skip -= chunk.length; done(); return; }
        const rest = chunk.subarray(skip);
        skip = 0;
        done(null, rest);
      },
    });
    all.on('error', (err) => tail.destroy(err));
    tail.on('close', () => all.destroy());
    return all.pipe(tail);
  };
}

/** Sends what `session` lacks and commits; moves `session` forward as chunks land. */
async function sendRest(client: RepositoryClient, desc: Descriptor, content: BlobContent, opts: UploadOptions, session: Session, action: string): Promise<void> {
  const where = `the content given for ${client.name}`;
  const chunked = opts.chunkSize !== undefined && desc.size > opts.chunkSize;
  const remaining = desc.size - session.offset;
  if (!chunked && desc.size <= opts.monolithicMax) {
    await putFinal(client, session.location, desc, contentFrom(content, desc, session.offset, where), remaining, action);
    return;
  }
  if (!chunked) {
    // One streamed PATCH (what skopeo does), then an empty PUT to commit.
    if (remaining > 0) {
      session.location = await patch(client, session.location, contentFrom(content, desc, session.offset, where), session.offset, remaining, action);
      session.offset = desc.size;
    }
    await putFinal(client, session.location, desc, new Uint8Array(0), 0, action);
    return;
  }
  // Fixed-size chunks; the last one travels with the PUT. Memory: one chunk.
  const chunkSize = opts.chunkSize!;
  const from = contentFrom(content, desc, session.offset, where);
  const source = from instanceof Uint8Array ? Readable.from([Buffer.from(from.buffer, from.byteOffset, from.byteLength)]) : from();
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  try {
    for await (const piece of source as AsyncIterable<Buffer>) {
      pending.push(piece);
      pendingBytes += piece.length;
      while (pendingBytes > chunkSize) {
        const all = Buffer.concat(pending, pendingBytes);
        const chunk = all.subarray(0, chunkSize);
        pending = [all.subarray(chunkSize)];
        pendingBytes -= chunkSize;
        session.location = await patch(client, session.location, chunk, session.offset, chunk.length, action);
        session.offset += chunk.length;
      }
    }
  } finally {
    source.destroy();
  }
  // The stream ended without error, so the VerifyingStream has checked digest and size.
  const last = Buffer.concat(pending, pendingBytes);
  await putFinal(client, session.location, desc, last, last.length, action);
}

/**
 * After a failed request: how far the session got (distribution-spec "Resuming an upload":
 * GET the upload URL, whose Range says which bytes it holds), 'gone' when the registry no
 * longer knows it (it may have completed), undefined when it cannot be told. distribution
 * writes "0-0" both for nothing and for one byte; it is read as nothing, and the one-byte case
 * ends in DIGEST_INVALID on commit, which uploadBlob answers with a fresh session.
 */
async function sessionStatus(client: RepositoryClient, session: Session, action: string): Promise<Session | 'gone' | undefined> {
  let res;
  try {
    res = await client.send({ method: 'GET', url: session.location }, { access: 'push', ok: [204], pass: [404], action });
  } catch {
    return undefined;
  }
  await discard(res.body);
  if (res.status === 404) return 'gone';
  const m = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.range ?? '');
  const end = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(end)) return undefined;
  return { location: client.resolveLocation(res.headers.location ?? session.location, session.location, action), offset: end === 0 ? 0 : end + 1 };
}

async function blobExists(client: RepositoryClient, digest: string, action: string): Promise<boolean> {
  try {
    const res = await client.send({ method: 'HEAD', url: client.url(`blobs/${digest}`) }, { access: 'pull', ok: [200], pass: [404], action });
    await discard(res.body);
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Uploads a blob the repository lacks. A transient failure (5xx, 429, a reset) is not the end
 * of the session: after a backoff the session is asked how far it got and the upload continues
 * from there, so a registry failing every few requests still gets the blob; only a session the
 * registry lost (or cannot describe) is started again. Bounded: `attempts` failures in a row
 * without progress give up.
 */
export async function uploadBlob(client: RepositoryClient, desc: Descriptor, content: BlobContent, opts: UploadOptions): Promise<void> {
  const action = `uploading blob ${desc.digest}`;
  if (content instanceof Uint8Array) checkBytes(desc, content, `blob ${desc.digest}`, `the content given for ${client.name}`);
  const policy = client.transport.retryPolicy;
  let session: Session | undefined;
  let resumed = false;
  let failures = 0;
  let total = 0;
  for (;;) {
    const before = session?.offset ?? -1;
    try {
      session ??= { location: (await startSession(client, action)).location, offset: 0 };
      await sendRest(client, desc, content, opts, session, action);
      return;
    } catch (err) {
      // Our content was checked before it was sent, so a digest the registry disputes after a
      // resume means the session kept bytes it did not report: start a clean one.
      const transient = isTransientUploadFailure(err) || (resumed && isPromoteError(err, 'DIGEST_INVALID'));
      total++;
      failures = session && session.offset > before ? 1 : failures + 1;
      if (!transient || failures >= policy.attempts) {
        if (session) await cancelSession(client, session.location);
        if (total > 1 && isPromoteError(err) && !err.message.includes('attempts')) {
          throw new PromoteError(err.code, `${err.message} (gave up after ${total} attempts)`, { hint: err.hint, cause: err, outcome: err.outcome, details: { ...err.details, attempts: total } });
        }
        throw err;
      }
      await sleep(backoffDelay(failures, policy));
      if (!session) continue;
      const status = isPromoteError(err, 'DIGEST_INVALID') ? undefined : await sessionStatus(client, session, action);
      if (status === 'gone' && (await blobExists(client, desc.digest, action))) return; // the commit landed; its answer was lost
      if (status && status !== 'gone') {
        if (status.offset > desc.size) status.offset = -1;
        if (status.offset >= 0) {
          if (status.offset > session.offset) failures = 0;
          session = status;
          resumed = true;
          continue;
        }
      }
      if (status !== 'gone') await cancelSession(client, session.location);
      session = undefined;
      resumed = false;
    }
  }
}

/**
 * Cross-repository mount (distribution-spec "Mounting a blob from another repository"): 201 means
 * linked without an upload; 202 means the registry opened an ordinary session instead, which is
 * cancelled so it does not linger.
 */
export async function mountBlob(client: RepositoryClient, desc: Descriptor, fromRepository: string, fromScope: string): Promise<boolean> {
  const action = `mounting blob ${desc.digest} from ${fromRepository}`;
  const query = `?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(fromRepository)}`;
  const { status, location } = await startSession(client, action, query, [fromScope]);
  if (status === 201) return true;
  await cancelSession(client, location);
  return false;
}
