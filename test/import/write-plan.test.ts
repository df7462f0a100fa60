import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isPromoteError } from '../../src/errors.ts';
import { planImport, type ImportPlan } from '../../src/import/plan-import.ts';
import { writeImportPlan } from '../../src/import/write-plan.ts';
import { tempDir } from '../bundle/helpers.ts';
import { deployment, environments } from './helpers.ts';

// The writer, on the real file system.

const plan = planImport(environments(['dev', [deployment('api')]], ['prod', [deployment('api', { replicas: 3 })]]), { name: 'api' });

async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; outcome: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(isPromoteError(err), String(err));
    return { code: err.code, outcome: err.outcome };
  }
  assert.fail('expected a refusal');
}

test('writes every planned file under --out, byte for byte, and nothing else', async () => {
  await using tmp = await tempDir();
  const out = join(tmp.path, 'project');
  const written = await writeImportPlan(plan, out);
  assert.deepEqual(written, plan.files.map((f) => f.path));
  assert.deepEqual(await tree(out), plan.files.map((f) => f.path).sort());
  for (const f of plan.files) assert.equal(await readFile(join(out, f.path), 'utf8'), f.content);
  assert.deepEqual((await readdir(tmp.path)).sort(), ['project'], 'no temporary directory is left beside it');
});

test('an empty --out is used; a non-empty one is refused and left exactly as it was', async () => {
  await using tmp = await tempDir();
  const empty = join(tmp.path, 'empty');
  await mkdir(empty);
  await writeImportPlan(plan, empty);
  assert.ok((await tree(empty)).includes('bundles/api/bundle.yaml'));
  const full = join(tmp.path, 'full');
  await mkdir(full);
  await writeFile(join(full, 'keep.txt'), 'mine');
  assert.deepEqual(await refusal(writeImportPlan(plan, full)), { code: 'IMPORT_OUTPUT_NOT_EMPTY', outcome: 'usage' });
  assert.deepEqual(await tree(full), ['keep.txt']);
  assert.equal(await readFile(join(full, 'keep.txt'), 'utf8'), 'mine');
  const file = join(tmp.path, 'a-file');
  await writeFile(file, 'x');
  assert.deepEqual(await refusal(writeImportPlan(plan, file)), { code: 'IMPORT_OUTPUT_NOT_EMPTY', outcome: 'usage' });
  assert.deepEqual((await readdir(tmp.path)).sort(), ['a-file', 'empty', 'full']);
});

test('an --out that cannot be written is IMPORT_OUTPUT_UNWRITABLE, and a failure half-way leaves nothing behind', async () => {
  await using tmp = await tempDir();
  const blocker = join(tmp.path, 'blocker');
  await writeFile(blocker, 'x');
  assert.deepEqual(await refusal(writeImportPlan(plan, join(blocker, 'out'))), { code: 'IMPORT_OUTPUT_UNWRITABLE', outcome: 'failed' });
  // A plan whose second file cannot be written (its directory is a file the plan wrote first).
  const broken: ImportPlan = { ...plan, files: [{ path: 'a', content: '1' }, { path: 'a/b', content: '2' }] };
  const out = join(tmp.path, 'out');
  assert.deepEqual(await refusal(writeImportPlan(broken, out)), { code: 'IMPORT_OUTPUT_UNWRITABLE', outcome: 'failed' });
  assert.deepEqual((await readdir(tmp.path)).sort(), ['blocker'], 'neither --out nor a temporary directory remains');
});
