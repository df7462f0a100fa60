import { formatDuration, parseDuration } from '../duration.ts';
import type { GateKind } from '../gate.ts';
import { convergedEvidence } from './converged.ts';
import { shortDigest } from '../../short-digest.ts';

// `soak: 15m`: every upstream cluster has been healthy on this digest for at least that long,
// measured from the `since` of its status report (when it became Converged on this bundle), not
// from when the promotion happened: a cluster that flapped restarts the clock.

export interface SoakGateSpec {
  type: 'soak';
  /** As written, e.g. `15m`. */
  duration: string;
  milliseconds: number;
}

export const soakGate: GateKind<SoakGateSpec, 'upstreamReports'> = {
  type: 'soak',
  schema: { $ref: '#/$defs/duration', description: 'How long the digest must have run converged in the `from` stage.' },
  facts: ['upstreamReports'],
  upstream: { judges: 'soak' },
  parse(raw, pointer, report) {
    const text = typeof raw === 'string' ? raw : typeof raw === 'object' && raw !== null && 'duration' in raw ? (raw as { duration: unknown }).duration : raw;
    const ms = typeof text === 'string' ? parseDuration(text) : undefined;
    if (ms === undefined || ms <= 0) {
      report(pointer, { message: 'soak needs a positive duration', rule: 'gate-soak', expected: 'a duration such as 30s, 15m, 1h or 1h30m', actual: JSON.stringify(raw) });
      return undefined;
    }
    return { type: 'soak', duration: String(text).trim(), milliseconds: ms };
  },
  title: (spec) => `soak ${spec.duration}`,
  async evaluate(spec, ctx) {
    const need = spec.milliseconds;
    const clusters = convergedEvidence(ctx, await ctx.upstreamReports()).map((c) => {
      if (!c.ok || !c.since) return { cluster: c.cluster, ok: false, why: c.why ?? 'not Converged' };
      const since = Date.parse(c.since);
      if (Number.isNaN(since)) return { cluster: c.cluster, ok: false, why: `report has an unreadable since: ${c.since}` };
      const healthyFor = Math.max(0, ctx.now.getTime() - since);
      const remaining = need - healthyFor;
      return {
        cluster: c.cluster,
        ok: remaining <= 0,
        since: c.since,
        healthyFor: formatDuration(healthyFor),
        ...(remaining > 0 && { why: `healthy for ${formatDuration(healthyFor)}, ${formatDuration(remaining)} to go`, passesAt: new Date(since + need).toISOString() }),
      };
    });
    const passed = clusters.length > 0 && clusters.every((c) => c.ok);
    const gate = `soak ${spec.duration}`;
    let summary: string;
    if (passed) {
      const least = Math.min(...clusters.map((c) => ctx.now.getTime() - Date.parse('since' in c ? c.since : '')));
      summary = `all ${clusters.length} clusters of ${ctx.from} healthy on ${shortDigest(ctx.candidate)} for at least ${formatDuration(least)} (need ${spec.duration})`;
    } else if (clusters.length === 0) {
      summary = `stage ${ctx.from ?? '(none)'} has no clusters to report`;
    } else {
      summary = `not soaked for ${spec.duration}: ${clusters.filter((c) => !c.ok).map((c) => `${c.cluster}: ${c.why}`).join('; ')}`;
    }
    return { gate, type: 'soak', passed, summary, evidence: { from: ctx.from, required: spec.duration, clusters } };
  },
};
