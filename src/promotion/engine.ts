import { isPromoteError, PromoteError, type Outcome, type Problem } from '../errors.ts';
import { sha256Digest } from '../oci/digest.ts';
import { BUNDLE_CONFIG, OCI_MANIFEST, PROMOTION_RECORD } from '../oci/media-types.ts';
import { openRegistry, type RegistryOptions } from '../oci/open.ts';
import { formatReference, isValidDigest, parseReference, repositoryName, resolveLayout, sameRepository } from '../oci/reference.ts';
import type { Descriptor, ImageManifest, Registry } from '../oci/registry.ts';
import type { SerializedBundle } from '@sigstore/bundle';
import { type Approval, type StatusObservation } from '../pipeline/gate.ts';
import { findPipelineFile, loadPipeline, projectRoot, stageOrder } from '../pipeline/load.ts';
import { stageRepository, type Pipeline, type Stage } from '../pipeline/pipeline.ts';
import { assemblePlan, planOutcome, type CheckResult, type Plan, type PlanAction, type StageView } from '../pipeline/plan.ts';
import { approvalMutation, holdMutation, promotionMutation } from './changes.ts';
import { parseDigestInput, pickDigest } from './digest-input.ts';
import { GitLedger, type HistoryEntry } from './ledger.ts';
import { activeHold, canonicalJson, parametersDigest, RECORD_ACTIONS, recordDigest, type PromotionAction, type PromotionRecord, type StageState } from './record.ts';
import { readStatusReports } from './status-reports.ts';
import { findSignedRecord, publishStatement, readTaggedRecord, signRecord, verifiedStageRecord, type PublishedStatement, type VerifiedStageRecord } from './signed-record.ts';
import type { PipelineTrust, TrustPolicy } from '../signing/policy.ts';
import type { Signer } from '../signing/signer.ts';

// The promotion engine: plan → verify → gates → signed record → ledger → registry. Every check
// that can refuse happens before anything is written; the record is signed from verified facts
// only (signed-record.ts: never from ledger text) and committed with its statement; the ledger
// commit (compare-and-swap) is the point of no return, and a publish that failed after it is
// completed by running `promote to` again, which uploads the statement the ledger keeps.

export { RECORD_DIGEST_ANNOTATION } from './signed-record.ts';

export interface EngineOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Pipeline name (under pipelines/) or file; default: the project's only pipeline. */
  pipeline?: string;
  registry?: RegistryOptions;
  /** Path of the promoter's private key (default PROMOTE_KEY): signs promotion records. */
  key?: string;
  interactive?: boolean;
  now?: () => Date;
  /** Notices for humans (stderr). */
  log?: (message: string) => void;
  /** Where clones of remote ledgers live (default PROMOTE_CACHE_DIR or ~/.cache/promote). */
  cacheDir?: string;
  /** Replaces loading the promoter's key (tests). */
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

function requireStage(pipeline: Pipeline, name: string): Stage {
  const stage = pipeline.stages.find((s) => s.name === name);
  if (!stage) {
    throw new PromoteError('STAGE_UNKNOWN', `pipeline ${pipeline.name} has no stage "${name}"`, { outcome: 'usage', hint: `stages: ${pipeline.stages.map((s) => s.name).join(', ')}` });
  }
  return stage;
}

/**
 * A stage as the planner sees it: its current record only as far as a signature proves it
 * (`head`), its hold and approvals (approvals are verified by the engine, holds only ever refuse).
 * `history` holds the bundles this plan asked about that a signed record shows the stage ran.
 */
function stageView(project: Project, stage: Stage, state: StageState | undefined, head: VerifiedStageRecord | undefined, history: string[] = []): StageView {
  const hold = activeHold(project.pipeline, stage, state);
  return {
    ...(head && { current: head.record.bundle.digest, record: head.digest, parameters: parametersDigest(head.record) }),
    history,
    ...(hold && { hold }),
    approvals: state?.approvals ?? [],
  };
}

/** The stage's current record, proved (signed-record.ts), or the check that failed. */
async function verifiedHead(project: Project, stage: Stage, state: StageState | undefined): Promise<{ head?: VerifiedStageRecord; problem?: CheckResult }> {
  try {
    const registry = await project.registryFor(stageRepository(project.pipeline, stage));
    const head = await verifiedStageRecord(registry, (await project.trust()).promotions, project.pipeline.name, stage.name, state);
    return head ? { head } : {};
  } catch (err) {
    if (!isPromoteError(err, 'LEDGER_RECORD_UNVERIFIED')) throw err;
    return { problem: { passed: false, outcome: 'verification', code: err.code, summary: err.message, ...(err.hint && { hint: err.hint }) } };
  }
}

/** Whether a record signed by trust.promotions shows `stage` ran `digest` (its head, else the bundle's referrers). */
async function ranIn(project: Project, stage: Stage, head: VerifiedStageRecord | undefined, digest: string): Promise<boolean> {
  if (head?.record.bundle.digest === digest) return true;
  const registry = await project.registryFor(stageRepository(project.pipeline, stage));
  return (await findSignedRecord(registry, (await project.trust()).promotions, project.pipeline.name, stage.name, digest)) !== undefined;
}

/** The repository a stage's candidates come from: its `from` stage's, or its own for a first stage. */
export function sourceRepository(pipeline: Pipeline, stage: Stage): string {
  const upstream = stage.from ? pipeline.stages.find((s) => s.name === stage.from) : undefined;
  return stageRepository(pipeline, upstream ?? stage);
}

/** The bundle digests promote can see for `stages` in `registry`: their ledger, and the repository's tags. */
async function knownDigests(project: Project, registry: Registry, stages: Stage[]): Promise<string[]> {
  const out: string[] = [];
  for (const stage of stages) {
    const state = await project.ledger.read(project.pipeline.name, stage.name);
    if (state?.record) out.push(state.record.bundle.digest);
    for (const a of state?.approvals ?? []) out.push(a.bundle);
    for (const h of await project.ledger.history(project.pipeline.name, stage.name)) {
      out.push(...(h.trailers['Promoted-Bundle'] ?? []), ...(h.trailers['Approved-Bundle'] ?? []));
    }
  }
  const { isNotFound } = await import('../signing/cosign-signature.ts');
  const tags = await registry.listTags().catch((err: unknown) => (isNotFound(err) ? [] : Promise.reject(err)));
  // `sha256-<hex>[.sig|.att]` tags name the bundle they are about (signatures, the tag-schema
  // referrers index): free candidates. Every other tag that is not promote's own is resolved.
  const plain: string[] = [];
  for (const tag of tags) {
    const m = /^sha256-([0-9a-f]{64})(?:\.|$)/.exec(tag);
    if (m) out.push(`sha256:${m[1]}`);
    else if (!/^(promotion|status)-/.test(tag)) plain.push(tag);
  }
  const { forEachConcurrently } = await import('../oci/concurrency.ts');
  await forEachConcurrently(plain, 4, async (tag) => {
    const desc = await registry.resolve(tag);
    if (desc) out.push(desc.digest);
  });
  return out.filter(isValidDigest);
}

/**
 * A bundle the user named for `repository` (`--bundle`, `approve`, `rollback --to`): a digest, a
 * unique digest prefix of at least 12 hex digits (among the digests `stages` know and the
 * repository's tags), `repo@digest` or `repo:tag`. A relative `oci:` path is the caller's (their
 * working directory), as `promote push` printed it; spec.repository was resolved against the
 * pipeline's directory when it was loaded.
 */
async function resolveCandidate(project: Project, bundle: string, repository: string, stages: Stage[]): Promise<string> {
  const digest = parseDigestInput(bundle);
  if (digest) {
    if (digest.full) return `sha256:${digest.hex}`;
    const registry = await project.registryFor(repository);
    const searched = `the ledger of ${stages.map((s) => s.name).join(' and ')} and the tags of the repository`;
    return pickDigest(digest, await knownDigests(project, registry, stages), repository, searched);
  }
  const ref = resolveLayout(parseReference(bundle), project.options.cwd);
  if (!sameRepository(ref, repository, project.root)) {
    const shown = ref.transport === 'layout' && formatReference(ref) !== bundle ? `${bundle} (${repositoryName(ref)})` : bundle;
    throw new PromoteError('BUNDLE_OTHER_REPOSITORY', `${shown} is not in ${repository}, where this stage takes its bundles from`, {
      outcome: 'usage',
      hint: `promotion never re-uploads content on its own: copy it first (promote copy ${bundle} ${repository}), then promote it by digest`,
    });
  }
  if (ref.digest) return ref.digest;
  const desc = await (await project.registryFor(repository)).resolve(ref.tag ?? 'latest');
  if (!desc) throw new PromoteError('BUNDLE_NOT_FOUND', `${bundle} does not exist`, { outcome: 'usage', hint: 'push it first (promote push), or give the digest promote push printed' });
  return desc.digest;
}

/** The stage and the one it takes bundles from: whose ledger knows a candidate's digest. */
function withUpstream(pipeline: Pipeline, stage: Stage): Stage[] {
  const upstream = stage.from ? pipeline.stages.find((s) => s.name === stage.from) : undefined;
  return upstream ? [stage, upstream] : [stage];
}

async function environmentClusters(project: Project, environment: string): Promise<string[]> {
  const { loadEnvironment } = await import('../params/environment.ts');
  const env = await loadEnvironment(project.root, environment);
  return env.clusters.length ? env.clusters.map((c) => c.name) : [environment];
}

export interface BundleFacts {
  descriptor: Descriptor;
  parameters: CheckResult;
  values?: {
    environment: Record<string, unknown>;
    clusters: { name: string; parameters: Record<string, unknown> }[];
    /** The schema's secret pointers: diffs show what is there by reference name only. */
    secrets: string[];
  };
}

/**
 * Validates the stage's parameters against the schema in the bundle's *config* blob: the
 * manifest and a few KiB of config, never the content layer (promotion is O(1) in bundle size).
 */
export async function checkParameters(project: Project, registry: Registry, stage: Stage, digest: string): Promise<BundleFacts> {
  const fetched = await registry.fetchManifest(digest);
  const manifest = JSON.parse(fetched.bytes.toString('utf8')) as ImageManifest;
  const descriptor: Descriptor = { mediaType: fetched.descriptor.mediaType || manifest.mediaType || OCI_MANIFEST, digest, size: fetched.descriptor.size };
  if (manifest.config?.mediaType !== BUNDLE_CONFIG) {
    return { descriptor, parameters: { passed: false, outcome: 'verification', code: 'NOT_A_BUNDLE', summary: `${registry.name}@${digest} is not a promote bundle (config ${manifest.config?.mediaType ?? 'missing'})`, hint: 'promote bundles are built with promote build/push' } };
  }
  const [{ parseBundleConfig }, { parameterSchema }, { loadEnvironment }, { resolveParameters }] = await Promise.all([
    import('../bundle/config.ts'),
    import('../params/parameter-schema.ts'),
    import('../params/environment.ts'),
    import('../params/parameters.ts'),
  ]);
  const config = parseBundleConfig(await registry.fetchBlobBytes(manifest.config, 1024 * 1024), `${registry.name}@${digest} config`);
  const env = await loadEnvironment(project.root, stage.environment);
  let schema;
  try {
    schema = parameterSchema(config.parameterSchema, `${config.name}@${digest.slice(0, 19)} parameter schema`);
  } catch (err) {
    if (!(err instanceof PromoteError) || err.outcome !== 'verification') throw err;
    return { descriptor, parameters: { passed: false, outcome: 'verification', code: err.code, summary: err.message, ...(err.hint && { hint: err.hint }), problems: err.problems } };
  }
  // Each cluster's agent validates exactly its merged parameters (environment + its overrides),
  // so that is what is checked here, cluster by cluster: a required value set only per cluster is
  // fine, and an invalid override refuses the promotion instead of stalling one agent later.
  // An environment without clusters is one target with its own parameters.
  const targets: (string | undefined)[] = env.clusters.length ? env.clusters.map((c) => c.name) : [undefined];
  const clusters: { name: string; parameters: Record<string, unknown> }[] = [];
  const problems: Problem[] = [];
  const failed: string[] = [];
  let first: PromoteError | undefined;
  for (const cluster of targets) {
    try {
      const values = resolveParameters(env, schema, cluster).values;
      if (cluster !== undefined) clusters.push({ name: cluster, parameters: values });
    } catch (err) {
      if (!(err instanceof PromoteError) || err.code !== 'PARAMETERS_INVALID') throw err;
      first ??= err;
      if (cluster === undefined) {
        problems.push(...err.problems);
      } else {
        failed.push(cluster);
        problems.push(...err.problems.map((p) => ({ ...p, message: `cluster ${cluster}: ${p.message}` })));
      }
    }
  }
  if (first) {
    const scope = failed.length ? `cluster${failed.length === 1 ? '' : 's'} ${failed.join(', ')} of environment ${env.name}` : `environment ${env.name}`;
    const summary = `parameters of ${scope} (${env.file}) do not satisfy ${schema.source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`;
    return { descriptor, parameters: { passed: false, outcome: 'verification', code: first.code, summary, ...(first.hint && { hint: first.hint }), problems } };
  }
  // The record's environment-level values: the environment's own parameters when they are valid
  // by themselves; otherwise (a required value set only per cluster) the first cluster's, which
  // is what `plan` renders its preview with.
  let environment: Record<string, unknown>;
  try {
    environment = resolveParameters(env, schema).values;
  } catch (err) {
    if (!(err instanceof PromoteError) || err.code !== 'PARAMETERS_INVALID' || !clusters.length) throw err;
    environment = clusters[0]!.parameters;
  }
  return {
    descriptor,
    parameters: { passed: true, summary: `environment ${env.name} (${env.clusters.length || 1} cluster${env.clusters.length === 1 ? '' : 's'}) satisfies the parameter schema of ${config.name}`, evidence: { schemaDigest: schema.digest, environment: env.file } },
    values: { environment, clusters, secrets: schema.secrets },
  };
}

async function checkSignature(project: Project, registry: Registry, digest: string): Promise<CheckResult> {
  const { verifyBundle, describePolicy } = await import('../signing/policy.ts');
  const trust = await project.trust();
  // A digest that is not there has no signature either; saying so would send the user to sign it.
  if (!(await registry.resolve(digest))) {
    return { passed: false, outcome: 'usage', code: 'BUNDLE_NOT_FOUND', summary: `bundle ${digest} is not in ${registry.name}`, hint: 'check the digest (promote push prints it; promote history <stage> lists the ones promoted), or push or copy the bundle there first' };
  }
  try {
    const v = await verifyBundle(registry, digest, trust.bundles);
    const by = v.signatures.map((s) => (s.kind === 'cosign' ? `key ${s.key}` : s.signedBy.kind === 'key' ? `key ${s.signedBy.key}` : `${s.signedBy.subject}`));
    return { passed: true, summary: `signed by ${by.join(', ')}`, evidence: { signatures: by, policy: describePolicy(trust.bundles) } };
  } catch (err) {
    if (err instanceof PromoteError && (err.outcome === 'verification' || err.code === 'TRUST_EMPTY')) {
      return { passed: false, outcome: err.outcome === 'usage' ? 'usage' : 'verification', code: err.code, summary: `${registry.name}@${digest}: ${err.message}`, ...(err.hint && { hint: err.hint }) };
    }
    throw err;
  }
}

export interface PlanRequest {
  stage: string;
  bundle?: string;
  force?: { reason: string };
  action?: PlanAction;
  /** Skip signature and parameter checks (the planner still reports gates). */
  skipVerification?: boolean;
  /** Fingerprint of the promoter's signing key, when loaded (separateDuties compares approvals with it). */
  promoterKey?: string;
}

export interface DetailedPlan extends Plan {
  /** Internal facts `to` needs; not printed. */
  facts?: BundleFacts;
  state?: StageState;
  /** The stage's current record as a signature proves it. */
  head?: VerifiedStageRecord;
  promoter: string;
  /** Where the candidate was verified (and is copied from when the stage has its own repository). */
  sourceRepository: string;
}

/** Gathers every fact and returns the pure planner's verdict. Writes nothing. */
export async function planStage(project: Project, request: PlanRequest): Promise<DetailedPlan> {
  const { pipeline, ledger } = project;
  const stage = requireStage(pipeline, request.stage);
  await ledger.refresh();
  // `plan` works without a git identity (a CI check); `to` refuses before writing (ledger.update).
  const promoter = await ledger.identity().then(
    (i) => i.text,
    (err: unknown) => (isPromoteError(err, 'GIT_IDENTITY_MISSING') ? '(no git identity)' : Promise.reject(err)),
  );
  const state = await ledger.read(pipeline.name, stage.name);
  const action = request.action ?? 'promote';
  // A rollback's digest is one the stage ran: it is in the stage's own repository already.
  const source = action === 'rollback' ? stageRepository(pipeline, stage) : sourceRepository(pipeline, stage);
  const sourceRegistry = await project.registryFor(source);
  const explicit = request.bundle ? await resolveCandidate(project, request.bundle, source, action === 'rollback' ? [stage] : withUpstream(pipeline, stage)) : undefined;
  // The ledger is an index: what the stage runs, what upstream runs, what a stage ever ran are
  // taken from signed records (signed-record.ts), never from the stage files' text.
  const own = await verifiedHead(project, stage, state);
  const ledgerChecks: CheckResult[] = own.problem ? [own.problem] : [];
  const views: Record<string, StageView> = {
    [stage.name]: stageView(project, stage, state, own.head, action === 'rollback' && explicit && (await ranIn(project, stage, own.head, explicit)) ? [explicit] : []),
  };
  const upstream = stage.from ? requireStage(pipeline, stage.from) : undefined;
  if (upstream) {
    const up = await verifiedHead(project, upstream, await ledger.read(pipeline.name, upstream.name));
    if (up.problem && !explicit) ledgerChecks.push(up.problem);
    views[upstream.name] = stageView(project, upstream, undefined, up.head, explicit && action !== 'rollback' && (await ranIn(project, upstream, up.head, explicit)) ? [explicit] : []);
  }
  // The planner picks the default candidate itself (what `from` runs; for a first stage, what it
  // runs itself); it is looked up here only to verify it.
  const candidate = explicit ?? (action !== 'rollback' ? views[upstream?.name ?? stage.name]!.current : undefined);
  // The bundle the stage already runs: the planner judges no upstream gate on it (nothing new
  // comes from upstream), so its status reports are not read.
  const sameBundle = candidate !== undefined && candidate === own.head?.record.bundle.digest;

  let reports: StatusObservation[] = [];
  let fromClusters: string[] = [];
  if (upstream && candidate && !sameBundle && stage.gates.some((g) => g.type === 'converged' || g.type === 'soak')) {
    fromClusters = await environmentClusters(project, upstream.environment);
    const [{ ReportMarks }, { promoteCacheRoot }, { join }] = await Promise.all([import('./report-marks.ts'), import('../cache-root.ts'), import('node:path')]);
    const marks = new ReportMarks(join(promoteCacheRoot(project.options.env), 'gates'));
    reports = await readStatusReports(await project.registryFor(stageRepository(pipeline, upstream)), upstream.name, fromClusters, await project.agentTrust(), pipeline.name, { marks });
  }
  let signature: CheckResult | undefined;
  let facts: BundleFacts | undefined;
  if (candidate && !request.skipVerification) {
    signature = await checkSignature(project, sourceRegistry, candidate);
    // A bundle that is not signed by a trusted key is not even read further.
    if (signature.passed) facts = await checkParameters(project, sourceRegistry, stage, candidate);
  } else if (candidate && sameBundle) {
    // A pre-check (promote run) still needs the other half of the desired state to tell a
    // configuration change from "up to date"; `to` verifies everything again before signing.
    facts = await checkParameters(project, sourceRegistry, stage, candidate);
  }
  // The ledger's approvals are claims until their signatures verify against trust.approvers.
  const trust = await project.trust();
  const { approvalsSigned, checkApprovals } = await import('./approvals.ts');
  const signedApprovals = approvalsSigned(trust.approvers);
  views[stage.name]!.approvals = checkApprovals(views[stage.name]!.approvals, trust.approvers, pipeline.trust.approvers);
  const values = facts?.values;
  const plan = assemblePlan({
    pipeline,
    stage: stage.name,
    action,
    ledger: views,
    ...(explicit && { candidate: explicit }),
    reports,
    fromClusters,
    promoter,
    now: (project.options.now ?? (() => new Date()))(),
    ...(request.force && { force: request.force }),
    ...(signature && { signature }),
    ...(facts && { parameters: facts.parameters }),
    ...(values && { candidateParameters: parametersDigest({ parameters: values.environment, clusters: values.clusters }) }),
    ...(request.promoterKey && { promoterKey: request.promoterKey }),
    approvalsSigned: signedApprovals,
    ledgerChecks,
  });
  return { ...plan, promoter, sourceRepository: source, ...(facts && { facts }), ...(state && { state }), ...(own.head && { head: own.head }) };
}

/** The refusal of a plan that may not proceed: every blocker in one message, exit 2/3/4. */
export function refusal(plan: Plan): PromoteError {
  const outcome: Outcome = planOutcome(plan) ?? 'refused';
  const first = plan.blockers.find((b) => b.outcome === outcome) ?? plan.blockers[0]!;
  const problems: Problem[] = plan.blockers.flatMap((b) => (b.problems?.length ? b.problems : []));
  const message = plan.blockers.length === 1 ? first.message : `${plan.stage}: ${plan.blockers.length} reasons: ${plan.blockers.map((b) => b.message).join('; ')}`;
  return new PromoteError(first.code, message, {
    outcome,
    ...(first.hint && { hint: first.hint }),
    ...(problems.length && { problems }),
    details: { plan: printablePlan(plan) },
  });
}

export function printablePlan(plan: Plan): Plan {
  const { facts: _f, state: _s, head: _h, promoter: _p, sourceRepository: _r, ...rest } = plan as DetailedPlan;
  return rest;
}

export interface PromoteResult {
  pipeline: string;
  stage: string;
  bundle: string;
  from?: string;
  action: PromotionAction | 'none';
  /** Digest of the promotion record (ledger and registry agree on it). */
  record?: string;
  /** Ledger commit. */
  commit?: string;
  /** The published artefact (promotion-<stage>). */
  published?: { tag: string; digest: string };
  /** True when this run only finished publishing a record an earlier run committed. */
  completed?: boolean;
  /** A newer record of the stage reached promotion-<stage> first (a concurrent promotion): ours is in the ledger and attached to its bundle, the tag holds the newer one. */
  superseded?: { record: string; sequence: number };
  upToDate?: boolean;
  gates: Plan['gates'];
  ledgerAttempts?: number;
  /** parametersDigest() of the record: with `bundle`, the stage's desired state. */
  parameters?: string;
  /** JSON pointers whose value changed against the record before (as in the ledger's trailers). */
  parametersChanged?: string[];
}

const promoterSigners = new WeakMap<Project, Promise<Signer>>();

/** The promoter's key, refused (exit 4) unless trust.promotions holds it: checked before anything is written. */
function loadPromoterSigner(project: Project): Promise<Signer> {
  // Loaded once per project: `promote run` promotes several stages with one key (one password prompt).
  let signer = promoterSigners.get(project);
  if (!signer) {
    signer = loadTrustedPromoterSigner(project);
    promoterSigners.set(project, signer);
    signer.catch(() => promoterSigners.delete(project));
  }
  return signer;
}

async function loadTrustedPromoterSigner(project: Project): Promise<Signer> {
  const key = project.options.key ?? project.options.env.PROMOTE_KEY;
  let signer = project.options.signer;
  if (!signer) {
    if (!key) {
      throw new PromoteError('PROMOTER_KEY_MISSING', 'promotion records are signed, and no promoter key was given', {
        outcome: 'usage',
        hint: 'pass --key <private key> or set PROMOTE_KEY (promote keygen promoter creates one; its .pub belongs in trust.promotions)',
      });
    }
    signer = await loadKey(project, key);
  }
  const { requireTrustedSigner } = await import('../signing/trusted-signer.ts');
  requireTrustedSigner(signer, (await project.trust()).promotions, { list: 'trust.promotions', signs: 'promotion records', refusedBy: 'every agent', pipelineFile: project.pipeline.file, ...(!project.options.signer && key && { keyPath: key }) });
  return signer;
}

async function loadKey(project: Project, key: string): Promise<Signer> {
  const { resolve } = await import('node:path');
  const { loadSigner } = await import('../signing/signer.ts');
  return loadSigner(resolve(project.options.cwd, key), { env: project.options.env, interactive: project.options.interactive ?? false });
}

/** Whether a promoter key is configured at all (`promote run` checks it once, up front, when it is). */
function promoterKeyGiven(project: Project): boolean {
  return !!(project.options.signer ?? project.options.key ?? project.options.env.PROMOTE_KEY);
}

async function signerFingerprint(signer: Signer): Promise<string> {
  const { keyFingerprint } = await import('../signing/trusted-signer.ts');
  return keyFingerprint(signer.publicKeyPem);
}

/**
 * Puts the record where the stage's agents read it: in the stage's repository. When that is not
 * where the bundle came from (a separate production registry), the bundle is copied there first
 * with its signatures (blobs mounted where the registry allows): idempotent, so a re-run that
 * completes a failed publish simply finds it there. What is uploaded is the statement signed
 * before the ledger commit; nothing is signed here.
 */
async function publish(project: Project, sourceRepo: string, record: PromotionRecord, statement: SerializedBundle): Promise<PublishedStatement> {
  const registry = await project.registryFor(record.bundle.repository);
  try {
    if (!sameRepository(record.bundle.repository, sourceRepo, project.root) && !(await registry.resolve(record.bundle.digest))) {
      const { copyArtifact } = await import('../oci/copy.ts');
      const from = parseReference(sourceRepo);
      const to = parseReference(record.bundle.repository);
      const mountFrom = from.transport === 'registry' && to.transport === 'registry' && from.registry === to.registry ? from.repository : undefined;
      await copyArtifact(await project.registryFor(sourceRepo), registry, record.bundle.digest, undefined, mountFrom);
    }
    const subject = await subjectDescriptor(registry, record.bundle.digest);
    return await publishStatement(registry, (await project.trust()).promotions, subject, record, statement);
  } catch (err) {
    const digest = recordDigest(record);
    throw new PromoteError('RECORD_PUBLISH_FAILED', `the promotion of ${record.bundle.digest} to ${record.stage} is recorded in the ledger, but publishing its signed record failed: ${(err as Error).message}`, {
      cause: err,
      hint: `run the same promote command again: it finds the ledger record (${digest.slice(0, 19)}…) and only publishes it`,
      details: { record: digest },
    });
  }
}

/**
 * After a publish: `promotion-<stage>` must not be behind the ledger's head. Two promotions can
 * race to the tag (the registry has no conditional tag update), and the older one can land last;
 * whoever finishes re-reads the ledger and republishes its head's signed statement. Bounded:
 * each further round needs yet another promotion to have landed meanwhile.
 */
async function settleTag(project: Project, stage: Stage): Promise<PublishedStatement | undefined> {
  const { pipeline, ledger } = project;
  const registry = await project.registryFor(stageRepository(pipeline, stage));
  const trust = (await project.trust()).promotions;
  let last: PublishedStatement | undefined;
  for (let round = 0; round < 5; round++) {
    await ledger.refresh();
    const state = await ledger.read(pipeline.name, stage.name);
    // A head that does not verify is never published (status and history --verify show it).
    const head = await verifiedStageRecord(registry, trust, pipeline.name, stage.name, state).catch((err: unknown) => (isPromoteError(err, 'LEDGER_RECORD_UNVERIFIED') ? undefined : Promise.reject(err)));
    if (!head?.statement) return last;
    const tagged = await readTaggedRecord(registry, trust, pipeline.name, stage.name);
    if (tagged?.record === head.digest || (tagged?.sequence ?? -1) >= head.record.sequence) return last;
    last = await publish(project, sourceRepository(pipeline, stage), head.record, head.statement);
  }
  return last;
}

export interface ToRequest {
  stage: string;
  bundle?: string;
  force?: { reason: string };
  action?: 'promote' | 'rollback' | 'auto';
}

/** `promote to`: every check, then the signed record into the ledger, then into the registry. */
export async function promoteTo(project: Project, request: ToRequest): Promise<PromoteResult> {
  const { pipeline, ledger } = project;
  // The key first: an untrusted key is refused before anything is written, and separateDuties
  // compares approvals with it.
  const signer = await loadPromoterSigner(project);
  const plan = await planStage(project, { stage: request.stage, ...(request.bundle && { bundle: request.bundle }), ...(request.force && { force: request.force }), action: request.action ?? 'promote', promoterKey: await signerFingerprint(signer) });
  const head = plan.head;
  const stage = requireStage(pipeline, plan.stage);

  // Already there: finish an interrupted publish with the statement the ledger keeps (signed
  // before its commit, verified by planStage). Nothing is signed on this path.
  if (plan.upToDate && head && plan.action !== 'rollback') {
    const registry = await project.registryFor(head.record.bundle.repository);
    const tagged = await readTaggedRecord(registry, (await project.trust()).promotions, pipeline.name, plan.stage);
    const base = { pipeline: pipeline.name, stage: plan.stage, bundle: head.record.bundle.digest, ...(head.record.from && { from: head.record.from }), record: head.digest, gates: head.record.gates };
    if (tagged?.record === head.digest) {
      return { ...base, action: 'none', upToDate: true, published: { tag: `promotion-${plan.stage}`, digest: tagged.manifest } };
    }
    if (plan.signature && !plan.signature.passed) throw refusal({ ...plan, blockers: plan.blockers.filter((b) => b.outcome === 'verification' || b.outcome === 'usage') });
    if (!head.statement) {
      throw new PromoteError('RECORD_STATEMENT_MISSING', `the ledger's record of ${plan.stage} (${head.digest.slice(0, 19)}…) was written before the ledger kept signed statements, and ${registry.name}:promotion-${plan.stage} does not hold it`, {
        outcome: 'verification',
        hint: `its signed copy is attached to ${head.record.bundle.digest.slice(0, 19)}…; promote the stage again (another bundle, or a rollback) to publish a new record`,
      });
    }
    const done = await publish(project, plan.sourceRepository, head.record, head.statement);
    const settled = await settleTag(project, stage);
    return { ...base, action: head.record.action, completed: true, published: settled ?? done, ...(done.superseded && { superseded: done.superseded }) };
  }
  if (!plan.allowed) throw refusal(plan);
  const facts = plan.facts!;
  const action: PromotionAction = plan.action === 'rollback' ? 'rollback' : plan.change === 'configuration' ? 'configure' : plan.action === 'auto' ? 'auto' : 'promotion';
  const record: PromotionRecord = {
    apiVersion: 'promote/v1',
    kind: 'PromotionRecord',
    pipeline: pipeline.name,
    stage: stage.name,
    environment: stage.environment,
    action,
    bundle: { repository: stageRepository(pipeline, stage), digest: plan.candidate! },
    ...(stage.from && { from: stage.from }),
    parameters: facts.values!.environment,
    clusters: facts.values!.clusters,
    promotedBy: plan.promoter,
    promotedAt: (project.options.now ?? (() => new Date()))().toISOString(),
    gates: plan.gates,
    ...(plan.force && { force: plan.force }),
    // The chain continues from the record a signature proves, never from the stage file's text.
    ...(head && { previous: head.digest }),
    sequence: (head?.record.sequence ?? 0) + 1,
  };
  const digest = recordDigest(record);
  const link = { repository: ledger.remote ?? pipeline.ledger.repository, branch: ledger.branchName };
  let statement: SerializedBundle | undefined;
  const committed = await ledger.update(
    pipeline.name,
    stage.name,
    promotionMutation(record, (parent) => signRecord(record, { ...link, ...(parent && { parent }) }, signer), (s) => (statement = s)),
  );
  const done = await publish(project, plan.sourceRepository, record, statement!);
  const settled = await settleTag(project, stage);
  const { changedParameters, describeChange } = await import('./parameter-diff.ts');
  const changed = head ? changedParameters(head.record, record).map(describeChange) : [];
  return {
    pipeline: pipeline.name,
    stage: stage.name,
    bundle: record.bundle.digest,
    ...(record.from && { from: record.from }),
    action,
    record: digest,
    ...(committed && { commit: committed.commit, ledgerAttempts: committed.attempts }),
    published: settled ?? done,
    ...(done.superseded && { superseded: done.superseded }),
    gates: plan.gates,
    parameters: parametersDigest(record),
    ...(changed.length && { parametersChanged: changed }),
  };
}

async function subjectDescriptor(registry: Registry, digest: string): Promise<Descriptor> {
  const desc = await registry.resolve(digest);
  if (!desc) throw new PromoteError('BUNDLE_NOT_FOUND', `${registry.name}@${digest} is gone from the registry`, { hint: 'the bundle was deleted; push it again (same digest) before publishing its record' });
  return { mediaType: desc.mediaType, digest, size: desc.size };
}

export interface ApproveResult {
  pipeline: string;
  stage: string;
  bundle: string;
  by: string;
  at: string;
  commit?: string;
  alreadyApproved: boolean;
  /** False for a pipeline without trust.approvers: the approval is an unauthenticated git commit. */
  signed: boolean;
  /** Fingerprint of the approver's key (signed approvals). */
  key?: string;
  /** Who the approval counts as: the trust.approvers entry its signature verified against (signed approvals). */
  approver?: string;
  /** The parameters digest the signed approval binds. */
  parameters?: string;
  /** The approval statement attached to the bundle in the registry (signed approvals). */
  attached?: { repository: string; digest: string };
}

/**
 * `promote approve`. With trust.approvers: verifies the bundle and its parameters for the stage,
 * signs an approval statement (signing/approval.ts) with the approver's key — refused, exit 4,
 * before anything is written unless trust.approvers holds it — commits it to the ledger and
 * attaches it to the bundle. Without trust.approvers: an unsigned approval (a git commit).
 */
export async function approve(project: Project, stageName: string, bundle: string, comment?: string): Promise<ApproveResult> {
  const { pipeline, ledger } = project;
  const stage = requireStage(pipeline, stageName);
  const sourceRepo = sourceRepository(pipeline, stage);
  const source = await project.registryFor(sourceRepo);
  const digest = await resolveCandidate(project, bundle, sourceRepo, withUpstream(pipeline, stage));
  const subject = await source.resolve(digest);
  if (!subject) {
    throw new PromoteError('BUNDLE_NOT_FOUND', `${source.name}@${digest} does not exist: there is nothing to approve`, { outcome: 'usage', hint: 'approve the digest promote plan shows as the candidate' });
  }
  const trust = await project.trust();
  const [{ approvalsSigned, approverKeyMissing, checkApprovals, signedApprovalMutation }, { requireTrustedSigner, keyFingerprint }] = await Promise.all([import('./approvals.ts'), import('../signing/trusted-signer.ts')]);
  const signed = approvalsSigned(trust.approvers);
  const keyPath = project.options.key ?? project.options.env.PROMOTE_APPROVER_KEY;
  let signer = project.options.approverSigner;
  if (!signer && keyPath) signer = await loadKey(project, keyPath);
  const role = { list: 'trust.approvers', signs: 'approvals', refusedBy: 'the approval gate', pipelineFile: pipeline.file, ...(!project.options.approverSigner && keyPath && { keyPath }) };
  if (signer) requireTrustedSigner(signer, trust.approvers, role);
  else if (signed) throw approverKeyMissing(pipeline.file);
  const who = await ledger.identity();
  const at = (project.options.now ?? (() => new Date()))().toISOString();
  const base = { pipeline: pipeline.name, stage: stage.name, bundle: digest, by: who.text, at };
  if (!signed) {
    const approval: Approval = { bundle: digest, by: who.text, at, ...(comment && { comment }) };
    const result = await ledger.update(pipeline.name, stage.name, approvalMutation(pipeline.name, stage.name, approval));
    return { ...base, ...(result && { commit: result.commit }), alreadyApproved: !result, signed: false };
  }
  // An approval is signed only for what verifies: the bundle's signature, and the parameters the
  // stage would be promoted with, whose digest it binds.
  await ledger.refresh();
  const signature = await checkSignature(project, source, digest);
  if (!signature.passed) throw new PromoteError(signature.code ?? 'BUNDLE_NOT_VERIFIED', signature.summary, { outcome: signature.outcome ?? 'verification', ...(signature.hint && { hint: signature.hint }) });
  const facts = await checkParameters(project, source, stage, digest);
  if (!facts.parameters.passed || !facts.values) {
    const p = facts.parameters;
    throw new PromoteError(p.code ?? 'PARAMETERS_INVALID', p.summary, { outcome: p.outcome ?? 'verification', ...(p.hint && { hint: p.hint }), ...(p.problems && { problems: p.problems }) });
  }
  const parameters = parametersDigest({ parameters: facts.values.environment, clusters: facts.values.clusters });
  const { signApproval, APPROVAL_PREDICATE_TYPE } = await import('../signing/approval.ts');
  const statement = await signApproval({
    pipeline: pipeline.name,
    stage: stage.name,
    bundle: { repository: stageRepository(pipeline, stage), digest },
    parameters: { digest: parameters },
    approver: { name: who.name, email: who.email },
    approvedAt: at,
    ...(comment && { comment }),
  }, signer!);
  const fingerprint = keyFingerprint(signer!.publicKeyPem);
  const [approval] = checkApprovals([{ bundle: digest, by: who.text, at, ...(comment && { comment }), parameters, signer: fingerprint, statement }], trust.approvers, pipeline.trust.approvers);
  let kept: Approval = approval!;
  const result = await ledger.update(pipeline.name, stage.name, signedApprovalMutation(pipeline.name, stage.name, approval!, trust.approvers, pipeline.trust.approvers, (a) => (kept = a)));
  // The registry's copy is attached after the ledger commit (the ledger copy is the one the gate
  // counts); attaching the kept statement with its own time is idempotent, so a re-run repairs it.
  try {
    const { attachBundle } = await import('../signing/attestation.ts');
    const { APPROVAL } = await import('../oci/media-types.ts');
    // Canonical key order: the ledger stores it so, and the same bytes make the same artefact.
    const statementJson = JSON.parse(canonicalJson(kept.statement)) as Parameters<typeof attachBundle>[2];
    const attached = await attachBundle(source, { mediaType: subject.mediaType, digest, size: subject.size }, statementJson, APPROVAL_PREDICATE_TYPE, {
      artifactType: APPROVAL,
      now: new Date(kept.at),
      annotations: { 'dev.promote.approval.pipeline': pipeline.name, 'dev.promote.approval.stage': stage.name },
    });
    const approver = approval!.check?.verified ? approval!.check.approver : undefined;
    return { ...base, by: kept.by, at: kept.at, ...(result && { commit: result.commit }), alreadyApproved: !result, signed: true, key: fingerprint, ...(approver && { approver }), parameters, attached: { repository: sourceRepo, digest: attached.descriptor.digest } };
  } catch (err) {
    throw new PromoteError('APPROVAL_PUBLISH_FAILED', `the approval of ${digest} for ${stage.name} is in the ledger (and counts), but attaching its signed statement to the bundle in ${source.name} failed: ${(err as Error).message}`, {
      cause: err,
      hint: 'run the same promote approve again: it finds the approval in the ledger and only attaches it',
    });
  }
}

export interface HoldResult {
  pipeline: string;
  stage: string;
  held: boolean;
  by: string;
  at: string;
  reason?: string;
  commit?: string;
}

export async function setHold(project: Project, stageName: string, held: boolean, reason?: string): Promise<HoldResult> {
  const stage = requireStage(project.pipeline, stageName);
  const who = (await project.ledger.identity()).text;
  const at = (project.options.now ?? (() => new Date()))().toISOString();
  const result = await project.ledger.update(project.pipeline.name, stage.name, holdMutation(project.pipeline.name, stage.name, held, who, at, reason));
  return { pipeline: project.pipeline.name, stage: stage.name, held, by: who, at, ...(reason && { reason }), ...(result && { commit: result.commit }) };
}

export interface HistoryItem {
  commit: string;
  action: string;
  bundle?: string;
  from?: string;
  by: string;
  at: string;
  subject: string;
  record?: string;
  gates: string[];
  reason?: string;
  /** JSON pointers whose value changed against the record before (`Parameters-Changed:`). */
  parametersChanged?: string[];
}

export function historyItem(h: HistoryEntry): HistoryItem {
  const t = h.trailers;
  const bundle = t['Promoted-Bundle']?.[0] ?? t['Approved-Bundle']?.[0];
  const from = t['Promoted-From']?.[0];
  const reason = t['Forced-Reason']?.[0] ?? t['Hold-Reason']?.[0];
  return {
    commit: h.commit,
    action: h.action,
    ...(bundle && { bundle }),
    ...(from && from !== '(none)' && { from }),
    by: h.author,
    at: h.date,
    subject: h.subject,
    ...(t['Promotion-Record']?.[0] && { record: t['Promotion-Record'][0] }),
    gates: t['Gate-Evidence'] ?? [],
    ...(reason && { reason }),
    ...(t['Parameters-Changed']?.length && { parametersChanged: t['Parameters-Changed'] }),
  };
}

export async function history(project: Project, stageName: string, limit?: number): Promise<HistoryItem[]> {
  const stage = requireStage(project.pipeline, stageName);
  await project.ledger.refresh();
  return (await project.ledger.history(project.pipeline.name, stage.name, limit)).map(historyItem);
}

export interface RollbackRequest {
  stage: string;
  to?: string;
  steps?: number;
  force?: { reason: string };
}

/** A new promotion of an earlier record of the same stage, through the same gates. */
export async function rollback(project: Project, request: RollbackRequest): Promise<PromoteResult> {
  const stage = requireStage(project.pipeline, request.stage);
  await project.ledger.refresh();
  const entries = (await project.ledger.history(project.pipeline.name, stage.name))
    .filter((h) => RECORD_ACTIONS.includes(h.action))
    .map((h) => h.trailers['Promoted-Bundle']?.[0])
    .filter((d): d is string => !!d);
  let target = request.to ? await resolveCandidate(project, request.to, stageRepository(project.pipeline, stage), [stage]) : undefined;
  if (target && !entries.includes(target)) {
    throw new PromoteError('ROLLBACK_TARGET_UNKNOWN', `${target} was never promoted to ${stage.name}: a rollback returns to an earlier record of the same stage`, {
      outcome: 'refused',
      hint: `promote history ${stage.name} lists the digests it ran; to bring a new bundle, use promote to`,
    });
  }
  if (!target) {
    // Distinct bundles, newest first: `--steps 1` is the bundle before the current one.
    const distinct = entries.filter((d, i) => i === 0 || d !== entries[i - 1]);
    const steps = request.steps ?? 1;
    if (!Number.isInteger(steps) || steps < 1) throw new PromoteError('USAGE', '--steps must be a whole number of at least 1', { outcome: 'usage', hint: 'e.g. --steps 1 for the bundle before the current one' });
    target = distinct[steps];
    if (!target) {
      throw new PromoteError('ROLLBACK_TARGET_UNKNOWN', `stage ${stage.name} has ${Math.max(0, distinct.length - 1)} earlier bundle${distinct.length === 2 ? '' : 's'}; cannot go back ${steps}`, { outcome: 'refused', hint: `promote history ${stage.name} lists them; or --to <digest>` });
    }
  }
  return promoteTo(project, { stage: stage.name, bundle: target, ...(request.force && { force: request.force }), action: 'rollback' });
}

export interface RunStageOutcome {
  stage: string;
  /** `configured`: a configuration change (same bundle, new parameters) was promoted. */
  result: 'promoted' | 'configured' | 'up-to-date' | 'waiting' | 'held' | 'nothing' | 'refused' | 'error';
  bundle?: string;
  message?: string;
  record?: string;
}

/** The newest signed-able bundle in the repository: tags that are not promote's own, newest `created`. */
async function newestBundle(project: Project, stage: Stage): Promise<string | undefined> {
  const registry = await project.registryFor(stageRepository(project.pipeline, stage));
  const reserved = /^(sha256-|promotion-|status-)/;
  const tags = (await registry.listTags()).filter((t) => !reserved.test(t));
  let best: { digest: string; created: string } | undefined;
  for (const tag of tags) {
    // A tag deleted since the listing is skipped; a registry failing to answer is not "no bundle":
    // skipping it would promote an older one.
    const { isNotFound } = await import('../signing/cosign-signature.ts');
    const fetched = await registry.fetchManifest(tag).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!fetched) continue;
    const m = JSON.parse(fetched.bytes.toString('utf8')) as ImageManifest;
    if (m.config?.mediaType !== BUNDLE_CONFIG) continue;
    const created = m.annotations?.['org.opencontainers.image.created'] ?? '';
    if (!best || created > best.created) best = { digest: fetched.descriptor.digest, created };
  }
  return best?.digest;
}

/** One pass of `promote run`: every `promotion: auto` stage, upstream first. Never forces. */
export async function runOnce(project: Project): Promise<RunStageOutcome[]> {
  // A configured key that trust.promotions lacks would be refused at every stage: say so once, exit 4.
  if (promoterKeyGiven(project)) await loadPromoterSigner(project);
  const out: RunStageOutcome[] = [];
  for (const stage of stageOrder(project.pipeline)) {
    if (stage.promotion !== 'auto') continue;
    try {
      let bundle: string | undefined;
      if (!stage.from) {
        bundle = await newestBundle(project, stage);
        if (!bundle) {
          out.push({ stage: stage.name, result: 'nothing', message: 'no bundle in the repository yet' });
          continue;
        }
      }
      const plan = await planStage(project, { stage: stage.name, action: 'auto', ...(bundle && { bundle }), skipVerification: true });
      if (plan.blockers.some((b) => b.code === 'STAGE_HELD')) {
        out.push({ stage: stage.name, result: 'held', message: plan.blockers.find((b) => b.code === 'STAGE_HELD')!.message });
        continue;
      }
      if (!plan.candidate) {
        out.push({ stage: stage.name, result: 'nothing', message: plan.blockers[0]?.message ?? 'nothing to promote' });
        continue;
      }
      if (plan.upToDate) {
        out.push({ stage: stage.name, result: 'up-to-date', bundle: plan.candidate });
        continue;
      }
      if (!plan.allowed) {
        out.push({ stage: stage.name, result: 'waiting', bundle: plan.candidate, message: plan.blockers.map((b) => b.message).join('; ') });
        continue;
      }
      const r = await promoteTo(project, { stage: stage.name, action: 'auto', ...(bundle && { bundle }) });
      out.push({ stage: stage.name, result: r.action === 'configure' ? 'configured' : 'promoted', bundle: r.bundle, ...(r.record && { record: r.record }) });
    } catch (err) {
      if (err instanceof PromoteError && (err.outcome === 'refused' || err.outcome === 'verification')) {
        out.push({ stage: stage.name, result: 'refused', message: err.message });
      } else {
        out.push({ stage: stage.name, result: 'error', message: err instanceof Error ? err.message : String(err) });
      }
    }
  }
  return out;
}

/** `promote run`: passes every `intervalMs` until `signal` aborts. */
export async function runLoop(project: Project, intervalMs: number, signal: AbortSignal, onPass: (outcomes: RunStageOutcome[]) => void): Promise<void> {
  while (!signal.aborted) {
    onPass(await runOnce(project));
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, intervalMs);
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  }
}
