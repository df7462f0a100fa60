import { resolve as resolvePath } from 'node:path';
import type { BuildOptions, BuiltBundle } from '../bundle/build.ts';
import { PromoteError, wrapError } from '../errors.ts';
import { BLOB_CONCURRENCY, forEachConcurrently } from '../oci/concurrency.ts';
import { OCI_MANIFEST } from '../oci/media-types.ts';
import { openRegistry, type RegistryOptions } from '../oci/open.ts';
import { formatReference, parseReference, repositoryName, withDigest } from '../oci/reference.ts';
import type { BlobContent, ContentPusher, ContentReader, Descriptor } from '../oci/registry.ts';

// Push: upload the blobs the target lacks, then the manifest (distribution spec "Pushing
// manifests": blobs first, or the registry refuses the manifest). The target tag (or digest) is
// resolved first: if it already names this exact manifest, nothing else is sent — a no-op
// re-push is one request after authentication. Otherwise each blob is checked (HEAD) before it
// is uploaded, so only what is missing travels; the blobs go up concurrently (concurrency.ts).

export interface ArtifactToPush {
  manifest: { bytes: Uint8Array; mediaType: string };
  blobs: Array<{ descriptor: Descriptor; content: BlobContent }>;
}

export interface PushOutcome {
  digest: string;
  size: number;
  /** True when the target already had this manifest at this tag/digest: nothing was sent. */
  unchanged: boolean;
  uploaded: number;
  skipped: number;
}

/** Pushes one artefact (blobs then manifest) into `registry`, optionally at `tag`. */
export async function pushArtifact(registry: ContentReader & ContentPusher, artifact: ArtifactToPush, digest: string, tag?: string): Promise<PushOutcome> {
  const size = artifact.manifest.bytes.length;
  const existing = await registry.resolve(tag ?? digest);
  if (existing?.digest === digest) return { digest, size, unchanged: true, uploaded: 0, skipped: artifact.blobs.length };
  let uploaded = 0;
  let skipped = 0;
  await forEachConcurrently(artifact.blobs, BLOB_CONCURRENCY, async (blob) => {
    const result = await registry.pushBlob(blob.descriptor, blob.content);
    if (result.uploaded) uploaded++;
    else skipped++;
  });
  const pushed = await registry.pushManifest(artifact.manifest.bytes, artifact.manifest.mediaType, tag);
  return { digest: pushed.digest, size, unchanged: false, uploaded, skipped };
}

/** Pushes a built bundle (config, content layer, manifest). */
export function pushBuiltBundle(built: BuiltBundle, registry: ContentReader & ContentPusher, tag?: string): Promise<PushOutcome> {
  return pushArtifact(
    registry,
    {
      manifest: { bytes: built.manifest.bytes, mediaType: OCI_MANIFEST },
      blobs: [
        { descriptor: built.config.descriptor, content: built.config.bytes },
        { descriptor: built.layer.descriptor, content: built.layer.open },
      ],
    },
    built.manifest.descriptor.digest,
    tag,
  );
}

export interface PushOptions extends RegistryOptions, BuildOptions {}

export interface PushResult extends PushOutcome {
  /** `repository@sha256:…` — what to promote, sign or pull. */
  reference: string;
  repository: string;
  tag?: string;
  name: string;
  files: number;
  layer: { digest: string; size: number };
}

/** `promote push [dir] <repository>[:tag]`: build `dir`, push it, print the digest reference. */
export async function pushBundle(dir: string, target: string, options: PushOptions = {}): Promise<PushResult> {
  const ref = parseReference(target);
  if (ref.digest !== undefined) {
    throw new PromoteError('REFERENCE_INVALID', `push target "${target}" names a digest`, {
      outcome: 'usage',
      hint: 'push to a repository, optionally with a tag (e.g. localhost:5000/acme/webapp:1.0): the digest is computed from the bundle',
    });
  }
  const cwd = options.cwd ?? process.cwd();
  const { buildBundle } = await import('../bundle/build.ts');
  // try/finally rather than `await using` (see build.ts: tsc and dynamic imports).
  const built = await buildBundle(resolvePath(cwd, dir), options);
  try {
    const registry = await openRegistry(ref, options);
    let outcome: PushOutcome;
    try {
      outcome = await pushBuiltBundle(built, registry, ref.tag);
    } catch (err) {
      throw wrapError(err, `pushing ${built.name} to ${repositoryName(ref)} failed`);
    }
    return {
      ...outcome,
      reference: formatReference(withDigest(ref, outcome.digest)),
      repository: repositoryName(ref),
      ...(ref.tag !== undefined && { tag: ref.tag }),
      name: built.name,
      files: built.files,
      layer: { digest: built.layer.descriptor.digest, size: built.layer.descriptor.size },
    };
  } finally {
    await built.dispose();
  }
}
