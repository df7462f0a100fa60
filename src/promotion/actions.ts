import { approve, type ApproveResult } from './approve.ts';
import { history, type HistoryItem } from './history.ts';
import { setHold, type HoldResult } from './hold.ts';
import { planStage, printablePlan, type PrintablePlan } from './plan.ts';
import { openProject, type EngineOptions } from './project.ts';
import { rollback } from './rollback.ts';
import { runLoop, runOnce, type RunListen, type RunStageOutcome } from './run.ts';
import { promoteTo, type PromoteResult } from './to.ts';

import type { PlanDiff } from './plan-diff.ts';
import type { HistoryVerification } from './verify-history.ts';

// One call per command (the CLI stays thin): open the project the pipeline names, do the one
// thing, return plain data. Everything here is also the library API of the engine.

/** What a command passes in: the engine's options minus those only tests set. */
export type ProjectOptions = Pick<EngineOptions, 'cwd' | 'env' | 'pipeline' | 'registry' | 'key' | 'interactive' | 'log'>;

export type PlanWithDiff = PrintablePlan & { diff?: PlanDiff };

/** The plan, plus the rendered diff (per cluster) when there is a verified candidate that differs from now. */
export async function planCommand(o: ProjectOptions, stage: string, bundle?: string, withDiff = true): Promise<PlanWithDiff> {
  const project = await openProject(o);
  const plan = await planStage(project, { stage, ...(bundle && { bundle }) });
  const printable: PlanWithDiff = printablePlan(plan);
  const values = plan.facts?.values;
  if (withDiff && plan.candidate && values && plan.signature?.passed && !plan.upToDate) {
    const { planDiff } = await import('./plan-diff.ts');
    const record = plan.state?.record;
    const now = record && { registry: await project.registryFor(record.bundle.repository), digest: record.bundle.digest, parameters: record.parameters, clusters: record.clusters };
    const candidate = { registry: await project.registryFor(plan.sourceRepository), digest: plan.candidate, parameters: values.environment, clusters: values.clusters };
    const diff = await planDiff({ stage: plan.stage, environment: plan.environment, secrets: values.secrets, renderer: { env: o.env } }, now, candidate);
    const { withReportedRenderers } = await import('./plan-renderers.ts');
    printable.diff = { ...diff, renderer: await withReportedRenderers(project, plan.stage, diff.clusters.map((c) => c.cluster), diff.renderer) };
  }
  return printable;
}

export async function toCommand(o: ProjectOptions, stage: string, bundle?: string, force?: { reason: string }): Promise<PromoteResult> {
  const project = await openProject(o);
  return promoteTo(project, { stage, ...(bundle && { bundle }), ...(force && { force }) });
}

export async function approveCommand(o: ProjectOptions, stage: string, bundle: string, comment?: string): Promise<ApproveResult> {
  return approve(await openProject(o), stage, bundle, comment);
}

export async function historyCommand(o: ProjectOptions, stage: string, limit?: number): Promise<HistoryItem[]> {
  return history(await openProject(o), stage, limit);
}

/** `history --verify`: the stage's record chain, checked across ledger and registry. */
export async function verifyHistoryCommand(o: ProjectOptions, stage: string, limit?: number): Promise<HistoryVerification> {
  const project = await openProject(o);
  const { verifyHistory } = await import('./verify-history.ts');
  return verifyHistory(project, stage, { ...(limit && { limit }), ...(o.log && { progress: o.log }) });
}

export async function holdCommand(o: ProjectOptions, stage: string, held: boolean, reason?: string): Promise<HoldResult> {
  return setHold(await openProject(o), stage, held, reason);
}

export async function rollbackCommand(o: ProjectOptions, stage: string, target: { to?: string; steps?: number }, force?: { reason: string }): Promise<PromoteResult> {
  return rollback(await openProject(o), { stage, ...target, ...(force && { force }) });
}

/** `promote run`: one pass, or passes until `signal` aborts (the CLI aborts it on SIGINT/SIGTERM). */
export async function runCommand(o: ProjectOptions, once: boolean, intervalMs: number, onPass: (outcomes: RunStageOutcome[]) => void, signal: AbortSignal, listen?: RunListen): Promise<RunStageOutcome[]> {
  const project = await openProject(o);
  if (once) return runOnce(project);
  await runLoop(project, intervalMs, signal, onPass, listen);
  return [];
}
