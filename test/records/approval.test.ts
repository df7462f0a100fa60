// Approvals read through their one parser, with real signatures (in-process keys, no registry):
// a validly signed approval with a field of the wrong shape is not counted, and says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkApprovals } from '../../src/promotion/approvals.ts';
import { signApproval, type ApprovalPredicate } from '../../src/records/approval.ts';
import { testKey } from '../signing/helpers.ts';

const D = `sha256:${'c'.repeat(64)}`;

test('a validly signed approval whose approver is not {name, email} strings is ignored with the field named, not a crash', async () => {
  const sam = testKey('sam');
  const good: ApprovalPredicate = { pipeline: 'webapp', stage: 'production', bundle: { repository: 'r', digest: D }, parameters: { digest: D }, approver: { name: 'Sam' }, approvedAt: '2026-03-30T10:00:00Z' };
  const bad = { ...good, approver: { name: ['Sam', 'Alex'] } } as unknown as ApprovalPredicate;
  const trust = { keys: [sam.pub], identities: [] };
  const [ok, refused] = checkApprovals([
    { bundle: D, by: 'Sam', at: good.approvedAt, statement: await signApproval(good, sam.signer) },
    { bundle: D, by: 'Sam', at: good.approvedAt, statement: await signApproval(bad, sam.signer) },
  ], trust, [{ key: 'sam.pub' }]);
  assert.equal(ok!.check?.verified, true);
  assert.equal(refused!.check?.verified, false);
  assert.match(refused!.check?.verified === false ? refused!.check.reason : '', /^does not verify \(record\): .* is not a valid approval: \/approver\/name must be a string, not an array$/);
});
