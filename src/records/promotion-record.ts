import { canonicalJson } from '../oci/canonical-json.ts';
import { sha256Digest } from '../oci/digest.ts';
import type { ContentReader } from '../oci/registry.ts';
import type { VerifiedStatement } from '../signing/attestation.ts';
import type { TrustPolicy } from '../signing/policy.ts';
import { gateResult, type GateResult } from './gate-result.ts';
import { checkRecordRollout, recordRolloutShape, type RecordRollout } from './rollout.ts';
import { FieldError, anyObject, arrayOf, count, invalidField, literal, object, optional, parseFields, string, type Check, type Fields } from './json-fields.ts';

// The promotion record, defined once: the immutable fact "bundle D, with parameters P, entered
// stage S at time T, by X, because gates G passed". The same object is the stage file's `record`
// in the git ledger and, with its parameters' digest, its own digest and its ledger, the predicate
// of the signed in-toto statement (kept beside it in the stage file and published in the
// registry at `promotion-<stage>`). The engine builds it, the agent and the engine read it back
// through parsePromotionPredicate; field reference: docs/attestations.md.

export const PROMOTION_PREDICATE_TYPE = 'https://promote.dev/attestation/promotion/v1';

/** On each record artefact: which record it carries. Only orders a search; the signature decides. */
export const RECORD_DIGEST_ANNOTATION = 'dev.promote.record.digest';

/** The tag that holds a stage's current record. */
export function promotionTag(stage: string): string {
  return `promotion-${stage}`;
}

const ACTIONS = ['promotion', 'rollback', 'auto', 'configure', 'wave'] as const;

/**
 * What put the record in its stage (also the ledger commit's action). `configure`: the same
 * bundle with new parameters (a configuration change, DESIGN.md §4b). `wave`: the same bundle and
 * parameters as the record before, released to the next wave of its rollout (rollout.ts). The planner's request verb
 * `promote` (plan --output json) becomes `promotion` here: recordAction().
 */
export type PromotionAction = (typeof ACTIONS)[number];

/** The ledger actions that put a record in a stage (the others: approval, hold, release). */
export const RECORD_ACTIONS: readonly string[] = ACTIONS;

/** The record's action for a planned change: the one mapping from the planner's vocabulary. */
export function recordAction(plan: { action: 'promote' | 'rollback' | 'auto'; change?: string }): PromotionAction {
  return plan.action === 'rollback' ? 'rollback' : plan.change === 'wave' ? 'wave' : plan.change === 'configuration' ? 'configure' : plan.action === 'auto' ? 'auto' : 'promotion';
}

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
  /**
   * For a stage with `rollout.waves`: which clusters this record is released to, and what the
   * others keep running (rollout.ts). Absent: every cluster runs the record (a rollback too).
   */
  rollout?: RecordRollout;
}

/** Where the record was committed: repository, branch and the commit it was built on. */
export interface LedgerLink {
  repository: string;
  branch: string;
  /** The branch tip the record's commit has as parent (absent for the ledger's first commit). */
  parent?: string;
}

/** Predicate of PROMOTION_PREDICATE_TYPE: the record, its parameters' digest, its own digest and its ledger. */
export interface PromotionPredicate extends Omit<PromotionRecord, 'parameters'> {
  parameters: { digest: string; values: Record<string, unknown> };
  /** Set on `promote rollback` records. */
  rollback?: true;
  recordDigest: string;
  /** Records signed after their commit (before the ledger kept statements) name the `commit` instead of its `parent`. */
  ledger: LedgerLink & { commit?: string };
}

export function recordDigest(record: PromotionRecord): string {
  return sha256Digest(canonicalJson(record));
}

/** The digest of the environment's values alone, as the predicate's `parameters.digest`. */
export function valuesDigest(values: Record<string, unknown>): string {
  return sha256Digest(canonicalJson(values));
}

/** The values a record gives `cluster` to render with: its merged values, or the environment's for a record without clusters. */
export function clusterValues(record: Pick<PromotionRecord, 'parameters' | 'clusters'>, cluster: string): Record<string, unknown> {
  return record.clusters.find((c) => c.name === cluster)?.parameters ?? record.parameters;
}

/**
 * What an agent says it rendered a bundle with (a status report's `parameters`), and what the
 * wave check and `promote status` expect of it: the environment's name and the cluster's values.
 */
export function renderedWithDigest(environment: string, values: Record<string, unknown>): string {
  return valuesDigest({ environment, parameters: values });
}

/**
 * The second half of a stage's desired state (bundle digest, parameters digest): the
 * environment's values and every cluster's merged values, as `promote to` would record them.
 * A change of it with the same bundle is a configuration change (DESIGN.md §4b); approvals bind it.
 */
export function parametersDigest(values: Pick<PromotionRecord, 'parameters' | 'clusters'>): string {
  return sha256Digest(canonicalJson({ parameters: values.parameters, clusters: values.clusters }));
}

/** The signed predicate of a record. Key order is the signed payload's: keep it. */
export function recordPredicate(record: PromotionRecord, ledger: LedgerLink): PromotionPredicate {
  return {
    ...record,
    parameters: { digest: valuesDigest(record.parameters), values: record.parameters },
    ...(record.action === 'rollback' && { rollback: true as const }),
    recordDigest: recordDigest(record),
    ledger,
  };
}

/** The ledger's record a predicate carries (`parameters` as the plain values). */
export function recordOf(predicate: PromotionPredicate): PromotionRecord {
  const { parameters, rollback: _rollback, recordDigest: _digest, ledger: _ledger, ...rest } = predicate;
  return { ...rest, parameters: parameters.values };
}

const digest: Check<string> = (v, at) => {
  if (typeof v !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(v)) throw new FieldError(at, 'a sha256:<64 hex> digest', v);
  return v;
};

const recordFields: Fields<PromotionRecord> = {
  apiVersion: literal('promote/v1'),
  kind: literal('PromotionRecord'),
  pipeline: string,
  stage: string,
  environment: string,
  action: literal(...ACTIONS),
  bundle: object({ repository: string, digest }),
  from: optional(string),
  parameters: anyObject,
  clusters: arrayOf(object({ name: string, parameters: anyObject })),
  promotedBy: string,
  promotedAt: string,
  gates: arrayOf(gateResult),
  force: optional(object({ reason: string })),
  previous: optional(digest),
  sequence: count,
  rollout: optional(recordRolloutShape),
};

const predicate = object<PromotionPredicate>({
  ...recordFields,
  parameters: object({ digest, values: anyObject }),
  rollback: optional(literal(true)),
  recordDigest: digest,
  ledger: object<PromotionPredicate['ledger']>({ repository: string, branch: string, parent: optional(string), commit: optional(string) }),
});

/**
 * The predicate of a signed promotion statement from untrusted JSON: every field of the record
 * of the right type, and `parameters.digest` the digest of the values it carries (what the agent
 * renders with). Throws RECORD_INVALID (exit 4) naming the field's JSON pointer.
 */
export function parsePromotionPredicate(value: unknown, source: string): PromotionPredicate {
  const hint = 'promotion records are written by `promote to`; promote the stage again';
  const p = parseFields(predicate, value, 'promotion record', source, 'RECORD_INVALID', hint);
  const values = valuesDigest(p.parameters.values);
  if (values !== p.parameters.digest) throw invalidField(new FieldError('/parameters/digest', `the digest of /parameters/values, ${values}`, p.parameters.digest), 'promotion record', source, 'RECORD_INVALID', hint);
  if (p.rollout) {
    try {
      checkRecordRollout(p.rollout, p.clusters.map((c) => c.name), '/rollout');
    } catch (err) {
      if (err instanceof FieldError) throw invalidField(err, 'promotion record', source, 'RECORD_INVALID', hint);
      throw err;
    }
  }
  return p;
}

export interface RecordExpectations {
  /** The bundle digest the record must be about (default: its OCI subject). */
  bundle?: string;
  /** The stage the record must be for. */
  stage?: string;
}

/**
 * Verifies the promotion record at `reference` (tag `promotion-<stage>` or the record digest):
 * signed by a key/identity in `policy` (the pipeline's trust.promotions), an in-toto statement
 * of PROMOTION_PREDICATE_TYPE about the bundle it is attached to, for the expected stage, and a
 * well-formed record (parsePromotionPredicate).
 */
export async function verifyRecord(registry: ContentReader, reference: string, policy: TrustPolicy, expect: RecordExpectations = {}): Promise<VerifiedStatement<PromotionPredicate>> {
  const [{ requireSomeTrust }, { verifyAttachedStatement }, { verificationFailed }] = await Promise.all([import('../signing/policy.ts'), import('../signing/attestation.ts'), import('../signing/verification-error.ts')]);
  requireSomeTrust(policy, 'promotion records');
  const v = await verifyAttachedStatement(registry, reference, policy, {
    predicateType: PROMOTION_PREDICATE_TYPE,
    ...(expect.bundle !== undefined && { subjectDigest: expect.bundle }),
  });
  const raw = v.statement.predicate as { stage?: unknown } | undefined;
  // The stage first: a record moved to another stage's tag is named as such, whatever its shape.
  if (expect.stage !== undefined && raw?.stage !== expect.stage) {
    throw verificationFailed('record', `${registry.name}:${reference} is a record for stage ${JSON.stringify(raw?.stage)}, not ${expect.stage}`, 'the tag points at another stage\'s record; it was moved or copied', { reference });
  }
  const p = parsePromotionPredicate(raw, `${registry.name}:${reference}`);
  if (v.subject?.digest !== undefined && p.bundle.digest !== v.subject.digest) {
    throw verificationFailed('record', `${registry.name}:${reference} promotes ${p.bundle.digest} but is attached to ${v.subject.digest}`, 'the record was re-attached to another bundle; do not deploy', { reference });
  }
  return { ...v, statement: { ...v.statement, predicate: p } };
}
