import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { renderEnvironment } from '../../src/bundle/render-environment.ts';
import { readBundleSources } from '../../src/bundle/sources.ts';

// The migration story: podinfo's deploy/overlays/{dev,staging,production} are three kustomize
// copies of one app that differ in namespace and labels. test/fixtures/podinfo-bundle is the same
// app as ONE bundle plus three environment files. For each environment, the rendered objects
// must carry exactly the namespace and labels the corresponding overlay meant — read from the
// overlay files themselves (upstream/overlays/), not restated here.

const bundleDir = fileURLToPath(new URL('../fixtures/podinfo-bundle/', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

async function overlay(env: string): Promise<{ namespace: string; labels: Record<string, string>; namespaceObject: string }> {
  const dir = `${bundleDir}upstream/overlays/${env}/`;
  const kustomization = parse(await readFile(`${dir}kustomization.yaml`, 'utf8')) as { namespace: string; transformers: string[] };
  assert.deepEqual(kustomization.transformers, ['labels.yaml']);
  const labels = parse(await readFile(`${dir}labels.yaml`, 'utf8')) as { labels: Record<string, string>; fieldSpecs: { path: string; create: boolean }[] };
  assert.deepEqual(labels.fieldSpecs, [{ path: 'metadata/labels', create: true }], 'the overlays label metadata/labels of every object');
  const ns = parse(await readFile(`${dir}namespace.yaml`, 'utf8')) as K8sObject;
  return { namespace: kustomization.namespace, labels: labels.labels, namespaceObject: ns.metadata.name };
}

for (const env of ['dev', 'staging', 'production']) {
  test(`podinfo ${env}: one bundle + environments/${env}.yaml renders what overlays/${env} meant`, async () => {
    const meant = await overlay(env);
    const result = await renderEnvironment({ bundleDir, environment: env, ...(env === 'production' && { cluster: 'prod-eu-1' }) });
    const objects = result.files.flatMap((f) => (f.documents ?? []) as K8sObject[]);
    // Every base resource, the four generated ConfigMaps and the overlay's Namespace.
    assert.equal(objects.length, 25);
    for (const o of objects) {
      const what = `${o.kind}/${o.metadata.name}`;
      assert.deepEqual({ ...o.metadata.labels }, { ...o.metadata.labels, ...meant.labels }, `${what} carries the overlay's labels`);
      if (o.kind === 'Namespace') assert.equal(o.metadata.name, meant.namespaceObject);
      else assert.equal(o.metadata.namespace, meant.namespace, `${what} is in namespace ${meant.namespace}`);
    }
    assert.deepEqual(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name), [meant.namespace]);
  });
}

test('podinfo: only parameters differ between environments; production per cluster', async () => {
  const sources = await readBundleSources(bundleDir);
  const hpa = async (environment: string, cluster?: string) => {
    const r = await renderEnvironment({ bundleDir, sources, environment, ...(cluster && { cluster }) });
    const docs = r.files.flatMap((f) => (f.documents ?? []) as (K8sObject & { spec: { maxReplicas?: number } })[]);
    return Object.fromEntries(docs.filter((d) => d.kind === 'HorizontalPodAutoscaler').map((d) => [d.metadata.name, d.spec.maxReplicas]));
  };
  // Defaults from the schema are the upstream bases' values.
  assert.deepEqual(await hpa('dev'), { backend: 2, frontend: 4, 'database-replica': 3 });
  assert.deepEqual(await hpa('production', 'prod-eu-1'), { backend: 4, frontend: 8, 'database-replica': 3 });
  assert.deepEqual(await hpa('production', 'prod-us-1'), { backend: 4, frontend: 12, 'database-replica': 3 });
});

test('podinfo: the shell scripts in the ConfigMaps reach the cluster byte for byte', async () => {
  const r = await renderEnvironment({ bundleDir, environment: 'staging' });
  for (const path of ['manifests/database/configmap-scripts.yaml', 'manifests/frontend/configmap-scripts.yaml']) {
    const source = await readFile(`${bundleDir}${path}`, 'utf8');
    const rendered = r.files.find((f) => f.path === path)!;
    const scripts = (docs: unknown[]) => (docs as K8sObject[]).map((d) => d.data);
    const before = scripts(parseAllDocuments(source).map((d) => d.toJS()));
    assert.deepEqual(scripts(rendered.documents!), before);
    assert.ok(JSON.stringify(before).includes('${BACKUP_DIR:-/tmp/backup}') || JSON.stringify(before).includes('${FRONTEND_URL}'));
    // Line for line, only lines holding a promote reference changed.
    const a = source.split('\n');
    const b = (rendered.content as string).split('\n');
    assert.equal(a.length, b.length);
    a.forEach((line, i) => {
      if (line !== b[i]) assert.match(line, /\$\{(params|promote)\./, `line ${i + 1} of ${path} changed`);
    });
  }
});

test('podinfo via the CLI: promote render prints the stream, promote diff-env shows only parameters', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: bundleDir, env: { ...process.env, NO_COLOR: '1' } });
  const r = run('render', '.', '--env', 'staging');
  assert.equal(r.status, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject).filter(Boolean);
  assert.equal(docs.length, 25);
  assert.ok(docs.every((d) => d.kind === 'Namespace' || d.metadata.namespace === 'staging'));
  // The stream opens with what was rendered and every parameter, defaults marked.
  assert.match(r.stdout, /^# promote render: bundle webapp for environment staging \(stage staging\)\n# parameters:\n#   namespace: +"staging"\n/);
  assert.match(r.stdout, /\n#   maxReplicas\.backend: +2  \(default\)\n/);
  assert.match(r.stdout, /\n---\n# Source: manifests\/backend\/deployment\.yaml\n/);
  const d = run('diff-env', 'staging', 'production/prod-us-1', '--output', 'json');
  assert.equal(d.status, 0, d.stderr);
  const diff = JSON.parse(d.stdout) as { parameters: { path: string }[]; rendered: string };
  assert.deepEqual(diff.parameters.map((p) => p.path), ['cache.maxMemory', 'maxReplicas.backend', 'maxReplicas.frontend', 'namespace', 'promote.cluster', 'promote.environment', 'promote.stage']);
  const changed = diff.rendered.split('\n').filter((l) => /^[-+][^-+]/.test(l));
  assert.ok(changed.length > 0);
  for (const line of changed) assert.match(line, /namespace: |environment: |maxReplicas: |maxmemory |name: (staging|production)$/, line);
});
