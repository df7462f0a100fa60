import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildBundle } from '../../../src/bundle/build.ts';
import type { RenderContext } from '../../../src/bundle/render.ts';
import { kustomizeRenderer, type KustomizeSpec } from '../../../src/bundle/renderers/kustomize.ts';
import type { RendererOptions } from '../../../src/bundle/renderers/renderer.ts';
import { readBundleSources } from '../../../src/bundle/sources.ts';
import { isPromoteError, type PromoteError } from '../../../src/errors.ts';
import { tempDir } from '../helpers.ts';
import { bundleYaml, writeTree } from './kustomize-bundles.ts';
import { renderTools } from '../../harness/render-tools.ts';

// Bad kustomize bundles, each a clear error with file:line where there is one and nothing
// rendered: a remote base, a path out of the bundle (performed against a real directory outside
// it), helmCharts, a reference the schema does not declare or that has no value, a missing
// binary, a render over its time limit.

const { kubectl } = await renderTools();

const SCHEMA = JSON.stringify({ type: 'object', properties: { name: { type: 'string' }, extra: { type: 'string' } } });
const CM = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${params.name}\n';

/** A bundle with base/ and overlay/ (built); `overlay` is its kustomization's text. */
async function bundle(dir: string, overlay: string, more: Record<string, string> = {}): Promise<string> {
  await writeTree(dir, {
    'bundle.yaml': bundleYaml('app', 'overlay'),
    'params.schema.json': SCHEMA,
    'base/kustomization.yaml': 'resources:\n  - cm.yaml\n',
    'base/cm.yaml': CM,
    'overlay/kustomization.yaml': overlay,
    ...more,
  });
  return dir;
}

const ctx = (params: Record<string, unknown> = { name: 'web' }): RenderContext => ({ params, promote: { stage: 'dev', environment: 'dev' } });

async function render(dir: string, params?: Record<string, unknown>, options: RendererOptions = { env: { PROMOTE_KUSTOMIZE: kubectl } }) {
  const { bundle: b, tree } = await readBundleSources(dir);
  return kustomizeRenderer.create(b.spec.renderer as KustomizeSpec, options).render(tree, ctx(params));
}

async function buildRefused(dir: string): Promise<PromoteError> {
  let caught: unknown;
  try {
    const built = await buildBundle(dir);
    await built.dispose();
  } catch (err) {
    caught = err;
  }
  assert.ok(isPromoteError(caught, 'BUNDLE_RENDERER_INVALID'), `build should be refused: ${String(caught)}`);
  return caught;
}

test('a remote base in resources: is refused at build, each form at its file:line and pointer, with what to do', async () => {
  await using tmp = await tempDir();
  const remotes = [
    'https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v1.0.6',
    'github.com/kubernetes-sigs/kustomize/examples/helloWorld?ref=v1.0.6',
    'git::https://example.com/org/repo.git//base',
    'git@github.com:org/repo.git/base',
    'https://raw.githubusercontent.com/org/repo/main/cm.yaml',
  ];
  await bundle(tmp.path, `resources:\n  - ../base\n${remotes.map((r) => `  - ${r}\n`).join('')}`);
  const err = await buildRefused(tmp.path);
  assert.equal(err.problems.length, remotes.length);
  remotes.forEach((remote, i) => {
    const p = err.problems[i]!;
    assert.equal(p.file, 'overlay/kustomization.yaml');
    assert.equal(p.line, 3 + i);
    assert.equal(p.pointer, `/resources/${i + 1}`);
    assert.equal(p.rule, 'remote-base');
    assert.ok(p.message.includes(JSON.stringify(remote)), p.message);
    assert.match(p.hint!, /vendor the base into the bundle/);
  });
  assert.match(err.message, /^cannot build app: overlay\/kustomization\.yaml:3: resources entry "https:\/\/github\.com\/.*" is a URL: kustomize would fetch it over the network/);
  // `promote render` of the source directory (no build) refuses it too, before kustomize runs.
  await assert.rejects(render(tmp.path), (e) => isPromoteError(e, 'BUNDLE_RENDERER_INVALID') && e.problems.length === remotes.length && /overlay\/kustomization\.yaml:3:/.test(e.message));
});

test('a parameter that makes a path remote passes build (it is declared) and is refused at render, at its line', async () => {
  await using tmp = await tempDir();
  await bundle(tmp.path, 'resources:\n  - ../base\n  - ${params.extra}\n');
  const built = await buildBundle(tmp.path);
  await built.dispose();
  await assert.rejects(render(tmp.path, { name: 'web', extra: 'https://example.com/cm.yaml' }), (e) => {
    assert.ok(isPromoteError(e, 'BUNDLE_RENDERER_INVALID'), String(e));
    assert.deepEqual([e.problems[0]?.file, e.problems[0]?.line, e.problems[0]?.rule], ['overlay/kustomization.yaml', 3, 'remote-base']);
    return true;
  });
  // The same bundle with a local value renders.
  await writeTree(tmp.path, { 'extra/kustomization.yaml': 'resources: [cm.yaml]\n', 'extra/cm.yaml': CM.replace('${params.name}', 'extra') });
  const files = await render(tmp.path, { name: 'web', extra: '../extra' });
  assert.deepEqual(files.map((f) => f.path), ['overlay/v1_configmap_extra.yaml', 'overlay/v1_configmap_web.yaml']);
  // A file outside the kustomization's directory is what kustomize's load restrictor refuses: said at the line, before kustomize runs.
  await assert.rejects(render(tmp.path, { name: 'web', extra: '../extra/cm.yaml' }), (e) => {
    assert.ok(isPromoteError(e, 'BUNDLE_RENDERER_INVALID'), String(e));
    assert.match(e.message, /overlay\/kustomization\.yaml:3: resources entry "\.\.\/extra\/cm\.yaml" is a file outside the kustomization's directory overlay; kustomize's load restrictor/);
    return true;
  });
});

test('a base outside the bundle (../ climbing to a real directory) is refused at build and at render; kustomize alone would include it', async () => {
  await using tmp = await tempDir();
  const outside = join(tmp.path, 'outside');
  await writeTree(outside, { 'kustomization.yaml': 'resources: [cm.yaml]\n', 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stolen}\n' });
  const climb = `${'../'.repeat(40)}${outside.slice(1)}`;
  const dir = await bundle(join(tmp.path, 'bundle'), `resources:\n  - ../base\n  - ${climb}\n  - ../../sibling\n`);
  await writeTree(join(tmp.path, 'sibling'), { 'kustomization.yaml': 'resources: [cm.yaml]\n', 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: beside}\n' });
  // The attack is real: kustomize by itself (default load restrictor) reads both directories outside.
  const { stdout } = await promisify(execFile)(kubectl, ['kustomize', join(dir, 'overlay')], { env: { PATH: '/usr/bin:/bin', HOME: tmp.path, KUBECONFIG: '/nonexistent' } });
  assert.match(stdout, /name: stolen/);
  assert.match(stdout, /name: beside/);

  const err = await buildRefused(dir);
  assert.deepEqual(
    err.problems.map((p) => [p.line, p.pointer, p.rule]),
    [
      [3, '/resources/1', 'outside-bundle'],
      [4, '/resources/2', 'outside-bundle'],
    ],
  );
  assert.match(err.problems[0]!.message, /resolves outside the bundle/);
  assert.match(err.problems[0]!.hint!, /copy what it needs into the bundle directory/);
  await assert.rejects(render(dir), (e) => isPromoteError(e, 'BUNDLE_RENDERER_INVALID') && /overlay\/kustomization\.yaml:3: .*resolves outside the bundle/.test(e.message));
});

test('paths in patches, generators and components are checked too; an absolute path and a missing one are refused', async () => {
  await using tmp = await tempDir();
  await bundle(
    tmp.path,
    [
      'resources: [../base]',
      'components: [../nothing-here]',
      'patches:',
      '  - path: /etc/passwd',
      'configMapGenerator:',
      '  - name: c',
      '    files: [key=../../secrets.env]',
      '    envs: [missing.env]',
      '',
    ].join('\n'),
  );
  const err = await buildRefused(tmp.path);
  assert.deepEqual(
    err.problems.map((p) => [p.line, p.pointer, p.rule]),
    [
      [2, '/components/0', 'kustomize-path'],
      [4, '/patches/0/path', 'outside-bundle'],
      [7, '/configMapGenerator/0/files/0', 'outside-bundle'],
      [8, '/configMapGenerator/0/envs/0', 'kustomize-path'],
    ],
  );
  assert.match(err.problems[0]!.message, /names nothing in the bundle \(nothing-here\)/);
  assert.match(err.problems[1]!.message, /absolute path/);
});

test('helmCharts: is refused at build: it needs --enable-helm and the network; use a helm bundle', async () => {
  await using tmp = await tempDir();
  await bundle(tmp.path, 'resources: [../base]\nhelmCharts:\n  - name: podinfo\n    repo: https://stefanprodan.github.io/podinfo\n    version: 6.5.0\n');
  const err = await buildRefused(tmp.path);
  assert.deepEqual([err.problems[0]?.file, err.problems[0]?.line, err.problems[0]?.pointer, err.problems[0]?.rule], ['overlay/kustomization.yaml', 2, '/helmCharts', 'helm-charts']);
  assert.match(err.problems[0]!.hint!, /helm bundle \(bundle\.yaml spec\.helm/);
});

test('an undeclared ${params.…} in a patch is refused at build, and one without a value at render, each naming the file and line', async () => {
  await using tmp = await tempDir();
  const patch = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata:\n  mode: ${params.mode}\n';
  await bundle(tmp.path, 'resources: [../base]\npatches:\n  - path: patch.yaml\n', { 'overlay/patch.yaml': patch });
  const err = await buildRefused(tmp.path);
  assert.deepEqual([err.problems[0]?.file, err.problems[0]?.line, err.problems[0]?.rule], ['overlay/patch.yaml', 5, 'undeclared-reference']);
  assert.match(err.message, /overlay\/patch\.yaml:5: \$\{params\.mode\} refers to parameter "mode", which the parameter schema does not declare/);

  await writeTree(tmp.path, { 'params.schema.json': JSON.stringify({ type: 'object', properties: { name: { type: 'string' }, mode: { type: 'string' } } }) });
  await assert.rejects(render(tmp.path, { name: 'web' }), (e) => isPromoteError(e, 'RENDER_FAILED') && /^cannot render the bundle: overlay\/patch\.yaml:5:\d+: parameter "mode" has no value/.test(e.message));
});

test('a missing binary is RENDERER_MISSING naming PROMOTE_KUSTOMIZE and how to install; nothing is rendered', async () => {
  await using tmp = await tempDir();
  await bundle(tmp.path, 'resources: [../base]\n');
  const nowhere = join(tmp.path, 'no-such-kustomize');
  for (const env of [{ PROMOTE_KUSTOMIZE: nowhere }, { PATH: tmp.path }]) {
    await assert.rejects(render(tmp.path, undefined, { env }), (e) => {
      assert.ok(isPromoteError(e, 'RENDERER_MISSING'), String(e));
      assert.match(e.message, /the bundle's renderer is kustomize \(bundle\.yaml spec\.kustomize\), but PROMOTE_KUSTOMIZE/);
      assert.match(e.hint!, /install kustomize v5 .*; or set PROMOTE_KUSTOMIZE to its absolute path/);
      assert.equal(e.exitCode, 1);
      return true;
    });
  }
});

test('a render over its time or output limit is RENDER_TIMEOUT / RENDER_TOO_LARGE, and its scratch copy of the bundle is removed', async () => {
  await using tmp = await tempDir();
  await bundle(tmp.path, 'resources: [../base]\n');
  const scratchRoot = join(tmp.path, 'tmp');
  await mkdir(scratchRoot);
  const before = process.env.TMPDIR;
  process.env.TMPDIR = scratchRoot;
  try {
    await assert.rejects(render(tmp.path, undefined, { env: { PROMOTE_KUSTOMIZE: kubectl }, timeoutMs: 1 }), (e) => isPromoteError(e, 'RENDER_TIMEOUT') && /^kubectl kustomize of bundle .* did not finish within/.test(e.message));
    await assert.rejects(render(tmp.path, undefined, { env: { PROMOTE_KUSTOMIZE: kubectl }, maxOutputBytes: 40 }), (e) => isPromoteError(e, 'RENDER_TOO_LARGE') && /printed more than 40 bytes of manifests/.test(e.message));
    // kustomize's own failure (a resource that is not there once substituted is caught before; a bad patch is kustomize's to report).
    await writeTree(tmp.path, { 'overlay/kustomization.yaml': 'resources: [../base]\npatches:\n  - path: p.yaml\n', 'overlay/p.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: not-in-base}\n' });
    await assert.rejects(render(tmp.path), (e) => isPromoteError(e, 'RENDER_FAILED') && /kubectl kustomize of bundle .* failed \(exit 1\):\n.*not-in-base/s.test(e.message) && !e.message.includes(scratchRoot));
    assert.deepEqual(await readdir(scratchRoot), []);
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
});

test('a kustomization left out of the bundle by .promoteignore is refused at build, not rendered from the disk', async () => {
  await using tmp = await tempDir();
  await bundle(tmp.path, 'resources: [../base]\n', { '.promoteignore': 'overlay/kustomization.yaml\n' });
  const err = await buildRefused(tmp.path);
  assert.deepEqual([err.problems[0]?.file, err.problems[0]?.pointer], ['bundle.yaml', '/spec/kustomize/path']);
  assert.match(err.message, /the bundle's files hold no kustomization\.yaml, kustomization\.yml, Kustomization in overlay/);
  await assert.rejects(render(tmp.path), (e) => isPromoteError(e, 'BUNDLE_RENDERER_INVALID'));
});

test('Secret values in a kustomize bundle (a Secret with data in a base, a secretGenerator) are refused at build unless spec.allowSecrets', async () => {
  await using tmp = await tempDir();
  const dir = await bundle(tmp.path, 'resources:\n  - ../base\nsecretGenerator:\n  - name: creds\n    literals:\n      - password=hunter2\n', {
    'base/kustomization.yaml': 'resources:\n  - cm.yaml\n  - secret.yaml\n',
    'base/secret.yaml': 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n',
  });
  const err = await buildRefused(dir);
  const secrets = err.problems.filter((p) => p.rule === 'no-secrets');
  assert.deepEqual(secrets.map((p) => [p.file, p.line]).sort(), [['base/secret.yaml', 5], ['overlay/kustomization.yaml', 4]].sort());
  assert.ok(!JSON.stringify(err.problems).includes('hunter2'), 'the value is never echoed');
  // Allowed on purpose, the same bundle builds.
  await writeTree(dir, { 'bundle.yaml': bundleYaml('app', 'overlay', '  allowSecrets: true\n') });
  const built = await buildBundle(dir);
  await built.dispose();
});
