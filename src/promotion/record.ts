import type { Approval, GateResult } from '../pipeline/gate.ts';
import type { Pipeline, Stage } from '../pipeline/pipeline.ts';
import { canonicalJson } from '../oci/canonical-json.ts';
import { sha256Digest } from '../oci/digest.ts';

export { canonicalJson };

// The promotion record: the immutable fact "bundle D, with parameters P, entered stage S at
// time T, by X, because gates G passed". The same object is the stage file's `record` in the
// git ledger and the predicate of the signed in-toto statement (kept beside it in the stage file
// and published in the registry); its digest (sha256 of its canonical JSON) ties them together.

/** `configure`: the same bundle with new parameters (a configuration change, DESIGN.md §4b). */
export type PromotionAction = 'promotion' | 'rollback' | 'auto' | 'configure';

/** The ledger actions that put a record in a stage (the others: approval, hold, release). */
export const RECORD_ACTIONS: readonly string[] = ['promotion', 'rollback', 'auto', 'configure'];

export interface PromotionRecord {
  apiVersion: 'promote/v1';
  kind: 'PromotionRecord';
  pipeline: string;
  stage: string;
  environment: string;
  action: PromotionAction;
  bundle: { repository: string; digest: string };
  from?: string;
  /** The environment's parameters as validated against the bundle's schema. */
  parameters: Record<string, unknown>;
  /** Every cluster of the environment with its effective (merged) parameters. */
  clusters: { name: string; parameters: Record<string, unknown> }[];
  promotedBy: string;
  promotedAt: string;
  gates: GateResult[];
  force?: { reason: string };
  /** Digest of the record this one replaced in the stage. */
  previous?: string;
  /** 1 for a stage's first promotion, previous + 1 after. */
  sequence: number;
}

export interface HoldState {
  held: boolean;
  by: string;
  at: string;
  reason?: string;
}

/** `promotions/<pipeline>/<stage>.yaml`: the current state of one stage. */
export interface StageState {
  apiVersion: 'promote/v1';
  kind: 'StageLedger';
  pipeline: string;
  stage: string;
  record?: PromotionRecord;
  recordDigest?: string;
  /**
   * The signed promotion statement of `record` (Sigstore bundle JSON), signed before the commit:
   * what the registry publishes, byte for byte, and what proves `record` (signed-record.ts).
   */
  statement?: import('@sigstore/bundle').SerializedBundle;
  /** The last hold/release; absent means "as the pipeline says" (stage.hold). */
  hold?: HoldState;
  approvals: Approval[];
}

export function recordDigest(record: PromotionRecord): string {
  return sha256Digest(canonicalJson(record));
}

/**
 * The second half of a stage's desired state (bundle digest, parameters digest): the
 * environment's values and every cluster's merged values, as `promote to` would record them.
 * A change of it with the same bundle is a configuration change (DESIGN.md §4b); approvals bind it.
 */
export function parametersDigest(values: Pick<PromotionRecord, 'parameters' | 'clusters'>): string {
  return sha256Digest(canonicalJson({ parameters: values.parameters, clusters: values.clusters }));
}

export function emptyStageState(pipeline: string, stage: string): StageState {
  return { apiVersion: 'promote/v1', kind: 'StageLedger', pipeline, stage, approvals: [] };
}

/** The hold in force: the ledger's last hold/release, else `hold: true` in the pipeline; undefined when not held. */
export function activeHold(pipeline: Pipeline, stage: Stage, state: StageState | undefined): Omit<HoldState, 'held'> | undefined {
  const hold = state?.hold ?? (stage.initialHold ? { held: true, by: `pipeline ${pipeline.file}`, at: '(hold: true in the pipeline)' } : undefined);
  return hold?.held ? { by: hold.by, at: hold.at, ...(hold.reason && { reason: hold.reason }) } : undefined;
}

export function stagePath(pipeline: string, stage: string): string {
  return `promotions/${pipeline}/${stage}.yaml`;
}
