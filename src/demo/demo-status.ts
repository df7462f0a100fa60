import type { Project } from '../promotion/project.ts';
import type { DemoRelease, StatusRow } from './demo-result.ts';

// The demo's status table when it ran on another registry than the pipeline's (with --registry
// `promote status` would read the pipeline's): the same signed reports, read by the demo.

export /** stage × cluster: the digest each stage's record names, and what each agent last reported. */
async function statusRows(project: Project, stageClusters: Record<string, string[]>, releases: DemoRelease[]): Promise<StatusRow[]> {
  const { readStatusReport } = await import('../records/status-report.ts');
  const trust = await project.agentTrust();
  const version = (d?: string): string | undefined => releases.find((r) => r.digest === d)?.version;
  const rows: StatusRow[] = [];
  for (const stage of project.pipeline.stages) {
    const st = await project.ledger.read(project.pipeline.name, stage.name);
    const desired = st?.record?.bundle.digest;
    for (const cluster of stageClusters[stage.name] ?? []) {
      const r = await readStatusReport(project.registry, stage.name, cluster, trust);
      const dv = version(desired);
      rows.push({
        stage: stage.name,
        cluster,
        ...(desired && { desired }),
        ...(dv && { desiredVersion: dv }),
        ...(r?.bundle && { observed: r.bundle }),
        phase: r?.phase ?? 'NoReport',
        ...(r?.since && { since: r.since }),
        ...(r?.reason && { reason: r.reason }),
      });
    }
  }
  return rows;
}
