import type { SerializedBundle } from '@sigstore/bundle';
import { PromoteError, isPromoteError } from '../errors.ts';
import { PROMOTION_RECORD } from '../oci/media-types.ts';
import type { Descriptor, Registry } from '../oci/registry.ts';
import type { TrustPolicy } from '../signing/policy.ts';
import type { Signer } from '../signing/signer.ts';
import { canonicalJson } from '../oci/canonical-json.ts';
import {
  parsePromotionPredicate,
  PROMOTION_PREDICATE_TYPE,
  promotionTag,
  RECORD_DIGEST_ANNOTATION,
  recordDigest,
  recordPredicate,
  verifyRecord,
  type LedgerLink,
  type PromotionPredicate,
  type PromotionRecord,
} from '../records/promotion-record.ts';
import type { StageState } from './stage-file.ts';

// The ledger is untrusted storage, so nothing `promote to` signs is ever taken from it on trust
// (docs/attestations.md, "What the ledger can and cannot do"). A record is signed *before* its
// ledger commit and the stage file keeps the signed statement next to the record; what a
// promotion builds on — the stage's current record (previous, sequence), the upstream stage's
// bundle, a rollback target — is read from statements verified against trust.promotions and
// bound to pipeline, stage and record digest; completing an interrupted publish uploads the
// already-signed bytes. An edit of the ledger is then detectable (hash chain) and harmless.

/** Signs a record; the statement in canonical key order (the ledger stores it so; the same bytes publish as the same artefact). */
export async function signRecord(record: PromotionRecord, ledger: LedgerLink, signer: Signer): Promise<SerializedBundle> {
  const [{ signStatement }, { statement }] = await Promise.all([import('../signing/dsse.ts'), import('../signing/attestation.ts')]);
  const stmt = statement({ name: record.bundle.repository, digest: record.bundle.digest }, PROMOTION_PREDICATE_TYPE, recordPredicate(record, ledger));
  let signed: SerializedBundle;
  try {
    signed = await signStatement(stmt, signer);
  } catch (err) {
    throw new PromoteError('RECORD_SIGN_FAILED', `signing the record of ${record.bundle.digest} for ${record.stage} failed: ${(err as Error).message}`, {
      cause: err,
      hint: 'nothing was recorded or published; check the promoter key (or its signer) and run the command again',
    });
  }
  return JSON.parse(canonicalJson(signed)) as SerializedBundle;
}

/** The fields on which a signed predicate and a ledger record disagree (`parameters` compared as values). */
export function recordDisagreement(predicate: PromotionPredicate, record: PromotionRecord): string[] {
  const same = (a: unknown, b: unknown) => (a === undefined || b === undefined ? a === b : canonicalJson(a) === canonicalJson(b));
  const p = predicate as unknown as Record<string, unknown>;
  return Object.keys(record).filter((k) => (k === 'parameters' ? !same(predicate.parameters.values, record.parameters) : !same(p[k], (record as unknown as Record<string, unknown>)[k])));
}

/** A stage's record, proved by a signature of trust.promotions. */
export interface VerifiedStageRecord {
  record: PromotionRecord;
  digest: string;
  /** The signed statement from the ledger (absent for a record written before the ledger kept it, proved by the registry's copy). */
  statement?: SerializedBundle;
  ledger?: Partial<LedgerLink> & { commit?: string };
}

function unverified(stage: string, why: string, details: Record<string, unknown> = {}): PromoteError {
  return new PromoteError('LEDGER_RECORD_UNVERIFIED', `the ledger's record of stage ${stage} is not backed by a record signed by trust.promotions: ${why}`, {
    outcome: 'verification',
    hint: `the ledger was edited outside promote (promote history ${stage} --verify names the commit); restore the stage file from the last commit promote wrote, then promote again. Nothing was signed or published`,
    details: { stage, ...details },
  });
}

/**
 * Verifies a signed promotion statement `bundle` (Sigstore bundle JSON) as the record `record`
 * of `pipeline`/`stage`: signature by `trust`, about the record's bundle, same pipeline, stage,
 * record digest and content. Returns the predicate; throws LEDGER_RECORD_UNVERIFIED (exit 4).
 */
export async function verifyRecordStatement(bundle: unknown, trust: TrustPolicy, pipeline: string, stage: string, record: PromotionRecord, source: string): Promise<PromotionPredicate> {
  const { verifyStatementBundle } = await import('../signing/attestation.ts');
  const digest = recordDigest(record);
  let p: PromotionPredicate;
  try {
    p = parsePromotionPredicate(verifyStatementBundle(bundle, trust, { predicateType: PROMOTION_PREDICATE_TYPE, subjectDigest: record.bundle.digest }, source).statement.predicate, source);
  } catch (err) {
    if (!isPromoteError(err) || err.outcome !== 'verification') throw err;
    throw unverified(stage, `${source}: ${err.message}`, { record: digest });
  }
  if (p.pipeline !== pipeline || p.stage !== stage) throw unverified(stage, `${source} is signed for ${String(p.pipeline)}/${String(p.stage)}, not ${pipeline}/${stage}`, { record: digest });
  if (p.recordDigest !== digest) throw unverified(stage, `${source} is signed for record ${String(p.recordDigest)}, not ${digest}`, { record: digest });
  const differs = recordDisagreement(p, record);
  if (differs.length) throw unverified(stage, `${source} is signed, but says something else than the ledger's record about ${differs.join(', ')}`, { record: digest, fields: differs });
  return p;
}

/**
 * The stage's current record from `state`, proved: by the statement the ledger keeps with it, or
 * (a record written before the ledger kept statements) by a signed copy attached to its bundle
 * in `registry`. undefined when the stage has no record; throws LEDGER_RECORD_UNVERIFIED.
 */
export async function verifiedStageRecord(registry: Registry, trust: TrustPolicy, pipeline: string, stage: string, state: StageState | undefined): Promise<VerifiedStageRecord | undefined> {
  const record = state?.record;
  if (!record) {
    if (state?.recordDigest || state?.statement) throw unverified(stage, 'the stage file names a record digest or statement but holds no record');
    return undefined;
  }
  const digest = recordDigest(record);
  if (state.recordDigest !== digest) throw unverified(stage, `its record does not hash to its recordDigest ${String(state.recordDigest)} (it hashes to ${digest}): the file was edited by hand`, { record: digest });
  if (state.statement !== undefined) {
    const p = await verifyRecordStatement(state.statement, trust, pipeline, stage, record, `the statement in the ${stage} stage file`);
    return { record, digest, statement: state.statement, ledger: p.ledger };
  }
  const found = await findSignedRecord(registry, trust, pipeline, stage, record.bundle.digest, digest);
  if (!found) throw unverified(stage, `it carries no signed statement, and ${registry.name} has no signed record ${digest} attached to ${record.bundle.digest}`, { record: digest });
  const differs = recordDisagreement(found.predicate, record);
  if (differs.length) throw unverified(stage, `the signed record ${found.manifest} says something else than the ledger's record about ${differs.join(', ')}`, { record: digest, fields: differs });
  return { record, digest, ledger: found.predicate.ledger };
}

export interface FoundRecord {
  /** The record artefact's manifest digest. */
  manifest: string;
  predicate: PromotionPredicate;
}

/**
 * A record of `bundle` in `stage` of `pipeline` signed by `trust`, among the bundle's referrers in
 * the stage's repository (with `recordDigest`: that very record). The annotation only orders
 * the search; the signature decides.
 */
export async function findSignedRecord(registry: Registry, trust: TrustPolicy, pipeline: string, stage: string, bundle: string, digest?: string): Promise<FoundRecord | undefined> {
  const refs = await registry.referrers(bundle, PROMOTION_RECORD);
  const hinted = (d: Descriptor) => (digest !== undefined && d.annotations?.[RECORD_DIGEST_ANNOTATION] === digest ? 0 : 1);
  for (const ref of [...refs].sort((a, b) => hinted(a) - hinted(b))) {
    if (digest !== undefined && ref.annotations?.[RECORD_DIGEST_ANNOTATION] !== undefined && ref.annotations[RECORD_DIGEST_ANNOTATION] !== digest) continue;
    try {
      const v = await verifyRecord(registry, ref.digest, trust, { stage, bundle });
      const p = v.statement.predicate;
      if (p.pipeline === pipeline && (digest === undefined || p.recordDigest === digest)) return { manifest: ref.digest, predicate: p };
    } catch (err) {
      if (!isPromoteError(err) || !(err.outcome === 'verification' || err.code === 'RECORD_NOT_FOUND')) throw err;
    }
  }
  return undefined;
}

/** What `promotion-<stage>` holds, verified: the record it carries and its number. */
export interface TaggedRecord {
  manifest: string;
  /** Set when the tag holds a record signed by trust.promotions for this pipeline and stage. */
  record?: string;
  sequence?: number;
  bundle?: string;
  /** Why it does not verify, when it does not. */
  problem?: string;
}

export async function readTaggedRecord(registry: Registry, trust: TrustPolicy, pipeline: string, stage: string): Promise<TaggedRecord | undefined> {
  const tagged = await registry.resolve(promotionTag(stage));
  if (!tagged) return undefined;
  try {
    const v = await verifyRecord(registry, tagged.digest, trust, { stage });
    const p = v.statement.predicate;
    if (p.pipeline !== pipeline) return { manifest: tagged.digest, problem: `it is a record of pipeline ${p.pipeline}` };
    return { manifest: tagged.digest, record: p.recordDigest, sequence: p.sequence, ...(v.subject?.digest && { bundle: v.subject.digest }) };
  } catch (err) {
    // Not a record we trust (bad signature, not an attestation at all): it is overwritten. A
    // registry that cannot be reached is a failure to report, not a reason to overwrite.
    if (isPromoteError(err) && (err.outcome === 'verification' || err.code === 'RECORD_NOT_FOUND')) return { manifest: tagged.digest, problem: err.message };
    throw err;
  }
}

export interface PublishedStatement {
  tag: string;
  /** The manifest at the tag after this publish: ours, or the newer record it already held. */
  digest: string;
  /** The tag already held a newer record of the stage (a later promotion won the race): left alone. */
  superseded?: { record: string; sequence: number };
}

/**
 * Attaches an already-signed record statement to its bundle and moves `promotion-<stage>` to it
 * — unless the tag already holds a record of the stage with the same or a higher number (the
 * registry has no conditional tag update: this check-and-set, with the engine's re-check of
 * the ledger's head afterwards, keeps the tag from going backwards when promotions race).
 */
export async function publishStatement(registry: Registry, trust: TrustPolicy, subject: Descriptor, record: PromotionRecord, statement: SerializedBundle): Promise<PublishedStatement> {
  const tag = promotionTag(record.stage);
  const digest = recordDigest(record);
  const current = await readTaggedRecord(registry, trust, record.pipeline, record.stage);
  if (current?.record === digest) return { tag, digest: current.manifest };
  if (current?.record !== undefined && current.sequence !== undefined && current.sequence >= record.sequence) {
    return { tag, digest: current.manifest, superseded: { record: current.record, sequence: current.sequence } };
  }
  const { attachBundle } = await import('../signing/attestation.ts');
  const attached = await attachBundle(registry, subject, statement, PROMOTION_PREDICATE_TYPE, {
    artifactType: PROMOTION_RECORD,
    tag,
    // The record's own time: publishing the same record again makes the same artefact.
    now: new Date(record.promotedAt),
    annotations: { [RECORD_DIGEST_ANNOTATION]: digest },
  });
  return { tag, digest: attached.descriptor.digest };
}
