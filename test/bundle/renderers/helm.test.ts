import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { renderEnvironment } from '../../../src/bundle/render-environment.ts';
import type { RenderedFile } from '../../../src/bundle/render.ts';
import { helmIdentity } from '../../../src/bundle/renderers/helm-template.ts';
import { tempDir } from '../helpers.ts';
import { bundleYaml, copyPodinfoChart, helmBinary, writeFiles } from './helm-fixtures.ts';

// The helm renderer against the real helm 3.17.3: the podinfo chart as a bundle renders what
// `helm template` renders with the same values; hooks and tests follow docs/renderers.md; the
// built-ins reach the chart (and its subcharts) under global.promote; no cluster is asked.

const run = promisify(execFile);
const helm = await helmBinary();
// renderEnvironment finds helm as promote does: PROMOTE_HELM.
process.env.PROMOTE_HELM = helm;

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}

/** helm's own output, split by its `# Source:` lines, independently of promote's code. */
function bySource(out: string): Map<string, string[]> {
  const files = new Map<string, string[]>();
  for (const part of out.split(/^---\n/m).filter((p) => p !== '')) {
    const m = /^# Source: ([^\n]*)\n/.exec(part);
    assert.ok(m, `a document of helm's output starts with # Source:\n${part.slice(0, 200)}`);
    const list = files.get(m[1]!) ?? [];
    list.push(part.slice(m[0].length));
    files.set(m[1]!, list);
  }
  return files;
}

const documents = (files: RenderedFile[]) => files.flatMap((f) => (f.documents ?? []) as K8sObject[]);
const isHook = (o: K8sObject) => o.metadata.annotations?.['helm.sh/hook'] !== undefined;

async function podinfoBundle(dir: string): Promise<{ chart: string; staging: Record<string, unknown> }> {
  const chart = join(dir, 'chart');
  await copyPodinfoChart(chart);
  // Staging: the chart's defaults with a few changes, written out whole as parameters.
  const staging = parse(await readFile(join(chart, 'values.yaml'), 'utf8')) as Record<string, any>;
  staging.replicaCount = 2;
  staging.ui.message = 'staging';
  staging.hpa.enabled = false;
  staging.ingress.enabled = true;
  staging.serviceAccount.enabled = true;
  // Production: the chart's own values-prod.yaml, pasted as it is under spec.parameters.
  const prod = await readFile(join(chart, 'values-prod.yaml'), 'utf8');
  await writeFiles(dir, {
    'bundle.yaml': bundleYaml('podinfo', '{chart: chart, namespace: "${promote.environment}"}'),
    'params.schema.json': '{"type": "object"}',
    'environments/staging.yaml': `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: staging}\nspec:\n  parameters:\n${stringify(staging).replace(/^(?=.)/gm, '    ')}`,
    'environments/production.yaml': `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: production}\nspec:\n  parameters:\n${prod.replace(/^(?=.)/gm, '    ')}`,
    'staging-values.yaml': stringify(staging),
  });
  return { chart, staging };
}

test('podinfo as a helm bundle: staging (defaults + changes) and production (values-prod.yaml) render exactly the documents helm template renders with those values files, byte for byte', async (t) => {
  await using tmp = await tempDir();
  const { chart } = await podinfoBundle(tmp.path);
  for (const [env, valuesFile] of [['staging', join(tmp.path, 'staging-values.yaml')], ['production', join(chart, 'values-prod.yaml')]] as const) {
    await t.test(env, async () => {
      const { stdout } = await run(helm, ['template', 'podinfo', chart, '--namespace', env, '-f', valuesFile], { env: { HOME: tmp.path, PATH: '/usr/bin:/bin' } });
      const expected = bySource(stdout);
      const result = await renderEnvironment({ bundleDir: tmp.path, environment: env });
      assert.equal(result.renderer.kind, 'helm');

      // Parsed: every document helm renders, except its hooks (tests included), in the file of its template.
      const fromHelm = [...expected].flatMap(([source, docs]) => docs.map((d) => ({ path: source.replace(/^podinfo\//, 'chart/'), object: parse(d) as K8sObject })));
      const kept = fromHelm.filter((d) => !isHook(d.object));
      assert.ok(fromHelm.length - kept.length >= 3, 'helm template renders podinfo\'s test pods, which promote leaves out');
      const rendered = result.files.flatMap((f) => ((f.documents ?? []) as K8sObject[]).map((object) => ({ path: f.path, object })));
      const key = (d: { path: string; object: K8sObject }) => `${d.path} ${d.object.kind}/${d.object.metadata.name}`;
      assert.deepEqual(rendered.map(key).sort(), kept.map(key).sort());
      assert.deepEqual(rendered.sort((a, b) => key(a).localeCompare(key(b))), kept.sort((a, b) => key(a).localeCompare(key(b))));

      // Bytes: each rendered file is helm's text of its template's documents (the # Source: line aside).
      for (const f of result.files) {
        const source = f.path.replace(/^chart\//, 'podinfo/');
        assert.equal(f.content, expected.get(source)!.map((d) => `---\n${d}`).join(''), f.path);
      }
      const objects = documents(result.files);
      assert.ok(objects.every((o) => o.metadata.namespace === undefined || o.metadata.namespace === env), 'namespace from ${promote.environment}');
      if (env === 'staging') {
        assert.deepEqual(objects.map((o) => o.kind).sort(), ['Deployment', 'Ingress', 'Service', 'ServiceAccount']);
        assert.equal(objects.find((o) => o.kind === 'Deployment')!.spec!.replicas, 2);
      } else {
        // values-prod.yaml turns on the redis templates and the HPA.
        assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), ['ConfigMap/podinfo-redis', 'Deployment/podinfo', 'Deployment/podinfo-redis', 'HorizontalPodAutoscaler/podinfo', 'Service/podinfo', 'Service/podinfo-redis']);
      }
    });
  }
});

test('hooks: left out by default, applied as ordinary objects with hooks: include; chart tests always left out', async () => {
  await using tmp = await tempDir();
  await podinfoBundle(tmp.path);
  await writeFiles(tmp.path, {
    'environments/dev.yaml': 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters:\n    hooks:\n      preInstall: {job: {enabled: true}}\n      postUpgrade: {job: {enabled: true}}\n',
  });
  const skip = documents((await renderEnvironment({ bundleDir: tmp.path, environment: 'dev' })).files);
  assert.deepEqual(skip.filter(isHook), []);
  assert.deepEqual(skip.map((o) => o.kind).sort(), ['Deployment', 'Service']);

  await writeFile(join(tmp.path, 'bundle.yaml'), bundleYaml('podinfo', '{chart: chart, namespace: dev, hooks: include}'));
  const result = await renderEnvironment({ bundleDir: tmp.path, environment: 'dev' });
  const include = documents(result.files);
  assert.deepEqual(include.filter(isHook).map((o) => `${o.kind}/${o.metadata.name} ${o.metadata.annotations!['helm.sh/hook']}`).sort(), ['Job/podinfo-post-upgrade post-upgrade', 'Job/podinfo-pre-install pre-install']);
  assert.ok(result.files.some((f) => f.path === 'chart/templates/hooks/job.yaml'));
  // The test pods (helm.sh/hook: test-success) are never there, whatever hooks says.
  assert.ok(!include.some((o) => o.kind === 'Pod'));
  assert.ok(!result.files.some((f) => f.path.startsWith('chart/templates/tests/')));
});

test('the built-ins reach the chart and its subcharts under global.promote; release name and namespace expand parameters; CRDs and subchart templates are filed at their bundle paths', async () => {
  await using tmp = await tempDir();
  const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: {{ .Release.Namespace }}\ndata:\n  release: {{ .Release.Name | quote }}\n  promote: {{ .Values.global.promote | toJson | quote }}\n`;
  await writeFiles(tmp.path, {
    'bundle.yaml': bundleYaml('webapp', '{chart: deploy/webapp, releaseName: "web-${params.tier}", namespace: "${params.tier}-${promote.environment}"}'),
    'params.schema.json': '{"type": "object"}',
    'environments/staging.yaml': 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: staging}\nspec:\n  parameters:\n    tier: front\n    global: {team: web}\n  clusters: [{name: eu-1}]\n',
    'deploy/webapp/Chart.yaml': 'apiVersion: v2\nname: webapp\nversion: 1.0.0\ndependencies:\n  - {name: sidecar, version: 0.1.0}\n',
    'deploy/webapp/templates/cm.yaml': `${cm('top')}  team: {{ .Values.global.team }}\n`,
    'deploy/webapp/templates/NOTES.txt': 'Thanks for installing {{ .Release.Name }}\n',
    'deploy/webapp/crds/widgets.yaml': 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]\n',
    'deploy/webapp/charts/sidecar/Chart.yaml': 'apiVersion: v2\nname: sidecar\nversion: 0.1.0\n',
    'deploy/webapp/charts/sidecar/templates/cm.yaml': cm('sub'),
  });
  const result = await renderEnvironment({ bundleDir: tmp.path, environment: 'staging', cluster: 'eu-1' });
  assert.deepEqual(result.files.map((f) => f.path), ['deploy/webapp/charts/sidecar/templates/cm.yaml', 'deploy/webapp/crds/widgets.yaml', 'deploy/webapp/templates/cm.yaml']);
  const [sub, crd, top] = documents(result.files);
  const builtins = { cluster: 'eu-1', environment: 'staging', stage: 'staging' };
  for (const o of [top!, sub!]) {
    assert.deepEqual(JSON.parse(o.data!.promote!), builtins, `${o.metadata.name} sees the built-ins (no digest: the chart does not mention promote.digest)`);
    assert.equal(o.data!.release, 'web-front');
    assert.equal(o.metadata.namespace, 'front-staging');
  }
  assert.equal(top!.data!.team, 'web', 'the parameters\' own global stays beside promote');
  assert.equal(crd!.kind, 'CustomResourceDefinition');
  assert.ok(!result.files.some((f) => f.path.endsWith('NOTES.txt')), 'helm template does not print NOTES.txt');
});

test('a chart that reads .Values.global.promote.digest gets, rendered from its directory, the digest the directory builds to', async () => {
  await using tmp = await tempDir();
  await writeFiles(tmp.path, {
    'bundle.yaml': bundleYaml('digest', '{chart: chart}'),
    'params.schema.json': '{"type": "object"}',
    'environments/dev.yaml': 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec: {parameters: {}}\n',
    'chart/Chart.yaml': 'apiVersion: v2\nname: digest\nversion: 1.0.0\n',
    'chart/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata:\n  digest: {{ .Values.global.promote.digest | quote }}\n',
  });
  const { buildBundle } = await import('../../../src/bundle/build.ts');
  const built = await buildBundle(tmp.path);
  const digest = built.manifest.descriptor.digest;
  await built.dispose();
  const result = await renderEnvironment({ bundleDir: tmp.path, environment: 'dev' });
  assert.equal(documents(result.files)[0]!.data!.digest, digest);
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
});

test('a subchart packed by helm (charts/<name>-<version>.tgz) passes the build check and renders under <chart>/charts/<name>/', async () => {
  await using tmp = await tempDir();
  await writeFiles(tmp.path, {
    'src/redis/Chart.yaml': 'apiVersion: v2\nname: redis\nversion: 17.3.1\n',
    'src/redis/templates/svc.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: "{{ .Release.Name }}-redis"}\nspec: {ports: [{port: 6379}]}\n',
    'bundle/bundle.yaml': bundleYaml('cache', '{chart: chart}'),
    'bundle/params.schema.json': '{"type": "object"}',
    'bundle/environments/dev.yaml': 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec: {parameters: {}}\n',
    'bundle/chart/Chart.yaml': 'apiVersion: v2\nname: cache\nversion: 1.0.0\ndependencies:\n  - {name: redis, version: ^17.0.0, repository: "https://charts.example.com"}\n',
  });
  await run(helm, ['package', join(tmp.path, 'src/redis'), '--destination', join(tmp.path, 'bundle/chart/charts')], { env: { HOME: tmp.path, PATH: '/usr/bin:/bin' } });
  const { buildBundle } = await import('../../../src/bundle/build.ts');
  const built = await buildBundle(join(tmp.path, 'bundle'), { env: { SOURCE_DATE_EPOCH: '0' } });
  await built.dispose();
  const result = await renderEnvironment({ bundleDir: join(tmp.path, 'bundle'), environment: 'dev' });
  assert.deepEqual(result.files.map((f) => f.path), ['chart/charts/redis/templates/svc.yaml']);
  assert.equal(documents(result.files)[0]!.metadata.name, 'cache-redis', 'the release name defaults to the bundle name');
});

test('lookup renders as helm template renders it, empty: no cluster is asked even when the caller\'s KUBECONFIG names one', async () => {
  await using tmp = await tempDir();
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const kubeconfig = join(tmp.path, 'kubeconfig');
  await writeFile(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t}}]\n`);
  const before = process.env.KUBECONFIG;
  process.env.KUBECONFIG = kubeconfig;
  try {
    await writeFiles(tmp.path, {
      'bundle.yaml': bundleYaml('lookup', '{chart: chart}'),
      'params.schema.json': '{"type": "object"}',
      'environments/dev.yaml': 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec: {parameters: {}}\n',
      'chart/Chart.yaml': 'apiVersion: v2\nname: lookup\nversion: 1.0.0\n',
      'chart/templates/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: found}\ndata:\n  namespace: {{ lookup "v1" "Namespace" "" "kube-system" | toJson | quote }}\n  pods: {{ (lookup "v1" "Pod" "default" "").items | default list | len | quote }}\n',
    });
    // Plain helm is asked the same way (client-only, no --validate), as the reference.
    const { stdout } = await run(helm, ['template', 'lookup', join(tmp.path, 'chart')], { env: { HOME: tmp.path, PATH: '/usr/bin:/bin', KUBECONFIG: kubeconfig } });
    const result = await renderEnvironment({ bundleDir: tmp.path, environment: 'dev' });
    const [cm] = documents(result.files);
    assert.deepEqual(cm!.data, { namespace: '{}', pods: '0' });
    assert.deepEqual(cm, parseAllDocuments(stdout)[0]!.toJS());
    assert.equal(connections, 0, 'nothing connected to the kubeconfig\'s server');
  } finally {
    if (before === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = before;
    server.close();
  }
});

test('the renderer identity is the absolute binary and what `helm version --short` prints, asked once per binary', async () => {
  const { stdout } = await run(helm, ['version', '--short'], { env: { HOME: '/nonexistent', PATH: '/usr/bin:/bin' } });
  const env = { PROMOTE_HELM: helm };
  const first = await helmIdentity({ env });
  assert.deepEqual(first, { kind: 'helm', version: stdout.trim(), binary: helm });
  assert.match(first.version!, /^v3\.17\.3\+g[0-9a-f]+$/);
  assert.equal(await helmIdentity({ env }), first, 'the same answer, not a second run');
});
