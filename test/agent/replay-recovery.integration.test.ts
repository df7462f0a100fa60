// The agent's replay protection and `since` when its local state is lost or its own older
// reports are put back, performed against the real CLI (`promote agent --once` in a child
// process), a real registry and a git ledger.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from '../promotion/project.ts';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-replay-recovery-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function promote(p: TestProject, args: string[]): Promise<Run> {
  return runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1' } });
}

/** One round of the real agent on dev/dev-1, as a restarted pod would run it. */
async function agent(p: TestProject, out: string, ...extra: string[]): Promise<{ run: Run; status: { phase: string; reason: string; message: string; since: string; record?: string } }> {
  const run = await promote(p, ['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', `dir:${out}`, '--once', '--key', p.promoterKeyFile, '--health-timeout', '0s', '--output', 'json', ...extra]);
  return { run, status: JSON.parse(run.stdout) };
}

test('an agent that lost its cache still refuses an older record put back on promotion-dev: its own last signed report names the record number it had accepted', async () => {
  const p = await createProject(join(base, 'lost'), registry.host, { name: 'lost-cache' });
  const out = join(base, 'lost-target');
  const d1 = await p.push(1);
  const d2 = await p.push(2);
  assert.equal((await promote(p, ['to', 'dev', '--bundle', d1])).code, 0);
  const record1 = (await p.registry.resolve('promotion-dev'))!.digest;
  assert.equal((await agent(p, out)).status.phase, 'Converged');
  assert.equal((await promote(p, ['to', 'dev', '--bundle', d2])).code, 0);
  const applied = await agent(p, out);
  assert.equal(applied.status.phase, 'Converged', applied.run.stdout);

  // The attack: the cache (replay mark and bundles) is gone — a new pod, a wiped volume — and
  // record 1, validly signed, is put back on the tag.
  await rm(p.env.PROMOTE_CACHE_DIR!, { recursive: true, force: true });
  const old = await p.registry.fetchManifest(record1);
  await p.registry.pushManifest(old.bytes, old.descriptor.mediaType, 'promotion-dev');
  const replayed = await agent(p, out);
  assert.equal(replayed.run.code, 4, replayed.run.stdout + replayed.run.stderr);
  assert.equal(replayed.status.phase, 'Refused');
  assert.equal(replayed.status.reason, 'RecordReplayed');
  assert.match(replayed.status.message, /number 1 of webapp\/dev, older than number 2 this agent already accepted/);
  assert.equal(await readFile(join(out, 'files', 'variant.txt'), 'utf8'), 'variant 2\n', 'the target still runs record 2');
});

test("a restarted agent does not adopt `since` from its own older report put back on the tag: a soak restarts after a flap; an honest restart keeps it", async () => {
  const p = await createProject(join(base, 'flap'), registry.host, { name: 'flap' });
  const out = join(base, 'flap-target');
  const d1 = await p.push(1);
  assert.equal((await promote(p, ['to', 'dev', '--bundle', d1])).code, 0);
  const first = await agent(p, out);
  assert.equal(first.status.phase, 'Converged');
  const convergedReport = await p.registry.fetchManifest('status-dev-dev-1');

  // The cluster flaps: a hand edit, seen with self-heal off.
  await writeFile(join(out, 'files', 'variant.txt'), 'edited by hand\n');
  const drifted = await agent(p, out, '--no-self-heal');
  assert.equal(drifted.status.phase, 'Drifted', drifted.run.stdout);

  // The attack: the older "Converged since <first>" (the agent's own, validly signed) goes back
  // on the tag, so the restarted agent would carry that `since` into a fresh signed report.
  await p.registry.pushManifest(convergedReport.bytes, convergedReport.descriptor.mediaType, 'status-dev-dev-1');
  const beforeHeal = Date.now();
  const healed = await agent(p, out);
  assert.equal(healed.status.phase, 'Converged', healed.run.stdout);
  assert.ok(Date.parse(healed.status.since) >= beforeHeal - 1000, `since ${healed.status.since} is from before the flap (first Converged ${first.status.since})`);

  // No attack: a plain restart keeps its own newest report's `since`, so a soak goes on.
  const restarted = await agent(p, out);
  assert.equal(restarted.status.phase, 'Converged');
  assert.equal(restarted.status.since, healed.status.since);
});
