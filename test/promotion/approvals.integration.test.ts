import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { APPROVAL } from '../../src/oci/media-types.ts';
import { publishStatusReport } from '../../src/records/status-report.ts';
import { readAttachedBundle } from '../../src/signing/attestation.ts';
import { signApproval, verifyApproval, type ApprovalPredicate } from '../../src/records/approval.ts';
import { loadTrustPolicy } from '../../src/signing/policy.ts';
import { keyFingerprint } from '../../src/signing/trusted-signer.ts';
import type { LocalKeySigner } from '../../src/signing/signer.ts';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, type TestProject } from './project.ts';

// Signed approvals and trusted signing keys (issue 11 §2, §3; the attacks of issue 12 §8), through
// the real CLI against a real registry and a bare git remote as the ledger. Every attack is
// performed for real: forged git identities, hand-edited ledger files, statements signed by keys
// the pipeline does not trust, and real approvals replayed into another stage or pipeline.

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-approvals-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function promote(p: TestProject, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1', ...env } });
}

async function report(p: TestProject, stage: string, cluster: string, digest: string) {
  const desc = (await p.registry.resolve(digest))!;
  const since = new Date(Date.now() - 3_600_000).toISOString();
  await publishStatusReport(p.registry, { mediaType: desc.mediaType, digest, size: desc.size }, { pipeline: 'webapp', stage, cluster, phase: 'Converged', bundle: { repository: p.repository, digest }, since, observedAt: new Date().toISOString() }, p.agent);
}

/** A project whose d1 runs in staging, ready for production (approval 1 separateDuties). */
async function stagedProject(name: string): Promise<{ p: TestProject; d1: string }> {
  const p = await createProject(join(base, name), registry.host, { name, agents: true, productionGates: '[{approval: {count: 1, separateDuties: true}}]' });
  const d1 = await p.push(1);
  assert.equal((await promote(p, ['to', 'dev', '--bundle', d1])).code, 0);
  await report(p, 'dev', 'dev-1', d1);
  const staged = await promote(p, ['to', 'staging']);
  assert.equal(staged.code, 0, staged.stderr);
  return { p, d1 };
}

const ledgerHead = (p: TestProject) => git(p.ledgerRemote, p.env, 'rev-parse', 'main').trim();
const tags = async (p: TestProject) => (await p.registry.listTags()).sort();

/** What an attacker with push access to the ledger does: edit the stage file by hand and push, under any author. */
async function editLedger(p: TestProject, stage: string, edit: (state: Record<string, unknown> & { approvals: Record<string, unknown>[] }) => void, author = { name: 'Alex', email: 'alex@example.com' }) {
  const work = await mkdtemp(join(base, 'attacker-'));
  const env = { ...p.env, GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email, GIT_COMMITTER_NAME: author.name, GIT_COMMITTER_EMAIL: author.email };
  git(work, env, 'clone', '--quiet', p.ledgerRemote, 'ledger');
  const file = join(work, 'ledger', 'promotions', 'webapp', `${stage}.yaml`);
  const state = (await readFile(file, 'utf8').then(parseYaml, () => ({ apiVersion: 'promote/v1', kind: 'StageLedger', pipeline: 'webapp', stage, approvals: [] }))) as Record<string, unknown> & { approvals: Record<string, unknown>[] };
  state.approvals ??= [];
  edit(state);
  await writeFile(file, stringifyYaml(state));
  git(join(work, 'ledger'), env, 'add', '-A');
  git(join(work, 'ledger'), env, 'commit', '--quiet', '-m', `approve webapp/${stage}`);
  git(join(work, 'ledger'), env, 'push', '--quiet', 'origin', 'HEAD:main');
}

/** The production plan's approval gate, as `promote plan --output json` reports it. */
async function approvalGate(p: TestProject) {
  const r = await promote(p, ['plan', 'production', '--no-diff', '--output', 'json']);
  const plan = JSON.parse(r.stdout);
  const gate = plan.gates.find((g: { type: string }) => g.type === 'approval');
  return { code: r.code, gate, ignored: (gate.evidence.ignored as { by: string; why: string }[]).map((i) => `${i.by}: ${i.why}`) };
}

async function parametersOf(p: TestProject, d1: string): Promise<string> {
  const ok = await promote(p, ['approve', 'staging', d1, '--key', p.approverKeyFile, '--output', 'json']);
  assert.equal(ok.code, 0, ok.stderr);
  return JSON.parse(ok.stdout).parameters;
}

function predicate(over: Partial<Omit<ApprovalPredicate, 'parameters'>> & { digest: string; repository: string; params: string }): ApprovalPredicate {
  const { digest, repository, params, ...rest } = over;
  return { pipeline: 'webapp', stage: 'production', bundle: { repository, digest }, parameters: { digest: params }, approver: { name: 'Alex', email: 'alex@example.com' }, approvedAt: new Date().toISOString(), ...rest };
}

async function insertSigned(p: TestProject, stage: string, d1: string, pred: ApprovalPredicate, signer: LocalKeySigner) {
  const statement = await signApproval(pred, signer);
  await editLedger(p, stage, (s) => s.approvals.push({ bundle: d1, by: 'Alex <alex@example.com>', at: pred.approvedAt, parameters: pred.parameters.digest, signer: keyFingerprint(signer.publicKeyPem), statement }));
}

test('approvals forged in the ledger are listed as not counted, with the reason: a GIT_AUTHOR forgery, a hand-edited "verified" entry, a statement signed by an untrusted key, a real approval replayed from another stage or pipeline', async () => {
  const { p, d1 } = await stagedProject('forged');
  const unsigned = await approvalGate(p);
  assert.equal(unsigned.gate.passed, false);

  // 1. The old forgery: an approval commit authored as Alex (GIT_AUTHOR_NAME/EMAIL), hand-written,
  //    claiming the engine's own "verified" result.
  await editLedger(p, 'production', (s) => s.approvals.push({ bundle: d1, by: 'Alex <alex@example.com>', at: new Date().toISOString(), check: { verified: true, pipeline: 'webapp', stage: 'production', bundle: d1, parameters: 'sha256:x', approver: 'Alex', identity: 'k', names: ['alex@example.com'], person: 'alex@example.com' } }));
  // 2. A statement signed by a key the pipeline does not trust (the attacker's own).
  const parameters = await parametersOf(p, d1); // a real approval, for staging: replayed below
  await insertSigned(p, 'production', d1, predicate({ digest: d1, repository: p.repository, params: parameters }), p.stranger);
  // 3. Alex's real approval of d1 for staging, copied into production's file.
  const staging = parseYaml(git(p.ledgerRemote, p.env, 'show', 'main:promotions/webapp/staging.yaml')) as { approvals: Record<string, unknown>[] };
  await editLedger(p, 'production', (s) => s.approvals.push(staging.approvals[0]!));
  // 4. An approval Alex really signed, for the same digest and stage of another pipeline.
  await insertSigned(p, 'production', d1, predicate({ digest: d1, repository: p.repository, params: parameters, pipeline: 'billing' }), p.approver);

  const forged = await approvalGate(p);
  assert.equal(forged.code, 3);
  assert.equal(forged.gate.passed, false, JSON.stringify(forged.gate));
  assert.deepEqual(forged.gate.evidence.approvers, []);
  assert.deepEqual(forged.ignored, [
    'Alex <alex@example.com>: is unsigned: only approvals signed by a key in trust.approvers count (a git author is a claim anyone can make)',
    'Alex <alex@example.com>: is not signed by a key or identity in trust.approvers',
    'Alex <alex@example.com> (key keys/approver.pub): approves it for stage staging, not production (replayed)',
    'Alex <alex@example.com> (key keys/approver.pub): approves it for pipeline billing, not webapp (replayed)',
  ]);
  const refused = await promote(p, ['to', 'production']);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /approval 1 separateDuties: 0\/1 approvals/);
});

test('promote approve --key <trusted approver> signs an approval that binds the parameters, lands in the ledger and in the registry, and makes the gate pass; changed parameters need a new approval', async () => {
  const { p, d1 } = await stagedProject('signed');
  const forgedByName = await promote(p, ['approve', 'production', d1], { GIT_AUTHOR_NAME: 'Alex', GIT_AUTHOR_EMAIL: 'alex@example.com' });
  assert.equal(forgedByName.code, 2, 'no key: a git identity alone approves nothing');
  assert.match(forgedByName.stderr, /approvals of this pipeline are signed .* no approver key was given/);

  const approved = await promote(p, ['approve', 'production', d1, '--key', p.approverKeyFile, '--comment', 'CAB-7', '--output', 'json'], { GIT_AUTHOR_NAME: 'Alex', GIT_AUTHOR_EMAIL: 'alex@example.com' });
  assert.equal(approved.code, 0, approved.stderr);
  const result = JSON.parse(approved.stdout);
  assert.equal(result.signed, true);
  assert.equal(result.key, keyFingerprint(p.approver.publicKeyPem));
  // The ledger holds the signed statement; it verifies against trust.approvers by itself.
  const state = parseYaml(git(p.ledgerRemote, p.env, 'show', 'main:promotions/webapp/production.yaml')) as { approvals: { statement: unknown }[] };
  const trust = await loadTrustPolicy(['keys/approver.pub'], { baseDir: p.dir });
  const fromLedger = verifyApproval(state.approvals[0]!.statement, trust, 'ledger');
  assert.deepEqual([fromLedger.predicate.pipeline, fromLedger.predicate.stage, fromLedger.predicate.bundle.digest, fromLedger.predicate.parameters.digest, fromLedger.predicate.comment], ['webapp', 'production', d1, result.parameters, 'CAB-7']);
  // The registry holds the same statement attached to the bundle (tag-schema referrers index on distribution 2.8).
  const referrers = await p.registry.referrers(d1, APPROVAL);
  assert.equal(referrers.length, 1);
  assert.equal(referrers[0]!.digest, result.attached.digest);
  const attached = await readAttachedBundle(p.registry, referrers[0]!.digest);
  assert.equal(attached.manifest.subject?.digest, d1);
  assert.deepEqual(verifyApproval(attached.bundle, trust, 'registry').predicate, fromLedger.predicate);
  // Approving again changes nothing and re-attaches the same statement.
  const again = await promote(p, ['approve', 'production', d1, '--key', p.approverKeyFile, '--output', 'json']);
  assert.equal(JSON.parse(again.stdout).alreadyApproved, true);
  assert.equal(JSON.parse(again.stdout).attached.digest, result.attached.digest);

  // The environment's parameters change after the approval: it no longer counts.
  const envFile = join(p.dir, 'environments', 'production.yaml');
  const original = await readFile(envFile, 'utf8');
  await writeFile(envFile, original.replace('replicas: 3', 'replicas: 4'));
  const stale = await approvalGate(p);
  assert.equal(stale.gate.passed, false);
  assert.match(stale.ignored.join('\n'), new RegExp(`^Alex <alex@example.com> \\(key keys/approver.pub\\): approves parameters ${result.parameters.slice(0, 19)}, not sha256:\\w{12} \\(the parameters changed since\\)$`));
  await writeFile(envFile, original);

  const plan = await approvalGate(p);
  assert.equal(plan.code, 0);
  assert.equal(plan.gate.passed, true);
  // plan does not load the promoter's private key, and says what it could not check.
  assert.match(plan.gate.summary, /^1\/1 approvals of sha256:\w{12}: Alex <alex@example.com> \(key keys\/approver.pub\) \(separateDuties is checked against the promoter's key by promote to\)$/);
  const promoted = await promote(p, ['to', 'production']);
  assert.equal(promoted.code, 0, promoted.stderr);
  assert.match(promoted.stdout, /pass  approval 1 separateDuties: 1\/1 approvals .*Alex <alex@example.com>/);
});

test('signing keys outside their trust list are refused (exit 4) before anything is written: to, rollback, run, approve; the agent does not start', async () => {
  const { p, d1 } = await stagedProject('untrusted');
  const d2 = await p.push(2);
  const fp = keyFingerprint(p.stranger.publicKeyPem);
  const head = ledgerHead(p);
  const before = await tags(p);
  const stranger = { PROMOTE_KEY: p.strangerKeyFile };
  for (const args of [['to', 'dev', '--bundle', d2], ['rollback', 'staging', '--to', d1, '--force', '--reason', 'x'], ['run', '--once']]) {
    const r = await promote(p, args, stranger);
    assert.equal(r.code, 4, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`error: the signing key \\S+stranger.key \\(fingerprint ${fp}\\) is not in trust.promotions of \\S+webapp.yaml: every agent would refuse the promotion records it signs, so nothing was written\\nhint: .*add this key's public key \\(its .pub file\\) to trust.promotions`));
  }
  const viaFlag = await promote(p, ['to', 'dev', '--bundle', d2, '--key', p.strangerKeyFile, '--output', 'json']);
  assert.equal(viaFlag.code, 4);
  assert.equal(JSON.parse(viaFlag.stdout).error.code, 'SIGNING_KEY_UNTRUSTED');
  const approve = await promote(p, ['approve', 'production', d1, '--key', p.strangerKeyFile], { GIT_AUTHOR_NAME: 'Alex', GIT_AUTHOR_EMAIL: 'alex@example.com' });
  assert.equal(approve.code, 4);
  assert.match(approve.stderr, new RegExp(`fingerprint ${fp}\\) is not in trust.approvers`));
  // A key trusted for one role is not trusted for another: the promoter's key cannot sign status reports.
  const out = join(p.dir, '..', 'agent-out');
  const agent = await promote(p, ['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', `dir:${out}`, '--once', '--key', p.promoterKeyFile]);
  assert.equal(agent.code, 4, agent.stderr);
  assert.match(agent.stderr, /is not in trust.agents of \S+webapp.yaml: the converged and soak gates would refuse the status reports it signs/);
  assert.deepEqual(await readdir(out).catch(() => []), [], 'the agent applied nothing');

  assert.equal(ledgerHead(p), head, 'no ledger commit');
  assert.deepEqual(await tags(p), before, 'no registry write');
  assert.deepEqual(await p.registry.referrers(d1, APPROVAL), [], 'no approval attached');
});

test('push --sign warns when the project pipeline does not trust the signing key', async () => {
  const p = await createProject(join(base, 'push'), registry.host, { name: 'push' });
  const r = await promote(p, ['push', 'bundle', `${p.repository}:stranger`, '--sign', '--key', p.strangerKeyFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`warning: the key that signed \\(fingerprint ${keyFingerprint(p.stranger.publicKeyPem)}\\) is not in trust.bundles of \\S+webapp.yaml: promote to will refuse this bundle`));
});
