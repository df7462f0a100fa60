// Issue 12 §18: a content layer whose paths collide — a file and a directory at one path, a path
// twice, a file under a path that is a file — is malformed. Before, pull and the agent failed
// with EEXIST/ENOTDIR from the file system (`Failed`, exit 1, retried every round) and inspect
// listed the layer as fine. Each is now refused as malformed with the path (exit 4, `Refused`),
// everywhere a layer is read. Real CLI, real registry, real project for the agent.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { signBundle } from '../../src/signing/cosign-signature.ts';
import { craftTarGz, type CraftedEntry } from '../bundle/helpers.ts';
import { promote } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from '../promotion/project.ts';
import { pushCrafted } from './crafted.ts';

const MANIFEST: CraftedEntry = { name: 'manifests/cm.yaml', content: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n' };

// Linux compares names byte for byte: `files/A` and `files/a` are two files, not a collision.
const CASES: { name: string; entries: CraftedEntry[]; path: string; why: RegExp }[] = [
  { name: 'a file, then a directory at the same path', entries: [{ name: 'files/a', content: 'x' }, { name: 'files/a/', type: '5' }], path: 'files/a', why: /appears twice, as a file and as a directory/ },
  { name: 'a directory, then a file at the same path', entries: [{ name: 'files/a/', type: '5' }, { name: 'files/a', content: 'x' }], path: 'files/a', why: /appears twice, as a directory and as a file/ },
  { name: 'a file under a path that is a file', entries: [{ name: 'files/a', content: 'x' }, { name: 'files/a/b', content: 'y' }], path: 'files/a/b', why: /is under "files\/a", which is a file/ },
  { name: 'a file at a path earlier entries used as a directory', entries: [{ name: 'files/a/b', content: 'y' }, { name: 'files/a', content: 'x' }], path: 'files/a', why: /is a file, but earlier entries are inside a directory of that name/ },
  { name: 'the same file twice', entries: [{ name: 'files/a', content: 'x' }, { name: './files/a', content: 'y' }], path: 'files/a', why: /appears twice/ },
];

let registry: RegistryServer;
let base: string;
let p: TestProject;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-collisions-'));
  p = await createProject(join(base, 'p'), registry.host, { name: 'collide' });
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

describe('colliding paths in a content layer are refused as malformed (issue 12 §18)', () => {
  for (const [i, c] of CASES.entries()) {
    it(`${c.name}: pull and inspect exit 4 naming ${c.path}, nothing is written`, async () => {
      const digest = await pushCrafted(p.registry, `c${i}`, { layer: craftTarGz([MANIFEST, ...c.entries]) });
      const ref = `${p.repository}@${digest}`;
      const out = join(base, `pull-${i}`);
      const pulled = await promote(['pull', ref, '--insecure', '-o', out], { cwd: base });
      assert.equal(pulled.code, 4, pulled.stderr);
      assert.match(pulled.stderr, new RegExp(`"${c.path.replace(/\//g, '\\/')}" that ${c.why.source}`));
      assert.equal(existsSync(out), false);
      const inspected = await promote(['inspect', ref, '--insecure'], { cwd: base });
      assert.equal(inspected.code, 4, `inspect must not list a malformed layer as fine: ${inspected.stdout}`);
      assert.match(inspected.stderr, c.why);
      assert.equal(inspected.stdout, '');
    });
  }

  it('the agent reports Refused (exit 4), not Failed, and applies nothing', async () => {
    const digest = await pushCrafted(p.registry, 'agent', { layer: craftTarGz([MANIFEST, ...CASES[0]!.entries]) });
    await signBundle(p.registry, digest, p.ci, p.repository);
    const engine = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, 'engine-cache') });
    await promoteTo(engine, { stage: 'dev', bundle: digest });
    const target = join(base, 'target');
    const run = await promote(['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', `dir:${target}`, '--once', '--key', p.promoterKeyFile, '--insecure', '--cache-dir', join(base, 'agent-cache'), '--output', 'json'], { cwd: p.dir, env: p.env });
    assert.equal(run.code, 4, run.stderr);
    const status = JSON.parse(run.stdout) as { phase: string; message: string };
    assert.equal(status.phase, 'Refused');
    assert.match(status.message, /"files\/a" that appears twice, as a file and as a directory/);
    assert.equal(existsSync(join(target, 'manifests')), false);
  });
});
