import type { GateFactName, GateKind } from '../gate.ts';
import { approvalGate } from './approval.ts';
import { convergedGate } from './converged.ts';
import { httpGate } from './http.ts';
import { manualGate } from './manual.ts';
import { metricsGate } from './metrics.ts';
import { policyGate } from './policy.ts';
import { soakGate } from './soak.ts';
import { windowGate } from './window.ts';

// Every gate kind, once. The loader parses with it, the planner evaluates with it, and
// `npm run gen:schemas` writes the gate part of schemas/pipeline.schema.json from it (in this
// order). A new kind is its own file under gates/ and a line here.
export const GATE_KINDS = [convergedGate, soakGate, approvalGate, windowGate, manualGate, httpGate, metricsGate, policyGate] as const;

/** A gate as the pipeline declares it: the spec of one of the kinds. */
export type GateSpec = NonNullable<ReturnType<(typeof GATE_KINDS)[number]['parse']>>;

/** Any of the kinds: each takes its own spec, which the lookup by `type` guarantees. */
export type AnyGateKind = GateKind<GateSpec, GateFactName>;

const byType = new Map<string, AnyGateKind>(GATE_KINDS.map((k) => [k.type, k as unknown as AnyGateKind]));

/** The kind a gate is written as, by its key in the `gates:` list; undefined for no kind. */
export function gateKind(type: string): AnyGateKind | undefined {
  return byType.get(type);
}
