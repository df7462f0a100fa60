import { PromoteError } from '../../errors.ts';
import { digestMismatch, readLimited, sha256Digest } from '../digest.ts';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from '../media-types.ts';
import { checkTag, isValidDigest } from '../reference.ts';
import type { Descriptor, FetchedManifest } from '../registry.ts';
import type { RepositoryClient } from './client.ts';
import { networkError } from './network-error.ts';
import { discard } from './transport.ts';

// Manifest GET/PUT (distribution-spec "Pulling manifests" / "Pushing manifests"). The digest
// of what we read is computed from the bytes, never taken from Docker-Content-Digest, and must
// equal the digest asked for; both directions refuse more than 4 MiB (distribution's limit),
// reading with a bounded buffer so a hostile server cannot make us hold more.

/** A tag or digest for the URL path, validated here: distribution 500s on bad tags. */
export function checkManifestReference(reference: string): string {
  if (reference.includes(':')) {
    if (!isValidDigest(reference)) checkTag(reference);
    return reference;
  }
  return checkTag(reference);
}

export function tooLarge(what: string, size: number): PromoteError {
  return new PromoteError('MANIFEST_TOO_LARGE', `${what} is ${size} bytes, over the 4 MiB limit registries put on manifests`, {
    outcome: 'verification',
    hint: 'keep manifests small: large data belongs in blobs (layers), not in annotations or the manifest itself',
    details: { size, limit: MAX_MANIFEST_BYTES },
  });
}

function mediaTypeOf(contentType: string | undefined, bytes: Buffer): string {
  const header = contentType?.split(';')[0]?.trim();
  if (header && header !== 'application/json' && header !== 'application/octet-stream') return header;
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown };
    if (typeof parsed.mediaType === 'string') return parsed.mediaType;
  } catch {
    /* left to the caller's parser to complain about */
  }
  return header ?? 'application/octet-stream';
}

/** GET a manifest; undefined on 404 when `allowMissing`. */
export async function getManifest(client: RepositoryClient, reference: string, opts: { accept?: string[]; allowMissing?: boolean } = {}): Promise<FetchedManifest | undefined> {
  checkManifestReference(reference);
  const action = `fetching manifest ${reference}`;
  const res = await client.send({
    method: 'GET',
    url: client.url(`manifests/${reference}`),
    headers: { accept: (opts.accept ?? MANIFEST_ACCEPT).join(', ') },
  }, { access: 'pull', ok: [200], ...(opts.allowMissing && { pass: [404] }), action });
  if (res.status === 404) {
    await discard(res.body);
    return undefined;
  }
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_MANIFEST_BYTES) {
    res.body.destroy();
    throw tooLarge(`manifest ${reference} in ${client.name}`, declared);
  }
  let bytes: Buffer;
  try {
    bytes = await readLimited(res.body, MAX_MANIFEST_BYTES, `manifest ${reference} in ${client.name}`);
  } catch (err) {
    if (err instanceof PromoteError && err.code === 'TOO_LARGE') throw tooLarge(`manifest ${reference} in ${client.name}`, MAX_MANIFEST_BYTES + 1);
    if (err instanceof PromoteError) throw err;
    throw networkError(err, res.url, client.transport.insecure);
  }
  const digest = sha256Digest(bytes);
  if (reference.includes(':') && reference.startsWith('sha256:') && digest !== reference) {
    throw digestMismatch(`manifest ${reference}`, reference, digest, client.name);
  }
  if (reference.startsWith('sha512:')) {
    throw new PromoteError('DIGEST_UNSUPPORTED', `manifest ${reference}: only sha256 manifest digests are supported`, {
      outcome: 'usage', hint: 'refer to the manifest by its sha256 digest',
    });
  }
  const descriptor: Descriptor = { mediaType: mediaTypeOf(res.headers['content-type'], bytes), digest, size: bytes.length };
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { artifactType?: unknown };
    if (typeof parsed.artifactType === 'string') descriptor.artifactType = parsed.artifactType;
  } catch {
    /* not JSON: the caller's parser reports it with context */
  }
  return { descriptor, bytes };
}

/** PUT a manifest at a tag or its digest; returns the response's OCI-Subject header, if any. */
export async function putManifest(client: RepositoryClient, bytes: Uint8Array, mediaType: string, reference: string): Promise<{ digest: string; subjectHeader: string | undefined }> {
  checkManifestReference(reference);
  if (bytes.length > MAX_MANIFEST_BYTES) throw tooLarge(`the manifest for ${client.name}`, bytes.length);
  const digest = sha256Digest(bytes);
  const action = `pushing manifest ${reference === digest ? digest : `${reference} (${digest})`}`;
  const res = await client.send({
    method: 'PUT',
    url: client.url(`manifests/${reference}`),
    headers: { 'content-type': mediaType },
    body: bytes,
  }, { access: 'push', ok: [200, 201, 202, 204], action });
  await discard(res.body);
  const stored = res.headers['docker-content-digest'];
  if (stored && stored !== digest) {
    // A registry that rewrote the manifest (e.g. canonicalised JSON) would break every signature.
    throw new PromoteError('DIGEST_INVALID', `${action}: the registry stored it as ${stored}, not ${digest}`, {
      outcome: 'verification',
      hint: 'this registry rewrites manifests; promote needs one that stores them byte for byte',
    });
  }
  return { digest, subjectHeader: res.headers['oci-subject'] };
}
