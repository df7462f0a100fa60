import { PromoteError } from '../errors.ts';
import { isNotFound } from '../oci/not-found.ts';
import { openRegistry, type RegistryOptions } from '../oci/open.ts';
import { formatReference, parseReference, referenceTarget, withDigest } from '../oci/reference.ts';
import type { ArtifactReader, FetchedManifest } from '../oci/registry.ts';
import { verifyBundle, type TrustPolicy, type VerifiedSignature } from '../signing/policy.ts';
import { pullBundle, type PullOptions, type PullResult } from './pull.ts';

// `promote verify <ref>`: resolve a tag to a digest exactly once, then verify that digest —
// never the tag again, so a tag moved mid-way cannot swap what was checked for what is used.

export interface VerifyReferenceResult {
  /** `repository@sha256:…`: what was verified, for every later step. */
  reference: string;
  digest: string;
  /** The tag the user gave, resolved once to `digest`. */
  resolvedFrom?: string;
  signatures: VerifiedSignature[];
}

export interface VerifyReferenceOptions extends RegistryOptions {
  /** An already open registry for the reference's repository (tests, or a caller that has one). */
  registry?: ArtifactReader;
}

export async function verifyReference(reference: string, policy: TrustPolicy, options: VerifyReferenceOptions = {}): Promise<VerifyReferenceResult> {
  const ref = parseReference(reference);
  const registry = options.registry ?? (await openRegistry(ref, options));
  let digest = ref.digest;
  let manifest: FetchedManifest | undefined;
  if (!digest) {
    // One GET by tag: the digest is computed from the bytes received, so the manifest need not
    // be fetched again by digest for verifyBundle's subject check.
    const target = referenceTarget(ref);
    try {
      manifest = await registry.fetchManifest(target);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      throw new PromoteError('MANIFEST_NOT_FOUND', `${reference} does not exist`, {
        hint: 'check the repository and tag; `promote push` prints the reference it pushed',
        cause: err,
      });
    }
    digest = manifest.descriptor.digest;
  }
  const verified = await verifyBundle(registry, digest, policy, { reference, ...(manifest && { manifest }) });
  return {
    reference: formatReference(withDigest(ref, digest)),
    digest,
    ...(!ref.digest && { resolvedFrom: referenceTarget(ref) }),
    signatures: verified.signatures,
  };
}

// `promote pull --verify`: verify first (a tag is resolved once, here), then pull that digest —
// never the tag again, so what was verified is what lands on disk.

export interface VerifiedPullResult extends PullResult {
  verification: VerifyReferenceResult;
}

export async function verifiedPull(reference: string, policy: TrustPolicy, options: PullOptions = {}): Promise<VerifiedPullResult> {
  const verification = await verifyReference(reference, policy, options);
  const pulled = await pullBundle(verification.reference, options);
  return { ...pulled, verification };
}
