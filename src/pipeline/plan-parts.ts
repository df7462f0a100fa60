import type { ErrorCode } from '../errors.ts';
import type { GateInput, GateResult } from './gate.ts';
import type { GateSpec } from './gates/kinds.ts';
import type { Stage } from './pipeline.ts';
import type { Blocker, CheckResult, PlanInput } from './plan.ts';

// What a promotion plan (plan.ts) and a wave release (wave-plan.ts) judge alike: the engine's
// checks as blockers, the gates' input, and failing gates after a forced override.

/** A blocker for each check that failed (ledger records, the candidate's signature, its parameters), each with its default code. */
export function checkBlockers(checks: [CheckResult | undefined, ErrorCode][]): Blocker[] {
  return checks.flatMap(([check, code]) =>
    check && !check.passed
      ? [{ code: check.code ?? code, outcome: check.outcome ?? 'verification', message: check.summary, ...(check.hint && { hint: check.hint }), ...(check.problems?.length && { problems: check.problems }) }]
      : [],
  );
}

/** The gates' view of a plan: `from` is the stage they judge (upstream, or the stage itself for a wave), `gates` whose soak sets soakMs. */
export function gateInputOf(input: PlanInput, stage: Stage, o: { from?: string; candidate: string; parameters?: string; gates: GateSpec[]; force?: { reason: string } }): GateInput {
  const soak = o.gates.find((g) => g.type === 'soak');
  return {
    pipeline: input.pipeline.name,
    stage: stage.name,
    ...(o.from && { from: o.from }),
    candidate: o.candidate,
    ...(o.parameters && { parameters: o.parameters }),
    now: input.now,
    promoter: input.promoter,
    ...(input.promoterKey && { promoterKey: input.promoterKey }),
    ...(input.pipeline.reports && { reportMaxAgeMs: input.pipeline.reports.maxAgeMs }),
    ...(soak && { soakMs: soak.milliseconds }),
    ...(o.force && { force: o.force }),
  };
}

/**
 * A forced promotion overrides failing gates, and the record says so (break-glass, logged);
 * `promote run` never forces. Returns the gates still failing, with a problem line each (printed
 * as a list under the error).
 */
export function failingGates(gates: GateResult[], force: { reason: string } | undefined, action: PlanInput['action']): { failing: GateResult[]; problems: { message: string; rule: string }[] } {
  for (const result of gates) if (!result.passed && force && action !== 'auto') result.overridden = true;
  const failing = gates.filter((g) => !g.passed && !g.overridden);
  return { failing, problems: failing.map((g) => ({ message: `${g.gate}: ${g.summary}`, rule: `gate-${g.type}` })) };
}

/** The hint of a refusal by gates: what `promote run` does, or what a person can. */
export function gatesHint(stage: string, action: PlanInput['action']): string {
  return action === 'auto' ? 'promote run retries on its next pass' : `wait for the gates (promote plan ${stage} shows them), or --force --reason "<why>" to override and record it`;
}
