import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle } from '../../src/bundle/build.ts';
import { isPromoteError } from '../../src/errors.ts';

// The renderer's build-time checks, through `promote build`: an undeclared reference or a Secret
// with values fails the build (exit 4) with file:line; a clean bundle builds.

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));

async function copy(t: { after(fn: () => Promise<void>): void }, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'promote-render-build-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(join(fixtures, name), dir, { recursive: true });
  return dir;
}

test('promote build refuses an undeclared ${params.…} with file:line:column (exit 4)', async (t) => {
  const dir = await copy(t, 'podinfo-bundle');
  await writeFile(join(dir, 'manifests/extra.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: ${params.namespce}\n');
  const r = spawnSync(process.execPath, [bin, 'build', dir], { encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '0' } });
  assert.equal(r.status, 4, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /error: cannot build webapp: 1 undeclared reference \(1 problem\)/);
  assert.match(r.stderr, /manifests\/extra\.yaml:5:14: \/metadata\/namespace: \$\{params\.namespce\} refers to parameter "namespce", which the parameter schema does not declare .* — did you mean \$\{params\.namespace\}\?/);
});

test('promote build refuses kube-prometheus\'s Secrets unless bundle.yaml allows them', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-render-build-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(join(fixtures, 'kube-prometheus/manifests'), join(dir, 'manifests'), { recursive: true });
  await writeFile(join(dir, 'params.schema.json'), '{"type": "object"}\n');
  const bundleYaml = (allow: boolean) => `apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: kube-prometheus}\nspec:\n  allowSecrets: ${allow}\n`;
  await writeFile(join(dir, 'bundle.yaml'), bundleYaml(false));
  await assert.rejects(buildBundle(dir, { env: { SOURCE_DATE_EPOCH: '0' } }), (err) => {
    assert.ok(isPromoteError(err, 'SECRET_IN_BUNDLE'));
    assert.equal(err.exitCode, 4);
    assert.deepEqual(err.problems.map((p) => p.file).sort(), ['manifests/alertmanager-secret.yaml', 'manifests/grafana-config.yaml', 'manifests/grafana-dashboardDatasources.yaml']);
    assert.match(err.hint ?? '', /External Secrets.*Sealed Secrets.*SOPS.*allowSecrets: true/);
    return true;
  });
  await writeFile(join(dir, 'bundle.yaml'), bundleYaml(true));
  const built = await buildBundle(dir, { env: { SOURCE_DATE_EPOCH: '0' } });
  await built.dispose();
  assert.match(built.manifest.descriptor.digest, /^sha256:[0-9a-f]{64}$/);
});

test('the podinfo bundle passes the build checks and builds', async () => {
  const built = await buildBundle(join(fixtures, 'podinfo-bundle'), { env: { SOURCE_DATE_EPOCH: '0' } });
  await built.dispose();
  assert.equal(built.name, 'webapp');
});
