import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PromoteError } from '../errors.ts';
import type { RenderedCluster, RenderedObject } from '../pipeline/gate.ts';
import type { Stage } from '../pipeline/pipeline.ts';
import type { BundleFacts } from './bundle-checks.ts';
import type { Project } from './project.ts';

// The engine's GateFacts.rendered: the candidate pulled by digest and rendered for each cluster
// of the stage's environment with that cluster's parameters and `${promote.cluster}`, by the one
// render the agents run (bundle/render-pulled.ts), so a policy judges what they would apply.
// Bounded by the render's own limits (file count, sizes, renderer time); the content is
// downloaded once and deleted after. Only manifests (YAML/JSON documents) are objects: files
// shipped as text or bytes are not Kubernetes objects and no rule sees them.

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
      const objects: RenderedObject[] = [];
      for (const f of files) {
        if (f.kind !== 'manifest') continue;
        // A manifest the render could not read into documents fails the render; never judged as empty.
        if (!f.documents) throw new PromoteError('RENDER_FAILED', `${f.path} rendered without readable documents`, { outcome: 'verification' });
        f.documents.forEach((d, index) => {
          if (typeof d === 'object' && d !== null && !Array.isArray(d)) objects.push({ file: f.path, index, object: d as Record<string, unknown> });
        });
      }
      out.push({ cluster, objects });
    }
    return out;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
