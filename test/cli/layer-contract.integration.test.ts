// A CI-signed bundle whose content layer says one thing (bundle.yaml: manifests/) and whose config
// blob another (manifests: hidden/): before, `render` showed manifests/* while the agent applied
// hidden/takeover.yaml into kube-system. Crafted for real (two honest builds, the manifest spliced,
// signed with the CI key), pushed to the real registry, and read by the real CLI: pull, render and
// the agent all refuse it (exit 4, naming both values) and nothing lands anywhere.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { OCI_MANIFEST } from '../../src/oci/media-types.ts';
import { pushBundle } from '../../src/artifact/push.ts';
import type { ImageManifest } from '../../src/oci/registry.ts';
import { signBundle } from '../../src/signing/cosign-signature.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, FIXTURE } from '../promotion/project.ts';
import { promote } from './run-promote.ts';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-layer-contract-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const TAKEOVER = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: takeover, namespace: kube-system}\ndata: {owned: "yes"}\n';

test('a signed bundle whose layer names manifests/ and whose config names hidden/ is refused by pull, render and the agent (exit 4, both values named)', async () => {
  const p = await createProject(join(base, 'p'), registry.host, { name: 'two-faced' });
  const source = async (name: string, manifests: string) => {
    const dir = join(base, name);
    await cp(FIXTURE, dir, { recursive: true });
    await mkdir(join(dir, 'hidden'));
    await writeFile(join(dir, 'hidden', 'takeover.yaml'), TAKEOVER);
    if (manifests !== 'manifests/') {
      const { readFile } = await import('node:fs/promises');
      await writeFile(join(dir, 'bundle.yaml'), (await readFile(join(dir, 'bundle.yaml'), 'utf8')).replace('manifests: manifests/', `manifests: ${manifests}`));
    }
    const pushed = await pushBundle(dir, `${p.repository}:${name}`, { insecure: true, env: { ...p.env, SOURCE_DATE_EPOCH: '1700000000' } });
    return JSON.parse((await p.registry.fetchManifest(pushed.reference.slice(pushed.reference.indexOf('@') + 1))).bytes.toString('utf8')) as ImageManifest;
  };
  const honest = await source('layer', 'manifests/');
  const decoy = await source('config', 'hidden/');
  // The layer of the first build under the config of the second: both blobs are in the repository.
  const crafted = await p.registry.pushManifest(Buffer.from(JSON.stringify({ ...honest, config: decoy.config })), OCI_MANIFEST, 'crafted');
  await signBundle(p.registry, crafted.digest, p.ci, p.repository);
  const ref = `${p.repository}@${crafted.digest}`;
  const cli = (args: string[], insecure = true) => promote([...args, ...(insecure ? ['--insecure'] : [])], { cwd: p.dir, env: { ...p.env, NO_COLOR: '1' } });

  const out = join(base, 'pulled');
  const pulled = await cli(['pull', ref, '-o', out]);
  assert.equal(pulled.code, 4, pulled.stdout + pulled.stderr);
  assert.match(pulled.stderr, /bundle\.yaml says spec\.manifests "manifests\/", its config blob says "hidden\/"/);
  assert.deepEqual(await readdir(base).then((d) => d.filter((n) => n.startsWith('pulled'))), [], 'nothing extracted, no temp dir left');

  // render takes no registry options yet: it reads a copy in an OCI layout (same digest).
  const layout = `oci:${join(base, 'layout')}`;
  const copied = await cli(['copy', ref, `${layout}:crafted`]);
  assert.equal(copied.code, 0, copied.stderr);
  const rendered = await cli(['render', `${layout}@${crafted.digest}`, '--env', 'dev'], false);
  assert.equal(rendered.code, 4, rendered.stdout + rendered.stderr);
  assert.match(rendered.stderr, /spec\.manifests "manifests\/".*"hidden\/"/);
  assert.doesNotMatch(rendered.stdout, /kind:/, 'nothing rendered');

  // Promotion reads only the config (signature and schema check out), so it goes through; the
  // agent is the one that must not apply it.
  const promoted = await cli(['to', 'dev', '--bundle', crafted.digest, '--key', p.promoterKeyFile]);
  assert.equal(promoted.code, 0, promoted.stderr);
  const target = join(base, 'cluster-dev-1');
  const agent = await cli(['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', `dir:${target}`, '--once', '--key', p.promoterKeyFile]);
  assert.match(agent.stderr, /BUNDLE_LAYER_MISMATCH|contradicts itself/, agent.stderr);
  const applied = await readdir(target, { recursive: true }).catch(() => [] as string[]);
  assert.ok(!applied.some((f) => String(f).includes('takeover')), `nothing from hidden/ applied: ${applied.join(', ')}`);
  assert.ok(!applied.some((f) => String(f).includes('deployment')), 'nor anything else');
});
