import type { GateResult } from '../pipeline/gate.ts';
import type { Plan } from '../pipeline/plan.ts';
import type { PlanDiff, PlanRenderers } from '../promotion/plan-diff.ts';
import type { ApproveResult } from '../promotion/approve.ts';
import type { HistoryItem } from '../promotion/history.ts';
import type { HoldResult } from '../promotion/hold.ts';
import type { RunStageOutcome } from '../promotion/run.ts';
import type { PromoteResult } from '../promotion/to.ts';
import type { HistoryVerification } from '../promotion/verify-history.ts';
import { shortDigest } from '../short-digest.ts';

// How promotion results read in a terminal. JSON output is the data itself.


/** How many of a gate's finding lines (evidence.findings) a terminal shows; --output json has them all. */
const FINDINGS_SHOWN = 20;

function gateLines(gates: GateResult[]): string[] {
  return gates.flatMap((g) => {
    const head = `  ${g.applicable === false ? 'n/a ' : g.passed ? 'pass' : g.overridden ? 'OVERRIDDEN' : 'FAIL'}  ${g.gate}: ${g.summary}`;
    const findings = Array.isArray(g.evidence.findings) ? g.evidence.findings.filter((f): f is string => typeof f === 'string') : [];
    const shown = findings.slice(0, FINDINGS_SHOWN).map((f) => `          ${f}`);
    if (findings.length > FINDINGS_SHOWN) shown.push(`          … and ${findings.length - FINDINGS_SHOWN} more (--output json lists them all)`);
    return [head, ...shown];
  });
}

/** A parameter value as the plan shows it: JSON, a secret by its reference's name. */
function shownValue(v: unknown): string {
  if (v === undefined) return '(unset)';
  const ref = (v as { secretRef?: { name?: unknown; key?: unknown } } | null)?.secretRef;
  if (ref && typeof ref === 'object' && Object.keys(v as object).length === 1) return `secret ${String(ref.name)}${ref.key !== undefined ? `/${String(ref.key)}` : ''}`;
  return JSON.stringify(v);
}

const CANDIDATE_SOURCE: Record<string, (plan: Plan) => string> = {
  'from-stage': (plan) => ` (what ${plan.from} runs)`,
  current: (plan) => ` (the bundle ${plan.stage} runs now)`,
  rollout: (plan) => ` (rolling out in ${plan.stage})`,
};

const ROLLOUT_STATE: Record<string, string> = {
  starting: 'starts the rollout',
  progressing: 'waits: released clusters not yet Converged',
  soaking: 'waits: soaking',
  waiting: 'waits on its gates',
  ready: 'ready',
  stopped: 'STOPPED: released clusters unhealthy',
};

function rolloutLines(plan: Plan): string[] {
  const r = plan.rollout;
  if (!r) return [];
  if (r.waves) return [`  rollout: wave 1 of ${r.of} first (${r.clusters.join(', ')}); the other clusters keep what they run until their wave is released`, ...r.waves.map((w, i) => `    wave ${i + 1}: ${w.join(', ')}`)];
  return [`  rollout: wave ${r.wave} of ${r.of} (${r.clusters.join(', ')}), after ${r.released?.join(', ') ?? '-'}: ${ROLLOUT_STATE[r.state] ?? r.state}`, ...(r.newer ? [`  ${plan.from} runs a newer bundle, ${r.newer}: it waits until this rollout is complete, or stopped`] : [])];
}

const rendererName = (r: { kind: string; version?: string }) => (r.version ? `${r.kind} ${r.version}` : r.kind);

/**
 * "renderer: helm v3.17.3 (agents of staging report v3.16.0)": what rendered each side here, and
 * the agents' own versions where they differ (their output may differ with them). Nothing for a
 * plain bundle on both sides.
 */
export function rendererLine(r: PlanRenderers, stage: string): string | undefined {
  if (r.after.kind === 'plain' && (r.now?.kind ?? 'plain') === 'plain') return undefined;
  const sides = r.now && rendererName(r.now) !== rendererName(r.after) ? `${rendererName(r.now)} now → ${rendererName(r.after)} after` : rendererName(r.after);
  const mine = r.reported.filter((x) => x.kind === r.after.kind);
  const groups = new Map<string, string[]>();
  for (const x of mine) {
    if (x.version === r.after.version) continue;
    const label = x.version ?? (x.reason ? `no ${x.kind} (${x.reason})` : `no ${x.kind} version`);
    groups.set(label, [...(groups.get(label) ?? []), x.cluster]);
  }
  if (groups.size === 0) return `renderer: ${sides}`;
  const all = groups.size === 1 && [...groups.values()][0]!.length === mine.length;
  const said = [...groups].map(([label, clusters]) => (all ? label : `${label} on ${clusters.join(', ')}`)).join('; ');
  return `renderer: ${sides} (agents of ${stage} report ${said})`;
}

export function planText(plan: Plan & { diff?: PlanDiff }): string {
  const out = [`plan ${plan.pipeline}/${plan.stage} (environment ${plan.environment})`];
  out.push(`  now:       ${plan.current ?? '(nothing promoted yet)'}`);
  out.push(`  candidate: ${plan.candidate ?? '(none)'}${CANDIDATE_SOURCE[plan.candidateSource ?? '']?.(plan) ?? ''}`);
  if (plan.currentParameters || plan.parametersDigest) out.push(`  parameters digest: ${shortDigest(plan.currentParameters)} now, ${shortDigest(plan.parametersDigest)} after`);
  if (plan.upToDate) out.push('  the candidate is already what the stage runs, with the same parameters');
  if (plan.change === 'configuration') {
    out.push('  configuration change: the same bundle with new parameters');
    if (plan.parameters?.passed === false) out.push(`  the stage keeps running its last good record (${shortDigest(plan.current)} with parameters ${shortDigest(plan.currentParameters)}) until they are fixed`);
  }
  out.push(...rolloutLines(plan));
  if (plan.signature) out.push(`  ${plan.signature.passed ? 'pass' : 'FAIL'}  signature: ${plan.signature.summary}`);
  if (plan.parameters) out.push(`  ${plan.parameters.passed ? 'pass' : 'FAIL'}  parameters: ${plan.parameters.summary}`);
  if (plan.gates.length) out.push('gates:', ...gateLines(plan.gates));
  if (plan.diff) {
    const renderer = rendererLine(plan.diff.renderer, plan.stage);
    if (renderer) out.push(renderer);
    out.push(plan.diff.parameters.length ? 'parameters (now → after):' : 'parameters: unchanged');
    for (const d of plan.diff.parameters) out.push(`  ${d.pointer}: ${shownValue(d.before)} → ${shownValue(d.after)}`);
    for (const c of plan.diff.clusters) {
      // A cluster's own overrides that changed (the environment's changes are listed above).
      const own = c.parameters.filter((d) => !plan.diff!.parameters.some((e) => e.pointer === d.pointer));
      if (own.length) out.push(`cluster ${c.cluster} parameters (now → after):`, ...own.map((d) => `  ${d.pointer}: ${shownValue(d.before)} → ${shownValue(d.after)}`));
      if (!c.changedFiles.length) out.push(`cluster ${c.cluster}: rendered files unchanged`);
      else if (c.sameAs) out.push(`cluster ${c.cluster}: the same rendered change as ${c.sameAs}`);
      else out.push(`cluster ${c.cluster}: rendered files that change: ${c.changedFiles.join(', ')}`, c.manifests.trimEnd());
    }
  }
  if (plan.blockers.length) out.push('would be refused:', ...plan.blockers.map((b) => `  - ${b.message}${b.hint ? ` (${b.hint})` : ''}`));
  else if (plan.upToDate) out.push('nothing to do');
  else if (plan.change === 'configuration') out.push(`promote to ${plan.stage} would record ${plan.candidate} again with the new parameters (action configure)`);
  else if (plan.change === 'wave') out.push(`promote to ${plan.stage} would release wave ${plan.rollout!.wave} of ${plan.rollout!.of} of ${plan.candidate} (action wave)`);
  else out.push(`promote to ${plan.stage} would promote ${plan.candidate}`);
  return out.join('\n');
}

export function promoteText(r: PromoteResult): string {
  if (r.upToDate) return `${r.stage} already runs ${r.bundle} (record ${shortDigest(r.record)}, published at ${r.published?.tag})`;
  const head = r.completed
    ? `finished publishing the record of ${r.bundle} in ${r.stage} (record ${shortDigest(r.record)})`
    : r.action === 'configure'
      ? `configured ${r.stage}: ${r.bundle} with new parameters${r.parametersChanged?.length ? ` (${r.parametersChanged.join(', ')})` : ''}`
      : r.action === 'wave' && r.rollout
        ? `released wave ${r.rollout.wave} of ${r.rollout.of} of ${r.bundle} in ${r.stage}: ${r.rollout.clusters.join(', ')}`
        : `${r.action === 'rollback' ? 'rolled back' : 'promoted'} ${r.bundle} to ${r.stage}${r.from ? ` from ${r.from}` : ''}`;
  const out = [head];
  if (r.rollout && r.action !== 'wave' && !r.completed) out.push(`rollout: wave 1 of ${r.rollout.of} released (${r.rollout.clusters.join(', ')}); promote run, or promote to ${r.stage} again, releases the next when its gates pass`);
  if (!r.completed && r.gates.length) out.push(...gateLines(r.gates));
  if (r.commit) out.push(`ledger commit ${r.commit.slice(0, 12)}${r.ledgerAttempts && r.ledgerAttempts > 1 ? ` (after ${r.ledgerAttempts} attempts)` : ''}`);
  if (r.superseded) out.push(`a newer record of ${r.stage} (#${r.superseded.sequence}) was published meanwhile: the tag keeps it; this record is in the ledger and attached to its bundle`);
  if (r.published) out.push(`record ${r.published.digest} at tag ${r.published.tag}`);
  return out.join('\n');
}

export function approveText(r: ApproveResult): string {
  // A signed approval counts as the key's trust.approvers entry; the git author only made the commit.
  const as = r.approver ? `${r.approver}${r.approver.includes(r.by) ? '' : `; committed by ${r.by}`}` : r.by;
  const head = r.alreadyApproved ? `${as} had already approved ${r.bundle} for ${r.stage}` : `approved ${r.bundle} for ${r.stage} as ${as} (ledger commit ${r.commit?.slice(0, 12)})`;
  if (!r.signed) return `${head}\nunsigned: the pipeline has no trust.approvers, so this approval is not authenticated`;
  return [head, `signed with key ${r.key}, parameters ${r.parameters}`, ...(r.attached ? [`attached to the bundle as ${r.attached.digest}`] : [])].join('\n');
}

export function holdText(r: HoldResult): string {
  return r.held ? `${r.stage} is on hold (by ${r.by}${r.reason ? `: ${r.reason}` : ''}); promote release ${r.stage} resumes it` : `${r.stage} released by ${r.by}`;
}

export function historyText(stage: string, items: HistoryItem[]): string {
  if (!items.length) return `no history for ${stage} yet`;
  const out: string[] = [];
  for (const h of items) {
    // A configuration change keeps its bundle: nothing came from upstream.
    // A wave release keeps its bundle too; it names the wave instead.
    const where = h.wave ? `  wave ${h.wave.wave}/${h.wave.of}` : '';
    out.push(`${h.at}  ${h.action.padEnd(9)} ${shortDigest(h.bundle)}${h.from && h.action !== 'configure' && h.action !== 'wave' ? ` from ${h.from}` : ''}${where}  by ${h.by}  (${h.commit.slice(0, 12)})`);
    if (h.parametersChanged?.length) out.push(`    parameters changed: ${h.parametersChanged.join(', ')}`);
    for (const g of h.gates) out.push(`    ${g}`);
    if (h.reason) out.push(`    reason: ${h.reason}`);
  }
  return out.join('\n');
}

export function runText(outcomes: RunStageOutcome[]): string {
  if (!outcomes.length) return 'no stage has promotion: auto';
  return outcomes.map((o) => `${o.stage.padEnd(12)} ${o.result.padEnd(10)} ${shortDigest(o.bundle)}${o.wave ? `  wave ${o.wave.wave}/${o.wave.of}` : ''}${o.message ? `  ${o.message}` : ''}`).join('\n');
}


/** The one-line summary of `history --verify` (which trust list was used is part of the claim). */
export function historyVerificationText(v: HistoryVerification): string {
  if (!v.records) return `history of ${v.stage} verifies: no records yet (${v.commits} commit${v.commits === 1 ? '' : 's'}); signatures would be checked against ${v.trust.source}`;
  const first = v.entries[0]!.sequence;
  const range = first === v.head!.sequence ? `number ${first}` : `numbers ${first}–${v.head!.sequence}`;
  const scope = v.complete ? '' : ` (newest ${v.records} only: --limit stopped the walk; records before number ${first} were not checked)`;
  return `history of ${v.stage} verifies: ${v.records} record${v.records === 1 ? '' : 's'} (${range}) in ${v.commits} commit${v.commits === 1 ? '' : 's'}, head ${shortDigest(v.head!.record, 'elided')} at ${v.head!.tag}; signatures checked against ${v.trust.source}${scope}`;
}
