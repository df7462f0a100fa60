import type { GateInput, GateResult, UpstreamReports } from '../gate.ts';
import { convergedEvidence } from './converged.ts';
import { shortDigest } from '../../short-digest.ts';

// The built-in check of a wave release (issue 19): every cluster of the waves released so far
// reports Converged on the digest — fresh and verified, judged as the converged gate judges —
// but for at most `allowed` (the stage's rollout.maxUnavailable) that are not. It is not a gate
// a pipeline writes: the planner puts it first among a wave plan's gates. A cluster that reports
// Degraded, Failed or Refused on the very bundle rolling out is evidence against that bundle;
// more of them than maxUnavailable tolerates stop the rollout (the plan's ROLLOUT_STOPPED), and
// no later wave is released until a rollback or a new bundle replaces it. A report that does not
// count (untrusted, stale, about another bundle) is only "not available": it proves nothing,
// for or against. Reference: docs/rollouts.md.

/** The phases that stop a rollout when the bundle rolling out is what the cluster reports on. */
export const STOPPING_PHASES: readonly string[] = ['Degraded', 'Failed', 'Refused'];

export interface WaveHealth {
  /** Per released cluster: the converged gate's evidence, and whether it counts against the bundle. */
  clusters: (ReturnType<typeof convergedEvidence>[number] & { unhealthy?: true })[];
  converged: number;
  /** Clusters that are not Converged on the bundle (unhealthy ones included). */
  unavailable: number;
  unhealthy: number;
  allowed: number;
  /** More unhealthy clusters than `allowed`: the rollout is stopped. */
  stopped: boolean;
  /** At most `allowed` clusters are not Converged (and there is at least one released cluster). */
  passed: boolean;
}

/** How the released clusters fare on `ctx.candidate`, from their reports (`released.clusters`: the released clusters only). */
export function waveHealth(ctx: Pick<GateInput, 'candidate' | 'now' | 'reportMaxAgeMs'>, released: UpstreamReports, allowed: number): WaveHealth {
  const byCluster = new Map(released.reports.map((r) => [r.cluster, r]));
  const clusters = convergedEvidence(ctx as GateInput, released).map((c) => {
    const r = byCluster.get(c.cluster);
    // Only a trusted, fresh report about this bundle counts against it: convergedEvidence said
    // "runs another bundle" or "outside reports.maxAge" otherwise, and those prove nothing.
    const counts = !c.ok && r !== undefined && r.verified !== false && r.bundle === ctx.candidate && STOPPING_PHASES.includes(r.phase) && !('stale' in c);
    return counts ? { ...c, unhealthy: true as const } : c;
  });
  const converged = clusters.filter((c) => c.ok).length;
  const unhealthy = clusters.filter((c) => 'unhealthy' in c).length;
  const unavailable = clusters.length - converged;
  return { clusters, converged, unavailable, unhealthy, allowed, stopped: unhealthy > allowed, passed: clusters.length > 0 && unavailable <= allowed };
}

/** The check as a gate verdict, named `rollout waves 1..k` in plans and records. */
export function waveCheck(ctx: GateInput, released: UpstreamReports, allowed: number, releasedWaves: number): { result: GateResult; health: WaveHealth } {
  const health = waveHealth(ctx, released, allowed);
  const gate = releasedWaves === 1 ? 'rollout wave 1' : `rollout waves 1-${releasedWaves}`;
  const total = health.clusters.length;
  const bad = health.clusters.filter((c) => !c.ok).map((c) => `${c.cluster}: ${c.why}`);
  const tolerance = health.allowed ? ` (maxUnavailable ${health.allowed})` : '';
  let summary: string;
  if (total === 0) summary = `the released waves of ${ctx.stage} have no clusters to report`;
  else if (health.stopped) summary = `rollout stopped: ${health.unhealthy} of ${total} released clusters unhealthy on ${shortDigest(ctx.candidate)}${tolerance}: ${bad.join('; ')}`;
  else summary = `${health.converged}/${total} released clusters of ${ctx.stage} Converged on ${shortDigest(ctx.candidate)}${tolerance}${bad.length ? ` (${bad.join('; ')})` : ''}`;
  const result: GateResult = { gate, type: 'rollout', passed: health.passed && !health.stopped, summary, evidence: { stage: ctx.stage, maxUnavailable: health.allowed, stopped: health.stopped, clusters: health.clusters } };
  return { result, health };
}
