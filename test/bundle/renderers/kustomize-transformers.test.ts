import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readBundleSources } from '../../../src/bundle/sources.ts';
import { isOnDisk, type RenderContext } from '../../../src/bundle/render.ts';
import { kustomizeRenderer } from '../../../src/bundle/renderers/kustomize.ts';
import type { KustomizeSpec } from '../../../src/bundle/renderers/kustomize.ts';
import { tempDir } from '../helpers.ts';
import { bundleYaml, writeTree } from './kustomize-bundles.ts';
import { renderTools } from '../../harness/render-tools.ts';

// kustomize's transformers work on the substituted bundle as kustomize users expect: a
// configMapGenerator's name-hash suffix (and the references to it), `images:`, `replicas:` and
// a component — each taking a parameter, rendered by the real kustomize in kubectl 1.31.

const { kubectl } = await renderTools();

const SCHEMA = {
  type: 'object',
  required: ['tag', 'replicas', 'greeting', 'logLevel', 'debug'],
  properties: { tag: { type: 'string' }, replicas: { type: 'integer' }, greeting: { type: 'string' }, logLevel: { type: 'string' }, debug: { type: 'string' } },
};

const FILES = {
  'bundle.yaml': bundleYaml('web', 'overlay'),
  'params.schema.json': JSON.stringify(SCHEMA),
  'base/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
  'base/deployment.yaml': [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata: {name: web}',
    'spec:',
    '  replicas: 1',
    '  selector: {matchLabels: {app: web}}',
    '  template:',
    '    metadata: {labels: {app: web}}',
    '    spec:',
    '      containers:',
    '        - name: web',
    '          image: ghcr.io/stefanprodan/podinfo:6.0.0',
    '          envFrom: [{configMapRef: {name: web-config}}]',
    '',
  ].join('\n'),
  'components/debug/kustomization.yaml': [
    'apiVersion: kustomize.config.k8s.io/v1alpha1',
    'kind: Component',
    'patches:',
    '  - patch: |-',
    '      - op: add',
    '        path: /metadata/annotations',
    '        value: {debug: "${params.debug}"}',
    '    target: {kind: Deployment}',
    '',
  ].join('\n'),
  'overlay/kustomization.yaml': [
    'resources:',
    '  - ../base',
    'components:',
    '  - ../components/debug',
    'images:',
    '  - name: ghcr.io/stefanprodan/podinfo',
    '    newTag: ${params.tag}',
    'replicas:',
    '  - name: web',
    '    count: ${params.replicas}',
    'configMapGenerator:',
    '  - name: web-config',
    '    files:',
    '      - config.properties',
    '    literals:',
    '      - LOG_LEVEL=${params.logLevel}',
    '',
  ].join('\n'),
  'overlay/config.properties': 'greeting=${params.greeting}\n',
};

const ctx = (params: Record<string, unknown>): RenderContext => ({ params: { tag: '6.5.1', replicas: 3, greeting: 'hello', logLevel: 'info', debug: 'off', ...params }, promote: { stage: 'staging', environment: 'staging' } });

type K8s = { kind: string; metadata: { name: string; annotations?: Record<string, string> }; data?: Record<string, string>; spec?: { replicas: number; template: { spec: { containers: { image: string; envFrom: { configMapRef: { name: string } }[] }[] } } } };

test('generators, images, replicas and a component take parameters and render as kustomize renders them', async (t) => {
  await using tmp = await tempDir();
  await writeTree(tmp.path, FILES);
  const { bundle, tree } = await readBundleSources(tmp.path);
  const renderer = kustomizeRenderer.create(bundle.spec.renderer as KustomizeSpec, { env: { PROMOTE_KUSTOMIZE: kubectl } });
  const render = async (params: Record<string, unknown> = {}) => {
    const files = await renderer.render(tree, ctx(params));
    const objects = files.flatMap((f) => (isOnDisk(f) ? [] : ((f.documents ?? []) as K8s[])));
    return { files, cm: objects.find((o) => o.kind === 'ConfigMap')!, deploy: objects.find((o) => o.kind === 'Deployment')! };
  };
  const first = await render();

  await t.test('configMapGenerator: a name-hash suffix, and the Deployment refers to the suffixed name', () => {
    assert.match(first.cm.metadata.name, /^web-config-[a-z0-9]{10}$/);
    assert.deepEqual(first.cm.data, { 'config.properties': 'greeting=hello\n', LOG_LEVEL: 'info' });
    assert.equal(first.deploy.spec!.template.spec.containers[0]!.envFrom[0]!.configMapRef.name, first.cm.metadata.name);
    assert.deepEqual(first.files.map((f) => f.path), [`overlay/apps_v1_deployment_web.yaml`, `overlay/v1_configmap_${first.cm.metadata.name}.yaml`]);
  });

  await t.test('images: and replicas: (a typed integer from the parameter), and the component', () => {
    assert.equal(first.deploy.spec!.template.spec.containers[0]!.image, 'ghcr.io/stefanprodan/podinfo:6.5.1');
    assert.equal(first.deploy.spec!.replicas, 3);
    assert.deepEqual(first.deploy.metadata.annotations, { debug: 'off' });
  });

  await t.test('a changed generator input changes the hash (and the reference); the same input keeps it', async () => {
    const again = await render();
    assert.equal(again.cm.metadata.name, first.cm.metadata.name);
    const changed = await render({ greeting: 'bonjour' });
    assert.notEqual(changed.cm.metadata.name, first.cm.metadata.name);
    assert.equal(changed.deploy.spec!.template.spec.containers[0]!.envFrom[0]!.configMapRef.name, changed.cm.metadata.name);
  });

  await t.test('a standalone kustomize is run as `kustomize build <dir>` with the root-only load restrictor and no helm or plugins', async () => {
    // A stand-in for a kustomize binary (a shell script named kustomize that logs its arguments,
    // then runs the real kustomize inside kubectl): the flags promote passes are what is tested.
    await using bin = await tempDir();
    const script = join(bin.path, 'kustomize');
    const log = join(bin.path, 'args.log');
    await writeFile(script, `#!/bin/sh\necho "$@" >> ${log}\nif [ "$1" = version ]; then echo v5.4.2; exit 0; fi\n[ "$1" = build ] || exit 9\nshift\nexec ${kubectl} kustomize "$@"\n`);
    await chmod(script, 0o755);
    const standalone = kustomizeRenderer.create(bundle.spec.renderer as KustomizeSpec, { env: { PATH: `${bin.path}:/usr/bin:/bin` } });
    const files = await standalone.render(tree, ctx({}));
    assert.deepEqual(files, first.files);
    assert.deepEqual(await standalone.identify(), { kind: 'kustomize', version: 'v5.4.2', binary: script });
    const [buildLine] = (await readFile(log, 'utf8')).split('\n');
    assert.match(buildLine!, /^build \/\S+\/bundle\/overlay --load-restrictor LoadRestrictionsRootOnly$/);
    assert.doesNotMatch(buildLine!, /enable-helm|enable-alpha-plugins|enable-exec/);
  });
});
