import type { Problem } from '../errors.ts';
import type { GateResult } from '../records/gate-result.ts';
import type { StatusObservation } from '../records/status-report.ts';
import type { TrustSpec } from './pipeline.ts';

export type { GateResult, StatusObservation };

// A gate is a judgement: given the candidate, the clock and the facts it asks for through a small
// context (status reports, approvals; fetched once per plan by the engine, plain data in tests),
// it says pass or fail and *why*, with the evidence a reviewer would want to see in the ledger
// (cdk8s' validation-plugin contract, its facts behind an interface).

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
  /** The signed approval statement (Sigstore bundle JSON: DSSE, in-toto; records/approval.ts); absent when unsigned. */
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

/** The upstream stage's clusters and what each last reported. */
export interface UpstreamReports {
  /** Clusters of the upstream stage's environment: each must report. */
  clusters: string[];
  /** Latest status report per cluster of the upstream stage. */
  reports: StatusObservation[];
  /**
   * Per cluster, the parameters digest (status report `parameters`) a Converged report must
   * name to count: given for a wave release, whose record may change only the parameters.
   */
  parameters?: Record<string, string>;
}

/** The approvals recorded for the stage (any bundle: gates filter by candidate), checked by the engine. */
export interface StageApprovals {
  /** The pipeline has trust.approvers: only approvals whose signature verified (`check`) count. */
  signed: boolean;
  approvals: Approval[];
}

/**
 * Where a secret comes from (a bearer token, a header value): an environment variable of the
 * process running promote, or a file (relative to the project root). The pipeline names the
 * source, never the value; the value is read when a gate runs and never logged, recorded,
 * printed or put in evidence (secret-ref.ts parses it).
 */
export type SecretRef = { env: string } | { file: string };

/** A request a gate makes (http, metrics): bounded in time and size, always. */
export interface GateRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The whole exchange, connect to last byte. */
  timeoutMs: number;
  /** Larger bodies fail the request (GATE_RESPONSE_TOO_LARGE); default 1 MiB. */
  maxBytes?: number;
  /** PEM file (relative to the project root) of the CA that signs the server's certificate, for https. */
  caFile?: string;
}

export interface GateResponse {
  status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The body as text (UTF-8). */
  body: string;
}

/** One object of the manifests rendered for the candidate: where it came from, and the object. */
export interface RenderedObject {
  /** The bundle path of the file it was rendered into, e.g. `manifests/deployment.yaml`. */
  file: string;
  /** Its position among that file's documents (0-based). */
  index: number;
  object: Record<string, unknown>;
}

/** What the candidate renders to for one cluster of the stage, with the stage's parameters. */
export interface RenderedCluster {
  cluster: string;
  objects: RenderedObject[];
}

/**
 * The facts a gate may ask for. Each is fetched when a gate first asks and kept for the rest of
 * the plan (memoiseFacts), so a stage with converged and soak reads the registry once and a stage
 * whose gates need nothing reads nothing. The engine implements it (promotion/); a test passes
 * plain data. A kind names the facts it asks for (GateKind.facts) and sees only those.
 */
export interface GateFacts {
  upstreamReports(): Promise<UpstreamReports>;
  /**
   * The stage's own clusters (those of its current record) and what each last reported: what a
   * wave release judges (docs/rollouts.md). For a wave plan the planner hands the upstream gate
   * kinds these, restricted to the released clusters, as their `upstreamReports`. Optional:
   * only a stage rolling out in waves asks.
   */
  stageReports?(): Promise<UpstreamReports>;
  approvals(): Promise<StageApprovals>;
  /**
   * A request to a server the pipeline names (http, metrics). Never throws for an HTTP status;
   * throws PromoteError GATE_UNREACHABLE (connection, DNS, TLS), GATE_TIMEOUT or
   * GATE_RESPONSE_TOO_LARGE, whose messages never carry a secret.
   */
  fetch(url: string, request: GateRequest): Promise<GateResponse>;
  /** A secret's value; throws GATE_SECRET_MISSING (naming the variable or file, never a value). */
  secret(ref: SecretRef): Promise<string>;
  /**
   * The candidate rendered for every cluster of the stage with the stage's environment (what the
   * agents would apply), after its signature and parameters were verified; throws when the
   * candidate cannot be rendered.
   */
  rendered(): Promise<RenderedCluster[]>;
}

export type GateFactName = keyof GateFacts;

/** What a gate judges: one candidate entering one stage, now. */
export interface GateInput {
  pipeline: string;
  stage: string;
  /** The upstream stage, when the stage has one. */
  from?: string;
  /** The bundle digest being promoted. */
  candidate: string;
  /**
   * parametersDigest() of the values the candidate record would carry (records/promotion-record.ts):
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
  /** A report observed longer ago than this does not count (pipeline `reports.maxAge`; default DEFAULT_REPORT_MAX_AGE). */
  reportMaxAgeMs?: number;
  /**
   * The stage's `soak` gate duration, when it has one: the window a metrics gate without its
   * own `for:` judges (the time the candidate had to prove itself upstream).
   */
  soakMs?: number;
  /** `--force` with its reason: only the manual gate looks at it. */
  force?: { reason: string };
}

/** A kind's view of the plan: the input, and the facts it declared (`F`). */
export type GateContext<F extends GateFactName = GateFactName> = GateInput & Pick<GateFacts, F>;

/** Collects problems while parsing; `at` is a JSON pointer into the pipeline document. */
export type ReportProblem = (pointer: string, problem: Omit<Problem, 'pointer' | 'file' | 'line' | 'column'>) => void;

/** A JSON Schema (2020-12) fragment; `$ref`s point into schemas/pipeline.schema.json's `$defs`. */
export type SchemaFragment = Record<string, unknown>;

/**
 * One kind of gate, everything about it in one file under gates/ and listed once in
 * gates/kinds.ts: how it is written (parser and schema fragment: the gate part of
 * schemas/pipeline.schema.json is generated from these), what it needs, and how it judges.
 */
export interface GateKind<S extends { type: string } = { type: string }, F extends GateFactName = GateFactName> {
  /** The key the gate is written under in a stage's `gates:` list. */
  readonly type: S['type'];
  /** The JSON Schema of the value under that key. */
  readonly schema: SchemaFragment;
  /** The facts `evaluate` asks for; it is given only these. */
  readonly facts: readonly F[];
  /**
   * Set for a gate that judges how the candidate fared in the `from` stage: the loader refuses it
   * on a stage without one, and it does not apply to a change that keeps the bundle (a
   * configuration change, or none), where nothing new came from upstream. `judges` completes
   * "nothing new from upstream to …" in the plan.
   */
  readonly upstream?: { judges: string };
  /**
   * Loads what `parse` needs that is too heavy to load for every pipeline (the CEL library):
   * the loader awaits it before parsing a pipeline that uses the kind.
   */
  prepare?(): Promise<void>;
  /** Parses the value under the gate's key; reports every problem and returns undefined if any. */
  parse(raw: unknown, pointer: string, report: ReportProblem): S | undefined;
  /**
   * The rules of problems `parse` and `check` report that the JSON Schema cannot find (a real
   * timezone, a satisfiable count): the loader reports them even when the schema failed too.
   */
  readonly beyondSchema?: readonly string[];
  /** What the gate needs of the rest of the pipeline, checked once it is all read; reports what is wrong. */
  check?(spec: S, where: { stage: string; trust: TrustSpec; gates: readonly { type: string }[] }, pointer: string, report: ReportProblem): void;
  /** The gate as written, e.g. `soak 15m`: how plans, evidence and refusals name it. */
  title(spec: S): string;
  evaluate(spec: S, ctx: GateContext<F>): Promise<GateResult>;
}

/** Fetches each fact once, however many gates ask for it (a failed fetch is not retried either). */
export function memoiseFacts(facts: GateFacts): GateFacts {
  let reports: Promise<UpstreamReports> | undefined;
  let own: Promise<UpstreamReports> | undefined;
  let approvals: Promise<StageApprovals> | undefined;
  let rendered: Promise<RenderedCluster[]> | undefined;
  return {
    ...facts,
    upstreamReports: () => (reports ??= facts.upstreamReports()),
    ...(facts.stageReports && { stageReports: () => (own ??= facts.stageReports!()) }),
    approvals: () => (approvals ??= facts.approvals()),
    rendered: () => (rendered ??= facts.rendered()),
  };
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
