import type { GateContext, GateFactName, GateFacts, GateInput, GateResult } from '../gate.ts';
import { gateKind, type GateSpec } from './kinds.ts';
import { shortDigest } from '../../short-digest.ts';

// Judging a stage's gates, in the order the pipeline lists them. Each kind is given the facts it
// declared and nothing else; a kind that judges what came from upstream is not judged when the
// bundle does not change, and the plan says why instead.

export interface GateRun {
  input: GateInput;
  /** Memoised (memoiseFacts): every fact is fetched at most once for all the gates. */
  facts: GateFacts;
  /**
   * The candidate is the bundle the stage runs already: `configuration` when its parameters
   * change, `none` when nothing does. Upstream gates do not apply then.
   */
  unchangedBundle?: 'configuration' | 'none';
}

export async function evaluateGates(specs: readonly GateSpec[], run: GateRun): Promise<GateResult[]> {
  const results: GateResult[] = [];
  for (const spec of specs) {
    const kind = gateKind(spec.type);
    if (!kind) throw new Error(`no gate kind "${spec.type}" (the loader admits only listed kinds)`);
    if (kind.upstream && run.unchangedBundle) {
      results.push(notApplicable(kind.title(spec), spec.type, kind.upstream.judges, run.input.candidate, run.unchangedBundle === 'configuration'));
      continue;
    }
    const facts = Object.fromEntries((kind.facts as readonly GateFactName[]).map((f) => [f, run.facts[f]]));
    // Only the declared facts: GateKind<S, F> types evaluate's context to them, and this keeps it so at run time.
    results.push(await kind.evaluate(spec, { ...run.input, ...facts } as GateContext));
  }
  return results;
}

function notApplicable(gate: string, type: GateSpec['type'], judges: string, candidate: string, configuration: boolean): GateResult {
  const bundle = shortDigest(candidate);
  const summary = configuration
    ? `not applicable to a configuration change: the bundle (${bundle}) did not change, so there is nothing new from upstream to ${judges}`
    : `not applicable: the stage already runs ${bundle}`;
  return { gate, type, passed: true, applicable: false, summary, evidence: { applicable: false, reason: configuration ? 'configuration-change' : 'up-to-date', bundle: candidate } };
}
