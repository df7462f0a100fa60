import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { cleanEnv, copyFixture, tempDir } from '../bundle/helpers.ts';
import { promote } from './run-promote.ts';

// Attacks on `promote build` (issue 12 §9, §16; issue 11 §5), each performed through the real CLI:
// what a build lets through is signed and shipped, so each must be refused (or left out) here.

const PASSWORD = 'hunter2-do-not-ship';
const B64 = Buffer.from(PASSWORD).toString('base64');

/** The uncompressed tar of the one content layer of the only bundle in an OCI layout. */
async function layerTar(layout: string): Promise<Buffer> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  const blob = (d: string) => join(layout, 'blobs', 'sha256', d.slice('sha256:'.length));
  const manifest = JSON.parse(await readFile(blob(index.manifests[0].digest), 'utf8'));
  return gunzipSync(await readFile(blob(manifest.layers[0].digest)));
}

const SECRET_SHAPES: Record<string, [string, string]> = {
  'a Secret inside a kind: List': ['manifests/list.yaml', `apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c}\n  - apiVersion: v1\n    kind: Secret\n    metadata: {name: s}\n    data: {password: ${B64}}\n`],
  'a SecretList whose items name no kind': ['manifests/secrets.yaml', `apiVersion: v1\nkind: SecretList\nitems:\n  - metadata: {name: s}\n    stringData: {password: ${PASSWORD}}\n`],
  'a Secret in files/': ['files/secret.yaml', `apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: ${PASSWORD}}\n`],
  'kind written with YAML escapes': ['manifests/escaped.yaml', `apiVersion: "v\\x31"\nkind: "Secre\\u0074"\nmetadata: {name: s}\nstringData: {password: ${PASSWORD}}\n`],
  'kind split by an escaped line break': ['manifests/folded.yaml', `apiVersion: v1\nkind: "Sec\\\n  ret"\nmetadata: {name: s}\nstringData: {password: ${PASSWORD}}\n`],
  'kind through an anchor and alias': ['manifests/alias.yaml', `apiVersion: v1\nmetadata: {name: &k Secret}\nkind: *k\nstringData: {password: ${PASSWORD}}\n`],
  'kind and data through a merge key': ['manifests/merge.yaml', `metadata: {name: s}\n<<: {apiVersion: v1, kind: Secret, stringData: {password: ${PASSWORD}}}\n`],
  'a JSON document with JSON escapes': ['manifests/secret.json', `{"apiVersion": "v1", "kind": "\\u0053ecret", "metadata": {"name": "s"}, "data": {"password": "${B64}"}}\n`],
  'a UTF-16 YAML file in files/': ['files/utf16.yaml', ''],
};

test('build refuses a Secret however it is wrapped or spelt and wherever it sits (exit 4, file named)', async () => {
  for (const [shape, [path, text]] of Object.entries(SECRET_SHAPES)) {
    await using tmp = await tempDir();
    const dir = await copyFixture(tmp.path);
    const bytes =
      text === ''
        ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: ${PASSWORD}}\n`, 'utf16le')])
        : Buffer.from(text);
    await writeFile(join(dir, path), bytes);
    const r = await promote(['build', dir, '--oci-layout', join(tmp.path, 'layout'), '--output', 'json']);
    assert.equal(r.code, 4, `${shape}: ${r.stdout}${r.stderr}`);
    const error = JSON.parse(r.stdout).error ?? JSON.parse(r.stderr).error;
    assert.equal(error.code, 'SECRET_IN_BUNDLE', shape);
    assert.ok(error.problems.some((p: { file: string; rule: string }) => p.file === path && p.rule === 'no-secrets'), `${shape}: ${JSON.stringify(error.problems)}`);
    assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD), 'the value is not echoed');
    await assert.rejects(readdir(join(tmp.path, 'layout')), 'nothing stored');
  }
});

test('build leaves out what git ignores (nested .gitignore files too), keeps tracked files, re-includes by a .promoteignore !rule, and says what it left out', async () => {
  await using tmp = await tempDir();
  const repo = join(tmp.path, 'repo');
  await mkdir(repo);
  const env = cleanEnv({ GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com', NO_COLOR: '1' });
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { env, encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  const dir = await copyFixture(repo, 'webapp');
  await writeFile(join(repo, '.gitignore'), '.env\n');
  await writeFile(join(dir, 'files', '.gitignore'), '*.log\n!keep.log\ngenerated/\n');
  await writeFile(join(dir, 'files', 'forced.log'), 'tracked although ignored\n');
  git('add', '.');
  git('add', '-f', 'webapp/files/forced.log');
  git('commit', '-q', '-m', 'bundle');
  await writeFile(join(dir, '.env'), `DB_PASSWORD=${PASSWORD}\n`);
  await writeFile(join(dir, 'files', 'debug.log'), `password=${PASSWORD}\n`);
  await writeFile(join(dir, 'files', 'keep.log'), 'kept by !keep.log\n');
  await mkdir(join(dir, 'files', 'generated'));
  await writeFile(join(dir, 'files', 'generated', 'crds.yaml'), 'kind: ConfigMap\n');
  await writeFile(join(dir, '.promoteignore'), 'node_modules/\n!files/generated/\n');

  const text = await promote(['build', dir, '--oci-layout', join(tmp.path, 'layout')], { env });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^sha256:[0-9a-f]{64}\n$/, 'stdout stays the digest');
  assert.match(text.stderr, /left out \.env: git ignores it \(\.gitignore:1:\.env\)/);
  assert.match(text.stderr, /left out files\/debug\.log: git ignores it \(webapp\/files\/\.gitignore:1:\*\.log\)/);
  const tar = await layerTar(join(tmp.path, 'layout'));
  assert.ok(!tar.includes(PASSWORD), 'no ignored secret in the artefact');
  for (const kept of ['files/forced.log', 'files/keep.log', 'files/generated/crds.yaml', 'files/.gitignore']) assert.ok(tar.includes(kept), `${kept} is packed`);

  const json = await promote(['build', dir, '--output', 'json'], { env });
  assert.equal(json.code, 0, json.stderr);
  const excluded = JSON.parse(json.stdout).excluded;
  assert.deepEqual(
    excluded.map((e: { path: string; reason: string }) => `${e.path} ${e.reason}`),
    ['.env gitignore', 'files/debug.log gitignore'],
  );
  assert.equal(JSON.parse(json.stdout).digest, text.stdout.trim(), 'one tree, one digest');

  // The same tree outside any git work tree: its own .gitignore files still apply.
  await rm(join(repo, '.git'), { recursive: true, force: true });
  await writeFile(join(dir, '.gitignore'), '.env\n');
  const outside = await promote(['build', dir, '--output', 'json'], { env });
  assert.equal(outside.code, 0, outside.stderr);
  const left = JSON.parse(outside.stdout).excluded.map((e: { path: string; reason: string; rule?: string }) => `${e.path} ${e.reason} ${e.rule}`);
  assert.deepEqual(left, ['.env gitignore .gitignore:1:.env', 'files/debug.log gitignore files/.gitignore:1:*.log', 'files/forced.log gitignore files/.gitignore:1:*.log']);
});

test('build refuses a manifest that is not valid YAML with file:line:column; so do validate and push', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  await writeFile(join(dir, 'manifests', 'broken.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [unclosed\n');
  const built = await promote(['build', dir]);
  assert.equal(built.code, 4, built.stderr);
  assert.match(built.stderr, /cannot build hello: 1 unreadable manifest/);
  assert.match(built.stderr, /manifests\/broken\.yaml:5:\d+: /);
  const pushed = await promote(['push', dir, `oci:${join(tmp.path, 'store')}:1`]);
  assert.equal(pushed.code, 4, pushed.stderr);
  assert.match(pushed.stderr, /manifests\/broken\.yaml:5:\d+/);
  await assert.rejects(readdir(join(tmp.path, 'store')), 'nothing pushed');
  await mkdir(join(tmp.path, 'environments'));
  await writeFile(join(tmp.path, 'environments', 'dev.yaml'), 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters: {namespace: dev}\n');
  const validated = await promote(['validate', tmp.path, '--bundle', dir]);
  assert.equal(validated.code, 4, validated.stdout + validated.stderr);
  assert.notEqual(validated.code, 0, validated.stdout);
  assert.match(validated.stdout + validated.stderr, /broken\.yaml:5:\d+/);
});

test('build refuses what pull or the agent would refuse: an alias bomb, a non-UTF-8 manifest, a 300 MiB file, a path with a backslash', async () => {
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
  const cases: [string, (dir: string) => Promise<void>, RegExp, string][] = [
    ['alias bomb', (dir) => writeFile(join(dir, 'manifests', 'bomb.yaml'), `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  ${bomb.split('\n').join('\n  ')}\n`), /manifests\/bomb\.yaml:1:1: the YAML aliases/, 'MANIFEST_INVALID'],
    [
      'non-UTF-8 manifest',
      (dir) => writeFile(join(dir, 'manifests', 'latin1.yaml'), Buffer.concat([Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf'), Buffer.from([0xe9]), Buffer.from('\n  namespace: ${params.namespace}\n')])),
      /manifests\/latin1\.yaml:4:12: the manifest is not UTF-8 text: byte 0xe9/,
      'MANIFEST_INVALID',
    ],
    [
      '300 MiB file',
      async (dir) => {
        const fh = await open(join(dir, 'files', 'big.bin'), 'w');
        await fh.truncate(300 * 1024 * 1024); // sparse: only its size is ever looked at
        await fh.close();
      },
      /files\/big\.bin is 300 MiB, over the 256 MiB limit for one file/,
      'BUNDLE_TOO_LARGE',
    ],
    ['backslash in a name', (dir) => writeFile(join(dir, 'files', 'a\\b.txt'), 'x\n'), /the path "files\/a\\b\.txt" contains a backslash/, 'BUNDLE_PATH_REFUSED'],
  ];
  for (const [name, make, message, code] of cases) {
    await using tmp = await tempDir();
    const dir = await copyFixture(tmp.path);
    await make(dir);
    const started = Date.now();
    const r = await promote(['build', dir, '--oci-layout', join(tmp.path, 'layout')]);
    assert.equal(r.code, 4, `${name}: ${r.stderr}`);
    assert.match(r.stderr, message, name);
    const json = await promote(['build', dir, '--output', 'json']);
    assert.equal((JSON.parse(json.stdout).error ?? JSON.parse(json.stderr).error).code, code, name);
    assert.ok(Date.now() - started < 30_000, `${name}: refused without reading it whole`);
    await assert.rejects(readdir(join(tmp.path, 'layout')), `${name}: nothing stored`);
  }
});

test('the digest does not depend on how the repository was cloned (path, file:// URL, an ssh-style URL via insteadOf, a URL with a token)', async () => {
  await using tmp = await tempDir();
  const env = cleanEnv({ GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com', NO_COLOR: '1' });
  const run = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' });
  const work = join(tmp.path, 'work');
  await mkdir(work);
  run(work, 'init', '-q', '-b', 'main');
  await copyFixture(work, 'webapp');
  run(work, 'add', '.');
  run(work, 'commit', '-q', '-m', 'bundle');
  const bare = join(tmp.path, 'config.git');
  run(tmp.path, 'clone', '-q', '--bare', work, bare);
  run(tmp.path, 'clone', '-q', bare, 'by-path');
  run(tmp.path, 'clone', '-q', `file://${bare}`, 'by-url');
  // An ssh-style remote string, resolved to the bare repository by insteadOf: the remote URL
  // recorded in the clone is git@git.example.com:acme/config.git.
  run(tmp.path, 'clone', '-q', '-c', `url.file://${bare}.insteadOf=git@git.example.com:acme/config.git`, 'git@git.example.com:acme/config.git', 'by-ssh');
  assert.equal(run(join(tmp.path, 'by-ssh'), 'config', 'remote.origin.url').trim(), 'git@git.example.com:acme/config.git');
  run(tmp.path, 'clone', '-q', bare, 'by-token');
  run(join(tmp.path, 'by-token'), 'remote', 'set-url', 'origin', `https://ci-bot:${PASSWORD}@git.example.com/acme/config.git`);
  const digests = new Set<string>();
  for (const clone of ['by-path', 'by-url', 'by-ssh', 'by-token']) {
    const r = await promote(['build', join(tmp.path, clone, 'webapp'), '--oci-layout', join(tmp.path, `layout-${clone}`), '--output', 'json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.ok(summary.annotations['org.opencontainers.image.revision'], 'revision is still recorded');
    assert.equal(summary.annotations['org.opencontainers.image.source'], undefined);
    const layout = await readdir(join(tmp.path, `layout-${clone}`, 'blobs', 'sha256'));
    for (const blob of layout) assert.ok(!(await readFile(join(tmp.path, `layout-${clone}`, 'blobs', 'sha256', blob))).includes(PASSWORD), 'no credential anywhere');
    digests.add(summary.digest);
  }
  assert.equal(digests.size, 1, [...digests].join(' '));
  // Given explicitly, the source is recorded, without credentials.
  const given = await promote(['build', join(tmp.path, 'by-token', 'webapp'), '--source', `https://ci-bot:${PASSWORD}@git.example.com/acme/config.git`, '--output', 'json'], { env });
  assert.equal(given.code, 0, given.stderr);
  assert.equal(JSON.parse(given.stdout).annotations['org.opencontainers.image.source'], 'https://git.example.com/acme/config.git');
  assert.ok(!given.stdout.includes(PASSWORD));
});

test('render refuses a non-UTF-8 manifest and a Latin-1 text file holding a reference instead of skipping them; its message keeps the YAML error', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  await mkdir(join(dir, 'environments'));
  await writeFile(join(dir, 'environments', 'dev.yaml'), 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters: {namespace: dev}\n');
  await writeFile(join(dir, 'manifests', 'latin1.yaml'), Buffer.concat([Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf'), Buffer.from([0xe9]), Buffer.from('\n  namespace: ${params.namespace}\n')]));
  const r = await promote(['render', dir, '--env', 'dev', '--output', 'json']);
  assert.equal(r.code, 4, r.stdout + r.stderr);
  const error = JSON.parse(r.stdout).error ?? JSON.parse(r.stderr).error;
  assert.equal(error.code, 'RENDER_FAILED');
  assert.match(error.message, /manifests\/latin1\.yaml:4:12: the manifest is not UTF-8 text/, 'the message alone (what an agent reports) says what and where');
  await rm(join(dir, 'manifests', 'latin1.yaml'));
  await writeFile(join(dir, 'manifests', 'app.conf'), Buffer.concat([Buffer.from('name=caf'), Buffer.from([0xe9]), Buffer.from('\nnamespace=${params.namespace}\n')]));
  const conf = await promote(['render', dir, '--env', 'dev']);
  assert.equal(conf.code, 4, conf.stdout + conf.stderr);
  assert.match(conf.stderr, /manifests\/app\.conf:2: the file is not UTF-8 text .*references would be shipped unrendered/);
  await rm(join(dir, 'manifests', 'app.conf'));
  await writeFile(join(dir, 'manifests', 'broken.yaml'), 'namespace: [unclosed\n');
  const broken = await promote(['render', dir, '--env', 'dev', '--output', 'json']);
  assert.equal(broken.code, 4);
  assert.match((JSON.parse(broken.stdout).error ?? JSON.parse(broken.stderr).error).message, /cannot render the bundle: manifests\/broken\.yaml:\d+:\d+: .*(Flow sequence|flow collection|end with a \])/);
});
