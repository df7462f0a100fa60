import { resolve as resolvePath } from 'node:path';
import { PromoteError } from '../errors.ts';
import { openRegistry, type RegistryOptions } from '../oci/open.ts';
import { formatReference, parseReference, referenceTarget, withDigest } from '../oci/reference.ts';
import type { FetchedManifest, Registry } from '../oci/registry.ts';
import { isNotFound } from './cosign-signature.ts';
import { readVerificationKey } from './keys.ts';
import { verifyBundle, type TrustPolicy, type VerificationCache, type VerifiedSignature } from './policy.ts';
import type { KeylessIdentity } from './sigstore-bundle-verify.ts';
import { readTrustedRoot } from './trusted-root.ts';

// `promote verify <ref>`: resolve a tag to a digest exactly once, then verify that digest —
// never the tag again, so a tag moved mid-way cannot swap what was checked for what is used.

export interface VerifyPolicyInput {
  /** Paths of PEM public keys. */
  keys: string[];
  identities: KeylessIdentity[];
  /** Path of a trusted_root.json; default the public-good root (offline). */
  trustedRoot?: string;
}

export async function policyFromInput(input: VerifyPolicyInput, cwd: string): Promise<TrustPolicy> {
  const keys = [];
  for (const k of input.keys) {
    const key = await readVerificationKey(resolvePath(cwd, k));
    keys.push({ ...key, source: k });
  }
  return {
    keys,
    identities: input.identities,
    ...(input.trustedRoot !== undefined && { trustedRoot: await readTrustedRoot(resolvePath(cwd, input.trustedRoot)) }),
  };
}

export interface VerifyReferenceResult {
  /** `repository@sha256:…`: what was verified, for every later step. */
  reference: string;
  digest: string;
  /** The tag the user gave, resolved once to `digest`. */
  resolvedFrom?: string;
  signatures: VerifiedSignature[];
}

export interface VerifyReferenceOptions extends RegistryOptions {
  cache?: VerificationCache;
  /** An already open registry for the reference's repository (tests, or a caller that has one). */
  registry?: Registry;
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
  const verified = await verifyBundle(registry, digest, policy, { reference, ...(manifest && { manifest }), ...(options.cache && { cache: options.cache }) });
  return {
    reference: formatReference(withDigest(ref, digest)),
    digest,
    ...(!ref.digest && { resolvedFrom: referenceTarget(ref) }),
    signatures: verified.signatures,
  };
}
