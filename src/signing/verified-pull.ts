import { pullBundle, type PullOptions, type PullResult } from '../oci/pull.ts';
import type { TrustPolicy } from './policy.ts';
import { verifyReference, type VerifyReferenceResult } from './verify-reference.ts';

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
