import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PromoteError } from '../errors.ts';
import type { RenderedCluster } from '../pipeline/gate.ts';
import { renderedObjects } from '../policy/rendered-objects.ts';
import type { Stage } from '../pipeline/pipeline.ts';
import type { BundleFacts } from './bundle-checks.ts';
import type { Project } from './project.ts';

// The engine's GateFacts.rendered: the candidate pulled by digest and rendered for each cluster
// of the stage's environment with that cluster's parameters and `${promote.cluster}`, by the one
// render the agents run (bundle/render-pulled.ts), so a policy judges what they would apply.
// Bounded by the render's own limits (file count, sizes, renderer time); the content is
// downloaded once and deleted after. Only manifests' documents are objects (policy/rendered-objects.ts).

type Values = NonNullable<BundleFacts['values']>;

export async function renderedForStage(project: Project, stage: Stage, candidate: string, registryRepository: string, values: Values): Promise<RenderedCluster[]> {
  const [{ pullInto }, { renderPulled }, { clusterNames }, { valuesFor }] = await Promise.all([
    import('../artifact/pull.ts'),
    import('../bundle/render-pulled.ts'),
    import('../params/cluster-names.ts'),
    import('./plan-diff.ts'),
  ]);
  const side = { parameters: values.environment, clusters: values.clusters };
  const tmp = await mkdtemp(join(tmpdir(), 'promote-policy-'));
  try {
    const bundle = await pullInto(await project.registryFor(registryRepository), candidate, join(tmp, 'candidate'));
    const out: RenderedCluster[] = [];
    for (const cluster of clusterNames({ name: stage.environment, clusters: values.clusters })) {
      const promote = { stage: stage.name, environment: stage.environment, cluster, digest: candidate };
      const { files } = await renderPulled(bundle, { params: valuesFor(side, cluster), promote }, { env: project.options.env });
      const found = renderedObjects(files);
      // A manifest the render could not read into documents fails the render; never judged as empty.
      if ('unreadable' in found) throw new PromoteError('RENDER_FAILED', `${found.unreadable} rendered without readable documents`, { outcome: 'verification' });
      const { objects } = found;
      out.push({ cluster, objects });
    }
    return out;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
