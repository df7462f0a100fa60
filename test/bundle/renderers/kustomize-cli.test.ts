import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, tempDir } from '../helpers.ts';
import { promote } from '../../cli/run-promote.ts';
import { podinfoBundle } from './kustomize-bundles.ts';
import { renderTools } from '../../harness/render-tools.ts';

// `promote render <dir> --env <env>` on a kustomize bundle, through the real CLI: the binary
// comes from PROMOTE_KUSTOMIZE; a render over PROMOTE_RENDER_TIMEOUT or without a binary prints
// and writes nothing.

const { kubectl } = await renderTools();

test('promote render <kustomize bundle> --env E prints the objects kustomize built, one file per object', async () => {
  await using tmp = await tempDir();
  await podinfoBundle(tmp.path);
  const run = await promote(['render', 'bundle', '--env', 'staging'], { cwd: tmp.path, env: cleanEnv({ NO_COLOR: '1', PROMOTE_KUSTOMIZE: kubectl }) });
  assert.equal(run.code, 0, run.stderr);
  const sources = [...run.stdout.matchAll(/^# Source: (.*)$/gm)].map((m) => m[1]);
  assert.deepEqual(sources, [
    'apps/podinfo/podinfo_helm.toolkit.fluxcd.io_v2_helmrelease_podinfo.yaml',
    'apps/podinfo/podinfo_source.toolkit.fluxcd.io_v1_helmrepository_podinfo.yaml',
    'apps/podinfo/v1_namespace_podinfo.yaml',
  ]);
  assert.match(run.stdout, /\n {6}version: '>=1\.0\.0-alpha'\n/);
  assert.match(run.stdout, /\n {6}hostnames:\n {6}- podinfo\.staging\n/);
  assert.match(run.stdout, /\n {2}test:\n {4}enable: false\n/);
});

test('promote render -o of a kustomize bundle: a timeout or a missing binary exits 1 and writes nothing', async () => {
  await using tmp = await tempDir();
  await podinfoBundle(tmp.path);
  const out = join(tmp.path, 'out');
  for (const [extra, message] of [
    [{ PROMOTE_KUSTOMIZE: kubectl, PROMOTE_RENDER_TIMEOUT: '0.001' }, /kubectl kustomize of bundle \S+\/bundle did not finish within/],
    [{ PROMOTE_KUSTOMIZE: join(tmp.path, 'nowhere') }, /PROMOTE_KUSTOMIZE=.*nowhere is not an executable file/],
  ] as const) {
    const run = await promote(['render', 'bundle', '--env', 'production', '-o', out], { cwd: tmp.path, env: cleanEnv({ NO_COLOR: '1', ...extra }) });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, message);
    assert.equal(run.stdout, '');
    assert.equal(existsSync(out), false);
  }
});
