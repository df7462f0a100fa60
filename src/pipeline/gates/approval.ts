import type { Gate, GateContext, GateKind, GateResult } from '../gate.ts';
import { identityKey, identityMatches } from '../gate.ts';
import type { ApprovalGateSpec } from '../pipeline.ts';
import { short } from './converged.ts';

// `approval: {count: 2, from: [alice@example.com, bob], separateDuties: true}`: at least `count`
// distinct people approved *this digest* for this stage. The same person approving twice counts
// once; with separateDuties the promoter's own approval does not count (four-eyes principle).

class ApprovalGate implements Gate {
  readonly spec: ApprovalGateSpec;
  constructor(spec: ApprovalGateSpec) {
    this.spec = spec;
  }

  evaluate(ctx: GateContext): GateResult {
    const { count, from, separateDuties } = this.spec;
    const counted = new Map<string, { by: string; at: string }>();
    const ignored: { by: string; why: string }[] = [];
    for (const a of ctx.approvals) {
      if (a.bundle !== ctx.candidate) continue;
      const key = identityKey(a.by);
      if (from && !from.some((w) => identityMatches(a.by, w))) {
        ignored.push({ by: a.by, why: 'not among the allowed approvers' });
      } else if (separateDuties && key === identityKey(ctx.promoter)) {
        ignored.push({ by: a.by, why: 'is the promoter (separateDuties)' });
      } else if (counted.has(key)) {
        ignored.push({ by: a.by, why: 'already approved (counted once)' });
      } else {
        counted.set(key, { by: a.by, at: a.at });
      }
    }
    const approvers = [...counted.values()];
    const passed = approvers.length >= count;
    const gate = `approval ${count}${from ? ` from [${from.join(', ')}]` : ''}${separateDuties ? ' separateDuties' : ''}`;
    const names = approvers.map((a) => a.by).join(', ');
    const summary = passed
      ? `${approvers.length}/${count} approvals of ${short(ctx.candidate)}: ${names}`
      : `${approvers.length}/${count} approvals of ${short(ctx.candidate)}${names ? ` (${names})` : ''}${ignored.length ? `; not counted: ${ignored.map((i) => `${i.by} ${i.why}`).join('; ')}` : ''}`;
    return { gate, type: 'approval', passed, summary, evidence: { required: count, ...(from && { from }), separateDuties, approvers, ignored } };
  }
}

export const approvalGate: GateKind<ApprovalGateSpec> = {
  type: 'approval',
  parse(raw, pointer, report) {
    const value = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : raw === null || raw === undefined ? {} : undefined;
    if (!value) {
      report(pointer, { message: 'approval takes a mapping', rule: 'gate-approval', expected: '{count: N, from?: [identities], separateDuties?: bool}', actual: JSON.stringify(raw) });
      return undefined;
    }
    let ok = true;
    for (const key of Object.keys(value)) {
      if (!['count', 'from', 'separateDuties'].includes(key)) {
        report(`${pointer}/${key}`, { message: `unknown approval setting "${key}"`, rule: 'additionalProperties', expected: 'count, from or separateDuties' });
        ok = false;
      }
    }
    const count = value.count ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
      report(`${pointer}/count`, { message: 'count must be a whole number of at least 1', rule: 'minimum', expected: 'integer >= 1', actual: JSON.stringify(count) });
      ok = false;
    }
    const from = value.from;
    if (from !== undefined && (!Array.isArray(from) || from.length === 0 || !from.every((f) => typeof f === 'string' && f.trim()))) {
      report(`${pointer}/from`, { message: 'from must be a non-empty list of identities (email or name)', rule: 'type', expected: 'list of strings', actual: JSON.stringify(from) });
      ok = false;
    }
    if (Array.isArray(from) && typeof count === 'number' && from.length < count) {
      report(`${pointer}/count`, { message: `needs ${count} distinct approvers but only ${from.length} are allowed`, rule: 'satisfiable', hint: 'add approvers to from, or lower count' });
      ok = false;
    }
    const separateDuties = value.separateDuties ?? false;
    if (typeof separateDuties !== 'boolean') {
      report(`${pointer}/separateDuties`, { message: 'separateDuties must be true or false', rule: 'type', expected: 'boolean', actual: JSON.stringify(separateDuties) });
      ok = false;
    }
    if (!ok) return undefined;
    return { type: 'approval', count: count as number, ...(from !== undefined && { from: from as string[] }), separateDuties: separateDuties as boolean };
  },
  create: (spec) => new ApprovalGate(spec),
};
