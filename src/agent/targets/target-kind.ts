import { PromoteError } from '../../errors.ts';
import type { Target } from '../target.ts';

// A kind of target, owning everything about itself: how `--target` names it, the options it
// takes (each one a flag of `promote agent`, with its --help line) and how it is built. The
// agent, the `agent` command's flags and help, and the demo all work from the list in kinds.ts,
// so a new kind is its own file plus one line there.

/** One option of a kind: `promote agent --<flag>`, passed to `open` under that flag's name. */
export interface TargetOption {
  type: 'string' | 'boolean';
  valueName?: string;
  /** The --help line. */
  description: string;
  /**
   * Refused with other kinds, with this hint (an option that would silently do nothing there is
   * a mistake worth stopping for).
   */
  refusedElsewhere?: string;
}

/** Option values by flag name, as the command line gave them (undefined or false when absent). */
export type TargetOptionValues = Readonly<Record<string, string | boolean | undefined>>;

export interface OpenTargetContext {
  /** Relative paths in the spec or in options are relative to this. */
  cwd: string;
  options: TargetOptionValues;
}

export interface TargetKind {
  /** `--target <scheme>`, or `--target <scheme>:<rest>` when the kind takes `rest`. */
  scheme: string;
  /** Named `<scheme>:<rest>` (a path, say); without it, by the bare scheme only. */
  takesRest?: boolean;
  /** How --help and usage lines write it, e.g. `dir:<path>`. */
  syntax: string;
  /** What the "unknown target" hint says after `--target` (default: the syntax). */
  hint?: string;
  /** Its paragraph in `promote agent --help`, wrapped to the help's width. */
  help: string;
  options: Record<string, TargetOption>;
  /** Builds the target; `rest` is what follows `<scheme>:` ('' for a kind without `takesRest`). */
  open(rest: string, context: OpenTargetContext): Promise<Target>;
}

export function targetUsage(message: string, hint: string): PromoteError {
  return new PromoteError('USAGE', message, { outcome: 'usage', hint });
}

/** A string option's value, or undefined. */
export function stringValue(values: TargetOptionValues, flag: string): string | undefined {
  const v = values[flag];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
