import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { history } from '../../src/promotion/history.ts';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { publishStatusReport } from '../../src/records/status-report.ts';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, type TestProject } from './project.ts';

// The promotion commands through the real CLI (bin/promote.js in a child process), against a
// real registry and a bare git repository as the ledger remote.

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-cli-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

/** The CLI in `p` with the promoter key from the environment, against the plain-HTTP test registry. */
function promote(p: TestProject, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1', ...env } });
}

async function report(p: TestProject, stage: string, cluster: string, digest: string, since: Date) {
  const desc = (await p.registry.resolve(digest))!;
  await publishStatusReport(p.registry, { mediaType: desc.mediaType, digest, size: desc.size }, { pipeline: 'webapp', stage, cluster, phase: 'Converged', bundle: { repository: p.repository, digest }, since: since.toISOString(), observedAt: new Date().toISOString() }, p.promoter);
}

const hourAgo = () => new Date(Date.now() - 3_600_000);

test('promote to / plan / run --once / hold / release / approve / history / rollback through the CLI, with exit codes and evidence', async () => {
  const p = await createProject(join(base, 'cli'), registry.host, { name: 'cli', productionGates: '[{converged: {}}, {approval: {count: 1}}, {manual: {}}]' });
  const d1 = await p.push(1);

  const first = await promote(p, ['to', 'dev', '--bundle', d1]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`^promoted ${d1} to dev\\nledger commit [0-9a-f]{12}\\nrecord sha256:[0-9a-f]{64} at tag promotion-dev\\n$`));

  const blocked = await promote(p, ["plan", "staging"]);
  assert.equal(blocked.code, 3);
  assert.match(blocked.stdout, /candidate: sha256:\w+ \(what dev runs\)/);
  assert.match(blocked.stdout, /pass  signature: signed by key keys\/ci.pub/);
  assert.match(blocked.stdout, /FAIL  converged: 0\/1 clusters of dev Converged .*no status report from this cluster/);

  await report(p, 'dev', 'dev-1', d1, hourAgo());
  // plan is a read-only check: it runs where git has no identity (a CI job); `to` would refuse.
  const noIdentity = { GIT_AUTHOR_NAME: '', GIT_AUTHOR_EMAIL: '', GIT_COMMITTER_NAME: '', GIT_COMMITTER_EMAIL: '' };
  assert.equal((await promote(p, ['plan', 'staging', '--no-diff'], noIdentity)).code, 0);
  const anonymous = await promote(p, ['to', 'staging'], noIdentity);
  assert.equal(anonymous.code, 2);
  assert.match(anonymous.stderr, /git has no identity to record as the promoter[^]*hint: git config --global user.name/);
  const ok = await promote(p, ['plan', 'staging', '--output', 'json']);
  assert.equal(ok.code, 0, ok.stdout);
  const plan = JSON.parse(ok.stdout);
  assert.equal(plan.allowed, true);
  assert.deepEqual(plan.gates.map((g: { gate: string; passed: boolean }) => [g.gate, g.passed]), [['converged', true], ['soak 15m', true]]);

  const held = await promote(p, ['hold', 'staging', '--reason', 'manual QA']);
  assert.equal(held.code, 0, held.stderr);
  const run1 = await promote(p, ['run', '--once']);
  assert.equal(run1.code, 0, run1.stderr);
  assert.match(run1.stdout, /dev +up-to-date/);
  assert.match(run1.stdout, /staging +held .*manual QA/);
  const refused = await promote(p, ['to', 'staging']);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /error: stage staging is held by Pat <pat@example.com> .*: manual QA\nhint: promote release staging/);
  assert.equal((await promote(p, ['release', 'staging'])).code, 0);
  const run2 = await promote(p, ['run', '--once', '--output', 'json']);
  assert.equal(run2.code, 0, run2.stderr);
  assert.deepEqual(JSON.parse(run2.stdout).map((o: { stage: string; result: string }) => [o.stage, o.result]), [['dev', 'up-to-date'], ['staging', 'promoted']]);

  for (const c of ['staging-eu-1', 'staging-us-1']) await report(p, 'staging', c, d1, hourAgo());
  // The preview: what production would run, rendered, against what it runs now (nothing yet).
  const preview = await promote(p, ['plan', 'production']);
  assert.equal(preview.code, 3, 'approval and manual gates block');
  assert.match(preview.stdout, /parameters \(now → after\):\n  \/namespace: \(unset\) → "production"\n  \/replicas: \(unset\) → 3\n/);
  assert.match(preview.stdout, /\+\+\+ after\/manifests\/deployment.yaml\n[^]*\+  namespace: production\n[^]*\+  replicas: 3\n/);
  const manual = await promote(p, ['to', 'production']);
  assert.equal(manual.code, 3);
  assert.match(manual.stderr, /error: 2 of 3 gates of production did not pass: approval 1, manual\n  - approval 1: 0\/1 approvals of sha256:\w+\n  - manual: manual gate: needs --force with --reason\nhint: /);
  const ghost = await promote(p, ['approve', 'production', `sha256:${'0'.repeat(64)}`]);
  assert.equal(ghost.code, 2);
  assert.match(ghost.stderr, /does not exist: there is nothing to approve/);
  const approved = await promote(p, ['approve', 'production', d1, '--comment', 'CAB-1', '--key', p.approverKeyFile], { GIT_AUTHOR_NAME: 'Ann', GIT_AUTHOR_EMAIL: 'ann@example.com' });
  assert.equal(approved.code, 0, approved.stderr);
  assert.equal((await promote(p, ['to', 'production', '--force'])).code, 2, '--force needs --reason');
  const forced = await promote(p, ['to', 'production', '--force', '--reason', 'release train 42']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /pass  manual: forced by Pat <pat@example.com>: release train 42/);

  const h = await promote(p, ['history', 'production', '--output', 'json']);
  const items = JSON.parse(h.stdout);
  assert.deepEqual(items.map((i: { action: string; by: string }) => [i.action, i.by]), [['promotion', 'Pat <pat@example.com>'], ['approval', 'Ann <ann@example.com>']]);
  assert.deepEqual(items.map((i: { commit: string }) => i.commit), git(p.ledgerRemote, p.env, 'log', '--format=%H', 'main', '--', 'promotions/webapp/production.yaml').trim().split('\n'));
  const text = await promote(p, ['history', 'staging']);
  assert.match(text.stdout, /auto +sha256:\w{12} from dev +by Pat <pat@example.com>/);
  assert.match(text.stdout, / +converged: pass — 1\/1 clusters of dev Converged/);

  const noEarlier = await promote(p, ['rollback', 'dev']);
  assert.equal(noEarlier.code, 3);
  assert.match(noEarlier.stderr, /no earlier|0 earlier bundles/);
  const noKey = await promote(p, ['to', 'dev', '--bundle', await p.push(2)], { PROMOTE_KEY: '' });
  assert.equal(noKey.code, 2);
  assert.match(noKey.stderr, /no promoter key was given/);
});

test('two `promote to production` processes started at the same moment: one records, the other exits 3 and names the winner', async () => {
  const p = await createProject(join(base, 'race'), registry.host, { name: 'race', productionGates: '[{converged: {}}]' });
  const engine = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, 'race-engine-cache') });
  // A round is a true race when both processes read the stage before either committed. On a
  // loaded machine one may start late and find the other's promotion already there (it then
  // reports "already runs", exit 0): that round proves nothing about the race, so it is not
  // counted, but it must still have recorded exactly one promotion.
  const RACES = 2;
  let races = 0;
  let rounds = 0;
  while (races < RACES) {
    rounds++;
    assert.ok(rounds <= RACES + 5, 'the processes never raced');
    const d = await p.push(rounds);
    await promoteTo(engine, { stage: 'dev', bundle: d });
    await report(p, 'dev', 'dev-1', d, hourAgo());
    await promoteTo(engine, { stage: 'staging' });
    for (const c of ['staging-eu-1', 'staging-us-1']) await report(p, 'staging', c, d, hourAgo());
    // Two machines: separate ledger clones, the same remote.
    const results = await Promise.all(['a', 'b'].map((who) => promote(p, ['to', 'production', '--output', 'json'], { PROMOTE_CACHE_DIR: join(base, `race-${who}`) })));
    const codes = results.map((r) => r.code).sort();
    const detail = `round ${rounds}: ${results.map((r) => r.stdout + r.stderr).join('\n---\n')}`;
    if (codes[0] === 0 && codes[1] === 0) {
      assert.equal(results.filter((r) => JSON.parse(r.stdout).upToDate === true).length, 1, detail);
      continue;
    }
    assert.deepEqual(codes, [0, 3], detail);
    const error = JSON.parse(results.find((r) => r.code === 3)!.stdout).error;
    assert.equal(error.code, 'LEDGER_STAGE_MOVED');
    assert.match(error.message, new RegExp(`stage production changed while this promotion was being made: it now holds ${d}`));
    races++;
  }
  const h = await history(engine, 'production');
  assert.equal(h.length, rounds, 'one promotion per round: none lost, none duplicated');
  assert.equal(new Set(h.map((e) => e.record)).size, rounds);
});
