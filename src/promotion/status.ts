import { PromoteError } from '../errors.ts';
import type { RegistryOptions } from '../oci/open.ts';
import type { StatusObservation } from '../records/status-report.ts';
import type { StageRolloutStatus } from './rollout-status.ts';
import { shortDigest } from '../short-digest.ts';

// `promote status`: stage × cluster — what the ledger says each stage should run (and whether
// its signed record is published), against what each cluster's agent last reported. Reports
// are verified against the pipeline's agent trust; one that does not verify is shown as such
// and never as Converged.

export interface StatusOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Pipeline name or file; default: the project's only pipeline. */
  pipeline?: string;
  registry?: RegistryOptions;
  /** Reports older than this are flagged stale (default 10 min + a margin: agents re-report every 10 min). */
  staleAfterMs?: number;
  now?: () => Date;
}

export interface ClusterStatus {
  stage: string;
  environment: string;
  cluster: string;
  /** What the ledger says the stage runs. */
  desired?: { bundle: string; record?: string };
  /** The ledger has a record the registry does not publish yet (re-run `promote to`). */
  publishGap: boolean;
  /** How promotion-<stage> disagrees with the ledger's head (absent when they agree). */
  tagDisagreement?: string;
  held: boolean;
  /** The cluster's last status report, if any. */
  observed?: Omit<StatusObservation, 'cluster'>;
  /** Converged on the desired bundle. */
  inSync: boolean;
  /** Drift the agent last saw: left alone (self-heal off) or corrected in its last change. */
  drift: 'none' | 'drifted' | 'corrected' | 'unknown';
  /** The cluster runs or reports another bundle, or another record of it (older parameters), than desired. */
  behind: boolean;
  stale: boolean;
  /**
   * The stage's environment file against its current record: `pending` when its parameters
   * changed and were not promoted yet, `invalid` when they break the bundle's schema (the stage
   * keeps running its last good record). Absent before the stage's first record.
   */
  parameters?: 'current' | 'pending' | 'invalid' | 'unknown';
  /** Why the parameters are invalid (or could not be checked). */
  parametersProblem?: string;
  /**
   * For a stage rolling out in waves: the cluster's wave, and whether the current record is
   * released to it. An unreleased cluster's `desired` is the record it keeps running (none: it
   * runs nothing of the stage yet), so it is not behind for running that.
   */
  wave?: { wave: number; released: boolean; keeps?: string };
}

export interface PipelineStatus {
  pipeline: string;
  observedAt: string;
  clusters: ClusterStatus[];
  /** The stages whose current record rolls out in waves: where each rollout stands. */
  rollouts?: StageRolloutStatus[];
}

export async function pipelineStatus(options: StatusOptions): Promise<PipelineStatus> {
  const { openProject } = await import('./project.ts');
  const { stageSummaries } = await import('./stage-status.ts');
  const { readStatusReports } = await import('../records/status-report.ts');
  const { ReportCache } = await import('./report-cache.ts');
  const { promoteCacheRoot } = await import('../cache-root.ts');
  const { join } = await import('node:path');
  const { loadEnvironment } = await import('../params/environment.ts');
  const { clusterNames } = await import('../params/cluster-names.ts');
  const { stageRepository } = await import('../pipeline/pipeline.ts');
  const project = await openProject({ cwd: options.cwd, env: options.env, ...(options.pipeline && { pipeline: options.pipeline }), ...(options.registry && { registry: options.registry }) });
  const now = (options.now ?? (() => new Date()))();
  const staleAfter = options.staleAfterMs ?? 15 * 60_000;
  const summaries = await stageSummaries(project);
  const trust = await project.agentTrust();
  const cache = new ReportCache(join(promoteCacheRoot(options.env), 'reports'));
  const rows: ClusterStatus[] = [];
  const rollouts: StageRolloutStatus[] = [];
  for (const summary of summaries) {
    const stage = project.pipeline.stages.find((s) => s.name === summary.stage)!;
    const env = await loadEnvironment(project.root, stage.environment);
    const clusters = clusterNames(env);
    const registry = await project.registryFor(stageRepository(project.pipeline, stage));
    const reports = await readStatusReports(registry, stage.name, clusters, trust, project.pipeline.name, { cache });
    const byCluster = new Map(reports.map((r) => [r.cluster, r]));
    const waves = summary.rollout && summary.bundle ? await (await import('./rollout-status.ts')).stageWaves(project, stage, summary.rollout, summary.bundle, reports, now, summary.renderedWith) : undefined;
    if (waves) rollouts.push(waves.status);
    clusters.forEach((cluster) => {
      const r = byCluster.get(cluster);
      const observed = r && {
        phase: r.phase,
        bundle: r.bundle,
        since: r.since,
        observedAt: r.observedAt,
        ...(r.record !== undefined && { record: r.record }),
        ...(r.reason !== undefined && { reason: r.reason }),
        ...(r.verified !== undefined && { verified: r.verified }),
      };
      const wave = waves?.release(cluster);
      const desired = wave && !wave.released ? (wave.bundle ? { bundle: wave.bundle } : undefined) : summary.bundle ? { bundle: summary.bundle, ...(summary.published?.digest && { record: summary.published.digest }) } : undefined;
      const trusted = observed !== undefined && observed.verified !== false;
      // A configuration change keeps the bundle and replaces the record: a cluster is in step
      // only on the record now published (when both sides name one).
      const sameRecord = !observed?.record || !desired?.record || observed.record === desired.record;
      rows.push({
        stage: stage.name,
        environment: stage.environment,
        cluster,
        ...(desired && { desired }),
        publishGap: summary.publishGap,
        ...(summary.tagDisagreement && { tagDisagreement: summary.tagDisagreement }),
        held: summary.held,
        ...(observed && { observed }),
        inSync: trusted && desired !== undefined && observed.bundle === desired.bundle && sameRecord && observed.phase === 'Converged',
        drift: !observed ? 'unknown' : observed.phase === 'Drifted' ? 'drifted' : observed.reason === 'DriftCorrected' ? 'corrected' : 'none',
        behind: desired !== undefined && (!observed || observed.bundle !== desired.bundle || !sameRecord),
        stale: observed !== undefined && observed.observedAt !== '' && now.getTime() - Date.parse(observed.observedAt) > staleAfter,
        ...(summary.parameters && { parameters: summary.parameters.state }),
        ...(summary.parameters?.summary && { parametersProblem: summary.parameters.summary }),
        ...(wave && { wave: { wave: wave.wave, released: wave.released, ...(wave.keeps && { keeps: wave.keeps }) } }),
      });
    });
  }
  if (summaries.length === 0) {
    throw new PromoteError('PIPELINE_EMPTY', `pipeline ${project.pipeline.name} has no stages`, { outcome: 'usage', hint: `add stages to ${project.pipeline.file}` });
  }
  return { pipeline: project.pipeline.name, observedAt: now.toISOString(), clusters: rows, ...(rollouts.length && { rollouts }) };
}


function ago(iso: string | undefined, now: Date): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (Number.isNaN(s)) return '-';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86_400)}d`;
}

/** The table humans read: one line per stage and cluster. */
export function statusTable(status: PipelineStatus): string {
  const now = new Date(status.observedAt);
  const header = ['STAGE', 'CLUSTER', 'DESIRED', 'OBSERVED', 'PHASE', 'SINCE', 'DRIFT', 'NOTE'];
  const lines = status.clusters.map((c) => {
    const notes: string[] = [];
    if (c.held) notes.push('held');
    if (c.wave && !c.wave.released) notes.push(`wave ${c.wave.wave}: not released yet, ${c.wave.keeps ? `keeps record ${shortDigest(c.wave.keeps)}` : 'runs nothing of the stage yet'}`);
    if (c.tagDisagreement) notes.push(c.tagDisagreement);
    else if (c.publishGap) notes.push('record not published: run promote to again');
    if (c.parameters === 'pending') notes.push(`parameters pending: promote to ${c.stage}`);
    if (c.parameters === 'invalid') notes.push(`parameters invalid (runs its last good record): promote plan ${c.stage}`);
    if (!c.observed) notes.push(c.desired ? 'no report yet' : '');
    else {
      if (c.observed.verified === false) notes.push(`untrusted report: ${c.observed.reason ?? ''}`.trim());
      else if (c.observed.phase !== 'Converged' && c.observed.reason) notes.push(c.observed.reason);
      if (c.behind) notes.push(c.desired && c.observed.bundle === c.desired.bundle ? 'runs an older record of this bundle' : 'runs another bundle');
      if (c.stale) notes.push(`last report ${ago(c.observed.observedAt, now)} ago`);
    }
    return [c.stage, c.cluster, shortDigest(c.desired?.bundle, 'hex'), shortDigest(c.observed?.bundle, 'hex'), c.observed?.phase ?? '-', ago(c.observed?.since, now), c.drift === 'none' || c.drift === 'unknown' ? '-' : c.drift, notes.filter(Boolean).join('; ')];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const rollouts = (status.rollouts ?? []).flatMap((r) => [
    `${r.stage}: rollout of ${shortDigest(r.bundle)}, wave ${r.wave} of ${r.of} released, ${r.state}: ${r.summary}`,
    ...r.waves.map((w) => `  wave ${w.wave}${w.released ? '' : ' (not released)'}: ${w.clusters.map((c) => `${c.cluster} ${c.phase}`).join(', ')}`),
  ]);
  return [`pipeline ${status.pipeline}`, fmt(header), ...lines.map(fmt), ...rollouts].join('\n');
}
