import type { Problem } from '../errors.ts';
import type { GateSpec } from './pipeline.ts';

// A gate is a pure judgement over plain data: the engine gathers the facts (status reports,
// approvals, the clock) first, then every gate says pass or fail and *why*, with the evidence a
// reviewer would want to see in the ledger (cdk8s' validation-plugin contract, made pure).

/** What one agent last reported for one cluster of a stage (src/promotion/status-reports.ts). */
export interface StatusObservation {
  cluster: string;
  phase: 'Progressing' | 'Converged' | 'Degraded' | 'Drifted' | 'Failed' | 'Refused' | string;
  /** Bundle digest the cluster runs. */
  bundle: string;
  /** Promotion record digest the agent converged on. */
  record?: string;
  /** When the cluster entered this phase on this bundle (ISO 8601). */
  since: string;
  /** When the agent made this observation (ISO 8601). */
  observedAt: string;
  reason?: string;
  /** False when the report's signature could not be verified; such a report never counts. */
  verified?: boolean;
  /** The report's number among its cluster's reports (agents count up, across restarts). */
  sequence?: number;
}

/**
 * An approval as the ledger holds it (`promote approve`). The ledger is untrusted storage: for a
 * pipeline with trust.approvers only `statement` counts, once the engine has verified it (`check`).
 */
export interface Approval {
  bundle: string;
  /** The approver's git identity, `Name <email>`: all an unsigned approval has, and nothing more than a claim. */
  by: string;
  at: string;
  comment?: string;
  /** parametersDigest() the approval binds (signed approvals). */
  parameters?: string;
  /** Fingerprint of the key that signed, as stored: to spot a repeated approval, never to count one. */
  signer?: string;
  /** The signed approval statement (Sigstore bundle JSON: DSSE, in-toto; signing/approval.ts); absent when unsigned. */
  statement?: unknown;
  /** Set by the engine from verifying `statement` against trust.approvers; whatever the ledger says here is discarded. */
  check?: ApprovalCheck;
}

/** The engine's verification of one approval: what a valid signature says it approves, by whom. */
export type ApprovalCheck =
  | {
      verified: true;
      pipeline: string;
      stage: string;
      bundle: string;
      parameters: string;
      /** Who signed, for people: the trust.approvers entry's name and email, else its key file. */
      approver: string;
      /** The signing key's fingerprint, or the keyless `subject (issuer)`: what separateDuties compares. */
      identity: string;
      /** What `from` may name: the entry's name, email, `Name <email>`, key file. */
      names: string[];
      /** One person, however many keys: the entry's email, else `identity`. */
      person: string;
    }
  | { verified: false; reason: string };

export interface GateContext {
  pipeline: string;
  stage: string;
  /** The upstream stage, when the stage has one. */
  from?: string;
  /** The bundle digest being promoted. */
  candidate: string;
  /**
   * parametersDigest() of the values the candidate record would carry (promotion/record.ts):
   * the other half of the desired state. Absent when the parameters were not resolved (e.g. an
   * unverified candidate); gates that bind it (approval) then count nothing.
   */
  parameters?: string;
  now: Date;
  /** Git identity of whoever promotes, `Name <email>`. */
  promoter: string;
  /**
   * The promoter's signing identity (key fingerprint, as in ApprovalCheck.identity), when known:
   * `promote to` knows it, `promote plan` without a key does not.
   */
  promoterKey?: string;
  /** The pipeline has trust.approvers: only approvals whose signature verified (`check`) count. */
  approvalsSigned?: boolean;
  /** Clusters of the upstream stage's environment: each must report. */
  fromClusters: string[];
  /** Latest status report per cluster of the upstream stage. */
  reports: StatusObservation[];
  /** A report observed longer ago than this does not count (pipeline `reports.maxAge`; default DEFAULT_REPORT_MAX_AGE). */
  reportMaxAgeMs?: number;
  /** Approvals recorded for this stage (any bundle: gates filter by candidate), checked by the engine. */
  approvals: Approval[];
  /** `--force` with its reason: only the manual gate looks at it. */
  force?: { reason: string };
}

export interface GateResult {
  /** The gate as written, e.g. `soak 15m`. */
  gate: string;
  type: GateSpec['type'];
  passed: boolean;
  /** One line for humans: what was found. */
  summary: string;
  /** The facts behind the verdict, recorded in the ledger and the promotion record. */
  evidence: Record<string, unknown>;
  /** Set when a failing gate was overridden with --force (the reason is in the record). */
  overridden?: boolean;
  /**
   * Set (false) when the gate does not apply to this change and was not evaluated: upstream
   * `converged`/`soak` for a configuration change, whose bundle did not come from upstream.
   */
  applicable?: false;
}

/** An instantiated gate: a spec from the pipeline plus the logic that judges it. */
export interface Gate {
  readonly spec: GateSpec;
  evaluate(ctx: GateContext): GateResult;
}

/** Collects problems while parsing; `at` is a JSON pointer into the pipeline document. */
export type ReportProblem = (pointer: string, problem: Omit<Problem, 'pointer' | 'file' | 'line' | 'column'>) => void;

/** One kind of gate: how it is written in a pipeline, and how it judges. One file each. */
export interface GateKind<S extends GateSpec = GateSpec> {
  readonly type: S['type'];
  /** Parses the value under the gate's key; reports every problem and returns undefined if any. */
  parse(raw: unknown, pointer: string, report: ReportProblem): S | undefined;
  create(spec: S): Gate;
}

/** Identities match on the whole `Name <email>`, the email alone, or the name alone. */
export function identityMatches(identity: string, wanted: string): boolean {
  const w = wanted.trim().toLowerCase();
  const id = identity.trim().toLowerCase();
  if (id === w) return true;
  const m = /^(.*?)\s*<([^>]*)>$/.exec(id);
  if (!m) return false;
  return m[1] === w || m[2] === w;
}

/** The key two identities are "the same person" under: the email when there is one. */
export function identityKey(identity: string): string {
  const m = /<([^>]+)>/.exec(identity);
  return (m ? m[1]! : identity).trim().toLowerCase();
}
