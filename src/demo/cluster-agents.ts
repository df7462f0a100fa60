import { agentParts, type AgentParts } from '../agent/agent-parts.ts';
import { Reconciler } from '../agent/reconcile.ts';
import type { Target } from '../agent/target.ts';
import type { Registry } from '../oci/registry.ts';
import { stageRepository, type Pipeline } from '../pipeline/pipeline.ts';
import type { PipelineTrust } from '../signing/policy.ts';
import type { Signer } from '../signing/signer.ts';

// The demo's agents: one reconciler per cluster, kept for the whole run the way a long-running
// `promote agent` keeps its state, from the parts `promote agent` is built of (agent-parts.ts):
// the verified record source and the signed status reporter of the stage's repository. Only the
// demo's pace is its own: every round reports, and health is polled twice a second.

export interface ClusterAgentOptions {
  /** The pipeline, and registries by repository (the promoter's: the same connections). */
  project: { pipeline: Pipeline; registryFor(repository: string): Promise<Registry> };
  trust: PipelineTrust;
  /** Signs status reports (a key in trust.agents). */
  signer: Signer;
  /** Where pulled bundles are kept, by digest. */
  cacheDir: string;
  /** The agents' replay state. */
  stateDir: string;
  stage: string;
  cluster: string;
}

/** The parts of the agent of `cluster`: records and reports in its stage's own repository. */
export async function clusterAgentParts(o: ClusterAgentOptions): Promise<AgentParts> {
  const { pipeline } = o.project;
  const stage = pipeline.stages.find((s) => s.name === o.stage)!;
  const repository = stageRepository(pipeline, stage);
  const owner = { pipeline: pipeline.name, stage: o.stage, cluster: o.cluster };
  return agentParts({ registry: await o.project.registryFor(repository), repository, owner, promotionTrust: o.trust.promotions, bundleTrust: o.trust.bundles, signer: o.signer, cacheDir: o.cacheDir, stateDir: o.stateDir });
}

/** A reconciler over `parts`: two of them for one cluster share its parts (one report sequence). */
export function clusterAgent(parts: AgentParts, target: Target, owner: { pipeline: string; stage: string; cluster: string }, selfHeal = true): Reconciler {
  return new Reconciler({
    owner,
    source: parts.source,
    target,
    ...(parts.reporter && { reporter: parts.reporter }),
    selfHeal,
    healthTimeoutMs: 60_000,
    healthPollMs: 500,
    // Every round of the demo is worth a report: the gates read them.
    reportEveryMs: 0,
  });
}
