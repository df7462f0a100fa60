import assert from 'node:assert/strict';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LayoutRegistry } from '../src/oci/layout-registry.ts';
import { ReportMarks } from '../src/promotion/report-marks.ts';
import { generateKeyFiles } from '../src/signing/keygen.ts';
import { writeFileAtomic } from '../src/write-file-atomic.ts';

// One atomic write for the agent's state, an OCI layout's index, the report marks and keys
// (--force): temp file, fsync it, rename, fsync the directory. The fsync order is observed by
// wrapping node:fs/promises `open` in-process (a spy, not a fake: the writes are real).

const base = await mkdtemp(join(tmpdir(), 'promote-atomic-'));
after(() => rm(base, { recursive: true, force: true }));

const fsp = createRequire(import.meta.url)('node:fs/promises') as typeof import('node:fs/promises');

/** Runs `fn` while recording every fsync, as `file <path>` / `dir <path>`, plus renames. */
async function recordSyncs(fn: () => Promise<unknown>): Promise<string[]> {
  const log: string[] = [];
  const { open, rename } = fsp;
  fsp.open = (async (path: string, ...rest: unknown[]) => {
    const handle = (await (open as (...a: unknown[]) => Promise<FileHandle>)(path, ...rest));
    const sync = handle.sync.bind(handle);
    handle.sync = async () => {
      await sync();
      log.push(`${(await stat(path)).isDirectory() ? 'dir' : 'file'} ${String(path)}`);
    };
    return handle;
  }) as typeof open;
  fsp.rename = (async (from: string, to: string) => {
    await rename(from, to);
    log.push(`rename -> ${to}`);
  }) as typeof rename;
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    fsp.open = open;
    fsp.rename = rename;
    syncBuiltinESMExports();
  }
  return log;
}

/** The fsyncs around the final write of `target`: the temp file, the rename, then its directory. */
function assertDurable(log: string[], target: string, dir: string): void {
  const renamed = log.indexOf(`rename -> ${target}`);
  assert.ok(renamed > 0, `renamed into place: ${log.join(', ')}`);
  assert.match(log[renamed - 1]!, new RegExp(`^file ${dir}/\\.`), 'the temp file is fsynced before the rename');
  assert.equal(log[renamed + 1], `dir ${dir}`, 'the directory is fsynced after the rename');
}

test('writeFileAtomic: content in place, fsync of the file before the rename and of the directory after', async () => {
  const dir = join(base, 'plain');
  const target = join(dir, 'state.json');
  const log = await recordSyncs(() => writeFileAtomic(target, '{"a":1}\n'));
  assert.equal(await readFile(target, 'utf8'), '{"a":1}\n');
  assertDurable(log, target, dir);
  await writeFileAtomic(target, { text: ['{"a":', '2}\n'] });
  assert.equal(await readFile(target, 'utf8'), '{"a":2}\n');
  assert.deepEqual(await readdir(dir), ['state.json'], 'no temp file left');
});

test('writeFileAtomic: the mode is set exactly, and a failed write leaves the old file and no temp', async () => {
  const dir = join(base, 'mode');
  const target = join(dir, 'key');
  await writeFileAtomic(target, 'old', { mode: 0o600 });
  assert.equal((await stat(target)).mode & 0o777, 0o600);
  await assert.rejects(writeFileAtomic(target, { source: join(dir, 'missing') }), /ENOENT/);
  assert.equal(await readFile(target, 'utf8'), 'old');
  assert.deepEqual(await readdir(dir), ['key']);
});

test('the OCI layout index, the report marks and keygen --force write through it (durably)', async () => {
  const layout = join(base, 'layout');
  const registry = new LayoutRegistry(layout);
  const config = Buffer.from('{}');
  const log1 = await recordSyncs(async () => {
    await registry.pushBlob({ mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 }, config);
    await registry.pushManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 }, layers: [] })), 'application/vnd.oci.image.manifest.v1+json', 'v1');
  });
  assertDurable(log1, join(layout, 'index.json'), layout);

  const marks = new ReportMarks(join(base, 'marks'));
  const key = { repository: 'r', pipeline: 'p', stage: 's', cluster: 'c' };
  const log2 = await recordSyncs(() => marks.see(key, 3));
  assertDurable(log2, marks.path(key), marks.dir);
  assert.equal(await marks.highest(key), 3);

  const name = join(base, 'keys', 'ci');
  await mkdir(join(base, 'keys'));
  await generateKeyFiles(name, { password: '' });
  await writeFile(`${name}.key`, 'to be replaced');
  const log3 = await recordSyncs(() => generateKeyFiles(name, { password: '', force: true }));
  assertDurable(log3, `${name}.key`, join(base, 'keys'));
  assert.equal((await stat(`${name}.key`)).mode & 0o777, 0o600);
  assert.match(await readFile(`${name}.key`, 'utf8'), /ENCRYPTED SIGSTORE PRIVATE KEY/);
});
