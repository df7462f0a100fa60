// The ledger is not a signing oracle: whoever can push to the ledger's git remote (no promoter key,
// no gates, no approval) used to get `promote to` to sign whatever a stage file said. Each attack
// is performed for real — a forged commit pushed to the bare remote — and then the promoter runs
// the real CLI against the real registry: nothing is signed or published, and the refusal (exit
// 4) names the stage whose ledger record no signature backs.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { PROMOTION_RECORD } from '../../src/oci/media-types.ts';
import { recordDigest, type PromotionRecord } from '../../src/records/promotion-record.ts';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, type TestProject } from './project.ts';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-ledger-oracle-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function promote(p: TestProject, args: string[]): Promise<Run> {
  return runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, NO_COLOR: '1', PROMOTE_KEY: p.promoterKeyFile } });
}

/** Writes `promotions/webapp/<stage>.yaml` in a clone of the ledger remote and pushes it, as someone with push access. */
async function forge(p: TestProject, name: string, stage: string, edit: (state: Record<string, unknown> | undefined) => Record<string, unknown>, trailers: string[]): Promise<string> {
  const work = join(p.dir, '..', name);
  git(p.dir, p.env, 'clone', '--quiet', p.ledgerRemote, work);
  const file = join(work, 'promotions', 'webapp', `${stage}.yaml`);
  const old = await readFile(file, 'utf8').then(parse, () => undefined) as Record<string, unknown> | undefined;
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(work, 'promotions', 'webapp'), { recursive: true });
  await writeFile(file, stringify(edit(old)));
  git(work, p.env, 'add', '.');
  git(work, p.env, 'commit', '--quiet', '-m', `promote webapp/${stage}`, ...trailers.flatMap((t) => ['--trailer', t]));
  git(work, p.env, 'push', '--quiet', 'origin', 'main');
  return git(work, p.env, 'rev-parse', 'HEAD').trim();
}

/** A record that never was: `bundle` in `stage`, with gate verdicts that never ran. */
function fakeRecord(p: TestProject, stage: string, environment: string, bundle: string, parameters: Record<string, unknown>, clusters: string[], extra: Partial<PromotionRecord> = {}): PromotionRecord {
  return {
    apiVersion: 'promote/v1',
    kind: 'PromotionRecord',
    pipeline: 'webapp',
    stage,
    environment,
    action: 'promotion',
    bundle: { repository: p.repository, digest: bundle },
    parameters,
    clusters: clusters.map((name) => ({ name, parameters })),
    promotedBy: 'Pat <pat@example.com>',
    promotedAt: '2026-03-30T10:00:00.000Z',
    gates: [{ gate: 'approval', type: 'approval', passed: true, summary: '1 of 1 approvals (Alex)', evidence: {} }],
    sequence: 1,
    ...extra,
  };
}

async function records(p: TestProject, digest: string): Promise<number> {
  return (await p.registry.referrers(digest, PROMOTION_RECORD)).length;
}

test('a forged production record (never promoted anywhere, gate verdicts that never ran) is not signed or published by "promote to production": exit 4', async () => {
  const p = await createProject(join(base, 'complete'), registry.host, { name: 'complete' });
  const never = await p.push(9);
  // Production's own parameters, so that the forged record looks "already there" to promote to.
  const record = fakeRecord(p, 'production', 'production', never, { namespace: 'production', replicas: 3 }, ['prod-eu-1'], { from: 'staging' });
  await forge(p, 'complete-forge', 'production', () => ({ apiVersion: 'promote/v1', kind: 'StageLedger', pipeline: 'webapp', stage: 'production', record, recordDigest: recordDigest(record), approvals: [] }), [
    'Promote-Action: promotion',
    `Promoted-Bundle: ${never}`,
    `Promotion-Record: ${recordDigest(record)}`,
  ]);
  const r = await promote(p, ['to', 'production', '--bundle', never]);
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.match(r.stderr, /the ledger's record of stage production is not backed by a record signed by trust\.promotions/);
  assert.equal(await p.registry.resolve('promotion-production'), undefined, 'nothing published');
  assert.equal(await records(p, never), 0, 'no record of it anywhere');
  // The production agent has nothing to apply.
  const target = join(base, 'complete-prod');
  const agent = await promote(p, ['agent', '--stage', 'production', '--cluster', 'prod-eu-1', '--target', `dir:${target}`, '--once', '--key', p.promoterKeyFile]);
  assert.doesNotMatch(agent.stderr, /"phase":"Converged"/);
  const { readdir } = await import('node:fs/promises');
  assert.deepEqual((await readdir(target).catch(() => [])).filter((f) => !f.startsWith('.')), []);
});

test('the next stage takes its candidate from the upstream stage\'s signed record: a forged dev record is not promoted to staging, even forced', async () => {
  const p = await createProject(join(base, 'upstream'), registry.host, { name: 'upstream' });
  const honest = await p.push(1);
  assert.equal((await promote(p, ['to', 'dev', '--bundle', honest])).code, 0);
  const never = await p.push(9);
  await forge(p, 'upstream-forge', 'dev', (old) => {
    const prev = old as { recordDigest: string };
    const record = fakeRecord(p, 'dev', 'dev', never, { namespace: 'dev', replicas: 1 }, ['dev-1'], { previous: prev.recordDigest, sequence: 2 });
    // The honest statement stays in the file: it signs the old record, not this one.
    return { ...old, record, recordDigest: recordDigest(record) };
  }, ['Promote-Action: promotion', `Promoted-Bundle: ${never}`]);
  const r = await promote(p, ['to', 'staging', '--force', '--reason', 'hotfix']);
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.match(r.stderr, /record of stage dev is not backed by a record signed by trust\.promotions: the statement in the dev stage file .* says something else|record of stage dev is not backed/);
  assert.equal(await p.registry.resolve('promotion-staging'), undefined, 'nothing published');
  // Named explicitly: it never ran in dev as far as any signature says.
  const explicit = await promote(p, ['to', 'staging', '--bundle', never, '--force', '--reason', 'hotfix']);
  assert.equal(explicit.code, 3, explicit.stdout + explicit.stderr);
  assert.match(explicit.stderr, /never ran in dev/);
  assert.equal(await records(p, never), 0);
});

test('rollback picks only bundles a signed record shows the stage ran: a forged history entry is refused', async () => {
  const p = await createProject(join(base, 'rollback'), registry.host, { name: 'rollback' });
  const [d1, d2] = [await p.push(1), await p.push(2)];
  assert.equal((await promote(p, ['to', 'dev', '--bundle', d1])).code, 0);
  const never = await p.push(9);
  // An entry in the stage file's history that says `never` ran in dev (the record is untouched),
  // then an honest promotion on top: `--steps 1` now lands on the forged entry.
  await forge(p, 'rollback-forge', 'dev', (old) => ({ ...old, note: 'routine' }), ['Promote-Action: promotion', `Promoted-Bundle: ${never}`, 'Promoted-From: (none)']);
  assert.equal((await promote(p, ['to', 'dev', '--bundle', d2])).code, 0);
  const tagged = (await p.registry.resolve('promotion-dev'))!.digest;
  const r = await promote(p, ['rollback', 'dev', '--steps', '1', '--force', '--reason', 'incident']);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`${never} was never promoted to dev`));
  assert.equal((await p.registry.resolve('promotion-dev'))!.digest, tagged, 'the tag did not move');
  assert.equal(await records(p, never), 0);
  // The honest history still rolls back: --to the earlier bundle.
  const back = await promote(p, ['rollback', 'dev', '--to', d1]);
  assert.equal(back.code, 0, back.stderr);
});
