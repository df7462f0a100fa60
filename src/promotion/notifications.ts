import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { promoteCacheRoot } from '../cache-root.ts';
import type { PromoteError } from '../errors.ts';
import { newEvent, type EventFields, type EventGate, type EventType } from '../notify/event.ts';
import { sendEvents, wants, type Webhook } from '../notify/notifier.ts';
import { Outbox } from '../notify/outbox.ts';
import { SentMarks } from '../notify/sent-marks.ts';
import { stageRepository } from '../pipeline/pipeline.ts';
import { planOutcome, type Plan } from '../pipeline/plan.ts';
import type { GateResult } from '../records/gate-result.ts';
import { redact } from '../redact.ts';
import { shortDigest } from '../short-digest.ts';
import type { Project } from './project.ts';
import type { RunStageOutcome } from './run.ts';
import type { PromoteResult } from './to.ts';

// The engine's side of spec.notify: which event each verb's outcome is, and sending it through
// notify/. Called by a verb after its change is durable (the ledger commit, the published
// record); never throws, never fails the verb — a receiver that does not take an event gets it
// from the outbox on the next command. Loaded only for pipelines that have receivers.

const AGENT_EVENTS: Record<string, EventType> = { Degraded: 'agent-degraded', Drifted: 'agent-drifted', Refused: 'agent-refused' };

/** The per-pipeline directory in the cache root: the outbox and `promote run`'s sent marks. */
function notifyDir(project: Project): string {
  const id = createHash('sha256').update(`${project.pipeline.file}\n${project.pipeline.name}`).digest('hex').slice(0, 16);
  return join(promoteCacheRoot(project.options.env), 'notify', `${project.pipeline.name}-${id}`);
}

function webhooks(project: Project): Webhook[] {
  return (project.pipeline.notify ?? []).map(({ webhook: w }) => ({
    url: w.url,
    format: w.format,
    ...(w.events && { events: w.events }),
    ...(w.secretFrom && { secret: async () => (await import('./gate-secrets.ts')).readSecret(w.secretFrom!, { env: project.options.env, root: project.root }) }),
  }));
}

/** Sends `events` (and what the outbox holds) to the pipeline's receivers. Never throws. */
export async function notify(project: Project, events: EventFields[]): Promise<void> {
  const warn = project.options.log ?? (() => {});
  try {
    await sendEvents(events.map(newEvent), { webhooks: webhooks(project), outbox: new Outbox(join(notifyDir(project), 'outbox')), warn });
  } catch (err) {
    warn(`warning: notify: ${redact(err instanceof Error ? err.message : String(err))}`);
  }
}

function eventGates(gates: GateResult[]): EventGate[] {
  return gates.map((g) => ({ gate: g.gate, type: g.type, passed: g.passed || g.overridden === true, summary: g.summary }));
}

/** The approval gates still missing approvals: what an approval-requested event announces. */
function missingApprovals(plan: Plan): GateResult[] {
  return plan.gates.filter((g) => g.type === 'approval' && !g.passed && !g.overridden);
}

/** What a committed promotion, configuration change or rollback announces. */
export function promotionEvent(project: Project, result: PromoteResult, by: string): EventFields | undefined {
  if (result.action === 'none' || result.completed) return undefined;
  const type: EventType = result.action === 'wave' ? 'wave-released' : result.action === 'configure' ? 'configured' : result.action === 'rollback' ? 'rolled-back' : 'promoted';
  const verb = type === 'wave-released' && result.rollout
    ? `released wave ${result.rollout.wave} of ${result.rollout.of} of ${shortDigest(result.bundle, 'elided')} in ${result.stage} (${result.rollout.clusters.join(', ')})`
    : type === 'configured' ? `changed the configuration of ${result.stage} (bundle ${shortDigest(result.bundle, 'elided')})` : type === 'rolled-back' ? `rolled ${result.stage} back to ${shortDigest(result.bundle, 'elided')}` : `promoted ${shortDigest(result.bundle, 'elided')} to ${result.stage}${result.from ? ` from ${result.from}` : ''}`;
  const overridden = result.gates.filter((g) => g.overridden).map((g) => g.gate);
  return {
    type,
    pipeline: project.pipeline.name,
    stage: result.stage,
    bundle: result.bundle,
    ...(result.record && { record: result.record }),
    by,
    summary: `${project.pipeline.name}: ${by} ${verb}${overridden.length ? ` (forced past ${overridden.join(', ')})` : ''}`,
    gates: eventGates(result.gates),
    ...(result.rollout && { wave: result.rollout }),
  };
}

/** What a refused `promote to` / rollback announces: refused, and approval-requested when approvals are missing. */
export function refusalEvents(project: Project, plan: Plan, error: PromoteError | undefined, by: string): EventFields[] {
  const outcome = planOutcome(plan);
  if (plan.allowed || (outcome !== 'refused' && outcome !== 'verification')) return [];
  const base = { pipeline: project.pipeline.name, stage: plan.stage, ...(plan.candidate && { bundle: plan.candidate }), by, gates: eventGates(plan.gates) };
  const why = error?.message ?? plan.blockers.map((b) => b.message).join('; ');
  const events: EventFields[] = [{ ...base, type: 'refused', summary: `${project.pipeline.name}: ${plan.candidate ? `${shortDigest(plan.candidate, 'elided')} ` : ''}refused for ${plan.stage}: ${why}` }];
  const approval = missingApprovals(plan);
  if (approval.length && plan.candidate) events.push(approvalEvent(project, plan, approval, by));
  return events;
}

function approvalEvent(project: Project, plan: Plan, approval: GateResult[], by: string): EventFields {
  return {
    type: 'approval-requested',
    pipeline: project.pipeline.name,
    stage: plan.stage,
    bundle: plan.candidate!,
    by,
    summary: `${project.pipeline.name}: ${shortDigest(plan.candidate, 'elided')} waits for approval to enter ${plan.stage}: ${approval.map((g) => g.summary).join('; ')} (promote approve ${plan.stage} ${plan.candidate})`,
    gates: eventGates(plan.gates),
  };
}

export interface RunItem {
  outcome: RunStageOutcome;
  plan?: Plan;
  promoter?: string;
}

/**
 * One `promote run` pass's events: each promotion, and each state entered since the last pass
 * (a refused candidate, a candidate waiting for approval, an agent turning Degraded, Drifted or
 * Refused) — remembered in the cache root, so an unchanged state is not announced every pass.
 */
export async function notifyRun(project: Project, items: RunItem[]): Promise<void> {
  const warn = project.options.log ?? (() => {});
  const events: EventFields[] = [];
  try {
    const marks = await SentMarks.open(notifyDir(project));
    for (const { outcome, plan, promoter } of items) {
      const by = promoter ?? 'promote run';
      const stage = outcome.stage;
      if ((outcome.result === 'promoted' || outcome.result === 'configured' || outcome.result === 'released') && outcome.bundle) {
        const what =
          outcome.result === 'released' && outcome.wave
            ? `released wave ${outcome.wave.wave} of ${outcome.wave.of} of ${shortDigest(outcome.bundle, 'elided')} in ${stage} (${outcome.wave.clusters.join(', ')})`
            : outcome.result === 'configured'
              ? `changed the configuration of ${stage}`
              : `promoted ${shortDigest(outcome.bundle, 'elided')} to ${stage}`;
        const type: EventType = outcome.result === 'released' ? 'wave-released' : outcome.result;
        events.push({ type, pipeline: project.pipeline.name, stage, bundle: outcome.bundle, ...(outcome.record && { record: outcome.record }), by, summary: `${project.pipeline.name}: ${by} ${what} (promote run)`, ...(plan && { gates: eventGates(plan.gates) }), ...(outcome.wave && { wave: outcome.wave }) });
        marks.delete(`refused:${stage}`);
        marks.delete(`approval:${stage}`);
        continue;
      }
      // A stopped rollout is announced once per record and wave: it stays stopped, pass after
      // pass, until a rollback or a new bundle replaces the record.
      if (outcome.result === 'stopped' && outcome.record && outcome.wave && marks.set(`stopped:${stage}`, `${outcome.record}|${outcome.wave.wave - 1}`)) {
        events.push({
          type: 'rollout-stopped',
          pipeline: project.pipeline.name,
          stage,
          ...(outcome.bundle && { bundle: outcome.bundle }),
          record: outcome.record,
          by,
          summary: `${project.pipeline.name}: ${outcome.message ?? `the rollout in ${stage} is stopped`}`,
          ...(plan && { gates: eventGates(plan.gates) }),
          wave: { ...outcome.wave, wave: outcome.wave.wave - 1, clusters: plan?.rollout?.released ?? [] },
        });
      }
      if (outcome.result === 'refused') {
        if (marks.set(`refused:${stage}`, `${outcome.bundle ?? ''}|${outcome.message ?? ''}`)) {
          events.push({ type: 'refused', pipeline: project.pipeline.name, stage, ...(outcome.bundle && { bundle: outcome.bundle }), by, summary: `${project.pipeline.name}: ${outcome.bundle ? `${shortDigest(outcome.bundle, 'elided')} ` : ''}refused for ${stage}: ${outcome.message ?? 'refused'}`, ...(plan && { gates: eventGates(plan.gates) }) });
        }
      } else marks.delete(`refused:${stage}`);
      const approval = outcome.result === 'waiting' && plan?.candidate ? missingApprovals(plan) : [];
      if (approval.length && plan) {
        if (marks.set(`approval:${stage}`, plan.candidate!)) events.push(approvalEvent(project, plan, approval, by));
      } else marks.delete(`approval:${stage}`);
    }
    if ((project.pipeline.notify ?? []).some(({ webhook }) => Object.values(AGENT_EVENTS).some((t) => wants(webhook, t)))) events.push(...(await agentEvents(project, marks)));
    await marks.save();
  } catch (err) {
    warn(`warning: notify: ${redact(err instanceof Error ? err.message : String(err))}`);
  }
  await notify(project, events);
}

/** Agents' transitions into Degraded, Drifted or Refused, from their status reports verified as the gates verify them. */
async function agentEvents(project: Project, marks: SentMarks): Promise<EventFields[]> {
  const [{ readStatusReports }, { ReportMarks }, { loadEnvironment }, { clusterNames }] = await Promise.all([
    import('../records/status-report.ts'),
    import('./report-marks.ts'),
    import('../params/environment.ts'),
    import('../params/cluster-names.ts'),
  ]);
  const order = new ReportMarks(join(promoteCacheRoot(project.options.env), 'gates'));
  const trust = await project.agentTrust();
  const out: EventFields[] = [];
  for (const stage of project.pipeline.stages) {
    try {
      const clusters = clusterNames(await loadEnvironment(project.root, stage.environment));
      const registry = await project.registryFor(stageRepository(project.pipeline, stage));
      for (const r of await readStatusReports(registry, stage.name, clusters, trust, project.pipeline.name, { marks: order })) {
        // A report whose signature or scope does not verify says nothing about the cluster.
        if (r.verified !== true) continue;
        const type = AGENT_EVENTS[r.phase];
        if (!marks.set(`agent:${stage.name}/${r.cluster}`, `${r.phase}|${r.record ?? r.bundle}`) || !type) continue;
        out.push({
          type,
          pipeline: project.pipeline.name,
          stage: stage.name,
          cluster: r.cluster,
          phase: r.phase,
          bundle: r.bundle,
          ...(r.record && { record: r.record }),
          by: `agent ${r.cluster}`,
          ...(r.reason && { reason: r.reason }),
          summary: `${project.pipeline.name}: ${stage.name}/${r.cluster} is ${r.phase}${r.reason ? ` (${r.reason})` : ''} on ${shortDigest(r.bundle, 'elided')} since ${r.since}`,
        });
      }
    } catch (err) {
      (project.options.log ?? (() => {}))(`warning: notify: cannot read the status reports of ${stage.name}: ${redact(err instanceof Error ? err.message : String(err))}`);
    }
  }
  return out;
}

