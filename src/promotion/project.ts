import { PromoteError } from '../errors.ts';
import { openRegistry, type RegistryOptions } from '../oci/open.ts';
import type { Registry } from '../oci/registry.ts';
import { findPipelineFile, loadPipeline, projectRoot } from '../pipeline/load.ts';
import type { Pipeline, Stage } from '../pipeline/pipeline.ts';
import type { PipelineTrust, TrustPolicy } from '../signing/policy.ts';
import type { Signer } from '../signing/signer.ts';
import { GitLedger } from './ledger.ts';

// Opening a project: the composition root of every promotion verb. The pipeline file, its
// ledger, the registries and the trust lists are opened here once; the verbs (to.ts,
// approve.ts, …) take the project and do one thing.

export interface EngineOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Pipeline name (under pipelines/) or file; default: the project's only pipeline. */
  pipeline?: string;
  registry?: RegistryOptions;
  /** Path of the promoter's private key (default PROMOTE_KEY): signs promotion records. */
  key?: string;
  interactive?: boolean;
  /** The clock; an operation reads it once (clock()) so its gate evidence and its record agree. */
  now?: () => Date;
  /** Notices for humans (stderr). */
  log?: (message: string) => void;
  /** Where clones of remote ledgers live (default PROMOTE_CACHE_DIR or ~/.cache/promote). */
  cacheDir?: string;
  /** Replaces loading the promoter's key (tests, the demo). */
  signer?: Signer;
  /** Replaces loading the approver's key for approve() (tests, the demo). */
  approverSigner?: Signer;
}

export interface Project {
  pipeline: Pipeline;
  root: string;
  ledger: GitLedger;
  /** The pipeline's repository (spec.repository). */
  registry: Registry;
  /** The registry of any repository (a stage's own, e.g. a production registry); cached. */
  registryFor(repository: string): Promise<Registry>;
  options: EngineOptions;
  trust(): Promise<PipelineTrust>;
  /** Who may sign status reports: trust.agents, or the promotion signers when it is empty. */
  agentTrust(): Promise<TrustPolicy>;
}

export async function openProject(options: EngineOptions): Promise<Project> {
  const file = await findPipelineFile(options.cwd, options.pipeline);
  const pipeline = await loadPipeline(file);
  const root = projectRoot(file);
  const ledger = await GitLedger.open(pipeline.ledger, { env: options.env, identityDir: root, ...(options.cacheDir && { cacheDir: options.cacheDir }) });
  const registries = new Map<string, Promise<Registry>>();
  const registryFor = (repository: string) => {
    let r = registries.get(repository);
    if (!r) {
      r = openRegistry(repository, { env: options.env, cwd: root, ...options.registry });
      registries.set(repository, r);
    }
    return r;
  };
  const registry = await registryFor(pipeline.repository);
  let trust: Promise<PipelineTrust> | undefined;
  let agents: Promise<TrustPolicy> | undefined;
  const loadTrust = () => {
    trust ??= import('../signing/policy.ts').then(({ loadPipelineTrust }) => loadPipelineTrust(pipeline.trust, { baseDir: root }));
    return trust;
  };
  return {
    pipeline,
    root,
    ledger,
    registry,
    registryFor,
    options,
    trust: loadTrust,
    async agentTrust() {
      if (!pipeline.trust.agents.length) return (await loadTrust()).promotions;
      agents ??= import('../signing/policy.ts').then(({ loadTrustPolicy }) => loadTrustPolicy(pipeline.trust.agents, { baseDir: root }));
      return agents;
    },
  };
}

/** Reads the project's clock: once per operation, and the time passed down from there. */
export function clock(project: Project): Date {
  return (project.options.now ?? (() => new Date()))();
}

/** A stage and the one it takes bundles from (`from`): looked up once per operation, passed down. */
export interface StageLookup {
  stage: Stage;
  upstream?: Stage;
}

export function lookupStage(pipeline: Pipeline, name: string): StageLookup {
  const stage = requireStage(pipeline, name);
  return stage.from ? { stage, upstream: requireStage(pipeline, stage.from) } : { stage };
}

function requireStage(pipeline: Pipeline, name: string): Stage {
  const stage = pipeline.stages.find((s) => s.name === name);
  if (!stage) {
    throw new PromoteError('STAGE_UNKNOWN', `pipeline ${pipeline.name} has no stage "${name}"`, { outcome: 'usage', hint: `stages: ${pipeline.stages.map((s) => s.name).join(', ')}` });
  }
  return stage;
}
