import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { copyFixture, tempDir } from '../bundle/helpers.ts';
import { promote } from './run-promote.ts';

// Conditional documents and null-dropped keys through the real CLI (issue 15): one bundle, a
// staging and a production environment, `promote render <dir> --env <env>`.

const DEBUG = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: debug-shell
  annotations:
    promote.dev/include-when: "\${params.debug}"
spec:
  replicas: 1
`;

const PDB = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: hello, annotations: {promote.dev/include-when: "!\${params.debug}"}}
spec:
  minAvailable: 1
  maxUnavailable: \${params.maxUnavailable}
`;

async function project(dir: string): Promise<string> {
  const bundle = await copyFixture(dir);
  await writeFile(
    join(bundle, 'params.schema.json'),
    JSON.stringify({
      type: 'object',
      required: ['namespace'],
      properties: {
        namespace: { type: 'string' },
        replicas: { type: 'integer', default: 1 },
        debug: { type: 'boolean', default: false },
        maxUnavailable: { type: ['integer', 'null'], default: null },
        label: { type: 'string', default: 'x' },
      },
    }),
  );
  await writeFile(join(bundle, 'manifests', 'debug.yaml'), DEBUG);
  await writeFile(join(bundle, 'manifests', 'pdb.yaml'), PDB);
  await mkdir(join(bundle, 'environments'));
  const env = (name: string, parameters: object) => writeFile(join(bundle, 'environments', `${name}.yaml`), JSON.stringify({ apiVersion: 'promote/v1', kind: 'Environment', metadata: { name }, spec: { parameters } }));
  await env('staging', { namespace: 'staging', debug: true });
  await env('production', { namespace: 'production', maxUnavailable: 1 });
  return bundle;
}

const kinds = (stdout: string) => parseAllDocuments(stdout).map((d) => d.toJS()).filter(Boolean).map((d: { kind: string }) => d.kind).sort();

test('promote render --env: the debug Deployment renders in staging only, the PodDisruptionBudget in production only', async () => {
  await using tmp = await tempDir();
  const dir = await project(tmp.path);
  const staging = await promote(['render', dir, '--env', 'staging']);
  assert.equal(staging.code, 0, staging.stderr);
  assert.deepEqual(kinds(staging.stdout), ['Deployment', 'Deployment', 'Service']);
  assert.match(staging.stdout, /# Source: manifests\/debug\.yaml\napiVersion: apps\/v1\nkind: Deployment\nmetadata:\n  name: debug-shell\nspec:\n/, 'annotation (and the emptied annotations:) stripped');
  assert.doesNotMatch(staging.stdout, /include-when|pdb\.yaml/);

  const production = await promote(['render', dir, '--env', 'production']);
  assert.equal(production.code, 0, production.stderr);
  assert.deepEqual(kinds(production.stdout), ['Deployment', 'PodDisruptionBudget', 'Service']);
  assert.match(production.stdout, /# Source: manifests\/pdb\.yaml\napiVersion: policy\/v1\nkind: PodDisruptionBudget\nmetadata: \{name: hello\}\nspec:\n  minAvailable: 1\n  maxUnavailable: 1\n/);
  assert.doesNotMatch(production.stdout, /include-when|debug-shell|debug\.yaml/);

  // The same production render with maxUnavailable left at its null default: the key is dropped.
  await writeFile(join(dir, 'environments', 'production.yaml'), JSON.stringify({ apiVersion: 'promote/v1', kind: 'Environment', metadata: { name: 'production' }, spec: { parameters: { namespace: 'production' } } }));
  const dropped = await promote(['render', dir, '--env', 'production']);
  assert.equal(dropped.code, 0, dropped.stderr);
  assert.match(dropped.stdout, /kind: PodDisruptionBudget\nmetadata: \{name: hello\}\nspec:\n  minAvailable: 1\n(---|$)/);
});

test('promote build refuses an include-when on a string parameter: exit 4, file:line and pointer on stderr', async () => {
  await using tmp = await tempDir();
  const dir = await project(tmp.path);
  await writeFile(join(dir, 'manifests', 'debug.yaml'), DEBUG.replace('params.debug', 'params.label'));
  const r = await promote(['build', dir]);
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /manifests\/debug\.yaml:6:32: \/metadata\/annotations\/promote\.dev~1include-when: promote\.dev\/include-when: \$\{params\.label\} must be a boolean parameter, but the parameter schema declares it as string/);
});
