import { didYouMean } from '../params/did-you-mean.ts';
import type { ReportProblem } from './gate.ts';
import type { Stage } from './pipeline.ts';

// The stages of a pipeline as a graph: each stage comes `from` at most one other, every chain of
// `from` ends at a first stage.

/** Upstream references and cycles. */
export function checkGraph(stages: Stage[], report: ReportProblem): void {
  const index = new Map<string, number>();
  stages.forEach((s, i) => {
    if (s.name && !index.has(s.name)) index.set(s.name, i);
  });
  const names = [...index.keys()];
  stages.forEach((s, i) => {
    const at = `/spec/stages/${i}`;
    if (s.from === undefined) return;
    if (s.from === s.name) report(`${at}/from`, { message: `stage "${s.name}" names itself as from`, rule: 'graph-cycle', hint: 'from is the stage a bundle comes from: the one before this' });
    else if (!index.has(s.from)) {
      const near = didYouMean(s.from, names);
      report(`${at}/from`, { message: `stage "${s.name}" comes from "${s.from}", which is not a stage of this pipeline`, rule: 'graph-from-exists', expected: `one of ${names.join(', ')}`, ...(near && { hint: `did you mean "${near}"?` }) });
    }
  });
  // Each stage has at most one `from`, so following `from` links from any stage either ends at
  // a first stage or enters a cycle; report each cycle once, at its first stage in the file.
  const reported = new Set<string>();
  stages.forEach((s) => {
    const path: string[] = [];
    let cur: Stage | undefined = s;
    while (cur && !path.includes(cur.name)) {
      path.push(cur.name);
      cur = cur.from !== undefined && cur.from !== cur.name ? stages[index.get(cur.from) ?? -1] : undefined;
    }
    if (!cur) return;
    const cycle = path.slice(path.indexOf(cur.name));
    if (cycle.some((n) => reported.has(n)) || cycle.length < 2) return;
    cycle.forEach((n) => reported.add(n));
    const first = Math.min(...cycle.map((n) => index.get(n)!));
    const start = stages[first]!.name;
    const ordered = [...cycle.slice(cycle.indexOf(start)), ...cycle.slice(0, cycle.indexOf(start)), start];
    report(`/spec/stages/${first}/from`, { message: `stages form a cycle: ${ordered.join(' ← ')}`, rule: 'graph-cycle', hint: 'every chain of from must end at a first stage that has no from' });
  });
}
