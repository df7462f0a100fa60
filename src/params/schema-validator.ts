import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, Format, Options, ValidateFunction } from 'ajv/dist/2020.js';
import { PromoteError } from '../errors.ts';
import { checkSchemaPatterns, isLinearRegExp, linearRegExp } from './linear-regexp.ts';
import { validate as generatedMetaValidator } from './generated/meta-schema-validator.ts';

export { schemaProblems } from './schema-problems.ts';

// One place that turns a JSON Schema into a validator: JSON Schema 2020-12, ajv strict mode
// (unknown keywords and ambiguous schemas are errors, not silently ignored), every format
// checked, all errors reported, defaults filled in. Compiling is the expensive part (ajv
// generates code), so validators are cached by the schema's digest: an engine checking twenty
// environments against one bundle's schema compiles it once.
//
// Start-up cost (issue 2: `promote build` on a small tree is dominated by fixed costs): ajv is
// loaded only when a schema is first compiled (synchronously, through require: it is CommonJS),
// and checking a schema against the 2020-12 meta-schema — which ajv would compile afresh in every
// instance, ~35 ms each — runs a validator generated ahead of time from that same meta-schema by
// scripts/gen-schema-validators.ts (test/params/generated-validators.test.ts keeps it current).

/** Secret markers: `writeOnly` (JSON Schema's own) or our explicit vendor keyword. */
export const SECRET_KEYWORD = 'x-promote-secret';

/**
 * The options every validator is compiled with (also those of the generated validators).
 * `allowMatchingProperties`: ajv's strict check that no declared property matches a
 * patternProperties key runs the pattern with native RegExp at compile time, which a crafted
 * pattern could make backtrack for ever; the overlap it warns about is legal JSON Schema.
 */
export const AJV_OPTIONS = { strict: true, allErrors: true, verbose: true, useDefaults: true, allowUnionTypes: true, allowMatchingProperties: true } as const satisfies Options;

const META_SCHEMA_ID = 'https://json-schema.org/draft/2020-12/schema';
const validateAgainstMetaSchema = generatedMetaValidator as unknown as ValidateFunction;

export interface SchemaSource {
  /** Where the schema came from, for errors about the schema itself. */
  file?: string;
}

// Bounded (least recently used first out): an agent running for months sees a new schema with
// every bundle version, and a compiled validator is generated code that is never freed otherwise.
const CACHE_SIZE = 64;
const cache = new Map<string, ValidateFunction>();

const require = createRequire(import.meta.url);
let ajvClass: typeof Ajv2020 | undefined;

/**
 * Adds what promote's schemas may use beyond the standard: every format of ajv-formats and the
 * secret keyword. The formats are added one by one, as the ajv-formats plugin does, but from its
 * formats module alone: the plugin's entry point also loads a second, draft-07 ajv (~10 ms).
 */
export function configureAjv(ajv: Ajv2020): void {
  const { fullFormats } = require('ajv-formats/dist/formats') as { fullFormats: Record<string, Format> };
  for (const [name, format] of Object.entries(fullFormats)) ajv.addFormat(name, format);
  // A value of format "regex" is one RE2 can run (see linear-regexp.ts), like the patterns.
  ajv.addFormat('regex', isLinearRegExp);
  ajv.addKeyword({ keyword: SECRET_KEYWORD, schemaType: 'boolean' });
}

/** The meta-schema check ajv runs before compiling, with the pre-generated 2020-12 validator. */
function validateSchemaFast(this: Ajv2020, original: Ajv2020['validateSchema'], schema: unknown, throwOrLogError?: boolean): boolean | Promise<unknown> {
  const declared = typeof schema === 'object' && schema !== null ? (schema as { $schema?: unknown }).$schema : undefined;
  // Anything but the default meta-schema (another draft, a vocabulary's meta-schema, a
  // non-string) goes through ajv itself, as before.
  if (typeof schema !== 'object' || schema === null || (declared !== undefined && (typeof declared !== 'string' || declared.replace(/#$/, '') !== META_SCHEMA_ID))) {
    return original.call(this, schema as object, throwOrLogError);
  }
  const valid = validateAgainstMetaSchema(schema);
  this.errors = valid ? null : (validateAgainstMetaSchema.errors ?? null);
  if (!valid && throwOrLogError) throw new Error(`schema is invalid: ${this.errorsText()}`);
  return valid;
}

function newAjv(): Ajv2020 {
  ajvClass ??= (require('ajv/dist/2020.js') as { Ajv2020: typeof Ajv2020 }).Ajv2020;
  // One instance per schema: two versions of a bundle's schema may share an $id.
  const ajv = new ajvClass({ ...AJV_OPTIONS, code: { regExp: linearRegExp } });
  configureAjv(ajv);
  const original = ajv.validateSchema;
  ajv.validateSchema = function (this: Ajv2020, schema: object, throwOrLogError?: boolean) {
    return validateSchemaFast.call(this, original, schema, throwOrLogError);
  } as Ajv2020['validateSchema'];
  return ajv;
}

export function schemaDigest(schema: object): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(schema)).digest('hex')}`;
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
  // Refused with its pointer before ajv compiles anything with it.
  checkSchemaPatterns(schema, source.file ?? 'the schema');
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
