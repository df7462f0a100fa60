// `promote history <stage> --verify` through the real CLI, against a real git ledger (a bare
// remote) and real registries: an OCI layout for most cases, the real distribution registry for
// the registry attacks. Each attack is performed for real — a hand edit committed and pushed, a
// record deleted or re-signed in the registry, a commit amended and force-pushed — and must be
// named (exit 4) by the first commit or record that does not check out.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PROMOTION_RECORD } from '../../src/oci/media-types.ts';
import { setHold } from '../../src/promotion/hold.ts';
import { openProject } from '../../src/promotion/project.ts';
import { rollback } from '../../src/promotion/rollback.ts';
import { promoteTo, type PromoteResult } from '../../src/promotion/to.ts';
import { signAndAttach } from '../../src/signing/attestation.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, type TestProject } from './project.ts';
import { RECORD_DIGEST_ANNOTATION, verifyRecord } from '../../src/records/promotion-record.ts';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-verify-history-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function promote(p: TestProject, args: string[]): Promise<Run> {
  return runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, NO_COLOR: '1' } });
}

interface Honest {
  p: TestProject;
  records: PromoteResult[];
}

/** Four records on dev — three promotions and a rollback — with a hold and a release between them. */
async function honestHistory(name: string, where: 'layout' | 'registry'): Promise<Honest> {
  const dir = join(base, name);
  const p = await createProject(dir, where === 'layout' ? `oci:${join(dir, 'layout')}` : registry.host, { name });
  const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter });
  const [d1, d2, d3] = [await p.push(1), await p.push(2), await p.push(3)];
  const records = [await promoteTo(eng, { stage: 'dev', bundle: d1 }), await promoteTo(eng, { stage: 'dev', bundle: d2 })];
  await setHold(eng, 'dev', true, 'checking');
  await setHold(eng, 'dev', false);
  records.push(await promoteTo(eng, { stage: 'dev', bundle: d3 }));
  records.push(await rollback(eng, { stage: 'dev', steps: 1 }));
  return { p, records };
}

/** A working clone of the ledger remote, to attack it the way someone with push access would. */
function clone(p: TestProject, name: string): string {
  const work = join(p.dir, '..', name);
  git(p.dir, p.env, 'clone', '--quiet', p.ledgerRemote, work);
  return work;
}

test('an honest history verifies: exit 0 with a one-line summary naming the trust list, every record in JSON (rollback included)', async () => {
  const { p, records } = await honestHistory('honest', 'layout');
  const text = await promote(p, ['history', 'dev', '--verify']);
  assert.equal(text.code, 0, text.stderr + text.stdout);
  assert.match(text.stdout, /^history of dev verifies: 4 records \(numbers 1–4\) in 6 commits, head sha256:[0-9a-f]{12}… at promotion-dev; signatures checked against today's trust\.promotions in pipelines\/webapp\.yaml\n$/);

  const json = await promote(p, ['history', 'dev', '--verify', '--output', 'json']);
  assert.equal(json.code, 0, json.stderr);
  const v = JSON.parse(json.stdout);
  assert.equal(v.verified, true);
  assert.equal(v.complete, true);
  assert.deepEqual(v.entries.map((e: { sequence: number; action: string; record: string; commit: string }) => [e.sequence, e.action, e.record, e.commit]), records.map((r, i) => [i + 1, i === 3 ? 'rollback' : 'promotion', r.record, r.commit]));
  assert.equal(v.head.record, records[3]!.record);
  assert.equal(v.head.published, records[3]!.published!.digest);
  assert.match(v.entries[0].signedBy, /key keys\/promoter\.pub/);

  // --limit bounds the walk and says so.
  const limited = await promote(p, ['history', 'dev', '--verify', '--limit', '2']);
  assert.equal(limited.code, 0, limited.stderr);
  assert.match(limited.stdout, /2 records \(numbers 3–4\) .*newest 2 only: --limit stopped the walk; records before number 3 were not checked/);
});

test('a hand-edited ledger stage file, committed and pushed: exit 4 naming that commit; promote to refuses to chain onto it', async () => {
  const { p } = await honestHistory('edited', 'layout');
  const work = clone(p, 'edited-clone');
  const file = join(work, 'promotions', 'webapp', 'dev.yaml');
  const yaml = await readFile(file, 'utf8');
  assert.match(yaml, /replicas: 1\n/);
  await writeFile(file, yaml.replace(/replicas: 1\n/, 'replicas: 50\n'));
  git(work, p.env, 'commit', '--quiet', '-am', 'bump replicas');
  git(work, p.env, 'push', '--quiet', 'origin', 'main');
  const edit = git(work, p.env, 'rev-parse', 'HEAD').trim();

  const r = await promote(p, ['history', 'dev', '--verify']);
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`^error: commit ${edit.slice(0, 12)} \\(not written by promote: bump replicas\\): the record in promotions/webapp/dev.yaml hashes to sha256:\\w+…, but the file says recordDigest sha256:\\w+…: the file was edited by hand\\nhint: `));
  const json = JSON.parse((await promote(p, ['history', 'dev', '--verify', '--output', 'json'])).stdout);
  assert.deepEqual([json.error.code, json.error.exitCode, json.error.details.check, json.error.details.commit], ['HISTORY_UNVERIFIED', 4, 'ledger-file', edit]);

  // The next promotion would sign `previous` = the stated digest over the edited record: refused.
  const to = await runPromote(['to', 'dev', '--bundle', await p.push(4), '--insecure'], { cwd: p.dir, env: { ...p.env, NO_COLOR: '1', PROMOTE_KEY: p.promoterKeyFile } });
  assert.equal(to.code, 4, to.stderr);
  assert.match(to.stderr, /does not hash to its recordDigest .*edited by hand/);

  // A careful forger recomputes recordDigest and the trailer too: then no signed record has that
  // digest, and the commit's record is named.
  const forged = clone(p, 'edited-clone-2');
  git(forged, p.env, 'reset', '--quiet', '--hard', 'HEAD~1');
  const { parse, stringify } = await import('yaml');
  const { recordDigest } = await import('../../src/records/promotion-record.ts');
  const state = parse(await readFile(join(forged, 'promotions', 'webapp', 'dev.yaml'), 'utf8'));
  const previous = state.recordDigest;
  state.record = { ...state.record, parameters: { ...state.record.parameters, replicas: 50 }, previous, sequence: state.record.sequence + 1 };
  state.recordDigest = recordDigest(state.record);
  await writeFile(join(forged, 'promotions', 'webapp', 'dev.yaml'), stringify(state));
  git(forged, p.env, 'commit', '--quiet', '-am', 'promote webapp/dev', '--trailer', 'Promote-Action: promotion', '--trailer', `Promotion-Record: ${state.recordDigest}`, '--trailer', `Previous-Record: ${previous}`);
  git(forged, p.env, 'push', '--quiet', '--force', 'origin', 'main');
  const f = await promote(p, ['history', 'dev', '--verify', '--output', 'json']);
  assert.equal(f.code, 4, f.stdout);
  const err = JSON.parse(f.stdout).error;
  assert.equal(err.details.check, 'registry-record');
  assert.equal(err.details.record, state.recordDigest);
  assert.match(err.message, new RegExp(`^record ${state.recordDigest.slice(0, 19)}… \\(number 5 of dev, ledger commit [0-9a-f]{12}\\) has no signed copy attached to`));
});

test('a record deleted from the real registry, or replaced by one re-signed with another key: exit 4 naming the record', async () => {
  const { p, records } = await honestHistory('replaced', 'registry');
  const ok = await promote(p, ['history', 'dev', '--verify']);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  const [, second, third] = records as [PromoteResult, PromoteResult, PromoteResult];

  await p.registry.deleteManifest(third.published!.digest);
  const deleted = await promote(p, ['history', 'dev', '--verify', '--output', 'json']);
  assert.equal(deleted.code, 4, deleted.stdout);
  const e1 = JSON.parse(deleted.stdout).error;
  assert.deepEqual([e1.details.check, e1.details.record, e1.details.sequence, e1.details.commit], ['registry-record', third.record, 3, third.commit]);
  assert.match(e1.message, /is listed among the referrers of sha256:\w+… but its manifest sha256:\w+… is gone/);

  // The same statement as record 2, signed by a key nobody trusts, attached beside it: harmless
  // while the original is there (the walk still stops at record 3) …
  const trust = await loadPipelineTrust({ promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const original = await verifyRecord(p.registry, second.published!.digest, trust.promotions, { stage: 'dev' });
  const subject = (await p.registry.resolve(second.bundle))!;
  await signAndAttach(p.registry, subject, original.statement, p.stranger, { artifactType: PROMOTION_RECORD, annotations: { [RECORD_DIGEST_ANNOTATION]: second.record! } });
  const still = JSON.parse((await promote(p, ['history', 'dev', '--verify', '--output', 'json'])).stdout).error;
  assert.equal(still.details.record, third.record);
  // … and named once it has replaced the original.
  await p.registry.deleteManifest(second.published!.digest);
  const resigned = await promote(p, ['history', 'dev', '--verify']);
  assert.equal(resigned.code, 4, resigned.stdout);
  assert.match(resigned.stderr, new RegExp(`^error: record ${second.record!.slice(0, 19)}… \\(number 2 of dev, ledger commit ${second.commit!.slice(0, 12)}\\) is in .* as sha256:\\w+…, but it does not verify against trust\\.promotions`));
});

test('a ledger commit rewritten (amend + force push on the bare remote), or the newest one dropped: exit 4', async () => {
  const { p, records } = await honestHistory('rewritten', 'layout');
  const work = clone(p, 'rewritten-clone');
  // The third promotion's commit amended (same tree, same trailers, another date: only its id
  // changes), the rollback after it replayed on top: the rollback's record was signed for a
  // commit on the original, so its commit now has another parent than it names.
  git(work, p.env, 'reset', '--quiet', '--hard', 'HEAD~1');
  git(work, { ...p.env, GIT_COMMITTER_DATE: '2001-01-01T00:00:00Z' }, 'commit', '--quiet', '--amend', '--no-edit', '--date', '2001-01-01T00:00:00Z');
  git(work, p.env, 'cherry-pick', '--allow-empty', records[3]!.commit!);
  git(work, p.env, 'push', '--quiet', '--force', 'origin', 'main');
  const replayed = git(work, p.env, 'rev-parse', 'HEAD').trim();
  assert.notEqual(replayed, records[3]!.commit);
  const r = await promote(p, ['history', 'dev', '--verify', '--output', 'json']);
  assert.equal(r.code, 4, r.stdout);
  const e = JSON.parse(r.stdout).error;
  assert.deepEqual([e.details.check, e.details.commit, e.details.signedParent], ['ledger-commit', replayed, records[2]!.commit]);
  assert.match(e.message, /history was rewritten/);

  // Dropping the newest promotion: the chain is intact, but promotion-dev holds a newer record.
  git(work, p.env, 'reset', '--quiet', '--hard', 'HEAD~1');
  git(work, p.env, 'push', '--quiet', '--force', 'origin', 'main');
  const dropped = await promote(p, ['history', 'dev', '--verify']);
  assert.equal(dropped.code, 4, dropped.stdout);
  assert.match(dropped.stderr, /promotion-dev holds record sha256:\w+… \(number 4\), not the ledger's head sha256:\w+… \(number 3\)/);
});
