import { isPromoteError, PromoteError } from '../errors.ts';
import { memoiseFacts, type GateFacts } from '../pipeline/gate.ts';
import { stageRepository, type Stage } from '../pipeline/pipeline.ts';
import type { CheckResult, PlanAction, StageView } from '../pipeline/plan.ts';
import { releasesWave } from '../pipeline/wave-plan.ts';
import { checkParameters, checkSignature, type BundleFacts } from './bundle-checks.ts';
import { resolveCandidate, sourceRepository, withUpstream } from './candidate.ts';
import { clusterValues, parametersDigest, renderedWithDigest } from '../records/promotion-record.ts';
import { activeHold, type StageState } from './stage-file.ts';
import { findSignedRecord, verifiedStageRecord, type VerifiedStageRecord } from './signed-record.ts';
import { readStatusReports } from '../records/status-report.ts';
import type { Project, StageLookup } from './project.ts';

// Fact gathering: everything the gates and the record need, read from the ledger, the registry
// and the project's files, in one place. The pure planner (pipeline/plan.ts) then decides from
// these facts alone; what only gates need (status reports, approvals) is read when a gate asks.
// The ledger is an index: what a stage runs, what upstream runs and what a stage ever ran are
// taken from signed records (signed-record.ts), never from the stage files' text.

export interface FactsRequest {
  action: PlanAction;
  /** The bundle the user named (`--bundle`, a rollback target). */
  bundle?: string;
}

export interface Facts {
  /** Who would promote: the git identity (a placeholder without one: `plan` works without it). */
  promoter: string;
  /** The stage's ledger file. */
  state?: StageState;
  /** The stage's current record as a signature proves it. */
  head?: VerifiedStageRecord;
  /** Where the candidate is verified (and copied from when the stage has its own repository). */
  sourceRepository: string;
  /** The candidate the user named, resolved to a digest. */
  explicit?: string;
  /** The planner's view of the stage and of its upstream stage. */
  views: Record<string, StageView>;
  /** Ledger records that failed their signature check. */
  ledgerChecks: CheckResult[];
  /** What the gates may ask for, read when the first gate asks (each once per plan). */
  gates: GateFacts;
  signature?: CheckResult;
  bundle?: BundleFacts;
}

export async function gatherFacts(project: Project, target: StageLookup, request: FactsRequest): Promise<Facts> {
  const { pipeline, ledger } = project;
  const { stage, upstream } = target;
  const { action } = request;
  await ledger.refresh();
  // `plan` works without a git identity (a CI check); `to` refuses before writing (ledger.update).
  const promoter = await ledger.identity().then(
    (i) => i.text,
    (err: unknown) => (isPromoteError(err, 'GIT_IDENTITY_MISSING') ? '(no git identity)' : Promise.reject(err)),
  );
  const state = await ledger.read(pipeline.name, stage.name);
  // A rollback's digest is one the stage ran: it is in the stage's own repository already.
  let source = action === 'rollback' ? stageRepository(pipeline, stage) : sourceRepository(pipeline, target);
  const explicit = request.bundle ? await resolveCandidate(project, request.bundle, source, action === 'rollback' ? [stage] : withUpstream(target)) : undefined;
  const own = await verifiedHead(project, stage, state);
  const ledgerChecks: CheckResult[] = own.problem ? [own.problem] : [];
  const views: Record<string, StageView> = {
    [stage.name]: stageView(project, stage, state, own.head, action === 'rollback' && explicit && (await ranIn(project, stage, own.head, explicit)) ? [explicit] : []),
  };
  if (upstream) {
    const up = await verifiedHead(project, upstream, await ledger.read(pipeline.name, upstream.name));
    if (up.problem && !explicit) ledgerChecks.push(up.problem);
    views[upstream.name] = stageView(project, upstream, undefined, up.head, explicit && action !== 'rollback' && (await ranIn(project, upstream, up.head, explicit)) ? [explicit] : []);
  }
  // The planner picks the default candidate itself (what `from` runs; for a first stage, what it
  // runs itself; for the release of a wave, what the stage rolls out); it is looked up here only
  // to verify it. A wave's bundle is in the stage's own repository already, as a rollback's is.
  const wave = releasesWave(views[stage.name]!, action, explicit);
  if (wave) source = stageRepository(pipeline, stage);
  const sourceRegistry = await project.registryFor(source);
  const candidate = wave ? views[stage.name]!.current : (explicit ?? (action !== 'rollback' ? views[upstream?.name ?? stage.name]!.current : undefined));
  let signature: CheckResult | undefined;
  let bundle: BundleFacts | undefined;
  if (candidate) {
    signature = await checkSignature(project, sourceRegistry, candidate);
    // A bundle that is not signed by a trusted key is not even read further.
    if (signature.passed) bundle = await checkParameters(project, sourceRegistry, stage, candidate);
  }
  // The gates' facts, read only when a gate asks: none for a stage whose gates need none, and no
  // status report for an upstream gate that does not apply (the bundle the stage runs already).
  const reportsOf = async (of: Stage, clusters: string[]) => {
    const [{ ReportMarks }, { ReportCache }, { promoteCacheRoot }, { join }] = await Promise.all([import('./report-marks.ts'), import('./report-cache.ts'), import('../cache-root.ts'), import('node:path')]);
    const root = promoteCacheRoot(project.options.env);
    const options = { marks: new ReportMarks(join(root, 'gates')), cache: new ReportCache(join(root, 'reports')) };
    return { clusters, reports: await readStatusReports(await project.registryFor(stageRepository(pipeline, of)), of.name, clusters, await project.agentTrust(), pipeline.name, options) };
  };
  const gates = memoiseFacts({
    upstreamReports: async () => (upstream ? reportsOf(upstream, await environmentClusters(project, upstream.environment)) : { clusters: [], reports: [] }),
    // A wave release judges the clusters of the stage's current record (its waves are frozen in it).
    // Each must have rendered the record's parameters for it (the report's `parameters`).
    stageReports: async () => {
      const record = own.head?.record;
      const read = await reportsOf(stage, record ? record.clusters.map((c) => c.name) : await environmentClusters(project, stage.environment));
      if (!record) return read;
      const parameters = Object.fromEntries(read.clusters.map((name) => [name, renderedWithDigest(record.environment, clusterValues(record, name))]));
      return { ...read, parameters };
    },
    // The ledger's approvals are claims until their signatures verify against trust.approvers.
    approvals: async () => {
      const trust = await project.trust();
      const { approvalsSigned, checkApprovals } = await import('./approvals.ts');
      return { signed: approvalsSigned(trust.approvers), approvals: checkApprovals(state?.approvals ?? [], trust.approvers, pipeline.trust.approvers) };
    },
    fetch: async (url, init) => (await import('./gate-fetch.ts')).gateFetch(url, init, { root: project.root }),
    secret: async (ref) => (await import('./gate-secrets.ts')).readSecret(ref, { env: project.options.env, root: project.root }),
    // Only a candidate whose signature and parameters verified is rendered (never judge, or
    // render, what was not verified).
    rendered: async () => {
      if (!candidate || !signature?.passed || !bundle?.values || !bundle.parameters.passed) throw new PromoteError('BUNDLE_NOT_VERIFIED', 'there is no verified candidate to render (its signature or its parameters did not verify)', { outcome: 'verification' });
      return (await import('./rendered-stage.ts')).renderedForStage(project, stage, candidate, source, bundle.values);
    },
  });
  return {
    promoter,
    ...(state && { state }),
    ...(own.head && { head: own.head }),
    sourceRepository: source,
    ...(explicit && { explicit }),
    views,
    ledgerChecks,
    gates,
    ...(signature && { signature }),
    ...(bundle && { bundle }),
  };
}

/**
 * A stage as the planner sees it: its current record only as far as a signature proves it
 * (`head`), and its hold (holds only ever refuse).
 * `history` holds the bundles this plan asked about that a signed record shows the stage ran.
 */
function stageView(project: Project, stage: Stage, state: StageState | undefined, head: VerifiedStageRecord | undefined, history: string[] = []): StageView {
  const hold = activeHold(project.pipeline, stage, state);
  return {
    ...(head && { current: head.record.bundle.digest, record: head.digest, parameters: parametersDigest(head.record) }),
    ...(head?.record.rollout && { rollout: head.record.rollout }),
    history,
    ...(hold && { hold }),
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

async function environmentClusters(project: Project, environment: string): Promise<string[]> {
  const [{ loadEnvironment }, { clusterNames }] = await Promise.all([import('../params/environment.ts'), import('../params/cluster-names.ts')]);
  return clusterNames(await loadEnvironment(project.root, environment));
}
