import type { SerializedBundle } from '@sigstore/bundle';
import { PromoteError } from '../errors.ts';
import type { Plan } from '../pipeline/plan.ts';
import { promotionMutation } from './changes.ts';
import { planFor, refusal, type DetailedPlan } from './plan.ts';
import { lookupStage, type Project, type StageLookup } from './project.ts';
import { publish, settleTag } from './publish.ts';
import { parametersDigest, recordDigest, type PromotionAction } from '../records/promotion-record.ts';
import { readTaggedRecord, signRecord } from './signed-record.ts';
import type { Signer } from '../signing/signer.ts';
import { loadPromoterSigner, signerFingerprint } from './signing-keys.ts';
import { shortDigest } from '../short-digest.ts';

// `promote to`: plan → verify → gates → signed record → ledger → registry. Every check that can
// refuse happens before anything is written; the record is signed from verified facts only
// (signed-record.ts: never from ledger text) and committed with its statement; the ledger
// commit (compare-and-swap) is the point of no return, and a publish that failed after it is
// completed by running `promote to` again, which uploads the statement the ledger keeps.

export interface ToRequest {
  stage: string;
  bundle?: string;
  force?: { reason: string };
  action?: 'promote' | 'rollback' | 'auto';
}

export interface PromoteResult {
  pipeline: string;
  stage: string;
  bundle: string;
  from?: string;
  action: PromotionAction | 'none';
  /** Digest of the promotion record (ledger and registry agree on it). */
  record?: string;
  /** Ledger commit. */
  commit?: string;
  /** The published artefact (promotion-<stage>). */
  published?: { tag: string; digest: string };
  /** True when this run only finished publishing a record an earlier run committed. */
  completed?: boolean;
  /** A newer record of the stage reached promotion-<stage> first (a concurrent promotion): ours is in the ledger and attached to its bundle, the tag holds the newer one. */
  superseded?: { record: string; sequence: number };
  upToDate?: boolean;
  gates: Plan['gates'];
  ledgerAttempts?: number;
  /** parametersDigest() of the record: with `bundle`, the stage's desired state. */
  parameters?: string;
  /** JSON pointers whose value changed against the record before (as in the ledger's trailers). */
  parametersChanged?: string[];
  /** For a stage rolling out in waves: the wave the record released (1 when it started the rollout), of how many, and that wave's clusters. */
  rollout?: { wave: number; of: number; clusters: string[] };
}

/** `promote to`: every check, then the signed record into the ledger, then into the registry. */
export async function promoteTo(project: Project, request: ToRequest): Promise<PromoteResult> {
  return promote(project, lookupStage(project.pipeline, request.stage), request);
}

/** promoteTo() for a stage the caller has looked up already (rollback). */
export async function promote(project: Project, target: StageLookup, request: Omit<ToRequest, 'stage'>): Promise<PromoteResult> {
  // The key first: an untrusted key is refused before anything is written, and separateDuties
  // compares approvals with it.
  const signer = await loadPromoterSigner(project);
  const plan = await planFor(project, target, { ...(request.bundle && { bundle: request.bundle }), ...(request.force && { force: request.force }), action: request.action ?? 'promote', promoterKey: await signerFingerprint(signer) });
  if (!project.pipeline.notify?.length) return applyPlan(project, target, plan, signer);
  // Receivers hear of it after the fact is durable: a refusal (nothing was written) or the
  // committed and published record. Delivery can only warn (notifications.ts).
  const { notify, promotionEvent, refusalEvents } = await import('./notifications.ts');
  let result: PromoteResult;
  try {
    result = await applyPlan(project, target, plan, signer);
  } catch (err) {
    if (!plan.allowed) await notify(project, refusalEvents(project, plan, err instanceof PromoteError ? err : undefined, plan.promoter));
    throw err;
  }
  const event = promotionEvent(project, result, plan.promoter);
  await notify(project, event ? [event] : []);
  return result;
}

/**
 * Carries out a plan (planFor() with the signer's fingerprint as promoterKey): refuses it unless
 * allowed; signs, commits and publishes exactly the record it carries; or, for a stage already
 * there, completes an interrupted publish.
 */
export async function applyPlan(project: Project, target: StageLookup, plan: DetailedPlan, signer: Signer): Promise<PromoteResult> {
  const { pipeline, ledger } = project;
  const { stage } = target;
  const head = plan.head;

  // Already there: finish an interrupted publish with the statement the ledger keeps (signed
  // before its commit, verified by planFor). Nothing is signed on this path.
  if (plan.upToDate && head && plan.action !== 'rollback') {
    const registry = await project.registryFor(head.record.bundle.repository);
    const tagged = await readTaggedRecord(registry, (await project.trust()).promotions, pipeline.name, stage.name);
    const base = { pipeline: pipeline.name, stage: stage.name, bundle: head.record.bundle.digest, ...(head.record.from && { from: head.record.from }), record: head.digest, gates: head.record.gates };
    if (tagged?.record === head.digest) {
      return { ...base, action: 'none', upToDate: true, published: { tag: `promotion-${stage.name}`, digest: tagged.manifest } };
    }
    if (plan.signature && !plan.signature.passed) throw refusal({ ...plan, blockers: plan.blockers.filter((b) => b.outcome === 'verification' || b.outcome === 'usage') });
    if (!head.statement) {
      throw new PromoteError('RECORD_STATEMENT_MISSING', `the ledger's record of ${stage.name} (${shortDigest(head.digest, 'elided')}) was written before the ledger kept signed statements, and ${registry.name}:promotion-${stage.name} does not hold it`, {
        outcome: 'verification',
        hint: `its signed copy is attached to ${shortDigest(head.record.bundle.digest, 'elided')}; promote the stage again (another bundle, or a rollback) to publish a new record`,
      });
    }
    const done = await publish(project, plan.sourceRepository, head.record, head.statement, head.digest);
    const settled = await settleTag(project, target);
    return { ...base, action: head.record.action, completed: true, published: settled ?? done, ...(done.superseded && { superseded: done.superseded }) };
  }
  if (!plan.allowed) throw refusal(plan);
  // The plan's record as it is: what `promote plan` showed is what is signed and committed.
  const record = plan.record!;
  const digest = recordDigest(record);
  const link = { repository: ledger.remote ?? pipeline.ledger.repository, branch: ledger.branchName };
  let statement: SerializedBundle | undefined;
  const committed = await ledger.update(
    pipeline.name,
    stage.name,
    promotionMutation(record, (parent) => signRecord(record, { ...link, ...(parent && { parent }) }, signer), (s) => (statement = s), digest),
  );
  const done = await publish(project, plan.sourceRepository, record, statement!, digest);
  const settled = await settleTag(project, target);
  const { changedParameters, describeChange } = await import('./parameter-diff.ts');
  const changed = head ? changedParameters(head.record, record).map(describeChange) : [];
  return {
    pipeline: pipeline.name,
    stage: stage.name,
    bundle: record.bundle.digest,
    ...(record.from && { from: record.from }),
    action: record.action,
    record: digest,
    ...(committed && { commit: committed.commit, ledgerAttempts: committed.attempts }),
    published: settled ?? done,
    ...(done.superseded && { superseded: done.superseded }),
    gates: plan.gates,
    parameters: parametersDigest(record),
    ...(changed.length && { parametersChanged: changed }),
    ...(record.rollout && { rollout: { wave: record.rollout.wave, of: record.rollout.waves.length, clusters: record.rollout.waves[record.rollout.wave - 1]!.clusters } }),
  };
}
