import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv2020 as Ajv2020Type, ValidateFunction } from 'ajv/dist/2020.js';
import { GENERATED_DIR, generateValidators } from '../../scripts/gen-schema-validators.ts';
import { metaSchemaValidator } from '../../src/params/generated/meta-schema-validator.ts';
import * as generatedProject from '../../src/params/generated/project-schema-validators.ts';
import { projectSchema, type ProjectSchemaName } from '../../src/params/project-schemas.ts';
import { AJV_OPTIONS, schemaValidator } from '../../src/params/schema-validator.ts';
import { isPromoteError } from '../../src/errors.ts';

const require = createRequire(import.meta.url);
const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
const formats = (require('ajv-formats') as { default: (ajv: Ajv2020Type) => void }).default;

/** What schema-validator.ts did before the generated validators: a plain ajv with the ajv-formats plugin. */
function plainAjv(): Ajv2020Type {
  const ajv = new Ajv2020(AJV_OPTIONS);
  formats(ajv);
  ajv.addKeyword({ keyword: 'x-promote-secret', schemaType: 'boolean' });
  return ajv;
}

test('the generated validators are current (else run `npm run gen:schemas`)', () => {
  for (const [name, text] of Object.entries(generateValidators())) {
    assert.equal(readFileSync(`${GENERATED_DIR}${name}`, 'utf8'), text, `src/params/generated/${name} is stale`);
  }
});

const SCHEMAS: unknown[] = [
  { type: 'object' },
  { type: 'strin' },
  { type: ['string', 'null'] },
  { minLength: -1 },
  { required: 'name' },
  { properties: { a: 5 } },
  { enum: [] },
  { items: [{}] },
  { $defs: { n: { type: 'integer', minimum: 0 } }, type: 'object', properties: { n: { $ref: '#/$defs/n' } } },
  { $schema: 'https://json-schema.org/draft/2020-12/schema#', type: 'object', properties: { s: { writeOnly: true, type: 'string' } } },
  { type: 'object', properties: { host: { type: 'string', format: 'hostname' }, re: { type: 'string', pattern: '^[a-z]+$' } }, additionalProperties: false },
  { anyOf: [{ type: 'string' }, { type: 'number', multipleOf: 0 }] },
  { dependentRequired: { a: [1] } },
  { type: 'string', format: 'no-such-format' },
  { type: 'object', properties: { at: { type: 'string', format: 'date-time' }, id: { format: 'uuid' }, mail: { format: 'email' } } },
  ...(['bundle', 'environment', 'pipeline'] as const).map((n) => projectSchema(n)),
];

test('the generated meta-schema validator reports exactly what ajv reports for valid and invalid schemas', () => {
  const meta = metaSchemaValidator() as unknown as ValidateFunction;
  for (const schema of SCHEMAS) {
    const ajv = plainAjv();
    const expected = ajv.validateSchema(schema as object);
    assert.equal(meta(schema), expected, JSON.stringify(schema));
    assert.deepEqual(meta.errors ?? null, ajv.errors ?? null, JSON.stringify(schema));
  }
});

test('schemaValidator accepts and refuses the same schemas as a plain ajv, with the same message', () => {
  for (const schema of SCHEMAS) {
    let expected: string | undefined;
    try {
      plainAjv().compile(schema as object);
    } catch (err) {
      expected = (err as Error).message.split('\n')[0];
    }
    let actual: string | undefined;
    try {
      schemaValidator(schema as object);
    } catch (err) {
      assert.ok(isPromoteError(err, 'SCHEMA_INVALID'), String(err));
      actual = err.message.replace(/^the schema is not a valid JSON Schema: /, '');
    }
    assert.equal(actual, expected, JSON.stringify(schema));
  }
});

test('the generated project-schema validators give the errors and defaults of the ajv-compiled schemas', () => {
  const documents: Record<ProjectSchemaName, unknown[]> = {
    bundle: [
      { apiVersion: 'promote/v1', kind: 'Bundle', metadata: { name: 'web' }, spec: {} },
      { apiVersion: 'promote/v2', kind: 'Bundel', metadata: { name: 'Web_1', nmae: 1 }, spec: { manifests: '../x', allowSecrets: 'yes' } },
      'not an object',
    ],
    environment: [
      { apiVersion: 'promote/v1', kind: 'Environment', metadata: { name: 'staging' }, spec: { parameters: { a: 1 }, clusters: [{ name: 'eu-1' }] } },
      { apiVersion: 'promote/v1', kind: 'Environment', metadata: {}, spec: { clusters: [{ name: 'EU' }, {}], extra: true } },
    ],
    pipeline: [
      { apiVersion: 'promote/v1', kind: 'Pipeline', metadata: { name: 'p' }, spec: { stages: [{ name: 'dev', environment: 'dev' }] } },
      { apiVersion: 'promote/v1', kind: 'Pipeline', metadata: { name: 'p' }, spec: { stages: [{ name: 'dev', gates: [{ manual: {}, soak: '1h' }] }], trust: { bundles: [{ keyless: { issuerRegExp: '(' } }] } } },
    ],
  };
  for (const [name, docs] of Object.entries(documents) as Array<[ProjectSchemaName, unknown[]]>) {
    const compiled = plainAjv().compile(projectSchema(name));
    const generated = generatedProject[name] as unknown as ValidateFunction;
    for (const doc of docs) {
      const [a, b] = [structuredClone(doc), structuredClone(doc)];
      assert.equal(generated(a), compiled(b), `${name}: ${JSON.stringify(doc)}`);
      assert.deepEqual(generated.errors ?? null, compiled.errors ?? null, `${name}: ${JSON.stringify(doc)}`);
      assert.deepEqual(a, b, 'the same defaults filled in');
    }
  }
});
