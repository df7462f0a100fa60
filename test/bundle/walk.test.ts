import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import ignore from 'ignore';
import { compareBytes, walkBundle } from '../../src/bundle/walk.ts';
import { isPromoteError, type ErrorCode } from '../../src/errors.ts';
import { tempDir } from './helpers.ts';

async function tree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

async function expectWalkError(root: string, code: ErrorCode, mention: RegExp): Promise<void> {
  await assert.rejects(walkBundle(root), (err) => {
    assert.ok(isPromoteError(err, code), String(err));
    assert.match(err.message, mention);
    assert.ok(err.hint, 'has a hint');
    return true;
  });
}

test('entries are sorted by the byte order of their path, directories before their contents', async () => {
  await using tmp = await tempDir();
  await tree(tmp.path, { 'a/b': '', 'a-b': '', 'a.txt': '', B: '', 'é.yaml': '', 'z/y/x': '' });
  const paths = (await walkBundle(tmp.path)).map((e) => `${e.type === 'directory' ? 'd' : 'f'} ${e.path}`);
  assert.deepEqual(paths, ['f B', 'd a', 'f a-b', 'f a.txt', 'f a/b', 'd z', 'd z/y', 'f z/y/x', 'f é.yaml']);
});

test('path order is the byte order of UTF-8, also where UTF-16 order differs (above U+FFFF against U+E000–U+FFFF)', () => {
  const names = ['a', 'a/b', 'a-b', 'B', '', 'é', '\u{ff5e}', '\u{1f600}', '\u{1f600}x', '\u{e000}', '\u{10000}', 'z', '\u{7f}', '\u{80}', '\u{7ff}', '\u{800}'];
  const sign = (n: number): number => Math.sign(n);
  for (const a of names) {
    for (const b of names) {
      assert.equal(sign(compareBytes(a, b)), Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
  assert.ok(compareBytes('\u{1f600}', '\u{ff5e}') > 0, 'an emoji sorts after U+FF5E in UTF-8, though its surrogates sort before it in UTF-16');
});

test('.promoteignore uses gitignore rules (negation, directories, anchors); .git/ always excluded', async () => {
  await using tmp = await tempDir();
  await tree(tmp.path, {
    '.promoteignore': '*.log\n!keep.log\n/build/\ndocs/**/*.draft\n',
    'a.log': '',
    'keep.log': '',
    'build/out': '',
    'sub/build/kept': '',
    'docs/x/y.draft': '',
    'docs/x/y.md': '',
    '.git/HEAD': '',
    'sub/.git/config': '',
  });
  const paths = (await walkBundle(tmp.path)).filter((e) => e.type === 'file').map((e) => e.path);
  assert.deepEqual(paths, ['.promoteignore', 'docs/x/y.md', 'keep.log', 'sub/build/kept']);
});

test('without .promoteignore, exactly what the rule `.git/` excludes: .git directories at any depth, not a .git file', async () => {
  await using tmp = await tempDir();
  await tree(tmp.path, {
    '.git/HEAD': '',
    'sub/.git/config': '',
    'deep/er/.git/objects/x': '',
    'module/.git': 'gitdir: ../.git/modules/module\n', // a submodule's gitlink is a file
    'a.git/kept': '',
    'x/.gitkeep': '',
    'x/.github/workflow.yaml': '',
  });
  const entries = await walkBundle(tmp.path);
  const matcher = ignore().add('.git/');
  const expected: string[] = [];
  const all = ['.git', '.git/HEAD', 'a.git', 'a.git/kept', 'deep', 'deep/er', 'deep/er/.git', 'deep/er/.git/objects', 'deep/er/.git/objects/x', 'module', 'module/.git', 'sub', 'sub/.git', 'sub/.git/config', 'x', 'x/.github', 'x/.github/workflow.yaml', 'x/.gitkeep'];
  const dirs = new Set(['.git', 'a.git', 'deep', 'deep/er', 'deep/er/.git', 'deep/er/.git/objects', 'module', 'sub', 'sub/.git', 'x', 'x/.github']);
  for (const p of all) {
    const parts = p.split('/');
    const excluded = parts.some((_, i) => {
      const prefix = parts.slice(0, i + 1).join('/');
      return matcher.ignores(dirs.has(prefix) ? `${prefix}/` : prefix);
    });
    if (!excluded) expected.push(p);
  }
  assert.deepEqual(entries.map((e) => e.path), expected);
  assert.deepEqual(expected, ['a.git', 'a.git/kept', 'deep', 'deep/er', 'module', 'module/.git', 'sub', 'x', 'x/.github', 'x/.github/workflow.yaml', 'x/.gitkeep']);
});

test('symlink to a file inside the bundle is stored as that file (content and mode)', async () => {
  await using tmp = await tempDir();
  await tree(tmp.path, { 'shared/common.yaml': 'x: 1\n' });
  await mkdir(join(tmp.path, 'manifests'));
  await symlink('../shared/common.yaml', join(tmp.path, 'manifests', 'common.yaml'));
  const entries = await walkBundle(tmp.path);
  const link = entries.find((e) => e.path === 'manifests/common.yaml');
  assert.equal(link?.type, 'file');
  assert.equal(link?.size, 5);
  assert.equal(link?.mode, 0o644);
  assert.match(link?.source ?? '', /shared\/common\.yaml$/);
});

test('symlinks that leave the bundle, dangle, point at a directory or at excluded content are refused', async () => {
  await using outside = await tempDir();
  await writeFile(join(outside.path, 'kubeconfig'), 'secret');
  {
    await using tmp = await tempDir();
    await symlink(join(outside.path, 'kubeconfig'), join(tmp.path, 'config'));
    await expectWalkError(tmp.path, 'BUNDLE_SYMLINK_OUTSIDE', /symbolic link config points outside the bundle/);
  }
  {
    await using tmp = await tempDir();
    await symlink('nothing-here', join(tmp.path, 'broken'));
    await expectWalkError(tmp.path, 'BUNDLE_SYMLINK_DANGLING', /broken points at nothing/);
  }
  {
    await using tmp = await tempDir();
    await mkdir(join(tmp.path, 'dir'));
    await symlink('dir', join(tmp.path, 'loop'));
    await expectWalkError(tmp.path, 'BUNDLE_SYMLINK_DIRECTORY', /loop points at a directory/);
  }
  {
    await using tmp = await tempDir();
    await tree(tmp.path, { '.promoteignore': 'secret.env\n', 'secret.env': 'TOKEN=x' });
    await symlink('secret.env', join(tmp.path, 'innocent.txt'));
    await expectWalkError(tmp.path, 'BUNDLE_SYMLINK_EXCLUDED', /innocent\.txt points at secret\.env/);
  }
});

test('a FIFO or a socket in the bundle is refused by name; ignoring it makes the build work', async () => {
  await using tmp = await tempDir();
  await tree(tmp.path, { 'ok.yaml': '' });
  execFileSync('mkfifo', [join(tmp.path, 'pipe')]);
  await expectWalkError(tmp.path, 'BUNDLE_SPECIAL_FILE', /pipe in .* is a FIFO/);
  await writeFile(join(tmp.path, '.promoteignore'), 'pipe\nsock\n');
  const server = createServer();
  await new Promise<void>((ok) => server.listen(join(tmp.path, 'sock'), ok));
  try {
    assert.deepEqual((await walkBundle(tmp.path)).map((e) => e.path), ['.promoteignore', 'ok.yaml']);
    await writeFile(join(tmp.path, '.promoteignore'), 'pipe\n');
    await expectWalkError(tmp.path, 'BUNDLE_SPECIAL_FILE', /sock in .* is a socket/);
  } finally {
    await new Promise((ok) => server.close(ok));
  }
});

// mknod needs root: this machine and CI run as root (see .ci/run).
test('a device file is refused (character device node)', async () => {
  await using tmp = await tempDir();
  execFileSync('mknod', [join(tmp.path, 'null'), 'c', '1', '3']);
  await expectWalkError(tmp.path, 'BUNDLE_SPECIAL_FILE', /null in .* is a character device/);
});
