import { relative } from 'node:path';
import { PromoteError, isPromoteError } from '../errors.ts';
import { stageRepository } from '../pipeline/pipeline.ts';
import { broken, RegistryRecords } from './history-records.ts';
import type { HistoryEntry } from './ledger.ts';
import { lookupStage, type Project } from './project.ts';
import { recordDigest, type PromotionPredicate } from '../records/promotion-record.ts';
import { stagePath } from './stage-file.ts';
import { verifyRecordStatement } from './signed-record.ts';
import { shortDigest } from '../short-digest.ts';

// `promote history <stage> --verify`: the ledger and the registry are both untrusted storage, so
// history is proved by signatures, link by link (docs/attestations.md, "The record chain"):
//   - each commit's stage file holds a record whose digest is the file's recordDigest and the
//     commit's Promotion-Record trailer; a commit without that trailer leaves the record alone;
//   - record n names record n-1 as `previous` and carries sequence n-1 + 1 (TUF's version
//     numbers: nothing can be dropped or replayed without breaking a link);
//   - a record signed by trust.promotions with that very recordDigest is attached to the bundle
//     in the stage's repository and says the same as the ledger; the stage file's own copy of
//     the statement verifies too; the record names the commit it was built on (`ledger.parent`,
//     signed before the commit; older records name the commit itself, `ledger.commit`), so
//     rewriting any commit before a record gives that record's commit another parent;
//   - the branch has no merges, and promotion-<stage> holds the head of the chain.
// The trust list is today's (the pipeline file as the verifier has it), never the one stored at
// an old commit: that copy sits in the very storage being checked.

export const DEFAULT_VERIFY_LIMIT = 1000;

export interface VerifiedRecordEntry {
  commit: string;
  action: string;
  record: string;
  sequence: number;
  bundle: string;
  /** Digest of the signed record manifest in the registry. */
  published: string;
  signedBy: string;
}

export interface HistoryVerification {
  verified: true;
  pipeline: string;
  stage: string;
  /** Records checked, and commits of the stage file walked. */
  records: number;
  commits: number;
  /** False when --limit stopped the walk before the stage's first record. */
  complete: boolean;
  head?: { record: string; sequence: number; commit: string; tag: string; published: string };
  ledger: { repository: string; branch: string };
  trust: { source: string; policy: string };
  /** Oldest first. */
  entries: VerifiedRecordEntry[];
}

export interface VerifyHistoryOptions {
  /** Check at most the newest `limit` records (default DEFAULT_VERIFY_LIMIT). */
  limit?: number;
  /** Progress for long walks (stderr). */
  progress?: (message: string) => void;
}

const LEDGER_HINT = 'the ledger is not what promote wrote; compare it with `git log -p` and restore the commit from a trusted clone, or promote the stage again after review';

/** Walks the stage's chain in the ledger and the registry; throws HISTORY_UNVERIFIED (exit 4) at the first thing that does not check out. */
export async function verifyHistory(project: Project, stageName: string, options: VerifyHistoryOptions = {}): Promise<HistoryVerification> {
  const { pipeline, ledger } = project;
  const { stage } = lookupStage(pipeline, stageName);
  const limit = options.limit ?? DEFAULT_VERIFY_LIMIT;
  const progress = options.progress ?? (() => {});
  await ledger.refresh();
  const trust = (await project.trust()).promotions;
  const [{ describePolicy }, { verifyRecord }] = await Promise.all([import('../signing/policy.ts'), import('../records/promotion-record.ts')]);
  const repository = stageRepository(pipeline, stage);
  const registry = await project.registryFor(repository);
  const records = new RegistryRecords(registry, trust, pipeline.name, stage.name);
  const file = stagePath(pipeline.name, stage.name);

  const merge = await ledger.newestMerge();
  if (merge) {
    throw broken('ledger-linear', `the ledger branch ${ledger.branchName} has a merge commit ${merge.slice(0, 12)}: promote only appends one commit at a time, so its history was rewritten or merged by hand`, LEDGER_HINT, { commit: merge });
  }

  // Newest first from git; the window is the newest `limit` record commits and what follows them.
  const log = await ledger.history(pipeline.name, stage.name);
  let start = log.length;
  for (let seen = 0; start > 0 && seen < limit; ) {
    start--;
    if (log[start]!.trailers['Promotion-Record']) seen++;
  }
  // `log` is newest first: the window is log[0..end], walked oldest first.
  const end = log.length - 1 - start;
  const window: HistoryEntry[] = log.slice(0, end + 1).reverse();
  const before = log[end + 1];
  const complete = before === undefined;

  let prev: { digest: string; sequence: number } | undefined;
  if (before) {
    // The link into the window is checked against the ledger's record before it (its own digest
    // recomputed); that older record's registry copy is outside the limit.
    const s = await ledger.stateAt(before.commit, pipeline.name, stage.name).catch(() => undefined);
    if (s?.record) prev = { digest: recordDigest(s.record), sequence: s.record.sequence };
  }

  const entries: VerifiedRecordEntry[] = [];
  const total = window.filter((h) => h.trailers['Promotion-Record']).length;
  for (const h of window) {
    const at = `commit ${h.commit.slice(0, 12)} (${h.action === 'unknown' ? 'not written by promote' : h.action}: ${h.subject})`;
    let state;
    try {
      state = await ledger.stateAt(h.commit, pipeline.name, stage.name);
    } catch (err) {
      if (!(err instanceof PromoteError) || err.code !== 'LEDGER_CORRUPT') throw err;
      throw broken('ledger-file', `${at}: ${file} is not a stage ledger file`, LEDGER_HINT, { commit: h.commit });
    }
    const record = state?.record;
    const digest = record ? recordDigest(record) : undefined;
    if (digest !== state?.recordDigest) {
      throw broken('ledger-file', `${at}: the record in ${file} hashes to ${digest ? shortDigest(digest, 'elided') : 'nothing'}, but the file says recordDigest ${state?.recordDigest ? shortDigest(state.recordDigest, 'elided') : '(none)'}: the file was edited by hand`, LEDGER_HINT, { commit: h.commit, ...(digest && { record: digest }) });
    }
    const trailer = h.trailers['Promotion-Record']?.[0];
    if (!trailer) {
      if (digest !== prev?.digest) {
        throw broken('ledger-file', `${at} changed the record in ${file} (to ${digest ? shortDigest(digest, 'elided') : 'nothing'}) without recording a promotion: the file was edited by hand`, LEDGER_HINT, { commit: h.commit, ...(digest && { record: digest }) });
      }
      continue;
    }
    if (!record || trailer !== digest) {
      throw broken('ledger-trailer', `${at}: its Promotion-Record trailer says ${shortDigest(trailer, 'elided')}, but ${file} there holds ${digest ? shortDigest(digest, 'elided') : 'no record'}`, LEDGER_HINT, { commit: h.commit, record: trailer });
    }
    const ctx = { commit: h.commit, record: digest!, sequence: record.sequence };
    if (record.pipeline !== pipeline.name || record.stage !== stage.name) {
      throw broken('ledger-file', `${at}: the record is for ${record.pipeline}/${record.stage}, not ${pipeline.name}/${stage.name}`, LEDGER_HINT, ctx);
    }
    if (record.previous !== prev?.digest) {
      throw broken('chain-link', `${at}: record ${shortDigest(digest!, 'elided')} names ${record.previous ? shortDigest(record.previous, 'elided') : 'no previous record'} as previous, but the stage's record before it is ${prev ? shortDigest(prev.digest, 'elided') : 'none'}: a record was deleted, replaced or inserted`, LEDGER_HINT, ctx);
    }
    if ((h.trailers['Previous-Record']?.[0] ?? undefined) !== record.previous) {
      throw broken('ledger-trailer', `${at}: its Previous-Record trailer does not match the record's previous (${record.previous ? shortDigest(record.previous, 'elided') : 'none'})`, LEDGER_HINT, ctx);
    }
    const expected = (prev?.sequence ?? 0) + 1;
    if (record.sequence !== expected) {
      throw broken('sequence', `${at}: record ${shortDigest(digest!, 'elided')} is number ${String(record.sequence)}, expected ${expected}`, LEDGER_HINT, ctx);
    }
    const found = await records.find(h.commit, record, digest!);
    if (found.ledgerCommit !== undefined && found.ledgerCommit !== h.commit) {
      throw broken('ledger-commit', `${at}: the signed record ${shortDigest(digest!, 'elided')} was published from ledger commit ${found.ledgerCommit.slice(0, 12)}, not ${h.commit.slice(0, 12)}: the ledger's history was rewritten (amended, rebased or force-pushed)`, LEDGER_HINT, { ...ctx, signedCommit: found.ledgerCommit });
    }
    if (found.ledgerParent !== undefined) {
      const parent = await ledger.parentOf(h.commit);
      if (parent !== found.ledgerParent) {
        throw broken('ledger-commit', `${at}: the signed record ${shortDigest(digest!, 'elided')} was committed on top of ledger commit ${found.ledgerParent.slice(0, 12)}, but this commit's parent is ${parent ? parent.slice(0, 12) : 'none'}: the ledger's history was rewritten (amended, rebased or force-pushed)`, LEDGER_HINT, { ...ctx, signedParent: found.ledgerParent, ...(parent && { parent }) });
      }
    }
    if (state!.statement !== undefined) {
      try {
        await verifyRecordStatement(state!.statement, trust, pipeline.name, stage.name, record, `the statement in ${file} at ${h.commit.slice(0, 12)}`);
      } catch (err) {
        if (!isPromoteError(err, 'LEDGER_RECORD_UNVERIFIED')) throw err;
        throw broken('ledger-signature', `${at}: ${err.message}`, LEDGER_HINT, ctx);
      }
    }
    entries.push({ commit: h.commit, action: h.action, record: digest!, sequence: record.sequence, bundle: record.bundle.digest, published: found.manifest, signedBy: found.signedBy });
    prev = { digest: digest!, sequence: record.sequence };
    if (total > 50 && entries.length % 50 === 0) progress(`history --verify ${stage.name}: ${entries.length}/${total} records checked`);
  }

  // The tag agents follow must hold the chain's head, and the registry must not know a record
  // the ledger lost.
  const tag = `promotion-${stage.name}`;
  const tagged = await registry.resolve(tag);
  let head: HistoryVerification['head'];
  const last = entries.at(-1);
  if (!prev) {
    if (tagged) throw broken('tag-head', `${registry.name}:${tag} holds a record (${shortDigest(tagged.digest, 'elided')}), but the ledger has none for ${stage.name}: the ledger lost its history`, LEDGER_HINT, {});
  } else {
    const headHint = `if a publish was interrupted, promote ${stage.name} again to complete it; otherwise someone moved the tag: promote the stage again after review`;
    if (!tagged) throw broken('tag-head', `${registry.name} has no ${tag}, but the ledger's head record is ${shortDigest(prev.digest, 'elided')}`, headHint, { record: prev.digest });
    let p: PromotionPredicate;
    try {
      p = (await verifyRecord(registry, tagged.digest, trust, { stage: stage.name })).statement.predicate;
    } catch (err) {
      if (!(err instanceof PromoteError) || err.outcome !== 'verification') throw err;
      throw broken('tag-head', `${registry.name}:${tag} does not hold a record signed by trust.promotions: ${err.message}`, headHint, { record: prev.digest, tagged: tagged.digest });
    }
    if (p.recordDigest !== prev.digest) {
      throw broken('tag-head', `${registry.name}:${tag} holds record ${p.recordDigest ? shortDigest(p.recordDigest, 'elided') : '(unknown)'} (number ${String(p.sequence)}), not the ledger's head ${shortDigest(prev.digest, 'elided')} (number ${prev.sequence})`, headHint, { record: prev.digest, tagged: tagged.digest });
    }
    if (last) head = { record: last.record, sequence: last.sequence, commit: last.commit, tag, published: tagged.digest };
  }
  return {
    verified: true,
    pipeline: pipeline.name,
    stage: stage.name,
    records: entries.length,
    commits: window.length,
    complete,
    ...(head && { head }),
    ledger: { repository: ledger.remote ?? pipeline.ledger.repository, branch: ledger.branchName },
    trust: { source: `today's trust.promotions in ${relative(project.root, pipeline.file) || pipeline.file}`, policy: describePolicy(trust) },
    entries,
  };
}
