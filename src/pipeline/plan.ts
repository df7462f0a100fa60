import type { ErrorCode, Outcome, Problem } from '../errors.ts';
import type { GateFacts, GateResult } from './gate.ts';
import { evaluateGates } from './gates/evaluate.ts';
import { checkBlockers, failingGates, gateInputOf, gatesHint } from './plan-parts.ts';
import { findStage, type Pipeline } from './pipeline.ts';
import { resolveWaves } from './rollout.ts';
import type { RecordRollout } from '../records/rollout.ts';
import { releasesWave, wavePlan, type PlanRollout } from './wave-plan.ts';

export type { PlanRollout, RolloutState } from './wave-plan.ts';

// The pure planner: plain data in, a plan out (changesets' assembleReleasePlan). It decides
// which digest would move into a stage — or, when the digest is the one the stage runs, whether
// its parameters changed (a configuration change) — and whether it may, with every reason; it reads no file,
// no registry and no clock of its own: what the gates need they ask of `facts`, which the engine
// implements (and a test fills with plain data). Only then does `promote to` change anything —
// so `promote plan` shows exactly what `promote to` would do.
// A stage whose current record has a rollout in waves not yet complete is planned as the release
// of its next wave (wave-plan.ts; docs/rollouts.md): no bundle moves, the record before is
// released to more clusters once the waves before are Converged, soaked and through their gates.

/** What the ledger says about one stage. */
export interface StageView {
  /** Bundle digest currently recorded for the stage. */
  current?: string;
  /** Digest of the current promotion record. */
  record?: string;
  /** parametersDigest() of the current record: the other half of what the stage runs. */
  parameters?: string;
  /** Bundle digests the stage ran, as far as the plan needs them (a rollback target, an explicit candidate of the next stage), each proved by a signed record. */
  history: string[];
  hold?: { by: string; at: string; reason?: string };
  /** The current record's rollout in waves (records/rollout.ts), when it has one. */
  rollout?: RecordRollout;
}

/** A check done by the engine outside the planner (it needs I/O), fed in to be reported. */
export interface CheckResult {
  passed: boolean;
  summary: string;
  evidence?: Record<string, unknown>;
  /** How a failure is refused: signature and schema failures are `verification`. */
  outcome?: Outcome;
  code?: ErrorCode;
  hint?: string;
  /** Every problem found (e.g. each parameter that breaks the schema, at file:line). */
  problems?: Problem[];
}

export type PlanAction = 'promote' | 'rollback' | 'auto';

export interface PlanInput {
  pipeline: Pipeline;
  stage: string;
  action: PlanAction;
  /** Per stage name. A stage missing here has no record yet. */
  ledger: Record<string, StageView>;
  /** Explicit candidate (`--bundle`, or the record chosen by rollback). */
  candidate?: string;
  /**
   * What the gates may ask for (upstream status reports, approvals), fetched when a gate first
   * asks and kept for the plan: the engine's promotion/facts.ts, plain data in tests.
   */
  facts: GateFacts;
  promoter: string;
  now: Date;
  force?: { reason: string };
  /** Signature verification of the candidate, when the engine did it. */
  signature?: CheckResult;
  /** Parameter validation against the candidate's schema, when the engine did it. */
  parameters?: CheckResult;
  /**
   * parametersDigest() of the values a record of the candidate would carry (the stage's
   * environment now, resolved against the candidate's schema), when the engine resolved them.
   */
  candidateParameters?: string;
  /** GateInput.promoterKey: the promoter's signing key fingerprint, when known. */
  promoterKey?: string;
  /** The ledger records this plan builds on, each checked against its signature: a failed one refuses (exit 4). */
  ledgerChecks?: CheckResult[];
  /** The names of the clusters a record of the candidate would carry (the environment's), when resolved: a rollout's waves are resolved against them. */
  clusters?: string[];
}

export interface Blocker {
  code: ErrorCode;
  message: string;
  hint?: string;
  outcome: Outcome;
  problems?: Problem[];
}

export interface Plan {
  pipeline: string;
  stage: string;
  environment: string;
  action: PlanAction;
  from?: string;
  /** The digest that would move, when one could be chosen. */
  candidate?: string;
  /** `current`: a first stage without --bundle takes the bundle it runs now (with today's parameters). */
  candidateSource?: 'from-stage' | 'explicit' | 'rollback' | 'current' | 'rollout';
  /** What the stage runs now. */
  current?: string;
  /** parametersDigest() of the current record. */
  currentParameters?: string;
  /** parametersDigest() of the values the candidate record would carry. */
  parametersDigest?: string;
  /**
   * `configuration`: the candidate is the bundle the stage runs, with parameters that differ
   * from (or, failing the schema, cannot become) those of its current record. `none`: up to date.
   */
  change?: 'promotion' | 'configuration' | 'wave' | 'none';
  /** The candidate is already the stage's current record: nothing would change. */
  upToDate: boolean;
  signature?: CheckResult;
  parameters?: CheckResult;
  gates: GateResult[];
  /** Why the promotion may not happen; empty when it may. */
  blockers: Blocker[];
  allowed: boolean;
  force?: { reason: string };
  /** For a stage with `rollout`: the wave this plan releases (or starts with), and where the rollout stands. */
  rollout?: PlanRollout;
}

export async function assemblePlan(input: PlanInput): Promise<Plan> {
  const { pipeline } = input;
  const stage = findStage(pipeline, input.stage);
  if (!stage) {
    return {
      pipeline: pipeline.name,
      stage: input.stage,
      environment: '',
      action: input.action,
      upToDate: false,
      gates: [],
      blockers: [{ code: 'STAGE_UNKNOWN', outcome: 'usage', message: `pipeline ${pipeline.name} has no stage "${input.stage}"`, hint: `stages: ${pipeline.stages.map((s) => s.name).join(', ')}` }],
      allowed: false,
    };
  }
  const view = input.ledger[stage.name] ?? { history: [] };
  const fromView = stage.from ? (input.ledger[stage.from] ?? { history: [] }) : undefined;
  const blockers: Blocker[] = [];
  const force = input.force?.reason.trim() ? input.force : undefined;

  if (view.hold) {
    blockers.push({
      code: 'STAGE_HELD',
      outcome: 'refused',
      message: `stage ${stage.name} is held by ${view.hold.by} since ${view.hold.at}${view.hold.reason ? `: ${view.hold.reason}` : ''}`,
      hint: `promote release ${stage.name} lets promotions and rollbacks through again`,
    });
  }

  if (releasesWave(view, input.action, input.candidate)) return wavePlan(input, stage, view, fromView, blockers, force);

  let candidate = input.candidate;
  let candidateSource: Plan['candidateSource'];
  if (input.action === 'rollback') {
    candidateSource = 'rollback';
    if (candidate && !view.history.includes(candidate)) {
      blockers.push({ code: 'ROLLBACK_TARGET_UNKNOWN', outcome: 'refused', message: `${candidate} was never promoted to ${stage.name}`, hint: `promote history ${stage.name} lists the digests it ran` });
    }
  } else if (candidate) {
    candidateSource = 'explicit';
    if (fromView && !fromView.history.includes(candidate)) {
      blockers.push({
        code: 'CANDIDATE_NOT_IN_FROM',
        outcome: 'refused',
        message: `${candidate} never ran in ${stage.from}: only a digest promoted to ${stage.from} may enter ${stage.name}`,
        hint: `promote it to ${stage.from} first, or leave out --bundle to take what ${stage.from} runs now${fromView.current ? ` (${fromView.current})` : ''}`,
      });
    }
  } else if (fromView) {
    candidate = fromView.current;
    candidateSource = 'from-stage';
    if (!candidate) blockers.push({ code: 'NOTHING_TO_PROMOTE', outcome: 'refused', message: `stage ${stage.from} has no promotion yet, so there is nothing to move into ${stage.name}`, hint: `promote to ${stage.from} first` });
  } else if (view.current) {
    // A first stage has no upstream to take from: without --bundle it means "the bundle it runs
    // now, with its environment's parameters as they are today" — a configuration change or nothing.
    candidate = view.current;
    candidateSource = 'current';
  } else {
    blockers.push({ code: 'CANDIDATE_REQUIRED', outcome: 'usage', message: `stage ${stage.name} is the first stage: say which bundle to promote`, hint: `promote to ${stage.name} --bundle <repository>@sha256:…` });
  }
  if (!candidate && input.action === 'rollback' && !blockers.length) {
    blockers.push({ code: 'ROLLBACK_TARGET_UNKNOWN', outcome: 'refused', message: `stage ${stage.name} has no earlier record to roll back to`, hint: `promote history ${stage.name}` });
  }

  // The desired state is (bundle, parameters). The same bundle with other parameters — or with
  // parameters that no longer satisfy its schema — is a configuration change, never "up to date".
  const sameBundle = candidate !== undefined && candidate === view.current;
  const configuration =
    sameBundle && (input.parameters?.passed === false || (input.candidateParameters !== undefined && view.parameters !== undefined && input.candidateParameters !== view.parameters));
  const upToDate = sameBundle && !configuration;
  const change: Plan['change'] = candidate === undefined ? undefined : upToDate ? 'none' : configuration ? 'configuration' : 'promotion';

  blockers.push(...checkBlockers([...(input.ledgerChecks ?? []).map((c) => [c, 'LEDGER_RECORD_UNVERIFIED'] as [CheckResult, ErrorCode]), [input.signature, 'BUNDLE_NOT_VERIFIED'], [input.parameters, 'PARAMETERS_INVALID']]));

  // A promotion or configuration change into a stage with `rollout` starts a rollout at wave 1.
  let rollout: PlanRollout | undefined;
  if (stage.rollout && input.action !== 'rollback' && (change === 'promotion' || change === 'configuration') && input.clusters) {
    const resolved = resolveWaves(stage.rollout, input.clusters);
    if ('problems' in resolved) {
      blockers.push({
        code: 'ROLLOUT_INVALID',
        outcome: 'usage',
        message: `the rollout of ${stage.name} does not fit the clusters of environment ${stage.environment}: ${resolved.problems.join('; ')}`,
        hint: `fix rollout.waves of ${stage.name} in ${pipeline.file} (or the clusters of environments/${stage.environment}.yaml); docs/rollouts.md`,
        problems: resolved.problems.map((message) => ({ message, rule: 'rollout-waves', pointer: stage.rollout!.waves[0]!.at.replace(/\/0$/, ''), file: pipeline.file })),
      });
    } else {
      rollout = { wave: 1, of: resolved.waves.length, clusters: resolved.waves[0]!, waves: resolved.waves, state: 'starting' };
    }
  }

  let gates: GateResult[] = [];
  if (candidate) {
    const gateInput = gateInputOf(input, stage, { ...(stage.from && { from: stage.from }), candidate, ...(input.candidateParameters && { parameters: input.candidateParameters }), gates: stage.gates, ...(force && { force }) });
    gates = await evaluateGates(stage.gates, { input: gateInput, facts: input.facts, ...(sameBundle && { unchangedBundle: configuration ? 'configuration' : 'none' }) });
    const { failing, problems } = failingGates(gates, force, input.action);
    if (failing.length) {
      blockers.push({
        code: 'GATES_FAILED',
        outcome: 'refused',
        message: `${failing.length} of ${gates.length} gate${gates.length === 1 ? '' : 's'} of ${stage.name} did not pass: ${failing.map((g) => g.gate).join(', ')}`,
        problems,
        hint: gatesHint(stage.name, input.action),
      });
    }
  }

  return {
    pipeline: pipeline.name,
    stage: stage.name,
    environment: stage.environment,
    action: input.action,
    ...(stage.from && { from: stage.from }),
    ...(candidate && { candidate }),
    ...(candidateSource && candidate && { candidateSource }),
    ...(view.current && { current: view.current }),
    ...(view.parameters && { currentParameters: view.parameters }),
    ...(input.candidateParameters && { parametersDigest: input.candidateParameters }),
    ...(change && { change }),
    upToDate,
    ...(input.signature && { signature: input.signature }),
    ...(input.parameters && { parameters: input.parameters }),
    gates,
    blockers,
    allowed: blockers.length === 0,
    ...(force && { force }),
    ...(rollout && { rollout }),
  };
}

/** The outcome a refused plan exits with: usage before verification before refused. */
export function planOutcome(plan: Plan): Outcome | undefined {
  if (plan.allowed) return undefined;
  for (const o of ['usage', 'verification', 'refused', 'failed'] as const) if (plan.blockers.some((b) => b.outcome === o)) return o;
  return 'refused';
}
