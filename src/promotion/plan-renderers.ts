import { stageRepository } from '../pipeline/pipeline.ts';
import type { PlanRenderers } from './plan-diff.ts';
import type { Project } from './project.ts';

// What the stage's agents last said they rendered with (their status reports' `renderer`), set
// beside the renderer `plan` ran: the diff is what *this* machine's helm renders, and an agent
// with another helm version may render something else — so that difference is shown, not found
// out after the promotion. Only a bundle rendered by a binary has a version worth comparing.

export async function withReportedRenderers(project: Project, stageName: string, clusters: string[], renderers: PlanRenderers): Promise<PlanRenderers> {
  if (renderers.after.kind === 'plain' && (renderers.now?.kind ?? 'plain') === 'plain') return renderers;
  const stage = project.pipeline.stages.find((s) => s.name === stageName);
  if (!stage) return renderers;
  const { readStatusReports } = await import('../records/status-report.ts');
  const registry = await project.registryFor(stageRepository(project.pipeline, stage));
  const reports = await readStatusReports(registry, stage.name, clusters, await project.agentTrust(), project.pipeline.name);
  // A report whose signature did not verify says nothing about anyone's helm.
  const reported = reports
    .filter((r) => r.verified !== false && r.renderer)
    .map((r) => ({ cluster: r.cluster, kind: r.renderer!.kind, ...(r.renderer!.version !== undefined && { version: r.renderer!.version }), ...(r.renderer!.version === undefined && r.reason !== undefined && { reason: r.reason }) }));
  const { after } = renderers;
  const versionDiffers = after.version !== undefined && reported.some((r) => r.kind === after.kind && r.version !== undefined && r.version !== after.version);
  return { ...renderers, reported, versionDiffers };
}
