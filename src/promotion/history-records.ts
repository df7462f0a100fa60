import { PromoteError, type Outcome } from '../errors.ts';
import { PROMOTION_RECORD } from '../oci/media-types.ts';
import type { Descriptor, Registry } from '../oci/registry.ts';
import type { TrustPolicy } from '../signing/policy.ts';
import { RECORD_DIGEST_ANNOTATION, type PromotionRecord } from '../records/promotion-record.ts';
import { recordDisagreement } from './signed-record.ts';
import { shortDigest } from '../short-digest.ts';

// For `promote history --verify` (verify-history.ts): the signed copy of each ledger record
// among its bundle's referrers in the registry, and the refusal every failed check ends in.

export type HistoryCheck =
  | 'ledger-linear'
  | 'ledger-file'
  | 'ledger-trailer'
  | 'chain-link'
  | 'sequence'
  | 'registry-record'
  | 'record-signature'
  | 'record-content'
  | 'ledger-commit'
  | 'ledger-signature'
  | 'tag-head';

export function broken(check: HistoryCheck, message: string, hint: string, details: { commit?: string; record?: string; sequence?: number; [k: string]: unknown }): PromoteError {
  return new PromoteError('HISTORY_UNVERIFIED', message, { outcome: 'verification', hint, details: { check, ...details } });
}

export interface FoundRecord {
  manifest: string;
  signedBy: string;
  ledgerCommit?: string;
  /** `ledger.parent`: the branch tip the record's commit was built on (records signed before their commit). */
  ledgerParent?: string;
}

export class RegistryRecords {
  private readonly listed = new Map<string, Promise<Descriptor[]>>();
  private readonly registry: Registry;
  private readonly trust: TrustPolicy;
  private readonly pipeline: string;
  private readonly stage: string;

  constructor(registry: Registry, trust: TrustPolicy, pipeline: string, stage: string) {
    this.registry = registry;
    this.trust = trust;
    this.pipeline = pipeline;
    this.stage = stage;
  }

  /**
   * The signed record with digest `digest` among the bundle's referrers. The annotation only
   * narrows the search (it is not signed); what counts is a verifying signature over a statement
   * whose recordDigest is `digest` and whose content is the ledger's record.
   */
  async find(commit: string, record: PromotionRecord, digest: string): Promise<FoundRecord> {
    const bundle = record.bundle.digest;
    let list = this.listed.get(bundle);
    if (!list) {
      list = this.registry.referrers(bundle, PROMOTION_RECORD);
      this.listed.set(bundle, list);
    }
    const refs = await list;
    const candidates = refs.filter((r) => r.annotations?.[RECORD_DIGEST_ANNOTATION] === digest || r.annotations?.[RECORD_DIGEST_ANNOTATION] === undefined);
    const where = `${this.registry.name}`;
    const ctx = { commit, record: digest, sequence: record.sequence };
    if (!candidates.length) {
      throw broken('registry-record', `record ${shortDigest(digest, 'elided')} (number ${record.sequence} of ${this.stage}, ledger commit ${commit.slice(0, 12)}) has no signed copy attached to ${shortDigest(bundle, 'elided')} in ${where}: it was deleted from the registry, or never published`, 'if its publish was interrupted, promote the stage again to complete it; otherwise the registry lost or had a record removed: restore it from a copy (promote copy) or investigate who deleted it', ctx);
    }
    const [{ describePolicy }, { verifyRecord }] = await Promise.all([import('../signing/policy.ts'), import('../records/promotion-record.ts')]);
    let failure: { check: HistoryCheck; message: string } | undefined;
    for (const c of candidates) {
      let v;
      try {
        v = await verifyRecord(this.registry, c.digest, this.trust, { stage: this.stage, bundle });
      } catch (err) {
        if (!(err instanceof PromoteError) || !(err.outcome === ('verification' satisfies Outcome) || err.code === 'RECORD_NOT_FOUND')) throw err;
        if (err.code === 'RECORD_NOT_FOUND') failure ??= { check: 'registry-record', message: `is listed among the referrers of ${shortDigest(bundle, 'elided')} but its manifest ${shortDigest(c.digest, 'elided')} is gone` };
        // A copy that is there but signed by someone else says more than one that is gone.
        else if (!failure || failure.check === 'registry-record') failure = { check: 'record-signature', message: `is in ${where} as ${shortDigest(c.digest, 'elided')}, but it does not verify against trust.promotions (${describePolicy(this.trust)}): ${err.message}` };
        continue;
      }
      const p = v.statement.predicate;
      if (p.recordDigest !== digest) {
        failure ??= { check: 'record-content', message: `is signed, but the manifest ${shortDigest(c.digest, 'elided')} carrying its digest states recordDigest ${String(p.recordDigest)}` };
        continue;
      }
      const differs = recordDisagreement(p, record);
      if (p.pipeline !== this.pipeline || differs.length) {
        failure ??= { check: 'record-content', message: `is signed as ${shortDigest(c.digest, 'elided')}, but the signed statement and the ledger disagree on ${differs.length ? differs.join(', ') : 'pipeline'}` };
        continue;
      }
      const signedBy = v.signedBy.kind === 'key' ? `key ${v.signedBy.key}` : v.signedBy.subject;
      return { manifest: c.digest, signedBy, ...(p.ledger.commit && { ledgerCommit: p.ledger.commit }), ...(p.ledger.parent && { ledgerParent: p.ledger.parent }) };
    }
    throw broken(failure!.check, `record ${shortDigest(digest, 'elided')} (number ${record.sequence} of ${this.stage}, ledger commit ${commit.slice(0, 12)}) ${failure!.message}`, 'the registry holds no record promote signed for this ledger entry: it was replaced or re-signed by someone else; do not trust this history until it is explained', ctx);
  }
}
