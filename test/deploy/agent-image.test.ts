import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../bundle/helpers.ts';
import { imageContext } from '../../scripts/image-context.ts';
import { finalInstruction, missingSources, parseDockerfile, stagesBuilt } from './dockerfile.ts';

// deploy/agent/Dockerfile checked without a container engine, on the build contexts that
// scripts/image-context.ts makes (stand-in payloads here; test/cli/binary.integration.test.ts
// and test/cli/pack.integration.test.ts make contexts from the real ones and run the entrypoint).

const DOCKERFILE = fileURLToPath(new URL('../../deploy/agent/Dockerfile', import.meta.url));

async function standIn(dir: string, name: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, 'stand-in\n');
  return file;
}

for (const from of ['binary', 'package'] as const) {
  test(`the ${from} build context holds every file the Dockerfile copies, and nothing else`, async () => {
    await using tmp = await tempDir();
    const out = join(tmp.path, 'ctx');
    const files = imageContext(from === 'binary' ? { from, out, binary: await standIn(tmp.path, 'promote') } : { from, out, tarball: await standIn(tmp.path, 'promote.tgz') });
    const df = parseDockerfile(await readFile(join(out, 'Dockerfile'), 'utf8'));
    const built = stagesBuilt(df, { PROMOTE_FROM: from });
    assert.ok(built.some((s) => s.name === `promote-${from}`), `the ${from} stage is built`);
    assert.ok(!built.some((s) => s.name === `promote-${from === 'binary' ? 'package' : 'binary'}`), 'the other variant is not');
    assert.deepEqual(missingSources(built, out), []);
    assert.deepEqual(missingSources(stagesBuilt(df, { PROMOTE_FROM: from, RENDERERS: 'pinned' }), out), []);
    assert.deepEqual((await readFile(join(out, '.dockerignore'), 'utf8')).split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1)).sort(), [...files].sort());
  });
}

test('a context without its payload is caught (the check can fail)', async () => {
  await using tmp = await tempDir();
  const out = join(tmp.path, 'ctx');
  imageContext({ from: 'package', out, tarball: await standIn(tmp.path, 'promote.tgz') });
  const df = parseDockerfile(await readFile(DOCKERFILE, 'utf8'));
  assert.deepEqual(missingSources(stagesBuilt(df, { PROMOTE_FROM: 'binary' }), out), ['promote-linux-x64']);
});

test('the image runs `promote agent` as a non-root user, writing only to its cache volume', async () => {
  const df = parseDockerfile(await readFile(DOCKERFILE, 'utf8'));
  for (const from of ['binary', 'package']) {
    const user = finalInstruction(df, 'USER', { PROMOTE_FROM: from });
    assert.match(user ?? '', /^[1-9]\d*(:[1-9]\d*)?$/, 'a numeric non-root user (runAsNonRoot can check it)');
    const entrypoint = JSON.parse(finalInstruction(df, 'ENTRYPOINT', { PROMOTE_FROM: from }) ?? '[]') as string[];
    assert.deepEqual(entrypoint, ['/usr/local/bin/promote', 'agent']);
    const stage = df.stages.find((s) => s.name === `promote-${from}`)!;
    const installs = stage.instructions.some((i) => (i.op === 'COPY' && i.args.endsWith(' /usr/local/bin/promote')) || (i.op === 'RUN' && i.args.includes('/usr/local/bin/promote')));
    assert.ok(installs, `the ${from} stage puts promote at /usr/local/bin/promote`);
  }
  const env = finalInstruction(df, 'ENV') ?? '';
  for (const name of ['XDG_CACHE_HOME', 'TMPDIR', 'HOME']) assert.match(env, new RegExp(`${name}=/var/cache/promote\\b`), `${name} is on the cache volume`);
  const deployment = await readFile(fileURLToPath(new URL('../../deploy/agent/deployment.yaml', import.meta.url)), 'utf8');
  assert.match(deployment, /readOnlyRootFilesystem: true/);
  assert.match(deployment, /mountPath: \/var\/cache\/promote\b/);
  assert.match(deployment, /runAsUser: 65532/);
});

test('the renderers stage pins helm and kustomize and verifies their checksums', async () => {
  const df = parseDockerfile(await readFile(DOCKERFILE, 'utf8'));
  const stage = df.stages.find((s) => s.name === 'renderers-pinned')!;
  const args = stage.instructions.filter((i) => i.op === 'ARG').map((i) => i.args);
  assert.ok(args.some((a) => /^HELM_VERSION=\d+\.\d+\.\d+$/.test(a)), 'helm pinned to a version');
  assert.ok(args.some((a) => /^KUSTOMIZE_VERSION=\d+\.\d+\.\d+$/.test(a)), 'kustomize pinned to a version');
  const run = stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
  assert.match(run, /test -n "\$HELM_SHA256" && test -n "\$KUSTOMIZE_SHA256"/, 'an empty checksum fails the build');
  assert.equal(run.match(/sha256sum -c/g)?.length, 2, 'both downloads are checked');
  assert.ok(run.indexOf('sha256sum -c') < run.indexOf('tar -xzf'), 'checked before unpacking');
});
