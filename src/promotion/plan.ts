import { PromoteError, type Outcome, type Problem } from '../errors.ts';
import { stageRepository, type Pipeline, type Stage } from '../pipeline/pipeline.ts';
import { assemblePlan, planOutcome, type Plan, type PlanAction } from '../pipeline/plan.ts';
import type { BundleFacts } from './bundle-checks.ts';
import { gatherFacts, type Facts } from './facts.ts';
import { clock, lookupStage, type Project, type StageLookup } from './project.ts';
import { parametersDigest, recordAction, type PromotionRecord } from '../records/promotion-record.ts';
import { nextWave, startRollout } from '../records/rollout.ts';
import type { StageState } from './stage-file.ts';
import type { VerifiedStageRecord } from './signed-record.ts';

// `promote plan`: the facts (facts.ts), then the pure planner's verdict on them, and the
// unsigned record a promotion would write (changesets' shape: the planner returns exactly what
// the applier consumes). Writes nothing; `promote to` signs, commits and publishes this record.

export interface PlanRequest {
  stage: string;
  bundle?: string;
  force?: { reason: string };
  action?: PlanAction;
  /** Fingerprint of the promoter's signing key, when loaded (separateDuties compares approvals with it). */
  promoterKey?: string;
  /** The operation's time (gates judge windows and soak times at it); default: the project's clock, read now. */
  now?: Date;
}

/** What `promote plan` prints: the planner's verdict and the record `promote to` would write. */
export interface PrintablePlan extends Plan {
  /** The unsigned record `promote to` would commit and publish now; absent when it would write none (refused, up to date). */
  record?: PromotionRecord;
}

export interface DetailedPlan extends PrintablePlan {
  /** Internal facts `to` needs; not printed. */
  facts?: BundleFacts;
  state?: StageState;
  /** The stage's current record as a signature proves it. */
  head?: VerifiedStageRecord;
  promoter: string;
  /** Where the candidate was verified (and is copied from when the stage has its own repository). */
  sourceRepository: string;
}

/** Gathers every fact and returns the pure planner's verdict. Writes nothing. */
export async function planStage(project: Project, request: PlanRequest): Promise<DetailedPlan> {
  return planFor(project, lookupStage(project.pipeline, request.stage), request);
}

/** planStage() for a stage the caller has looked up already. */
export async function planFor(project: Project, target: StageLookup, request: Omit<PlanRequest, 'stage'>): Promise<DetailedPlan> {
  const { pipeline } = project;
  const { stage } = target;
  const action = request.action ?? 'promote';
  const now = request.now ?? clock(project);
  const facts = await gatherFacts(project, target, { action, ...(request.bundle && { bundle: request.bundle }) });
  const values = facts.bundle?.values;
  const plan = await assemblePlan({
    pipeline,
    stage: stage.name,
    action,
    ledger: facts.views,
    ...(facts.explicit && { candidate: facts.explicit }),
    facts: facts.gates,
    promoter: facts.promoter,
    now,
    ...(request.force && { force: request.force }),
    ...(facts.signature && { signature: facts.signature }),
    ...(facts.bundle && { parameters: facts.bundle.parameters }),
    ...(values && { candidateParameters: parametersDigest({ parameters: values.environment, clusters: values.clusters }) }),
    ...(request.promoterKey && { promoterKey: request.promoterKey }),
    ledgerChecks: facts.ledgerChecks,
    ...(values && { clusters: values.clusters.map((c) => c.name) }),
  });
  const record = writesRecord(plan, facts.head) ? draftRecord(pipeline, stage, plan, facts, now) : undefined;
  return { ...plan, ...(record && { record }), promoter: facts.promoter, sourceRepository: facts.sourceRepository, ...(facts.bundle && { facts: facts.bundle }), ...(facts.state && { state: facts.state }), ...(facts.head && { head: facts.head }) };
}

/** Whether `promote to` would write a new record: allowed, and not a stage already there (a rollback to the bundle it runs is a new record). */
function writesRecord(plan: Plan, head: VerifiedStageRecord | undefined): boolean {
  return plan.allowed && !(plan.upToDate && head && plan.action !== 'rollback');
}

/** The record a promotion of this plan commits: verified facts only, chained onto the record a signature proves. */
function draftRecord(pipeline: Pipeline, stage: Stage, plan: Plan, facts: Facts, now: Date): PromotionRecord {
  const { head } = facts;
  // What enters the stage: for a wave, the current record's bundle, parameters and clusters
  // verbatim (a signature proved them) with one wave more released (records/rollout.ts); else
  // the verified candidate with the environment's values.
  let entering: Pick<PromotionRecord, 'bundle' | 'from' | 'parameters' | 'clusters' | 'rollout'>;
  if (plan.change === 'wave') {
    if (!head?.record.rollout) throw new PromoteError('INTERNAL', `the plan for ${stage.name} releases a wave of a record without a rollout`, { hint: 'this is a bug in promote: please report it' });
    const { bundle, from, parameters, clusters } = head.record;
    entering = { bundle, ...(from && { from }), parameters, clusters, rollout: nextWave({ digest: head.digest, rollout: head.record.rollout }) };
  } else {
    const values = facts.bundle?.values;
    // An allowed plan has a candidate whose signature and parameters passed.
    if (!plan.candidate || !values) throw new PromoteError('INTERNAL', `the plan for ${stage.name} allows a promotion without verified parameters`, { hint: 'this is a bug in promote: please report it' });
    // A rollback releases every cluster at once; any other record of a stage with waves starts a
    // rollout, each cluster outside wave 1 keeping what it runs under the head.
    if (stage.rollout && plan.action !== 'rollback' && !plan.rollout?.waves) throw new PromoteError('INTERNAL', `the plan for ${stage.name} starts no rollout`, { hint: 'this is a bug in promote: please report it' });
    const waves = plan.action !== 'rollback' ? plan.rollout?.waves : undefined;
    entering = {
      bundle: { repository: stageRepository(pipeline, stage), digest: plan.candidate },
      ...(stage.from && { from: stage.from }),
      parameters: values.environment,
      clusters: values.clusters,
      ...(waves && { rollout: startRollout(waves, head && { digest: head.digest, ...(head.record.rollout && { rollout: head.record.rollout }) }) }),
    };
  }
  const { rollout, ...fields } = entering;
  return {
    apiVersion: 'promote/v1',
    kind: 'PromotionRecord',
    pipeline: pipeline.name,
    stage: stage.name,
    environment: stage.environment,
    action: recordAction(plan),
    ...fields,
    promotedBy: facts.promoter,
    promotedAt: now.toISOString(),
    gates: plan.gates,
    ...(plan.force && { force: plan.force }),
    // The chain continues from the record a signature proves, never from the stage file's text.
    ...(head && { previous: head.digest }),
    sequence: (head?.record.sequence ?? 0) + 1,
    ...(rollout && { rollout }),
  };
}

/** The refusal of a plan that may not proceed: every blocker in one message, exit 2/3/4. */
export function refusal(plan: Plan): PromoteError {
  const outcome: Outcome = planOutcome(plan) ?? 'refused';
  const first = plan.blockers.find((b) => b.outcome === outcome) ?? plan.blockers[0]!;
  const problems: Problem[] = plan.blockers.flatMap((b) => (b.problems?.length ? b.problems : []));
  const message = plan.blockers.length === 1 ? first.message : `${plan.stage}: ${plan.blockers.length} reasons: ${plan.blockers.map((b) => b.message).join('; ')}`;
  return new PromoteError(first.code, message, {
    outcome,
    ...(first.hint && { hint: first.hint }),
    ...(problems.length && { problems }),
    details: { plan: printablePlan(plan) },
  });
}

export function printablePlan(plan: PrintablePlan): PrintablePlan {
  const { facts: _f, state: _s, head: _h, promoter: _p, sourceRepository: _r, ...rest } = plan as DetailedPlan;
  return rest;
}
