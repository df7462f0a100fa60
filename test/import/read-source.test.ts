import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isPromoteError } from '../../src/errors.ts';
import { parseSource, readSource } from '../../src/import/read-source.ts';
import { tempDir } from '../bundle/helpers.ts';

// The source adapter on directories and files of manifests (kustomize overlays: import-cli.test.ts).

const ctx = (cwd: string) => ({ cwd, env: {} });

test('a source names its environment, explicitly (env=path) or by its last path component', () => {
  assert.deepEqual(parseSource('dev=overlays/x'), { environment: 'dev', path: 'overlays/x' });
  assert.deepEqual(parseSource('overlays/staging/'), { environment: 'staging', path: 'overlays/staging/' });
  assert.deepEqual(parseSource('rendered/prod.yaml'), { environment: 'prod', path: 'rendered/prod.yaml' });
  assert.deepEqual(parseSource('./a=b/dev'), { environment: 'dev', path: './a=b/dev' });
});

test('a directory of manifests is read recursively in path order, a List is its items, and a file is one YAML stream', async () => {
  await using tmp = await tempDir();
  await mkdir(join(tmp.path, 'dev', 'sub'), { recursive: true });
  await writeFile(join(tmp.path, 'dev', 'b.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\n---\napiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Service, metadata: {name: s}}\n');
  await writeFile(join(tmp.path, 'dev', 'sub', 'a.json'), '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}');
  await writeFile(join(tmp.path, 'dev', 'README.md'), '# not a manifest');
  const dev = await readSource(parseSource('dev'), ctx(tmp.path));
  assert.equal(dev.name, 'dev');
  assert.deepEqual(dev.objects.map((o) => [o.source, (o.value.metadata as { name: string }).name]), [['dev/b.yaml', 'b'], ['dev/b.yaml', 's'], ['dev/sub/a.json', 'a']]);
  await writeFile(join(tmp.path, 'prod.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\n');
  const prod = await readSource(parseSource('prod.yaml'), ctx(tmp.path));
  assert.deepEqual([prod.name, prod.objects.length], ['prod', 1]);
});

test('a source that does not exist, or holds YAML promote cannot read, is refused naming the file and line', async () => {
  await using tmp = await tempDir();
  await assert.rejects(readSource(parseSource('nowhere'), ctx(tmp.path)), (err) => isPromoteError(err, 'IMPORT_SOURCE_NOT_FOUND') && err.outcome === 'usage');
  await mkdir(join(tmp.path, 'dev'));
  await writeFile(join(tmp.path, 'dev', 'x.yaml'), 'a: 1\na: 2\n');
  await assert.rejects(readSource(parseSource('dev'), ctx(tmp.path)), (err) => isPromoteError(err, 'IMPORT_SOURCE_INVALID') && /dev\/x\.yaml:2: duplicate key "a"/.test(err.message));
});
