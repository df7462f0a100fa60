import { PromoteError } from '../errors.ts';

// How deeply a JSON (or YAML) value read from a bundle, a registry, a layout or a project file may
// nest. The code that works on such values — ajv compiling a schema, promote's schema rules,
// JSON.stringify, canonical JSON, structuredClone — recurses, and a document nested 20,000 levels
// deep (a few dozen KiB) would end in "Maximum call stack size exceeded" (issue 12 §15). The check
// here is iterative and runs right after parsing, before anything recurses. Real documents stay
// far below: a parameter schema nests a few levels per parameter level, a Kubernetes CRD ~30.

export const MAX_DOCUMENT_DEPTH = 128;

/**
 * The JSON pointer of the first place `value` nests deeper than `max` levels, or undefined.
 * Iterative (an explicit stack), so it cannot overflow the call stack itself.
 */
export function tooDeepAt(value: unknown, max = MAX_DOCUMENT_DEPTH): string | undefined {
  const stack: [unknown, number, string][] = [[value, 0, '']];
  while (stack.length) {
    const [v, depth, pointer] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return pointer;
    const entries: [string, unknown][] = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
    for (const [k, child] of entries) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`]);
    }
  }
  return undefined;
}

/** Throws DOCUMENT_TOO_DEEP (exit 4) naming `what` and where it goes too deep. */
export function checkDepth(value: unknown, what: string, max = MAX_DOCUMENT_DEPTH): void {
  const at = tooDeepAt(value, max);
  if (at === undefined) return;
  const shown = at.length > 120 ? `${at.slice(0, 120)}…` : at;
  throw new PromoteError('DOCUMENT_TOO_DEEP', `${what} nests more than ${max} levels deep (at ${shown})`, {
    outcome: 'verification',
    hint: `promote refuses documents nested deeper than ${max} levels (a fixed limit, README "Limits"): flatten the structure, or define a recursive shape once with $defs and $ref`,
    details: { pointer: at.slice(0, 1000), limit: max },
  });
}
