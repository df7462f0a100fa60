import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUNDLE_SCHEMA, bundleSchemaText } from '../../../scripts/gen-bundle-schema.ts';
import { loadBundleFile } from '../../../src/bundle/bundle-file.ts';
import { buildBundle } from '../../../src/bundle/build.ts';
import { parseBundleConfig } from '../../../src/bundle/config.ts';
import { checkLayerContract } from '../../../src/bundle/layer-contract.ts';
import { isPromoteError } from '../../../src/errors.ts';
import { tempDir } from '../helpers.ts';

const base = { name: 'webapp', created: '1970-01-01T00:00:00Z', manifests: 'chart', parameterSchema: { type: 'object' } };
const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

async function chartBundle(dir: string, bundleYaml: string): Promise<void> {
  await mkdir(join(dir, 'chart', 'templates'), { recursive: true });
  await writeFile(join(dir, 'chart', 'Chart.yaml'), 'apiVersion: v2\nname: webapp\nversion: 1.0.0\n');
  await writeFile(join(dir, 'chart', 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "{{ .Release.Name }}"}\n');
  await writeFile(join(dir, 'params.schema.json'), '{"type": "object"}');
  await writeFile(join(dir, 'bundle.yaml'), bundleYaml);
}

test('the renderer part of schemas/bundle.schema.json is generated from the renderer kinds (else run `npm run gen:schemas`)', async () => {
  const committed = await readFile(BUNDLE_SCHEMA, 'utf8');
  assert.equal(committed, bundleSchemaText(committed));
  const spec = JSON.parse(committed).properties.spec.properties;
  assert.ok(spec.helm && spec.kustomize);
});

test('bundle.yaml spec.helm: parsed with defaults; beside spec.manifests or spec.kustomize it is refused at the line', async (t) => {
  const tmp = await tempDir();
  t.after(() => tmp[Symbol.asyncDispose]());
  await chartBundle(tmp.path, 'apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: webapp}\nspec:\n  helm: {chart: ./chart/}\n');
  const loaded = await loadBundleFile(tmp.path);
  assert.deepEqual(loaded.spec.renderer, { kind: 'helm', chart: 'chart', hooks: 'skip' });
  assert.equal(loaded.spec.manifests, 'chart');

  for (const [extra, pointer, message] of [
    ['  manifests: manifests/\n', '/spec/manifests', /both spec\.manifests and spec\.helm/],
    ['  kustomize: {path: chart}\n', '/spec/kustomize', /spec\.helm and spec\.kustomize: a bundle has one renderer/],
  ] as const) {
    await writeFile(join(tmp.path, 'bundle.yaml'), `apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: webapp}\nspec:\n  helm: {chart: chart}\n${extra}`);
    await assert.rejects(loadBundleFile(tmp.path), (err) => {
      assert.ok(isPromoteError(err, 'BUNDLE_SCHEMA_INVALID'), String(err));
      assert.match(err.message, message);
      assert.equal(err.problems[0]?.pointer, pointer);
      assert.equal(err.problems[0]?.line, 6);
      return true;
    });
  }
  await writeFile(join(tmp.path, 'bundle.yaml'), 'apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: webapp}\nspec:\n  helm: {chart: chart/templates}\n');
  await assert.rejects(loadBundleFile(tmp.path), (err) => isPromoteError(err, 'BUNDLE_MANIFESTS_MISSING') && /holds no Chart\.yaml/.test(err.message) && err.problems[0]?.pointer === '/spec/helm/chart');
});

test('a config blob records the renderer; an unknown or malformed one is refused, never guessed', () => {
  const helm = { ...base, renderer: { kind: 'helm', chart: 'chart', hooks: 'skip' } };
  assert.deepEqual(parseBundleConfig(bytes(helm), 'x'), helm);
  for (const [renderer, mention] of [
    [{ kind: 'jsonnet' }, /unknown renderer "jsonnet"/],
    [{ chart: 'chart' }, /names no renderer kind/],
    [{ kind: 'helm', chart: '../../etc' }, /\/renderer\/chart: chart is not a relative path inside the bundle/],
    [{ kind: 'kustomize', path: 'app', extra: 1 }, /unknown field extra/],
  ] as const) {
    assert.throws(() => parseBundleConfig(bytes({ ...base, renderer }), 'reg/x@sha256:1'), (err) => isPromoteError(err, 'BUNDLE_CONFIG_INVALID') && mention.test(err.message));
  }
});

test('attack: a layer whose bundle.yaml says helm under a config that says plain, or another helm spec, is refused at pull', async (t) => {
  const tmp = await tempDir();
  t.after(() => tmp[Symbol.asyncDispose]());
  await chartBundle(tmp.path, 'apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: webapp}\nspec:\n  helm: {chart: chart}\n');
  const built = await buildBundle(tmp.path, { env: { SOURCE_DATE_EPOCH: '0' } });
  t.after(() => built.dispose());
  const config = built.config.value;
  assert.deepEqual(config.renderer, { kind: 'helm', chart: 'chart', hooks: 'skip' });
  // The honest pair agrees.
  assert.equal((await checkLayerContract(tmp.path, config, 'x')).renderer.kind, 'helm');
  // A config that drops the renderer: one reader would render chart/ as plain manifests.
  const { renderer: _, ...plain } = config;
  await assert.rejects(checkLayerContract(tmp.path, plain, 'reg/x@sha256:1'), (err) => isPromoteError(err, 'BUNDLE_LAYER_MISMATCH') && /the renderer/.test(err.message));
  await assert.rejects(checkLayerContract(tmp.path, { ...config, renderer: { kind: 'helm', chart: 'chart', hooks: 'include' } }, 'y'), (err) => isPromoteError(err, 'BUNDLE_LAYER_MISMATCH'));
});

test('render limits: PROMOTE_RENDER_TIMEOUT in seconds; a value that is not a positive number is a usage error, never silently the default', async () => {
  const { renderLimits, RENDER_TIMEOUT_MS } = await import('../../../src/bundle/renderers/run-binary.ts');
  assert.equal(renderLimits({ env: {} }, 10).timeoutMs, RENDER_TIMEOUT_MS);
  assert.equal(renderLimits({ env: { PROMOTE_RENDER_TIMEOUT: '2.5' } }, 10).timeoutMs, 2500);
  assert.equal(renderLimits({ env: { PROMOTE_RENDER_TIMEOUT: '2' }, timeoutMs: 7 }, 10).timeoutMs, 7, 'an explicit option wins');
  for (const bad of ['abc', '0', '-5', '60s']) {
    assert.throws(() => renderLimits({ env: { PROMOTE_RENDER_TIMEOUT: bad } }, 10), (err) => isPromoteError(err, 'USAGE') && err.outcome === 'usage' && err.message.includes(`PROMOTE_RENDER_TIMEOUT=${bad}`) && /e\.g\. PROMOTE_RENDER_TIMEOUT=120/.test(err.hint ?? ''));
  }
});
