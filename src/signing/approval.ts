import type { SerializedBundle } from '@sigstore/bundle';
import { statement, statementNames, verifyStatementBundle } from './attestation.ts';
import { signStatement } from './dsse.ts';
import type { Signer } from './signer.ts';
import type { SignedBy, SigstoreTrust } from './sigstore-bundle-verify.ts';
import { verificationFailed } from './verification-error.ts';

// The approval statement, defined once: "approver A approves bundle D with parameters P for
// stage S of pipeline N". An in-toto statement in a DSSE envelope (a Sigstore bundle v0.3, like
// promotion records), whose subject is the bundle. The ledger keeps the signed bundle JSON, so
// the approval gate can verify every approval from the ledger alone (the ledger is untrusted
// storage); the registry keeps a copy attached to the bundle. Field reference: docs/attestations.md.

export const APPROVAL_PREDICATE_TYPE = 'https://promote.dev/attestation/approval/v1';

/** Predicate of `https://promote.dev/attestation/approval/v1`. Open: later versions may add fields. */
export interface ApprovalPredicate {
  pipeline: string;
  stage: string;
  bundle: { repository: string; digest: string };
  /** parametersDigest() of the values the stage would be promoted with: an approval is of both halves. */
  parameters: { digest: string };
  /** Who approves, as they say (their git identity); the key that signed is what identifies them. */
  approver: { name?: string; email?: string };
  /** RFC 3339 UTC. */
  approvedAt: string;
  comment?: string;
  [field: string]: unknown;
}

export async function signApproval(predicate: ApprovalPredicate, signer: Signer): Promise<SerializedBundle> {
  return signStatement(statement({ name: predicate.bundle.repository, digest: predicate.bundle.digest }, APPROVAL_PREDICATE_TYPE, predicate), signer);
}

export interface VerifiedApproval {
  predicate: ApprovalPredicate;
  signedBy: SignedBy;
}

/**
 * Verifies a stored approval (the Sigstore bundle JSON) against `trust` (trust.approvers):
 * the signature, the predicate type, and that the statement's subject is the bundle the predicate
 * names. What it approves (stage, pipeline, digests) is returned for the gate to judge. Throws a
 * verification PromoteError naming the check that failed.
 */
export function verifyApproval(bundle: unknown, trust: SigstoreTrust, source: string): VerifiedApproval {
  const { statement: stmt, signedBy } = verifyStatementBundle<ApprovalPredicate>(bundle, trust, { predicateType: APPROVAL_PREDICATE_TYPE }, source);
  const p = stmt.predicate;
  const named = typeof p?.bundle?.digest === 'string' ? p.bundle.digest : '';
  // The predicate's bundle and the signed subject must agree, or one could be swapped for the other.
  if (!named || !statementNames(stmt, named)) {
    throw verificationFailed('payload-digest', `${source} approves ${named || 'no bundle'} but its signed subject is another artefact`, 'the approval statement was not written by promote approve', { source });
  }
  return { predicate: p, signedBy };
}
