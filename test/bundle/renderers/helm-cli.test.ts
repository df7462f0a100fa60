import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { promote } from '../../cli/run-promote.ts';
import { cleanEnv, tempDir } from '../helpers.ts';
import { bundleYaml, copyPodinfoChart, helmBinary, writeFiles } from './helm-fixtures.ts';

// `promote render` on a helm bundle through the real CLI: a bundle directory, the same bundle
// built into an OCI layout (rendered as the agent renders it), and the failures that must leave
// nothing written.

const helm = await helmBinary();
const env = (extra: Record<string, string> = {}) => cleanEnv({ NO_COLOR: '1', PROMOTE_HELM: helm, ...extra });

async function podinfo(dir: string): Promise<void> {
  await copyPodinfoChart(join(dir, 'chart'));
  await writeFiles(dir, {
    'bundle.yaml': bundleYaml('podinfo', '{chart: chart, namespace: "${promote.environment}"}'),
    'params.schema.json': '{"type": "object"}',
    'environments/staging.yaml': 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: staging}\nspec:\n  parameters:\n    replicaCount: 3\n    redis: {enabled: true}\n',
  });
}

type Doc = { kind: string; metadata: { name: string; namespace?: string }; spec?: { replicas?: number } };
const docs = (stream: string) => parseAllDocuments(stream).map((d) => d.toJS() as Doc).filter((d) => d !== null);

test('promote render <helm bundle> --env: the chart rendered with the environment\'s parameters, each document under its template\'s bundle path; the same from the built bundle in an OCI layout', async () => {
  await using tmp = await tempDir();
  const bundle = join(tmp.path, 'podinfo');
  await podinfo(bundle);
  const r = await promote(['render', bundle, '--env', 'staging'], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  const objects = docs(r.stdout);
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), ['ConfigMap/podinfo-redis', 'Deployment/podinfo', 'Deployment/podinfo-redis', 'Service/podinfo', 'Service/podinfo-redis']);
  assert.deepEqual([...new Set(objects.map((o) => o.metadata.namespace))].sort(), ['staging', undefined], 'the release namespace where a template sets one (not the redis templates of podinfo)');
  assert.equal(objects.find((o) => o.metadata.name === 'podinfo' && o.kind === 'Deployment')!.spec!.replicas, 3);
  assert.match(r.stdout, /^# Source: chart\/templates\/redis\/deployment\.yaml$/m);
  assert.doesNotMatch(r.stdout, /helm\.sh\/hook/, 'no test pods');

  // Built and stored, then rendered from the artefact: the same documents.
  const layout = join(tmp.path, 'layout');
  const built = await promote(['build', bundle, '--oci-layout', layout, '--tag', '1.0.0'], { env: env() });
  assert.equal(built.code, 0, built.stderr);
  const pulled = await promote(['render', `oci:${layout}:1.0.0`, '--env', 'staging', '--root', bundle], { env: env() });
  assert.equal(pulled.code, 0, pulled.stderr);
  const body = (s: string) => s.slice(s.indexOf('\n---\n'));
  assert.equal(body(pulled.stdout), body(r.stdout));

  const out = join(tmp.path, 'out');
  const written = await promote(['render', bundle, '--env', 'staging', '-o', out], { env: env() });
  assert.equal(written.code, 0, written.stderr);
  assert.deepEqual((await readdir(join(out, 'chart/templates/redis'))).sort(), ['config.yaml', 'deployment.yaml', 'service.yaml']);
  assert.equal(docs(await readFile(join(out, 'chart/templates/deployment.yaml'), 'utf8'))[0]!.kind, 'Deployment');
});

test('promote render of a helm bundle that times out or cannot find helm exits 1 naming why, and writes nothing', async () => {
  await using tmp = await tempDir();
  const bundle = join(tmp.path, 'slow');
  await writeFiles(bundle, {
    'bundle.yaml': bundleYaml('slow', '{chart: chart}'),
    'params.schema.json': '{"type": "object"}',
    'environments/dev.yaml': 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec: {parameters: {}}\n',
    'chart/Chart.yaml': 'apiVersion: v2\nname: slow\nversion: 1.0.0\n',
    'chart/templates/loop.yaml': '{{- range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}\n',
  });
  const out = join(tmp.path, 'out');
  const slow = await promote(['render', bundle, '--env', 'dev', '-o', out], { env: env({ PROMOTE_RENDER_TIMEOUT: '1' }), killAfterMs: 30_000 });
  assert.equal(slow.code, 1, slow.stderr);
  assert.match(slow.stderr, /helm template for bundle .* did not finish within 1 s/);
  assert.match(slow.stderr, /PROMOTE_RENDER_TIMEOUT/);
  assert.ok(!existsSync(out), 'nothing written');

  const missing = await promote(['render', bundle, '--env', 'dev', '-o', out, '--output', 'json'], { env: cleanEnv({ NO_COLOR: '1', PROMOTE_HELM: join(tmp.path, 'nowhere/helm'), PATH: '' }) });
  assert.equal(missing.code, 1);
  const error = (JSON.parse(missing.stdout || missing.stderr) as { error: { code: string; message: string; hint: string } }).error;
  assert.equal(error.code, 'RENDERER_MISSING');
  assert.match(error.message, /the bundle's renderer is helm \(bundle\.yaml spec\.helm\), but PROMOTE_HELM=.*nowhere\/helm is not an executable file/);
  assert.match(error.hint, /install helm 3/);
  assert.ok(!existsSync(out), 'nothing written');
});
