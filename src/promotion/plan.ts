import { PromoteError, type Outcome, type Problem } from '../errors.ts';
import { assemblePlan, planOutcome, type Plan, type PlanAction } from '../pipeline/plan.ts';
import type { BundleFacts } from './bundle-checks.ts';
import { gatherFacts } from './facts.ts';
import { clock, lookupStage, type Project, type StageLookup } from './project.ts';
import { parametersDigest, type StageState } from './record.ts';
import type { VerifiedStageRecord } from './signed-record.ts';

// `promote plan`: the facts (facts.ts), then the pure planner's verdict on them. Writes nothing;
// `promote to` acts on exactly this plan.

export interface PlanRequest {
  stage: string;
  bundle?: string;
  force?: { reason: string };
  action?: PlanAction;
  /** Skip signature and parameter checks (the planner still reports gates). */
  skipVerification?: boolean;
  /** Fingerprint of the promoter's signing key, when loaded (separateDuties compares approvals with it). */
  promoterKey?: string;
  /** The operation's time (gates judge windows and soak times at it); default: the project's clock, read now. */
  now?: Date;
}

export interface DetailedPlan extends Plan {
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
  const facts = await gatherFacts(project, target, { action, ...(request.bundle && { bundle: request.bundle }), ...(request.skipVerification && { skipVerification: true }) });
  const values = facts.bundle?.values;
  const plan = await assemblePlan({
    pipeline,
    stage: stage.name,
    action,
    ledger: facts.views,
    ...(facts.explicit && { candidate: facts.explicit }),
    reports: facts.reports,
    fromClusters: facts.fromClusters,
    promoter: facts.promoter,
    now: request.now ?? clock(project),
    ...(request.force && { force: request.force }),
    ...(facts.signature && { signature: facts.signature }),
    ...(facts.bundle && { parameters: facts.bundle.parameters }),
    ...(values && { candidateParameters: parametersDigest({ parameters: values.environment, clusters: values.clusters }) }),
    ...(request.promoterKey && { promoterKey: request.promoterKey }),
    approvalsSigned: facts.approvalsSigned,
    ledgerChecks: facts.ledgerChecks,
  });
  return { ...plan, promoter: facts.promoter, sourceRepository: facts.sourceRepository, ...(facts.bundle && { facts: facts.bundle }), ...(facts.state && { state: facts.state }), ...(facts.head && { head: facts.head }) };
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

export function printablePlan(plan: Plan): Plan {
  const { facts: _f, state: _s, head: _h, promoter: _p, sourceRepository: _r, ...rest } = plan as DetailedPlan;
  return rest;
}
