import type { Target } from '../target.ts';
import { TARGET_KINDS } from './kinds.ts';
import { targetUsage, type TargetKind, type TargetOption, type TargetOptionValues } from './target-kind.ts';

// `--target <spec>` → the kind that owns it → its target; and what the `agent` command shows of
// the kinds (flags, usage, help), derived from the same list so they cannot disagree.

export function findTargetKind(spec: string, kinds: readonly TargetKind[] = TARGET_KINDS): { kind: TargetKind; rest: string } | undefined {
  for (const kind of kinds) {
    if (kind.takesRest ? spec.startsWith(`${kind.scheme}:`) : spec === kind.scheme) {
      return { kind, rest: kind.takesRest ? spec.slice(kind.scheme.length + 1) : '' };
    }
  }
  return undefined;
}

/**
 * The kind `spec` names, with the options checked: an unknown target, or an option of another
 * kind that would do nothing here, is a usage error. Reads nothing, so the agent asks it before
 * it loads trust or reaches a registry.
 */
export function checkTargetSpec(spec: string, options: TargetOptionValues = {}, kinds: readonly TargetKind[] = TARGET_KINDS): { kind: TargetKind; rest: string } {
  const found = findTargetKind(spec, kinds);
  for (const other of kinds) {
    if (other === found?.kind) continue;
    for (const [flag, o] of Object.entries(other.options)) {
      const set = o.type === 'boolean' ? options[flag] === true : options[flag] !== undefined;
      if (o.refusedElsewhere && set) throw targetUsage(`--${flag} is for ${other.scheme}${other.takesRest ? ':' : ''} targets`, o.refusedElsewhere);
    }
  }
  if (!found) {
    throw targetUsage(`unknown target "${spec}"`, `use ${kinds.map((k) => `--target ${k.hint ?? k.syntax}`).join(' or ')}`);
  }
  return found;
}

/** Builds the target `spec` names, after checkTargetSpec. */
export async function openTarget(spec: string, context: { cwd: string; options?: TargetOptionValues }, kinds: readonly TargetKind[] = TARGET_KINDS): Promise<Target> {
  const options = context.options ?? {};
  const found = checkTargetSpec(spec, options, kinds);
  return await found.kind.open(found.rest, { cwd: context.cwd, options });
}

/** Every kind's options, by flag: what `promote agent` accepts besides its own. */
export function targetOptions(kinds: readonly TargetKind[] = TARGET_KINDS): Record<string, TargetOption> {
  return Object.fromEntries(kinds.flatMap((k) => Object.entries(k.options)));
}

/** `kubernetes|dir:<path>`, for usage lines. */
export function targetSyntax(kinds: readonly TargetKind[] = TARGET_KINDS): string {
  return kinds.map((k) => k.syntax).join('|');
}

/** The kinds' paragraphs for --help, one after the other. */
export function targetHelp(kinds: readonly TargetKind[] = TARGET_KINDS): string {
  return kinds.map((k) => k.help).join('\n');
}
