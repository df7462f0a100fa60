import type { SerializedBundle } from '@sigstore/bundle';
import type { Approval } from '../pipeline/gate.ts';
import type { Pipeline, Stage } from '../pipeline/pipeline.ts';
import type { PromotionRecord } from '../records/promotion-record.ts';

// The ledger's stage file, `promotions/<pipeline>/<stage>.yaml`: the stage's current record
// (records/promotion-record.ts) with its digest and signed statement, its hold and approvals.

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
  statement?: SerializedBundle;
  /** The last hold/release; absent means "as the pipeline says" (stage.hold). */
  hold?: HoldState;
  approvals: Approval[];
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
