import { stringify as stringifyYaml } from 'yaml';
import { canonicalJson } from '../oci/canonical-json.ts';
import type { StageState } from './stage-file.ts';

// What a ledger commit says: the stage file's new content and the commit message (subject,
// body, trailers) a mutation asks for, rendered deterministically.

/** What a mutation wants committed. */
export interface LedgerChange {
  state: StageState;
  /** First line of the commit message. */
  subject: string;
  body?: string;
  /** In order; a key may repeat (one `Gate-Evidence:` per gate). */
  trailers: [string, string][];
}

/**
 * Computes the change from the stage's state at the tip (`base`) the commit will be built on.
 * Called again after every lost race; throws (a PromoteError) to refuse, returns undefined when
 * there is nothing to commit.
 */
export type Mutation = (current: StageState | undefined, attempt: number, base: string | undefined) => LedgerChange | undefined | Promise<LedgerChange | undefined>;

/** Deterministic YAML: sorted keys, so a stage file's diff shows only what changed. */
export function renderStageState(state: StageState): string {
  return `# Written by promote: the current state of stage ${state.stage} of pipeline ${state.pipeline}.\n# History: promote history ${state.stage} (git log of this file).\n${stringifyYaml(JSON.parse(canonicalJson(state)), { lineWidth: 0 })}`;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

export function commitMessage(change: LedgerChange): string {
  const parts = [oneLine(change.subject)];
  if (change.body?.trim()) parts.push(change.body.trim());
  if (change.trailers.length) parts.push(change.trailers.map(([k, v]) => `${k}: ${oneLine(v)}`).join('\n'));
  return `${parts.join('\n\n')}\n`;
}
