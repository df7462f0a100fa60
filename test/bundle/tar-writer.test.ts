import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, createReadStream, fstatSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { entryHeaders } from '../../src/bundle/tar-header.ts';
import { writeTarGz } from '../../src/bundle/tar-writer.ts';
import { readTar } from '../../src/bundle/tar-reader.ts';
import { walkBundle } from '../../src/bundle/walk.ts';
import { createHash, randomBytes } from 'node:crypto';
import { isPromoteError } from '../../src/errors.ts';
import { tempDir } from './helpers.ts';

const LONG_DIR = 'd'.repeat(60);
const SPLITTABLE = `${LONG_DIR}/${'e'.repeat(60)}/file.yaml`; // 132 bytes: ustar prefix + name
const UNSPLITTABLE = `${LONG_DIR}/${'f'.repeat(120)}.yaml`; // name part > 100 bytes: pax path

async function packTree(files: Record<string, string>): Promise<{ tmp: Awaited<ReturnType<typeof tempDir>>; archive: string; result: Awaited<ReturnType<typeof writeTarGz>> }> {
  const tmp = await tempDir();
  const root = join(tmp.path, 'root');
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  const archive = join(tmp.path, 'out.tar.gz');
  const result = await writeTarGz(await walkBundle(root), archive);
  return { tmp, archive, result };
}

test('headers: uid/gid 0, no owner names, mtime 0 — as GNU tar reads them', async () => {
  const { tmp, archive } = await packTree({ 'a/b.yaml': 'x: 1\n' });
  await using _ = tmp;
  const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvzf', archive], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  assert.deepEqual(listing.trim().split('\n').map((l) => l.replace(/\s+/g, ' ')), [
    'drwxr-xr-x 0/0 0 1970-01-01 00:00:00 a/',
    '-rw-r--r-- 0/0 5 1970-01-01 00:00:00 a/b.yaml',
  ]);
  const tar = gunzipSync(await readFile(archive));
  assert.equal(tar.subarray(265, 297).every((b) => b === 0), true, 'uname empty');
  assert.equal(tar.subarray(297, 329).every((b) => b === 0), true, 'gname empty');
});

test('gzip header is fixed: no name, MTIME 0, OS 255; digest and size are those of the bytes written', async () => {
  const { tmp, archive, result } = await packTree({ 'x.yaml': 'hello\n' });
  await using _ = tmp;
  const bytes = await readFile(archive);
  assert.deepEqual([...bytes.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  assert.equal(result.size, bytes.length);
  assert.equal(result.digest, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
  assert.equal(result.uncompressedSize, gunzipSync(bytes).length);
  execFileSync('gzip', ['-t', archive]);
});

test('long paths: ustar prefix split when possible, pax path otherwise; GNU tar and our reader agree', async () => {
  const { tmp, archive } = await packTree({ [SPLITTABLE]: 'one\n', [UNSPLITTABLE]: 'two\n' });
  await using _ = tmp;
  const gnu = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).trim().split('\n');
  assert.ok(gnu.includes(SPLITTABLE), gnu.join('\n'));
  assert.ok(gnu.includes(UNSPLITTABLE), gnu.join('\n'));
  const ours: string[] = [];
  const { createGunzip } = await import('node:zlib');
  await readTar(createReadStream(archive).pipe(createGunzip()), async (h, body) => {
    let text = '';
    for await (const c of body) text += c.toString();
    ours.push(`${h.path}=${text.trim()}`);
  });
  assert.ok(ours.includes(`${SPLITTABLE}=one`));
  assert.ok(ours.includes(`${UNSPLITTABLE}=two`));
  // Deterministic: the same entry always gets the same header bytes.
  const a = Buffer.concat(entryHeaders({ path: UNSPLITTABLE, type: 'file', mode: 0o644, size: 4 }));
  const b = Buffer.concat(entryHeaders({ path: UNSPLITTABLE, type: 'file', mode: 0o644, size: 4 }));
  assert.deepEqual(a, b);
  assert.equal(a.length, 512 * 3, 'pax header, pax data, ustar header');
  assert.equal(Buffer.concat(entryHeaders({ path: SPLITTABLE, type: 'file', mode: 0o644, size: 4 })).length, 512, 'prefix split needs no pax');
});

test('a file that changes size while it is packed fails the build with its name', async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, 'root');
  await mkdir(root);
  await writeFile(join(root, 'grows.yaml'), 'a: 1\n');
  const entries = await walkBundle(root);
  await writeFile(join(root, 'grows.yaml'), 'a: 1\nb: 2\n');
  await assert.rejects(writeTarGz(entries, join(tmp.path, 'x.tgz')), /grows\.yaml changed size/);
});

test('a pack that fails while blocks are still compressing writes nothing after it has failed (not into a file opened next)', async () => {
  // big.bin fills four deflate blocks, all sent to the thread pool; shrunk.yaml then fails the
  // pack before the event loop turns, so none of them has finished. The file opened right after
  // the failure normally gets the closed archive's descriptor number (the lowest free one); the blocks then finish (random
  // data: well within the wait below) and must not be written anywhere.
  await using tmp = await tempDir();
  const root = join(tmp.path, 'root');
  await mkdir(root);
  await writeFile(join(root, 'big.bin'), randomBytes(2 * 1024 * 1024));
  await writeFile(join(root, 'shrunk.yaml'), 'a: 1\n'.repeat(1000));
  const entries = await walkBundle(root);
  await writeFile(join(root, 'shrunk.yaml'), 'a: 1\n');
  await assert.rejects(writeTarGz(entries, join(tmp.path, 'out.tgz')), (err) => isPromoteError(err, 'BUNDLE_CHANGED'));
  const victim = openSync(join(tmp.path, 'victim'), 'w');
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(fstatSync(victim).size, 0);
  } finally {
    closeSync(victim);
  }
});
