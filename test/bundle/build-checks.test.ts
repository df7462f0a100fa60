import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBundle } from '../../src/bundle/build.ts';
import { checkBundleContent, checkBundleFile, type ContentProblems } from '../../src/bundle/build-checks.ts';
import { loadBundleFile } from '../../src/bundle/bundle-file.ts';
import { contentMarks, MAY_HOLD_SECRET, MAY_REFERENCE } from '../../src/bundle/content-marks.ts';
import { manifestValues, readManifest } from '../../src/bundle/manifest-yaml.ts';
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

test('build refuses every manifest whose expansion a reader refuses (alias bomb, unknown anchor, merge of a non-map), with allowSecrets too: the same problem, file:line', () => {
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n');
  const refused: Record<string, string> = {
    'an alias bomb': `kind: ConfigMap\ndata:\n  ${bomb.split('\n').join('\n  ')}\n`,
    'an alias to no anchor': 'kind: ConfigMap\ndata: {a: *nowhere}\n',
    'a merge key on a scalar': 'kind: ConfigMap\ndata:\n  a: b\n  <<: 1\n',
    'a !!merge-tagged key': 'kind: ConfigMap\ndata:\n  a: b\n  !!merge c: 1\n',
    'the bad document second in the file': 'kind: ConfigMap\ndata: {a: b}\n---\nkind: ConfigMap\ndata:\n  <<: [1]\n',
  };
  for (const [name, text] of Object.entries(refused)) {
    const bytes = Buffer.from(text);
    const reader = manifestValues(readManifest('manifests/m.yaml', bytes)); // as render and the agent read it
    assert.ok('problem' in reader, `${name}: a reader refuses it`);
    for (const allowSecrets of [true, false]) {
      const out: ContentProblems = { unreadable: [], references: [], conditions: [], secrets: [] };
      checkBundleFile('manifests/m.yaml', bytes, { layout: { manifests: 'manifests/' }, schema: { type: 'object' }, allowSecrets }, out);
      assert.deepEqual(out.unreadable, [reader.problem], `${name} (allowSecrets: ${allowSecrets}): build refuses it as the reader does`);
    }
  }
  // A plain tree with an anchor but no alias, merge or tagged key, and no Secret: nothing to refuse.
  const out: ContentProblems = { unreadable: [], references: [], conditions: [], secrets: [] };
  checkBundleFile('manifests/m.yaml', Buffer.from('kind: ConfigMap\ndata: {a: &x b, "1": 2, ? c : d}\n---\n---\nkind: ConfigMap\n'), { layout: { manifests: 'manifests/' }, schema: { type: 'object' }, allowSecrets: false }, out);
  assert.deepEqual(out, { unreadable: [], references: [], conditions: [], secrets: [] });
});
