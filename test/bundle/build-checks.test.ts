import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBundle } from '../../src/bundle/build.ts';
import { checkBundleContent } from '../../src/bundle/build-checks.ts';
import { loadBundleFile } from '../../src/bundle/bundle-file.ts';
import { contentMarks, MAY_HOLD_SECRET, MAY_REFERENCE } from '../../src/bundle/content-marks.ts';
import { walkBundle } from '../../src/bundle/walk.ts';
import { isPromoteError } from '../../src/errors.ts';
import { cleanEnv, copyFixture, tempDir } from './helpers.ts';

test('contentMarks: which checks a file needs, by a byte search', () => {
  assert.equal(contentMarks(Buffer.from('replicas: ${params.replicas}\n')), MAY_REFERENCE);
  assert.equal(contentMarks(Buffer.from('digest: ${promote.digest}\n')), MAY_REFERENCE);
  assert.equal(contentMarks(Buffer.from('kind: Secret\n')), MAY_HOLD_SECRET);
  assert.equal(contentMarks(Buffer.from('kind: Secret\nx: ${params.a}\n')), MAY_REFERENCE | MAY_HOLD_SECRET);
  assert.equal(contentMarks(Buffer.from('kind: ConfigMap\ndata: {a: b}\n')), 0);
});

test('the checks trust the marks packing found: a non-YAML file marked clean is not read again, a marked one is (every YAML manifest is read: it must parse)', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  const bad = join(dir, 'manifests', 'extra.conf');
  await writeFile(bad, 'a = ${params.undeclared}\n');
  const file = await loadBundleFile(dir);
  const entries = await walkBundle(dir);
  await assert.rejects(checkBundleContent(file, entries), (e) => isPromoteError(e, 'UNDECLARED_REFERENCE'), 'no marks: read and checked');
  await assert.rejects(checkBundleContent(file, entries, new Map([['manifests/extra.conf', MAY_REFERENCE]])), (e) => isPromoteError(e, 'UNDECLARED_REFERENCE'));
  // Marked clean and gone from disk: passing proves it was not read.
  await rm(bad);
  await checkBundleContent(file, entries, new Map([['manifests/extra.conf', 0]]));
});

test('a build still finds an undeclared reference in a manifest too large for packing to mark (over 64 KiB)', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  const filler = Array.from({ length: 3000 }, (_, i) => `  key${i}: value-${i}-${'x'.repeat(20)}`).join('\n');
  await writeFile(join(dir, 'manifests', 'big.yaml'), `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n${filler}\n  last: "\${params.undeclared}"\n`);
  await assert.rejects(buildBundle(dir, { env: cleanEnv() }), (e) => isPromoteError(e, 'UNDECLARED_REFERENCE') && e.problems.some((p) => p.file?.endsWith('big.yaml')));
});
