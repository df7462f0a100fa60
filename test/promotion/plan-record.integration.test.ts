import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planStage, printablePlan, type PrintablePlan } from '../../src/promotion/plan.ts';
import { openProject, type Project } from '../../src/promotion/project.ts';
import { recordDigest, type PromotionRecord } from '../../src/records/promotion-record.ts';
import { publishStatusReport } from '../../src/records/status-report.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { promote as runPromote } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from './project.ts';

// The planner returns the unsigned record it would write, and `promote to` signs, commits and
// publishes exactly that record (changesets' shape): what `plan --output json` shows is what the
// ledger and the registry then hold. Real registry, real git, the real CLI.

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-plan-record-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const MONDAY = new Date('2026-03-30T10:00:00Z');

function projectAt(p: TestProject, now: () => Date): Promise<Project> {
  return openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, approverSigner: p.promoter, now, cacheDir: join(p.dir, '..', 'cache') });
}

/** The record the ledger's stage file holds now. */
async function committedRecord(project: Project, stage: string): Promise<PromotionRecord> {
  await project.ledger.refresh();
  const state = await project.ledger.read(project.pipeline.name, stage);
  assert.ok(state?.record, `the ledger holds a record of ${stage}`);
  return state.record;
}

/** As `plan --output json` prints it. */
const asJson = (plan: PrintablePlan) => JSON.parse(JSON.stringify(printablePlan(plan))) as PrintablePlan;

test('plan returns the record promote to commits, field for field: a first promotion, one through gates with evidence, a configuration change', async () => {
  const p = await createProject(join(base, 'lib'), registry.host, { name: 'plan-lib' });
  const project = await projectAt(p, () => MONDAY);
  const d1 = await p.push(1);

  const first = asJson(await planStage(project, { stage: 'dev', bundle: d1 }));
  assert.equal(first.record?.action, 'promotion');
  assert.equal(first.record?.sequence, 1);
  assert.equal(first.record?.promotedAt, MONDAY.toISOString());
  const done = await promoteTo(project, { stage: 'dev', bundle: d1 });
  assert.deepEqual(await committedRecord(project, 'dev'), first.record);
  assert.equal(done.record, recordDigest(first.record!), 'the published record is the planned one');

  // staging's converged and soak gates pass on a report: their evidence is part of the record.
  const desc = (await p.registry.resolve(d1))!;
  const since = new Date(MONDAY.getTime() - 3_600_000).toISOString();
  await publishStatusReport(p.registry, { mediaType: desc.mediaType, digest: d1, size: desc.size }, { pipeline: 'webapp', stage: 'dev', cluster: 'dev-1', phase: 'Converged', bundle: { repository: p.repository, digest: d1 }, since, observedAt: new Date(MONDAY.getTime() - 60_000).toISOString() }, p.promoter);
  const staging = asJson(await planStage(project, { stage: 'staging' }));
  assert.deepEqual(staging.record?.gates.map((g) => [g.type, g.passed]), [['converged', true], ['soak', true]]);
  await promoteTo(project, { stage: 'staging' });
  assert.deepEqual(await committedRecord(project, 'staging'), staging.record);

  // A configuration change: same bundle, new parameters, chained onto the record before.
  const envFile = join(p.dir, 'environments', 'dev.yaml');
  await writeFile(envFile, (await readFile(envFile, 'utf8')).replace('replicas: 1', 'replicas: 2'));
  const configure = asJson(await planStage(project, { stage: 'dev' }));
  assert.equal(configure.record?.action, 'configure');
  assert.equal(configure.record?.previous, done.record);
  assert.equal(configure.record?.sequence, 2);
  assert.equal(configure.record?.parameters.replicas, 2);
  await promoteTo(project, { stage: 'dev' });
  assert.deepEqual(await committedRecord(project, 'dev'), configure.record);

  // Nothing to write, nothing shown: up to date, or refused by a gate.
  assert.equal((await planStage(project, { stage: 'dev' })).record, undefined);
  const refused = await planStage(project, { stage: 'production' });
  assert.equal(refused.allowed, false);
  assert.equal(refused.record, undefined);
});

test('promote plan --output json shows the unsigned record that promote to then commits (the CLI, two processes)', async () => {
  const p = await createProject(join(base, 'cli'), registry.host, { name: 'plan-cli' });
  const d1 = await p.push(1);
  const cli = (args: string[]) => runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1' } });
  const planned = await cli(['plan', 'dev', '--bundle', d1, '--output', 'json']);
  assert.equal(planned.code, 0, planned.stderr);
  const { record } = JSON.parse(planned.stdout) as PrintablePlan;
  assert.ok(record, 'the JSON has the record');
  assert.equal('signature' in record, false, 'unsigned');
  const promoted = await cli(['to', 'dev', '--bundle', d1]);
  assert.equal(promoted.code, 0, promoted.stderr);
  const committed = await committedRecord(await projectAt(p, () => new Date()), 'dev');
  // Each process reads its own clock: every field but the time is the planned one.
  const { promotedAt: plannedAt, ...plannedRest } = record;
  const { promotedAt: committedAt, ...committedRest } = committed;
  assert.deepEqual(committedRest, plannedRest);
  assert.ok(plannedAt <= committedAt, `${plannedAt} ≤ ${committedAt}`);
});
