import { PromoteError } from '../errors.ts';
import type { Approval } from '../pipeline/gate.ts';
import { stageRepository } from '../pipeline/pipeline.ts';
import { checkParameters, checkSignature } from './bundle-checks.ts';
import { resolveCandidate, sourceRepository, withUpstream } from './candidate.ts';
import { approvalMutation } from './changes.ts';
import { clock, lookupStage, type Project } from './project.ts';
import { canonicalJson } from '../oci/canonical-json.ts';
import { parametersDigest } from '../records/promotion-record.ts';
import { loadKey } from './signing-keys.ts';

export interface ApproveResult {
  pipeline: string;
  stage: string;
  bundle: string;
  by: string;
  at: string;
  commit?: string;
  alreadyApproved: boolean;
  /** False for a pipeline without trust.approvers: the approval is an unauthenticated git commit. */
  signed: boolean;
  /** Fingerprint of the approver's key (signed approvals). */
  key?: string;
  /** Who the approval counts as: the trust.approvers entry its signature verified against (signed approvals). */
  approver?: string;
  /** The parameters digest the signed approval binds. */
  parameters?: string;
  /** The approval statement attached to the bundle in the registry (signed approvals). */
  attached?: { repository: string; digest: string };
}

/**
 * `promote approve`. With trust.approvers: verifies the bundle and its parameters for the stage,
 * signs an approval statement (records/approval.ts) with the approver's key — refused, exit 4,
 * before anything is written unless trust.approvers holds it — commits it to the ledger and
 * attaches it to the bundle. Without trust.approvers: an unsigned approval (a git commit).
 */
export async function approve(project: Project, stageName: string, bundle: string, comment?: string): Promise<ApproveResult> {
  const { pipeline, ledger } = project;
  const target = lookupStage(pipeline, stageName);
  const { stage } = target;
  const sourceRepo = sourceRepository(pipeline, target);
  const source = await project.registryFor(sourceRepo);
  const digest = await resolveCandidate(project, bundle, sourceRepo, withUpstream(target));
  const subject = await source.resolve(digest);
  if (!subject) {
    throw new PromoteError('BUNDLE_NOT_FOUND', `${source.name}@${digest} does not exist: there is nothing to approve`, { outcome: 'usage', hint: 'approve the digest promote plan shows as the candidate' });
  }
  const trust = await project.trust();
  const [{ approvalsSigned, approverKeyMissing, checkApprovals, signedApprovalMutation }, { requireTrustedSigner, keyFingerprint }] = await Promise.all([import('./approvals.ts'), import('../signing/trusted-signer.ts')]);
  const signed = approvalsSigned(trust.approvers);
  const keyPath = project.options.key ?? project.options.env.PROMOTE_APPROVER_KEY;
  let signer = project.options.approverSigner;
  if (!signer && keyPath) signer = await loadKey(project, keyPath);
  const role = { list: 'trust.approvers', signs: 'approvals', refusedBy: 'the approval gate', pipelineFile: pipeline.file, ...(!project.options.approverSigner && keyPath && { keyPath }) };
  if (signer) requireTrustedSigner(signer, trust.approvers, role);
  else if (signed) throw approverKeyMissing(pipeline.file);
  const who = await ledger.identity();
  const at = clock(project).toISOString();
  const base = { pipeline: pipeline.name, stage: stage.name, bundle: digest, by: who.text, at };
  if (!signed) {
    const approval: Approval = { bundle: digest, by: who.text, at, ...(comment && { comment }) };
    const result = await ledger.update(pipeline.name, stage.name, approvalMutation(pipeline.name, stage.name, approval));
    return { ...base, ...(result && { commit: result.commit }), alreadyApproved: !result, signed: false };
  }
  // An approval is signed only for what verifies: the bundle's signature, and the parameters the
  // stage would be promoted with, whose digest it binds.
  await ledger.refresh();
  const signature = await checkSignature(project, source, digest);
  if (!signature.passed) throw new PromoteError(signature.code ?? 'BUNDLE_NOT_VERIFIED', signature.summary, { outcome: signature.outcome ?? 'verification', ...(signature.hint && { hint: signature.hint }) });
  const facts = await checkParameters(project, source, stage, digest);
  if (!facts.parameters.passed || !facts.values) {
    const p = facts.parameters;
    throw new PromoteError(p.code ?? 'PARAMETERS_INVALID', p.summary, { outcome: p.outcome ?? 'verification', ...(p.hint && { hint: p.hint }), ...(p.problems && { problems: p.problems }) });
  }
  const parameters = parametersDigest({ parameters: facts.values.environment, clusters: facts.values.clusters });
  const { signApproval, approvalAnnotations, APPROVAL_PREDICATE_TYPE } = await import('../records/approval.ts');
  const statement = await signApproval({
    pipeline: pipeline.name,
    stage: stage.name,
    bundle: { repository: stageRepository(pipeline, stage), digest },
    parameters: { digest: parameters },
    approver: { name: who.name, email: who.email },
    approvedAt: at,
    ...(comment && { comment }),
  }, signer!);
  const fingerprint = keyFingerprint(signer!.publicKeyPem);
  const [approval] = checkApprovals([{ bundle: digest, by: who.text, at, ...(comment && { comment }), parameters, signer: fingerprint, statement }], trust.approvers, pipeline.trust.approvers);
  let kept: Approval = approval!;
  const result = await ledger.update(pipeline.name, stage.name, signedApprovalMutation(pipeline.name, stage.name, approval!, trust.approvers, pipeline.trust.approvers, (a) => (kept = a)));
  // The registry's copy is attached after the ledger commit (the ledger copy is the one the gate
  // counts); attaching the kept statement with its own time is idempotent, so a re-run repairs it.
  try {
    const { attachBundle } = await import('../signing/attestation.ts');
    const { APPROVAL } = await import('../oci/media-types.ts');
    // Canonical key order: the ledger stores it so, and the same bytes make the same artefact.
    const statementJson = JSON.parse(canonicalJson(kept.statement)) as Parameters<typeof attachBundle>[2];
    const attached = await attachBundle(source, { mediaType: subject.mediaType, digest, size: subject.size }, statementJson, APPROVAL_PREDICATE_TYPE, {
      artifactType: APPROVAL,
      now: new Date(kept.at),
      annotations: approvalAnnotations(pipeline.name, stage.name),
    });
    const approver = approval!.check?.verified ? approval!.check.approver : undefined;
    return { ...base, by: kept.by, at: kept.at, ...(result && { commit: result.commit }), alreadyApproved: !result, signed: true, key: fingerprint, ...(approver && { approver }), parameters, attached: { repository: sourceRepo, digest: attached.descriptor.digest } };
  } catch (err) {
    throw new PromoteError('APPROVAL_PUBLISH_FAILED', `the approval of ${digest} for ${stage.name} is in the ledger (and counts), but attaching its signed statement to the bundle in ${source.name} failed: ${(err as Error).message}`, {
      cause: err,
      hint: 'run the same promote approve again: it finds the approval in the ledger and only attaches it',
    });
  }
}
