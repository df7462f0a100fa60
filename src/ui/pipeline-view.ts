import { isPromoteError } from '../errors.ts';
import { forEachConcurrently } from '../oci/concurrency.ts';
import type { Registry } from '../oci/registry.ts';
import { stageRepository } from '../pipeline/pipeline.ts';
import { planCommand, type PlanWithDiff, type ProjectOptions } from '../promotion/actions.ts';
import type { Project } from '../promotion/project.ts';
import type { StageSummary } from '../promotion/stage-status.ts';
import type { PipelineStatus } from '../promotion/status.ts';
import { redactDeep } from '../redact.ts';
import { cliCommand } from './actions.ts';

// What the pipeline view shows, built from the engine's own calls and nothing re-derived: the
// `status` JSON as it is (`promote status --output json`), each stage's summary (the ledger's
// record: who promoted what when, held), the tags that name each stage's bundle, and per stage
// the plan of what waits to move in (`promote plan <stage> --no-diff --output json`).

export interface ErrorView {
  code: string;
  message: string;
  hint?: string;
}

export interface StageView {
  summary: StageSummary;
  /** Tags of the stage's repository that name its bundle (e.g. `1.1`), sorted. */
  tags: string[];
  /** What `promote plan <stage> --no-diff` says now; `planError` when it could not be made. */
  plan?: PlanWithDiff;
  planError?: ErrorView;
  /** The CLI commands of the page's actions, shown to copy when actions are off. */
  commands: { promote?: string; approve?: string; hold: string; release: string };
}

export interface PipelineView {
  pipeline: string;
  /** The pipeline as given to promote ui (`--pipeline`), for the CLI commands the page shows. */
  pipelineOption?: string;
  observedAt: string;
  status: PipelineStatus;
  stages: StageView[];
  /** Whether the page may offer actions (promote ui --allow-actions). */
  actions: boolean;
}

/** An error as the API shows it: code, message, hint, never a stack or a secret. */
export function errorView(err: unknown): ErrorView {
  if (isPromoteError(err)) return redactDeep({ code: err.code, message: err.message, ...(err.hint && { hint: err.hint }) });
  return { code: 'INTERNAL', message: redactDeep(String((err as Error)?.message ?? err)) };
}

// Tags that are promote's own bookkeeping, never a name a person gave a bundle.
const BOOKKEEPING = /^(?:status-|promotion-|approval-|sha256-)/;
const MAX_TAGS = 200;

/** digest → the tags of `registry` that name it (the newest MAX_TAGS names at most are resolved). */
async function namingTags(registry: Registry): Promise<Map<string, string[]>> {
  const names = (await registry.listTags()).filter((t) => !BOOKKEEPING.test(t)).slice(-MAX_TAGS);
  const byDigest = new Map<string, string[]>();
  await forEachConcurrently(names, 8, async (tag) => {
    const d = await registry.resolve(tag);
    if (d) byDigest.set(d.digest, [...(byDigest.get(d.digest) ?? []), tag].sort());
  });
  return byDigest;
}

export async function pipelineView(o: ProjectOptions, project: Project, actions: boolean): Promise<PipelineView> {
  const { pipelineStatus } = await import('../promotion/status.ts');
  const { stageSummaries } = await import('../promotion/stage-status.ts');
  const status = await pipelineStatus({ cwd: o.cwd, env: o.env, ...(o.pipeline && { pipeline: o.pipeline }), ...(o.registry && { registry: o.registry }) });
  const summaries = await stageSummaries(project);
  const tagsOf = new Map<string, Promise<Map<string, string[]>>>();
  const stages: StageView[] = [];
  for (const summary of summaries) {
    const stage = project.pipeline.stages.find((s) => s.name === summary.stage)!;
    const repository = stageRepository(project.pipeline, stage);
    let tags = tagsOf.get(repository);
    if (!tags) {
      tags = project.registryFor(repository).then(namingTags).catch(() => new Map<string, string[]>());
      tagsOf.set(repository, tags);
    }
    const stageName = summary.stage;
    const view: StageView = {
      summary,
      tags: (summary.bundle && (await tags).get(summary.bundle)) || [],
      commands: { hold: cliCommand('hold', { stage: stageName, reason: '…' }, o.pipeline), release: cliCommand('release', { stage: stageName }, o.pipeline) },
    };
    try {
      view.plan = await planCommand(o, stageName, undefined, false);
      const candidate = view.plan.candidate;
      if (candidate && !view.plan.upToDate) {
        view.commands.promote = cliCommand('promote', { stage: stageName }, o.pipeline);
        if (view.plan.gates.some((g) => g.type === 'approval' && !g.passed)) view.commands.approve = cliCommand('approve', { stage: stageName, bundle: candidate }, o.pipeline);
      }
    } catch (err) {
      view.planError = errorView(err);
    }
    stages.push(view);
  }
  return redactDeep({ pipeline: project.pipeline.name, ...(o.pipeline && { pipelineOption: o.pipeline }), observedAt: status.observedAt, status, stages, actions });
}
