import type { SerializedBundle } from '@sigstore/bundle';
import { PromoteError } from '../errors.ts';
import type { Approval } from '../pipeline/gate.ts';
import type { LedgerChange, Mutation } from './ledger-change.ts';
import { changedParameters, describeChange } from './parameter-diff.ts';
import { parametersDigest, recordDigest, type PromotionRecord } from '../records/promotion-record.ts';
import { emptyStageState, type StageState } from './stage-file.ts';
import { shortDigest } from '../short-digest.ts';

// The ledger mutations of the engine, each a compare-and-swap precondition plus the new stage
// state and its commit message. They run again on the fresh state whenever another commit landed
// first (GitLedger.update), so each re-checks what it relied on.


/** The stage moved since the promotion was planned: refuse, never overwrite. */
export function stageMoved(stage: string, current: StageState | undefined, expected: string | undefined): PromoteError {
  const r = current?.record;
  const now = r ? `${r.bundle.digest} (${r.action} by ${r.promotedBy} at ${r.promotedAt})` : 'nothing';
  return new PromoteError('LEDGER_STAGE_MOVED', `stage ${stage} changed while this promotion was being made: it now holds ${now}`, {
    outcome: 'refused',
    hint: `another promotion of ${stage} won; nothing was recorded or published for this one. Review it with promote history ${stage}, then re-plan with promote plan ${stage}`,
    details: { stage, expectedPrevious: expected ?? null, actualRecord: current?.recordDigest ?? null, actualBundle: r?.bundle.digest ?? null },
  });
}

/**
 * `sign(base)` signs the record for a commit on `base` (signed-record.ts): the stage file keeps
 * the statement, so whatever is published later is these bytes; `signed` receives the one
 * committed. The engine always signs; without `sign` the file holds the bare record.
 */
export function promotionMutation(record: PromotionRecord, sign?: (base: string | undefined) => Promise<SerializedBundle>, signed?: (statement: SerializedBundle) => void, digest = recordDigest(record)): Mutation {
  return async (current, _attempt, base) => {
    if ((current?.recordDigest ?? undefined) !== record.previous) throw stageMoved(record.stage, current, record.previous);
    // The new record's `previous` links to the stated digest: chaining onto a stage file whose
    // record no longer hashes to it would sign a hand edit into the chain.
    if (current?.record && recordDigest(current.record) !== current.recordDigest) {
      throw new PromoteError('LEDGER_CORRUPT', `the record in the ledger's ${record.stage} stage file does not hash to its recordDigest ${current.recordDigest ?? '(none)'}: the file was edited by hand`, {
        outcome: 'verification',
        hint: `promote history ${record.stage} --verify names the commit; restore the file from the commit promote wrote before promoting again`,
      });
    }
    if (current?.hold?.held) {
      throw new PromoteError('STAGE_HELD', `stage ${record.stage} was put on hold by ${current.hold.by} while this promotion was being made`, { outcome: 'refused', hint: `promote release ${record.stage} first` });
    }
    // Signed last, once nothing can refuse: a refused promotion leaves no signature anywhere.
    const statement = sign && (await sign(base));
    if (statement) signed?.(statement);
    const { statement: _stale, ...kept } = current ?? emptyStageState(record.pipeline, record.stage);
    const state: StageState = { ...kept, record, recordDigest: digest, ...(statement && { statement }) };
    // Named against the record this one replaces (the compare-and-swap above made sure it is
    // the stage's current one): pointers only, never values, so no secret reaches the log.
    const changed = current?.record ? changedParameters(current.record, record).map(describeChange) : [];
    const verb = record.action === 'rollback' ? 'roll back' : record.action === 'configure' ? 'configure' : 'promote';
    const trailers: [string, string][] = [
      ['Promote-Action', record.action],
      ['Promoted-Bundle', record.bundle.digest],
      ['Promoted-From', record.from ?? '(none)'],
      ['Promotion-Record', digest],
      ...record.gates.map((g): [string, string] => ['Gate-Evidence', `${g.gate}: ${g.applicable === false ? 'n/a' : g.passed ? 'pass' : g.overridden ? 'OVERRIDDEN' : 'fail'} — ${g.summary}`]),
    ];
    if (record.force) trailers.push(['Forced-Reason', record.force.reason]);
    if (record.previous) trailers.push(['Previous-Record', record.previous]);
    trailers.push(['Parameters-Digest', parametersDigest(record)], ...changed.map((c): [string, string] => ['Parameters-Changed', c]));
    // `promote history` shows each wave (docs/rollouts.md): the wave released, of how many.
    if (record.rollout) trailers.push(['Rollout-Wave', `${record.rollout.wave}/${record.rollout.waves.length}`]);
    const listed = changed.length > 4 ? `${changed.slice(0, 3).join(', ')} and ${changed.length - 3} more` : changed.join(', ');
    const wave = record.rollout && record.rollout.waves[record.rollout.wave - 1];
    const subject =
      record.action === 'wave' && wave
        ? `release wave ${record.rollout!.wave}/${record.rollout!.waves.length} of ${record.pipeline}/${record.stage}: ${shortDigest(record.bundle.digest)} to ${wave.clusters.length > 4 ? `${wave.clusters.slice(0, 3).join(', ')} and ${wave.clusters.length - 3} more` : wave.clusters.join(', ')}`
        : record.action === 'configure'
        ? `configure ${record.pipeline}/${record.stage}: parameters changed${listed ? ` (${listed})` : ''}, bundle ${shortDigest(record.bundle.digest)}`
        : `${verb} ${record.pipeline}/${record.stage}: ${shortDigest(record.bundle.digest)}${record.from ? ` from ${record.from}` : ''}${changed.length ? ', parameters changed' : ''}`;
    const body =
      record.action === 'wave' && wave
        ? `Bundle ${record.bundle.repository}@${record.bundle.digest} is released to wave ${record.rollout!.wave} of its rollout in ${record.stage} (environment ${record.environment}): ${wave.clusters.join(', ')}.`
        : record.action === 'configure'
        ? `Bundle ${record.bundle.repository}@${record.bundle.digest} stays in ${record.stage} (environment ${record.environment}) with new parameters.`
        : `Bundle ${record.bundle.repository}@${record.bundle.digest} entered ${record.stage} (environment ${record.environment}).`;
    return { state, subject, body, trailers } satisfies LedgerChange;
  };
}

export function approvalMutation(pipeline: string, stage: string, approval: Approval): Mutation {
  return (current) => {
    const state = current ?? emptyStageState(pipeline, stage);
    if (state.approvals.some((a) => a.bundle === approval.bundle && a.by === approval.by)) return undefined;
    return {
      state: { ...state, approvals: [...state.approvals, approval] },
      subject: `approve ${pipeline}/${stage}: ${shortDigest(approval.bundle)} by ${approval.by}`,
      ...(approval.comment && { body: approval.comment }),
      trailers: [['Promote-Action', 'approval'], ['Approved-Bundle', approval.bundle], ['Approved-By', approval.by]],
    };
  };
}

export function holdMutation(pipeline: string, stage: string, held: boolean, by: string, at: string, reason?: string): Mutation {
  return (current) => {
    const state = current ?? emptyStageState(pipeline, stage);
    return {
      state: { ...state, hold: { held, by, at, ...(reason && { reason }) } },
      subject: `${held ? 'hold' : 'release'} ${pipeline}/${stage}${reason ? `: ${reason}` : ''}`,
      trailers: [['Promote-Action', held ? 'hold' : 'release'], ...(reason ? ([['Hold-Reason', reason]] as [string, string][]) : [])],
    };
  };
}
