// Where the agent keeps its replay mark (the highest record number it accepted), with the real
// engine, agent and registry: keyed by repository as well as pipeline/stage/cluster, under the
// cache root PROMOTE_CACHE_DIR names, and carried over from the pre-upgrade file.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo, type PromoteResult } from '../../src/promotion/to.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from '../promotion/project.ts';
import { agentOnce } from './agent-once.ts';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-replay-state-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

async function promoted(p: TestProject, n: number): Promise<PromoteResult[]> {
  const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(p.dir, '..', 'engine-cache') });
  const out: PromoteResult[] = [];
  for (let i = 1; i <= n; i++) out.push(await promoteTo(eng, { stage: 'dev', bundle: await p.push(i) }));
  return out;
}

test('two projects with the same pipeline, stage and cluster names in one PROMOTE_CACHE_DIR keep separate replay marks, all under that root', async () => {
  const root = join(base, 'shared-root');
  const xdg = join(base, 'shared-xdg');
  const env = (p: TestProject) => ({ ...p.env, PROMOTE_CACHE_DIR: root, XDG_CACHE_HOME: xdg });
  const a = await createProject(join(base, 'a'), registry.host, { name: 'alpha' });
  const b = await createProject(join(base, 'b'), registry.host, { name: 'beta' });
  const recordsA = await promoted(a, 3);
  await promoted(b, 1);

  const runA = await agentOnce(a, join(base, 'a-out'), { env: env(a), cacheDir: undefined });
  assert.equal(runA?.phase, 'Converged', JSON.stringify(runA));
  // Record number 1 of beta after number 3 of alpha: another project's mark must not refuse it.
  const runB = await agentOnce(b, join(base, 'b-out'), { env: env(b), cacheDir: undefined });
  assert.equal(runB?.phase, 'Converged', JSON.stringify(runB));

  // Each mark still protects its own project: alpha's record 1 put back on its tag is refused.
  const old = await a.registry.fetchManifest(recordsA[0]!.published!.digest);
  await a.registry.pushManifest(old.bytes, old.descriptor.mediaType, 'promotion-dev');
  const replayed = await agentOnce(a, join(base, 'a-out'), { env: env(a), cacheDir: undefined });
  assert.equal(replayed?.phase, 'Refused', JSON.stringify(replayed));
  assert.match(replayed?.message ?? '', /older than number 3/);

  // PROMOTE_CACHE_DIR moved bundles and state alike; nothing went to $XDG_CACHE_HOME.
  const states = (await readdir(join(root, 'agent'))).filter((f) => f.endsWith('.json')).sort();
  assert.equal(states.length, 2, states.join(', '));
  const marks = await Promise.all(states.map(async (f) => JSON.parse(await readFile(join(root, 'agent', f), 'utf8'))));
  assert.deepEqual(marks.map((m) => [m.repository, m.pipeline, m.stage, m.cluster, m.sequence]).sort(), [[a.repository, 'webapp', 'dev', 'dev-1', 3], [b.repository, 'webapp', 'dev', 'dev-1', 1]]);
  assert.ok((await readdir(join(root, 'bundles'))).some((d) => d.startsWith('sha256-')), 'bundles extracted under the root');
  await assert.rejects(readdir(xdg), { code: 'ENOENT' });
});

test('an agent upgraded in place keeps its old high-water mark: the pre-upgrade sequence file is read as a floor and migrated', async () => {
  const p = await createProject(join(base, 'legacy'), registry.host, { name: 'legacy' });
  const xdg = join(base, 'legacy-xdg');
  const root = join(base, 'legacy-root');
  // Where the previous version wrote it: the default bundle cache, whatever PROMOTE_CACHE_DIR said.
  await mkdir(join(xdg, 'promote', 'bundles'), { recursive: true });
  await writeFile(join(xdg, 'promote', 'bundles', 'sequence-webapp-dev-dev-1'), '7\n');
  await promoted(p, 2);
  const env = { ...p.env, PROMOTE_CACHE_DIR: root, XDG_CACHE_HOME: xdg };
  const refused = await agentOnce(p, join(base, 'legacy-out'), { env, cacheDir: undefined });
  assert.equal(refused?.phase, 'Refused', JSON.stringify(refused));
  assert.equal(refused?.reason, 'RecordReplayed');
  assert.match(refused?.message ?? '', /number 2 .*older than number 7/);
  const [state] = (await readdir(join(root, 'agent'))).filter((f) => f.endsWith('.json'));
  assert.equal(JSON.parse(await readFile(join(root, 'agent', state!), 'utf8')).sequence, 7, 'migrated into the new state file');
});
