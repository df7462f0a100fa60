import { anyObject, boolean, literal, object, optional, string, type Check } from './json-fields.ts';

// One gate's verdict, as the planner returns it and the promotion record (ledger and signed
// statement) keeps it: one type for both, so what `plan` shows is what `to` signs.

export interface GateResult {
  /** The gate as written, e.g. `soak 15m`. */
  gate: string;
  /** The gate's kind (`converged`, `soak`, `approval`, `window`, `manual`, …): a string on the wire, so a record may name a kind this version does not know. */
  type: string;
  passed: boolean;
  /** One line for humans: what was found. */
  summary: string;
  /**
   * The facts behind the verdict, recorded in the ledger and the promotion record. `findings`,
   * when a kind sets it, is a list of one-line strings the plan prints under the gate (each
   * violating object and rule, each failing sample): kept inside evidence so records stay
   * readable by versions that do not know it.
   */
  evidence: Record<string, unknown>;
  /** Set when a failing gate was overridden with --force (the reason is in the record). */
  overridden?: boolean;
  /**
   * Set (false) when the gate does not apply to this change and was not evaluated: a gate that
   * judges what came from upstream (GateKind.upstream), for a change that keeps the bundle.
   */
  applicable?: false;
}

export const gateResult: Check<GateResult> = object<GateResult>({
  gate: string,
  type: string,
  passed: boolean,
  summary: string,
  evidence: anyObject,
  overridden: optional(boolean),
  applicable: optional(literal(false)),
});
