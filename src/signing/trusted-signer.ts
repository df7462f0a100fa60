import { createHash, createPublicKey } from 'node:crypto';
import { PromoteError } from '../errors.ts';
import type { TrustPolicy } from './policy.ts';
import type { Signer } from './signer.ts';

// A signature that no verifier will accept is worse than none: it is published, recorded and
// then refused everywhere downstream. So every command that signs for a role checks, before it
// writes anything, that the pipeline's trust list for that role holds the signing key.

/** sha256 of the key's DER SubjectPublicKeyInfo, hex: `openssl pkey -pubin -outform DER | sha256sum`. */
export function keyFingerprint(publicKeyPem: string): string {
  return `sha256:${createHash('sha256').update(createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

export function signerTrusted(signer: Signer, policy: TrustPolicy): boolean {
  return policy.keys.some((k) => k.hint === signer.hint);
}

export interface SignerRole {
  /** e.g. `trust.promotions`. */
  list: string;
  /** What the key signs, e.g. `promotion records`. */
  signs: string;
  /** The pipeline file the list is in. */
  pipelineFile: string;
  /** The private key as given (for the message). */
  keyPath?: string;
  /** Who would refuse what it signs, e.g. `every agent`. */
  refusedBy: string;
}

/** The refusal (exit 4) of a signing key the role's trust list does not hold. */
export function untrustedSignerError(signer: Signer, role: SignerRole): PromoteError {
  const fp = keyFingerprint(signer.publicKeyPem);
  return new PromoteError('SIGNING_KEY_UNTRUSTED', `the signing key ${role.keyPath ?? ''}${role.keyPath ? ' ' : ''}(fingerprint ${fp}) is not in ${role.list} of ${role.pipelineFile}: ${role.refusedBy} would refuse the ${role.signs} it signs, so nothing was written`, {
    outcome: 'verification',
    hint: `sign with a key listed in ${role.list}, or add this key's public key (its .pub file) to ${role.list} in ${role.pipelineFile}`,
    details: { fingerprint: fp, keyId: signer.hint, trustList: role.list, pipeline: role.pipelineFile },
  });
}

/** Throws untrustedSignerError unless `policy` trusts `signer`'s key. */
export function requireTrustedSigner(signer: Signer, policy: TrustPolicy, role: SignerRole): void {
  if (!signerTrusted(signer, policy)) throw untrustedSignerError(signer, role);
}
