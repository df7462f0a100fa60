import type { RendererOptions } from '../bundle/renderers/renderer.ts';
import type { Descriptor, Registry } from '../oci/registry.ts';
import type { Policy } from '../policy/policy-file.ts';
import type { TrustPolicy } from '../signing/policy.ts';
import type { Signer } from '../signing/signer.ts';
import { RegistryDesiredSource } from './registry-source.ts';
import { ReplayState } from './replay-state.ts';
import { RegistryStatusReporter } from './status-reporter.ts';
import type { Owner } from './target.ts';

// The parts of one cluster's agent around its target: the verified record source and the
// signed status reporter, sharing one replay state. `promote agent` and the demo's agents are
// both built here, so what the demo shows is what an agent does (the demo once built its own,
// without the owner or the replay state, and reported under the pipeline's repository instead
// of the stage's).

export interface AgentPartsOptions {
  /** The stage's repository (its records and reports live there: `stageRepository`). */
  registry: Registry;
  /** That repository's name as reports carry it. */
  repository: string;
  owner: Owner;
  promotionTrust: TrustPolicy;
  bundleTrust: TrustPolicy;
  /** Signs status reports; none: no reports. */
  signer?: Signer;
  /** Extracted bundles, one directory per digest. */
  cacheDir: string;
  /** The replay state (`<cache root>/agent`). */
  stateDir: string;
  /** Directories that may hold a pre-upgrade `sequence-…` file (replay-state.ts). */
  legacyStateDirs?: string[];
  /** How the bundle's renderer binary is found and bounded (PROMOTE_HELM, PROMOTE_KUSTOMIZE, PROMOTE_RENDER_TIMEOUT). */
  renderer?: RendererOptions;
  /** Rules every render must meet before it is applied (`--policy`). */
  policy?: Policy;
}

export interface AgentParts {
  source: RegistryDesiredSource;
  reporter?: RegistryStatusReporter;
  replay: ReplayState;
}

export function agentParts(o: AgentPartsOptions): AgentParts {
  let reporter: RegistryStatusReporter | undefined;
  // A lost cache must not forget the replay mark: the agent's own last signed report names the
  // record sequence it had accepted, and nobody without its key can raise or forge that.
  const replay = new ReplayState({
    dir: o.stateDir,
    repository: o.registry.name,
    owner: o.owner,
    legacyDirs: [o.cacheDir, ...(o.legacyStateDirs ?? [])],
    recover: async () => (await reporter?.ownLast())?.recordSequence ?? 0,
  });
  // The bundles the source verified, so a report names its subject without asking the registry.
  const subjects = new Map<string, Descriptor>();
  const source = new RegistryDesiredSource({ registry: o.registry, owner: o.owner, promotionTrust: o.promotionTrust, bundleTrust: o.bundleTrust, cacheDir: o.cacheDir, replay, subjects, ownRecord: async () => (await reporter?.ownLast())?.record, ...(o.renderer && { renderer: o.renderer }), ...(o.policy && { policy: o.policy }) });
  if (o.signer) reporter = new RegistryStatusReporter(o.registry, o.signer, o.repository, o.owner, replay, subjects);
  return { source, ...(reporter && { reporter }), replay };
}
