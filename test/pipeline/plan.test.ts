import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Approval, StatusObservation } from '../../src/pipeline/gate.ts';
import { assemblePlan, planOutcome, type PlanInput } from '../../src/pipeline/plan.ts';
import type { Pipeline } from '../../src/pipeline/pipeline.ts';
import { noOutsideFacts } from './no-outside-facts.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const D3 = `sha256:${'3'.repeat(64)}`;

const pipeline: Pipeline = {
  name: 'webapp',
  repository: 'localhost:5000/acme/webapp',
  ledger: { repository: '/tmp/ledger' },
  trust: { bundles: [], promotions: [], agents: [], approvers: [] },
  file: '/tmp/pipelines/webapp.yaml',
  stages: [
    { name: 'dev', environment: 'dev', promotion: 'auto', gates: [], initialHold: false, source: { file: 'x' } },
    { name: 'staging', environment: 'staging', from: 'dev', promotion: 'manual', gates: [{ type: 'converged' }, { type: 'soak', duration: '15m', milliseconds: 900_000 }], initialHold: false, source: { file: 'x' } },
    { name: 'production', environment: 'production', from: 'staging', promotion: 'manual', gates: [{ type: 'approval', count: 1, separateDuties: true }, { type: 'manual' }], initialHold: false, source: { file: 'x' } },
  ],
};

const now = new Date('2026-03-30T10:00:00Z');
const converged = (since: string) => [{ cluster: 'dev-1', phase: 'Converged' as const, bundle: D2, since, observedAt: '2026-03-30T09:59:00Z' }];

/** The gates' facts as plain data: the upstream reports and the stage's approvals, as the engine would read them. */
type PlainInput = Partial<PlanInput> & { reports?: StatusObservation[]; fromClusters?: string[]; approvals?: Approval[] };

function input({ reports = converged('2026-03-30T09:00:00Z'), fromClusters = ['dev-1'], approvals = [], ...over }: PlainInput): PlanInput {
  return {
    pipeline,
    stage: 'staging',
    action: 'promote',
    ledger: { dev: { current: D2, history: [D1, D2] }, staging: { current: D1, history: [D1] } },
    facts: { ...noOutsideFacts, upstreamReports: async () => ({ clusters: fromClusters, reports }), approvals: async () => ({ signed: false, approvals }) },
    promoter: 'Pat <pat@example.com>',
    now,
    ...over,
  };
}

test('plan (plain data): the default candidate is what the from stage runs, and it may move when gates pass', async () => {
  const plan = await assemblePlan(input({}));
  assert.equal(plan.candidate, D2);
  assert.equal(plan.candidateSource, 'from-stage');
  assert.equal(plan.current, D1);
  assert.equal(plan.allowed, true);
  assert.equal(plan.upToDate, false);
  assert.deepEqual(plan.gates.map((g) => [g.gate, g.passed]), [['converged', true], ['soak 15m', true]]);
  assert.equal(planOutcome(plan), undefined);
});

test('plan (plain data): failing gates block with their evidence; --force overrides and marks them', async () => {
  const plan = await assemblePlan(input({ reports: converged('2026-03-30T09:50:00Z') }));
  assert.equal(plan.allowed, false);
  assert.equal(plan.blockers[0]!.code, 'GATES_FAILED');
  assert.equal(plan.blockers[0]!.message, '1 of 2 gates of staging did not pass: soak 15m');
  assert.deepEqual(plan.blockers[0]!.problems, [{ message: 'soak 15m: not soaked for 15m: dev-1: healthy for 10m, 5m to go', rule: 'gate-soak' }]);
  assert.equal(planOutcome(plan), 'refused');
  const forced = await assemblePlan(input({ reports: converged('2026-03-30T09:50:00Z'), force: { reason: 'INC-7' } }));
  assert.equal(forced.allowed, true);
  assert.equal(forced.gates[1]!.overridden, true);
  const auto = await assemblePlan(input({ action: 'auto', reports: converged('2026-03-30T09:50:00Z'), force: { reason: 'x' } }));
  assert.equal(auto.allowed, false, 'automatic promotion never forces');
});

test('plan (plain data): a candidate that never ran in from, a held stage, and no upstream record are refused', async () => {
  const notInFrom = await assemblePlan(input({ candidate: D3 }));
  assert.deepEqual(notInFrom.blockers.map((b) => b.code), ['CANDIDATE_NOT_IN_FROM', 'GATES_FAILED']);
  assert.equal(planOutcome(notInFrom), 'refused');
  const held = await assemblePlan(input({ ledger: { dev: { current: D2, history: [D2] }, staging: { history: [], hold: { by: 'Ops <ops@x>', at: '2026-03-30T08:00:00Z', reason: 'freeze' } } } }));
  assert.equal(held.blockers[0]!.code, 'STAGE_HELD');
  assert.match(held.blockers[0]!.message, /held by Ops <ops@x> since .*: freeze/);
  const nothing = await assemblePlan(input({ ledger: {} }));
  assert.equal(nothing.blockers[0]!.code, 'NOTHING_TO_PROMOTE');
  const first = await assemblePlan(input({ stage: 'dev', ledger: {} }));
  assert.equal(first.blockers[0]!.code, 'CANDIDATE_REQUIRED');
  assert.equal(planOutcome(first), 'usage');
  assert.equal((await assemblePlan(input({ stage: 'dev', candidate: D3 }))).allowed, true, 'a first stage takes any bundle');
});

test('plan (plain data): verification failures outrank gate refusals in the exit outcome', async () => {
  const plan = await assemblePlan(input({ signature: { passed: false, summary: 'no signature by a trusted key', outcome: 'verification', code: 'SIGNATURE_MISSING' }, reports: [] }));
  assert.deepEqual(plan.blockers.map((b) => b.code), ['SIGNATURE_MISSING', 'GATES_FAILED']);
  assert.equal(planOutcome(plan), 'verification');
});

test('plan (plain data): rollback picks from the stage\'s own history, separateDuties ignores the promoter\'s approval', async () => {
  const ledger = { staging: { current: D2, history: [D1, D2] }, production: { current: D2, history: [D1, D2] } };
  const approvals = [{ bundle: D1, by: 'Pat <pat@example.com>', at: 'x' }];
  const back = await assemblePlan(input({ stage: 'production', action: 'rollback', candidate: D1, ledger, approvals, force: { reason: 'bad release' } }));
  assert.equal(back.candidateSource, 'rollback');
  assert.equal(back.allowed, true);
  assert.deepEqual(back.gates.map((g) => [g.type, g.passed, g.overridden]), [['approval', false, true], ['manual', true, undefined]]);
  const unforced = await assemblePlan(input({ stage: 'production', action: 'rollback', candidate: D1, ledger, approvals }));
  assert.equal(unforced.allowed, false);
  assert.equal((await assemblePlan(input({ stage: 'production', action: 'rollback', candidate: D3, ledger }))).blockers[0]!.code, 'ROLLBACK_TARGET_UNKNOWN');
});

test('plan diff (plain data): parameter differences by JSON pointer, added and removed values named, secrets by reference only', async () => {
  const { parameterDifferences } = await import('../../src/params/parameter-diff.ts');
  assert.deepEqual(parameterDifferences({ replicas: 2, db: { host: 'a', port: 5432 }, old: true, 'a/b': 1 }, { replicas: 3, db: { host: 'a', port: 5433 }, hostname: 'x', 'a/b': 2 }), [
    { pointer: '/a~1b', before: 1, after: 2 },
    { pointer: '/db/port', before: 5432, after: 5433 },
    { pointer: '/hostname', after: 'x' },
    { pointer: '/old', before: true },
    { pointer: '/replicas', before: 2, after: 3 },
  ]);
  // A reference is one value (its name and key), never walked into; a literal where the schema
  // says secret (a record older than the schema) is masked, never shown.
  const ref = (name: string) => ({ secretRef: { name, key: 'password' } });
  assert.deepEqual(parameterDifferences({ db: { password: ref('db-old') } }, { db: { password: ref('db-new') } }, ['/db/password']), [{ pointer: '/db/password', before: ref('db-old'), after: ref('db-new') }]);
  const masked = parameterDifferences({ tokens: ['s3cr3t-1'] }, { tokens: ['s3cr3t-2'] }, ['/tokens']);
  assert.deepEqual(masked, [{ pointer: '/tokens', before: '(secret value, not shown)', after: '(secret value, not shown)' }]);
  assert.doesNotMatch(JSON.stringify(masked), /s3cr3t/);
});

test('changed parameters (plain data): the environment\'s pointers, and a cluster override\'s with its cluster', async () => {
  const { changedParameters, describeChange } = await import('../../src/promotion/parameter-diff.ts');
  const before = { parameters: { replicas: 1, hostname: 'a' }, clusters: [{ name: 'eu', parameters: { replicas: 1, hostname: 'a' } }, { name: 'us', parameters: { replicas: 1, hostname: 'a' } }] };
  const after = { parameters: { replicas: 2, hostname: 'a' }, clusters: [{ name: 'eu', parameters: { replicas: 2, hostname: 'a' } }, { name: 'us', parameters: { replicas: 2, hostname: 'us.a' } }] };
  assert.deepEqual(changedParameters(before, after).map(describeChange), ['/hostname (cluster us)', '/replicas']);
  assert.deepEqual(changedParameters(before, before), []);
});

const P1 = `sha256:${'a'.repeat(64)}`;
const P2 = `sha256:${'b'.repeat(64)}`;

test('plan (plain data): the same bundle with other parameters is a configuration change; upstream converged/soak do not apply and say why', async () => {
  const ledger = { dev: { current: D2, history: [D1, D2] }, staging: { current: D2, parameters: P1, history: [D1, D2] } };
  const plan = await assemblePlan(input({ ledger, reports: [], candidateParameters: P2, parameters: { passed: true, summary: 'ok' } }));
  assert.equal(plan.change, 'configuration');
  assert.equal(plan.upToDate, false);
  assert.equal(plan.allowed, true, 'no upstream report is needed: the bundle did not change');
  assert.equal(plan.parametersDigest, P2);
  assert.equal(plan.currentParameters, P1);
  assert.deepEqual(plan.gates.map((g) => [g.gate, g.passed, g.applicable]), [['converged', true, false], ['soak 15m', true, false]]);
  assert.match(plan.gates[0]!.summary, /not applicable to a configuration change: the bundle \(sha256:2+\) did not change/);
  assert.equal(plan.gates[1]!.evidence.reason, 'configuration-change');
  const same = await assemblePlan(input({ ledger, reports: [], candidateParameters: P1, parameters: { passed: true, summary: 'ok' } }));
  assert.equal(same.change, 'none');
  assert.equal(same.upToDate, true);
  assert.equal(same.allowed, true);
  // A new bundle is a promotion whatever its parameters: upstream gates judge it as ever.
  const promotion = await assemblePlan(input({ candidateParameters: P2 }));
  assert.equal(promotion.change, 'promotion');
  assert.equal(promotion.gates.every((g) => g.applicable === undefined), true);
});

test('plan (plain data): approval, window, manual and hold still apply to a configuration change', async () => {
  const ledger = { staging: { current: D2, history: [D2] }, production: { current: D2, parameters: P1, history: [D2] } };
  const plan = await assemblePlan(input({ stage: 'production', ledger, reports: [], candidateParameters: P2 }));
  assert.equal(plan.change, 'configuration');
  assert.deepEqual(plan.gates.map((g) => [g.type, g.passed]), [['approval', false], ['manual', false]]);
  assert.equal(plan.allowed, false);
  const held = await assemblePlan(input({ stage: 'production', ledger: { ...ledger, production: { ...ledger.production, hold: { by: 'Ops <ops@x>', at: 'x' } } }, reports: [], candidateParameters: P2 }));
  assert.equal(held.blockers[0]!.code, 'STAGE_HELD');
});

test('plan (plain data): a first stage without --bundle means the bundle it runs now: a configuration change, nothing to do, or refused when its parameters broke', async () => {
  const ledger = { dev: { current: D2, parameters: P1, history: [D1, D2] } };
  const changed = await assemblePlan(input({ stage: 'dev', ledger, candidateParameters: P2 }));
  assert.equal(changed.candidate, D2);
  assert.equal(changed.candidateSource, 'current');
  assert.equal(changed.change, 'configuration');
  assert.equal(changed.allowed, true);
  const nothing = await assemblePlan(input({ stage: 'dev', ledger, candidateParameters: P1 }));
  assert.equal(nothing.upToDate, true);
  assert.equal(nothing.allowed, true);
  const broken = await assemblePlan(input({ stage: 'dev', ledger, parameters: { passed: false, summary: 'replicas must be >= 1', outcome: 'verification', code: 'PARAMETERS_INVALID' } }));
  assert.equal(broken.change, 'configuration', 'never "up to date" with parameters the bundle refuses');
  assert.equal(broken.upToDate, false);
  assert.equal(planOutcome(broken), 'verification');
  assert.equal((await assemblePlan(input({ stage: 'dev', ledger: {} }))).blockers[0]!.code, 'CANDIDATE_REQUIRED', 'nothing runs yet: say which bundle');
});
