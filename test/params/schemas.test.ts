import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isPromoteError } from '../../src/errors.ts';
import { parseYaml } from '../../src/params/document.ts';
import { projectSchema, validateProjectDocument, type ProjectSchemaName } from '../../src/params/project-schemas.ts';

const NAMES: ProjectSchemaName[] = ['bundle', 'environment', 'pipeline'];

function problemsOf(name: ProjectSchemaName, yaml: string) {
  try {
    validateProjectDocument(name, parseYaml(yaml, `${name}.yaml`));
    return [];
  } catch (err) {
    assert.ok(isPromoteError(err, 'SCHEMA_VIOLATION'), String(err));
    return err.problems;
  }
}

test('each project schema is JSON Schema 2020-12 with an $id, usable by editors', () => {
  for (const name of NAMES) {
    const raw = JSON.parse(readFileSync(new URL(`../../schemas/${name}.schema.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
    assert.equal(raw.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.match(String(raw.$id), new RegExp(`^urn:promote:schema:v1:${name}$`));
    assert.equal(projectSchema(name), projectSchema(name), 'loaded once');
  }
});

test('the DESIGN.md examples are valid, with defaults filled in', () => {
  const bundle = parseYaml('apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: webapp}\nspec:\n  parameters: params.schema.json\n  manifests: manifests/\n  files: files/\n', 'bundle.yaml');
  validateProjectDocument('bundle', bundle);
  assert.deepEqual((bundle.value as { spec: unknown }).spec, { parameters: 'params.schema.json', manifests: 'manifests/', files: 'files/', allowSecrets: false });
  const env = parseYaml(
    'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: staging}\nspec:\n  parameters: {namespace: staging, replicas: 2, hostname: staging.example.com}\n  clusters:\n    - name: staging-eu-1\n    - name: staging-us-1\n      parameters: {region: us-east-1}\n',
    'staging.yaml',
  );
  validateProjectDocument('environment', env);
  // The pipeline example of DESIGN.md §4, verbatim.
  const pipeline = `apiVersion: promote/v1
kind: Pipeline
metadata: {name: webapp}
spec:
  repository: registry.example.com/acme/webapp   # or oci:./.promote/registry/webapp
  ledger: {repository: ., branch: main}          # git URL or path; default: the repo holding this file
  trust:
    bundles: [keys/ci.pub]            # who may build bundles
    promotions: [keys/promoter.pub]   # who may sign promotion records
  stages:
    - {name: dev, environment: dev, promotion: auto}
    - name: staging
      environment: staging
      from: dev
      gates: [{converged: {}}, {soak: 15m}]
    - name: production
      environment: production
      from: staging
      gates: [{converged: {}}, {soak: 1h}, {approval: {count: 1}},
              {window: {days: [Mon, Tue, Wed, Thu], hours: "09:00-16:00", timezone: Europe/Berlin}}]
`;
  const doc = parseYaml(pipeline, 'webapp.yaml');
  validateProjectDocument('pipeline', doc);
  const stages = (doc.value as { spec: { stages: { promotion: string }[] } }).spec.stages;
  assert.deepEqual(stages.map((s) => s.promotion), ['auto', 'manual', 'manual']);
});

test('a misspelt key in bundle.yaml is reported with did-you-mean; a bad name by pattern', () => {
  const problems = problemsOf('bundle', 'apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: Web_App}\nspec:\n  manifest: manifests/\n  allowSecret: true\n');
  const hints = problems.map((p) => [p.pointer, p.rule, p.hint ?? '']);
  assert.deepEqual(hints, [
    ['/metadata/name', 'pattern', ''],
    ['/spec/manifest', 'additionalProperties', 'did you mean "manifests"?'],
    ['/spec/allowSecret', 'additionalProperties', 'did you mean "allowSecrets"?'],
  ]);
});

test('bundle paths must stay inside the bundle', () => {
  const problems = problemsOf('bundle', 'apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: web}\nspec:\n  manifests: ../elsewhere\n  parameters: /etc/schema.json\n');
  assert.deepEqual(problems.map((p) => [p.pointer, p.rule]), [['/spec/manifests', 'pattern'], ['/spec/parameters', 'pattern']]);
});

test('pipeline gates: exactly one per item, known kinds, well-formed windows', () => {
  const problems = problemsOf(
    'pipeline',
    'apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: web}\nspec:\n  repository: oci:./r\n  stages:\n    - name: prod\n      environment: prod\n      promotion: automatic\n      gates: [{soak: 15min}, {aproval: {count: 1}}, {window: {days: [Monday], hours: "9-17", timezone: UTC}}]\n',
  );
  const rules = problems.map((p) => `${p.pointer} ${p.rule}`);
  assert.ok(rules.includes('/spec/stages/0/promotion enum'), rules.join('\n'));
  assert.ok(rules.includes('/spec/stages/0/gates/0/soak pattern'));
  assert.ok(rules.includes('/spec/stages/0/gates/1/aproval additionalProperties'));
  assert.equal(problems.find((p) => p.pointer === '/spec/stages/0/gates/1/aproval')?.hint, 'did you mean "approval"?');
  assert.ok(rules.includes('/spec/stages/0/gates/2/window/days/0 enum'));
  assert.ok(rules.includes('/spec/stages/0/gates/2/window/hours pattern'));
});
