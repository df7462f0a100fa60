import { resolve as resolvePath } from 'node:path';
import { readVerificationKey } from './keys.ts';
import type { TrustPolicy } from './policy.ts';
import type { KeylessIdentity } from './sigstore-bundle-verify.ts';
import { readTrustedRoot } from './trusted-root.ts';

// The trust policy of a command line (`--key`, `--certificate-identity…`, `--trusted-root`), as
// `promote verify`, `pull --verify` and `render --verify` take it; a pipeline's comes from
// policy.ts's loadPipelineTrust.

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
