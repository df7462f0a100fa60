import { Reconciler } from '../agent/reconcile.ts';
import { RegistryDesiredSource } from '../agent/registry-source.ts';
import { RegistryStatusReporter } from '../agent/status-reporter.ts';
import type { Target } from '../agent/target.ts';
import type { Registry } from '../oci/registry.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';
import type { PipelineTrust } from '../signing/policy.ts';
import type { Signer } from '../signing/signer.ts';

// The demo's agents: one reconciler per cluster, kept for the whole run the way a long-running
// `promote agent` keeps its state, with the agent's own registry source (verified record →
// verified bundle → parameters → render) and status reporter (signed reports). Only the wiring
// lives here; `promote agent` builds the same three parts.

export interface ClusterAgentOptions {
  pipeline: Pipeline;
  registry: Registry;
  trust: PipelineTrust;
  /** Signs status reports (a key in trust.agents). */
  signer: Signer;
  /** Where pulled bundles are kept, by digest. */
  cacheDir: string;
  stage: string;
  cluster: string;
  target: Target;
  selfHeal?: boolean;
}

export function clusterAgent(o: ClusterAgentOptions): Reconciler {
  const owner = { pipeline: o.pipeline.name, stage: o.stage, cluster: o.cluster };
  return new Reconciler({
    owner,
    source: new RegistryDesiredSource({ registry: o.registry, owner, promotionTrust: o.trust.promotions, bundleTrust: o.trust.bundles, cacheDir: o.cacheDir }),
    target: o.target,
    reporter: new RegistryStatusReporter(o.registry, o.signer, o.pipeline.repository),
    selfHeal: o.selfHeal ?? true,
    healthTimeoutMs: 60_000,
    healthPollMs: 500,
    // Every round of the demo is worth a report: the gates read them.
    reportEveryMs: 0,
  });
}
