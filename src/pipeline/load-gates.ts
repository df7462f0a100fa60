import { didYouMean } from '../params/did-you-mean.ts';
import type { ReportProblem } from './gate.ts';
import { isMap } from './document-shapes.ts';
import { GATE_KINDS, gateKind, type GateSpec } from './gates/kinds.ts';
import type { Stage, TrustSpec } from './pipeline.ts';

// A stage's `gates:` list. Each item is one gate kind, written `{<kind>: <value>}` or as the bare
// kind name; the kind parses its value (gates/kinds.ts). What a gate needs of the rest of the
// pipeline is checked once every stage is read: an upstream stage, or what the kind checks itself.

export interface ParsedGate {
  spec: GateSpec;
  /** The list item, `/spec/stages/0/gates/1`. */
  at: string;
  /** The kind's value, `/spec/stages/0/gates/1/soak` (the item itself for a bare kind name). */
  pointer: string;
}

/**
 * Awaits `prepare` of every kind the document's stages use, so the synchronous parse can use
 * what it loads (gate.ts); a pipeline without such a gate loads nothing more.
 */
export async function prepareGateKinds(doc: unknown): Promise<void> {
  const stages = isMap(doc) && isMap(doc.spec) && Array.isArray(doc.spec.stages) ? doc.spec.stages : [];
  const types = new Set<string>();
  const lists = stages.flatMap((stage) => {
    if (!isMap(stage)) return [];
    const waves = isMap(stage.rollout) && Array.isArray(stage.rollout.waves) ? stage.rollout.waves : [];
    return [stage.gates, ...waves.map((w: unknown) => (isMap(w) && isMap(w.after) ? w.after.gates : undefined))];
  });
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const g of list) {
      if (typeof g === 'string') types.add(g);
      else if (isMap(g)) for (const k of Object.keys(g)) types.add(k);
    }
  }
  await Promise.all([...types].map((t) => gateKind(t)?.prepare?.()));
}

export function parseGates(raw: unknown, at: string, report: ReportProblem): ParsedGate[] {
  const gates: ParsedGate[] = [];
  if (raw !== undefined && !Array.isArray(raw)) report(`${at}/gates`, { message: 'gates must be a list', rule: 'type', expected: 'e.g. [{converged: {}}, {soak: 15m}]' });
  else if (Array.isArray(raw)) {
    raw.forEach((g: unknown, j: number) => {
      const gat = `${at}/gates/${j}`;
      let type: string | undefined;
      let value: unknown;
      if (typeof g === 'string') type = g;
      else if (isMap(g) && Object.keys(g).length === 1) [[type, value]] = Object.entries(g) as [[string, unknown]];
      const kind = type ? gateKind(type) : undefined;
      if (!type || !kind) {
        const types = GATE_KINDS.map((k) => k.type);
        const near = type ? didYouMean(type, types) : undefined;
        report(gat, { message: type ? `unknown gate "${type}"` : 'a gate is a one-key mapping', rule: 'gate-type', expected: `one of ${types.join(', ')}`, ...(near && { hint: `did you mean "${near}"?` }) });
        return;
      }
      const pointer = typeof g === 'string' ? gat : `${gat}/${type}`;
      const spec = kind.parse(value, pointer, report);
      if (spec) gates.push({ spec, at: gat, pointer });
    });
  }
  return gates;
}

export function checkGates(stage: Stage, gates: ParsedGate[], trust: TrustSpec, report: ReportProblem): void {
  for (const { spec, at, pointer } of gates) {
    const kind = gateKind(spec.type)!;
    if (kind.upstream && stage.from === undefined) {
      report(at, { message: `stage "${stage.name}" has no from stage, so its ${spec.type} gate has nothing to observe`, rule: 'gate-needs-from', hint: 'add from: <upstream stage>, or remove the gate' });
    }
    kind.check?.(spec, { stage: stage.name, trust, gates: stage.gates }, pointer, report);
  }
}
