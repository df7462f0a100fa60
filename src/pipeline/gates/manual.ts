import type { GateKind } from '../gate.ts';

// `manual`: a stage that a person must push through deliberately. It never passes on its own;
// `--force` with a reason passes it, and the reason becomes part of the record.

export interface ManualGateSpec {
  type: 'manual';
}

export const manualGate: GateKind<ManualGateSpec, never> = {
  type: 'manual',
  schema: { type: 'object', additionalProperties: false, description: 'Never automatic: only `promote to` enters this stage.', properties: {} },
  facts: [],
  parse(raw, pointer, report) {
    if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw) || Object.keys(raw).length > 0)) {
      report(pointer, { message: 'manual takes no settings', rule: 'gate-manual', expected: '{} (or just `manual`)', actual: JSON.stringify(raw) });
      return undefined;
    }
    return { type: 'manual' };
  },
  title: () => 'manual',
  async evaluate(_spec, ctx) {
    if (ctx.force?.reason.trim()) {
      return { gate: 'manual', type: 'manual', passed: true, summary: `forced by ${ctx.promoter}: ${ctx.force.reason}`, evidence: { forcedBy: ctx.promoter, reason: ctx.force.reason } };
    }
    return { gate: 'manual', type: 'manual', passed: false, summary: 'manual gate: needs --force with --reason', evidence: {} };
  },
};
