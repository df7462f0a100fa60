// `promote init --helm` / `--kustomize` through the real CLI: the scaffold is a chart / a
// kustomization taking the same parameters as the plain one, passes `promote validate` and
// `promote build` as generated (neither needs the renderer's binary), and renders each
// environment with the real binary (test/harness/render-tools.ts).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { cleanEnv } from '../bundle/helpers.ts';
import { promote } from '../cli/run-promote.ts';
import { renderTools, renderToolsEnv } from '../harness/render-tools.ts';

let base: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'promote-init-renderers-'));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

const env = () => cleanEnv({ PROMOTE_PASSWORD: '', NO_COLOR: '1', SOURCE_DATE_EPOCH: '1700000000' });

async function init(dir: string, ...flags: string[]) {
  const r = await promote(['init', dir, '--name', 'webapp', ...flags, '--output', 'json'], { cwd: base, env: env() });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { files: string[]; renderer: string };
}

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: { replicas?: number; template?: { spec: { containers: { args: string[]; env: { name: string; value: string }[] }[] } } };
}

/** `promote render` of the scaffold for one environment (and cluster), with the real binaries. */
async function rendered(project: string, ...where: string[]): Promise<K8sObject[]> {
  const r = await promote(['render', 'bundles/webapp', ...where], { cwd: project, env: { ...env(), ...renderToolsEnv(await renderTools()) } });
  assert.equal(r.code, 0, r.stderr);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject).filter(Boolean);
}

/** What the plain scaffold renders too: the namespace, a Deployment with the replicas and log level of the environment, a Service. */
function assertScaffoldObjects(objects: K8sObject[], namespace: string, replicas: number, level: string, stage: string): void {
  assert.deepEqual(objects.map((o) => o.kind).sort(), ['Deployment', 'Namespace', 'Service']);
  const deployment = objects.find((o) => o.kind === 'Deployment')!;
  assert.equal(deployment.metadata.namespace, namespace);
  assert.equal(deployment.spec?.replicas, replicas);
  const container = deployment.spec!.template!.spec.containers[0]!;
  assert.ok(container.args.includes(`--level=${level}`), container.args.join(' '));
  assert.equal(container.env.find((e) => e.name === 'PODINFO_UI_MESSAGE')?.value, `hello from ${stage}`);
  assert.equal(deployment.metadata.labels?.['app.kubernetes.io/environment'], stage);
  assert.equal(objects.find((o) => o.kind === 'Namespace')?.metadata.name, namespace);
}

async function validates(project: string): Promise<void> {
  const r = await promote(['validate', '--output', 'json'], { cwd: project, env: env() });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as { bundle?: { name: string; schema: string }; environments: { name: string; parametersChecked: boolean }[] };
  assert.equal(report.bundle?.name, 'webapp');
  assert.deepEqual(report.environments.map((e) => [e.name, e.parametersChecked]), [['dev', true], ['production', true], ['staging', true]]);
  const built = await promote(['build', 'bundles/webapp', '--output', 'json'], { cwd: project, env: env() });
  assert.equal(built.code, 0, built.stdout + built.stderr);
}

describe('promote init --helm / --kustomize (real CLI)', () => {
  it('--helm writes a chart (spec.helm: {chart: chart}) whose values.schema.json is the parameter schema and whose templates read .Values and .Values.global.promote; it validates, builds and renders each environment with helm', async () => {
    const made = await init('helm', '--helm');
    assert.equal(made.renderer, 'helm');
    const project = join(base, 'helm');
    const bundle = join(project, 'bundles', 'webapp');
    assert.deepEqual((await readdir(join(bundle, 'chart'), { recursive: true })).sort(), ['Chart.yaml', 'templates', 'templates/deployment.yaml', 'templates/namespace.yaml', 'templates/service.yaml', 'values.schema.json', 'values.yaml']);
    const spec = parse(await readFile(join(bundle, 'bundle.yaml'), 'utf8')).spec;
    assert.deepEqual(spec, { helm: { chart: 'chart', releaseName: 'webapp', namespace: '${params.namespace}' } });
    const deployment = await readFile(join(bundle, 'chart', 'templates', 'deployment.yaml'), 'utf8');
    assert.match(deployment, /replicas: \{\{ \.Values\.replicas \}\}/);
    assert.match(deployment, /\{\{ \.Values\.global\.promote\.stage \}\}/);
    const schema = JSON.parse(await readFile(join(bundle, 'chart', 'values.schema.json'), 'utf8'));
    assert.deepEqual(Object.keys(schema.properties), ['namespace', 'replicas', 'logLevel']);
    assert.ok(!made.files.some((f) => f.includes('manifests/')), 'no plain manifests beside the chart');
    await validates(project);
    const r = await promote(['validate', '--output', 'json'], { cwd: project, env: env() });
    assert.match(JSON.parse(r.stdout).bundle.schema, /chart\/values\.schema\.json$/, "the chart's schema checks the environments");
    assertScaffoldObjects(await rendered(project, '--env', 'dev'), 'webapp-dev', 1, 'debug', 'dev');
    assertScaffoldObjects(await rendered(project, '--env', 'production', '--cluster', 'prod-2'), 'webapp', 5, 'warn', 'production');
  });

  it('--kustomize writes a kustomization (spec.kustomize: {path: app}) over a base with a patch taking ${params.replicas}; it validates, builds and renders each environment with kubectl kustomize', async () => {
    const made = await init('kustomize', '--kustomize');
    assert.equal(made.renderer, 'kustomize');
    const project = join(base, 'kustomize');
    const bundle = join(project, 'bundles', 'webapp');
    const spec = parse(await readFile(join(bundle, 'bundle.yaml'), 'utf8')).spec;
    assert.deepEqual(spec, { parameters: 'params.schema.json', kustomize: { path: 'app' } });
    const kustomization = parse(await readFile(join(bundle, 'app', 'kustomization.yaml'), 'utf8'));
    assert.deepEqual(kustomization.resources, ['namespace.yaml', '../base']);
    assert.deepEqual(kustomization.patches, [{ path: 'replicas.yaml' }]);
    assert.match(await readFile(join(bundle, 'app', 'replicas.yaml'), 'utf8'), /replicas: \$\{params\.replicas\}/);
    assert.deepEqual(parse(await readFile(join(bundle, 'base', 'kustomization.yaml'), 'utf8')).resources, ['deployment.yaml', 'service.yaml']);
    await validates(project);
    assertScaffoldObjects(await rendered(project, '--env', 'dev'), 'webapp-dev', 1, 'debug', 'dev');
    assertScaffoldObjects(await rendered(project, '--env', 'production', '--cluster', 'prod-2'), 'webapp', 5, 'warn', 'production');
  });

  it('the environments and pipeline are the plain scaffold\'s; --helm with --kustomize is a usage error that writes nothing', async () => {
    await init('plain');
    for (const f of ['environments/dev.yaml', 'environments/staging.yaml', 'environments/production.yaml', 'pipelines/webapp.yaml']) {
      assert.equal(await readFile(join(base, 'helm', f), 'utf8'), await readFile(join(base, 'plain', f), 'utf8'), f);
    }
    const both = await promote(['init', 'both', '--helm', '--kustomize'], { cwd: base, env: env() });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--helm or --kustomize, not both/);
    await assert.rejects(readdir(join(base, 'both')), { code: 'ENOENT' });
  });
});
