import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { compareEnvironment, valueDifferences } from '../../src/import/compare-objects.ts';
import { configMap, deployment } from './helpers.ts';

// The proof's comparison on in-memory values (pure).

type Json = Record<string, unknown>;

test('in-memory: objects that differ only in key order, quoting and YAML style are equal', () => {
  const a = parseAllDocuments('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: n}\ndata:\n  a: "1"\n  b: |\n    text\n').map((d) => d.toJS());
  const b = parseAllDocuments("kind: ConfigMap\ndata: {b: \"text\\n\", a: '1'}\nmetadata:\n  namespace: n\n  name: x\napiVersion: v1\n").map((d) => d.toJS());
  const result = compareEnvironment('dev', a, b);
  assert.deepEqual({ ...result, withheld: undefined }, { environment: 'dev', equal: 1, different: 0, missing: 0, extra: 0, differences: [], missingObjects: [], extraObjects: [], withheld: undefined, equivalent: true });
});

test('in-memory: each difference is named by object and JSON pointer — changed, missing and extra keys, list items', () => {
  const want = deployment('api');
  const got = structuredClone(want);
  (got.spec as Json).replicas = 2;
  delete (got.metadata as Json).namespace;
  (got.metadata as Json).labels = { 'a/b': 'x' };
  ((((got.spec as Json).template as Json).spec as Json).containers as Json[]).push({ name: 'sidecar' });
  const result = compareEnvironment('dev', [{ ...want, metadata: { ...(want.metadata as Json), namespace: 'web' } }], [{ ...got, metadata: { ...(got.metadata as Json), namespace: 'web' } }]);
  assert.equal(result.equivalent, false);
  assert.equal(result.different, 1);
  assert.deepEqual(result.differences, [
    { object: 'Deployment.apps web/api', pointer: '/metadata/labels', change: 'extra' },
    { object: 'Deployment.apps web/api', pointer: '/spec/replicas', change: 'changed' },
    { object: 'Deployment.apps web/api', pointer: '/spec/template/spec/containers/1', change: 'extra' },
  ]);
  assert.deepEqual(valueDifferences({ a: { 'x/y': 1 } }, { a: {} }), [{ pointer: '/a/x~1y', change: 'missing' }]);
});

test('in-memory: a list in another order is a difference; a number is not a string', () => {
  assert.deepEqual(valueDifferences({ l: [1, 2] }, { l: [2, 1] }), [{ pointer: '/l/0', change: 'changed' }, { pointer: '/l/1', change: 'changed' }]);
  assert.deepEqual(valueDifferences({ port: 80 }, { port: '80' }), [{ pointer: '/port', change: 'changed' }]);
  assert.deepEqual(valueDifferences({ v: null }, {}), [{ pointer: '/v', change: 'missing' }], 'a key with null is not a key left out');
});

test('in-memory: objects only the copy or only the bundle has are missing or extra, paired by group, kind, namespace and name', () => {
  const cm = configMap('c', { a: '1' });
  const other = configMap('c', { a: '1' }, 'elsewhere');
  const result = compareEnvironment('prod', [deployment('api'), cm], [deployment('api'), other, { apiVersion: 'v1' }]);
  assert.deepEqual([result.equal, result.different, result.missing, result.extra], [1, 0, 1, 2]);
  assert.deepEqual(result.missingObjects, ['ConfigMap web/c']);
  assert.deepEqual(result.extraObjects, ['ConfigMap elsewhere/c', 'document 3 of the bundle (it has no kind)']);
});

test('in-memory: withheld secrets are not differences — a whole Secret or one value — and no value appears in the result', () => {
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'web' }, data: { password: 'c2VjcmV0' } };
  const want = deployment('api');
  const got = structuredClone(want);
  (want.spec as Json).token = 'hunter2-value';
  (got.spec as Json).token = { secretRef: { name: 'api', key: 'token' } };
  const result = compareEnvironment('dev', [want, secret], [got], [
    { object: { group: '', kind: 'Secret', namespace: 'web', name: 'db' }, pointer: '' },
    { object: { group: 'apps', kind: 'Deployment', namespace: 'web', name: 'api' }, pointer: '/spec/token' },
  ]);
  assert.equal(result.equivalent, true, JSON.stringify(result));
  assert.deepEqual(result.withheld, [{ object: 'Deployment.apps web/api', pointer: '/spec/token' }, { object: 'Secret web/db', pointer: '' }]);
  const text = JSON.stringify(compareEnvironment('dev', [want], [deployment('api')]));
  assert.ok(!text.includes('hunter2'), text);
});
