import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StatusObservation } from '../../src/pipeline/gate.ts';
import { assemblePlan, planOutcome, type PlanInput, type StageView } from '../../src/pipeline/plan.ts';
import type { Pipeline, Stage } from '../../src/pipeline/pipeline.ts';
import type { RolloutSpec } from '../../src/pipeline/rollout.ts';
import type { RecordRollout } from '../../src/records/rollout.ts';
import { noOutsideFacts } from './no-outside-facts.ts';

// The planner's wave releases (issue 19), with in-process facts: the stage's own status reports
// and the upstream's as plain data, as the engine would read them.

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const D3 = `sha256:${'3'.repeat(64)}`;
const R1 = `sha256:${'a'.repeat(64)}`;
const P1 = `sha256:${'b'.repeat(64)}`;
const CLUSTERS = ['prod-eu-1', 'prod-eu-2', 'prod-us-1', 'prod-us-2'];

function rolloutSpec(maxUnavailable: RolloutSpec['maxUnavailable'] = { count: 0 }): RolloutSpec {
  return {
    waves: [
      { clusters: ['prod-eu-1'], gates: [], at: '/spec/stages/1/rollout/waves/0' },
      { clusters: ['prod-eu-2', 'prod-us-1'], gates: [{ type: 'soak', duration: '30m', milliseconds: 1_800_000 }], at: '/spec/stages/1/rollout/waves/1' },
      { clusters: ['*'], gates: [{ type: 'converged' }], at: '/spec/stages/1/rollout/waves/2' },
    ],
    maxUnavailable,
  };
}

function pipelineWith(rollout: RolloutSpec): Pipeline {
  const production: Stage = { name: 'production', environment: 'production', from: 'staging', promotion: 'manual', gates: [{ type: 'converged' }], rollout, initialHold: false, source: { file: 'x' } };
  return {
    name: 'webapp',
    repository: 'localhost:5000/acme/webapp',
    ledger: { repository: '/tmp/ledger' },
    trust: { bundles: [], promotions: [], agents: [], approvers: [] },
    file: '/tmp/pipelines/webapp.yaml',
    stages: [{ name: 'staging', environment: 'staging', promotion: 'manual', gates: [], initialHold: false, source: { file: 'x' } }, production],
  };
}

const now = new Date('2026-03-30T10:00:00Z');
const WAVES = [{ clusters: ['prod-eu-1'] }, { clusters: ['prod-eu-2', 'prod-us-1'] }, { clusters: ['prod-us-2'] }];

function report(cluster: string, phase: StatusObservation['phase'], since: string, bundle = D1, extra: Partial<StatusObservation> = {}): StatusObservation {
  return { cluster, phase, bundle, since, observedAt: '2026-03-30T09:59:00Z', verified: true, ...extra };
}

type WaveInput = Partial<PlanInput> & { wave?: number; own?: StatusObservation[]; view?: Partial<StageView>; spec?: RolloutSpec };

function input({ wave = 1, own = [], view = {}, spec = rolloutSpec(), ...over }: WaveInput): PlanInput {
  const rollout: RecordRollout = { wave, waves: WAVES };
  return {
    pipeline: pipelineWith(spec),
    stage: 'production',
    action: 'promote',
    ledger: { staging: { current: D2, history: [D1, D2] }, production: { current: D1, record: R1, parameters: P1, history: [D1], rollout, ...view } },
    facts: {
      ...noOutsideFacts,
      // A wave release judges the stage's own clusters: reading upstream would be a bug.
      upstreamReports: async () => {
        throw new Error('a wave plan read the upstream reports');
      },
      stageReports: async () => ({ clusters: CLUSTERS, reports: own }),
      approvals: async () => ({ signed: false, approvals: [] }),
    },
    promoter: 'Pat <pat@example.com>',
    now,
    ...over,
  };
}

test('wave plan (in-process facts): the canary Converged and soaked releases wave 2, with the same bundle and parameters', async () => {
  const plan = await assemblePlan(input({ own: [report('prod-eu-1', 'Converged', '2026-03-30T09:00:00Z'), report('prod-eu-2', 'Converged', '2026-03-30T08:00:00Z', D3)] }));
  assert.equal(plan.change, 'wave');
  assert.equal(plan.candidate, D1, 'the bundle rolling out, not what staging runs');
  assert.equal(plan.candidateSource, 'rollout');
  assert.equal(plan.parametersDigest, P1);
  assert.equal(plan.upToDate, false);
  assert.deepEqual(plan.rollout, { wave: 2, of: 3, clusters: ['prod-eu-2', 'prod-us-1'], released: ['prod-eu-1'], state: 'ready', newer: D2 });
  assert.deepEqual(plan.gates.map((g) => [g.gate, g.passed]), [['rollout wave 1', true], ['soak 30m', true]]);
  // The soak judges this stage's released wave: one cluster, prod-eu-1 — prod-eu-2 is not released yet.
  const soak = plan.gates[1]!.evidence as { from: string; clusters: { cluster: string }[] };
  assert.equal(soak.from, 'production');
  assert.deepEqual(soak.clusters.map((c) => c.cluster), ['prod-eu-1']);
  assert.equal(plan.allowed, true);
});

test('wave plan (in-process facts): not soaked long enough, not yet Converged, or no report: the wave waits, and the state says why', async () => {
  const soaking = await assemblePlan(input({ own: [report('prod-eu-1', 'Converged', '2026-03-30T09:50:00Z')] }));
  assert.equal(soaking.rollout?.state, 'soaking');
  assert.deepEqual(soaking.blockers.map((b) => b.code), ['GATES_FAILED']);
  assert.match(soaking.blockers[0]!.message, /^wave 2 of 3 of production is not released yet: 1 of 2 gates did not pass: soak 30m$/);
  assert.equal(planOutcome(soaking), 'refused');

  const progressing = await assemblePlan(input({ own: [report('prod-eu-1', 'Progressing', '2026-03-30T09:50:00Z')] }));
  assert.equal(progressing.rollout?.state, 'progressing');
  assert.equal(progressing.gates[0]!.passed, false);

  const silent = await assemblePlan(input({ own: [] }));
  assert.equal(silent.rollout?.state, 'progressing');
  assert.match(silent.gates[0]!.summary, /prod-eu-1: no status report/);
});

test('wave plan (in-process facts): a Degraded canary on the bundle stops the rollout (ROLLOUT_STOPPED); one Degraded on another bundle proves nothing', async () => {
  const stopped = await assemblePlan(input({ own: [report('prod-eu-1', 'Degraded', '2026-03-30T09:00:00Z', D1, { reason: 'HealthCheckFailed' })] }));
  assert.equal(stopped.rollout?.state, 'stopped');
  assert.deepEqual(stopped.blockers.map((b) => b.code), ['ROLLOUT_STOPPED']);
  assert.match(stopped.blockers[0]!.message, /stopped at wave 1 of 3: prod-eu-1 Degraded \(maxUnavailable 0\); wave 2 is not released/);
  assert.match(stopped.blockers[0]!.hint!, /promote rollback production/);
  assert.match(stopped.blockers[0]!.hint!, /--bundle/);
  assert.equal(planOutcome(stopped), 'refused');

  for (const phase of ['Failed', 'Refused'] as const) {
    const p = await assemblePlan(input({ own: [report('prod-eu-1', phase, '2026-03-30T09:00:00Z')] }));
    assert.equal(p.rollout?.state, 'stopped', phase);
  }
  const other = await assemblePlan(input({ own: [report('prod-eu-1', 'Degraded', '2026-03-30T09:00:00Z', D3)] }));
  assert.equal(other.rollout?.state, 'progressing');
  const untrusted = await assemblePlan(input({ own: [report('prod-eu-1', 'Refused', '', D1, { verified: false, reason: 'signature not trusted' })] }));
  assert.equal(untrusted.rollout?.state, 'progressing', 'an untrusted report does not stop a rollout');
});

test('wave plan (in-process facts): maxUnavailable tolerates that many released clusters not Converged, or unhealthy, before the rollout stops', async () => {
  const soaked = '2026-03-30T08:00:00Z';
  const ok = (c: string) => report(c, 'Converged', soaked);
  const one = await assemblePlan(input({ wave: 2, spec: rolloutSpec({ count: 1 }), own: [ok('prod-eu-1'), ok('prod-eu-2'), report('prod-us-1', 'Progressing', soaked)] }));
  assert.equal(one.rollout?.wave, 3);
  assert.deepEqual(one.rollout?.released, ['prod-eu-1', 'prod-eu-2', 'prod-us-1']);
  assert.equal(one.gates[0]!.gate, 'rollout waves 1-2');
  assert.equal(one.gates[0]!.passed, true, one.gates[0]!.summary);
  // The wave's own converged gate judges the released clusters of this stage, strictly.
  assert.equal(one.gates[1]!.type, 'converged');
  assert.equal(one.gates[1]!.passed, false);
  assert.equal(one.rollout?.state, 'waiting');

  const degraded = await assemblePlan(input({ wave: 2, spec: rolloutSpec({ percent: 34 }), own: [ok('prod-eu-1'), ok('prod-eu-2'), report('prod-us-1', 'Degraded', soaked)] }));
  assert.equal(degraded.gates[0]!.passed, true, 'one of three at 34 % is tolerated');
  assert.notEqual(degraded.rollout?.state, 'stopped');
  const two = await assemblePlan(input({ wave: 2, spec: rolloutSpec({ count: 1 }), own: [ok('prod-eu-1'), report('prod-eu-2', 'Failed', soaked), report('prod-us-1', 'Degraded', soaked)] }));
  assert.equal(two.rollout?.state, 'stopped');
  assert.equal(two.blockers[0]!.code, 'ROLLOUT_STOPPED');
});

test('wave plan (in-process facts): a held stage refuses the wave; --force overrides failing wave gates and says so; run (auto) never forces', async () => {
  const held = await assemblePlan(input({ own: [report('prod-eu-1', 'Converged', '2026-03-30T08:00:00Z')], view: { hold: { by: 'Ops <ops@x>', at: '2026-03-30T08:00:00Z' } } }));
  assert.equal(held.change, 'wave');
  assert.deepEqual(held.blockers.map((b) => b.code), ['STAGE_HELD']);
  const forced = await assemblePlan(input({ own: [report('prod-eu-1', 'Degraded', '2026-03-30T09:00:00Z')], force: { reason: 'INC-9: known flake' } }));
  assert.equal(forced.allowed, true);
  assert.equal(forced.gates[0]!.overridden, true);
  assert.deepEqual(forced.force, { reason: 'INC-9: known flake' });
  const auto = await assemblePlan(input({ action: 'auto', own: [report('prod-eu-1', 'Degraded', '2026-03-30T09:00:00Z')], force: { reason: 'x' } }));
  assert.equal(auto.allowed, false);
});

test('plan (in-process facts): --bundle with another bundle, a complete rollout, or a stage without a record starts a rollout at wave 1; a rollback starts none', async () => {
  const reports = async () => ({ clusters: ['staging-1'], reports: [report('staging-1', 'Converged', '2026-03-30T08:00:00Z', D2)] });
  const facts = { ...input({}).facts, upstreamReports: reports };
  const fix = await assemblePlan(input({ candidate: D2, clusters: CLUSTERS, facts }));
  assert.equal(fix.change, 'promotion');
  assert.deepEqual(fix.rollout, { wave: 1, of: 3, clusters: ['prod-eu-1'], waves: [['prod-eu-1'], ['prod-eu-2', 'prod-us-1'], ['prod-us-2']], state: 'starting' });
  assert.deepEqual(fix.gates.map((g) => g.gate), ['converged'], "the stage's own gates judge the start of a rollout");

  const complete = await assemblePlan(input({ wave: 3, clusters: CLUSTERS, facts }));
  assert.equal(complete.change, 'promotion');
  assert.equal(complete.rollout?.state, 'starting');

  const rollback = await assemblePlan(input({ action: 'rollback', candidate: D1, clusters: CLUSTERS, facts, view: { current: D3, history: [D1] } }));
  assert.equal(rollback.change, 'promotion');
  assert.equal(rollback.rollout, undefined, 'a rollback releases every cluster at once');

  const sameBundle = await assemblePlan(input({ candidate: D1, own: [report('prod-eu-1', 'Converged', '2026-03-30T08:00:00Z')] }));
  assert.equal(sameBundle.change, 'wave', '--bundle naming the bundle rolling out releases its next wave');
});

test('plan (in-process facts): waves that do not fit the environment refuse the promotion with ROLLOUT_INVALID (exit 2) and every problem', async () => {
  const reports = async () => ({ clusters: ['staging-1'], reports: [report('staging-1', 'Converged', '2026-03-30T08:00:00Z', D2)] });
  const spec: RolloutSpec = { waves: [{ clusters: ['prod-ap-1'], gates: [], at: '/spec/stages/1/rollout/waves/0' }, { clusters: ['prod-eu-*'], gates: [], at: '/spec/stages/1/rollout/waves/1' }], maxUnavailable: { count: 0 } };
  const plan = await assemblePlan(input({ spec, candidate: D2, clusters: CLUSTERS, view: { rollout: undefined }, facts: { ...input({}).facts, upstreamReports: reports } }));
  const b = plan.blockers.find((x) => x.code === 'ROLLOUT_INVALID')!;
  assert.ok(b, JSON.stringify(plan.blockers));
  assert.equal(b.outcome, 'usage');
  assert.deepEqual(b.problems!.map((p) => p.message), ['wave 1 names cluster prod-ap-1, which the environment does not have', 'clusters prod-us-1, prod-us-2 are in no wave: name them, or end the waves with {clusters: "*"}']);
  assert.equal(b.problems![0]!.pointer, '/spec/stages/1/rollout/waves');
  assert.equal(planOutcome(plan), 'usage');
});

test('wave plan (in-process facts): a Degraded report older than reports.maxAge proves nothing against the bundle — the canary is unavailable, the rollout progressing, not stopped', async () => {
  const stale = report('prod-eu-1', 'Degraded', '2026-03-30T08:00:00Z', D1, { observedAt: '2026-03-30T08:30:00Z' });
  const plan = await assemblePlan(input({ own: [stale] }));
  assert.equal(plan.rollout?.state, 'progressing', JSON.stringify(plan.rollout));
  assert.ok(!plan.blockers.some((b) => b.code === 'ROLLOUT_STOPPED'), JSON.stringify(plan.blockers));
  assert.match(plan.gates[0]!.summary, /outside reports\.maxAge/);
  const fresh = await assemblePlan(input({ own: [{ ...stale, observedAt: '2026-03-30T09:59:00Z' }] }));
  assert.equal(fresh.rollout?.state, 'stopped', 'the same report, fresh, stops it');
});
