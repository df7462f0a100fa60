// An old, validly signed promotion record put back on `promotion-<stage>` (a rollback/replay
// attack by whoever can write tags) is refused by the agent, which keeps running the newer one.
// Real registry, real project (git ledger, keys), the real engine and agent.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { publishStatusReport, readStatusReport } from '../../src/records/status-report.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject } from '../promotion/project.ts';
import { agentOnce } from './agent-once.ts';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-agent-replay-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

test('the agent refuses an older signed record put back on the tag (RecordReplayed) and a restarted agent still does; a rollback is a new record and is applied', async () => {
  const p = await createProject(join(base, 'replay'), registry.host, { name: 'replay' });
  const out = join(base, 'replay-target');
  const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(p.dir, '..', 'engine-cache') });
  const d1 = await p.push(1);
  const d2 = await p.push(2);
  const first = await promoteTo(eng, { stage: 'dev', bundle: d1 });
  assert.equal((await agentOnce(p, out))?.phase, 'Converged');
  await promoteTo(eng, { stage: 'dev', bundle: d2 });
  const applied = await agentOnce(p, out);
  assert.equal(applied?.phase, 'Converged');
  assert.equal(applied?.bundle, d2);
  const variant = await readFile(join(out, 'files', 'variant.txt'), 'utf8').catch(() => undefined);

  // Put record 1 (validly signed, right pipeline, stage and cluster) back on the tag.
  const old = await p.registry.fetchManifest(first.published!.digest);
  await p.registry.pushManifest(old.bytes, old.descriptor.mediaType, 'promotion-dev');
  assert.equal((await p.registry.resolve('promotion-dev'))?.digest, first.published!.digest);
  const refused = await agentOnce(p, out);
  assert.equal(refused?.phase, 'Refused', JSON.stringify(refused));
  assert.equal(refused?.reason, 'RecordReplayed');
  assert.match(refused?.message ?? '', /older than number 2/);
  if (variant !== undefined) assert.equal(await readFile(join(out, 'files', 'variant.txt'), 'utf8'), variant, 'the target still runs the newer bundle');

  // Going back on purpose is a new record (number 3) and is applied.
  const { rollback } = await import('../../src/promotion/rollback.ts');
  await rollback(eng, { stage: 'dev', steps: 1, force: { reason: 'test: back to d1' } });
  const back = await agentOnce(p, out);
  assert.equal(back?.phase, 'Converged', JSON.stringify(back));
  assert.equal(back?.bundle, d1);
});

test("a restarted agent keeps `since` only from its own signed report: a forged \"Converged since 2001\" on the tag is not re-signed (no soak bypass)", async () => {
  const p = await createProject(join(base, 'since'), registry.host, { name: 'since' });
  const out = join(base, 'since-target');
  const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(p.dir, '..', 'engine-cache') });
  const d1 = await p.push(1);
  await promoteTo(eng, { stage: 'dev', bundle: d1 });
  const first = await agentOnce(p, out);
  assert.equal(first?.phase, 'Converged');
  const trust = await loadPipelineTrust({ promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const honest = await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions, 'webapp');
  assert.equal(honest?.verified, true);

  // Someone who can write tags but holds no trusted key puts an old `since` on the same record.
  const forgedSince = '2001-01-01T00:00:00.000Z';
  const desc = (await p.registry.resolve(d1))!;
  await publishStatusReport(p.registry, desc, { pipeline: 'webapp', stage: 'dev', cluster: 'dev-1', phase: 'Converged', record: first!.record!, bundle: { repository: p.repository, digest: d1 }, since: forgedSince, observedAt: forgedSince }, p.stranger);

  const restarted = await agentOnce(p, out);
  assert.equal(restarted?.phase, 'Converged');
  assert.notEqual(restarted?.since, forgedSince);
  const signed = await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions, 'webapp');
  assert.equal(signed?.verified, true, 'the agent published a fresh signed report');
  assert.notEqual(signed?.since, forgedSince, 'the forged since was not re-signed with the agent key');
  assert.ok(Date.parse(signed!.since) >= Date.parse(honest!.since), `${signed!.since} vs ${honest!.since}`);
});
