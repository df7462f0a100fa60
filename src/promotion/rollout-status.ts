import { formatDuration } from '../pipeline/duration.ts';
import { DEFAULT_REPORT_MAX_AGE, type Pipeline, type Stage } from '../pipeline/pipeline.ts';
import { waveHealth } from '../pipeline/gates/wave.ts';
import { allowedUnavailable } from '../pipeline/rollout.ts';
import type { StatusObservation } from '../records/status-report.ts';
import { clusterRelease, releasedClusters, rolloutComplete, type RecordRollout } from '../records/rollout.ts';
import type { Project } from './project.ts';

// Where a stage's rollout in waves stands, for `promote status` (docs/rollouts.md): the wave
// released so far, and a state read from the released clusters' reports as the wave check reads
// them (gates/wave.ts). `promote plan` judges the next wave's gates in full; status only says
// whether a soak is still running, so it reads no server a gate names.

export type StageRolloutState = 'progressing' | 'soaking' | 'waiting' | 'stopped' | 'complete';

export interface StageRolloutStatus {
  stage: string;
  bundle: string;
  /** The waves released so far (1..wave) and how many there are. */
  wave: number;
  of: number;
  state: StageRolloutState;
  /** One line: what the state means and what releases the next wave. */
  summary: string;
  waves: { wave: number; released: boolean; clusters: { cluster: string; phase: string; bundle?: string }[] }[];
}

/** `renderedWith`: what each released cluster's report must say it rendered with (as the wave check asks, facts.ts). */
export function rolloutStatus(pipeline: Pipeline, stage: Stage, rollout: RecordRollout, bundle: string, reports: StatusObservation[], now: Date, renderedWith?: Record<string, string>): StageRolloutStatus {
  const byCluster = new Map(reports.map((r) => [r.cluster, r]));
  const released = releasedClusters(rollout, []);
  const waves = rollout.waves.map((w, i) => ({
    wave: i + 1,
    released: i < rollout.wave,
    clusters: w.clusters.map((cluster) => {
      const r = byCluster.get(cluster);
      return { cluster, phase: r ? (r.verified === false ? 'Unverified' : r.phase) : 'NoReport', ...(r?.bundle && { bundle: r.bundle }) };
    }),
  }));
  const base = { stage: stage.name, bundle, wave: rollout.wave, of: rollout.waves.length, waves };
  if (rolloutComplete(rollout)) return { ...base, state: 'complete', summary: `all ${rollout.waves.length} waves released` };
  const ctx = { candidate: bundle, now, reportMaxAgeMs: pipeline.reports?.maxAgeMs ?? DEFAULT_REPORT_MAX_AGE.maxAgeMs };
  const health = waveHealth(ctx, { clusters: released, reports: reports.filter((r) => released.includes(r.cluster)), ...(renderedWith && { parameters: renderedWith }) }, stage.rollout ? allowedUnavailable(stage.rollout, released.length) : 0);
  const next = rollout.wave + 1;
  if (health.stopped) {
    const bad = health.clusters.filter((c) => 'unhealthy' in c).map((c) => `${c.cluster} ${c.phase}`);
    return { ...base, state: 'stopped', summary: `stopped at wave ${rollout.wave}: ${bad.join(', ')}; promote rollback ${stage.name}, or promote to ${stage.name} --bundle <fix>` };
  }
  if (!health.passed) return { ...base, state: 'progressing', summary: `${health.converged}/${released.length} released clusters Converged; wave ${next} waits for them` };
  const soak = stage.rollout?.waves[next - 1]?.gates.find((g) => g.type === 'soak');
  if (soak && soak.type === 'soak') {
    const since = health.clusters.filter((c) => c.ok && c.since).map((c) => Date.parse(c.since!));
    const left = since.length ? soak.milliseconds - (now.getTime() - Math.max(...since)) : soak.milliseconds;
    if (left > 0) return { ...base, state: 'soaking', summary: `soaking: wave ${next} in ${formatDuration(left)} at the earliest (soak ${soak.duration})` };
  }
  return { ...base, state: 'waiting', summary: `wave ${next} waits on its gates: promote run (or promote to ${stage.name}) releases it when they pass` };
}

/** A cluster's place in the rollout: its wave, whether it is released, and what it keeps (record and bundle). */
export interface ClusterWave {
  wave: number;
  released: boolean;
  keeps?: string;
  /** The bundle of the record it keeps, as the ledger's history names it. */
  bundle?: string;
}

/** The stage's rollout status, and each cluster's wave (the kept records' bundles read from the ledger's history). */
export async function stageWaves(project: Project, stage: Stage, rollout: RecordRollout, bundle: string, reports: StatusObservation[], now: Date, renderedWith?: Record<string, string>): Promise<{ status: StageRolloutStatus; release(cluster: string): ClusterWave | undefined }> {
  const bundles = new Map<string, string>();
  if (rollout.keep?.length) {
    for (const h of await project.ledger.history(project.pipeline.name, stage.name)) {
      const record = h.trailers['Promotion-Record']?.[0];
      const b = h.trailers['Promoted-Bundle']?.[0];
      if (record && b) bundles.set(record, b);
    }
  }
  return {
    status: rolloutStatus(project.pipeline, stage, rollout, bundle, reports, now, renderedWith),
    release(cluster) {
      const r = clusterRelease(rollout, cluster);
      if (r.wave === undefined) return undefined;
      const kept = !r.released ? r.keep : undefined;
      return { wave: r.wave, released: r.released, ...(kept && { keeps: kept, ...(bundles.has(kept) && { bundle: bundles.get(kept)! }) }) };
    },
  };
}
