import type { GateInput, GateKind, UpstreamReports } from '../gate.ts';
import { formatDuration } from '../duration.ts';
import { DEFAULT_REPORT_MAX_AGE } from '../pipeline.ts';
import { shortDigest } from '../../short-digest.ts';

// `converged`: every cluster of the upstream stage reports `Converged` on this very digest.
// A missing report is a failure, never "no news is good news": an agent that never ran has
// proved nothing. Nor does an old one: every signed report stays valid for ever, so a report
// observed longer ago than `reports.maxAge` (agents re-publish every 10 minutes) is refused —
// the agent is gone, or an old report was put back on its tag.
// It judges the reports as they are when plan, to or run look, and never waits: `timeout` was
// accepted once and did nothing, so it is refused with what to use instead (docs/gates.md).

export interface ConvergedGateSpec {
  type: 'converged';
}

export function convergedEvidence(ctx: GateInput, upstream: UpstreamReports) {
  const byCluster = new Map(upstream.reports.map((r) => [r.cluster, r]));
  const maxAge = ctx.reportMaxAgeMs ?? DEFAULT_REPORT_MAX_AGE.maxAgeMs;
  return upstream.clusters.map((cluster) => {
    const r = byCluster.get(cluster);
    if (!r) return { cluster, ok: false, phase: 'NoReport', why: 'no status report from this cluster' };
    if (r.verified === false) return { cluster, ok: false, phase: r.phase, why: r.phase === 'Refused' && r.reason ? `status report not counted: ${r.reason}` : 'status report signature not trusted' };
    const age = ctx.now.getTime() - Date.parse(r.observedAt);
    if (!(Math.abs(age) <= maxAge)) {
      const when = Number.isNaN(age) ? `has an unreadable observedAt ${JSON.stringify(r.observedAt)}` : age > 0 ? `was observed ${formatDuration(age)} ago` : `claims to be observed ${formatDuration(-age)} in the future`;
      return { cluster, ok: false, phase: r.phase, observedAt: r.observedAt, stale: true, why: `the report ${when}, outside reports.maxAge ${formatDuration(maxAge)}: the agent stopped reporting, or an old report was put back on its tag` };
    }
    if (r.bundle !== ctx.candidate) return { cluster, ok: false, phase: r.phase, bundle: r.bundle, why: 'runs another bundle' };
    if (r.phase !== 'Converged') return { cluster, ok: false, phase: r.phase, bundle: r.bundle, since: r.since, why: r.reason ?? `phase is ${r.phase}` };
    // Same bundle is not yet the same desired state: a configuration change rolls out the bundle
    // a cluster already runs, whose report from before the change must not count for the new one.
    const want = upstream.parameters?.[cluster];
    if (upstream.parameters && r.parameters !== want) {
      const why = r.parameters === undefined ? 'the report does not say which parameters the bundle runs with (an agent before waves): it proves nothing about this record' : 'runs the bundle with other parameters than the record\'s (a report from before the configuration change)';
      return { cluster, ok: false, phase: r.phase, bundle: r.bundle, since: r.since, why };
    }
    return { cluster, ok: true, phase: r.phase, bundle: r.bundle, since: r.since, observedAt: r.observedAt };
  });
}


export const convergedGate: GateKind<ConvergedGateSpec, 'upstreamReports'> = {
  type: 'converged',
  schema: {
    type: 'object',
    additionalProperties: false,
    description: 'Every cluster of the `from` stage reports Converged on the digest.',
    properties: {
      timeout: { deprecated: true, description: 'Refused: converged never waits. Remove it; promote run retries every --interval, and soak asks for time healthy upstream.' },
    },
  },
  facts: ['upstreamReports'],
  upstream: { judges: 'converge on' },
  beyondSchema: ['gate-converged-timeout'],
  parse(raw, pointer, report) {
    const value = raw === null || raw === undefined ? {} : raw;
    const keys = typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : undefined;
    const timeout = (value as { timeout?: unknown }).timeout;
    if (!keys || keys.some((k) => k !== 'timeout')) {
      report(pointer, { message: 'converged takes no settings', rule: 'gate-converged', expected: '{} (or just `converged`)', actual: JSON.stringify(raw) });
      return undefined;
    }
    if (timeout !== undefined) {
      report(`${pointer}/timeout`, {
        message: 'converged has no timeout: the gate judges the upstream reports as they are when promote plan, to or run looks, and never waits',
        rule: 'gate-converged-timeout',
        actual: JSON.stringify(timeout),
        hint: 'remove timeout; promote run retries every --interval until the gate passes, and a soak gate (e.g. soak: 10m) asks for time healthy upstream',
      });
      return undefined;
    }
    return { type: 'converged' };
  },
  title: () => 'converged',
  async evaluate(_spec, ctx) {
    const clusters = convergedEvidence(ctx, await ctx.upstreamReports());
    const ok = clusters.filter((c) => c.ok).length;
    const passed = clusters.length > 0 && ok === clusters.length;
    let summary: string;
    if (clusters.length === 0) summary = `stage ${ctx.from ?? '(none)'} has no clusters to report`;
    else if (passed) summary = `${ok}/${clusters.length} clusters of ${ctx.from} Converged on ${shortDigest(ctx.candidate)}`;
    else {
      const bad = clusters.filter((c) => !c.ok).map((c) => `${c.cluster}: ${c.why}`);
      summary = `${ok}/${clusters.length} clusters of ${ctx.from} Converged on ${shortDigest(ctx.candidate)} (${bad.join('; ')})`;
    }
    return { gate: 'converged', type: 'converged', passed, summary, evidence: { from: ctx.from, clusters } };
  },
};
