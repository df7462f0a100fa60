import type { NotifySpec } from '../notify/webhook-spec.ts';
import type { GateSpec } from './gates/kinds.ts';
import type { RolloutSpec } from './rollout.ts';

// The pipeline as the engine sees it: plain data, already validated by load.ts. Where each
// value came from (file:line) travels with it so a later check can still point at the source.
// Gate specs are the gate kinds' own (gates/kinds.ts).

export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
}

export interface Stage {
  name: string;
  environment: string;
  from?: string;
  /** The stage's own bundle repository (absolute for oci:), when not the pipeline's. */
  repository?: string;
  promotion: 'auto' | 'manual';
  /** `hold: true` in the pipeline: held until `promote release` records otherwise. */
  initialHold: boolean;
  gates: GateSpec[];
  /** `rollout:` — the stage's clusters released in waves (rollout.ts). */
  rollout?: RolloutSpec;
  source: SourceLocation;
}

/** A trusted signer: a public key file (as written: relative to the project root) or a Sigstore keyless identity. */
export type TrustEntry = { key: string } | { keyless: { issuer?: string; issuerRegExp?: string; subject?: string; subjectRegExp?: string } };

/** Who the holder of an approver key is (trust.approvers only): shown in evidence, matched by `from`. */
export interface Person {
  name?: string;
  email?: string;
}

export type ApproverEntry = TrustEntry & Person;

/**
 * Whom an agent key may report for (trust.agents only). Absent fields mean "every": a plain key
 * is a fleet-wide shared key, and any agent holding it can vouch for every cluster.
 */
export interface AgentScope {
  clusters?: string[];
  stages?: string[];
}

export type AgentEntry = TrustEntry & AgentScope;

export interface TrustSpec {
  /** Who may sign bundles. */
  bundles: TrustEntry[];
  /** Who may sign promotion records. */
  promotions: TrustEntry[];
  /** Who may sign status reports (agents), each optionally bound to clusters/stages; empty = the promotion signers. */
  agents: AgentEntry[];
  /** Who may sign approvals; empty = approvals are unsigned git commits, counted for `count` only. */
  approvers: ApproverEntry[];
}

export interface LedgerSpec {
  /** A git URL or a path (absolute once loaded). */
  repository: string;
  /** Default: the branch checked out in a local ledger, the remote's default branch otherwise. */
  branch?: string;
}

export interface Pipeline {
  name: string;
  /** The bundle repository: `host/repo` or `oci:<absolute path>`. */
  repository: string;
  ledger: LedgerSpec;
  trust: TrustSpec;
  /** `spec.reports`: how old a status report may be and still count for a gate (default DEFAULT_REPORT_MAX_AGE). */
  reports?: { maxAge: string; maxAgeMs: number };
  /** `spec.notify`: the receivers of the pipeline's events (docs/notifications.md). */
  notify?: NotifySpec[];
  stages: Stage[];
  /** The pipeline file, absolute. */
  file: string;
}

/**
 * Agents re-publish an unchanged status every 10 minutes (agent/reconcile.ts `reportEveryMs`):
 * three missed re-publishes and a report no longer counts — the agent is gone, or an old report
 * was put back on its tag.
 */
export const DEFAULT_REPORT_MAX_AGE = { maxAge: '30m', maxAgeMs: 30 * 60_000 };

export function findStage(pipeline: Pipeline, name: string): Stage | undefined {
  return pipeline.stages.find((s) => s.name === name);
}

/** Where a stage's bundles and records live: its own repository, else the pipeline's. */
export function stageRepository(pipeline: Pipeline, stage: Stage): string {
  return stage.repository ?? pipeline.repository;
}
