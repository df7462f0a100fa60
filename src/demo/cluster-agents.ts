import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Reconciler, type AgentStatus, type DesiredSource, type StatusReporter } from '../agent/reconcile.ts';
import type { DesiredState, Target } from '../agent/target.ts';
import { PromoteError } from '../errors.ts';
import type { Registry } from '../oci/registry.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';
import type { PipelineTrust } from '../signing/policy.ts';
import type { Signer } from '../signing/signer.ts';

// The demo's agents: one reconciler per cluster, kept for the whole run the way a long-running
// `promote agent` keeps its state, wired to the registry (verified record → verified bundle →
// render) and reporting signed status. The reconcile round, the targets and every verification
// are the agent's and the signing module's own; only the wiring lives here.

export interface ClusterAgentOptions {
  pipeline: Pipeline;
  registry: Registry;
  trust: PipelineTrust;
  /** Signs status reports (a key in trust.promotions). */
  signer: Signer;
  /** Where pulled bundles are kept, by digest. */
  cacheDir: string;
  stage: string;
  environment: string;
  cluster: string;
  target: Target;
  selfHeal?: boolean;
}

/** The stage's promotion record, verified, then its bundle, verified, pulled and rendered. */
export function registrySource(o: ClusterAgentOptions): DesiredSource {
  const tag = `promotion-${o.stage}`;
  return {
    async resolve() {
      const desc = await o.registry.resolve(tag);
      return desc?.digest;
    },
    async load(recordDigest): Promise<DesiredState> {
      const [{ verifyRecord, verifyBundle }, { resolveBundle, extractBundle }, { renderBundleDirectory }, { contentBytes }] = await Promise.all([
        import('../signing/policy.ts'),
        import('../oci/pull.ts'),
        import('../bundle/render-environment.ts'),
        import('../bundle/render.ts'),
      ]);
      const v = await verifyRecord(o.registry, recordDigest, o.trust.promotions, { stage: o.stage });
      const p = v.statement.predicate;
      const bundle = p.bundle.digest;
      if (p.pipeline !== o.pipeline.name) {
        throw new PromoteError('RECORD_OTHER_PIPELINE', `record ${recordDigest.slice(0, 19)}… is for pipeline ${p.pipeline}, not ${o.pipeline.name}`, { outcome: 'verification', details: { bundle } });
      }
      const clusters = (p.clusters as { name: string; parameters: Record<string, unknown> }[] | undefined) ?? [];
      const mine = clusters.find((c) => c.name === o.cluster);
      if (clusters.length > 0 && !mine) {
        throw new PromoteError('RECORD_OTHER_CLUSTER', `record ${recordDigest.slice(0, 19)}… for ${o.stage} does not name cluster ${o.cluster} (it names ${clusters.map((c) => c.name).join(', ')})`, { outcome: 'verification', details: { bundle } });
      }
      await verifyBundle(o.registry, bundle, o.trust.bundles);
      const dir = join(o.cacheDir, bundle.replace(':', '-'));
      const present = await stat(join(dir, 'bundle.yaml')).then(() => true, () => false);
      if (!present) {
        await rm(dir, { recursive: true, force: true });
        await mkdir(o.cacheDir, { recursive: true });
        await extractBundle(o.registry, await resolveBundle(o.registry, bundle), dir);
      }
      const params = mine?.parameters ?? p.parameters.values ?? {};
      const rendered = await renderBundleDirectory(dir, params, { stage: o.stage, environment: o.environment, cluster: o.cluster, digest: bundle });
      return {
        owner: { pipeline: o.pipeline.name, stage: o.stage, cluster: o.cluster },
        recordDigest,
        bundleDigest: bundle,
        files: rendered.map((f) => ({ path: f.path, content: contentBytes(f), ...(f.documents && { documents: f.documents }) })),
      };
    },
  };
}

/** Publishes each status as a signed report at `status-<stage>-<cluster>`. */
export function registryReporter(o: ClusterAgentOptions): StatusReporter {
  return {
    async report(status: AgentStatus) {
      const { publishStatusReport } = await import('../promotion/status-reports.ts');
      const desc = await o.registry.resolve(status.bundle!);
      if (!desc) throw new PromoteError('BUNDLE_NOT_FOUND', `${o.registry.name}@${status.bundle} is gone; cannot attach a status report to it`);
      const { bundle, record, ...rest } = status;
      await publishStatusReport(o.registry, { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }, {
        ...rest,
        ...(record && { record }),
        bundle: { repository: o.pipeline.repository, digest: bundle! },
      }, o.signer);
    },
  };
}

export function clusterAgent(o: ClusterAgentOptions): Reconciler {
  return new Reconciler({
    owner: { pipeline: o.pipeline.name, stage: o.stage, cluster: o.cluster },
    source: registrySource(o),
    target: o.target,
    reporter: registryReporter(o),
    selfHeal: o.selfHeal ?? true,
    healthTimeoutMs: 60_000,
    healthPollMs: 500,
    // Every round of the demo is worth a report: the gates read them.
    reportEveryMs: 0,
  });
}
