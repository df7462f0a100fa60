import { resolve as resolvePath } from 'node:path';
import { openRegistry } from '../oci/open.ts';
import { pushBundle, type PushOptions, type PushResult } from '../oci/push.ts';
import { parseReference, repositoryName } from '../oci/reference.ts';
import { signBundle, type SignResult } from './cosign-signature.ts';
import type { PasswordOptions } from './password.ts';
import { loadSigner } from './signer.ts';

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
