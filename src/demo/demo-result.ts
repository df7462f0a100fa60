// What `promote demo` returns: the steps of the story, the releases, the state it left (shown
// as text by demo-text.ts, as JSON with --output json).

export interface DemoStep {
  at: string;
  step: string;
  /** `ok`, or `refused` for the refusals the story expects. */
  result: 'ok' | 'refused';
  detail: string;
  ms: number;
}

export interface DemoRelease {
  version: string;
  digest: string;
  reference: string;
  change?: string;
}

export interface StatusRow {
  stage: string;
  cluster: string;
  /** Bundle digest of the stage's promotion record. */
  desired?: string;
  desiredVersion?: string;
  observed?: string;
  phase: string;
  since?: string;
  reason?: string;
}

export interface DemoResult {
  project: string;
  pipeline: string;
  repository: string;
  ledger: string;
  clusters: Record<string, string>;
  keys: { ci: string; promoter: string; agent: string; approver: string; password: 'PROMOTE_PASSWORD' | 'COSIGN_PASSWORD' | 'demo' };
  releases: DemoRelease[];
  steps: DemoStep[];
  /** The bundle digest each stage's record names at the end. */
  stages: Record<string, string>;
  drift: { cluster: string; file: string; detected: string; corrected: boolean };
  /** The last stage back to the first release: refused, then forced with a reason, when its gates refuse it. */
  rollback: { stage: string; from: string; to: string; refusedWithoutForce?: string; reason?: string };
  status: StatusRow[];
  /** The table `promote status` prints, when the demo ran on the pipeline's own repository. */
  statusText?: string;
  next: string[];
  wallMs: number;
}
