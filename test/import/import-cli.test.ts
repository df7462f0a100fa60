import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { cleanEnv, tempDir } from '../bundle/helpers.ts';
import { promote } from '../cli/run-promote.ts';
import { renderTools, renderToolsEnv } from '../harness/render-tools.ts';
import { configMap } from './helpers.ts';

// `promote import` through the real CLI, on the real fixtures: the podinfo overlays and the flux
// example's apps overlays built by kubectl kustomize 1.31 (test/harness/render-tools.ts; run only
// as `kubectl kustomize`), then the generated project checked with `promote validate` and
// `promote render`.

const exec = promisify(execFile);
const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const OVERLAYS = join(FIXTURES, 'podinfo-overlays', 'overlays');
const FLUX = join(FIXTURES, 'flux2-kustomize-helm-example', 'apps');

async function env(): Promise<NodeJS.ProcessEnv> {
  return cleanEnv({ NO_COLOR: '1', ...renderToolsEnv(await renderTools()) });
}

function objectsOf(yaml: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const d of parseAllDocuments(yaml)) {
    const v = d.toJS() as { kind: string; metadata: { name: string; namespace?: string } } | null;
    if (v) out.set(`${v.kind}/${v.metadata.namespace ?? ''}/${v.metadata.name}`, v);
  }
  return out;
}

test('promote import of the podinfo overlays writes a project that validates and whose render reproduces each overlay; exit 0 with the proof table', async () => {
  await using tmp = await tempDir();
  const e = await env();
  const result = await promote(['import', join(OVERLAYS, 'dev'), join(OVERLAYS, 'staging'), join(OVERLAYS, 'production'), '--out', 'webapp', '--output', 'json'], { cwd: tmp.path, env: e });
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { name: string; equivalent: boolean; proof: { environment: string; equal: number }[]; parameters: { name: string }[] };
  assert.equal(report.equivalent, true);
  assert.equal(report.name, 'webapp');
  assert.deepEqual(report.proof.map((p) => [p.environment, p.equal]), [['dev', 25], ['staging', 25], ['production', 25]]);
  assert.deepEqual(report.parameters.map((p) => p.name), ['labels.environment', 'namespace']);
  const project = join(tmp.path, 'webapp');
  const validate = await promote(['validate'], { cwd: project, env: e });
  assert.equal(validate.code, 0, validate.stdout + validate.stderr);
  const kustomize = renderToolsEnv(await renderTools()).PROMOTE_KUSTOMIZE;
  for (const stage of ['dev', 'production']) {
    const rendered = await promote(['render', 'bundles/webapp', '--env', stage], { cwd: project, env: e });
    assert.equal(rendered.code, 0, rendered.stderr);
    const { stdout: original } = await exec(kustomize, ['kustomize', join(OVERLAYS, stage)], { maxBuffer: 16 * 1024 * 1024 });
    assert.deepEqual(objectsOf(rendered.stdout), objectsOf(original), `promote render --env ${stage} is what the overlay renders`);
  }
  const text = await promote(['import', join(OVERLAYS, 'dev'), join(OVERLAYS, 'production'), '--out', 'again'], { cwd: tmp.path, env: e });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /\n {2}environment +equal +different +missing +extra\n {2}dev +25 +0 +0 +0\n {2}production +25 +0 +0 +0\n/);
  assert.match(text.stdout, /equivalent: every environment renders what its source did/);
});

test('promote import of the flux example\'s staging and production overlays: the HelmRelease\'s patched chart version, test key and spec.values become parameters, proven equivalent, validated and rendered back; clusters as given', async () => {
  await using tmp = await tempDir();
  const e = await env();
  const result = await promote(['import', join(FLUX, 'staging'), join(FLUX, 'production'), '--out', 'podinfo', '--clusters', 'production=prod-eu-1,production=prod-us-1', '--output', 'json'], { cwd: tmp.path, env: e });
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { equivalent: boolean; proof: { environment: string; equal: number }[]; parameters: { name: string; nullable: boolean; used: { object: string; pointer: string }[] }[] };
  assert.equal(report.equivalent, true);
  assert.deepEqual(report.proof.map((p) => [p.environment, p.equal]), [['staging', 3], ['production', 3]]);
  // The overlays patch the HelmRelease: its chart version, a test key only staging has, and
  // spec.values — the chart values per environment — become parameters, at their pointers.
  assert.deepEqual(report.parameters.map((p) => [p.name, p.nullable, p.used]), [
    ['podinfo.helmrelease.chart.version', false, [{ object: 'HelmRelease.helm.toolkit.fluxcd.io podinfo/podinfo', pointer: '/spec/chart/spec/version' }]],
    ['podinfo.helmrelease.test', true, [{ object: 'HelmRelease.helm.toolkit.fluxcd.io podinfo/podinfo', pointer: '/spec/test' }]],
    ['podinfo.helmrelease.values.httpRoute.hostnames._0', false, [{ object: 'HelmRelease.helm.toolkit.fluxcd.io podinfo/podinfo', pointer: '/spec/values/httpRoute/hostnames/0' }]],
  ]);
  const prod = await readFile(join(tmp.path, 'podinfo', 'environments', 'production.yaml'), 'utf8');
  assert.match(prod, /clusters:\n {4}- name: prod-eu-1\n {4}- name: prod-us-1\n/);
  assert.match(prod, /values:\n {10}httpRoute:\n {12}hostnames:\n {14}_0: podinfo\.production\n/);
  const project = join(tmp.path, 'podinfo');
  const validate = await promote(['validate'], { cwd: project, env: e });
  assert.equal(validate.code, 0, validate.stdout + validate.stderr);
  const kustomize = renderToolsEnv(await renderTools()).PROMOTE_KUSTOMIZE;
  for (const stage of ['staging', 'production']) {
    const rendered = await promote(['render', 'bundles/podinfo', '--env', stage], { cwd: project, env: e });
    assert.equal(rendered.code, 0, rendered.stderr);
    const { stdout: original } = await exec(kustomize, ['kustomize', join(FLUX, stage)], { maxBuffer: 16 * 1024 * 1024 });
    assert.deepEqual(objectsOf(rendered.stdout), objectsOf(original), `promote render --env ${stage} is what the overlay renders`);
  }
});

test('promote import exits 1 when a difference cannot be expressed, naming object, pointer and reason in text and JSON, with the project written', async () => {
  await using tmp = await tempDir();
  for (const [name, immutable] of [['dev', null], ['prod', true]] as const) {
    await mkdir(join(tmp.path, name));
    await writeFile(join(tmp.path, name, 'all.yaml'), stringify({ ...configMap('settings', { a: '1' }), immutable }));
  }
  const result = await promote(['import', 'dev', 'prod', '--out', 'out'], { cwd: tmp.path, env: await env() });
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /not expressible as parameters[^\n]*\n {2}ConfigMap web\/settings \/immutable: null in some environments and not in others, at the top of the object/);
  assert.match(result.stdout, /prod: ConfigMap web\/settings \/immutable: changed/);
  assert.match(result.stdout, /NOT equivalent/);
  assert.ok((await readdir(join(tmp.path, 'out'))).includes('bundles'));
  const json = await promote(['import', 'dev', 'prod', '--out', 'again', '--output', 'json'], { cwd: tmp.path, env: await env() });
  assert.equal(json.code, 1, json.stderr);
  const report = JSON.parse(json.stdout) as { equivalent: boolean; inexpressible: unknown[]; proof: { environment: string; equivalent: boolean; differences: unknown[] }[] };
  assert.equal(report.equivalent, false);
  assert.deepEqual(report.inexpressible, [{ object: 'ConfigMap web/settings', pointer: '/immutable', reason: 'null in some environments and not in others, at the top of the object (a null parameter would drop the key, not keep it as null)' }]);
  assert.deepEqual(report.proof.map((p) => [p.environment, p.equivalent, p.differences]), [['dev', true, []], ['prod', false, [{ object: 'ConfigMap web/settings', pointer: '/immutable', change: 'changed' }]]]);
});

/** Overlays over one base whose configMapGenerator content differs, so kustomize names the ConfigMap with a different hash in each. */
async function hashedOverlays(dir: string): Promise<void> {
  await mkdir(join(dir, 'base'));
  await writeFile(join(dir, 'base', 'kustomization.yaml'), 'resources: [deployment.yaml]\n');
  await writeFile(
    join(dir, 'base', 'deployment.yaml'),
    stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'nginx:1.27', envFrom: [{ configMapRef: { name: 'web-settings' } }] }], volumes: [{ name: 'settings', configMap: { name: 'web-settings' } }] },
        },
      },
    }),
  );
  for (const [env, level] of [['dev', 'debug'], ['prod', 'info']] as const) {
    await mkdir(join(dir, env));
    await writeFile(join(dir, env, 'kustomization.yaml'), `namespace: ${env}\nresources: [../base]\nconfigMapGenerator:\n  - name: web-settings\n    literals: [LOG_LEVEL=${level}]\n`);
  }
}

test('promote import of overlays whose configMapGenerator differs: the hash-suffixed names become one parameter with every reference to it, reported exactly, and proven equivalent', async () => {
  await using tmp = await tempDir();
  const e = await env();
  await hashedOverlays(tmp.path);
  const kustomize = renderToolsEnv(await renderTools()).PROMOTE_KUSTOMIZE;
  const built: Record<string, Map<string, unknown>> = {};
  for (const stage of ['dev', 'prod']) built[stage] = objectsOf((await exec(kustomize, ['kustomize', join(tmp.path, stage)])).stdout);
  const nameOf = (stage: string) => [...built[stage]!.keys()].find((k) => k.startsWith('ConfigMap/'))!.split('/')[2]!;
  const [dev, prod] = [nameOf('dev'), nameOf('prod')];
  assert.match(dev, /^web-settings-[a-z0-9]{10}$/);
  assert.notEqual(dev, prod, 'the content differs, so kustomize\'s hash does');

  const result = await promote(['import', 'dev', 'prod', '--out', 'out', '--output', 'json'], { cwd: tmp.path, env: e });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const report = JSON.parse(result.stdout) as { equivalent: boolean; parameters: { name: string; used: { object: string; pointer: string }[] }[]; warnings: unknown[]; inexpressible: unknown[]; proof: { environment: string; equal: number; different: number }[] };
  assert.equal(report.equivalent, true);
  assert.deepEqual(report.inexpressible, []);
  const cm = `ConfigMap dev/${dev}`;
  assert.deepEqual(report.parameters.map((p) => [p.name, p.used]), [
    ['web-settings.configmap.data.LOG_LEVEL', [{ object: cm, pointer: '/data/LOG_LEVEL' }]],
    ['web-settings.configmap.name', [{ object: cm, pointer: '/metadata/name' }, { object: 'Deployment.apps dev/web', pointer: '/spec/template/spec/containers/0/envFrom/0/configMapRef/name' }, { object: 'Deployment.apps dev/web', pointer: '/spec/template/spec/volumes/0/configMap/name' }]],
    ['namespace', [{ object: cm, pointer: '/metadata/namespace' }, { object: 'Deployment.apps dev/web', pointer: '/metadata/namespace' }]],
  ]);
  assert.deepEqual(report.warnings, [
    {
      object: cm,
      pointer: '/metadata/name',
      environments: ['dev', 'prod'],
      message: `its name ends in kustomize's content hash, which differs between environments (${dev}, ${prod}): the name is parameter web-settings.configmap.name now (also in the 2 places that refer to it) and no longer follows the content, so a change of content no longer rolls out what uses it: give it a new name in the environment when you change the content, or drop the hash (generatorOptions.disableNameSuffixHash)`,
    },
  ]);
  assert.deepEqual(report.proof.map((p) => [p.environment, p.equal, p.different]), [['dev', 2, 0], ['prod', 2, 0]]);
  const project = join(tmp.path, 'out');
  assert.match(await readFile(join(project, 'environments', 'prod.yaml'), 'utf8'), new RegExp(`\n {8}name: ${prod}\n`));
  for (const stage of ['dev', 'prod']) {
    const rendered = await promote(['render', 'bundles/out', '--env', stage], { cwd: project, env: e });
    assert.equal(rendered.code, 0, rendered.stderr);
    assert.deepEqual(objectsOf(rendered.stdout), built[stage], `promote render --env ${stage} is what the overlay renders, hash-suffixed names included`);
  }
  const text = await promote(['import', 'dev', 'prod', '--out', 'again'], { cwd: tmp.path, env: e });
  assert.equal(text.code, 0, text.stderr);
  assert.ok(text.stdout.includes(`\nwarnings:\n  ${cm} /metadata/name: its name ends in kustomize's content hash`), text.stdout);
});

test('promote import refuses bad input with nothing written: an overlay that does not build, two sources of one environment, a non-empty --out, no --out, an --out under a regular file', async () => {
  await using tmp = await tempDir();
  const e = await env();
  await mkdir(join(tmp.path, 'broken'));
  await writeFile(join(tmp.path, 'broken', 'kustomization.yaml'), 'resources: [missing.yaml]\n');
  const broken = await promote(['import', 'dev=broken', join(OVERLAYS, 'production'), '--out', 'out'], { cwd: tmp.path, env: e });
  assert.equal(broken.code, 4, broken.stderr);
  assert.match(broken.stderr, /environment "dev" \(broken\): kustomize build of the source broken failed/);
  assert.match(broken.stderr, /missing\.yaml/);
  const twice = await promote(['import', join(OVERLAYS, 'dev'), `dev=${join(OVERLAYS, 'staging')}`, '--out', 'out'], { cwd: tmp.path, env: e });
  assert.equal(twice.code, 2, twice.stderr);
  assert.match(twice.stderr, /both environment "dev"/);
  await mkdir(join(tmp.path, 'full'));
  await writeFile(join(tmp.path, 'full', 'mine.txt'), 'keep');
  const full = await promote(['import', join(OVERLAYS, 'dev'), '--out', 'full'], { cwd: tmp.path, env: e });
  assert.equal(full.code, 2, full.stderr);
  assert.match(full.stderr, /already exists and is not empty/);
  assert.deepEqual(await readdir(join(tmp.path, 'full')), ['mine.txt']);
  const noOut = await promote(['import', join(OVERLAYS, 'dev')], { cwd: tmp.path, env: e });
  assert.equal(noOut.code, 2, noOut.stderr);
  // Under a regular file: no directory can be made there, whoever runs the test (root included).
  await writeFile(join(tmp.path, 'plain'), 'a file');
  const unwritable = await promote(['import', join(OVERLAYS, 'dev'), '--out', 'plain/project'], { cwd: tmp.path, env: e });
  assert.equal(unwritable.code, 1, unwritable.stderr);
  const plain = join(tmp.path, 'plain');
  assert.ok(unwritable.stderr.includes(`error: cannot write the imported project to ${plain}/project: ${plain} is a file\n`), unwritable.stderr);
  assert.ok(unwritable.stderr.includes(`hint: ${plain} is a file, not a directory: choose an --out outside it; nothing was written`), unwritable.stderr);
  assert.equal(await readFile(join(tmp.path, 'plain'), 'utf8'), 'a file');
  assert.deepEqual((await readdir(tmp.path)).sort(), ['broken', 'full', 'plain'], 'no --out and no temporary directory was left');
});
