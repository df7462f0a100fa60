import { resolve as resolvePath } from 'node:path';
import { PromoteError } from '../errors.ts';
import { openRegistry, type RegistryOptions } from '../oci/open.ts';
import { formatReference, parseReference, repositoryName, withDigest } from '../oci/reference.ts';
import { signBundle, type SignResult } from '../signing/cosign-signature.ts';
import type { PasswordOptions } from '../signing/password.ts';
import { loadSigner } from '../signing/signer.ts';
import { pushBundle, type PushOptions, type PushResult } from './push.ts';

// `promote sign <ref@digest> --key K`. A tag alone is refused: the tag could move between the
// moment the user checked the artefact and the moment we sign it, and a signature is forever.
// cosign signs the tag's current digest with a warning; promote prints that digest in the hint
// instead, so signing it is one copy-paste away and always deliberate.

export interface SignReferenceOptions extends RegistryOptions {
  key: string;
  passwords: PasswordOptions;
  annotations?: Record<string, string>;
}

export interface SignReferenceResult extends SignResult {
  reference: string;
}

export async function signReference(reference: string, options: SignReferenceOptions): Promise<SignReferenceResult> {
  const ref = parseReference(reference);
  const registry = await openRegistry(ref, options);
  if (!ref.digest) {
    const current = await registry.resolve(ref.tag ?? 'latest').catch(() => undefined);
    throw new PromoteError('REFERENCE_NEEDS_DIGEST', `sign needs a reference by digest; ${reference} names a tag, which can move`, {
      outcome: 'usage',
      hint: current
        ? `the tag points at ${current.digest} now: sign ${formatReference(withDigest(ref, current.digest))} if that is what you built (\`promote push --sign\` signs what it pushed)`
        : 'write <repository>@sha256:<hex>, as printed by `promote push`',
    });
  }
  // Load the key before touching the registry: a wrong password should not cost a round trip.
  const signer = await loadSigner(resolvePath(options.cwd ?? process.cwd(), options.key), options.passwords);
  const dockerReference = repositoryName(ref);
  const result = await signBundle(registry, ref.digest, signer, dockerReference, { ...(options.annotations && { annotations: options.annotations }) });
  return { reference: formatReference(withDigest(ref, ref.digest)), ...result };
}

// `promote push --sign --key K`: push, then sign exactly the digest that was pushed — no tag
// in between, so what CI built is what gets signed.

export interface SignedPushOptions extends PushOptions {
  key: string;
  passwords: PasswordOptions;
}

export interface SignedPushResult extends PushResult {
  signature: SignResult;
  /** PEM of the public key that verifies the signature. */
  publicKey: string;
}

export async function pushAndSign(dir: string, target: string, options: SignedPushOptions): Promise<SignedPushResult> {
  // Decrypt the key first: a wrong password must fail before anything is uploaded.
  const signer = await loadSigner(resolvePath(options.cwd ?? process.cwd(), options.key), options.passwords);
  const pushed = await pushBundle(dir, target, options);
  const ref = parseReference(pushed.reference);
  const registry = await openRegistry(ref, options);
  const signature = await signBundle(registry, ref.digest!, signer, repositoryName(ref));
  return { ...pushed, signature, publicKey: signer.publicKeyPem };
}
