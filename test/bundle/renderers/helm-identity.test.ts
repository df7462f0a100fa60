import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmod, cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BIN, tempDir } from '../helpers.ts';
import { helmBinary, writeFiles } from './helm-fixtures.ts';

// The helm version is remembered between runs (src/bundle/renderers/remembered-identity.ts): a
// repeat `promote render` runs `helm template` alone, not `helm version` beside it. The real helm
// runs behind a logging wrapper, so the test sees every run of it.

const run = promisify(execFile);
const helm = await helmBinary();
const helmTemplateTs = new URL('../../../src/bundle/renderers/helm-template.ts', import.meta.url).href;

/** A wrapper that logs its first argument and runs the real helm with all of them. */
async function loggedHelm(dir: string): Promise<{ path: string; runs: () => Promise<string[]> }> {
  const path = join(dir, 'helm');
  const log = join(dir, 'runs.log');
  await writeFile(path, `#!/bin/sh\necho "$1" >> '${log}'\nexec '${helm}' "$@"\n`);
  await chmod(path, 0o755);
  return { path, runs: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean) };
}

/** helmIdentity in a new process (each process remembers in memory too). */
function identityInNewProcess(env: Record<string, string>): unknown {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { helmIdentity } from ${JSON.stringify(helmTemplateTs)};\nprocess.stdout.write(JSON.stringify(await helmIdentity({ env: JSON.parse(process.env.IDENTITY_ENV) })));`], { encoding: 'utf8', env: { ...process.env, IDENTITY_ENV: JSON.stringify(env) } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('a repeat render runs helm template alone: the version is remembered in the cache root for that very binary, and asked again once it changes', async () => {
  await using tmp = await tempDir();
  const wrapper = await loggedHelm(tmp.path);
  const bundle = join(tmp.path, 'bundle');
  await cp(fileURLToPath(new URL('../../fixtures/helm-small', import.meta.url)), bundle, { recursive: true });
  await writeFiles(bundle, { 'environments/dev.yaml': 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters: {namespace: dev, replicas: 2}\n' });
  const env = { ...process.env, PROMOTE_HELM: wrapper.path, PROMOTE_CACHE_DIR: join(tmp.path, 'cache'), NO_COLOR: '1' };
  const render = () => run(process.execPath, [BIN, 'render', bundle, '--env', 'dev'], { env });

  const first = await render();
  assert.deepEqual((await wrapper.runs()).sort(), ['template', 'version']);
  assert.equal((await readdir(join(tmp.path, 'cache', 'renderers'))).length, 1);
  const second = await render();
  assert.deepEqual((await wrapper.runs()).slice(2), ['template'], 'the second render ran helm template only');
  assert.equal(second.stdout, first.stdout);

  // The binary is rewritten in place (an upgrade): its version is asked again.
  await writeFile(wrapper.path, await readFile(wrapper.path, 'utf8'));
  await render();
  assert.equal((await wrapper.runs()).filter((r) => r === 'version').length, 2);
});

test('a remembered version is believed only when this user alone can have written it; a damaged one is asked again', async () => {
  await using tmp = await tempDir();
  const wrapper = await loggedHelm(tmp.path);
  const cache = join(tmp.path, 'cache');
  const env = { PROMOTE_HELM: wrapper.path, PROMOTE_CACHE_DIR: cache };
  const { stdout } = await run(helm, ['version', '--short'], { env: { HOME: '/nonexistent', PATH: '/usr/bin:/bin' } });
  const truth = { kind: 'helm', version: stdout.trim(), binary: wrapper.path };
  assert.deepEqual(identityInNewProcess(env), truth);
  const dir = join(cache, 'renderers');
  const [name] = (await readdir(dir)).filter((n) => n.endsWith('.json'));
  const entry = join(dir, name!);
  assert.deepEqual(identityInNewProcess(env), truth);
  assert.equal((await wrapper.runs()).length, 1, 'the second process did not ask helm');

  // Someone else claims another version (the status report would carry it).
  const lie = (await readFile(entry, 'utf8')).replace(truth.version, 'v9.9.9');
  await writeFile(entry, lie);
  await chmod(entry, 0o666);
  assert.deepEqual(identityInNewProcess(env), truth);
  assert.equal((await wrapper.runs()).length, 2);
  for (const damaged of ['{"key": 1', 'null', JSON.stringify({ key: JSON.parse(lie).key, identity: { kind: 'helm', version: 'v3\nforged', binary: wrapper.path } })]) {
    await writeFile(entry, damaged);
    await chmod(entry, 0o644);
    assert.deepEqual(identityInNewProcess(env), truth, damaged);
  }
  assert.equal((await wrapper.runs()).length, 5);
  // The control: the same lie written as this user would write it is believed — so the check above is what refused it.
  await writeFile(entry, lie);
  await chmod(entry, 0o644);
  assert.deepEqual(identityInNewProcess(env), { ...truth, version: 'v9.9.9' });
});
