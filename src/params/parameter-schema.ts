import { readFile, stat } from 'node:fs/promises';
import { PromoteError } from '../errors.ts';
import { checkDepth } from '../oci/json-depth.ts';
import { fromDraft07, isDraft07 } from './draft-07.ts';
import { schemaDigest, schemaValidator, SECRET_KEYWORD } from './schema-validator.ts';
import type { ValidateFunction } from 'ajv/dist/2020.js';

// A bundle's parameter schema: the contract every environment's parameters must satisfy. Before
// it is compiled, two rules of promote are written into it (on a copy — the bundle's own file is
// never changed):
// 1. Unknown parameters are errors unless the schema says otherwise: every object schema in a
//    value position that declares neither `additionalProperties` nor `unevaluatedProperties`
//    gets `unevaluatedProperties: false` (JSON Schema's default is to allow anything, which is
//    how a typo like `replica:` silently changes nothing).
// 2. Secrets never become parameters: a subschema marked `writeOnly: true` or
//    `x-promote-secret: true` is replaced by the shape of a reference, {secretRef: {name, key}},
//    so a literal value fails validation (and schema-problems.ts never echoes it).

export const PARAMETER_SCHEMA_MAX_BYTES = 1024 * 1024;

export interface ParameterSchema {
  /** Where it came from (a file path, or `<ref>:params.schema.json`), for messages. */
  source: string;
  /** The schema as the bundle carries it. */
  schema: object;
  /** The schema as validated (promote's rules applied; see above). */
  effective: Record<string, unknown>;
  /** JSON pointers (into parameter values, `*` for any key or index) of secret properties. */
  secrets: string[];
  digest: string;
  validate: ValidateFunction;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

export function isSecretSchema(s: unknown): boolean {
  return isObject(s) && (s.writeOnly === true || s[SECRET_KEYWORD] === true);
}

function secretRefSchema(original: Json): Json {
  return {
    ...(typeof original.description === 'string' && { description: original.description }),
    [SECRET_KEYWORD]: true,
    type: 'object',
    required: ['secretRef'],
    additionalProperties: false,
    properties: {
      secretRef: {
        type: 'object',
        required: ['name', 'key'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' },
          key: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[-._a-zA-Z0-9]+$' },
        },
      },
    },
  };
}

const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'] as const;
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const;
const SCHEMA_SINGLES = ['items', 'additionalProperties', 'unevaluatedProperties', 'unevaluatedItems', 'contains', 'not', 'if', 'then', 'else', 'propertyNames'] as const;
/** Places whose subschema describes a whole value (not a fragment combined with siblings). */
const VALUE_POSITIONS = new Set(['properties', 'patternProperties', 'items', 'prefixItems', 'additionalProperties']);

function isObjectType(s: Json): boolean {
  return s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object'));
}

/** Follows local `$ref`s and `allOf`s: do they lead to object schemas that declare their properties? */
function declaresProperties(schema: unknown, root: Json, depth = 0): boolean {
  if (!isObject(schema) || depth > 16) return false;
  if (isObject(schema.properties) || isObject(schema.patternProperties)) return true;
  if (typeof schema.$ref === 'string' && schema.$ref.startsWith('#/')) {
    let target: unknown = root;
    for (const seg of schema.$ref.slice(2).split('/')) target = isObject(target) ? target[seg.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    if (declaresProperties(target, root, depth + 1)) return true;
  }
  return Array.isArray(schema.allOf) && schema.allOf.some((s) => declaresProperties(s, root, depth + 1));
}

function transform(schema: unknown, valuePosition: boolean, pointer: string, secrets: string[], root: Json): unknown {
  if (!isObject(schema)) return schema;
  if (isSecretSchema(schema)) {
    secrets.push(pointer);
    return secretRefSchema(schema);
  }
  const out: Json = { ...schema };
  for (const k of SCHEMA_MAPS) {
    if (isObject(schema[k])) {
      const m: Json = {};
      for (const [name, sub] of Object.entries(schema[k])) {
        const child = k === 'properties' ? `${pointer}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}` : k === 'patternProperties' ? `${pointer}/*` : `#${k}/${name}`;
        m[name] = transform(sub, VALUE_POSITIONS.has(k), child, secrets, root);
      }
      out[k] = m;
    }
  }
  for (const k of SCHEMA_LISTS) {
    if (Array.isArray(schema[k])) {
      out[k] = (schema[k] as unknown[]).map((sub, i) => transform(sub, VALUE_POSITIONS.has(k), k === 'prefixItems' ? `${pointer}/${i}` : pointer, secrets, root));
    }
  }
  for (const k of SCHEMA_SINGLES) {
    if (schema[k] !== undefined) {
      const child = k === 'items' || k === 'additionalProperties' || k === 'unevaluatedItems' || k === 'unevaluatedProperties' ? `${pointer}/*` : pointer;
      out[k] = transform(schema[k], VALUE_POSITIONS.has(k), child, secrets, root);
    }
  }
  // An object whose properties are declared is closed; `{type: object}` alone stays an open
  // map (labels, annotations). `unevaluatedProperties` sees through $ref and allOf.
  if (valuePosition && schema.additionalProperties === undefined && schema.unevaluatedProperties === undefined && declaresProperties(schema, root)) {
    if (isObjectType(schema)) out.unevaluatedProperties = false;
    else if (schema.type === undefined) Object.assign(out, { type: 'object', unevaluatedProperties: false });
  }
  return out;
}

/** Applies promote's rules to a parameter schema and compiles it (cached by digest). */
export function parameterSchema(schema: object, source: string): ParameterSchema {
  // Before anything below recurses into it (transform, the digest, ajv's compiler).
  checkDepth(schema, `parameter schema ${source}`);
  if (!isObject(schema)) {
    throw new PromoteError('SCHEMA_INVALID', `${source} is not a valid JSON Schema: the top level must be an object`, {
      outcome: 'verification',
      hint: 'a parameter schema is a JSON object such as {"type": "object", "properties": {...}}',
      details: { file: source },
    });
  }
  // A chart's values.schema.json is draft-07: compiled as the 2020-12 schema that means the same.
  const source2020 = isDraft07(schema) ? fromDraft07(schema) : schema;
  const declared = source2020.$schema;
  if (declared !== undefined && !/^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/.test(String(declared))) {
    throw new PromoteError('SCHEMA_INVALID', `${source} declares $schema ${JSON.stringify(declared)}; parameter schemas are JSON Schema 2020-12 (or draft-07, as Helm charts ship them)`, {
      outcome: 'verification',
      problems: [{ file: source, pointer: '/$schema', rule: '$schema', message: 'unsupported JSON Schema version', expected: '"https://json-schema.org/draft/2020-12/schema"', actual: JSON.stringify(declared) }],
      hint: 'set "$schema": "https://json-schema.org/draft/2020-12/schema", or "http://json-schema.org/draft-07/schema#" (a draft-04 or draft-06 schema mostly means the same as draft-07)',
      details: { file: source },
    });
  }
  const secrets: string[] = [];
  const effective = transform(source2020, true, '', secrets, source2020) as Json;
  // Secrets found only under $defs are reached through $ref; their value paths are unknown here.
  const validate = schemaValidator(effective, { file: source });
  return { source, schema, effective, secrets: secrets.filter((s) => !s.startsWith('#')), digest: schemaDigest(schema), validate };
}

/** Reads a parameter schema file (JSON), refusing one that is too large, not JSON or not a valid schema. */
export async function loadParameterSchema(path: string): Promise<ParameterSchema> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw new PromoteError('SCHEMA_NOT_FOUND', `parameter schema ${path} does not exist`, {
      cause: err,
      outcome: 'verification',
      hint: 'create it (JSON Schema 2020-12) or point spec.parameters in bundle.yaml at it',
      details: { file: path },
    });
  }
  if (size > PARAMETER_SCHEMA_MAX_BYTES) {
    throw new PromoteError('SCHEMA_INVALID', `parameter schema ${path} is ${size} bytes, over the ${PARAMETER_SCHEMA_MAX_BYTES}-byte limit`, { outcome: 'verification', details: { file: path } });
  }
  const text = await readFile(path, 'utf8');
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (err) {
    throw new PromoteError('SCHEMA_INVALID', `parameter schema ${path} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
      outcome: 'verification',
      hint: 'the parameter schema is a JSON file (JSON Schema 2020-12)',
      details: { file: path },
    });
  }
  return parameterSchema(schema as object, path);
}
