import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isPromoteError, PromoteError } from '../../errors.ts';
import { checkBytes, VerifyingStream } from '../digest.ts';
import type { BlobContent, Descriptor } from '../registry.ts';
import type { RepositoryClient } from './client.ts';
import { backoffDelay, discard, isRetryableNetworkError } from './transport.ts';

// Blob upload (distribution-spec "Pushing blobs"), shaped by what distribution 2.8 does
// (REGISTRY-NOTES.md): POST opens a session; a body on that POST is ignored, so small blobs go
// POST + PUT ?digest= with the body (2 requests, the curl floor); large ones stream in PATCHes
// then a PUT ?digest=. Every PATCH answers with a new Location and older ones are dead, so the
// newest is always followed. A session that fails part-way cannot be resumed reliably (the
// registry appends whatever arrived), so on a transient failure it is cancelled (DELETE) and
// the upload starts over with a fresh stream, a bounded number of times.

export interface UploadOptions {
  /** Blobs up to this size go in one PUT; larger ones are PATCHed. */
  monolithicMax: number;
  /** When set, PATCH in chunks of this many bytes (memory use: one chunk); else one streamed PATCH. */
  chunkSize?: number;
}

export const DEFAULT_MONOLITHIC_MAX = 16 * 1024 * 1024;

function openContent(content: BlobContent): Readable {
  return content instanceof Uint8Array ? Readable.from([Buffer.from(content.buffer, content.byteOffset, content.byteLength)]) : content();
}

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
  const res = await client.send({ method: 'POST', url, headers: { 'content-length': '0' }, retry: false }, {
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

async function uploadOnce(client: RepositoryClient, desc: Descriptor, content: BlobContent, opts: UploadOptions, action: string): Promise<void> {
  const { location: first } = await startSession(client, action);
  let location = first;
  const where = `the content given for ${client.name}`;
  try {
    const chunked = opts.chunkSize !== undefined && desc.size > opts.chunkSize;
    if (!chunked && desc.size <= opts.monolithicMax) {
      const body = content instanceof Uint8Array ? content : () => verified(content, desc, where);
      await putFinal(client, location, desc, body, desc.size, action);
      return;
    }
    if (!chunked) {
      // One streamed PATCH (what skopeo does), then an empty PUT to commit.
      location = await patch(client, location, () => verified(() => openContent(content), desc, where), 0, desc.size, action);
      await putFinal(client, location, desc, new Uint8Array(0), 0, action);
      return;
    }
    // Fixed-size chunks; the last one travels with the PUT. Memory: one chunk.
    const chunkSize = opts.chunkSize!;
    const source = verified(() => openContent(content), desc, where);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let offset = 0;
    try {
      for await (const piece of source as AsyncIterable<Buffer>) {
        pending.push(piece);
        pendingBytes += piece.length;
        while (pendingBytes > chunkSize) {
          const all = Buffer.concat(pending, pendingBytes);
          const chunk = all.subarray(0, chunkSize);
          pending = [all.subarray(chunkSize)];
          pendingBytes -= chunkSize;
          location = await patch(client, location, chunk, offset, chunk.length, action);
          offset += chunk.length;
        }
      }
    } finally {
      source.destroy();
    }
    // The stream ended without error, so the VerifyingStream has checked digest and size.
    const last = Buffer.concat(pending, pendingBytes);
    await putFinal(client, location, desc, last, last.length, action);
  } catch (err) {
    await cancelSession(client, location);
    throw err;
  }
}

/** Uploads a blob the repository lacks, restarting the session on transient failures. */
export async function uploadBlob(client: RepositoryClient, desc: Descriptor, content: BlobContent, opts: UploadOptions): Promise<void> {
  const action = `uploading blob ${desc.digest}`;
  if (content instanceof Uint8Array) checkBytes(desc, content, `blob ${desc.digest}`, `the content given for ${client.name}`);
  const policy = client.transport.retryPolicy;
  for (let attempt = 1; ; attempt++) {
    try {
      await uploadOnce(client, desc, content, opts, action);
      return;
    } catch (err) {
      if (attempt >= policy.attempts || !isTransientUploadFailure(err)) {
        if (attempt > 1 && isPromoteError(err) && !err.message.includes('attempts')) {
          throw new PromoteError(err.code, `${err.message} (gave up after ${attempt} attempts)`, { hint: err.hint, cause: err, outcome: err.outcome, details: { ...err.details, attempts: attempt } });
        }
        throw err;
      }
      await sleep(backoffDelay(attempt, policy));
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
