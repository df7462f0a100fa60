import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from '../../src/artifact/build.ts';
import { buildBundle } from '../../src/bundle/build.ts';
import { isPromoteError } from '../../src/errors.ts';
import { BIN, FIXTURE, cleanEnv, copyFixture, tempDir } from './helpers.ts';

// The golden digests of test/fixtures/bundle-small, built outside git with no SOURCE_DATE_EPOCH.
// If one changes, the bundle format changed: every bundle ever built gets a new digest. Change
// them only on purpose, and say so in the commit.
const GOLDEN_MANIFEST = 'sha256:eb32695f0874c24725a2eda259d8ea32dcd6bf189aca1486ce0242a8ac3f33ac';
const GOLDEN_LAYER = 'sha256:917dbdc4103ed3cdd4cdc9cf0c40856eda7552dbbb402e5e717dc2660d1f5048';

async function digestOf(dir: string, env = cleanEnv()): Promise<string> {
  await using built = await buildBundle(dir, { env });
  return built.manifest.descriptor.digest;
}

test('golden digest: the fixture bundle builds to the same manifest and layer digests, always', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  await using built = await buildBundle(dir, { env: cleanEnv() });
  assert.equal(built.layer.descriptor.digest, GOLDEN_LAYER);
  assert.equal(built.manifest.descriptor.digest, GOLDEN_MANIFEST);
  assert.equal(built.config.value.created, '1970-01-01T00:00:00Z');
  assert.equal(built.files, 6);
});

test('same digest with shuffled mtimes, another umask and TZ, in another process, built twice', async () => {
  await using tmp = await tempDir();
  const first = await copyFixture(tmp.path, 'first');
  const digest = await digestOf(first);
  assert.equal(await digestOf(first), digest, 'built twice');
  // A second copy made under umask 077 (files 0600/0700), with random mtimes, built by the CLI
  // in a process with a far-away TZ.
  const second = join(tmp.path, 'second');
  const script = `umask 077 && cp -r "$1" "$2" && find "$2" -exec touch -d "@$3" {} + && touch -d "@7" "$2/bundle.yaml" && exec "$4" "$5" build "$2" --output json`;
  const r = spawnSync('sh', ['-c', script, 'sh', FIXTURE, second, '1234567890', process.execPath, BIN], {
    encoding: 'utf8',
    env: cleanEnv({ TZ: 'Pacific/Chatham', LC_ALL: 'C' }),
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal((await readFile(join(second, 'manifests', 'service.yaml'), 'utf8')).length > 0, true);
  const stat = execFileSync('stat', ['-c', '%a', join(second, 'manifests', 'service.yaml')], { encoding: 'utf8' }).trim();
  assert.equal(stat, '600', 'the copy really has other modes');
  assert.equal(JSON.parse(r.stdout).digest, digest);
  // And once more in-process after shuffling mtimes again.
  await utimes(join(first, 'params.schema.json'), new Date(2001, 1, 1), new Date(2033, 3, 3));
  assert.equal(await digestOf(first), digest);
});

test('normalised modes: any execute bit gives 0755, everything else 0644', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  const digest = await digestOf(dir);
  await chmod(join(dir, 'files', 'scripts', 'run.sh'), 0o700);
  await chmod(join(dir, 'bundle.yaml'), 0o600);
  assert.equal(await digestOf(dir), digest);
  await chmod(join(dir, 'files', 'scripts', 'run.sh'), 0o644);
  assert.notEqual(await digestOf(dir), digest, 'losing the execute bit is a real change');
});

test('.promoteignore: excluded files do not change the digest; .git/ is always left out', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  const digest = await digestOf(dir);
  await mkdir(join(dir, 'notes'));
  await writeFile(join(dir, 'notes', 'todo.md'), 'private notes\n');
  await writeFile(join(dir, 'manifests', 'scratch.tmp'), 'scratch\n');
  await mkdir(join(dir, '.git'));
  await writeFile(join(dir, '.git', 'config'), '[core]\n');
  assert.equal(await digestOf(dir), digest);
  await writeFile(join(dir, 'manifests', 'extra.yaml'), 'a: 1\n');
  assert.notEqual(await digestOf(dir), digest, 'a new file is a new bundle');
});

test('created comes from SOURCE_DATE_EPOCH; a malformed value is a usage error', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  await using built = await buildBundle(dir, { env: cleanEnv({ SOURCE_DATE_EPOCH: '1700000000' }) });
  assert.equal(built.config.value.created, '2023-11-14T22:13:20Z');
  assert.equal(built.annotations['org.opencontainers.image.created'], '2023-11-14T22:13:20Z');
  await assert.rejects(buildBundle(dir, { env: cleanEnv({ SOURCE_DATE_EPOCH: 'yesterday' }) }), (err) => {
    assert.ok(isPromoteError(err, 'SOURCE_DATE_EPOCH_INVALID'));
    assert.equal(err.outcome, 'usage');
    return true;
  });
});

test('git facts: created from the last commit of the directory, revision only when clean; source never from the remote, only given, without credentials', async () => {
  await using tmp = await tempDir();
  const repo = join(tmp.path, 'repo');
  await mkdir(repo);
  const env = cleanEnv({
    GIT_AUTHOR_NAME: 'T',
    GIT_AUTHOR_EMAIL: 't@example.com',
    GIT_COMMITTER_NAME: 'T',
    GIT_COMMITTER_EMAIL: 't@example.com',
    GIT_AUTHOR_DATE: '2024-01-02T03:04:05Z',
    GIT_COMMITTER_DATE: '2024-01-02T03:04:05Z',
  });
  const git = (...args: string[]): string => execFileSync('git', ['-C', repo, ...args], { env, encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  git('remote', 'add', 'origin', 'https://ci-bot:s3cret@git.example.com/acme/config.git');
  const dir = await copyFixture(repo, 'webapp');
  git('add', '.');
  git('commit', '-q', '-m', 'bundle');
  const commit = git('rev-parse', 'HEAD');
  // A later commit elsewhere in the repository does not change the bundle's identity.
  await writeFile(join(repo, 'README.md'), 'other\n');
  git('add', 'README.md');
  execFileSync('git', ['-C', repo, 'commit', '-q', '-m', 'other'], { env: { ...env, GIT_COMMITTER_DATE: '2025-01-01T00:00:00Z' } });
  {
    await using built = await buildBundle(dir, { env });
    assert.equal(built.config.value.created, '2024-01-02T03:04:05Z');
    assert.equal(built.annotations['org.opencontainers.image.revision'], commit);
    assert.equal(built.annotations['org.opencontainers.image.source'], undefined, 'the clone URL is not an input of the digest');
    assert.ok(!built.manifest.bytes.toString().includes('s3cret'));
  }
  {
    await using given = await buildBundle(dir, { env: { ...env, PROMOTE_SOURCE: 'https://ci-bot:s3cret@git.example.com/acme/config.git?private_token=t0k#x' } });
    assert.equal(given.annotations['org.opencontainers.image.source'], 'https://git.example.com/acme/config.git');
    await using flag = await buildBundle(dir, { env, source: 'https://a:b@c@git.example.com/acme/config' });
    assert.equal(flag.annotations['org.opencontainers.image.source'], 'https://git.example.com/acme/config', 'a password holding @ goes too');
  }
  await writeFile(join(dir, 'manifests', 'service.yaml'), 'changed: true\n');
  await using dirty = await buildBundle(dir, { env });
  assert.equal(dirty.annotations['org.opencontainers.image.revision'], undefined, 'a dirty tree is not that revision');
});

test('bundle config carries the parameter schema; manifest has the promote artefact shape', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  await using built = await buildBundle(dir, { env: cleanEnv(), version: '1.2.3' });
  const schema = JSON.parse(await readFile(join(dir, 'params.schema.json'), 'utf8'));
  const config = JSON.parse(built.config.bytes.toString('utf8'));
  assert.deepEqual(config.parameterSchema, schema);
  assert.deepEqual(Object.keys(config), [...Object.keys(config)].sort(), 'keys sorted');
  assert.equal(config.name, 'hello');
  assert.equal(config.version, '1.2.3');
  const manifest = JSON.parse(built.manifest.bytes.toString('utf8'));
  assert.equal(manifest.artifactType, 'application/vnd.promote.bundle.v1');
  assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(manifest.config.mediaType, 'application/vnd.promote.bundle.config.v1+json');
  assert.equal(manifest.layers.length, 1);
  assert.equal(manifest.layers[0].mediaType, 'application/vnd.promote.bundle.content.v1.tar+gzip');
  assert.equal(manifest.annotations['org.opencontainers.image.title'], 'hello');
  assert.equal(manifest.annotations['org.opencontainers.image.version'], '1.2.3');
  // The temp layer file goes away on dispose.
  const layerPath = built.layer.path;
  assert.equal(existsSync(layerPath), true);
  await built.dispose();
  assert.equal(existsSync(layerPath), false);
});

async function expectBuildError(dir: string, code: string, check?: (err: { message: string; hint?: string; problems: Array<{ file?: string; line?: number }> }) => void): Promise<void> {
  await assert.rejects(buildBundle(dir, { env: cleanEnv() }), (err) => {
    assert.ok(isPromoteError(err), String(err));
    assert.equal(err.code, code, err.message);
    check?.(err);
    return true;
  });
}

test('missing bundle.yaml: a usage error naming the directory, with the promote init hint', async () => {
  await using tmp = await tempDir();
  await expectBuildError(tmp.path, 'BUNDLE_FILE_MISSING', (err) => {
    assert.match(err.message, new RegExp(`${tmp.path} has no bundle.yaml`));
    assert.match(err.hint ?? '', /promote init/);
  });
});

test('invalid bundle.yaml: every problem listed with file and line; nothing is written', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  await writeFile(join(dir, 'bundle.yaml'), 'apiVersion: promote/v1\nkind: Bundel\nmetadata:\n  name: Hello_World\nspec:\n  manifest: manifests/\n');
  const layout = join(tmp.path, 'layout');
  await assert.rejects(build(dir, { env: cleanEnv(), ociLayout: layout }), (err) => {
    assert.ok(isPromoteError(err, 'SCHEMA_VIOLATION'), String(err));
    assert.ok(err.problems.length >= 3, JSON.stringify(err.problems));
    for (const p of err.problems) {
      assert.equal(p.file, join(dir, 'bundle.yaml'));
      assert.equal(typeof p.line, 'number');
    }
    return true;
  });
  assert.equal(existsSync(layout), false, 'no layout was created');
  assert.deepEqual((await readdir(tmp.path)).sort(), ['bundle']);
});

test('parameter schema: missing, not JSON, or not a valid JSON Schema — each refused by name', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  const schemaFile = join(dir, 'params.schema.json');
  await rm(schemaFile);
  await expectBuildError(dir, 'BUNDLE_SCHEMA_MISSING', (err) => {
    assert.match(err.message, /params\.schema\.json/);
    assert.equal(err.problems[0]?.line, 8, 'points at spec.parameters in bundle.yaml');
  });
  await writeFile(schemaFile, '{"type": "object",');
  await expectBuildError(dir, 'BUNDLE_SCHEMA_INVALID', (err) => assert.match(err.message, /not valid JSON/));
  await writeFile(schemaFile, '{"type": "strnig"}');
  await expectBuildError(dir, 'SCHEMA_INVALID');
});

test('manifests directory named in bundle.yaml must exist', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  await rm(join(dir, 'manifests'), { recursive: true });
  await expectBuildError(dir, 'BUNDLE_MANIFESTS_MISSING', (err) => assert.match(err.message, /manifests\//));
});

test('an invalid bundle.yaml is reported even when the tree also has a problem, and stops packing', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  await writeFile(join(dir, 'bundle.yaml'), 'kind: Bundle\n');
  execFileSync('mkfifo', [join(dir, 'pipe')]);
  await expectBuildError(dir, 'SCHEMA_VIOLATION');
});
