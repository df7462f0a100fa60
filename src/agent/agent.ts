import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { PromoteError } from '../errors.ts';
import type { RegistryOptions } from '../oci/open.ts';
import type { AgentStatus } from './reconcile.ts';
import type { Owner } from './target.ts';
import type { TargetOptionValues } from './targets/target-kind.ts';

// `promote agent`: wires the registry, trust, the target and the reporter into a Reconciler and
// runs the loop. Configuration comes from the project's pipeline file (embedded defaults, a
// checkout) or, in a cluster where there is no checkout, from flags (--repository and keys).

export interface AgentOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  interactive?: boolean;
  /** Pipeline name or file; with --repository, the name the records must carry. */
  pipeline?: string;
  stage: string;
  cluster: string;
  /** `--target`: a spec one of the target kinds owns (targets/kinds.ts), e.g. `kubernetes`, `dir:<path>`. */
  target: string;
  /** The target kinds' options by flag name (`kubeconfig`, `adopt`, …; see each kind's file). */
  targetOptions?: TargetOptionValues;
  /** The bundle repository, instead of the pipeline file's. */
  repository?: string;
  /** Public keys trusted for promotion records / bundles, instead of the pipeline file's trust. */
  promotionKeys?: string[];
  bundleKeys?: string[];
  /** Private key that signs status reports (default PROMOTE_AGENT_KEY); none: no reports. */
  key?: string;
  registry?: RegistryOptions;
  intervalMs?: number;
  once?: boolean;
  selfHeal?: boolean;
  healthTimeoutMs?: number;
  /** /healthz fails once a round runs longer than this (see AgentLoopOptions.stallAfterMs). */
  stallAfterMs?: number;
  /** A `kind: Policy` file (relative to cwd) every render must meet before it is applied; violations: Refused PolicyViolation. */
  policy?: string;
  /** `host:port` for /healthz, /readyz, /metrics; undefined or '' serves nothing. */
  metricsAddress?: string;
  /**
   * Extracted bundles by digest (default `<cache root>/bundles`). The replay state is always
   * under `<cache root>/agent`; the root is PROMOTE_CACHE_DIR, else $XDG_CACHE_HOME/promote,
   * else ~/.cache/promote.
   */
  cacheDir?: string;
  /** Receives the agent's log entries (the CLI writes them to stderr as JSON lines). */
  log: (entry: Record<string, unknown>) => void;
  signal?: AbortSignal;
  onListening?: (address: { host: string; port: number }) => void;
}

function usage(message: string, hint: string): PromoteError {
  return new PromoteError('USAGE', message, { outcome: 'usage', hint });
}

export function parseAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*)\]?)?:(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw usage(`--metrics-address must be host:port or :port, not "${text}"`, 'e.g. --metrics-address 127.0.0.1:9090, or :9090 for every interface in a pod');
  return { host: m[1] || '0.0.0.0', port };
}

export async function runAgent(options: AgentOptions): Promise<AgentStatus | undefined> {
  const { openRegistry } = await import('../oci/open.ts');
  const { loadTrustPolicy, scopedPolicy } = await import('../signing/policy.ts');
  // A bad --metrics-address or --target is a usage error now, not after the registry and the cluster were reached.
  const listen = options.metricsAddress ? parseAddress(options.metricsAddress) : undefined;
  const { checkTargetSpec } = await import('./targets/open-target.ts');
  checkTargetSpec(options.target, options.targetOptions);
  // A policy that cannot be read stops the agent before it reaches anything: an agent that
  // silently enforced nothing would be worse than none.
  const policy = options.policy ? await (await import('../pipeline/policy-file.ts')).loadPolicyFile(resolve(options.cwd, options.policy)) : undefined;
  let repository = options.repository;
  let pipelineName = options.pipeline;
  let promotionTrust;
  let bundleTrust;
  /** Who may sign status reports, when the pipeline file says: the agent's key must be among them. */
  let reportTrust: { policy: Awaited<ReturnType<typeof loadTrustPolicy>>; list: string; file: string } | undefined;
  if (repository) {
    if (!pipelineName || pipelineName.includes('/') || /\.ya?ml$/.test(pipelineName)) {
      throw usage('--repository needs --pipeline <name>: records are checked to be for that pipeline', 'e.g. --pipeline webapp --repository registry.example.com/acme/webapp');
    }
    if (!options.promotionKeys?.length || !options.bundleKeys?.length) {
      throw usage('--repository needs --promotion-key and --bundle-key: nothing is applied without verifying it', 'pass the public keys of the promoter and of CI (both repeatable)');
    }
    // The repository goes into every signed status report: an `oci:` path relative to where the
    // agent happened to start would name nothing to whoever reads the report.
    const { parseReference, repositoryName, resolveLayout } = await import('../oci/reference.ts');
    repository = repositoryName(resolveLayout(parseReference(repository), options.cwd));
    promotionTrust = await loadTrustPolicy(options.promotionKeys, { baseDir: options.cwd });
    bundleTrust = await loadTrustPolicy(options.bundleKeys, { baseDir: options.cwd });
  } else {
    const { findPipelineFile, loadPipeline, projectRoot } = await import('../pipeline/load.ts');
    const file = await findPipelineFile(options.cwd, pipelineName);
    const pipeline = await loadPipeline(file);
    const stage = pipeline.stages.find((s) => s.name === options.stage);
    if (!stage) {
      throw usage(`pipeline ${pipeline.name} has no stage "${options.stage}"`, `its stages: ${pipeline.stages.map((s) => s.name).join(', ')}`);
    }
    // A stage may have its own repository (a production registry): its records live there.
    const { stageRepository } = await import('../pipeline/pipeline.ts');
    repository = stageRepository(pipeline, stage);
    pipelineName = pipeline.name;
    const baseDir = projectRoot(file);
    promotionTrust = await loadTrustPolicy(options.promotionKeys?.length ? options.promotionKeys : pipeline.trust.promotions, { baseDir });
    bundleTrust = await loadTrustPolicy(options.bundleKeys?.length ? options.bundleKeys : pipeline.trust.bundles, { baseDir });
    const agents = pipeline.trust.agents.length > 0;
    reportTrust = { policy: await loadTrustPolicy(agents ? pipeline.trust.agents : pipeline.trust.promotions, { baseDir }), list: agents ? 'trust.agents' : 'trust.promotions (the pipeline has no trust.agents)', file };
  }
  const owner: Owner = { pipeline: pipelineName!, stage: options.stage, cluster: options.cluster };
  const registry = await openRegistry(repository, { env: options.env, cwd: options.cwd, ...options.registry });
  const { openTarget } = await import('./targets/open-target.ts');
  const target = await openTarget(options.target, { cwd: options.cwd, ...(options.targetOptions && { options: options.targetOptions }) });
  try {
    const { promoteCacheRoot } = await import('../cache-root.ts');
    const root = promoteCacheRoot(options.env);
    const keyPath = options.key ?? options.env.PROMOTE_AGENT_KEY;
    let signer;
    if (keyPath) {
      const { loadSigner } = await import('../signing/signer.ts');
      signer = await loadSigner(resolve(options.cwd, keyPath), { env: options.env, interactive: options.interactive ?? false });
      // Reports no gate will count are noise that looks like health: refuse to start instead.
      if (reportTrust) {
        const { requireTrustedSigner, signerTrusted } = await import('../signing/trusted-signer.ts');
        // Only the entries bound to this stage and cluster: the gates refuse any other key's reports.
        const list = signerTrusted(signer, reportTrust.policy) ? `${reportTrust.list} for ${owner.stage}/${owner.cluster} (its entry binds it to other clusters or stages)` : reportTrust.list;
        requireTrustedSigner(signer, scopedPolicy(reportTrust.policy, owner), { list, signs: 'status reports', refusedBy: 'the converged and soak gates', pipelineFile: reportTrust.file, keyPath });
      }
    } else {
      options.log({ time: new Date().toISOString(), level: 'warn', msg: 'no --key (or PROMOTE_AGENT_KEY): status reports are not published, so converged and soak gates cannot see this cluster' });
    }
    const { agentParts } = await import('./agent-parts.ts');
    const { source, reporter } = agentParts({
      registry,
      repository,
      owner,
      promotionTrust,
      bundleTrust,
      ...(signer && { signer }),
      cacheDir: options.cacheDir ?? join(root, 'bundles'),
      stateDir: join(root, 'agent'),
      // Before the cache root existed the bundles (and the replay mark) were always here.
      legacyStateDirs: [join(options.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'promote', 'bundles')],
      renderer: { env: options.env },
      ...(policy && { policy }),
    });
    if (policy) options.log({ time: new Date().toISOString(), level: 'info', msg: `enforcing policy ${policy.name} (${policy.rules.length} rule${policy.rules.length === 1 ? '' : 's'}, ${options.policy}) before every apply` });
    const { Reconciler } = await import('./reconcile.ts');
    const reconciler = new Reconciler({
      owner,
      source,
      target,
      ...(reporter && { reporter }),
      selfHeal: options.selfHeal !== false,
      ...(options.healthTimeoutMs !== undefined && { healthTimeoutMs: options.healthTimeoutMs }),
      ...(options.signal && { signal: options.signal }),
    });
    const { runAgentLoop } = await import('./loop.ts');
    return await runAgentLoop({
      reconciler,
      owner,
      intervalMs: options.intervalMs ?? 30_000,
      ...(options.stallAfterMs !== undefined && { stallAfterMs: options.stallAfterMs }),
      ...(options.once && { once: true }),
      ...(listen && { listen }),
      log: options.log,
      ...(options.signal && { signal: options.signal }),
      ...(options.onListening && { onListening: options.onListening }),
    });
  } finally {
    await target.close?.();
  }
}
