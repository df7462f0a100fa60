import type { AgentPhase, AgentStatus, ObjectSummary } from './reconcile.ts';
import type { DriftedObject, ObjectResult } from './target.ts';

// What a round comes to, as the status report says it: the per-object summary, the phase with
// its PascalCase reason and one-line message, and whether it differs from the last report.

const MAX_NOTABLE = 50;

export function summarise(results: ObjectResult[]): ObjectSummary {
  const byId = new Map<string, ObjectResult>();
  for (const r of results) byId.set(r.id, { ...byId.get(r.id), ...r });
  const all = [...byId.values()];
  const s: ObjectSummary = { total: all.length, healthy: 0, progressing: 0, degraded: 0, failed: 0, notable: [] };
  for (const r of all) {
    if (r.action === 'failed') s.failed++;
    else if (r.health === 'Degraded') s.degraded++;
    else if (r.health === 'Progressing') s.progressing++;
    else s.healthy++;
    if (r.action === 'failed' || (r.health && r.health !== 'Healthy') || r.action === 'pruned' || r.action === 'skipped' || r.reason === 'Adopted') {
      if (s.notable.length < MAX_NOTABLE) {
        s.notable.push({ id: r.id, ...(r.health && { health: r.health }), ...(r.action !== 'unchanged' && { action: r.action }), ...(r.reason && { reason: r.reason }), ...(r.message && { message: r.message }) });
      }
    }
  }
  return s;
}

/** "KindNotServed: PodDisruptionBudget monitoring/a, …" — the first failures by reason, named. */
function describeFailures(failed: ObjectResult[]): { reason: string; message: string } {
  const reasons = [...new Set(failed.map((f) => f.reason ?? 'ApplyFailed'))];
  const first = failed.slice(0, 3).map((f) => f.message ?? f.id);
  const more = failed.length > 3 ? ` (and ${failed.length - 3} more)` : '';
  return { reason: reasons.length === 1 ? reasons[0]! : 'ApplyFailed', message: `${failed.length} object${failed.length === 1 ? '' : 's'} could not be applied: ${first.join('; ')}${more}` };
}

export function sameStatus(a: AgentStatus | undefined, b: AgentStatus): boolean {
  if (!a) return false;
  return a.phase === b.phase && a.record === b.record && a.bundle === b.bundle && a.reason === b.reason && a.message === b.message &&
    a.appliedRecord === b.appliedRecord && a.drift.length === b.drift.length &&
    a.renderer?.kind === b.renderer?.kind && a.renderer?.version === b.renderer?.version;
}

/** The phase, reason and message of a round that applied (or kept) `desired`. */
export function verdictOf(failed: ObjectResult[], results: ObjectResult[], healthy: boolean, drift: DriftedObject[], objects: ObjectSummary): { phase: AgentPhase; reason: string; message: string } {
  if (failed.length > 0) return { phase: 'Failed', ...describeFailures(failed) };
  if (!healthy) {
    const bad = results.filter((r) => r.health === 'Degraded' || r.health === 'Progressing' || r.health === 'Unknown');
    const reasons = [...new Set(bad.map((b) => b.reason).filter(Boolean))];
    return {
      phase: 'Degraded',
      reason: reasons.length === 1 ? reasons[0]! : 'Unhealthy',
      message: `${bad.length} object${bad.length === 1 ? ' is' : 's are'} not healthy: ${bad.slice(0, 3).map((b) => `${b.id}: ${b.message ?? b.health}`).join('; ')}`,
    };
  }
  const corrected = drift.length ? `; corrected drift in ${drift.map((d) => d.id).join(', ')}` : '';
  // Adoption took over something a person or another tool made: the signed report says so.
  const adopted = [...new Set(results.filter((r) => r.reason === 'Adopted').map((r) => r.id))];
  const adoptedText = adopted.length ? `; adopted ${adopted.length} existing object${adopted.length === 1 ? '' : 's'}: ${adopted.slice(0, 5).join(', ')}${adopted.length > 5 ? ', …' : ''}` : '';
  return { phase: 'Converged', reason: drift.length ? 'DriftCorrected' : 'Applied', message: `${objects.total} objects applied and healthy${corrected}${adoptedText}` };
}

/** PromoteError codes are UPPER_SNAKE; condition reasons are PascalCase. */
export function reasonFromCode(code: string): string {
  return code.toLowerCase().split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

/**
 * A verified bundle this machine cannot render (its helm or kustomize missing, a render over the
 * time limit; bundle/error-codes.ts): the round is Failed, not Refused, and the record is loaded
 * again next round.
 */
export function cannotRender(e: { code: string }): boolean {
  return e.code === 'RENDERER_MISSING' || e.code === 'RENDER_TIMEOUT';
}
