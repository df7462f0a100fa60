import { failedCheck } from '../signing/verification-error.ts';
import { verifyApproval } from '../records/approval.ts';
import { keyFingerprint } from '../signing/trusted-signer.ts';
import type { TrustPolicy } from '../signing/policy.ts';
import type { Approval, ApprovalCheck } from '../pipeline/gate.ts';
import type { ApproverEntry } from '../pipeline/pipeline.ts';
import { PromoteError } from '../errors.ts';
import type { Mutation } from './ledger-change.ts';
import { emptyStageState } from './stage-file.ts';
import { shortDigest } from '../short-digest.ts';

// Approvals as facts for the approval gate. The ledger is untrusted storage, so each approval it
// holds is verified here against trust.approvers — from the signed statement alone, whatever the
// ledger entry's other fields claim — and the gate (pure) judges what the signature says.

export function approvalsSigned(trust: TrustPolicy): boolean {
  return trust.keys.length > 0 || trust.identities.length > 0;
}

function person(entry: ApproverEntry | undefined): { display?: string; names: string[] } {
  const name = entry?.name;
  const email = entry?.email;
  const display = name && email ? `${name} <${email}>` : (name ?? email);
  return { ...(display && { display }), names: [display, name, email].filter((n): n is string => !!n) };
}

/**
 * Each approval with `check` set from its signature (any `check` the ledger carries is dropped).
 * `entries` is the pipeline's trust.approvers, for the people behind the keys.
 */
export function checkApprovals(approvals: Approval[], trust: TrustPolicy, entries: ApproverEntry[]): Approval[] {
  const signed = approvalsSigned(trust);
  return approvals.map(({ check: _ignored, ...stored }) => {
    if (!signed) return stored;
    const fail = (reason: string): Approval => ({ ...stored, check: { verified: false, reason } });
    if (stored.statement === undefined || stored.statement === null) return fail('is unsigned: only approvals signed by a key in trust.approvers count (a git author is a claim anyone can make)');
    let verified;
    try {
      verified = verifyApproval(stored.statement, trust, `the approval by ${stored.by} in the ledger`);
    } catch (err) {
      const check = failedCheck(err);
      if (!check) throw err;
      return fail(check === 'signature' ? 'is not signed by a key or identity in trust.approvers' : `does not verify (${check}): ${(err as Error).message}`);
    }
    const { predicate: p, signedBy } = verified;
    let check: ApprovalCheck;
    if (signedBy.kind === 'key') {
      const key = trust.keys.find((k) => k.hint === signedBy.hint);
      const entry = entries.find((e) => 'key' in e && e.key === signedBy.key);
      const who = person(entry);
      const identity = key ? keyFingerprint(key.pem) : signedBy.hint;
      check = {
        verified: true,
        pipeline: String(p.pipeline),
        stage: String(p.stage),
        bundle: String(p.bundle?.digest),
        parameters: String(p.parameters?.digest ?? ''),
        approver: who.display ? `${who.display} (key ${signedBy.key})` : `key ${signedBy.key}`,
        identity,
        names: [...who.names, signedBy.key],
        person: entry?.email?.toLowerCase() ?? identity,
      };
    } else {
      const identity = `${signedBy.subject} (${signedBy.issuer})`;
      check = { verified: true, pipeline: String(p.pipeline), stage: String(p.stage), bundle: String(p.bundle?.digest), parameters: String(p.parameters?.digest ?? ''), approver: signedBy.subject, identity, names: [signedBy.subject], person: signedBy.subject.toLowerCase() };
    }
    return { ...stored, check };
  });
}

/**
 * Adds a signed approval unless the same key already approved the same bundle and parameters
 * with a statement that verifies (a forged look-alike entry does not block the real one). Reports
 * the approval that is in the ledger afterwards through `kept`.
 */
export function signedApprovalMutation(pipeline: string, stage: string, approval: Approval, trust: TrustPolicy, entries: ApproverEntry[], kept: (a: Approval) => void): Mutation {
  return (current) => {
    const state = current ?? emptyStageState(pipeline, stage);
    const mine = approval.check?.verified ? approval.check : undefined;
    const same = checkApprovals(state.approvals, trust, entries).find((a) => {
      const c = a.check;
      return c?.verified && mine && c.identity === mine.identity && c.pipeline === pipeline && c.stage === stage && c.bundle === approval.bundle && c.parameters === approval.parameters;
    });
    if (same) {
      const { check: _c, ...stored } = same;
      kept(stored);
      return undefined;
    }
    const { check: _c, ...stored } = approval;
    kept(stored);
    return {
      state: { ...state, approvals: [...state.approvals, stored] },
      subject: `approve ${pipeline}/${stage}: ${shortDigest(approval.bundle)} by ${mine?.approver ?? approval.by}`,
      ...(approval.comment && { body: approval.comment }),
      trailers: [
        ['Promote-Action', 'approval'],
        ['Approved-Bundle', approval.bundle],
        ['Approved-Parameters', approval.parameters ?? ''],
        ['Approved-By', approval.by],
        ['Approval-Key', approval.signer ?? ''],
      ],
    };
  };
}

export function approverKeyMissing(pipelineFile: string): PromoteError {
  return new PromoteError('APPROVER_KEY_MISSING', `approvals of this pipeline are signed (it lists trust.approvers in ${pipelineFile}), and no approver key was given`, {
    outcome: 'usage',
    hint: 'pass --key <your private key> or set PROMOTE_APPROVER_KEY; its .pub must be in trust.approvers (promote keygen <name> creates a pair)',
  });
}
