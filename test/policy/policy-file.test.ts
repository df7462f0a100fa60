import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isPromoteError } from '../../src/errors.ts';
import { loadPolicyFile } from '../../src/pipeline/policy-file.ts';

test('policy file: a kind: Policy document is read into compiled rules', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'policy-file-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'p.yaml');
  await writeFile(file, 'apiVersion: promote/v1\nkind: Policy\nmetadata: {name: prod}\nspec:\n  rules:\n    - {name: two, match: {kinds: [Deployment]}, expression: "object.spec.replicas >= 2", message: at least two}\n');
  const policy = await loadPolicyFile(file);
  assert.equal(policy.name, 'prod');
  assert.deepEqual(policy.rules.map((r) => [r.name, r.expression.source, r.message]), [['two', 'object.spec.replicas >= 2', 'at least two']]);
  assert.equal(policy.rules[0]!.expression.test({ object: { spec: { replicas: 1 } }, promote: {} }).ok, true);
});

test('policy file: every problem at file:line:column and pointer, invalid CEL with its column; exit 4 (verification)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'policy-file-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.yaml');
  await writeFile(file, [
    'apiVersion: promote/v2',
    'kind: Policy',
    'metadata: {name: prod}',
    'spec:',
    '  rules:',
    '    - name: replicas',
    '      expression: "object.spec.replicas >= "',
    '    - name: image',
    '      expression: "image.contains(\'@\')"',
    '      extra: 1',
    '',
  ].join('\n'));
  const err = await loadPolicyFile(file).then(() => assert.fail('accepted'), (e: unknown) => e);
  assert.ok(isPromoteError(err, 'POLICY_INVALID'));
  assert.equal(err.exitCode, 4);
  const got = err.problems.map((p) => `${p.line}:${p.column} ${p.pointer} ${p.message}`);
  assert.equal(got.length, 4, got.join('\n'));
  assert.match(got[0]!, /^1:\d+ \/apiVersion apiVersion must be promote\/v1/);
  assert.match(got[1]!, /^7:19 \/spec\/rules\/0\/expression the expression is not valid CEL at column \d+/);
  assert.match(got[2]!, /^9:19 \/spec\/rules\/1\/expression .*unknown variable "image"/);
  assert.match(got[3]!, /^10:14 \/spec\/rules\/1\/extra unknown rule field "extra"/);
  assert.ok(err.problems.every((p) => p.file === file));
});
