import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { removeTree } from '../src/remove-tree.ts';

test('removeTree removes a nested tree with many files, a lone file, and ignores what is not there', async () => {
  const base = await mkdtemp(join(tmpdir(), 'promote-remove-tree-'));
  try {
    const tree = join(base, 'tree');
    for (let d = 0; d < 5; d++) {
      await mkdir(join(tree, `d${d}`, 'deeper'), { recursive: true });
      for (let f = 0; f < 200; f++) await writeFile(join(tree, `d${d}`, `f${f}`), 'x');
      await writeFile(join(tree, `d${d}`, 'deeper', 'last'), 'y');
    }
    await mkdir(join(tree, 'empty'));
    await removeTree(tree);
    assert.equal(existsSync(tree), false);

    const lone = join(base, 'lone');
    await writeFile(lone, 'z');
    await removeTree(lone);
    assert.equal(existsSync(lone), false);

    await removeTree(join(base, 'never-was'));
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('removeTree removes a symbolic link, never what it points at', async () => {
  const base = await mkdtemp(join(tmpdir(), 'promote-remove-tree-'));
  try {
    const outside = join(base, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'keep'), 'k');
    const tree = join(base, 'tree');
    await mkdir(tree);
    await symlink(outside, join(tree, 'link'));
    await removeTree(tree);
    assert.equal(existsSync(tree), false);
    assert.equal(existsSync(join(outside, 'keep')), true);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
