import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PromoteError, wrapError } from '../errors.ts';
import { BLOB_CONCURRENCY, forEachConcurrently } from './concurrency.ts';
import { digestHex } from './digest.ts';
import { DOCKER_MANIFEST_LIST, OCI_INDEX } from './media-types.ts';
import { openRegistry, type RegistryOptions } from './open.ts';
import { formatReference, parseReference, referenceTarget, repositoryName, withDigest, type Reference } from './reference.ts';
import type { ArtifactReader, ContentPusher, ContentReader, Descriptor } from './registry.ts';

// Copy: relocate an artefact *with everything that refers to it* — registry ↔ registry ↔ layout.
// Manifest bytes are copied verbatim, so the digest is the same on both sides (signatures and
// promotion records name that digest). Walks: index children, then config and layers, then the
// manifest; then, recursively, its referrers (OCI 1.1 `subject`: promotion records, status
// reports, DSSE attestations) and the cosign-classic tags `sha256-<hex>.sig|.att|.sbom`
// (cosign signatures are found by tag, not by subject). Blobs the target has are skipped; within
// one registry host, blobs are cross-repository mounted instead of uploaded (distribution spec
// "Mounting a blob from another repository").

const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'];

export interface CopyStats {
  manifests: number;
  blobsUploaded: number;
  blobsSkipped: number;
  blobsMounted: number;
  /** Referrers and cosign-tag artefacts copied along (digests). */
  referrers: string[];
  /** Tags written in the target besides the main one (cosign tags). */
  tags: string[];
}

interface CopyContext {
  from: ArtifactReader;
  to: ContentReader & ContentPusher;
  /** Source repository name when source and target share a registry host (mount possible). */
  mountFrom: string | undefined;
  manifestsDone: Set<string>;
  blobsDone: Set<string>;
  stats: CopyStats;
}

/** A stream the target can open synchronously while the source blob is fetched. */
function lazyBlob(from: ContentReader, descriptor: Descriptor): () => Readable {
  return () => {
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    from
      .fetchBlob(descriptor)
      .then((stream) => pipeline(stream, out))
      .catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
    return out;
  };
}

async function copyBlob(ctx: CopyContext, descriptor: Descriptor): Promise<void> {
  if (ctx.blobsDone.has(descriptor.digest)) return;
  ctx.blobsDone.add(descriptor.digest);
  if (ctx.mountFrom !== undefined && ctx.to.mountBlob && (await ctx.to.mountBlob(descriptor, ctx.mountFrom))) {
    ctx.stats.blobsMounted++;
    return;
  }
  const result = await ctx.to.pushBlob(descriptor, lazyBlob(ctx.from, descriptor));
  if (result.mounted) ctx.stats.blobsMounted++;
  else if (result.uploaded) ctx.stats.blobsUploaded++;
  else ctx.stats.blobsSkipped++;
}

interface ManifestShape {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

/** Copies one manifest (and what it needs) by digest; tags it in the target when `tag` is given. */
async function copyManifest(ctx: CopyContext, digest: string, tag: string | undefined): Promise<void> {
  const first = !ctx.manifestsDone.has(digest);
  ctx.manifestsDone.add(digest);
  // What the target holds at the tag is asked at once, beside the source manifest and the blobs,
  // rather than after them: on a fresh repository that round trip is otherwise on the critical path.
  const existing = ctx.to.resolve(tag ?? digest);
  existing.catch(() => undefined); // a failure is reported where it is awaited, not as unhandled
  const fetched = await ctx.from.fetchManifest(digest);
  if (first) {
    const doc = JSON.parse(fetched.bytes.toString('utf8')) as ManifestShape;
    const mediaType = doc.mediaType ?? fetched.descriptor.mediaType;
    if (mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST || Array.isArray(doc.manifests)) {
      for (const child of doc.manifests ?? []) await copyManifest(ctx, child.digest, undefined);
    } else {
      const blobs = [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])];
      await forEachConcurrently(blobs, BLOB_CONCURRENCY, (blob) => copyBlob(ctx, blob));
    }
  }
  if ((await existing)?.digest !== digest) {
    await ctx.to.pushManifest(fetched.bytes, fetched.descriptor.mediaType, tag);
    ctx.stats.manifests++;
  }
  if (!first) return;
  for (const referrer of await ctx.from.referrers(digest)) {
    if (ctx.manifestsDone.has(referrer.digest)) continue;
    ctx.stats.referrers.push(referrer.digest);
    await copyManifest(ctx, referrer.digest, undefined);
  }
  for (const suffix of COSIGN_SUFFIXES) {
    const cosignTag = `sha256-${digestHex(digest)}.${suffix}`;
    const found = await ctx.from.resolve(cosignTag);
    if (!found) continue;
    ctx.stats.referrers.push(found.digest);
    ctx.stats.tags.push(cosignTag);
    await copyManifest(ctx, found.digest, cosignTag);
  }
}

/** Copies the artefact at `digest` from one registry to another (tagging it `tag` in the target). */
export async function copyArtifact(from: ArtifactReader, to: ContentReader & ContentPusher, digest: string, tag: string | undefined, mountFrom?: string): Promise<CopyStats> {
  const stats: CopyStats = { manifests: 0, blobsUploaded: 0, blobsSkipped: 0, blobsMounted: 0, referrers: [], tags: [] };
  await copyManifest({ from, to, mountFrom, manifestsDone: new Set(), blobsDone: new Set(), stats }, digest, tag);
  return stats;
}

export interface CopyOptions extends RegistryOptions {}

export interface CopyResult extends CopyStats {
  source: string;
  /** `target@sha256:…` */
  reference: string;
  digest: string;
  tag?: string;
}

function sameHost(a: Reference, b: Reference): string | undefined {
  if (a.transport !== 'registry' || b.transport !== 'registry') return undefined;
  if (a.registry !== b.registry || a.repository === b.repository) return undefined;
  return a.repository;
}

/** `promote copy <src> <dst>`. */
export async function copy(source: string, target: string, options: CopyOptions = {}): Promise<CopyResult> {
  const src = parseReference(source);
  const dst = parseReference(target);
  const from = await openRegistry(src, options);
  const to = await openRegistry(dst, options);
  try {
    const resolved = await from.resolve(referenceTarget(src));
    if (!resolved) {
      throw new PromoteError('MANIFEST_NOT_FOUND', `${formatReference(src)} does not exist`, {
        hint: 'check the reference; `promote push` prints repository@sha256:… references',
      });
    }
    if (dst.digest !== undefined && dst.digest !== resolved.digest) {
      throw new PromoteError('REFERENCE_INVALID', `the target names digest ${dst.digest}, but the source is ${resolved.digest}`, {
        outcome: 'usage',
        hint: 'a copy keeps the digest: give the target as a repository, optionally with a tag',
      });
    }
    // The target tag: the one given, else the source's tag, else none (stored by digest).
    const tag = dst.tag ?? (dst.digest === undefined ? src.tag : undefined);
    const stats = await copyArtifact(from, to, resolved.digest, tag, sameHost(src, dst));
    return {
      source: formatReference(withDigest(src, resolved.digest)),
      reference: formatReference(withDigest(dst, resolved.digest)),
      digest: resolved.digest,
      ...(tag !== undefined && { tag }),
      ...stats,
    };
  } catch (err) {
    throw wrapError(err, `copying ${formatReference(src)} to ${repositoryName(dst)} failed`);
  }
}
