// The one parser per wire format (src/records/), on plain JSON: what promote writes reads back
// unchanged, and a field of the wrong shape is refused naming its JSON pointer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPromoteError, type ErrorCode } from '../../src/errors.ts';
import { parseApprovalPredicate, type ApprovalPredicate } from '../../src/records/approval.ts';
import { parsePromotionPredicate, recordOf, recordPredicate } from '../../src/records/promotion-record.ts';
import { parseStatusPredicate, STATUS_PHASES, type StatusPredicate } from '../../src/records/status-report.ts';
import { testRecord } from '../promotion/fixtures/record.ts';

const D = `sha256:${'a'.repeat(64)}`;
const ledger = { repository: 'git@example.com:acme/ledger.git', branch: 'main', parent: 'f'.repeat(40) };

function refusedAt(code: ErrorCode, pointer: string) {
  return (err: unknown) => {
    assert.ok(isPromoteError(err, code), String(err));
    assert.equal(err.outcome, 'verification');
    assert.equal(err.details?.pointer, pointer, err.message);
    assert.equal(err.problems[0]?.pointer, pointer);
    assert.match(err.message, new RegExp(`^src is not a valid .*: ${pointer.replace(/\//g, '\\/')} must be `));
    return true;
  };
}

test('a promotion record reads back field for field (rollback, force and previous included), and recordOf gives the ledger record', () => {
  const record = testRecord({ digest: D, action: 'rollback', force: { reason: 'INC-7' }, previous: `sha256:${'b'.repeat(64)}`, sequence: 4 });
  const signed = JSON.parse(JSON.stringify(recordPredicate(record, ledger)));
  const parsed = parsePromotionPredicate(signed, 'src');
  assert.deepEqual(parsed, signed);
  assert.equal(parsed.rollback, true);
  assert.deepEqual(recordOf(parsed), record);
});

test('a promotion record: unknown fields are dropped, a field of the wrong shape is RECORD_INVALID at its pointer', () => {
  const good = JSON.parse(JSON.stringify(recordPredicate(testRecord({ digest: D }), ledger)));
  assert.equal('extra' in parsePromotionPredicate({ ...good, extra: 1 }, 'src'), false);
  const gates = structuredClone(good.gates);
  gates[0].passed = 'yes';
  assert.throws(() => parsePromotionPredicate({ ...good, gates }, 'src'), refusedAt('RECORD_INVALID', '/gates/0/passed'));
  assert.throws(() => parsePromotionPredicate({ ...good, sequence: -1 }, 'src'), refusedAt('RECORD_INVALID', '/sequence'));
  assert.throws(() => parsePromotionPredicate({ ...good, action: 'promote' }, 'src'), refusedAt('RECORD_INVALID', '/action'));
  const { clusters: _dropped, ...noClusters } = good;
  assert.throws(() => parsePromotionPredicate(noClusters, 'src'), refusedAt('RECORD_INVALID', '/clusters'));
  assert.throws(() => parsePromotionPredicate({ ...good, bundle: { ...good.bundle, digest: 'latest' } }, 'src'), refusedAt('RECORD_INVALID', '/bundle/digest'));
});

test('a promotion record whose parameter values are not those its digest names is RECORD_INVALID at /parameters/digest', () => {
  const good = JSON.parse(JSON.stringify(recordPredicate(testRecord({ digest: D }), ledger)));
  const tampered = { ...good, parameters: { digest: good.parameters.digest, values: { replicas: 300 } } };
  assert.throws(() => parsePromotionPredicate(tampered, 'src'), refusedAt('RECORD_INVALID', '/parameters/digest'));
});

test('a status report reads back; a phase no agent reports and a bad count are STATUS_REPORT_INVALID at their pointer', () => {
  const report: StatusPredicate = {
    pipeline: 'webapp', stage: 'dev', cluster: 'dev-1', phase: 'Converged', bundle: { repository: 'r', digest: D }, observedAt: 't', since: 't',
    reason: 'Applied', message: 'ok', target: 'dir', objects: { total: 1, healthy: 1, progressing: 0, degraded: 0, failed: 0, notable: [] },
    drift: [{ id: 'a', kind: 'modified', message: 'm' }], pruned: ['x'], sequence: 3, recordSequence: 2,
  };
  assert.deepEqual(parseStatusPredicate(report, 'src'), report);
  assert.deepEqual([...STATUS_PHASES], ['Progressing', 'Converged', 'Degraded', 'Drifted', 'Failed', 'Refused']);
  assert.throws(() => parseStatusPredicate({ ...report, phase: 'Unverified' }, 'src'), refusedAt('STATUS_REPORT_INVALID', '/phase'));
  assert.throws(() => parseStatusPredicate({ ...report, objects: { ...report.objects, failed: 0.5 } }, 'src'), refusedAt('STATUS_REPORT_INVALID', '/objects/failed'));
});

test('a status report carries the renderer and its version; a report without one (an agent before renderers) still reads; a bad one is refused at its pointer', () => {
  const old: StatusPredicate = { stage: 'dev', cluster: 'dev-1', phase: 'Converged', bundle: { digest: D }, observedAt: 't', since: 't' };
  const parsedOld = parseStatusPredicate(JSON.parse(JSON.stringify(old)), 'src');
  assert.deepEqual(parsedOld, old);
  assert.equal('renderer' in parsedOld, false);
  const helm = { ...old, renderer: { kind: 'helm', version: 'v3.17.3+ge4da497' } };
  assert.deepEqual(parseStatusPredicate(helm, 'src').renderer, { kind: 'helm', version: 'v3.17.3+ge4da497' });
  assert.deepEqual(parseStatusPredicate({ ...old, renderer: { kind: 'plain', binary: '/usr/local/bin/x' } }, 'src').renderer, { kind: 'plain' }, 'unknown fields are dropped');
  assert.throws(() => parseStatusPredicate({ ...old, renderer: { version: 'v3' } }, 'src'), refusedAt('STATUS_REPORT_INVALID', '/renderer/kind'));
  assert.throws(() => parseStatusPredicate({ ...old, renderer: { kind: 'helm', version: 3 } }, 'src'), refusedAt('STATUS_REPORT_INVALID', '/renderer/version'));
});

test('an approval reads back; a field of the wrong shape is APPROVAL_INVALID at its pointer', () => {
  const approval: ApprovalPredicate = { pipeline: 'webapp', stage: 'production', bundle: { repository: 'r', digest: D }, parameters: { digest: D }, approver: { name: 'Sam', email: 'sam@example.com' }, approvedAt: 't', comment: 'ok' };
  assert.deepEqual(parseApprovalPredicate(approval, 'src'), approval);
  assert.throws(() => parseApprovalPredicate({ ...approval, approver: { email: 7 } }, 'src'), refusedAt('APPROVAL_INVALID', '/approver/email'));
  assert.throws(() => parseApprovalPredicate({ ...approval, parameters: undefined }, 'src'), refusedAt('APPROVAL_INVALID', '/parameters'));
});

test('a parse failure is a verification failure of the `record` check, so callers that skip what does not verify skip it', async () => {
  const { failedCheck } = await import('../../src/signing/verification-error.ts');
  try {
    parseApprovalPredicate({}, 'src');
    assert.fail('parsed');
  } catch (err) {
    assert.equal(failedCheck(err), 'record');
  }
});
