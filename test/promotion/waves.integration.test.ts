import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError, type PromoteError } from '../../src/errors.ts';
import type { Plan } from '../../src/pipeline/plan.ts';
import { setHold } from '../../src/promotion/hold.ts';
import { history } from '../../src/promotion/history.ts';
import { planStage } from '../../src/promotion/plan.ts';
import { openProject, type Project } from '../../src/promotion/project.ts';
import { rollback } from '../../src/promotion/rollback.ts';
import { runOnce } from '../../src/promotion/run.ts';
import { verifyHistory } from '../../src/promotion/verify-history.ts';
import { pipelineStatus, statusTable } from '../../src/promotion/status.ts';
import { historyText, planText } from '../../src/cli/promotion-text.ts';
import { readTaggedRecord } from '../../src/promotion/signed-record.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { publishStatusReport, type StatusPhase } from '../../src/records/status-report.ts';
import { valuesDigest } from '../../src/records/promotion-record.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from './project.ts';
import { startReceiver } from '../notify/receiver.ts';
import { promote as runPromote } from '../cli/run-promote.ts';

// A production stage rolled out in three waves (issue 19), against the real registry and a real
// git ledger: status reports published as agents publish them (signed with the trusted agent key,
// at status-<stage>-<cluster>), the engine's records read back from the ledger and the tag.

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-waves-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const START = new Date('2026-03-30T10:00:00Z');
const PROD = ['prod-eu-1', 'prod-eu-2', 'prod-us-1', 'prod-us-2'];
const ROLLOUT = `[]
      rollout:
        waves:
          - {clusters: [prod-eu-1]}
          - {clusters: [prod-eu-2, prod-us-1], after: {soak: 30m}}
          - {clusters: "*"}`;

interface Wave {
  p: TestProject;
  eng: Project;
  clock: { now: Date };
}

async function waveProject(name: string, notifyUrl?: string): Promise<Wave> {
  const p = await createProject(join(base, name), registry.host, { name, agents: true, productionGates: ROLLOUT });
  if (notifyUrl) {
    const file = join(p.dir, 'pipelines', 'webapp.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('spec:\n', `spec:\n  notify:\n    - webhook: {url: "${notifyUrl}", events: [promoted, wave-released, rollout-stopped]}\n`));
  }
  await writeFile(join(p.dir, 'environments', 'production.yaml'), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: production}\nspec:\n  parameters: {namespace: production, replicas: 3}\n  clusters:\n${PROD.map((c) => `    - name: ${c}\n`).join('')}`);
  const clock = { now: START };
  const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, now: () => clock.now, cacheDir: join(p.dir, '..', 'cache') });
  return { p, eng, clock };
}

/**
 * As an agent publishes it, signed with the agents' key: observed a minute ago, in `phase` since
 * `since`, rendered with the parameters of the stage's current record for the cluster (or `parameters`).
 */
async function report(w: Wave, stage: string, cluster: string, digest: string, phase: StatusPhase, since: Date, parameters?: string) {
  const desc = (await w.p.registry.resolve(digest))!;
  const observedAt = new Date(w.clock.now.getTime() - 60_000).toISOString();
  await w.eng.ledger.refresh();
  const record = (await w.eng.ledger.read('webapp', stage))?.record;
  const values = record?.clusters.find((c) => c.name === cluster)?.parameters ?? record?.parameters;
  const applied = parameters ?? (record && values ? valuesDigest({ environment: record.environment, parameters: values }) : undefined);
  await publishStatusReport(w.p.registry, { mediaType: desc.mediaType, digest, size: desc.size }, { pipeline: 'webapp', stage, cluster, phase, bundle: { repository: w.p.repository, digest }, since: since.toISOString(), observedAt, ...(applied && { parameters: applied }) }, w.p.agent);
}

const ago = (w: Wave, minutes: number) => new Date(w.clock.now.getTime() - minutes * 60_000);

/** d into dev and staging, their agents reporting it Converged for an hour. */
async function upstream(w: Wave, d: string) {
  await promoteTo(w.eng, { stage: 'dev', bundle: d });
  await report(w, 'dev', 'dev-1', d, 'Converged', ago(w, 60));
  await promoteTo(w.eng, { stage: 'staging' });
  for (const c of ['staging-eu-1', 'staging-us-1']) await report(w, 'staging', c, d, 'Converged', ago(w, 60));
}

function refusedWith(code: string, exit: number, check?: (plan: Plan, err: PromoteError) => void) {
  return (err: unknown) => {
    assert.ok(isPromoteError(err), String(err));
    assert.equal(err.code, code, `${err.code}: ${err.message}`);
    assert.equal(err.exitCode, exit);
    check?.(err.details!.plan as Plan, err);
    return true;
  };
}

async function head(w: Wave) {
  await w.eng.ledger.refresh();
  return (await w.eng.ledger.read('webapp', 'production'))!;
}

test('waves: promote to starts the rollout at wave 1; wave 2 is released only once wave 1 is Converged and soaked; promote run releases wave 3; plan, status and history show the waves', async () => {
  const w = await waveProject('three-waves');
  const d1 = await w.p.push(1);
  await upstream(w, d1);

  const started = await promoteTo(w.eng, { stage: 'production' });
  assert.equal(started.action, 'promotion');
  assert.deepEqual(started.rollout, { wave: 1, of: 3, clusters: ['prod-eu-1'] });
  const first = await head(w);
  assert.deepEqual(first.record!.rollout, { wave: 1, waves: [{ clusters: ['prod-eu-1'] }, { clusters: ['prod-eu-2', 'prod-us-1'] }, { clusters: ['prod-us-2'] }] }, 'a first promotion keeps nothing');

  // No report from the canary yet: wave 2 waits (exit 3), nothing is written.
  await assert.rejects(promoteTo(w.eng, { stage: 'production' }), refusedWith('GATES_FAILED', 3, (plan) => {
    assert.equal(plan.change, 'wave');
    assert.equal(plan.rollout?.state, 'progressing');
    assert.deepEqual(plan.gates.map((g) => [g.gate, g.passed]), [['rollout wave 1', false], ['soak 30m', false]]);
  }));
  // A Converged report signed by a key nobody trusts proves nothing.
  const desc = (await w.p.registry.resolve(d1))!;
  await publishStatusReport(w.p.registry, { mediaType: desc.mediaType, digest: d1, size: desc.size }, { pipeline: 'webapp', stage: 'production', cluster: 'prod-eu-1', phase: 'Converged', bundle: { repository: w.p.repository, digest: d1 }, since: ago(w, 600).toISOString(), observedAt: ago(w, 1).toISOString() }, w.p.stranger);
  await assert.rejects(promoteTo(w.eng, { stage: 'production' }), refusedWith('GATES_FAILED', 3, (plan) => assert.equal(plan.rollout?.state, 'progressing')));
  // Converged 10 minutes: soaking.
  await report(w, 'production', 'prod-eu-1', d1, 'Converged', ago(w, 10));
  await assert.rejects(promoteTo(w.eng, { stage: 'production' }), refusedWith('GATES_FAILED', 3, (plan) => assert.equal(plan.rollout?.state, 'soaking')));
  assert.equal((await head(w)).recordDigest, first.recordDigest);

  // 30 minutes later (the agent re-reported meanwhile): wave 2.
  w.clock.now = new Date(START.getTime() + 30 * 60_000);
  await report(w, 'production', 'prod-eu-1', d1, 'Converged', ago(w, 40));
  const planned = await planStage(w.eng, { stage: 'production' });
  assert.deepEqual(planned.rollout, { wave: 2, of: 3, clusters: ['prod-eu-2', 'prod-us-1'], released: ['prod-eu-1'], state: 'ready' });
  const second = await promoteTo(w.eng, { stage: 'production' });
  assert.equal(second.action, 'wave');
  assert.deepEqual(second.rollout, { wave: 2, of: 3, clusters: ['prod-eu-2', 'prod-us-1'] });
  const h2 = await head(w);
  assert.equal(h2.record!.previous, first.recordDigest);
  assert.equal(h2.record!.sequence, first.record!.sequence + 1);
  assert.deepEqual([h2.record!.bundle, h2.record!.parameters, h2.record!.clusters], [first.record!.bundle, first.record!.parameters, first.record!.clusters], 'a wave copies bundle, parameters and clusters');
  assert.equal(h2.record!.rollout!.wave, 2);
  const tagged = await readTaggedRecord(w.p.registry, (await w.eng.trust()).promotions, 'webapp', 'production');
  assert.equal(tagged?.record, h2.recordDigest, 'the wave record is published at promotion-production');
  assert.match(planText(planned), /rollout: wave 2 of 3 \(prod-eu-2, prod-us-1\), after prod-eu-1: ready/);
  assert.match(planText(planned), /promote to production would release wave 2 of 3 of sha256:\w+ \(action wave\)/);

  // Status: wave 2 of 3 released, progressing; prod-us-2 (wave 3) is not behind, it has nothing to run yet.
  const status = await pipelineStatus({ cwd: w.p.dir, env: w.p.env, registry: { insecure: true }, now: () => w.clock.now });
  const rollout = status.rollouts?.find((r) => r.stage === 'production');
  assert.deepEqual([rollout?.wave, rollout?.of, rollout?.state], [2, 3, 'progressing']);
  assert.deepEqual(rollout?.waves.map((x) => [x.wave, x.released, x.clusters.map((c) => `${c.cluster} ${c.phase}`)]), [[1, true, ['prod-eu-1 Converged']], [2, true, ['prod-eu-2 NoReport', 'prod-us-1 NoReport']], [3, false, ['prod-us-2 NoReport']]]);
  const us2 = status.clusters.find((c) => c.stage === 'production' && c.cluster === 'prod-us-2')!;
  assert.deepEqual([us2.wave, us2.behind], [{ wave: 3, released: false }, false]);
  assert.equal(status.clusters.find((c) => c.cluster === 'prod-eu-2')!.behind, true, 'a released cluster without a report is behind');
  assert.match(statusTable(status), /production: rollout of sha256:\w+, wave 2 of 3 released, progressing/);
  assert.match(statusTable(status), /wave 3: not released yet, runs nothing of the stage yet/);

  // Wave 3 has no soak: promote run releases it once waves 1 and 2 are Converged — production is a manual stage, and run releases its waves anyway.
  for (const c of ['prod-eu-2', 'prod-us-1']) await report(w, 'production', c, d1, 'Converged', ago(w, 5));
  const pass = await runOnce(w.eng);
  const prod = pass.find((o) => o.stage === 'production')!;
  assert.equal(prod.result, 'released', JSON.stringify(prod));
  assert.deepEqual(prod.wave, { wave: 3, of: 3, clusters: ['prod-us-2'] });
  const h3 = await head(w);
  assert.equal(h3.record!.action, 'wave');
  assert.equal(h3.record!.rollout!.wave, 3);

  // Complete: promote to has nothing left to do, and run leaves the manual stage alone.
  const again = await promoteTo(w.eng, { stage: 'production' });
  assert.equal(again.upToDate, true);
  assert.equal((await runOnce(w.eng)).find((o) => o.stage === 'production'), undefined);

  const items = (await history(w.eng, 'production')).filter((h) => h.record);
  assert.deepEqual(items.map((h) => [h.action, h.wave]), [['wave', { wave: 3, of: 3 }], ['wave', { wave: 2, of: 3 }], ['promotion', { wave: 1, of: 3 }]]);
  assert.match(historyText('production', items), /wave {6}sha256:\w+  wave 3\/3  by Pat/);
  const verified = await verifyHistory(w.eng, 'production');
  assert.equal(verified.records, 3, 'the chain of wave records verifies against the registry');
  const done = await pipelineStatus({ cwd: w.p.dir, env: w.p.env, registry: { insecure: true }, now: () => w.clock.now });
  assert.equal(done.rollouts?.[0]?.state, 'complete');
});

test('waves: a Degraded canary stops the rollout: later waves untouched (the tag keeps the wave-1 record, nothing new in the ledger); hold blocks a wave; rollback returns every cluster at once', async () => {
  const w = await waveProject('stopped');
  const d1 = await w.p.push(1);
  await upstream(w, d1);
  await promoteTo(w.eng, { stage: 'production' });
  // d1 rolled out everywhere (forced past the wave gates, and recorded so).
  await promoteTo(w.eng, { stage: 'production', force: { reason: 'seed the test' } });
  await promoteTo(w.eng, { stage: 'production', force: { reason: 'seed the test' } });
  const d1Head = await head(w);
  assert.equal(d1Head.record!.rollout!.wave, 3);
  assert.equal(d1Head.record!.force?.reason, 'seed the test');

  const d2 = await w.p.push(2);
  await upstream(w, d2);
  const started = await promoteTo(w.eng, { stage: 'production' });
  assert.equal(started.bundle, d2);
  const d2Head = await head(w);
  assert.deepEqual(d2Head.record!.rollout!.keep, [{ record: d1Head.recordDigest, clusters: ['prod-eu-2', 'prod-us-1', 'prod-us-2'] }], 'the clusters of later waves keep the d1 record');

  await report(w, 'production', 'prod-eu-1', d2, 'Degraded', ago(w, 45));
  const commits = (await history(w.eng, 'production')).length;
  await assert.rejects(promoteTo(w.eng, { stage: 'production' }), refusedWith('ROLLOUT_STOPPED', 3, (plan, err) => {
    assert.equal(plan.rollout?.state, 'stopped');
    assert.match(err.message, /stopped at wave 1 of 3: prod-eu-1 Degraded/);
    assert.match(err.hint ?? '', /promote rollback production/);
  }));
  const pass = await runOnce(w.eng);
  assert.equal(pass.find((o) => o.stage === 'production')?.result, 'stopped');
  assert.equal((await head(w)).recordDigest, d2Head.recordDigest);
  assert.equal((await history(w.eng, 'production')).length, commits, 'nothing new in the ledger');
  const tagged = await readTaggedRecord(w.p.registry, (await w.eng.trust()).promotions, 'webapp', 'production');
  assert.equal(tagged?.record, d2Head.recordDigest, 'the tag holds the wave-1 record');
  // Status says stopped; prod-eu-2 runs the d1 record it keeps, and is not behind for it.
  await report(w, 'production', 'prod-eu-2', d1, 'Converged', ago(w, 120));
  const status = await pipelineStatus({ cwd: w.p.dir, env: w.p.env, registry: { insecure: true }, now: () => w.clock.now });
  assert.equal(status.rollouts?.[0]?.state, 'stopped');
  assert.match(status.rollouts![0]!.summary, /stopped at wave 1: prod-eu-1 Degraded; promote rollback production/);
  const eu2 = status.clusters.find((c) => c.stage === 'production' && c.cluster === 'prod-eu-2')!;
  assert.deepEqual([eu2.wave, eu2.desired?.bundle, eu2.behind, eu2.inSync], [{ wave: 2, released: false, keeps: d1Head.recordDigest }, d1, false, true]);

  // The canary recovers, but the stage is held: no wave goes out.
  await report(w, 'production', 'prod-eu-1', d2, 'Converged', ago(w, 45));
  await setHold(w.eng, 'production', true, 'investigating the canary');
  await assert.rejects(promoteTo(w.eng, { stage: 'production' }), refusedWith('STAGE_HELD', 3));
  assert.equal((await runOnce(w.eng)).find((o) => o.stage === 'production')?.result, 'held');
  await setHold(w.eng, 'production', false);

  // Rollback mid-rollout: one record, no rollout, every cluster back on d1.
  const back = await rollback(w.eng, { stage: 'production' });
  assert.equal(back.action, 'rollback');
  assert.equal(back.bundle, d1);
  const rolled = await head(w);
  assert.equal(rolled.record!.rollout, undefined);
  assert.equal(rolled.record!.previous, d2Head.recordDigest);
});

test('waves: a rollout that does not fit the environment is refused with ROLLOUT_INVALID (exit 2) before anything is written', async () => {
  const w = await waveProject('invalid');
  await writeFile(join(w.p.dir, 'environments', 'production.yaml'), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: production}\nspec:\n  parameters: {namespace: production, replicas: 3}\n  clusters:\n    - name: prod-ap-1\n`);
  const d1 = await w.p.push(1);
  await upstream(w, d1);
  await assert.rejects(promoteTo(w.eng, { stage: 'production' }), refusedWith('ROLLOUT_INVALID', 2, (_plan, err) => {
    assert.match(err.problems.map((p) => p.message).join('\n'), /wave 1 names cluster prod-eu-1, which the environment does not have/);
  }));
  assert.equal(await w.eng.ledger.read('webapp', 'production'), undefined);
});

test('waves: notifications: the promotion that starts a rollout names wave 1; promote run announces a stopped rollout once per record and wave, and each wave it releases', async (t) => {
  const r = await startReceiver();
  t.after(() => r.stop());
  const w = await waveProject('notify', r.url);
  const d1 = await w.p.push(1);
  await upstream(w, d1);
  await promoteTo(w.eng, { stage: 'production' });
  const production = () => r.requests.map((q) => JSON.parse(q.body)).filter((e) => e.stage === 'production');
  assert.deepEqual(production().map((e) => [e.type, e.wave]), [['promoted', { wave: 1, of: 3, clusters: ['prod-eu-1'] }]]);
  const record = (await head(w)).recordDigest;

  await report(w, 'production', 'prod-eu-1', d1, 'Degraded', ago(w, 45));
  for (let pass = 0; pass < 3; pass++) assert.equal((await runOnce(w.eng)).find((o) => o.stage === 'production')?.result, 'stopped');
  const stopped = production().filter((e) => e.type === 'rollout-stopped');
  assert.equal(stopped.length, 1, JSON.stringify(production()));
  assert.equal(stopped[0].record, record);
  assert.equal(stopped[0].bundle, d1);
  assert.deepEqual(stopped[0].wave, { wave: 1, of: 3, clusters: ['prod-eu-1'] });
  assert.match(stopped[0].summary, /stopped at wave 1 of 3: prod-eu-1 Degraded/);

  await report(w, 'production', 'prod-eu-1', d1, 'Converged', ago(w, 45));
  assert.equal((await runOnce(w.eng)).find((o) => o.stage === 'production')?.result, 'released');
  const released = production().filter((e) => e.type === 'wave-released');
  assert.deepEqual(released.map((e) => e.wave), [{ wave: 2, of: 3, clusters: ['prod-eu-2', 'prod-us-1'] }]);
  assert.match(released[0].summary, /released wave 2 of 3 of sha256:\w+… in production \(prod-eu-2, prod-us-1\) \(promote run\)/);
});

test('waves: promote run (auto stage) keeps a newer upstream bundle waiting while a rollout progresses, and promotes it — a new rollout — once the rollout is stopped', async () => {
  const w = await waveProject('auto-newer');
  const file = join(w.p.dir, 'pipelines', 'webapp.yaml');
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace('      gates: [{converged: {}}, {soak: 15m}]\n', '      gates: [{converged: {}}, {soak: 15m}]\n      rollout: {waves: [{clusters: [staging-eu-1]}, {clusters: "*"}]}\n'));
  const eng = await openProject({ cwd: w.p.dir, env: w.p.env, registry: { insecure: true }, signer: w.p.promoter, now: () => w.clock.now, cacheDir: join(w.p.dir, '..', 'cache') });
  const staging = async () => (await runOnce(eng)).find((o) => o.stage === 'staging')!;
  const stagingHead = async () => {
    await eng.ledger.refresh();
    return (await eng.ledger.read('webapp', 'staging'))!;
  };

  const d1 = await w.p.push(1);
  assert.equal((await runOnce(eng)).find((o) => o.stage === 'dev')?.result, 'promoted');
  await report(w, 'dev', 'dev-1', d1, 'Converged', ago(w, 60));
  const first = await staging();
  assert.deepEqual([first.result, first.bundle, first.wave], ['promoted', d1, { wave: 1, of: 2, clusters: ['staging-eu-1'] }]);
  const d1Record = (await stagingHead()).recordDigest;

  // d2 reaches dev and passes staging's gates, but staging's rollout of d1 is progressing: d2 waits.
  const d2 = await w.p.push(2);
  await report(w, 'staging', 'staging-eu-1', d1, 'Progressing', ago(w, 1));
  assert.equal((await runOnce(eng)).find((o) => o.stage === 'dev')?.result, 'promoted');
  await report(w, 'dev', 'dev-1', d2, 'Converged', ago(w, 60));
  const waiting = await staging();
  assert.deepEqual([waiting.result, waiting.bundle, waiting.wave?.wave], ['waiting', d1, 2]);
  assert.equal((await stagingHead()).recordDigest, d1Record);

  // The canary degrades on d1: the rollout is stopped, and run promotes d2 in a new rollout.
  await report(w, 'staging', 'staging-eu-1', d1, 'Degraded', ago(w, 1));
  const replaced = await staging();
  assert.deepEqual([replaced.result, replaced.bundle], ['promoted', d2], JSON.stringify(replaced));
  const h = await stagingHead();
  assert.equal(h.record!.previous, d1Record);
  assert.deepEqual(h.record!.rollout, { wave: 1, waves: [{ clusters: ['staging-eu-1'] }, { clusters: ['staging-us-1'] }] }, 'staging-us-1 never ran d1: it keeps nothing');
});

test('waves (CLI): promote plan, to, status and history show a stopped rollout and its waves, in text and JSON', async () => {
  const w = await waveProject('cli');
  // The CLI reads the real clock: reports are observed now.
  w.clock.now = new Date();
  const d1 = await w.p.push(1);
  await upstream(w, d1);
  await promoteTo(w.eng, { stage: 'production' });
  await report(w, 'production', 'prod-eu-1', d1, 'Degraded', ago(w, 5));
  const cli = (...args: string[]) => runPromote([...args, '--insecure'], { cwd: w.p.dir, env: { ...w.p.env, PROMOTE_KEY: w.p.promoterKeyFile, NO_COLOR: '1' }, killAfterMs: 120_000 });

  const plan = await cli('plan', 'production');
  assert.equal(plan.code, 3, plan.stderr);
  assert.match(plan.stdout, /rollout: wave 2 of 3 \(prod-eu-2, prod-us-1\), after prod-eu-1: STOPPED/);
  assert.match(plan.stdout, /FAIL {2}rollout wave 1: rollout stopped: 1 of 1 released clusters unhealthy/);
  const json = await cli('plan', 'production', '--output', 'json');
  assert.equal(JSON.parse(json.stdout).rollout.state, 'stopped');

  const to = await cli('to', 'production');
  assert.equal(to.code, 3);
  assert.match(to.stderr, /stopped at wave 1 of 3: prod-eu-1 Degraded/);
  assert.match(to.stderr, /promote rollback production/);

  const status = await cli('status');
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /production: rollout of sha256:\w+, wave 1 of 3 released, stopped/);
  assert.match(status.stdout, /wave 1: prod-eu-1 Degraded/);
  assert.match(status.stdout, /wave 3 \(not released\): prod-us-2 NoReport/);
  const statusJson = JSON.parse((await cli('status', '--output', 'json')).stdout);
  assert.equal(statusJson.rollouts[0].state, 'stopped');

  const hist = await cli('history', 'production', '--output', 'json');
  assert.deepEqual(JSON.parse(hist.stdout).map((h: { action: string; wave?: unknown }) => [h.action, h.wave]), [['promotion', { wave: 1, of: 3 }]]);
});

test('attack: a configuration-change rollout (same bundle, new parameters) is not released by the canary\'s Converged report from before the change', async () => {
  const w = await waveProject('config-change-attack');
  const d1 = await w.p.push(1);
  await upstream(w, d1);
  await promoteTo(w.eng, { stage: 'production' });
  await promoteTo(w.eng, { stage: 'production', force: { reason: 'seed the test' } });
  await promoteTo(w.eng, { stage: 'production', force: { reason: 'seed the test' } });
  // The canary converged on d1 with replicas 3 two hours ago, and keeps saying so (a report it signed itself).
  await report(w, 'production', 'prod-eu-1', d1, 'Converged', ago(w, 120));
  const old = (await head(w)).record!;

  const envFile = join(w.p.dir, 'environments', 'production.yaml');
  await writeFile(envFile, (await readFile(envFile, 'utf8')).replace('replicas: 3', 'replicas: 5'));
  const changed = await promoteTo(w.eng, { stage: 'production' });
  assert.deepEqual(changed.rollout, { wave: 1, of: 3, clusters: ['prod-eu-1'] });
  const fresh = (await head(w)).record!;
  assert.equal(fresh.bundle.digest, d1);
  assert.notDeepEqual(fresh.parameters, old.parameters);

  // The old report is about the right bundle, fresh and soaked: it must not release wave 2.
  await assert.rejects(promoteTo(w.eng, { stage: 'production' }), refusedWith('GATES_FAILED', 3, (plan) => {
    assert.equal(plan.rollout?.state, 'progressing');
    assert.match(plan.gates[0]!.summary, /prod-eu-1: runs the bundle with other parameters than the record's/);
  }));
  // promote status judges the released clusters as the wave check does: still progressing.
  const status = await pipelineStatus({ cwd: w.p.dir, env: w.p.env, registry: { insecure: true }, now: () => w.clock.now });
  assert.equal(status.rollouts?.find((r) => r.stage === 'production')?.state, 'progressing', JSON.stringify(status.rollouts));
  // A report that does not say which parameters it applied proves nothing either.
  await report(w, 'production', 'prod-eu-1', d1, 'Converged', ago(w, 120), '');
  await assert.rejects(promoteTo(w.eng, { stage: 'production' }), refusedWith('GATES_FAILED', 3, (plan) => assert.match(plan.gates[0]!.summary, /does not say which parameters/)));
  // The canary converges on the new parameters and soaks: wave 2 goes out.
  await report(w, 'production', 'prod-eu-1', d1, 'Converged', ago(w, 40));
  const released = await promoteTo(w.eng, { stage: 'production' });
  assert.equal(released.action, 'wave');
});
