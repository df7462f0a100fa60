import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { build } from '../../../src/artifact/build.ts';
import { renderSource } from '../../../src/artifact/render.ts';
import { renderEnvironment } from '../../../src/bundle/render-environment.ts';
import { isOnDisk } from '../../../src/bundle/render.ts';
import { objectFileName } from '../../../src/bundle/renderers/kustomize-build.ts';
import { tempDir } from '../helpers.ts';
import { FLUX_EXAMPLE, podinfoBundle, PODINFO_ENVIRONMENTS } from './kustomize-bundles.ts';
import { renderTools } from '../../harness/render-tools.ts';

// Issue 15: the flux example's podinfo app (apps/base/podinfo, overlays apps/staging and
// apps/production that patch the HelmRelease values) as ONE kustomize bundle whose
// per-environment values are parameters renders, per environment, exactly the objects
// `kubectl kustomize apps/<env>` renders from the original fixture — from the source directory
// and from the pushed bundle (the agent's path).

const { kubectl } = await renderTools();
process.env.PROMOTE_KUSTOMIZE = kubectl;

const run = promisify(execFile);
const ENVS = Object.keys(PODINFO_ENVIRONMENTS) as (keyof typeof PODINFO_ENVIRONMENTS)[];

/** `kubectl kustomize <dir>` of the original fixture, run by absolute path with no cluster configuration. */
async function kustomizeFixture(env: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(kubectl, ['kustomize', join(FLUX_EXAMPLE, 'apps', env), ...args], { env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', KUBECONFIG: '/nonexistent' } });
  return stdout;
}

const key = (o: unknown) => {
  const { kind, metadata } = o as { kind: string; metadata: { name: string; namespace?: string } };
  return `${kind}/${metadata.namespace ?? ''}/${metadata.name}`;
};
const byKey = (objects: unknown[]) => [...objects].sort((a, b) => (key(a) < key(b) ? -1 : 1));
const parsed = (stream: string) => parseAllDocuments(stream).map((d) => d.toJS()).filter((v) => v !== null);

test('the flux podinfo app as one kustomize bundle renders per environment what kubectl kustomize apps/<env> renders', async (t) => {
  await using tmp = await tempDir();
  const bundleDir = await podinfoBundle(tmp.path);
  const rendered = new Map<string, unknown[]>();
  for (const env of ENVS) {
    const expected = parsed(await kustomizeFixture(env));
    const result = await renderEnvironment({ bundleDir, root: tmp.path, environment: env });
    const objects = result.files.flatMap((f) => (isOnDisk(f) ? [] : (f.documents ?? [])));
    assert.equal(objects.length, 3);
    assert.deepEqual(byKey(objects), byKey(expected), `${env}: the bundle's render differs from kubectl kustomize apps/${env}`);
    assert.equal(result.renderer.kind, 'kustomize');
    assert.equal(result.renderer.binary, kubectl);
    rendered.set(env, objects);
  }
  // The environments do differ (else equality with each overlay would prove little).
  assert.notDeepEqual(byKey(rendered.get('staging')!), byKey(rendered.get('production')!));

  await t.test('one file per object, named as kubectl kustomize -o names them, with the namespace in front', async () => {
    await using out = await tempDir();
    await kustomizeFixture('staging', '-o', out.path);
    const result = await renderEnvironment({ bundleDir, root: tmp.path, environment: 'staging' });
    const theirs = new Map<string, unknown>();
    for (const name of await readdir(out.path)) theirs.set(name, parsed(await readFile(join(out.path, name), 'utf8'))[0]);
    assert.equal(theirs.size, 3);
    for (const f of result.files) {
      assert.ok(!isOnDisk(f) && f.documents?.length === 1, f.path);
      const object = f.documents[0] as { metadata: { namespace?: string } };
      const ns = object.metadata.namespace;
      assert.ok(f.path.startsWith('apps/podinfo/'), f.path);
      const base = f.path.slice('apps/podinfo/'.length);
      const kustomizeName = ns ? base.slice(`${ns}_`.length) : base;
      if (ns) assert.ok(base.startsWith(`${ns}_`), f.path);
      assert.deepEqual(theirs.get(kustomizeName), object, `${f.path}: kubectl kustomize -o names this object ${kustomizeName}`);
    }
  });

  await t.test('the pushed bundle (what the agent renders) renders the same objects', async () => {
    await build(bundleDir, { ociLayout: join(tmp.path, 'layout'), tag: 'v1' });
    for (const env of ENVS) {
      const fromRef = await renderSource({ source: 'oci:layout:v1', environment: env, root: tmp.path, cwd: tmp.path });
      const fromDir = await renderSource({ source: 'bundle', environment: env, root: tmp.path, cwd: tmp.path });
      const body = (stream: string | undefined) => stream!.slice(stream!.indexOf('\n---\n'));
      assert.equal(body(fromRef.stream), body(fromDir.stream), env);
      assert.deepEqual(byKey(parsed(fromRef.stream!)), byKey(rendered.get(env)!), env);
    }
  });
});

test('objectFileName (pure): kustomize -o names, the namespace in front, and nothing that could make a path', () => {
  assert.equal(objectFileName({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'podinfo' } }), 'v1_namespace_podinfo.yaml');
  assert.equal(objectFileName({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'Web', namespace: 'prod' } }), 'prod_apps_v1_deployment_web.yaml');
  assert.equal(objectFileName({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'system:view' } }), 'rbac.authorization.k8s.io_v1_clusterrole_system:view.yaml');
  assert.equal(objectFileName({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: '../../etc/passwd', namespace: 'a/b' } }), 'a_b_v1_configmap_.._.._etc_passwd.yaml');
});
