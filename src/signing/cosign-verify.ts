import { verify as cryptoVerify } from 'node:crypto';
import { PromoteError } from '../errors.ts';
import type { ContentReader } from '../oci/registry.ts';
import { COSIGN_SIGNATURE_ANNOTATION, MAX_PAYLOAD_BYTES, type SignatureLayer, type SignatureManifest } from './cosign-signature.ts';
import { decodeBase64Strict, isEcdsaDerSignature } from './der.ts';
import { classicLayerToBundle, isKeylessLayer } from './cosign-keyless.ts';
import { digestAlgorithmFor, type VerificationKey } from './keys.ts';
import { parseSimpleSigning } from './simple-signing.ts';
import { verifySigstoreBundle, type SigstoreTrust } from './sigstore-bundle-verify.ts';
import { failedCheck, type VerificationCheck } from './verification-error.ts';

// Verification of cosign classic signatures, one layer at a time, in cosign's order: the
// signature over the payload bytes with a trusted key first, then what the payload claims
// (type, and the exact digest we resolved — a signature copied onto another digest fails here).

export interface VerifiedCosignSignature {
  kind: 'cosign';
  /** The artefact digest the payload names (equal to the one verified). */
  digest: string;
  signatureManifest: string;
  /** Digest of the payload layer. */
  layer: string;
  dockerReference: string;
  /** Which trusted key verified it (its path or name) and its hint; for keyless, the identity. */
  key: string;
  keyHint: string;
  identity?: { subject: string; issuer: string };
  optional: Record<string, unknown> | null;
}

export interface CandidateFailure {
  /** Where the candidate lives: `sha256-….sig` layer digest or referrer digest. */
  candidate: string;
  check: VerificationCheck;
  reason: string;
}

export type CandidateResult<T> = { ok: true; signature: T } | ({ ok: false } & CandidateFailure);

function fail<T>(candidate: string, check: VerificationCheck, reason: string): CandidateResult<T> {
  return { ok: false, candidate, check, reason };
}

/**
 * Verifies one signature layer against `digest` with any trusted key — or, for a keyless layer
 * (certificate annotation), against the trusted root and identities. Fetches the payload blob.
 */
export async function verifyCosignLayer(
  registry: ContentReader,
  sigManifest: SignatureManifest,
  layer: SignatureLayer,
  digest: string,
  trust: SigstoreTrust,
): Promise<CandidateResult<VerifiedCosignSignature>> {
  const keys: VerificationKey[] = trust.keys;
  const candidate = layer.descriptor.digest;
  if (layer.signature === undefined) {
    return fail(candidate, 'signature-format', `layer ${candidate} has no ${COSIGN_SIGNATURE_ANNOTATION} annotation`);
  }
  const sig = decodeBase64Strict(layer.signature);
  if (!sig) return fail(candidate, 'signature-encoding', `the signature of layer ${candidate} is not valid base64`);
  if (keys.length > 0 && keys.every((k) => k.algorithm.startsWith('ecdsa')) && !isEcdsaDerSignature(sig)) {
    return fail(candidate, 'signature-encoding', `the signature of layer ${candidate} is not a DER-encoded ECDSA signature`);
  }
  let payload: Buffer;
  try {
    payload = await registry.fetchBlobBytes(layer.descriptor, MAX_PAYLOAD_BYTES);
  } catch (err) {
    if (err instanceof PromoteError && err.outcome === 'verification') {
      return fail(candidate, 'signature', `payload layer ${candidate}: ${err.message} (changed in the registry after signing)`);
    }
    throw err;
  }
  const key = keys.find((k) => {
    try {
      return cryptoVerify(digestAlgorithmFor(k.algorithm), payload, k.algorithm.startsWith('ecdsa') ? { key: k.key, dsaEncoding: 'der' } : k.key, sig);
    } catch {
      return false;
    }
  });
  let identity: { subject: string; issuer: string } | undefined;
  if (!key && isKeylessLayer(layer.descriptor) && trust.identities.length > 0) {
    const built = classicLayerToBundle(layer.descriptor, payload);
    if ('problem' in built) return fail(candidate, 'signature-format', `layer ${candidate}: ${built.problem}`);
    try {
      const v = verifySigstoreBundle(built.bundle, trust, { artifact: payload, source: `keyless signature in layer ${candidate}` });
      if (v.signedBy.kind === 'keyless') identity = { subject: v.signedBy.subject, issuer: v.signedBy.issuer };
    } catch (err) {
      const check = failedCheck(err);
      if (!check) throw err;
      return fail(candidate, check, (err as Error).message.replace(/^verification failed \([^)]*\): /, ''));
    }
  }
  if (!key && !identity) {
    const names = keys.map((k) => k.source).join(', ');
    if (keys.length === 0) return fail(candidate, 'signature', `layer ${candidate} is signed with a key, and only keyless identities are trusted`);
    return fail(candidate, 'signature', `the signature in layer ${candidate} does not verify with ${keys.length === 1 ? 'key' : 'any of the keys'} ${names} (signed with another key, or the payload was changed after signing)`);
  }
  const parsed = parseSimpleSigning(payload);
  if ('problem' in parsed) return fail(candidate, 'payload-type', `layer ${candidate}: ${parsed.problem}`);
  const named = parsed.payload.critical.image['docker-manifest-digest'];
  if (named !== digest) {
    return fail(candidate, 'payload-digest', `the signature in layer ${candidate} is valid but signs ${named}, not ${digest}: it was copied (replayed) from another artefact`);
  }
  return {
    ok: true,
    signature: {
      kind: 'cosign',
      digest,
      signatureManifest: sigManifest.digest,
      layer: candidate,
      dockerReference: parsed.payload.critical.identity?.['docker-reference'] ?? '',
      key: key?.source ?? 'keyless',
      keyHint: key?.hint ?? '',
      ...(identity && { identity }),
      optional: parsed.payload.optional ?? null,
    },
  };
}
