import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../bundle/helpers.ts';
import { imageContext } from '../../scripts/image-context.ts';
import { finalInstruction, missingSources, parseDockerfile, stagesBuilt } from './dockerfile.ts';
import { renderTools } from '../harness/render-tools.ts';

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

/** The renderers' pins and the RUN that fetches them: every check below reads this, so each can fail on its own. */
function renderersPinned(text: string): { pins: Record<string, string>; run: string } {
  const df = parseDockerfile(text);
  const stage = df.stages.find((s) => s.name === 'renderers-pinned');
  assert.ok(stage, 'a renderers-pinned stage');
  const pins = Object.fromEntries(stage.instructions.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string]));
  const runs = stage.instructions.filter((i) => i.op === 'RUN' && i.args.includes('sha256sum'));
  assert.equal(runs.length, 1, 'one RUN fetches, checks and unpacks');
  return { pins, run: runs[0]!.args };
}

const DOWNLOADS = [
  { name: 'helm', file: 'helm.tgz', version: 'HELM_VERSION', sha: 'HELM_SHA256' },
  { name: 'kustomize', file: 'kustomize.tgz', version: 'KUSTOMIZE_VERSION', sha: 'KUSTOMIZE_SHA256' },
] as const;

function checkRenderers(text: string): void {
  const { pins, run } = renderersPinned(text);
  for (const d of DOWNLOADS) {
    assert.match(pins[d.version] ?? '', /^\d+\.\d+\.\d+$/, `${d.name} pinned to a version`);
    assert.match(pins[d.sha] ?? '', /^[0-9a-f]{64}$/, `${d.name}'s published SHA-256 (64 hex) is filled in`);
    // Stated once: the URL and the check use the ARG, so changing a version means changing one line.
    const withoutComments = text.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
    for (const value of [pins[d.version]!, pins[d.sha]!]) assert.equal(withoutComments.split(value).length - 1, 1, `${value} is written once in the Dockerfile`);
    assert.match(run, new RegExp(`curl -fsSLo ${d.file} "[^"]*\\$\\{${d.version}\\}[^"]*"`), `${d.name} is downloaded at its pinned version`);
    const check = run.indexOf(`echo "\${${d.sha}}  ${d.file}" | sha256sum -c -`);
    const download = run.indexOf(`curl -fsSLo ${d.file} `);
    assert.ok(download >= 0 && check > download, `${d.file} is checked against ${d.sha} after it is downloaded`);
    const unpack = run.search(new RegExp(`tar -xzf ${d.file.replace('.', '\\.')}`));
    assert.ok(unpack > check, `${d.file} is unpacked only after its check`);
  }
  assert.doesNotMatch(run, /;|\|\||(?<!&)&(?!&)/, 'one && chain: a failed check stops the build');
}

test('the renderers stage pins helm and kustomize with their published checksums and checks them before unpacking', async () => {
  const text = await readFile(DOCKERFILE, 'utf8');
  checkRenderers(text);
  assert.equal(parseDockerfile(text).args.RENDERERS, 'pinned', 'the image includes the renderers unless built with RENDERERS=none');
  assert.ok(stagesBuilt(parseDockerfile(text)).some((s) => s.name === 'renderers-pinned'));
});

test('the renderers check fails on an empty checksum, a check after unpacking, or a version written twice', async () => {
  const text = await readFile(DOCKERFILE, 'utf8');
  const { pins } = renderersPinned(text);
  assert.throws(() => checkRenderers(text.replace(`HELM_SHA256=${pins.HELM_SHA256}`, 'HELM_SHA256=')), /helm's published SHA-256/);
  const unpackFirst = text.replace(/( && echo "\$\{KUSTOMIZE_SHA256\}  kustomize\.tgz" \| sha256sum -c - \\\n)(.*\n)/, '$2$1');
  assert.notEqual(unpackFirst, text);
  assert.throws(() => checkRenderers(unpackFirst), /kustomize\.tgz is unpacked only after its check/);
  assert.throws(() => checkRenderers(text.replace('${KUSTOMIZE_VERSION}_linux', `${pins.KUSTOMIZE_VERSION}_linux`)), /written once/);
  assert.throws(() => checkRenderers(text.replace(' | sha256sum -c - \\\n && curl -fsSLo kustomize', ' | sha256sum -c - ; curl -fsSLo kustomize')), /one && chain/);
});

test('the image pins the helm and kustomize the renderer tests run (test/harness/render-tools.ts)', async () => {
  const { pins } = renderersPinned(await readFile(DOCKERFILE, 'utf8'));
  const tools = await renderTools();
  assert.equal(`v${pins.HELM_VERSION}`, tools.helmVersion);
  assert.equal(`v${pins.KUSTOMIZE_VERSION}`, tools.kustomizeVersion);
});
