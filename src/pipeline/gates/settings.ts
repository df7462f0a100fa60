import { appendPointer } from '../../params/pointer.ts';
import type { ReportProblem } from '../gate.ts';

/**
 * Reports each setting of a gate's mapping that its kind does not take, at the setting's own
 * pointer (escaped: a key may hold `/` or `~`); true when there is none.
 */
export function checkSettings(value: Record<string, unknown>, kind: string, allowed: readonly string[], pointer: string, report: ReportProblem, expected = allowed.join(', ')): boolean {
  const unknown = Object.keys(value).filter((key) => !allowed.includes(key));
  for (const key of unknown) report(appendPointer(pointer, key), { message: `unknown ${kind} setting "${key}"`, rule: 'additionalProperties', expected });
  return !unknown.length;
}
