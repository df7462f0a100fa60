import { createHash } from 'node:crypto';
import { forEachConcurrently } from '../oci/concurrency.ts';
import { stageOrder } from '../pipeline/load.ts';
import { stageRepository } from '../pipeline/pipeline.ts';
import type { Project } from '../promotion/project.ts';

// What the page's live updates watch: a fingerprint of the ledger (the newest commit of every
// stage's file: promotions, approvals, holds) and of the tags agents and promotions move (each
// cluster's status-<stage>-<cluster>, each stage's promotion-<stage>). Resolving a tag is one
// small read, far cheaper than verifying every report, so the view is rebuilt only when the
// fingerprint changes; the server polls it at a bounded interval (server.ts).

/** Tags resolved at once: enough to hide round trips, few enough not to be throttled. */
const RESOLVE_CONCURRENCY = 8;

export async function fingerprint(project: Project): Promise<string> {
  const { loadEnvironment } = await import('../params/environment.ts');
  const { clusterNames } = await import('../params/cluster-names.ts');
  const { statusTag } = await import('../records/status-report.ts');
  await project.ledger.refresh();
  const parts: string[] = [];
  for (const stage of stageOrder(project.pipeline)) {
    const [newest] = await project.ledger.history(project.pipeline.name, stage.name, 1);
    parts.push(`${stage.name} ledger ${newest?.commit ?? '-'}`);
    const registry = await project.registryFor(stageRepository(project.pipeline, stage));
    const env = await loadEnvironment(project.root, stage.environment);
    const tags = [`promotion-${stage.name}`, ...clusterNames(env).map((c) => statusTag(stage.name, c))];
    const digests = new Array<string>(tags.length);
    await forEachConcurrently(tags.map((t, i) => [t, i] as const), RESOLVE_CONCURRENCY, async ([tag, i]) => {
      digests[i] = `${tag} ${(await registry.resolve(tag))?.digest ?? '-'}`;
    });
    parts.push(...digests);
  }
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}
