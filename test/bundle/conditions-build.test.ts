import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBundle } from '../../src/bundle/build.ts';
import { contentProblems } from '../../src/bundle/build-checks.ts';
import { isPromoteError, type PromoteError } from '../../src/errors.ts';
import { declaredTypes } from '../../src/params/schema-path.ts';
import { cleanEnv, copyFixture, tempDir } from './helpers.ts';

// The build-time side of conditional documents and null-dropped keys (issue 15): `promote build`
// (and validate, through the same checks) refuses a condition the parameter schema does not
// back, with file:line, the JSON pointer and a hint. Real builds of a copied fixture bundle.

const SCHEMA = {
  type: 'object',
  required: ['namespace'],
  properties: {
    namespace: { type: 'string' },
    replicas: { type: 'integer', default: 1 },
    debug: { type: 'boolean', default: false },
    tier: { type: 'string', default: 'web' },
    maybeDebug: { type: ['boolean', 'null'] },
    cpuLimit: { type: ['string', 'null'], default: null },
    priority: { oneOf: [{ type: 'string' }, { type: 'null' }] },
  },
};

const debugDeployment = (condition: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: debug\n  annotations:\n    promote.dev/include-when: "${condition}"\nspec:\n  replicas: 1\n`;

async function bundleWith(dir: string, files: Record<string, string>): Promise<string> {
  const bundle = await copyFixture(dir);
  await writeFile(join(bundle, 'params.schema.json'), JSON.stringify(SCHEMA));
  for (const [path, text] of Object.entries(files)) await writeFile(join(bundle, path), text);
  return bundle;
}

async function refused(files: Record<string, string>, code: string): Promise<PromoteError> {
  await using tmp = await tempDir();
  const dir = await bundleWith(tmp.path, files);
  try {
    await (await buildBundle(dir, { env: cleanEnv() })).dispose();
  } catch (err) {
    assert.ok(isPromoteError(err, code as never), String(err));
    return err;
  }
  assert.fail(`expected ${code}`);
}

test('a bundle with a boolean include-when and a nullable key-dropping reference builds', async () => {
  await using tmp = await tempDir();
  const dir = await bundleWith(tmp.path, {
    'manifests/debug.yaml': debugDeployment('${params.debug}'),
    'manifests/pdb.yaml': 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web, annotations: {promote.dev/include-when: "!${params.debug}"}}\nspec:\n  minAvailable: 1\n  priority: ${params.priority}\n  cpu: ${params.cpuLimit}\n',
  });
  await using built = await buildBundle(dir, { env: cleanEnv() });
  assert.match(built.manifest.descriptor.digest, /^sha256:[0-9a-f]{64}$/);
});

test('build refuses an include-when on a string-typed parameter, with file:line, the pointer and a hint (exit 4)', async () => {
  const err = await refused({ 'manifests/debug.yaml': debugDeployment('${params.tier}') }, 'CONDITION_INVALID');
  assert.equal(err.exitCode, 4);
  assert.deepEqual(err.problems.map((p) => [p.file, p.line, p.column, p.pointer, p.rule]), [['manifests/debug.yaml', 6, 32, '/metadata/annotations/promote.dev~1include-when', 'include-when']]);
  assert.match(err.problems[0]!.message, /\$\{params\.tier\} must be a boolean parameter, but the parameter schema declares it as string/);
  assert.match(err.problems[0]!.hint!, /"type": "boolean"/);
  assert.match(err.message, /cannot build hello: 1 condition the schema does not back/);
});

test('build refuses an include-when on a nullable boolean: null would fail every render', async () => {
  const err = await refused({ 'manifests/debug.yaml': debugDeployment('!${params.maybeDebug}') }, 'CONDITION_INVALID');
  assert.match(err.problems[0]!.message, /declares it as boolean or null/);
});

test('build refuses an include-when on an undeclared parameter, with file:line, the pointer and a did-you-mean', async () => {
  const err = await refused({ 'manifests/debug.yaml': debugDeployment('${params.debgu}') }, 'UNDECLARED_REFERENCE');
  // Reported once, by the reference check, not a second time as a condition.
  assert.deepEqual(err.problems.map((p) => [p.file, p.line, p.column, p.pointer, p.rule, p.hint]), [['manifests/debug.yaml', 6, 32, '/metadata/annotations/promote.dev~1include-when', 'undeclared-reference', 'did you mean ${params.debug}?']]);
});

test('build refuses an include-when that is not one reference, and one outside the document\'s own metadata', async () => {
  const err = await refused(
    {
      'manifests/debug.yaml': debugDeployment('true'),
      'manifests/nested.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: n}\nspec:\n  template:\n    metadata:\n      annotations:\n        promote.dev/include-when: "${params.debug}"\n',
    },
    'CONDITION_INVALID',
  );
  assert.deepEqual(err.problems.map((p) => [p.file, p.line, p.pointer]), [
    ['manifests/debug.yaml', 6, '/metadata/annotations/promote.dev~1include-when'],
    ['manifests/nested.yaml', 8, '/spec/template/metadata/annotations/promote.dev~1include-when'],
  ]);
  assert.match(err.problems[0]!.message, /must be one boolean parameter/);
  assert.match(err.problems[1]!.message, /acts only in a document's own metadata\.annotations/);
});

test('build refuses a nullable parameter where a null cannot drop a key (in a string, a quoted scalar, a list item, a text file)', async () => {
  const err = await refused(
    {
      'manifests/config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  url: http://${params.cpuLimit}/\n  quoted: "${params.priority}"\n  list:\n    - ${params.cpuLimit}\n  fine: ${params.cpuLimit}\n',
      'manifests/app.conf': 'limit = ${params.cpuLimit}\n',
    },
    'CONDITION_INVALID',
  );
  assert.deepEqual(err.problems.map((p) => [p.file, p.line, p.column, p.pointer, p.rule]), [
    ['manifests/app.conf', 1, 9, undefined, 'nullable-reference'],
    ['manifests/config.yaml', 5, 15, '/data/url', 'nullable-reference'],
    ['manifests/config.yaml', 6, 12, '/data/quoted', 'nullable-reference'],
    ['manifests/config.yaml', 8, 7, '/data/list/0', 'nullable-reference'],
  ].sort());
  assert.match(err.problems[0]!.message, /can be null \(the parameter schema allows null\), and here a null would be rendered as null/);
});

test('validate judges conditions as build does (the same checks)', () => {
  const problems = contentProblems([{ path: 'manifests/debug.yaml', content: new TextEncoder().encode(debugDeployment('${params.tier}')) }], { layout: { manifests: 'manifests/' }, schema: SCHEMA, allowSecrets: false });
  assert.deepEqual(problems.map((p) => [p.line, p.rule]), [[6, 'include-when']]);
});

test('declaredTypes reads type, type lists, const, enum, oneOf/anyOf/allOf and $ref', () => {
  const schema = {
    $defs: { flag: { type: 'boolean' } },
    properties: {
      a: { type: 'boolean' },
      b: { type: ['string', 'null'] },
      c: { $ref: '#/$defs/flag' },
      d: { enum: [true, false] },
      e: { anyOf: [{ type: 'boolean' }, { const: null }] },
      f: { allOf: [{ type: ['boolean', 'string'] }, { type: 'boolean' }] },
      g: { description: 'anything' },
      h: { type: 'object', properties: { x: { type: 'boolean' } } },
    },
  };
  const types = (...path: string[]) => {
    const t = declaredTypes(schema, path);
    return t && [...t].sort();
  };
  assert.deepEqual(types('a'), ['boolean']);
  assert.deepEqual(types('b'), ['null', 'string']);
  assert.deepEqual(types('c'), ['boolean']);
  assert.deepEqual(types('d'), ['boolean']);
  assert.deepEqual(types('e'), ['boolean', 'null']);
  assert.deepEqual(types('f'), ['boolean']);
  assert.equal(types('g'), undefined);
  assert.deepEqual(types('h', 'x'), ['boolean']);
  assert.equal(types('nope'), undefined);
});
