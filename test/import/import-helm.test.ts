import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { isPromoteError } from '../../src/errors.ts';
import { parsePerEnvironment, parseValuesSource } from '../../src/import/read-helm.ts';
import { cleanEnv, tempDir } from '../bundle/helpers.ts';
import { promote } from '../cli/run-promote.ts';
import { renderTools, renderToolsEnv } from '../harness/render-tools.ts';

// `promote import --helm` through the real CLI with the real helm 3.17.3
// (test/harness/render-tools.ts): the podinfo chart with its values.yaml as staging and
// values-prod.yaml as production, then the generated project checked with `promote validate`
// and `promote render`, and compared with what helm itself prints with --no-hooks — helm's own
// classification of hooks and tests, not the import's.

const exec = promisify(execFile);
const CHART_DIR = join(import.meta.dirname, '..', 'fixtures', 'podinfo-chart');

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

interface Report {
  equivalent: boolean;
  environments: string[];
  proof: { environment: string; equal: number; different: number; missing: number; extra: number }[];
  parameters: { name: string; kind: string; nullable: boolean }[];
  warnings: { object?: string; environments?: string[]; message: string }[];
  inexpressible: unknown[];
}

test('promote import --helm of the podinfo chart (values.yaml as staging, values-prod.yaml as production): proven equivalent, validates, and promote render reproduces helm template for each', async () => {
  await using tmp = await tempDir();
  const e = await env();
  const result = await promote(['import', '--helm', join(CHART_DIR, 'podinfo'), `staging=${join(CHART_DIR, 'podinfo', 'values.yaml')}`, `production=${join(CHART_DIR, 'podinfo', 'values-prod.yaml')}`, '--out', 'podinfo', '--output', 'json'], { cwd: tmp.path, env: e });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const report = JSON.parse(result.stdout) as Report;
  assert.equal(report.equivalent, true);
  assert.deepEqual(report.environments, ['staging', 'production']);
  // production enables redis (a ConfigMap, a Service, a Deployment) and the HPA.
  assert.deepEqual(report.proof.map((p) => [p.environment, p.equal, p.different, p.missing, p.extra]), [['staging', 2, 0, 0, 0], ['production', 6, 0, 0, 0]]);
  assert.deepEqual(report.parameters.map((p) => [p.name, p.kind, p.nullable]), [
    ['podinfo.deployment.replicas', 'value', true],
    ['podinfo.deployment.containers.podinfo.command', 'value', false],
    ['podinfo.deployment.containers.podinfo.resources.requests.cpu', 'value', false],
    ['podinfo.deployment.containers.podinfo.resources.requests.memory', 'value', false],
    ['podinfo.deployment.containers.podinfo.resources.limits', 'value', true],
    ['podinfo-redis.configmap.enabled', 'include', false],
    ['podinfo-redis.service.enabled', 'include', false],
    ['podinfo-redis.deployment.enabled', 'include', false],
    ['podinfo.hpa.enabled', 'include', false],
  ]);
  assert.deepEqual(report.inexpressible, []);
  // The chart's tests (helm.sh/hook: test) are left out and named, per template, in both environments.
  assert.deepEqual(
    report.warnings.map((w) => [w.environments, w.message.replace(/-test-[a-z0-9]{5}\)/, '-test-…)')]),
    ['grpc', 'jwt', 'service'].map((t) => [['staging', 'production'], `left out podinfo/templates/tests/${t}.yaml (Pod default/podinfo-${t}-test-…): a helm test, which a bundle does not apply (helm test runs it against a release)`]),
  );

  const project = join(tmp.path, 'podinfo');
  const validate = await promote(['validate'], { cwd: project, env: e });
  assert.equal(validate.code, 0, validate.stdout + validate.stderr);
  const { helm } = await renderTools();
  for (const [stage, values] of [['staging', 'values.yaml'], ['production', 'values-prod.yaml']] as const) {
    const rendered = await promote(['render', 'bundles/podinfo', '--env', stage], { cwd: project, env: e });
    assert.equal(rendered.code, 0, rendered.stderr);
    const { stdout: original } = await exec(helm, ['template', 'podinfo', join(CHART_DIR, 'podinfo'), '-f', join(CHART_DIR, 'podinfo', values), '--no-hooks', '--include-crds'], { maxBuffer: 16 * 1024 * 1024 });
    assert.deepEqual(objectsOf(rendered.stdout), objectsOf(original), `promote render --env ${stage} is what helm template -f ${values} --no-hooks prints`);
  }

  const text = await promote(['import', '--helm', 'podinfo', 'podinfo/values.yaml,podinfo/values-prod.yaml', 'staging=podinfo/values.yaml', '--out', join(tmp.path, 'text')], { cwd: CHART_DIR, env: e });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^imported prod, staging into /, 'the environment named after the last values file, values-prod.yaml → prod');
  assert.match(text.stdout, /\n {2}environment +equal +different +missing +extra\n {2}prod +6 +0 +0 +0\n {2}staging +2 +0 +0 +0\n/);
});

/** A small chart: a ConfigMap needing .Values.greeting, in the release namespace, and a pre-install hook Job. */
async function tinyChart(dir: string): Promise<void> {
  await mkdir(join(dir, 'tiny', 'templates'), { recursive: true });
  await writeFile(join(dir, 'tiny', 'Chart.yaml'), 'apiVersion: v2\nname: tiny\nversion: 0.1.0\n');
  await writeFile(join(dir, 'tiny', 'values.yaml'), 'replicas: 1\n');
  await writeFile(
    join(dir, 'tiny', 'templates', 'config.yaml'),
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n  namespace: {{ .Release.Namespace }}\ndata:\n  greeting: {{ required "greeting is required" .Values.greeting | quote }}\n  replicas: {{ .Values.replicas | quote }}\n',
  );
  await writeFile(
    join(dir, 'tiny', 'templates', 'migrate.yaml'),
    'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: busybox}]\n',
  );
  await writeFile(join(dir, 'dev.yaml'), 'greeting: hello\n');
  await writeFile(join(dir, 'prod.yaml'), 'greeting: welcome\nreplicas: 3\n');
}

test('promote import --helm: release name and a namespace per environment; a hook is left out and named; the namespaces become a parameter', async () => {
  await using tmp = await tempDir();
  await tinyChart(tmp.path);
  const result = await promote(['import', '--helm', 'tiny', 'dev.yaml', 'prod.yaml', '--release', 'greeter', '--namespace', 'dev=web-dev,prod=web', '--out', 'out', '--output', 'json'], { cwd: tmp.path, env: await env() });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const report = JSON.parse(result.stdout) as Report;
  assert.equal(report.equivalent, true);
  assert.deepEqual(report.parameters.map((p) => p.name), ['greeter-config.configmap.namespace', 'greeter-config.configmap.data.greeting', 'greeter-config.configmap.data.replicas']);
  assert.deepEqual(report.warnings, [
    { environments: ['dev', 'prod'], message: 'left out tiny/templates/migrate.yaml (Job.batch greeter-migrate): a helm hook (pre-install,pre-upgrade), left out as the helm renderer leaves hooks out: run it as a step of your pipeline, or make it an ordinary object of the bundle' },
  ]);
  const manifest = await readFile(join(tmp.path, 'out', 'bundles', 'out', 'manifests', 'configmap-greeter-config.yaml'), 'utf8');
  assert.match(manifest, /name: greeter-config\n {2}namespace: \$\{params\.greeter-config\.configmap\.namespace\}\n/);
  const prod = await readFile(join(tmp.path, 'out', 'environments', 'prod.yaml'), 'utf8');
  assert.match(prod, /namespace: web\n/);
  assert.deepEqual(await readdir(join(tmp.path, 'out', 'bundles', 'out', 'manifests')), ['configmap-greeter-config.yaml'], 'the hook is not in the bundle');
});

test('promote import --helm refuses bad input with nothing written: a chart that does not render, a directory without Chart.yaml, a missing values file, one environment twice, --release without --helm', async () => {
  await using tmp = await tempDir();
  const e = await env();
  await tinyChart(tmp.path);
  await writeFile(join(tmp.path, 'broken.yaml'), 'replicas: 2\n');
  const broken = await promote(['import', '--helm', 'tiny', 'dev.yaml', 'staging=broken.yaml', '--out', 'out'], { cwd: tmp.path, env: e });
  assert.equal(broken.code, 4, broken.stderr);
  assert.match(broken.stderr, /helm template of tiny for environment "staging" \(broken\.yaml\) failed \(exit 1\):\n[^\n]*greeting is required/);
  assert.match(broken.stderr, /hint: fix the chart or the values file so that `helm template` works on its own/);

  await mkdir(join(tmp.path, 'notachart'));
  const noChart = await promote(['import', '--helm', 'notachart', 'dev.yaml', '--out', 'out'], { cwd: tmp.path, env: e });
  assert.equal(noChart.code, 2, noChart.stderr);
  assert.match(noChart.stderr, /notachart \(--helm\) is not a chart directory: it has no Chart\.yaml/);

  const missing = await promote(['import', '--helm', 'tiny', 'dev.yaml', 'prod=nowhere.yaml', '--out', 'out'], { cwd: tmp.path, env: e });
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /the values file nowhere\.yaml \(environment "prod"\) does not exist/);

  const twice = await promote(['import', '--helm', 'tiny', 'dev.yaml', 'dev=prod.yaml', '--out', 'out'], { cwd: tmp.path, env: e });
  assert.equal(twice.code, 2, twice.stderr);
  assert.match(twice.stderr, /the sources dev\.yaml and prod\.yaml are both environment "dev"/);

  const noHelm = await promote(['import', 'dev.yaml', '--release', 'x', '--out', 'out'], { cwd: tmp.path, env: e });
  assert.equal(noHelm.code, 2, noHelm.stderr);
  assert.match(noHelm.stderr, /--release is only used with --helm/);

  assert.deepEqual((await readdir(tmp.path)).sort(), ['broken.yaml', 'dev.yaml', 'notachart', 'prod.yaml', 'tiny'], 'no --out and no temporary directory was left');
});

test('values sources name their environment from the file (values-prod.yaml → prod) or explicitly; per-environment options are checked', () => {
  assert.deepEqual(parseValuesSource('chart/values-prod.yaml'), { environment: 'prod', files: ['chart/values-prod.yaml'] });
  assert.deepEqual(parseValuesSource('staging.values.yaml'), { environment: 'staging', files: ['staging.values.yaml'] });
  assert.deepEqual(parseValuesSource('production=values.yaml,values-prod.yaml'), { environment: 'production', files: ['values.yaml', 'values-prod.yaml'] });
  assert.throws(() => parseValuesSource('chart/values.yaml'), (err) => isPromoteError(err, 'IMPORT_ENVIRONMENT_NAME_INVALID') && /name it: staging=chart\/values\.yaml/.test(err.hint ?? ''));
  assert.deepEqual(parsePerEnvironment('web', 'namespace', ['dev', 'prod']), { dev: 'web', prod: 'web' });
  assert.deepEqual(parsePerEnvironment('prod=web', 'namespace', ['dev', 'prod']), { prod: 'web' });
  assert.throws(() => parsePerEnvironment('qa=web', 'namespace', ['dev', 'prod']), /names environment "qa", which is not imported/);
  assert.throws(() => parsePerEnvironment('dev=a,dev=b', 'release', ['dev']), /gives environment "dev" twice/);
});
