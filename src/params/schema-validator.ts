import { createHash } from 'node:crypto';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import { PromoteError } from '../errors.ts';

export { schemaProblems } from './schema-problems.ts';

// One place that turns a JSON Schema into a validator: JSON Schema 2020-12, ajv strict mode
// (unknown keywords and ambiguous schemas are errors, not silently ignored), every format
// checked, all errors reported, defaults filled in. Compiling is the expensive part (ajv
// generates code), so validators are cached by the schema's digest: an engine checking twenty
// environments against one bundle's schema compiles it once.

/** Secret markers: `writeOnly` (JSON Schema's own) or our explicit vendor keyword. */
export const SECRET_KEYWORD = 'x-promote-secret';

export interface SchemaSource {
  /** Where the schema came from, for errors about the schema itself. */
  file?: string;
}

// Bounded (least recently used first out): an agent running for months sees a new schema with
// every bundle version, and a compiled validator is generated code that is never freed otherwise.
const CACHE_SIZE = 64;
const cache = new Map<string, ValidateFunction>();

// ajv-formats is CommonJS; under Node's ESM interop its default export is module.exports.
const addFormats = ((formatsModule as unknown as { default?: unknown }).default ?? formatsModule) as (ajv: Ajv2020) => void;

export function schemaDigest(schema: object): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(schema)).digest('hex')}`;
}

function newAjv(): Ajv2020 {
  // One instance per schema: two versions of a bundle's schema may share an $id.
  const ajv = new Ajv2020({ strict: true, allErrors: true, verbose: true, useDefaults: true, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addKeyword({ keyword: SECRET_KEYWORD, schemaType: 'boolean' });
  return ajv;
}

function schemaInvalid(source: SchemaSource, err: unknown): PromoteError {
  const name = source.file ?? 'the schema';
  const reason = (err as Error).message;
  const errors = (err as { errors?: ErrorObject[] }).errors;
  const problems = (errors ?? []).map((e) => ({
    ...(source.file && { file: source.file }),
    pointer: e.instancePath,
    rule: e.keyword,
    message: `not a valid JSON Schema 2020-12: ${e.message ?? e.keyword}`,
  }));
  return new PromoteError('SCHEMA_INVALID', `${name} is not a valid JSON Schema: ${reason.split('\n')[0]}`, {
    outcome: 'verification',
    cause: err,
    problems,
    hint: 'fix the schema (JSON Schema 2020-12, ajv strict mode: no unknown keywords, `required` properties must be declared, formats must be known)',
    details: { ...(source.file && { file: source.file }) },
  });
}

/** A compiled validator for `schema`, from the cache when it was compiled before. */
export function schemaValidator(schema: object, source: SchemaSource = {}): ValidateFunction {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw schemaInvalid(source, new Error('a schema must be a JSON object'));
  }
  const digest = schemaDigest(schema);
  const hit = cache.get(digest);
  if (hit) {
    cache.delete(digest);
    cache.set(digest, hit);
    return hit;
  }
  let validate: ValidateFunction;
  try {
    validate = newAjv().compile(schema);
  } catch (err) {
    throw schemaInvalid(source, err);
  }
  cache.set(digest, validate);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return validate;
}

/** For tests and benchmarks: how many distinct schemas were compiled. */
export function compiledSchemaCount(): number {
  return cache.size;
}
