import type { Gate, GateKind } from '../gate.ts';
import type { GateSpec } from '../pipeline.ts';
import { approvalGate } from './approval.ts';
import { convergedGate } from './converged.ts';
import { manualGate } from './manual.ts';
import { soakGate } from './soak.ts';
import { windowGate } from './window.ts';

// Every gate kind by the key it is written under in a pipeline's `gates:` list.
export const GATE_KINDS: Record<GateSpec['type'], GateKind> = {
  converged: convergedGate as GateKind,
  soak: soakGate as GateKind,
  approval: approvalGate as GateKind,
  window: windowGate as GateKind,
  manual: manualGate as GateKind,
};

export function createGate(spec: GateSpec): Gate {
  return GATE_KINDS[spec.type].create(spec);
}
