import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError, type PromoteError } from '../../src/errors.ts';
import { parseYaml, readYamlFile, validateDocument } from '../../src/params/document.ts';

function thrown(fn: () => unknown): PromoteError {
  try {
    fn();
  } catch (err) {
    assert.ok(isPromoteError(err), `expected a PromoteError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

async function rejected(p: Promise<unknown>): Promise<PromoteError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isPromoteError(err), `expected a PromoteError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

test('parseYaml keeps source positions: locate() finds values and keys by JSON pointer', () => {
  const doc = parseYaml('a: 1\nb:\n  c: [x, {d: "e"}]\n  "f/g": 2\n', 'p.yaml');
  assert.deepEqual(doc.value, { a: 1, b: { c: ['x', { d: 'e' }], 'f/g': 2 } });
  assert.deepEqual(doc.locate('/a'), { line: 1, column: 4 });
  assert.deepEqual(doc.locate('/b/c/1/d'), { line: 3, column: 14 });
  assert.deepEqual(doc.locate('/b/f~1g'), { line: 4, column: 10 });
  assert.deepEqual(doc.locateKey('/b/f~1g'), { line: 4, column: 3 });
  // A pointer past the document lands on the deepest parent that exists.
  assert.deepEqual(doc.locate('/b/missing'), { line: 3, column: 3 });
});

test('YAML 1.2 core schema: yes/no/on stay strings, an empty document is null', () => {
  assert.deepEqual(parseYaml('a: yes\nb: on\nc: 0o10\n', 'x.yaml').value, { a: 'yes', b: 'on', c: 8 });
  assert.equal(parseYaml('', 'x.yaml').value, null);
});

test('a syntax error is reported with its line and column and the file name', () => {
  const err = thrown(() => parseYaml('a: 1\nb: [1, 2\nc: 3\n', 'env.yaml'));
  assert.equal(err.code, 'DOCUMENT_INVALID');
  assert.equal(err.exitCode, 4);
  const p = err.problems[0]!;
  assert.equal(p.file, 'env.yaml');
  assert.equal(p.rule, 'yaml-syntax');
  assert.equal(p.line, 3);
  assert.equal(p.column, 1);
});

test('duplicate keys are an error naming the key, at the second occurrence', () => {
  const err = thrown(() => parseYaml('spec:\n  replicas: 1\n  replicas: 2\n', 'env.yaml'));
  assert.equal(err.code, 'DOCUMENT_INVALID');
  assert.deepEqual(err.problems.map((p) => [p.line, p.column, p.rule]), [[3, 3, 'duplicate-key']]);
  assert.match(err.problems[0]!.message, /duplicate key "replicas"/);
});

test('several documents in one file are refused', () => {
  const err = thrown(() => parseYaml('a: 1\n---\nb: 2\n', 'env.yaml'));
  assert.equal(err.problems[0]!.rule, 'single-document');
});

test('an alias bomb ("billion laughs") is refused by the alias limit before it expands', () => {
  let text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
  let prev = 'a';
  for (const n of 'bcdefghijklmnopq') {
    text += `${n}: &${n} [${Array(9).fill(`*${prev}`).join(',')}]\n`;
    prev = n;
  }
  const before = process.memoryUsage().heapUsed;
  const err = thrown(() => parseYaml(text, 'bomb.yaml'));
  assert.equal(err.code, 'DOCUMENT_INVALID');
  assert.equal(err.problems[0]!.rule, 'maxAliasCount');
  // 9^16 nodes fully expanded would need petabytes; bounded means a few MB at most here.
  assert.ok(process.memoryUsage().heapUsed - before < 64 * 1024 * 1024);
});

test('text over the size limit is refused; callers can pass their own limit', () => {
  const err = thrown(() => parseYaml(`a: "${'x'.repeat(200)}"\n`, 'big.yaml', { maxBytes: 100 }));
  assert.equal(err.code, 'DOCUMENT_TOO_LARGE');
  assert.equal(err.problems[0]!.rule, 'maxBytes');
});

test('readYamlFile refuses a 50 MB file by its size, without reading it (sparse file)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-doc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'huge.yaml');
  await writeFile(file, '');
  await truncate(file, 50 * 1024 * 1024);
  const err = await rejected(readYamlFile(file));
  assert.equal(err.code, 'DOCUMENT_TOO_LARGE');
  assert.equal(err.exitCode, 4);
  assert.match(err.message, /huge\.yaml is 50 MiB, over the 1 MiB limit/);
  assert.equal(err.problems[0]!.actual, `${50 * 1024 * 1024} bytes`);
});

test('readYamlFile names a missing file', async () => {
  const err = await rejected(readYamlFile('/nonexistent/environments/qa.yaml'));
  assert.equal(err.code, 'DOCUMENT_NOT_FOUND');
  assert.match(err.message, /\/nonexistent\/environments\/qa\.yaml does not exist/);
});

test('validateDocument reports every problem with file, line, column, pointer, rule, expected and actual', () => {
  const schema = {
    type: 'object',
    required: ['name', 'replicas'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', pattern: '^[a-z]+$' },
      replicas: { type: 'integer', minimum: 1 },
      port: { type: 'integer', maximum: 65535 },
      tier: { enum: ['web', 'worker'] },
    },
  };
  const doc = parseYaml('name: Web_1\nreplica: 3\nport: 70000\ntier: wrker\n', 'app.yaml');
  const err = thrown(() => validateDocument(schema, doc, 'app'));
  assert.equal(err.code, 'SCHEMA_VIOLATION');
  assert.equal(err.exitCode, 4);
  const byRule = Object.fromEntries(err.problems.map((p) => [p.rule, p]));
  assert.deepEqual(byRule.required, { file: 'app.yaml', line: 1, column: 1, pointer: '/replicas', rule: 'required', message: 'missing required property "replicas"', expected: 'a value for "replicas"', actual: 'nothing' });
  assert.equal(byRule.pattern!.pointer, '/name');
  assert.equal(byRule.pattern!.expected, 'a string matching /^[a-z]+$/');
  assert.equal(byRule.pattern!.actual, '"Web_1"');
  assert.deepEqual([byRule.pattern!.line, byRule.pattern!.column], [1, 7]);
  assert.deepEqual([byRule.additionalProperties!.line, byRule.additionalProperties!.column, byRule.additionalProperties!.pointer], [2, 1, '/replica']);
  assert.equal(byRule.additionalProperties!.hint, 'did you mean "replicas"?');
  assert.equal(byRule.maximum!.expected, '<= 65535');
  assert.equal(byRule.maximum!.actual, '70000');
  assert.equal(byRule.enum!.hint, 'did you mean "worker"?');
});

test('values of writeOnly / x-promote-secret properties are never echoed', () => {
  const schema = { type: 'object', properties: { password: { type: 'integer', writeOnly: true }, token: { type: 'string', minLength: 40, 'x-promote-secret': true } } };
  const doc = parseYaml('password: hunter2\ntoken: s3cr3t\n', 'env.yaml');
  const err = thrown(() => validateDocument(schema, doc, 'env'));
  assert.equal(err.problems.length, 2);
  const all = JSON.stringify({ message: err.message, problems: err.problems });
  assert.doesNotMatch(all, /hunter2|s3cr3t/);
});
