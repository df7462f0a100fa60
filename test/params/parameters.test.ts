import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isPromoteError, type PromoteError } from '../../src/errors.ts';
import { loadEnvironment } from '../../src/params/environment.ts';
import { loadParameterSchema, parameterSchema } from '../../src/params/parameter-schema.ts';
import { environmentProblems, resolveParameters } from '../../src/params/parameters.ts';
import { PARAMS_SCHEMA, environmentYaml, makeProject } from './project.ts';

async function rejected(p: Promise<unknown> | (() => unknown)): Promise<PromoteError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    assert.ok(isPromoteError(err), `expected a PromoteError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

const schema = parameterSchema(PARAMS_SCHEMA, 'params.schema.json');

test('defaults from the schema are applied to the resolved parameters', async (t) => {
  const dir = await makeProject(t);
  const env = await loadEnvironment(dir, 'dev');
  const resolved = resolveParameters(env, schema);
  assert.deepEqual(resolved.values, { namespace: 'dev', replicas: 1, debug: false, resources: { cpu: '100m' }, hosts: [] });
  assert.deepEqual(resolved.defaults.sort(), ['debug', 'hosts', 'resources.cpu']);
});

test('cluster overrides are deep-merged over the environment and validated as a whole', async (t) => {
  const dir = await makeProject(t, {
    'environments/prod.yaml': environmentYaml(
      'prod',
      '  parameters:\n    namespace: prod\n    replicas: 3\n    resources: {cpu: 500m, memory: 1Gi}\n    hosts: [a, b]\n  clusters:\n    - name: eu\n    - name: us\n      parameters:\n        region: us-east-1\n        resources: {cpu: "1"}\n        hosts: [c]\n',
    ),
  });
  const env = await loadEnvironment(dir, 'prod');
  assert.deepEqual(resolveParameters(env, schema, 'eu').values.resources, { cpu: '500m', memory: '1Gi' });
  const us = resolveParameters(env, schema, 'us');
  assert.equal(us.cluster, 'us');
  assert.deepEqual(us.values.resources, { cpu: '1', memory: '1Gi' });
  assert.deepEqual(us.values.hosts, ['c'], 'lists are replaced whole, not merged');
  assert.equal(us.values.region, 'us-east-1');
});

test('a bad cluster override is placed in the cluster entry of the environment file', async (t) => {
  const dir = await makeProject(t, {
    'environments/prod.yaml': environmentYaml('prod', '  parameters:\n    namespace: prod\n    replicas: 3\n  clusters:\n    - name: eu\n    - name: us\n      parameters:\n        replicas: 30\n'),
  });
  const env = await loadEnvironment(dir, 'prod');
  const err = await rejected(() => resolveParameters(env, schema, 'us'));
  assert.equal(err.code, 'PARAMETERS_INVALID');
  assert.equal(err.exitCode, 4);
  const p = err.problems[0]!;
  assert.equal(p.file, join(dir, 'environments/prod.yaml'));
  assert.deepEqual([p.line, p.column, p.pointer, p.rule, p.expected, p.actual], [13, 19, '/spec/clusters/1/parameters/replicas', 'maximum', '<= 10', '30']);
  // The other cluster is fine on its own.
  assert.equal(resolveParameters(env, schema, 'eu').values.replicas, 3);
});

test('every problem at once: wrong type, missing, unknown with did-you-mean, range, pattern, format', async (t) => {
  const dir = await makeProject(t, {
    'environments/dev.yaml': environmentYaml('dev', '  parameters:\n    namespace: Dev_1\n    replica: 3\n    debug: "yes"\n    hostname: "not a host"\n    region: eu-west-2\n'),
  });
  const env = await loadEnvironment(dir, 'dev');
  const problems = environmentProblems(env, schema);
  const byRule = Object.fromEntries(problems.map((p) => [p.rule, p]));
  assert.deepEqual(Object.keys(byRule).sort(), ['enum', 'format', 'pattern', 'required', 'type', 'unevaluatedProperties'].sort());
  assert.deepEqual(byRule.type, { file: join(dir, 'environments/dev.yaml'), line: 9, column: 12, pointer: '/spec/parameters/debug', rule: 'type', message: 'must be boolean', expected: 'boolean', actual: 'string "yes"' });
  assert.equal(byRule.required!.pointer, '/spec/parameters/replicas');
  assert.equal(byRule.unevaluatedProperties!.pointer, '/spec/parameters/replica');
  assert.deepEqual([byRule.unevaluatedProperties!.line, byRule.unevaluatedProperties!.column], [8, 5]);
  assert.equal(byRule.unevaluatedProperties!.hint, 'did you mean "replicas"?');
  assert.equal(byRule.pattern!.actual, '"Dev_1"');
  assert.equal(byRule.format!.expected, 'format "hostname"');
  assert.equal(byRule.enum!.hint, 'did you mean "eu-west-1"?');
});

test('unknown parameters are allowed only where the schema says so', async (t) => {
  const open = parameterSchema({ type: 'object', additionalProperties: true, properties: { a: { type: 'string' } } }, 'open.json');
  const dir = await makeProject(t, { 'environments/dev.yaml': environmentYaml('dev', '  parameters:\n    a: x\n    anything: 1\n') });
  const env = await loadEnvironment(dir, 'dev');
  assert.deepEqual(resolveParameters(env, open).values, { a: 'x', anything: 1 });
});

test('a secret given as a literal is refused and its value never appears in the error', async (t) => {
  const dir = await makeProject(t, {
    'environments/dev.yaml': environmentYaml('dev', '  parameters:\n    namespace: dev\n    replicas: 1\n    apiKey: sk-live-0123456789\n    db:\n      host: db\n      password: hunter2-literal\n'),
  });
  const env = await loadEnvironment(dir, 'dev');
  const err = await rejected(() => resolveParameters(env, schema));
  assert.deepEqual(err.problems.map((p) => [p.pointer, p.rule, p.expected, p.line]), [
    ['/spec/parameters/apiKey', 'secret', '{secretRef: {name, key}}', 9],
    ['/spec/parameters/db/password', 'secret', '{secretRef: {name, key}}', 12],
  ]);
  const everything = JSON.stringify({ message: err.message, hint: err.hint, problems: err.problems, details: err.details });
  assert.doesNotMatch(everything, /sk-live|hunter2/);
});

test('a secret given as a reference is accepted and resolves to the reference', async (t) => {
  const dir = await makeProject(t, {
    'environments/dev.yaml': environmentYaml('dev', '  parameters:\n    namespace: dev\n    replicas: 1\n    db: {password: {secretRef: {name: db-credentials, key: password}}}\n'),
  });
  const env = await loadEnvironment(dir, 'dev');
  assert.deepEqual(resolveParameters(env, schema).values.db, { password: { secretRef: { name: 'db-credentials', key: 'password' } } });
});

test('a schema that is itself invalid is refused, naming the schema file', async (t) => {
  const dir = await makeProject(t, { 'params.schema.json': { type: 'object', properties: { replicas: { type: 'integr' } } } });
  const err = await rejected(loadParameterSchema(join(dir, 'params.schema.json')));
  assert.equal(err.code, 'SCHEMA_INVALID');
  assert.equal(err.exitCode, 4);
  assert.match(err.message, /params\.schema\.json is not a valid JSON Schema/);
  const strict = await rejected(() => parameterSchema({ type: 'object', properties: { a: { type: 'string', minimun: 1 } } }, 'typo.schema.json'));
  assert.match(strict.message, /typo\.schema\.json is not a valid JSON Schema: strict mode: unknown keyword: "minimun"/);
  // Draft-07 is compiled as 2020-12 (params/draft-07.ts, for charts' values.schema.json); older drafts are not.
  const draft4 = await rejected(() => parameterSchema({ $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' }, 'old.schema.json'));
  assert.match(draft4.message, /old\.schema\.json declares \$schema "http:\/\/json-schema\.org\/draft-04\/schema#"; parameter schemas are JSON Schema 2020-12/);
});

test('compiled validators are cached by schema digest', () => {
  const a = parameterSchema(structuredClone(PARAMS_SCHEMA), 'a.json');
  const b = parameterSchema(structuredClone(PARAMS_SCHEMA), 'b.json');
  assert.equal(a.digest, b.digest);
  assert.equal(a.validate, b.validate);
});

test('an environment whose name differs from its file, or with a cluster listed twice, is refused', async (t) => {
  const dir = await makeProject(t, {
    'environments/qa.yaml': environmentYaml('staging', '  parameters: {}\n  clusters:\n    - name: a\n    - name: a\n'),
  });
  const err = await rejected(loadEnvironment(dir, 'qa'));
  assert.equal(err.code, 'ENVIRONMENT_INVALID');
  assert.deepEqual(err.problems.map((p) => [p.rule, p.line]), [['file-name', 4], ['unique-cluster', 9]]);
});

test('an unknown environment lists the known ones; an unknown cluster lists the clusters', async (t) => {
  const dir = await makeProject(t);
  const err = await rejected(loadEnvironment(dir, 'prod'));
  assert.equal(err.code, 'ENVIRONMENT_NOT_FOUND');
  assert.equal(err.hint, 'known environments: dev');
  const env = await loadEnvironment(dir, 'dev');
  const c = await rejected(() => resolveParameters(env, schema, 'eu'));
  assert.equal(c.code, 'CLUSTER_NOT_FOUND');
});

test('an object with declared properties is closed, also through $ref; {type: object} alone is an open map', async (t) => {
  const s = parameterSchema(
    {
      type: 'object',
      properties: { labels: { type: 'object', additionalProperties: { type: 'string' } }, extra: { type: 'object' }, db: { $ref: '#/$defs/db' } },
      $defs: { db: { type: 'object', properties: { host: { type: 'string' }, port: { type: 'integer' } } } },
    },
    'refs.schema.json',
  );
  const dir = await makeProject(t, {
    'environments/dev.yaml': environmentYaml('dev', '  parameters:\n    labels: {team: web}\n    extra: {anything: [1, 2]}\n    db: {host: db, prot: 5432}\n'),
  });
  const env = await loadEnvironment(dir, 'dev');
  const problems = environmentProblems(env, s);
  assert.deepEqual(problems.map((p) => [p.pointer, p.rule, p.hint]), [['/spec/parameters/db/prot', 'unevaluatedProperties', 'did you mean "port"?']]);
});
