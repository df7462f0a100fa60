import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, Format, Options, ValidateFunction } from 'ajv/dist/2020.js';
import { readAsset } from '../assets.ts';
import { PromoteError } from '../errors.ts';
import { checkSchemaPatterns, isLinearRegExp, linearRegExp } from './linear-regexp.ts';
import { metaSchemaValidator } from './generated/meta-schema-validator.ts';
import { loadStored, store, storesValidators } from './stored-validators.ts';

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
// Where the CLI asks for it (stored-validators.ts), the code ajv generates for a schema is also
// kept on disk, and a later run with the same schema loads that instead of ajv.

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

let formats: Record<string, Format> | undefined;

/**
 * Every format of ajv-formats, from its formats module alone (the plugin's entry point also loads
 * a second, draft-07 ajv, ~10 ms); a value of format "regex" is one RE2 can run (see
 * linear-regexp.ts), like the patterns.
 */
function promoteFormats(): Record<string, Format> {
  if (!formats) {
    const { fullFormats } = require('ajv-formats/dist/formats') as { fullFormats: Record<string, Format> };
    formats = { ...fullFormats, regex: isLinearRegExp };
  }
  return formats;
}

/**
 * Adds what promote's schemas may use beyond the standard: the formats above (one by one, as the
 * ajv-formats plugin does) and the secret keyword.
 */
export function configureAjv(ajv: Ajv2020): void {
  for (const [name, format] of Object.entries(promoteFormats())) ajv.addFormat(name, format);
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
  const validateAgainstMetaSchema = metaSchemaValidator() as unknown as ValidateFunction;
  const valid = validateAgainstMetaSchema(schema);
  this.errors = valid ? null : (validateAgainstMetaSchema.errors ?? null);
  if (!valid && throwOrLogError) throw new Error(`schema is invalid: ${this.errorsText()}`);
  return valid;
}

// What the code of a stored validator asks for (`require(id)` in ajv's output, stored-validators.ts):
// ajv's run-time helpers, the formats and the RE2 engine of this installation, nothing else.
const FORMATS_CODE = 'require("promote:formats")';
const STORED_NEEDS: Record<string, () => unknown> = {
  'ajv/dist/runtime/equal': () => require('ajv/dist/runtime/equal'),
  'ajv/dist/runtime/ucs2length': () => require('ajv/dist/runtime/ucs2length'),
  'ajv/dist/runtime/uri': () => require('ajv/dist/runtime/uri'),
  'ajv/dist/runtime/validation_error': () => require('ajv/dist/runtime/validation_error'),
  'promote:formats': promoteFormats,
  'promote:linear-regexp': () => ({ linearRegExp }),
};
const need = (id: string): unknown => {
  const get = Object.hasOwn(STORED_NEEDS, id) ? STORED_NEEDS[id] : undefined;
  if (!get) throw new Error(`a stored validator asked for ${id}`);
  return get();
};

let storedKeyPrefix: string | undefined;

/**
 * The key of `digest`'s stored validator: what the generated code depends on — the schema, the
 * versions of promote, ajv and ajv-formats (the formats and keywords), the options it was
 * compiled with — so that a change of any of them compiles the schema afresh.
 */
function storedKey(digest: string): string {
  storedKeyPrefix ??= JSON.stringify([
    (JSON.parse(readAsset('package.json')) as { version: string }).version,
    (require('ajv/package.json') as { version: string }).version,
    (require('ajv-formats/package.json') as { version: string }).version,
    AJV_OPTIONS,
    FORMATS_CODE,
    linearRegExp.code,
    SECRET_KEYWORD,
  ]);
  return createHash('sha256').update(storedKeyPrefix).update(digest).digest('hex');
}

function newAjv(source: boolean): Ajv2020 {
  ajvClass ??= (require('ajv/dist/2020.js') as { Ajv2020: typeof Ajv2020 }).Ajv2020;
  // One instance per schema: two versions of a bundle's schema may share an $id. With `source`,
  // the validator keeps its code for stored-validators.ts; it validates exactly as without.
  const formatsCode = source ? new (require('ajv/dist/compile/codegen/code.js') as typeof import('ajv/dist/compile/codegen/code.js'))._Code(FORMATS_CODE) : undefined;
  const ajv = new ajvClass({ ...AJV_OPTIONS, code: { regExp: linearRegExp, ...(formatsCode && { source: true, formats: formatsCode }) } });
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
  const persist = storesValidators();
  const key = persist ? storedKey(digest) : undefined;
  // Stored only once it compiled: its patterns and the schema itself were checked then.
  let validate = key === undefined ? undefined : loadStored<ValidateFunction>(key, need);
  if (!validate) {
    // Refused with its pointer before ajv compiles anything with it.
    checkSchemaPatterns(schema, source.file ?? 'the schema');
    const ajv = newAjv(persist);
    try {
      validate = ajv.compile(schema);
    } catch (err) {
      throw schemaInvalid(source, err);
    }
    if (key !== undefined) storeCode(key, ajv, validate);
  }
  cache.set(digest, validate);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return validate;
}

/** Hands the validator's code to stored-validators.ts, unless it asks for something STORED_NEEDS lacks. */
function storeCode(key: string, ajv: Ajv2020, validate: ValidateFunction): void {
  let code: string;
  try {
    const standaloneCode = (require('ajv/dist/standalone/index.js') as { default: (ajv: Ajv2020, v: ValidateFunction) => string }).default;
    code = standaloneCode(ajv, validate);
  } catch {
    return;
  }
  for (const [, id] of code.matchAll(/\brequire\(("(?:[^"\\]|\\.)*")\)/g)) if (!Object.hasOwn(STORED_NEEDS, JSON.parse(id!) as string)) return;
  void store(key, code);
}
