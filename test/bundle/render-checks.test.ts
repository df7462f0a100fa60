import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isPromoteError, type PromoteError } from '../../src/errors.ts';
import { checkReferences, referenceProblems } from '../../src/bundle/references.ts';
import type { SourceFile } from '../../src/bundle/render.ts';
import { checkSecretObjects, secretObjectProblems } from '../../src/bundle/secrets.ts';
import { parameterSchema } from '../../src/params/parameter-schema.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const layout = { manifests: 'manifests' };
const schema = parameterSchema(
  {
    type: 'object',
    properties: {
      replicas: { type: 'integer' },
      image: { type: 'object', properties: { repository: { type: 'string' }, tag: { type: 'string' } } },
      hosts: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
      labels: { type: 'object', additionalProperties: { type: 'string' } },
      db: { type: 'object', properties: { password: { type: 'string', writeOnly: true } } },
      tier: { $ref: '#/$defs/tier' },
    },
    $defs: { tier: { type: 'object', properties: { size: { type: 'string' } } } },
  },
  'params.schema.json',
).effective;

function caught(fn: () => void): PromoteError {
  try {
    fn();
  } catch (err) {
    assert.ok(isPromoteError(err), String(err));
    return err;
  }
  assert.fail('expected an error');
}

test('declared references pass: nested, list items, additionalProperties maps, $ref, secret references', () => {
  const files: SourceFile[] = [
    {
      path: 'manifests/a.yaml',
      content: enc('a: ${params.replicas}\nb: ${params.image.repository}:${params.image.tag}\nc: ${params.hosts.0.name}\nd: ${params.labels.team}\ne: ${params.db.password.secretRef.name}\nf: ${params.tier.size}\ng: ${promote.digest}\nh: $${params.undeclared}\ni: ${HOME}\n'),
    },
  ];
  assert.deepEqual(referenceProblems(files, layout, schema), []);
  checkReferences(files, layout, schema);
});

test('an undeclared reference fails the build with file:line:column and a did-you-mean', () => {
  const files: SourceFile[] = [
    { path: 'manifests/deploy.yaml', content: enc('spec:\n  replicas: ${params.replica}\n  image: "${params.image.tga}"\n') },
    { path: 'manifests/run.sh', content: enc('#!/bin/sh\necho ${params.nope} ${SHELL_VAR}\n') },
    { path: 'other/ignored.yaml', content: enc('x: ${params.nope}\n') },
  ];
  const err = caught(() => checkReferences(files, layout, schema));
  assert.equal(err.code, 'UNDECLARED_REFERENCE');
  assert.equal(err.exitCode, 4);
  assert.deepEqual(
    err.problems.map((p) => [p.file, p.line, p.column, p.rule, p.actual, p.hint]),
    [
      ['manifests/deploy.yaml', 2, 13, 'undeclared-reference', '${params.replica}', 'did you mean ${params.replicas}?'],
      ['manifests/deploy.yaml', 3, 11, 'undeclared-reference', '${params.image.tga}', 'did you mean ${params.image.tag}?'],
      ['manifests/run.sh', 2, 6, 'undeclared-reference', '${params.nope}', 'declare it in the parameter schema (with a type, and a default if environments may omit it)'],
    ],
  );
  assert.match(err.problems[0]!.message, /\$\{params\.replica\} refers to parameter "replica", which the parameter schema does not declare/);
  assert.equal(err.problems[1]!.expected, 'a declared parameter under "image": repository, tag');
});

test('a malformed reference or an unknown built-in is a build error too', () => {
  const problems = referenceProblems([{ path: 'manifests/a.yaml', content: enc('a: ${params.a b}\nb: ${promote.namespace}\n') }], layout, schema);
  assert.deepEqual(problems.map((p) => [p.line, p.column]), [[1, 4], [2, 4]]);
  assert.match(problems[1]!.message, /is not a built-in/);
});

test('a Secret with data or stringData is refused with where to put secrets instead', () => {
  const files: SourceFile[] = [
    { path: 'manifests/secret.yaml', content: enc('apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n') },
    { path: 'manifests/ok.yaml', content: enc('apiVersion: v1\nkind: Secret\nmetadata:\n  name: empty\ntype: kubernetes.io/service-account-token\n---\napiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n') },
  ];
  const err = caught(() => checkSecretObjects(files, layout, false));
  assert.equal(err.code, 'SECRET_IN_BUNDLE');
  assert.equal(err.exitCode, 4);
  assert.deepEqual(err.problems.map((p) => [p.file, p.line, p.column, p.pointer]), [['manifests/secret.yaml', 5, 1, '/stringData']]);
  assert.match(err.hint!, /External Secrets/);
  assert.match(err.hint!, /Sealed Secrets/);
  assert.match(err.hint!, /SOPS/);
  assert.match(err.hint!, /allowSecrets: true/);
  assert.doesNotMatch(JSON.stringify({ m: err.message, p: err.problems, h: err.hint }), /hunter2/);
  checkSecretObjects(files, layout, true);
});

test("kube-prometheus's three Secrets are found (allowSecrets is needed to build it)", async () => {
  const dir = new URL('../fixtures/kube-prometheus/manifests/', import.meta.url).pathname;
  const names = (await readdir(dir)).filter((n) => n.endsWith('.yaml'));
  const files = await Promise.all(names.map(async (n) => ({ path: `manifests/${n}`, content: await readFile(join(dir, n)) })));
  const problems = secretObjectProblems(files, layout);
  assert.deepEqual(problems.map((p) => p.file).sort(), ['manifests/alertmanager-secret.yaml', 'manifests/grafana-config.yaml', 'manifests/grafana-dashboardDatasources.yaml']);
});
