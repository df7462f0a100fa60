import type { SerializedBundle } from '@sigstore/bundle';
import { statement, statementNames, verifyStatementBundle } from '../signing/attestation.ts';
import { signStatement } from '../signing/dsse.ts';
import type { Signer } from '../signing/signer.ts';
import type { SignedBy, SigstoreTrust } from '../signing/sigstore-bundle-verify.ts';
import { verificationFailed } from '../signing/verification-error.ts';
import { object, optional, parseFields, string, type Check } from './json-fields.ts';

// The approval statement, defined once: "approver A approves bundle D with parameters P for
// stage S of pipeline N". An in-toto statement in a DSSE envelope (a Sigstore bundle v0.3, like
// promotion records), whose subject is the bundle. The ledger keeps the signed bundle JSON, so
// the approval gate can verify every approval from the ledger alone (the ledger is untrusted
// storage); the registry keeps a copy attached to the bundle (artifactType APPROVAL in
// oci/media-types.ts, no tag). Field reference: docs/attestations.md.

export const APPROVAL_PREDICATE_TYPE = 'https://promote.dev/attestation/approval/v1';

/** The annotations of the registry's copy: which pipeline and stage it approves (a label; the signature decides). */
export function approvalAnnotations(pipeline: string, stage: string): Record<string, string> {
  return { 'dev.promote.approval.pipeline': pipeline, 'dev.promote.approval.stage': stage };
}

/** Predicate of APPROVAL_PREDICATE_TYPE. */
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
}

const predicate: Check<ApprovalPredicate> = object<ApprovalPredicate>({
  pipeline: string,
  stage: string,
  bundle: object({ repository: string, digest: string }),
  parameters: object({ digest: string }),
  approver: object({ name: optional(string), email: optional(string) }),
  approvedAt: string,
  comment: optional(string),
});

/** An approval's predicate from untrusted JSON; throws APPROVAL_INVALID (exit 4) naming the field's JSON pointer. */
export function parseApprovalPredicate(value: unknown, source: string): ApprovalPredicate {
  return parseFields(predicate, value, 'approval', source, 'APPROVAL_INVALID', 'approvals are written by `promote approve --key`; approve again');
}

export async function signApproval(approval: ApprovalPredicate, signer: Signer): Promise<SerializedBundle> {
  return signStatement(statement({ name: approval.bundle.repository, digest: approval.bundle.digest }, APPROVAL_PREDICATE_TYPE, approval), signer);
}

export interface VerifiedApproval {
  predicate: ApprovalPredicate;
  signedBy: SignedBy;
}

/**
 * Verifies a stored approval (the Sigstore bundle JSON) against `trust` (trust.approvers):
 * the signature, the predicate type, its fields, and that the statement's subject is the bundle
 * the predicate names. What it approves (stage, pipeline, digests) is returned for the gate to
 * judge. Throws a verification PromoteError naming the check (or the field) that failed.
 */
export function verifyApproval(bundle: unknown, trust: SigstoreTrust, source: string): VerifiedApproval {
  const { statement: stmt, signedBy } = verifyStatementBundle(bundle, trust, { predicateType: APPROVAL_PREDICATE_TYPE }, source);
  const p = parseApprovalPredicate(stmt.predicate, source);
  // The predicate's bundle and the signed subject must agree, or one could be swapped for the other.
  if (!p.bundle.digest || !statementNames(stmt, p.bundle.digest)) {
    throw verificationFailed('payload-digest', `${source} approves ${p.bundle.digest || 'no bundle'} but its signed subject is another artefact`, 'the approval statement was not written by promote approve', { source });
  }
  return { predicate: p, signedBy };
}
