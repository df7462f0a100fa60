import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { DesiredState } from '../../src/agent/target.ts';
import { INVENTORY_FILE } from '../../src/agent/targets/dir-inventory.ts';
import { DirTarget } from '../../src/agent/targets/dir-target.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'promote-dir-target-'));
  dirs.push(d);
  return d;
}

function desired(files: Record<string, string>, record = 'sha256:r1'): DesiredState {
  return {
    owner: { pipeline: 'webapp', stage: 'dev', cluster: 'dev-1' },
    recordDigest: record,
    bundleDigest: 'sha256:b1',
    files: Object.entries(files).map(([path, text]) => ({ path, content: Buffer.from(text) })),
  };
}

describe('DirTarget', () => {
  it('writes every rendered file and records an inventory with content hashes', async () => {
    const root = await tempDir();
    const target = new DirTarget(root);
    const result = await target.apply(desired({ 'manifests/a.yaml': 'a: 1\n', 'files/b.txt': 'b' }));
    assert.deepEqual(result.objects.map((o) => [o.id, o.action]), [['manifests/a.yaml', 'created'], ['files/b.txt', 'created']]);
    assert.equal(await readFile(join(root, 'manifests/a.yaml'), 'utf8'), 'a: 1\n');
    let inv = JSON.parse(await readFile(join(root, INVENTORY_FILE), 'utf8'));
    assert.equal(inv.recordDigest, undefined, 'a record counts as applied only once prune has run too');
    await target.prune(desired({ 'manifests/a.yaml': 'a: 1\n', 'files/b.txt': 'b' }), result.set);
    inv = JSON.parse(await readFile(join(root, INVENTORY_FILE), 'utf8'));
    assert.equal(inv.recordDigest, 'sha256:r1');
    assert.match(inv.files['manifests/a.yaml'], /^sha256:[0-9a-f]{64}$/);
  });

  it('replaces a file atomically: the inode changes and no temp file is left behind', async () => {
    const root = await tempDir();
    const target = new DirTarget(root);
    await target.apply(desired({ 'a.yaml': 'v1' }));
    const before = await stat(join(root, 'a.yaml'));
    await target.apply(desired({ 'a.yaml': 'v2' }, 'sha256:r2'));
    const afterStat = await stat(join(root, 'a.yaml'));
    assert.notEqual(afterStat.ino, before.ino, 'a rename installs a new inode; an in-place write would keep it');
    assert.equal(await readFile(join(root, 'a.yaml'), 'utf8'), 'v2');
    assert.deepEqual((await readdir(root)).filter((n) => n.includes('promote-tmp')), []);
  });

  it('makes no write when re-applying the same state', async () => {
    const root = await tempDir();
    const target = new DirTarget(root);
    const state = desired({ 'a.yaml': 'v1', 'b/c.yaml': 'c' });
    await target.prune(state, (await target.apply(state)).set);
    const again = await target.apply(state);
    assert.equal(again.writes, 0);
    assert.ok(again.objects.every((o) => o.action === 'unchanged'));
    assert.equal((await target.prune(state, again.set)).writes, 0);
  });

  it('prunes files it owns that the new render no longer has, and only those', async () => {
    const root = await tempDir();
    const target = new DirTarget(root);
    await target.apply(desired({ 'a.yaml': 'a', 'sub/old.yaml': 'old' }));
    await writeFile(join(root, 'someone-elses.txt'), 'not ours');
    const next = desired({ 'a.yaml': 'a' }, 'sha256:r2');
    const result = await target.prune(next, (await target.apply(next)).set);
    assert.deepEqual(result.pruned, ['sub/old.yaml']);
    assert.deepEqual((await readdir(root)).sort(), [INVENTORY_FILE, 'a.yaml', 'someone-elses.txt'].sort());
    const inv = JSON.parse(await readFile(join(root, INVENTORY_FILE), 'utf8'));
    assert.deepEqual(Object.keys(inv.files), ['a.yaml']);
  });

  it('detects a hand edit and a deletion by content hash, and apply restores them', async () => {
    const root = await tempDir();
    const target = new DirTarget(root);
    const state = desired({ 'a.yaml': 'a', 'b.yaml': 'b' });
    await target.apply(state);
    await writeFile(join(root, 'a.yaml'), 'edited by hand');
    await rm(join(root, 'b.yaml'));
    const seen = await target.observe(state);
    assert.deepEqual(seen.drift.map((d) => [d.id, d.kind]), [['a.yaml', 'modified'], ['b.yaml', 'missing']]);
    const restored = await target.apply(state);
    assert.equal(restored.writes, 2);
    assert.equal(await readFile(join(root, 'a.yaml'), 'utf8'), 'a');
    assert.equal((await target.observe(state)).drift.length, 0);
  });

  it('refuses a path that escapes the directory and a directory owned by another stage', async () => {
    const root = await tempDir();
    const target = new DirTarget(root);
    await assert.rejects(target.apply(desired({ '../escape.yaml': 'x' })), { code: 'TARGET_PATH_INVALID' });
    await target.apply(desired({ 'a.yaml': 'a' }));
    const other = { ...desired({ 'a.yaml': 'x' }), owner: { pipeline: 'webapp', stage: 'prod', cluster: 'p-1' } };
    await assert.rejects(target.apply(other), { code: 'TARGET_OWNED_BY_OTHER' });
    assert.equal(await readFile(join(root, 'a.yaml'), 'utf8'), 'a');
  });

  it('never writes or deletes through a symbolic link that leads out of the directory', async () => {
    const root = await tempDir();
    const outside = await tempDir();
    const target = new DirTarget(root);
    const first = desired({ 'manifests/a.yaml': 'a', 'keep.yaml': 'k' });
    await target.prune(first, (await target.apply(first)).set);
    await rm(join(root, 'manifests'), { recursive: true });
    await writeFile(join(outside, 'a.yaml'), 'not yours');
    await symlink(outside, join(root, 'manifests'));
    const result = await target.apply(desired({ 'manifests/a.yaml': 'changed', 'keep.yaml': 'k' }, 'sha256:r2'));
    assert.deepEqual(result.objects.map((o) => [o.id, o.action, o.reason]), [['manifests/a.yaml', 'failed', 'PathEscapes'], ['keep.yaml', 'unchanged', undefined]]);
    const r3 = desired({ 'keep.yaml': 'k' }, 'sha256:r3');
    const pruned = await target.prune(r3, (await target.apply(r3)).set);
    assert.deepEqual(pruned.kept.map((k) => [k.id, k.reason]), [['manifests/a.yaml', 'PathEscapes']]);
    assert.equal(await readFile(join(outside, 'a.yaml'), 'utf8'), 'not yours');
  });
});
