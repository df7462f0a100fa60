import { PromoteError, type ErrorCode } from '../errors.ts';
import { evaluateGates } from './gates/evaluate.ts';
import { waveCheck } from './gates/wave.ts';
import type { Stage } from './pipeline.ts';
import type { Blocker, CheckResult, Plan, PlanAction, PlanInput, StageView } from './plan.ts';
import { checkBlockers, failingGates, gateInputOf, gatesHint } from './plan-parts.ts';
import { allowedUnavailable } from './rollout.ts';
import { releasedClusters, rolloutComplete } from '../records/rollout.ts';

// The planner's release of a wave (issue 19; docs/rollouts.md): part of the pure planner
// (plan.ts), kept apart because it judges other gates than the stage's own, on other clusters.

/**
 * Where a wave plan leaves the rollout: `starting` (the plan starts a rollout: wave 1),
 * `progressing` (released clusters not yet Converged on the bundle), `soaking` (Converged, a
 * soak to go), `waiting` (other gates of the wave), `ready` (the wave may be released),
 * `stopped` (released clusters unhealthy on the bundle beyond maxUnavailable).
 */
export type RolloutState = 'starting' | 'progressing' | 'soaking' | 'waiting' | 'ready' | 'stopped';

export interface PlanRollout {
  /** The wave this plan releases: 1 when it starts a rollout. */
  wave: number;
  /** How many waves the rollout has. */
  of: number;
  /** The clusters of that wave. */
  clusters: string[];
  /** The clusters of the waves released before it (what the wave check judges); absent when starting. */
  released?: string[];
  /** Every wave's clusters, when the plan starts a rollout (frozen into its record). */
  waves?: string[][];
  state: RolloutState;
  /** The bundle the `from` stage runs, when it is not the one rolling out (`promote run` promotes it once a rollout stopped). */
  newer?: string;
}

/**
 * Whether a plan releases the next wave of the stage's current record rather than moving a
 * bundle: its rollout is not complete, the plan is no rollback, and no other bundle was named
 * (`--bundle` with the bundle rolling out means the same). The engine asks too, to verify the
 * bundle that rolls out rather than upstream's.
 */
export function releasesWave(view: Pick<StageView, 'current' | 'rollout'>, action: PlanAction, candidate: string | undefined): boolean {
  return action !== 'rollback' && view.current !== undefined && view.rollout !== undefined && !rolloutComplete(view.rollout) && (candidate === undefined || candidate === view.current);
}

/**
 * The release of the next wave of the stage's current record: the same bundle and parameters,
 * through the built-in wave check (the released clusters Converged on it, gates/wave.ts) and the
 * gates the wave names, whose upstream kinds (converged, soak, metrics) judge this stage's own
 * released clusters. The stage's own gates judged the record that started the rollout.
 */
export async function wavePlan(input: PlanInput, stage: Stage, view: StageView, fromView: StageView | undefined, blockers: Blocker[], force: { reason: string } | undefined): Promise<Plan> {
  const { pipeline } = input;
  const head = view.rollout!;
  const candidate = view.current!;
  const wave = head.wave + 1;
  const of = head.waves.length;
  const released = releasedClusters(head, []);
  // The pipeline's rollout may have changed since the record froze the waves: its gates and
  // maxUnavailable are read now; a wave it no longer lists has no gates but the check.
  const waveSpec = stage.rollout?.waves[wave - 1];
  const allowed = stage.rollout ? allowedUnavailable(stage.rollout, released.length) : 0;
  // The bundle is verified again (trust may have changed); the parameters are the current
  // record's, validated when it was promoted, so the environment file's state does not matter.
  blockers.push(...checkBlockers([...(input.ledgerChecks ?? []).map((c) => [c, 'LEDGER_RECORD_UNVERIFIED'] as [CheckResult, ErrorCode]), [input.signature, 'BUNDLE_NOT_VERIFIED']]));
  const stageReports = input.facts.stageReports;
  if (!stageReports) throw new PromoteError('INTERNAL', `the facts of ${stage.name} cannot read its own status reports, which a wave release needs`, { hint: 'this is a bug in promote: please report it' });
  const set = new Set(released);
  let ownReports: ReturnType<typeof stageReports> | undefined;
  const releasedReports = () =>
    (ownReports ??= stageReports().then((r) => ({ ...r, clusters: released, reports: r.reports.filter((x) => set.has(x.cluster)) })));
  // The upstream gate kinds judge this stage's released waves: "from" is the stage itself.
  const gateInput = gateInputOf(input, stage, { from: stage.name, candidate, ...(view.parameters && { parameters: view.parameters }), gates: waveSpec?.gates ?? [], ...(force && { force }) });
  const check = waveCheck(gateInput, await releasedReports(), allowed, head.wave);
  const gates = [check.result, ...(await evaluateGates(waveSpec?.gates ?? [], { input: gateInput, facts: { ...input.facts, upstreamReports: releasedReports } }))];
  const { failing, problems } = failingGates(gates, force, input.action);
  const stopped = check.health.stopped;
  if (stopped && !check.result.overridden) {
    const bad = check.health.clusters.filter((c) => 'unhealthy' in c).map((c) => `${c.cluster} ${c.phase}`);
    blockers.push({
      code: 'ROLLOUT_STOPPED',
      outcome: 'refused',
      message: `the rollout of ${candidate} in ${stage.name} is stopped at wave ${head.wave} of ${of}: ${bad.join(', ')} (maxUnavailable ${allowed}); wave ${wave} is not released`,
      problems,
      hint: `promote rollback ${stage.name} returns every cluster to the bundle before, or promote to ${stage.name} --bundle <fix> starts a new rollout; --force --reason "<why>" releases wave ${wave} anyway and records it`,
    });
  } else if (failing.length) {
    blockers.push({
      code: 'GATES_FAILED',
      outcome: 'refused',
      message: `wave ${wave} of ${of} of ${stage.name} is not released yet: ${failing.length} of ${gates.length} gate${gates.length === 1 ? '' : 's'} did not pass: ${failing.map((g) => g.gate).join(', ')}`,
      problems,
      hint: gatesHint(stage.name, input.action),
    });
  }
  const state: RolloutState = stopped ? 'stopped' : !check.result.passed && !check.result.overridden ? 'progressing' : failing.some((g) => g.type === 'soak') ? 'soaking' : failing.length ? 'waiting' : 'ready';
  const newer = fromView?.current !== undefined && fromView.current !== candidate ? fromView.current : undefined;
  return {
    pipeline: pipeline.name,
    stage: stage.name,
    environment: stage.environment,
    action: input.action,
    ...(stage.from && { from: stage.from }),
    candidate,
    candidateSource: 'rollout',
    current: candidate,
    ...(view.parameters && { currentParameters: view.parameters, parametersDigest: view.parameters }),
    change: 'wave',
    upToDate: false,
    ...(input.signature && { signature: input.signature }),
    gates,
    blockers,
    allowed: blockers.length === 0,
    ...(force && { force }),
    rollout: { wave, of, clusters: head.waves[wave - 1]!.clusters, released, state, ...(newer && { newer }) },
  };
}

