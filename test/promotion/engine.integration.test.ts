import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError, type PromoteError } from '../../src/errors.ts';
import type { GateResult } from '../../src/pipeline/gate.ts';
import type { Plan } from '../../src/pipeline/plan.ts';
import { approve } from '../../src/promotion/approve.ts';
import { history } from '../../src/promotion/history.ts';
import { setHold } from '../../src/promotion/hold.ts';
import { openProject, type EngineOptions } from '../../src/promotion/project.ts';
import { rollback } from '../../src/promotion/rollback.ts';
import { runLoop, runOnce } from '../../src/promotion/run.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { stageSummaries } from '../../src/promotion/stage-status.ts';
import { publishStatusReport } from '../../src/records/status-report.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import type { Signer } from '../../src/signing/signer.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, type TestProject } from './project.ts';
import { RECORD_DIGEST_ANNOTATION, verifyRecord } from '../../src/records/promotion-record.ts';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-engine-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const MONDAY = new Date('2026-03-30T10:00:00Z'); // 12:00 CEST: inside Mon-Fri 09:00-16:00 Berlin
const SATURDAY = new Date('2026-03-28T10:00:00Z');

function engineFor(p: TestProject, clock: { now: Date }, who?: { name: string; email: string }, signer?: Signer, approverSigner?: Signer) {
  const env = who ? { ...p.env, GIT_AUTHOR_NAME: who.name, GIT_AUTHOR_EMAIL: who.email, GIT_COMMITTER_NAME: who.name, GIT_COMMITTER_EMAIL: who.email } : p.env;
  const options: EngineOptions = { cwd: p.dir, env, registry: { insecure: true }, signer: signer ?? p.promoter, approverSigner: approverSigner ?? p.promoter, now: () => clock.now, cacheDir: join(p.dir, '..', `cache-${who?.name ?? 'pat'}`) };
  return openProject(options);
}

/** As an agent publishes it: observed recently (agents re-publish every 10 minutes), in that phase since `since`. */
async function report(p: TestProject, stage: string, cluster: string, digest: string, since: Date, phase: 'Converged' | 'Degraded' = 'Converged', signer: Signer = p.promoter) {
  const desc = (await p.registry.resolve(digest))!;
  await publishStatusReport(p.registry, { mediaType: desc.mediaType, digest, size: desc.size }, { pipeline: 'webapp', stage, cluster, phase, bundle: { repository: p.repository, digest }, since: since.toISOString(), observedAt: new Date(Math.max(since.getTime(), MONDAY.getTime() - 60_000)).toISOString() }, signer);
}

/** The error's message and every listed problem: what a user reads. */
function said(err: PromoteError): string {
  return [err.message, ...err.problems.map((p) => p.message)].join('\n');
}

function refusedWith(code: string, exit: number, check?: (err: PromoteError, gates: GateResult[]) => void) {
  return (err: unknown) => {
    assert.ok(isPromoteError(err), String(err));
    assert.equal(err.code, code, `${err.code}: ${err.message}`);
    assert.equal(err.exitCode, exit);
    const plan = (err.details?.plan ?? { gates: [] }) as Plan;
    check?.(err, plan.gates);
    return true;
  };
}

/** Everything a refusal must leave untouched: ledger commits, registry tags and what they point at. */
async function snapshot(p: TestProject) {
  const commits = (() => {
    try {
      return git(p.ledgerRemote, p.env, 'rev-parse', 'main').trim();
    } catch {
      return 'none';
    }
  })();
  const tags = (await p.registry.listTags()).sort();
  const targets = await Promise.all(tags.map(async (t) => `${t}=${(await p.registry.resolve(t))?.digest}`));
  return { commits, targets };
}

test('dev → staging → production with a real registry and real git: each gate refuses with evidence, then passes', async () => {
  const p = await createProject(join(base, 'flow'), registry.host, { name: 'flow' });
  const clock = { now: MONDAY };
  const pat = await engineFor(p, clock);
  const d1 = await p.push(1);

  const dev = await promoteTo(pat, { stage: 'dev', bundle: d1 });
  assert.equal(dev.action, 'promotion');
  assert.equal(dev.bundle, d1);
  const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const verified = await verifyRecord(p.registry, 'promotion-dev', trust.promotions, { stage: 'dev', bundle: d1 });
  assert.equal(verified.statement.predicate.recordDigest, dev.record);
  assert.equal(verified.subject?.digest, d1);
  assert.deepEqual(verified.statement.predicate.parameters.values, { namespace: 'dev', replicas: 1 });

  // staging: converged fails without reports, then soak fails until 15 minutes have passed.
  await assert.rejects(promoteTo(pat, { stage: 'staging' }), refusedWith('GATES_FAILED', 3, (err, gates) => {
    assert.deepEqual(gates.map((g) => [g.gate, g.passed]), [['converged', false], ['soak 15m', false]]);
    assert.match(said(err), /0\/1 clusters of dev Converged on sha256:\w+ \(dev-1: no status report from this cluster\)/);
  }));
  await report(p, 'dev', 'dev-1', d1, new Date(MONDAY.getTime() - 5 * 60_000));
  await assert.rejects(promoteTo(pat, { stage: 'staging' }), refusedWith('GATES_FAILED', 3, (err, gates) => {
    assert.deepEqual(gates.map((g) => [g.gate, g.passed]), [['converged', true], ['soak 15m', false]]);
    assert.match(said(err), /dev-1: healthy for 5m, 10m to go/);
  }));
  clock.now = new Date(MONDAY.getTime() + 10 * 60_000);
  const staging = await promoteTo(pat, { stage: 'staging' });
  assert.equal(staging.bundle, d1, 'the default candidate is what dev runs');
  assert.equal(staging.from, 'dev');
  assert.deepEqual(staging.gates.map((g) => g.passed), [true, true]);

  // production: approvals (separate duties) and the change window.
  for (const c of ['staging-eu-1', 'staging-us-1']) await report(p, 'staging', c, d1, clock.now);
  const beforeApprovals = await snapshot(p);
  await assert.rejects(promoteTo(pat, { stage: 'production' }), refusedWith('GATES_FAILED', 3, (err) => assert.match(said(err), /approval 1 separateDuties: 0\/1 approvals/)));
  assert.deepEqual(await snapshot(p), beforeApprovals, 'too few approvals: nothing changed');
  await approve(pat, 'production', d1);
  // Pat's approval is signed with the key Pat promotes with: separateDuties does not count it.
  await assert.rejects(promoteTo(pat, { stage: 'production' }), refusedWith('GATES_FAILED', 3, (err) => assert.match(said(err), /Pat <pat@example.com> \(key keys\/promoter.pub\) is signed with the promoter's own key \(separateDuties\)/)));
  await approve(await engineFor(p, clock, { name: 'Ann', email: 'ann@example.com' }, undefined, p.approver), 'production', d1, 'looks good');
  clock.now = SATURDAY;
  const beforeWindow = await snapshot(p);
  await assert.rejects(promoteTo(pat, { stage: 'production' }), refusedWith('GATES_FAILED', 3, (err, gates) => {
    const window = gates.find((g) => g.type === 'window')!;
    assert.equal(window.passed, false);
    assert.equal(window.evidence.nextOpening, '2026-03-30T07:00:00.000Z');
    assert.match(said(err), /closed: it is Sat 2026-03-28 11:00 GMT\+1/);
  }));
  assert.deepEqual(await snapshot(p), beforeWindow, 'window closed: nothing changed');
  clock.now = MONDAY;
  const prod = await promoteTo(pat, { stage: 'production' });
  assert.deepEqual(prod.gates.map((g) => [g.type, g.passed]), [['converged', true], ['approval', true], ['window', true]]);
  assert.match(prod.gates[1]!.summary, /Alex <alex@example.com> \(key keys\/approver.pub\)/);

  // Running it again changes nothing: the record is committed and published.
  const again = await promoteTo(pat, { stage: 'production' });
  assert.equal(again.upToDate, true);

  // History is the git log of the stage file, newest first, with who and the gates.
  const h = await history(pat, 'production');
  assert.deepEqual(h.map((e) => e.action), ['promotion', 'approval', 'approval']);
  assert.deepEqual(h.map((e) => e.commit), git(p.ledgerRemote, p.env, 'log', '--format=%H', 'main', '--', 'promotions/webapp/production.yaml').trim().split('\n'));
  assert.equal(h[0]!.bundle, d1);
  assert.equal(h[0]!.from, 'staging');
  assert.equal(h[0]!.by, 'Pat <pat@example.com>');
  assert.equal(h[0]!.gates.length, 3);
  assert.equal(h[1]!.by, 'Ann <ann@example.com>');
});

test('rollback goes through the same gates unless forced with a reason, and is a new record', async () => {
  const p = await createProject(join(base, 'rollback'), registry.host, { name: 'rollback' });
  const clock = { now: MONDAY };
  const pat = await engineFor(p, clock);
  const [d1, d2] = [await p.push(1), await p.push(2)];
  const longAgo = new Date(MONDAY.getTime() - 3_600_000);
  for (const d of [d1, d2]) {
    await promoteTo(pat, { stage: 'dev', bundle: d });
    await report(p, 'dev', 'dev-1', d, longAgo);
    await promoteTo(pat, { stage: 'staging' });
  }
  // dev now runs d2, so the converged gate cannot pass for d1: a rollback must be forced.
  await assert.rejects(rollback(pat, { stage: 'staging', steps: 1 }), refusedWith('GATES_FAILED', 3, (_e, gates) => assert.equal(gates[0]!.passed, false)));
  const back = await rollback(pat, { stage: 'staging', steps: 1, force: { reason: 'INC-7: d2 breaks checkout' } });
  assert.equal(back.action, 'rollback');
  assert.equal(back.bundle, d1);
  assert.equal(back.gates[0]!.overridden, true);
  const trust = await loadPipelineTrust({ promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const record = await verifyRecord(p.registry, 'promotion-staging', trust.promotions, { stage: 'staging', bundle: d1 });
  assert.equal(record.statement.predicate.rollback, true);
  assert.deepEqual(record.statement.predicate.force, { reason: 'INC-7: d2 breaks checkout' });
  const h = await history(pat, 'staging');
  assert.deepEqual(h.map((e) => [e.action, e.bundle]), [['rollback', d1], ['promotion', d2], ['promotion', d1]]);
  assert.equal(h[0]!.reason, 'INC-7: d2 breaks checkout');
  await assert.rejects(rollback(pat, { stage: 'staging', to: `sha256:${'9'.repeat(64)}` }), refusedWith('ROLLBACK_TARGET_UNKNOWN', 3));
});

test('refusals exit 3 or 4 and change nothing anywhere: unsigned, untrusted key, invalid parameters, not in from, held', async () => {
  const p = await createProject(join(base, 'refusals'), registry.host, { name: 'refusals' });
  const clock = { now: MONDAY };
  const pat = await engineFor(p, clock);
  const good = await p.push(1);
  await promoteTo(pat, { stage: 'dev', bundle: good });
  const unsigned = await p.push(2, null);
  const untrusted = await p.push(3, p.stranger);
  const needsHostname = await p.push(4, p.ci, { type: 'object', required: ['namespace', 'hostname'], properties: { namespace: { type: 'string' }, replicas: { type: 'integer' }, hostname: { type: 'string' } } });
  const elsewhere = await p.push(5);

  const cases: [string, () => Promise<unknown>, string, number, RegExp][] = [
    ['unsigned bundle', () => promoteTo(pat, { stage: 'dev', bundle: unsigned }), 'SIGNATURE_MISSING', 4, /has no signature/],
    ['bundle signed by an untrusted key', () => promoteTo(pat, { stage: 'dev', bundle: untrusted }), 'SIGNATURE_INVALID', 4, /./],
    ['parameters invalid for the bundle schema', () => promoteTo(pat, { stage: 'dev', bundle: needsHostname }), 'PARAMETERS_INVALID', 4, /do not satisfy/],
    ['candidate that never ran in from', () => promoteTo(pat, { stage: 'staging', bundle: elsewhere }), 'CANDIDATE_NOT_IN_FROM', 3, /never ran in dev/],
  ];
  for (const [what, attempt, code, exit, message] of cases) {
    const before = await snapshot(p);
    await assert.rejects(attempt(), (err: PromoteError) => {
      assert.ok(isPromoteError(err), `${what}: ${String(err)}`);
      assert.equal(err.exitCode, exit, `${what}: ${err.code} ${err.message}`);
      if (code !== 'SIGNATURE_INVALID') assert.equal(err.code, code, `${what}: ${err.message}`);
      assert.match(err.message, message, what);
      if (code === 'PARAMETERS_INVALID') assert.ok(err.problems.some((pr) => pr.file?.endsWith('environments/dev.yaml') && /hostname/.test(pr.message + (pr.pointer ?? ''))), JSON.stringify(err.problems));
      return true;
    });
    assert.deepEqual(await snapshot(p), before, `${what}: nothing may change`);
  }
  await setHold(pat, 'dev', true, 'freeze for the audit');
  const before = await snapshot(p);
  await assert.rejects(promoteTo(pat, { stage: 'dev', bundle: elsewhere }), refusedWith('STAGE_HELD', 3, (err) => assert.match(said(err), /held by Pat <pat@example.com> .*: freeze for the audit/)));
  assert.deepEqual(await snapshot(p), before, 'held: nothing may change');
  await setHold(pat, 'dev', false);
  assert.equal((await promoteTo(pat, { stage: 'dev', bundle: elsewhere })).bundle, elsewhere);
});

test('a publish that fails after the ledger commit is completed by running promote to again, uploading the statement the ledger keeps', async () => {
  const p = await createProject(join(base, 'publish'), registry.host, { name: 'publish' });
  const clock = { now: MONDAY };
  const d1 = await p.push(1);
  // The record is signed before the ledger commit: a signer that fails leaves nothing anywhere.
  const broken: Signer = { publicKeyPem: p.promoter.publicKeyPem, hint: p.promoter.hint, sign: async () => Promise.reject(new Error('HSM unavailable')) };
  const before = await snapshot(p);
  await assert.rejects(promoteTo(await engineFor(p, clock, undefined, broken), { stage: 'dev', bundle: d1 }), refusedWith('RECORD_SIGN_FAILED', 1));
  assert.deepEqual(await snapshot(p), before, 'nothing committed or published');
  // A registry that refuses the record's manifest (only that) fails the publish after the commit.
  const failing = await engineFor(p, clock);
  const registryFor = failing.registryFor;
  failing.registryFor = async (repository) => {
    const r = await registryFor(repository);
    return Object.assign(Object.create(r) as typeof r, { pushManifest: (bytes: Uint8Array, mediaType: string, tag?: string) => (tag?.startsWith('promotion-') ? Promise.reject(new Error('503 Service Unavailable')) : r.pushManifest(bytes, mediaType, tag)) });
  };
  await assert.rejects(promoteTo(failing, { stage: 'dev', bundle: d1 }), refusedWith('RECORD_PUBLISH_FAILED', 1, (err) => assert.match(err.hint!, /run the same promote command again/)));
  assert.equal(await p.registry.resolve('promotion-dev'), undefined, 'nothing published');
  // Completing it signs nothing (it uploads the statement signed before the commit): a signer
  // that cannot sign completes it.
  const pat = await engineFor(p, clock, undefined, broken);
  const gap = (await stageSummaries(pat)).find((s) => s.stage === 'dev')!;
  assert.equal(gap.publishGap, true, 'status shows the gap');
  assert.equal(gap.bundle, d1);
  const done = await promoteTo(pat, { stage: 'dev', bundle: d1 });
  assert.equal(done.completed, true);
  const fetched = await p.registry.fetchManifest('promotion-dev');
  assert.equal(JSON.parse(fetched.bytes.toString()).annotations[RECORD_DIGEST_ANNOTATION], done.record);
  const third = await promoteTo(pat, { stage: 'dev', bundle: d1 });
  assert.equal(third.upToDate, true);
  assert.equal(third.published?.digest, fetched.descriptor.digest);
  assert.equal((await history(pat, 'dev')).length, 1, 'one promotion, committed once');
  assert.equal((await stageSummaries(pat)).find((s) => s.stage === 'dev')!.publishGap, false);
});

test('status reports count only when signed by a key in trust.agents: a report signed by anyone else is evidence of nothing', async () => {
  const p = await createProject(join(base, 'agents'), registry.host, { name: 'agents', agents: true });
  const clock = { now: MONDAY };
  const pat = await engineFor(p, clock);
  const d1 = await p.push(1);
  await promoteTo(pat, { stage: 'dev', bundle: d1 });
  const longAgo = new Date(MONDAY.getTime() - 3_600_000);
  // Signed by the promoter's key, which may sign records but not speak for a cluster.
  await report(p, 'dev', 'dev-1', d1, longAgo, 'Converged', p.promoter);
  await assert.rejects(promoteTo(pat, { stage: 'staging' }), refusedWith('GATES_FAILED', 3, (err) => assert.match(said(err), /dev-1: status report signature not trusted/)));
  await report(p, 'dev', 'dev-1', d1, longAgo, 'Converged', p.agent);
  assert.equal((await promoteTo(pat, { stage: 'staging' })).bundle, d1);
});

test('promote run: the first stage takes each newly pushed bundle, later stages follow once their gates pass, holds are respected', async () => {
  const p = await createProject(join(base, 'run'), registry.host, { name: 'run' });
  const clock = { now: MONDAY };
  const pat = await engineFor(p, clock);
  const results = async () => (await runOnce(pat)).map((o) => [o.stage, o.result, o.bundle]);
  assert.deepEqual(await results(), [['dev', 'nothing', undefined], ['staging', 'nothing', undefined]]);
  const d1 = await p.push(1);
  assert.deepEqual(await results(), [['dev', 'promoted', d1], ['staging', 'waiting', d1]]);
  await report(p, 'dev', 'dev-1', d1, new Date(MONDAY.getTime() - 3_600_000));
  assert.deepEqual(await results(), [['dev', 'up-to-date', d1], ['staging', 'promoted', d1]]);
  await setHold(pat, 'dev', true, 'pinned for a demo');
  const d2 = await p.push(2);
  const held = await runOnce(pat);
  assert.equal(held[0]!.result, 'held');
  assert.match(held[0]!.message!, /pinned for a demo/);
  await setHold(pat, 'dev', false);
  assert.deepEqual((await results())[0], ['dev', 'promoted', d2]);
  // The controller loop: one pass per interval until aborted.
  const controller = new AbortController();
  let passes = 0;
  await runLoop(pat, 1000, controller.signal, () => {
    passes++;
    controller.abort();
  });
  assert.equal(passes, 1);
  const h = await history(pat, 'dev');
  assert.deepEqual(h.filter((e) => e.action === 'auto').map((e) => e.bundle), [d2, d1]);
});

test('the default ledger is the config repository itself: commits land on its branch, its working tree stays clean', async () => {
  const p = await createProject(join(base, 'local'), registry.host, { name: 'local', localLedger: true });
  git(p.dir, p.env, 'init', '--quiet', '--initial-branch=main');
  git(p.dir, p.env, 'add', '.');
  git(p.dir, p.env, 'commit', '--quiet', '-m', 'config');
  const pat = await engineFor(p, { now: MONDAY });
  const d1 = await p.push(1);
  const r = await promoteTo(pat, { stage: 'dev', bundle: d1 });
  assert.equal(git(p.dir, p.env, 'rev-parse', 'HEAD').trim(), r.commit);
  assert.equal(git(p.dir, p.env, 'status', '--porcelain'), '', 'the promotion file is checked out, nothing else touched');
  assert.match(git(p.dir, p.env, 'show', 'HEAD:promotions/webapp/dev.yaml'), new RegExp(`digest: ${d1}`));
  assert.equal((await history(pat, 'dev'))[0]!.commit, r.commit);
});

test('a stage with its own registry: the bundle is copied there with its signature, and the record is published there', async () => {
  const prodRegistry = await startRegistry();
  try {
    const prodRepo = `${prodRegistry.host}/acme/webapp`;
    const p = await createProject(join(base, 'prodreg'), registry.host, { name: 'prodreg', productionGates: '[{converged: {}}]', productionRepository: prodRepo });
    const clock = { now: MONDAY };
    const pat = await engineFor(p, clock);
    const d1 = await p.push(1);
    const longAgo = new Date(MONDAY.getTime() - 3_600_000);
    await promoteTo(pat, { stage: 'dev', bundle: d1 });
    await report(p, 'dev', 'dev-1', d1, longAgo);
    await promoteTo(pat, { stage: 'staging' });
    for (const c of ['staging-eu-1', 'staging-us-1']) await report(p, 'staging', c, d1, longAgo);
    const prod = await promoteTo(pat, { stage: 'production' });
    assert.equal(prod.bundle, d1);
    const target = await pat.registryFor(prodRepo);
    // Same digest, signature along, record next to it; nothing about production in the source.
    assert.equal((await target.resolve(d1))?.digest, d1);
    const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
    const { verifyBundle } = await import('../../src/signing/policy.ts');
    assert.equal((await verifyBundle(target, d1, trust.bundles)).digest, d1);
    const record = await verifyRecord(target, 'promotion-production', trust.promotions, { stage: 'production', bundle: d1 });
    assert.equal(record.statement.predicate.bundle.repository, prodRepo);
    assert.equal(await p.registry.resolve('promotion-production'), undefined);
    // Promoting again is a no-op: the record is found in the production registry.
    assert.equal((await promoteTo(pat, { stage: 'production' })).upToDate, true);
  } finally {
    await prodRegistry.stop();
  }
});
