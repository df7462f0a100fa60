import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Approval, GateContext, GateFactName, GateInput, GateKind, StatusObservation } from '../../src/pipeline/gate.ts';
import { approvalGate } from '../../src/pipeline/gates/approval.ts';
import { convergedGate } from '../../src/pipeline/gates/converged.ts';
import { manualGate } from '../../src/pipeline/gates/manual.ts';
import { soakGate } from '../../src/pipeline/gates/soak.ts';
import { isOpen, localTime, nextOpening, windowGate } from '../../src/pipeline/gates/window.ts';
import type { WindowGateSpec } from '../../src/pipeline/gates/window.ts';
import { noOutsideFacts } from './no-outside-facts.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const NOW = new Date('2026-03-30T10:00:00Z');

/** A plain-data context: the facts are the values given, as the engine would have fetched them. */
type PlainContext = Partial<GateInput> & { fromClusters?: string[]; reports?: StatusObservation[]; approvals?: Approval[]; approvalsSigned?: boolean };

function ctx(over: PlainContext = {}): GateContext {
  const { fromClusters = ['eu-1', 'us-1'], reports = [], approvals = [], approvalsSigned = false, ...input } = over;
  return {
    pipeline: 'webapp', stage: 'production', from: 'staging', candidate: D1, now: NOW, promoter: 'Pat <pat@example.com>',
    ...input,
    ...noOutsideFacts,
    upstreamReports: async () => ({ clusters: fromClusters, reports }),
    approvals: async () => ({ signed: approvalsSigned, approvals }),
  };
}

/** A kind bound to one spec, as the planner evaluates it. */
function create<S extends { type: string }, F extends GateFactName>(kind: GateKind<S, F>, spec: S) {
  return { spec, evaluate: (c: GateContext) => kind.evaluate(spec, c) };
}

function report(cluster: string, over: Partial<StatusObservation> = {}): StatusObservation {
  return { cluster, phase: 'Converged', bundle: D1, since: '2026-03-30T09:00:00Z', observedAt: '2026-03-30T09:59:00Z', ...over };
}

function parse<T>(kind: { parse(raw: unknown, p: string, r: (p: string, x: object) => void): T | undefined }, raw: unknown): T {
  const problems: object[] = [];
  const spec = kind.parse(raw, '/g', (_p, x) => problems.push(x));
  assert.deepEqual(problems, []);
  return spec!;
}

test('converged passes only when every upstream cluster reports Converged on the candidate, with per-cluster evidence', async () => {
  const gate = create(convergedGate, parse(convergedGate, {}));
  const ok = await gate.evaluate(ctx({ reports: [report('eu-1'), report('us-1')] }));
  assert.equal(ok.passed, true);
  assert.match(ok.summary, /2\/2 clusters of staging Converged/);
  const bad = await gate.evaluate(ctx({ reports: [report('eu-1', { bundle: D2 }), report('extra')] }));
  assert.equal(bad.passed, false);
  const clusters = bad.evidence.clusters as { cluster: string; why?: string }[];
  assert.deepEqual(clusters.map((c) => [c.cluster, c.why]), [['eu-1', 'runs another bundle'], ['us-1', 'no status report from this cluster']]);
  const degraded = await gate.evaluate(ctx({ reports: [report('eu-1'), report('us-1', { phase: 'Degraded', reason: 'Deployment web: 0/2 ready' })] }));
  assert.equal(degraded.passed, false);
  assert.match(degraded.summary, /us-1: Deployment web: 0\/2 ready/);
  const unsigned = await gate.evaluate(ctx({ reports: [report('eu-1'), report('us-1', { verified: false })] }));
  assert.equal(unsigned.passed, false);
  assert.equal((await gate.evaluate(ctx({ fromClusters: [] }))).passed, false, 'no clusters proves nothing');
});

test('converged and soak refuse a report observed longer ago than reports.maxAge (default 30m), or claiming a future observation', async () => {
  const converged = create(convergedGate, parse(convergedGate, {}));
  const soak = create(soakGate, parse(soakGate, '15m'));
  const old = ctx({ reports: [report('eu-1'), report('us-1', { observedAt: '2026-03-30T09:29:00Z' })] });
  for (const gate of [converged, soak]) {
    const r = await gate.evaluate(old);
    assert.equal(r.passed, false, gate.spec.type);
    assert.match(r.summary, /us-1: the report was observed 31m ago, outside reports\.maxAge 30m: the agent stopped reporting, or an old report was put back on its tag/);
  }
  assert.equal((await converged.evaluate(ctx({ reports: [report('eu-1'), report('us-1', { observedAt: '2026-03-30T09:31:00Z' })] }))).passed, true, '29m old still counts');
  assert.equal((await converged.evaluate({ ...old, reportMaxAgeMs: 60 * 60_000 })).passed, true, 'configurable');
  const future = await converged.evaluate(ctx({ reports: [report('eu-1'), report('us-1', { observedAt: '2026-03-30T11:00:00Z' })] }));
  assert.match(future.summary, /us-1: the report claims to be observed 1h in the future/);
});

test('soak measures from each report\'s since: passes at exactly the duration, fails before with the time to go', async () => {
  const gate = create(soakGate, parse(soakGate, '15m'));
  const since = '2026-03-30T09:45:00Z';
  const at = (iso: string) => gate.evaluate(ctx({ now: new Date(iso), reports: [report('eu-1', { since: '2026-03-30T09:00:00Z' }), report('us-1', { since })] }));
  const early = await at('2026-03-30T09:55:00Z');
  assert.equal(early.passed, false);
  assert.match(early.summary, /us-1: healthy for 10m, 5m to go/);
  const clusters = early.evidence.clusters as { cluster: string; passesAt?: string }[];
  assert.equal(clusters[1]!.passesAt, '2026-03-30T10:00:00.000Z');
  assert.equal((await at('2026-03-30T10:00:00Z')).passed, true);
  assert.match((await at('2026-03-30T10:00:00Z')).summary, /for at least 15m \(need 15m\)/);
  // A cluster that is not Converged on the candidate has not started soaking at all.
  const flapped = await gate.evaluate(ctx({ reports: [report('eu-1'), report('us-1', { phase: 'Progressing' })] }));
  assert.equal(flapped.passed, false);
  assert.deepEqual(parse(soakGate, '1h30m'), { type: 'soak', duration: '1h30m', milliseconds: 5_400_000 });
});

const P1 = `sha256:${'a'.repeat(64)}`;
const P2 = `sha256:${'b'.repeat(64)}`;
const PAT_KEY = `sha256:${'9'.repeat(64)}`;

/** A ledger approval with the engine's verification result (plain data: the engine's job is tested in test/promotion/approvals.integration.test.ts). */
function signedApproval(who: { name: string; email: string; key: string }, over: Partial<Extract<NonNullable<Approval['check']>, { verified: true }>> = {}, at = '2026-03-30T08:00:00Z'): Approval {
  const check = { verified: true as const, pipeline: 'webapp', stage: 'production', bundle: D1, parameters: P1, approver: `${who.name} <${who.email}> (key keys/${who.name.toLowerCase()}.pub)`, identity: who.key, names: [`${who.name} <${who.email}>`, who.name, who.email, `keys/${who.name.toLowerCase()}.pub`], person: who.email, ...over };
  return { bundle: check.bundle, by: `${who.name} <${who.email}>`, at, parameters: check.parameters, statement: {}, check };
}

const ALICE = { name: 'Alice', email: 'alice@example.com', key: `sha256:${'3'.repeat(64)}` };
const BOB = { name: 'Bob', email: 'bob@example.com', key: `sha256:${'4'.repeat(64)}` };
const MALLORY = { name: 'Mallory', email: 'm@example.com', key: `sha256:${'5'.repeat(64)}` };
const PAT = { name: 'Pat', email: 'pat@example.com', key: PAT_KEY };

test('approval (signed, plain data): counts distinct verified approvers of this digest, these parameters, this stage and pipeline; honours from and separateDuties; says who was not counted and why', async () => {
  const gate = create(approvalGate, parse(approvalGate, { count: 2, from: ['alice@example.com', 'Bob', 'keys/pat.pub'], separateDuties: true }));
  const signedCtx = (approvals: Approval[]) => ctx({ approvals, approvalsSigned: true, parameters: P1, promoterKey: PAT_KEY });
  const approvals: Approval[] = [
    signedApproval(ALICE),
    signedApproval({ ...ALICE, key: `sha256:${'6'.repeat(64)}` }), // Alice's second key: one person
    signedApproval(PAT),
    signedApproval(MALLORY),
    signedApproval(BOB, { parameters: P2 }),
    signedApproval(BOB, { stage: 'staging' }),
    signedApproval(BOB, { pipeline: 'other' }),
    { ...signedApproval(BOB, { bundle: D2 }), bundle: D1 },
    { bundle: D1, by: 'Bob <bob@example.com>', at: 'x' , check: { verified: false, reason: 'is unsigned' } },
    { bundle: D1, by: 'Bob <bob@example.com>', at: 'x', statement: {}, check: { verified: false, reason: 'is not signed by a key or identity in trust.approvers' } },
    signedApproval(BOB, { bundle: D2 }),
  ];
  const short = await gate.evaluate(signedCtx(approvals));
  assert.equal(short.passed, false);
  assert.match(short.summary, /^1\/2 approvals/);
  assert.deepEqual((short.evidence.ignored as { why: string }[]).map((i) => i.why), [
    'already approved (counted once)',
    "is signed with the promoter's own key (separateDuties)",
    'is not among the allowed approvers (from)',
    `approves parameters ${P2.slice(0, 19)}, not ${P1.slice(0, 19)} (the parameters changed since)`,
    'approves it for stage staging, not production (replayed)',
    'approves it for pipeline other, not webapp (replayed)',
    `is signed for bundle ${D2.slice(0, 19)}, not ${D1.slice(0, 19)}`,
    'is unsigned',
    'is not signed by a key or identity in trust.approvers',
  ]);
  assert.equal(short.evidence.authenticated, true);
  const enough = await gate.evaluate(signedCtx([...approvals, signedApproval(BOB)]));
  assert.equal(enough.passed, true);
  assert.deepEqual((enough.evidence.approvers as { key: string }[]).map((a) => a.key), [ALICE.key, BOB.key]);
  // Without the candidate's parameters digest nothing can be matched, so nothing counts.
  assert.equal((await gate.evaluate(ctx({ approvals: [...approvals, signedApproval(BOB)], approvalsSigned: true, promoterKey: PAT_KEY }))).passed, false);
  // Without separateDuties an approval signed with the promoter's key counts.
  const self = await create(approvalGate, parse(approvalGate, { count: 1 })).evaluate(signedCtx([signedApproval(PAT)]));
  assert.equal(self.passed, true);
});

test('approval (unsigned, plain data): counts git authors for count only and says so; from and separateDuties fail closed', async () => {
  const approvals: Approval[] = [
    { bundle: D1, by: 'Alice <alice@example.com>', at: '2026-03-30T08:00:00Z' },
    { bundle: D1, by: 'Alice A. <ALICE@example.com>', at: '2026-03-30T08:05:00Z' },
    { bundle: D2, by: 'Bob <bob@example.com>', at: '2026-03-30T08:08:00Z' },
    // A hand-edited `check` is ignored in unsigned mode too (it counts as the author it names, once).
    { bundle: D1, by: 'Alice <alice@example.com>', at: 'x', check: { verified: true, pipeline: 'webapp', stage: 'production', bundle: D1, parameters: P1, approver: 'Eve', identity: 'e', names: [], person: 'eve' } },
  ];
  const one = await create(approvalGate, parse(approvalGate, { count: 1 })).evaluate(ctx({ approvals }));
  assert.equal(one.passed, true);
  assert.match(one.summary, /not authenticated/);
  assert.equal(one.evidence.authenticated, false);
  assert.equal((await create(approvalGate, parse(approvalGate, { count: 2 })).evaluate(ctx({ approvals }))).passed, false, 'Alice counts once');
  const dutiful = await create(approvalGate, parse(approvalGate, { count: 1, separateDuties: true })).evaluate(ctx({ approvals }));
  assert.equal(dutiful.passed, false);
  assert.match(dutiful.summary, /separateDuties needs signed approvals: add trust.approvers/);
});

test('manual never passes on its own; --force with a reason passes it and records the reason', async () => {
  const gate = create(manualGate, parse(manualGate, undefined));
  assert.equal((await gate.evaluate(ctx())).passed, false);
  assert.equal((await gate.evaluate(ctx({ force: { reason: '  ' } }))).passed, false);
  const forced = await gate.evaluate(ctx({ force: { reason: 'hotfix INC-42' } }));
  assert.equal(forced.passed, true);
  assert.deepEqual(forced.evidence, { forcedBy: 'Pat <pat@example.com>', reason: 'hotfix INC-42' });
});

const berlin: WindowGateSpec = parse(windowGate, { days: ['Mon-Fri'], hours: '09:00-16:00', timezone: 'Europe/Berlin' });

test('window follows Europe/Berlin across the spring DST change: 09:00 local is 08:00 UTC before and 07:00 UTC after', async () => {
  assert.deepEqual(berlin.days, ['Mon', 'Tue', 'Wed', 'Thu', 'Fri']);
  // Friday 27 March 2026 is CET (UTC+1); the clocks go forward on Sunday 29 March 01:00 UTC.
  assert.equal(isOpen(berlin, new Date('2026-03-27T07:59:00Z')), false, 'Fri 08:59 CET');
  assert.equal(isOpen(berlin, new Date('2026-03-27T08:00:00Z')), true, 'Fri 09:00 CET');
  assert.equal(isOpen(berlin, new Date('2026-03-27T14:59:00Z')), true, 'Fri 15:59 CET');
  assert.equal(isOpen(berlin, new Date('2026-03-27T15:00:00Z')), false, 'Fri 16:00 CET');
  // Monday 30 March 2026 is CEST (UTC+2): the same local window sits an hour earlier in UTC.
  assert.equal(isOpen(berlin, new Date('2026-03-30T06:59:00Z')), false, 'Mon 08:59 CEST');
  assert.equal(isOpen(berlin, new Date('2026-03-30T07:00:00Z')), true, 'Mon 09:00 CEST');
  assert.equal(isOpen(berlin, new Date('2026-03-30T13:59:00Z')), true, 'Mon 15:59 CEST');
  assert.equal(isOpen(berlin, new Date('2026-03-30T14:00:00Z')), false, 'Mon 16:00 CEST');
  assert.equal(localTime(new Date('2026-03-30T07:00:00Z'), 'Europe/Berlin').text, '2026-03-30 09:00 GMT+2');
  // Closed over the weekend; the next opening, computed across the change, is Mon 07:00 UTC.
  const gate = create(windowGate, berlin);
  const closed = await gate.evaluate(ctx({ now: new Date('2026-03-28T12:00:00Z') }));
  assert.equal(closed.passed, false);
  assert.equal(closed.evidence.nextOpening, '2026-03-30T07:00:00.000Z');
  assert.match(closed.summary, /closed: it is Sat 2026-03-28 13:00 GMT\+1 in Europe\/Berlin; opens 2026-03-30 09:00 GMT\+2/);
  assert.equal((await gate.evaluate(ctx({ now: new Date('2026-03-30T07:30:00Z') }))).passed, true);
});

test('window on the DST nights: the skipped hour never opens, the repeated hour is open twice, autumn shifts back', async () => {
  // 02:00-03:00 local does not exist on 29 March 2026 in Berlin (02:00 CET jumps to 03:00 CEST).
  const night = parse(windowGate, { days: ['Sun'], hours: '02:00-03:00', timezone: 'Europe/Berlin' });
  assert.equal(isOpen(night, new Date('2026-03-29T00:59:00Z')), false, '01:59 CET');
  assert.equal(isOpen(night, new Date('2026-03-29T01:00:00Z')), false, '03:00 CEST');
  assert.equal(nextOpening(night, new Date('2026-03-29T00:00:00Z'))?.toISOString(), '2026-04-05T00:00:00.000Z', 'next Sunday, 02:00 CEST');
  // 25 October 2026: 02:00-03:00 local happens twice (CEST, then CET): open for two real hours.
  assert.equal(isOpen(night, new Date('2026-10-25T00:00:00Z')), true, '02:00 CEST');
  assert.equal(isOpen(night, new Date('2026-10-25T01:30:00Z')), true, '02:30 CET');
  assert.equal(isOpen(night, new Date('2026-10-25T02:00:00Z')), false, '03:00 CET');
  // After the autumn change 09:00 local is 08:00 UTC again.
  assert.equal(isOpen(berlin, new Date('2026-10-26T07:30:00Z')), false, 'Mon 08:30 CET');
  assert.equal(isOpen(berlin, new Date('2026-10-26T08:00:00Z')), true, 'Mon 09:00 CET');
});

test('window past midnight belongs to the day it opened', async () => {
  const late = parse(windowGate, { days: ['Fri'], hours: '22:00-02:00', timezone: 'UTC' });
  assert.equal(isOpen(late, new Date('2026-03-27T22:30:00Z')), true, 'Fri 22:30');
  assert.equal(isOpen(late, new Date('2026-03-28T01:30:00Z')), true, 'Sat 01:30, opened Friday');
  assert.equal(isOpen(late, new Date('2026-03-28T22:30:00Z')), false, 'Sat 22:30');
  assert.equal(isOpen(late, new Date('2026-03-27T01:30:00Z')), false, 'Fri 01:30 belongs to Thursday');
});
