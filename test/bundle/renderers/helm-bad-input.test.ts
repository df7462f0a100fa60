import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundle } from '../../../src/bundle/build.ts';
import { renderEnvironment } from '../../../src/bundle/render-environment.ts';
import { helmIdentity } from '../../../src/bundle/renderers/helm-template.ts';
import { renderTree } from '../../../src/bundle/renderers/render-tree.ts';
import type { RendererOptions } from '../../../src/bundle/renderers/renderer.ts';
import { readBundleSources } from '../../../src/bundle/sources.ts';
import { isPromoteError, type PromoteError } from '../../../src/errors.ts';
import { tempDir } from '../helpers.ts';
import { bundleYaml, helmBinary, writeFiles } from './helm-fixtures.ts';

// Bad input to the helm renderer, each refused with its own code and a message that says what to
// do, and nothing left behind: no digest for a build, no scratch copy of the chart after a render.

const helm = await helmBinary();
process.env.PROMOTE_HELM = helm;
// Every scratch directory of this process lands here, so "nothing left behind" can be checked.
const scratchRoot = await mkdtemp(join(tmpdir(), 'promote-helm-scratch-'));
process.env.TMPDIR = scratchRoot;
process.on('exit', () => void rm(scratchRoot, { recursive: true, force: true }));

async function noScratchLeft(): Promise<void> {
  // renderTree asks the version beside the render: a failed render does not wait for that run.
  await helmIdentity({ env: { PROMOTE_HELM: helm } });
  assert.deepEqual((await readdir(scratchRoot)).filter((n) => n.startsWith('promote-render-')), [], 'the scratch copy is removed');
}

const ENV = 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters: {}\n';

/** A bundle with one chart at chart/ holding `files` (paths inside the chart). */
async function chartBundle(dir: string, files: Record<string, string>, helmSpec = '{chart: chart}'): Promise<void> {
  await writeFiles(dir, {
    'bundle.yaml': bundleYaml('webapp', helmSpec),
    'params.schema.json': '{"type": "object"}',
    'environments/dev.yaml': ENV,
    'chart/Chart.yaml': 'apiVersion: v2\nname: webapp\nversion: 1.0.0\n',
    ...Object.fromEntries(Object.entries(files).map(([k, v]) => [`chart/${k}`, v])),
  });
}

async function rejection(p: Promise<unknown>): Promise<PromoteError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isPromoteError(err), String(err));
    return err;
  }
  assert.fail('expected a PromoteError');
}

async function render(dir: string, options?: RendererOptions) {
  const { bundle, tree } = await readBundleSources(dir);
  return renderTree(tree, bundle.spec.renderer, { params: {}, promote: { stage: 'dev', environment: 'dev' } }, options);
}

const CM = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n';

test('a chart dependency not vendored under charts/ is refused at build with Chart.yaml:line and `helm dependency build`; vendored ones (by Chart.yaml name, or packed) pass', async () => {
  await using tmp = await tempDir();
  await chartBundle(tmp.path, {
    'Chart.yaml': [
      'apiVersion: v2',
      'name: webapp',
      'version: 1.0.0',
      'dependencies:',
      '  - name: common', // a directory whose Chart.yaml says common (helm matches that name)
      '    version: 2.x.x',
      '    repository: oci://registry-1.docker.io/bitnamicharts',
      '  - name: postgresql', // packed, as helm dependency build leaves it
      '    version: 12.1.0',
      '    repository: https://charts.bitnami.com/bitnami',
      '  - name: redis', // missing: line 11
      '    version: 17.3.1',
      '    repository: https://charts.bitnami.com/bitnami',
      '',
    ].join('\n'),
    'templates/cm.yaml': CM,
    'charts/common-lib/Chart.yaml': 'apiVersion: v2\nname: common\nversion: 2.2.0\ntype: library\n',
    'charts/postgresql-12.1.0.tgz': 'not opened by the check',
  });
  const err = await rejection(buildBundle(tmp.path, { env: { SOURCE_DATE_EPOCH: '0' } }));
  assert.equal(err.code, 'BUNDLE_RENDERER_INVALID');
  assert.equal(err.exitCode, 4);
  assert.match(err.message, /chart\/Chart\.yaml:11: the dependency redis 17\.3\.1 is not vendored under chart\/charts\/ \(it comes from https:\/\/charts\.bitnami\.com\/bitnami, which needs the network/);
  assert.match(err.hint!, /run `helm dependency build chart` in the bundle directory/);
  assert.deepEqual(err.problems.map((p) => [p.file, p.line, p.pointer]), [['chart/Chart.yaml', 11, '/dependencies/2']]);

  // A v1 chart lists them in requirements.yaml; a vendored chart's own dependencies count too.
  await writeFiles(tmp.path, {
    'chart/Chart.yaml': 'apiVersion: v1\nname: webapp\nversion: 1.0.0\n',
    'chart/requirements.yaml': 'dependencies:\n  - name: common\n    version: 2.x.x\n    repository: file://../common\n',
    'chart/charts/common-lib/Chart.yaml': 'apiVersion: v2\nname: common\nversion: 2.2.0\ndependencies:\n  - name: helpers\n    version: 1.0.0\n',
  });
  const nested = await rejection(buildBundle(tmp.path, { env: { SOURCE_DATE_EPOCH: '0' } }));
  assert.deepEqual(nested.problems.map((p) => [p.file, p.line]), [['chart/charts/common-lib/Chart.yaml', 5]]);
  assert.match(nested.message, /the dependency helpers 1\.0\.0 is not vendored under chart\/charts\/common-lib\/charts\/ \(it has no repository, so helm expects it in charts\/ already\)/);
  assert.match(nested.hint!, /helm dependency build chart\/charts\/common-lib/);

  await writeFiles(tmp.path, { 'chart/charts/common-lib/charts/helpers/Chart.yaml': 'apiVersion: v2\nname: helpers\nversion: 1.0.0\n' });
  const built = await buildBundle(tmp.path, { env: { SOURCE_DATE_EPOCH: '0' } });
  await built.dispose();
});

test('a render of a source directory whose dependency is missing fails with helm\'s own reason (build refuses it first)', async () => {
  await using tmp = await tempDir();
  await chartBundle(tmp.path, { 'Chart.yaml': 'apiVersion: v2\nname: webapp\nversion: 1.0.0\ndependencies:\n  - {name: redis, version: 17.3.1, repository: "https://charts.bitnami.com/bitnami"}\n', 'templates/cm.yaml': CM });
  const err = await rejection(renderEnvironment({ bundleDir: tmp.path, environment: 'dev' }));
  assert.equal(err.code, 'RENDER_FAILED');
  assert.match(err.message, /found in Chart\.yaml, but missing in charts\/ directory: redis/);
  await noScratchLeft();
});

test('a template that reads outside the chart: a literal path is refused at build with file:line; a computed one renders nothing from outside, whether in the bundle, beside it, or absolute', async () => {
  await using tmp = await tempDir();
  const bundle = join(tmp.path, 'bundle');
  const SECRET = 'TOPSECRET-outside-the-chart';
  await writeFile(join(tmp.path, 'outside.txt'), `${SECRET} beside the bundle\n`);
  await chartBundle(bundle, {
 'templates/cm.yaml': `${CM}data:\n  a: {{ .Files.Get "../inbundle.txt" | quote }}\n`,
  });
  await writeFiles(bundle, { '.promoteignore': 'chart/ignored.txt\n', 'inbundle.txt': `${SECRET} in the bundle\n`, 'chart/ignored.txt': `${SECRET} ignored\n`, 'chart/files/own.txt': 'the chart\'s own\n' });
  const err = await rejection(buildBundle(bundle, { env: { SOURCE_DATE_EPOCH: '0' } }));
  assert.equal(err.code, 'BUNDLE_RENDERER_INVALID');
  assert.deepEqual(err.problems.map((p) => [p.file, p.line, p.rule]), [['chart/templates/cm.yaml', 5, 'chart-files']]);
  assert.match(err.message, /chart\/templates\/cm\.yaml:5: \.Files\.Get "\.\.\/inbundle\.txt" names a file outside the chart chart/);

  // Paths the build cannot see: helm's .Files holds the chart's own files only, and the chart
  // is rendered from a copy of the bundle's packed files, so none of these reaches the output.
  const reads = ['"../inbundle.txt"', '"../../outside.txt"', '"/etc/hostname"', '"ignored.txt"', '"files/own.txt"'];
  await writeFile(join(bundle, 'chart/templates/cm.yaml'), `${CM}data:\n${reads.map((r, i) => `  r${i}: {{ .Files.Get (printf "%s" ${r}) | quote }}\n  g${i}: {{ .Files.Glob (printf "%s" ${r}) | len | quote }}\n`).join('')}`);
  const built = await buildBundle(bundle, { env: { SOURCE_DATE_EPOCH: '0' } });
  await built.dispose();
  const result = await renderEnvironment({ bundleDir: bundle, environment: 'dev' });
  const text = String(result.files[0]!.content);
  assert.ok(!text.includes(SECRET), text);
  assert.deepEqual((result.files[0]!.documents![0] as { data: unknown }).data, { r0: '', g0: '0', r1: '', g1: '0', r2: '', g2: '0', r3: '', g3: '0', r4: 'the chart\'s own\n', g4: '1' });

  // A link out of the bundle never gets as far as helm.
  await symlink(join(tmp.path, 'outside.txt'), join(bundle, 'chart/files/link.txt'));
  const link = await rejection(renderEnvironment({ bundleDir: bundle, environment: 'dev' }));
  assert.equal(link.code, 'BUNDLE_SYMLINK_OUTSIDE');
  await noScratchLeft();
});

test('a parameter in the release name cannot become a helm flag (attack: --post-renderer); a name helm would refuse is refused with its pointer', async () => {
  await using tmp = await tempDir();
  const marker = join(tmp.path, 'post-renderer-ran');
  const script = join(tmp.path, 'post-render.sh');
  await writeFile(script, `#!/bin/sh\ntouch ${marker}\ncat\n`);
  await chmod(script, 0o755);
  await chartBundle(tmp.path, { 'templates/cm.yaml': CM }, '{chart: chart, releaseName: "${params.name}"}');
  for (const name of [`--post-renderer=${script}`, 'Web_App', 'x'.repeat(54)]) {
    await writeFile(join(tmp.path, 'environments/dev.yaml'), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters:\n    name: ${JSON.stringify(name)}\n`);
    const err = await rejection(renderEnvironment({ bundleDir: tmp.path, environment: 'dev' }));
    assert.equal(err.code, 'RENDER_FAILED', name);
    assert.match(err.message, /spec\.helm\.releaseName ".*" \(from \$\{params\.name\}\) is not a helm release name/);
    assert.equal(err.problems[0]?.pointer, '/spec/helm/releaseName');
  }
  assert.ok(!existsSync(marker), 'no post-renderer ran');
  await writeFile(join(tmp.path, 'environments/dev.yaml'), ENV);
  const missing = await rejection(renderEnvironment({ bundleDir: tmp.path, environment: 'dev' }));
  assert.match(missing.message, /spec\.helm\.releaseName: parameter "name" has no value in this environment/);
});

test('a template helm fails on is RENDER_FAILED with helm\'s own message', async () => {
  await using tmp = await tempDir();
  await chartBundle(tmp.path, { 'templates/cm.yaml': `${CM}data:\n  tag: {{ required "tag is required" .Values.tag }}\n` });
  const err = await rejection(renderEnvironment({ bundleDir: tmp.path, environment: 'dev' }));
  assert.equal(err.code, 'RENDER_FAILED');
  assert.equal(err.exitCode, 4);
  assert.match(err.message, /^helm template for bundle .* failed \(exit 1\):\n.*tag is required/s);
  assert.ok(!err.message.includes('promote-render-'), 'helm\'s message names the chart, not the scratch copy');
  await noScratchLeft();
});

test('a render that loops is killed at PROMOTE_RENDER_TIMEOUT (RENDER_TIMEOUT); one that explodes in size is cut at the output limit (RENDER_TOO_LARGE)', async () => {
  await using tmp = await tempDir();
  await chartBundle(tmp.path, { 'templates/loop.yaml': '{{- range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}\n' });
  const started = Date.now();
  const slow = await rejection(render(tmp.path, { env: { PROMOTE_HELM: helm, PROMOTE_RENDER_TIMEOUT: '1' } }));
  assert.equal(slow.code, 'RENDER_TIMEOUT');
  assert.equal(slow.exitCode, 1);
  assert.match(slow.message, /did not finish within 1 s/);
  assert.ok(Date.now() - started < 10_000, `killed, not waited for (${Date.now() - started} ms)`);
  await noScratchLeft();

  await rm(join(tmp.path, 'chart/templates/loop.yaml'));
  await writeFile(join(tmp.path, 'chart/templates/big.yaml'), `${CM}data:\n  filler: {{ repeat 3000000 "x" }}\n`);
  const big = await rejection(render(tmp.path, { maxOutputBytes: 1024 * 1024 }));
  assert.equal(big.code, 'RENDER_TOO_LARGE');
  assert.match(big.message, /printed more than 1(\.0)? MiB of manifests/);
  await noScratchLeft();
});

test('a missing helm is RENDERER_MISSING naming the bundle\'s renderer, what was looked for and how to install it', async () => {
  await using tmp = await tempDir();
  await chartBundle(tmp.path, { 'templates/cm.yaml': CM });
  const notThere = await rejection(render(tmp.path, { env: { PROMOTE_HELM: join(tmp.path, 'no-helm'), PATH: '/usr/bin:/bin' } }));
  assert.equal(notThere.code, 'RENDERER_MISSING');
  assert.equal(notThere.exitCode, 1);
  assert.match(notThere.message, /the bundle's renderer is helm \(bundle\.yaml spec\.helm\), but PROMOTE_HELM=.*no-helm is not an executable file/);
  assert.match(notThere.hint!, /install helm 3 .*or set PROMOTE_HELM to its absolute path\. Nothing was rendered or applied/);
  const noPath = await rejection(render(tmp.path, { env: { PATH: '' } }));
  assert.equal(noPath.code, 'RENDERER_MISSING');
  assert.match(noPath.message, /PROMOTE_HELM is not set and there is no helm on PATH/);
  await noScratchLeft();
});

test('a parameter global.promote (the built-ins\' key) or a global that is not a map is refused before helm runs', async () => {
  await using tmp = await tempDir();
  await chartBundle(tmp.path, { 'templates/cm.yaml': CM });
  for (const [global, message] of [
    ['{promote: {stage: prod}}', /the parameter "global\.promote" is set, but that key holds promote's built-ins/],
    ['[a, b]', /the parameter "global" is not an object/],
  ] as const) {
    await writeFile(join(tmp.path, 'environments/dev.yaml'), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters:\n    global: ${global}\n`);
    const err = await rejection(renderEnvironment({ bundleDir: tmp.path, environment: 'dev' }));
    assert.equal(err.code, 'RENDER_FAILED');
    assert.match(err.message, message);
  }
  await noScratchLeft();
});
