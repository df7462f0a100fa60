import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extractBundleLayer, listBundleLayer, type ExtractLimits } from '../../src/bundle/extract.ts';
import { isPromoteError, type ErrorCode } from '../../src/errors.ts';
import { craftTarGz, tempDir, type CraftedEntry } from './helpers.ts';

async function extract(entries: CraftedEntry[], limits: ExtractLimits = {}) {
  const tmp = await tempDir();
  const dest = join(tmp.path, 'out');
  await mkdir(dest);
  const run = extractBundleLayer(Readable.from([craftTarGz(entries)]), dest, 'test bundle', limits);
  return { tmp, dest, run };
}

async function expectRefused(entries: CraftedEntry[], code: ErrorCode, mention: RegExp, limits: ExtractLimits = {}): Promise<void> {
  const { tmp, run } = await extract(entries, limits);
  await using _ = tmp;
  await assert.rejects(run, (err) => {
    assert.ok(isPromoteError(err, code), String(err));
    assert.equal(err.outcome, 'verification');
    assert.match(err.message, mention);
    return true;
  });
  // Nothing escaped next to the destination.
  assert.deepEqual(await readdir(tmp.path), ['out']);
}

test('a well-formed archive extracts with normalised modes (a "./" root entry is fine)', async () => {
  const { tmp, dest, run } = await extract([
    { name: './', type: '5', mode: 0o700 },
    { name: './dir/', type: '5', mode: 0o700 },
    { name: './dir/run.sh', content: '#!/bin/sh\n', mode: 0o700 },
    { name: 'a.yaml', content: 'a: 1\n', mode: 0o600 },
  ]);
  await using _ = tmp;
  const summary = await run;
  assert.equal(summary.files, 2);
  assert.equal(summary.directories, 1);
  assert.equal(await readFile(join(dest, 'a.yaml'), 'utf8'), 'a: 1\n');
  assert.equal((await stat(join(dest, 'dir', 'run.sh'))).mode & 0o777, 0o755);
  assert.equal((await stat(join(dest, 'a.yaml'))).mode & 0o777, 0o644);
});

test('entries with ".." are refused, whatever their position', async () => {
  await expectRefused([{ name: '../evil.yaml', content: 'x' }], 'BUNDLE_ENTRY_REFUSED', /"\.\.\/evil\.yaml" that climbs out of the bundle/);
  await expectRefused([{ name: 'a/../../evil.yaml', content: 'x' }], 'BUNDLE_ENTRY_REFUSED', /climbs out/);
});

test('absolute paths are refused', async () => {
  await expectRefused([{ name: '/etc/cron.d/evil', content: 'x' }], 'BUNDLE_ENTRY_REFUSED', /"\/etc\/cron\.d\/evil" that is an absolute path/);
});

test('symbolic and hard links are refused, inside or outside the bundle', async () => {
  await expectRefused([{ name: 'escape', type: '2', linkname: '/etc' }], 'BUNDLE_ENTRY_REFUSED', /is a symbolic link \(to "\/etc"\)/);
  await expectRefused([{ name: 'a', content: 'x' }, { name: 'b', type: '2', linkname: 'a' }], 'BUNDLE_ENTRY_REFUSED', /symbolic link/);
  await expectRefused([{ name: 'h', type: '1', linkname: '../../etc/passwd' }], 'BUNDLE_ENTRY_REFUSED', /is a hard link/);
});

test('device files and FIFOs are refused', async () => {
  await expectRefused([{ name: 'null', type: '3' }], 'BUNDLE_ENTRY_REFUSED', /"null" that is a device file/);
  await expectRefused([{ name: 'disk', type: '4' }], 'BUNDLE_ENTRY_REFUSED', /device file/);
  await expectRefused([{ name: 'pipe', type: '6' }], 'BUNDLE_ENTRY_REFUSED', /is a FIFO/);
});

test('a path that appears twice is refused (a second entry could replace the first)', async () => {
  await expectRefused([{ name: 'a.yaml', content: '1' }, { name: './a.yaml', content: '2' }], 'BUNDLE_ENTRY_REFUSED', /appears twice/);
});

test('size limits: one entry over the per-file limit, or all entries over the total', async () => {
  await expectRefused([{ name: 'big', content: 'x'.repeat(2000) }], 'BUNDLE_TOO_LARGE', /"big" of 2000 bytes, over the limit of 1000/, { maxEntryBytes: 1000 });
  await expectRefused(
    [{ name: 'a', content: 'x'.repeat(600) }, { name: 'b', content: 'x'.repeat(600) }],
    'BUNDLE_TOO_LARGE',
    /unpacks to more than 1000 bytes/,
    { maxTotalBytes: 1000 },
  );
  await expectRefused([{ name: 'a' }, { name: 'b' }, { name: 'c' }], 'BUNDLE_TOO_LARGE', /more than 2 entries/, { maxEntries: 2 });
});

test('a header claiming more data than the archive holds is refused as malformed', async () => {
  await expectRefused([{ name: 'short', content: 'abc', size: 100000 }], 'TAR_MALFORMED', /not a valid tar archive/);
});

test('listing applies the same checks and writes nothing', async () => {
  const listed = await listBundleLayer(Readable.from([craftTarGz([{ name: 'x/', type: '5' }, { name: 'x/y', content: 'hello' }])]), 'test');
  assert.deepEqual(listed.entries, [
    { path: 'x', type: 'directory', mode: 0o755, size: 0 },
    { path: 'x/y', type: 'file', mode: 0o644, size: 5 },
  ]);
  await assert.rejects(listBundleLayer(Readable.from([craftTarGz([{ name: '../x', content: '' }])]), 'test'), /climbs out/);
  assert.equal(existsSync('x'), false);
});

test('directories a path implies count as entries, and all paths together are limited in bytes', async () => {
  // One entry, three implied directories: four entries in all.
  await expectRefused([{ name: 'a/b/c/file', content: '' }], 'BUNDLE_TOO_LARGE', /more than 3 entries \(directories its paths imply included\)/, { maxEntries: 3 });
  await expectRefused([{ name: 'x'.repeat(60), content: '' }, { name: 'y'.repeat(60), content: '' }], 'BUNDLE_TOO_LARGE', /more than 100 bytes of paths in all/, { maxPathsBytes: 100 });
});
