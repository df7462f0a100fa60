import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kustomizeIdentity } from '../../../src/bundle/renderers/kustomize-build.ts';
import { isPromoteError } from '../../../src/errors.ts';
import { tempDir } from '../helpers.ts';
import { renderTools } from '../../harness/render-tools.ts';

// What renders a kustomize bundle, as the status report and `plan` show it: the binary's
// absolute path and version — for a kubectl, the kustomize it embeds and its own version
// (`kubectl version --client`: no cluster is contacted).

const tools = await renderTools();

test('a kubectl as PROMOTE_KUSTOMIZE: its embedded kustomize version and its own, and its absolute path', async () => {
  const identity = await kustomizeIdentity({ env: { PROMOTE_KUSTOMIZE: tools.kubectl } });
  assert.equal(identity.kind, 'kustomize');
  assert.equal(identity.binary, tools.kubectl);
  assert.match(identity.version!, new RegExp(`^${tools.kustomizeVersion.replace(/\./g, '\\.')} \\(kubectl v1\\.31\\.\\d+\\)$`));
});

/** A stand-in kustomize (a shell script, not the real binary) printing `version` and logging each run. */
async function fakeKustomize(dir: string, version: string): Promise<{ path: string; runs: () => Promise<number> }> {
  const path = join(dir, 'kustomize');
  const log = join(dir, 'runs.log');
  await writeFile(path, `#!/bin/sh\necho "$@" >> ${log}\nprintf '%s\\n' '${version}'\n`);
  await chmod(path, 0o755);
  return { path, runs: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean).length };
}

test('a stand-in kustomize on PATH: v5 and v4 version formats are read; each binary is asked once per process', async () => {
  await using tmp = await tempDir();
  const v5 = await fakeKustomize(tmp.path, 'v5.3.0');
  const env = { PATH: `${tmp.path}:/usr/bin:/bin` };
  assert.deepEqual(await kustomizeIdentity({ env }), { kind: 'kustomize', version: 'v5.3.0', binary: v5.path });
  assert.deepEqual(await kustomizeIdentity({ env }), { kind: 'kustomize', version: 'v5.3.0', binary: v5.path });
  assert.equal(await v5.runs(), 1);

  await using old = await tempDir();
  const v4 = await fakeKustomize(old.path, '{Version:kustomize/v4.5.7 GitCommit:56d82a8378dfc8dc3b3b1085e5a6e67b82966bd7 BuildDate:2022-08-02T16:35:54Z GoOs:linux GoArch:amd64}');
  assert.equal((await kustomizeIdentity({ env: { PROMOTE_KUSTOMIZE: v4.path } })).version, 'v4.5.7');
});

test('a PROMOTE_KUSTOMIZE that prints no kustomize version is refused as RENDERER_MISSING (and asked again next time)', async () => {
  await using tmp = await tempDir();
  const odd = await fakeKustomize(tmp.path, 'hello');
  for (let i = 1; i <= 2; i++) {
    await assert.rejects(kustomizeIdentity({ env: { PROMOTE_KUSTOMIZE: odd.path } }), (e) => isPromoteError(e, 'RENDERER_MISSING') && /printed no kustomize version/.test(e.message));
    assert.equal(await odd.runs(), i);
  }
});
