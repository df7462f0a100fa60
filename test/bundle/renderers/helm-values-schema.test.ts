import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadBundleFile } from '../../../src/bundle/bundle-file.ts';
import { renderEnvironment } from '../../../src/bundle/render-environment.ts';
import { fromDraft07 } from '../../../src/params/draft-07.ts';
import { parameterSchema } from '../../../src/params/parameter-schema.ts';
import { promote } from '../../cli/run-promote.ts';
import { cleanEnv, tempDir } from '../helpers.ts';
import { bundleYaml, copyPodinfoChart, helmBinary, writeFiles } from './helm-fixtures.ts';

// A chart's values.schema.json (draft-07, as charts ship it) is the helm bundle's parameter
// schema when bundle.yaml names none: a typo in a value is caught by `promote validate` with
// environments/<env>.yaml:line and its pointer, before helm ever runs; and the draft-07 schema
// means for promote what it means for helm (checked against helm's own validator).

const helm = await helmBinary();
const run = promisify(execFile);

/** A values.schema.json for podinfo in the style charts ship: draft-07, definitions and $ref, enums, nullable types. */
const PODINFO_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'podinfo values',
  type: 'object',
  required: ['image', 'service'],
  definitions: {
    probe: {
      type: 'object',
      properties: {
        enable: { type: 'boolean' },
        initialDelaySeconds: { type: 'integer', minimum: 0 },
        timeoutSeconds: { type: 'integer', minimum: 1 },
        failureThreshold: { type: 'integer', minimum: 1 },
        successThreshold: { type: 'integer', minimum: 1 },
        periodSeconds: { type: 'integer', minimum: 1 },
      },
    },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    hookJob: { type: 'object', properties: { job: { type: 'object' } } },
  },
  properties: {
    replicaCount: { type: 'integer', minimum: 0, description: 'Pods when the HPA is off' },
    logLevel: { type: 'string', enum: ['debug', 'info', 'warn', 'error'] },
    host: { type: ['string', 'null'] },
    backend: { type: ['string', 'null'] },
    backends: { type: 'array', items: { type: 'string' } },
    image: {
      type: 'object',
      required: ['repository', 'tag'],
      properties: {
        repository: { type: 'string', minLength: 1 },
        tag: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
        pullPolicy: { type: 'string', enum: ['Always', 'IfNotPresent', 'Never'] },
        pullSecrets: { type: 'array' },
      },
    },
    prefix: { type: 'string' },
    ui: { type: 'object', properties: { color: { type: 'string' }, message: { type: 'string' }, logo: { type: 'string' } } },
    faults: { type: 'object', additionalProperties: { type: 'boolean' } },
    service: {
      type: 'object',
      properties: {
        enabled: { type: 'boolean' },
        annotations: { type: 'object' },
        additionalLabels: { type: 'object' },
        type: { type: 'string', enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] },
        metricsPort: { $ref: '#/definitions/port' },
        httpPort: { $ref: '#/definitions/port' },
        externalPort: { $ref: '#/definitions/port' },
        grpcPort: { $ref: '#/definitions/port' },
        grpcService: { type: 'string' },
        nodePort: { $ref: '#/definitions/port' },
        hostPort: { type: ['integer', 'null'] },
        trafficDistribution: { type: 'string' },
        externalTrafficPolicy: { type: 'string' },
      },
    },
    h2c: { type: 'object' },
    config: { type: 'object' },
    extraArgs: { type: 'array' },
    extraEnvs: { type: 'array' },
    tls: { type: 'object' },
    certificate: { type: 'object' },
    hooks: { type: 'object', additionalProperties: { $ref: '#/definitions/hookJob' } },
    hpa: { type: 'object' },
    cache: { type: 'string' },
    redis: { type: 'object', properties: { enabled: { type: 'boolean' }, repository: { type: 'string' }, tag: { type: 'string' } } },
    serviceAccount: { type: 'object' },
    securityContext: { type: 'object' },
    podSecurityContext: { type: 'object' },
    ingress: { type: 'object' },
    httpRoute: { type: 'object' },
    grpcRoute: { type: 'object' },
    serviceMonitor: { type: 'object' },
    resources: { type: 'object' },
    nodeSelector: { type: 'object' },
    tolerations: { type: 'array' },
    affinity: { type: 'object' },
    priorityClassName: { type: 'string' },
    podAnnotations: { type: 'object' },
    topologySpreadConstraints: { type: 'array' },
    podDisruptionBudget: { type: 'object' },
    probes: { type: 'object', properties: { readiness: { $ref: '#/definitions/probe' }, liveness: { $ref: '#/definitions/probe' }, startup: { $ref: '#/definitions/probe' } } },
    global: { type: 'object' },
  },
};

const environment = (name: string, parameters: string) => `apiVersion: promote/v1\nkind: Environment\nmetadata:\n  name: ${name}\nspec:\n  parameters:\n${parameters}`;

async function schemaBundle(dir: string): Promise<void> {
  await copyPodinfoChart(join(dir, 'chart'));
  await writeFiles(dir, {
    'chart/values.schema.json': JSON.stringify(PODINFO_SCHEMA, null, 2),
    // No spec.parameters: the chart's own schema is the parameter schema.
    'bundle.yaml': bundleYaml('podinfo', '{chart: chart, namespace: "${promote.environment}"}'),
    'environments/staging.yaml': environment('staging', '    replicaCount: 2\n    image:\n      repository: ghcr.io/stefanprodan/podinfo\n      tag: 6.14.1\n      pullPolicy: Always\n    service: {httpPort: 8080}\n'),
  });
}

test('a chart\'s draft-07 values.schema.json is the parameter schema: a valid environment validates and renders (helm validates the same values, global.promote included)', async () => {
  await using tmp = await tempDir();
  await schemaBundle(tmp.path);
  const loaded = await loadBundleFile(tmp.path);
  assert.equal(loaded.spec.parameters, 'chart/values.schema.json');
  assert.deepEqual(loaded.parameterSchema, PODINFO_SCHEMA, 'the bundle carries the chart\'s schema as it is');
  const r = await promote(['validate', tmp.path], { env: cleanEnv({ NO_COLOR: '1', PROMOTE_HELM: helm }) });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  process.env.PROMOTE_HELM = helm;
  const result = await renderEnvironment({ bundleDir: tmp.path, environment: 'staging' });
  const deployment = result.files.flatMap((f) => f.documents ?? []).find((d) => (d as { kind: string }).kind === 'Deployment') as { spec: { replicas: number; template: { spec: { containers: { imagePullPolicy: string }[] } } } };
  assert.equal(deployment.spec.replicas, 2);
  assert.equal(deployment.spec.template.spec.containers[0]!.imagePullPolicy, 'Always');
});

test('a values typo is caught by promote validate at environments/<env>.yaml:line with its pointer, not by helm', async () => {
  await using tmp = await tempDir();
  await schemaBundle(tmp.path);
  await writeFile(
    join(tmp.path, 'environments/staging.yaml'),
    environment('staging', '    replicaCount: "two"\n    replicaCont: 2\n    image:\n      repository: ghcr.io/stefanprodan/podinfo\n      tag: 6.14.1\n      pullPolicy: Sometimes\n    service: {httpPort: 80800}\n    probes:\n      readiness: {periodSeconds: 0}\n'),
  );
  const r = await promote(['validate', tmp.path, '--output', 'json'], { env: cleanEnv({ NO_COLOR: '1', PROMOTE_HELM: '/nonexistent/helm' }) });
  assert.equal(r.code, 4, r.stdout + r.stderr);
  const error = (JSON.parse(r.stdout).error ?? JSON.parse(r.stderr).error) as { code: string; problems: { file: string; line: number; pointer: string; rule: string }[] };
  const at = error.problems.map((p) => `${p.file.replace(`${tmp.path}/`, '')}:${p.line} ${p.pointer} ${p.rule}`).sort();
  assert.deepEqual(at, [
    'environments/staging.yaml:12 /spec/parameters/image/pullPolicy enum',
    'environments/staging.yaml:13 /spec/parameters/service/httpPort maximum',
    'environments/staging.yaml:15 /spec/parameters/probes/readiness/periodSeconds minimum',
    'environments/staging.yaml:7 /spec/parameters/replicaCount type',
    'environments/staging.yaml:8 /spec/parameters/replicaCont unevaluatedProperties',
  ]);
  // The text form names file:line too (helm is never run: PROMOTE_HELM points nowhere).
  const text = await promote(['validate', tmp.path], { env: cleanEnv({ NO_COLOR: '1', PROMOTE_HELM: '/nonexistent/helm' }) });
  assert.match(text.stdout + text.stderr, /environments\/staging\.yaml:7:\d+.*replicaCount/);
});

test('draft-07 → 2020-12: definitions, tuple items, dependencies and $ref siblings mean what they mean to helm\'s own draft-07 validator', async () => {
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    definitions: { port: { type: 'integer', minimum: 1 } },
    properties: {
      // draft-07 ignores keywords beside $ref: helm accepts 99999 here.
      port: { $ref: '#/definitions/port', maximum: 1000, description: 'kept' },
      // (minItems: promote's strict mode refuses a tuple that does not say how long it is.)
      pair: { type: 'array', items: [{ type: 'string' }, { type: 'integer' }], additionalItems: false, minItems: 2 },
      tls: { type: 'boolean' },
      secretName: { type: 'string' },
      list: { type: 'array', additionalItems: false, items: { type: 'string' } },
    },
    dependencies: { tls: ['secretName'], secretName: { properties: { tls: { const: true } } } },
  };
  assert.deepEqual(fromDraft07(schema), {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    $defs: { port: { type: 'integer', minimum: 1 } },
    properties: {
      port: { $ref: '#/$defs/port', description: 'kept' },
      pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false, minItems: 2 },
      tls: { type: 'boolean' },
      secretName: { type: 'string' },
      list: { type: 'array', items: { type: 'string' } },
    },
    dependentRequired: { tls: ['secretName'] },
    allOf: [{ if: { properties: { secretName: true }, required: ['secretName'] }, then: { properties: { tls: { const: true } } } }],
  });
  // References follow the renames where a keyword stands, not in a property that is named alike.
  const refs = fromDraft07({
    $schema: 'http://json-schema.org/draft-07/schema#',
    definitions: { a: { definitions: { b: { type: 'string' } } } },
    properties: { definitions: { type: 'string' }, t: { type: 'array', items: [{ type: 'string' }], minItems: 1 }, x: { $ref: '#/definitions/a/definitions/b' }, y: { $ref: '#/properties/definitions' }, z: { $ref: '#/properties/t/items/0' } },
  }).properties as Record<string, { $ref?: string }>;
  assert.deepEqual([refs.x!.$ref, refs.y!.$ref, refs.z!.$ref], ['#/$defs/a/$defs/b', '#/properties/definitions', '#/properties/t/prefixItems/0']);
  const compiled = parameterSchema(schema, 'values.schema.json');
  await using tmp = await tempDir();
  await writeFiles(tmp.path, {
    'c/Chart.yaml': 'apiVersion: v2\nname: c\nversion: 1.0.0\n',
    'c/values.schema.json': JSON.stringify(schema),
    'c/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n',
  });
  const cases: Record<string, unknown>[] = [
    { port: 99999 },
    { port: 0 },
    { pair: ['a', 1] },
    { pair: ['a', 1, 2] },
    { pair: [1, 'a'] },
    { pair: ['a'] },
    { tls: true },
    { tls: true, secretName: 's' },
    { secretName: 's', tls: false },
    { list: ['a', 'b'] },
  ];
  for (const values of cases) {
    await writeFile(join(tmp.path, 'values.json'), JSON.stringify(values));
    const byHelm = await run(helm, ['template', 'c', join(tmp.path, 'c'), '-f', join(tmp.path, 'values.json')], { env: { HOME: tmp.path, PATH: '/usr/bin:/bin' } }).then(
      () => true,
      () => false,
    );
    assert.equal(compiled.validate(structuredClone(values)), byHelm, `${JSON.stringify(values)}: helm ${byHelm ? 'accepts' : 'refuses'} it`);
  }
});
