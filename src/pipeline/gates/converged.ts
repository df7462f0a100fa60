import type { Gate, GateContext, GateKind, GateResult } from '../gate.ts';
import type { ConvergedGateSpec } from '../pipeline.ts';

// `converged`: every cluster of the upstream stage reports `Converged` on this very digest.
// A missing report is a failure, never "no news is good news": an agent that never ran has
// proved nothing.

export function convergedEvidence(ctx: GateContext) {
  const byCluster = new Map(ctx.reports.map((r) => [r.cluster, r]));
  return ctx.fromClusters.map((cluster) => {
    const r = byCluster.get(cluster);
    if (!r) return { cluster, ok: false, phase: 'NoReport', why: 'no status report from this cluster' };
    if (r.verified === false) return { cluster, ok: false, phase: r.phase, why: 'status report signature not trusted' };
    if (r.bundle !== ctx.candidate) return { cluster, ok: false, phase: r.phase, bundle: r.bundle, why: 'runs another bundle' };
    if (r.phase !== 'Converged') return { cluster, ok: false, phase: r.phase, bundle: r.bundle, since: r.since, why: r.reason ?? `phase is ${r.phase}` };
    return { cluster, ok: true, phase: r.phase, bundle: r.bundle, since: r.since, observedAt: r.observedAt };
  });
}

class ConvergedGate implements Gate {
  readonly spec: ConvergedGateSpec;
  constructor(spec: ConvergedGateSpec) {
    this.spec = spec;
  }

  evaluate(ctx: GateContext): GateResult {
    const clusters = convergedEvidence(ctx);
    const ok = clusters.filter((c) => c.ok).length;
    const passed = clusters.length > 0 && ok === clusters.length;
    let summary: string;
    if (clusters.length === 0) summary = `stage ${ctx.from ?? '(none)'} has no clusters to report`;
    else if (passed) summary = `${ok}/${clusters.length} clusters of ${ctx.from} Converged on ${short(ctx.candidate)}`;
    else {
      const bad = clusters.filter((c) => !c.ok).map((c) => `${c.cluster}: ${c.why}`);
      summary = `${ok}/${clusters.length} clusters of ${ctx.from} Converged on ${short(ctx.candidate)} (${bad.join('; ')})`;
    }
    return { gate: 'converged', type: 'converged', passed, summary, evidence: { from: ctx.from, clusters } };
  }
}

export function short(digest: string): string {
  return digest.slice(0, 19);
}

export const convergedGate: GateKind<ConvergedGateSpec> = {
  type: 'converged',
  parse(raw, pointer, report) {
    const value = raw === null || raw === undefined ? {} : raw;
    const keys = typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : undefined;
    const timeout = (value as { timeout?: unknown }).timeout;
    if (!keys || keys.some((k) => k !== 'timeout') || (timeout !== undefined && typeof timeout !== 'string')) {
      report(pointer, { message: 'converged takes no settings but an optional timeout', rule: 'gate-converged', expected: '{} or {timeout: 10m}', actual: JSON.stringify(raw) });
      return undefined;
    }
    return { type: 'converged', ...(typeof timeout === 'string' && { timeout }) };
  },
  create: (spec) => new ConvergedGate(spec),
};
