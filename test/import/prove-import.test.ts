import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { validateProject } from '../../src/artifact/validate.ts';
import type { ImportEnvironment } from '../../src/import/import-input.ts';
import { planImport } from '../../src/import/plan-import.ts';
import { proveImport } from '../../src/import/prove-import.ts';
import { writeImportPlan } from '../../src/import/write-plan.ts';
import { tempDir } from '../bundle/helpers.ts';
import { renderTools } from '../harness/render-tools.ts';
import { configMap, container, deployment, environments } from './helpers.ts';

// The whole import on disk: plan, write, then the proof — the written project rendered for each
// environment by renderEnvironment (what `promote render` and the agent use) and compared object
// by object with what the copy rendered.

type Json = Record<string, unknown>;

const run = promisify(execFile);
const PODINFO = join(import.meta.dirname, '..', 'fixtures', 'podinfo-overlays');

/** Each overlay as `kubectl kustomize` (1.31, from the test harness; never against a cluster) renders it. */
async function podinfoOverlays(): Promise<ImportEnvironment[]> {
  const { kubectl } = await renderTools();
  return Promise.all(
    ['dev', 'staging', 'production'].map(async (name) => {
      const source = `overlays/${name}`;
      const { stdout } = await run(kubectl, ['kustomize', join(PODINFO, source)], { maxBuffer: 16 * 1024 * 1024 });
      return { name, objects: parseAllDocuments(stdout).map((d) => ({ source, value: d.toJS() as Json })) };
    }),
  );
}

test('the podinfo overlays (dev, staging, production, rendered by the real kubectl kustomize) import into one bundle that validates and is proven equivalent in every environment', async () => {
  await using tmp = await tempDir();
  const input = await podinfoOverlays();
  const plan = planImport(input, { name: 'webapp' });
  assert.deepEqual(plan.parameters.map((p) => [p.name, p.used.length]), [['labels.environment', 25], ['namespace', 25]]);
  assert.deepEqual([plan.warnings, plan.inexpressible, plan.withheld], [[], [], []]);
  const out = join(tmp.path, 'webapp');
  await writeImportPlan(plan, out);
  const proof = await proveImport(out, plan, input);
  assert.deepEqual(proof.environments.map((e) => [e.environment, e.equal, e.different, e.missing, e.extra]), [['dev', 25, 0, 0, 0], ['staging', 25, 0, 0, 0], ['production', 25, 0, 0, 0]]);
  assert.equal(proof.equivalent, true);
  const report = await validateProject({ root: out });
  assert.deepEqual(report.environments.map((e) => [e.name, e.parametersChecked]), [['dev', true], ['production', true], ['staging', true]]);
  assert.equal(report.bundle?.name, 'webapp');
});

test('a project changed after the import fails the proof, naming the environment, object and JSON pointer', async () => {
  await using tmp = await tempDir();
  const input = environments(['dev', [deployment('api'), configMap('settings', { mode: 'a' })]], ['prod', [deployment('api', { replicas: 3 }), configMap('settings', { mode: 'b' })]]);
  const plan = planImport(input, { name: 'api' });
  const out = join(tmp.path, 'api');
  await writeImportPlan(plan, out);
  assert.equal((await proveImport(out, plan, input)).equivalent, true);
  const envFile = join(out, 'environments', 'prod.yaml');
  await writeFile(envFile, (await readFile(envFile, 'utf8')).replace('replicas: 3', 'replicas: 4'));
  const manifest = join(out, plan.bundleDir, 'manifests', 'configmap-settings.yaml');
  await writeFile(manifest, `${await readFile(manifest, 'utf8')}  extra: "1"\n`);
  const proof = await proveImport(out, plan, input);
  assert.equal(proof.equivalent, false);
  const prod = proof.environments.find((e) => e.environment === 'prod')!;
  assert.deepEqual([prod.equal, prod.different], [0, 2]);
  assert.deepEqual(prod.differences, [
    { object: 'Deployment.apps web/api', pointer: '/spec/replicas', change: 'changed' },
    { object: 'ConfigMap web/settings', pointer: '/data/extra', change: 'extra' },
  ]);
  assert.deepEqual(proof.environments.find((e) => e.environment === 'dev')!.differences, [{ object: 'ConfigMap web/settings', pointer: '/data/extra', change: 'extra' }]);
});

test('every kind of difference at once — values, lists, keys some environments lack, objects some lack, secrets, a shared namespace — is proven equivalent', async () => {
  await using tmp = await tempDir();
  const make = (env: string, replicas: number) => {
    const d = deployment('api', { replicas }, { namespace: env, labels: { 'app.kubernetes.io/environment': env } });
    Object.assign(container(d), { image: `api:${env === 'dev' ? '2.0' : '1.9'}`, env: [{ name: 'API_TOKEN', value: `tok-${env}` }, { name: 'UPSTREAM', value: `http://db.${env}.svc:5432` }] });
    if (env === 'production') container(d).resources = { limits: { memory: '1Gi' } };
    const objects: Json[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: env, labels: { 'app.kubernetes.io/environment': env } } }, d, configMap('api-config', { level: env === 'dev' ? 'debug' : 'info' }, env)];
    if (env !== 'production') objects.push(configMap('debug-tools', { enabled: 'yes' }, env));
    if (env === 'production') objects.push({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'api', namespace: env }, spec: { minAvailable: 1 } });
    objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: env }, stringData: { password: `pw-${env}` } });
    return objects;
  };
  const input = environments(['dev', make('dev', 1)], ['staging', make('staging', 2)], ['production', make('production', 3)]);
  const plan = planImport(input, { name: 'api' });
  assert.deepEqual(plan.inexpressible, []);
  const out = join(tmp.path, 'api');
  await writeImportPlan(plan, out);
  const all = plan.files.map((f) => f.content).join('\n');
  for (const env of ['dev', 'staging', 'production']) assert.ok(!all.includes(`tok-${env}`) && !all.includes(`pw-${env}`), 'no secret value is written');
  const proof = await proveImport(out, plan, input);
  assert.deepEqual(proof.environments.map((e) => [e.environment, e.equal, e.different, e.missing, e.extra, e.withheld.length]), [
    ['dev', 4, 0, 0, 0, 2],
    ['staging', 4, 0, 0, 0, 2],
    ['production', 4, 0, 0, 0, 2],
  ], JSON.stringify(proof.environments.map((e) => e.differences.concat(e.extraObjects as never))));
  assert.equal(proof.equivalent, true);
  await validateProject({ root: out });
});
