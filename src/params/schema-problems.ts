import type { ErrorObject } from 'ajv/dist/2020.js';
import type { Problem } from '../errors.ts';
import { describeAlternatives, pruneAlternatives } from './alternatives.ts';
import { didYouMean } from './did-you-mean.ts';
import type { ParsedDocument } from './document.ts';
import { appendPointer } from './pointer.ts';

// ajv's errors, rewritten as problems a person can act on: where in the file, which rule,
// what was expected and what was found, and a near-miss hint. Values of secret properties
// (`writeOnly` / `x-promote-secret`) are never echoed; lists and objects are described by
// shape, never dumped (they might contain a secret a level down).

function isObjectSecretRef(s: unknown): boolean {
  const props = (s as { properties?: Record<string, unknown> }).properties;
  return props !== undefined && typeof props === 'object' && 'secretRef' in props;
}

/** Property names a schema allows, looking through local $refs and allOf/anyOf/oneOf. */
function allowedProperties(s: unknown, root: unknown, depth = 0): string[] {
  if (s === null || typeof s !== 'object' || depth > 8) return [];
  const o = s as Record<string, unknown>;
  const names = Object.keys((o.properties as object | undefined) ?? {});
  if (typeof o.$ref === 'string' && o.$ref.startsWith('#/') && root) {
    let target: unknown = root;
    for (const seg of o.$ref.slice(2).split('/')) target = (target as Record<string, unknown> | undefined)?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
    names.push(...allowedProperties(target, root, depth + 1));
  }
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    if (Array.isArray(o[k])) for (const sub of o[k] as unknown[]) names.push(...allowedProperties(sub, root, depth + 1));
  }
  return [...new Set(names)];
}

function isSecretSchema(s: unknown): boolean {
  if (s === null || typeof s !== 'object') return false;
  const o = s as Record<string, unknown>;
  return o.writeOnly === true || o['x-promote-secret'] === true;
}

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? '' : 's'}`;
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
    case 'number':
    case 'boolean':
      return String(v);
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function list(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

function where(doc: ParsedDocument | undefined, pointer: string, key = false): Pick<Problem, 'file' | 'line' | 'column'> {
  if (!doc) return {};
  const pos = key ? (doc.locateKey(pointer) ?? doc.locate(pointer)) : doc.locate(pointer);
  return { file: doc.file, ...(pos && { line: pos.line, column: pos.column }) };
}

/** One ajv error as a Problem, placed in `doc` when given. */
export function schemaProblem(e: ErrorObject, doc?: ParsedDocument, root?: object): Problem {
  const secret = isSecretSchema(e.parentSchema);
  const actual = secret ? undefined : describeValue(e.data);
  const p = e.params as Record<string, unknown>;
  const base = { pointer: e.instancePath, rule: e.keyword };
  switch (e.keyword) {
    case 'required': {
      if (Array.isArray(p.alternatives)) {
        const names = (p.alternatives as string[]).map((n) => `"${n}"`);
        return { ...where(doc, e.instancePath), ...base, rule: 'required', message: `needs one of ${names.join(', ')}`, expected: `${p.exactlyOne ? 'exactly one' : 'at least one'} of ${names.join(', ')}`, actual: 'none of them' };
      }
      const name = String(p.missingProperty);
      const pointer = appendPointer(e.instancePath, name);
      return { ...where(doc, e.instancePath), pointer, rule: 'required', message: `missing required property "${name}"`, expected: `a value for "${name}"`, actual: 'nothing' };
    }
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const name = String(p.additionalProperty ?? p.unevaluatedProperty);
      const pointer = appendPointer(e.instancePath, name);
      const props = allowedProperties(e.parentSchema, root);
      const near = didYouMean(name, props);
      return {
        ...where(doc, pointer, true),
        pointer,
        rule: e.keyword,
        message: `unknown property "${name}"`,
        expected: props.length ? `one of: ${props.join(', ')}` : 'no other properties',
        actual: JSON.stringify(name),
        ...(near ? { hint: `did you mean "${near}"?` } : {}),
      };
    }
    case 'type': {
      if (secret && isObjectSecretRef(e.parentSchema)) {
        return {
          ...where(doc, e.instancePath),
          ...base,
          rule: 'secret',
          message: 'a secret parameter must be a reference, never a literal value (the value is not shown)',
          expected: '{secretRef: {name, key}}',
          actual: `a literal ${jsonType(e.data)}`,
          hint: 'store the value in a Kubernetes Secret (created by your secret store, External Secrets, Sealed Secrets or SOPS) and reference it: {secretRef: {name: <secret>, key: <key>}}',
        };
      }
      if (secret) {
        return { ...where(doc, e.instancePath), ...base, message: `must be ${p.type}`, expected: String(p.type), actual: jsonType(e.data) };
      }
      return { ...where(doc, e.instancePath), ...base, message: `must be ${p.type}`, expected: String(p.type), actual: `${jsonType(e.data)} ${describeValue(e.data)}`.replace(/^(array|object) a/, 'a').replace(/^null null$/, 'null') };
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]) ?? [];
      const near = typeof e.data === 'string' && !secret ? didYouMean(e.data, allowed.filter((a): a is string => typeof a === 'string')) : undefined;
      return { ...where(doc, e.instancePath), ...base, message: 'must be one of the allowed values', expected: `one of: ${list(allowed)}`, ...(actual !== undefined && { actual }), ...(near ? { hint: `did you mean ${JSON.stringify(near)}?` } : {}) };
    }
    case 'const':
      return { ...where(doc, e.instancePath), ...base, message: 'must be the fixed value', expected: JSON.stringify(p.allowedValue), ...(actual !== undefined && { actual }) };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { ...where(doc, e.instancePath), ...base, message: `out of range: ${e.message}`, expected: `${p.comparison} ${p.limit}`, ...(actual !== undefined && { actual }) };
    case 'multipleOf':
      return { ...where(doc, e.instancePath), ...base, message: e.message ?? 'not a multiple', expected: `a multiple of ${p.multipleOf}`, ...(actual !== undefined && { actual }) };
    case 'pattern':
      return { ...where(doc, e.instancePath), ...base, message: 'does not match the required pattern', expected: `a string matching /${p.pattern}/`, ...(actual !== undefined && { actual }) };
    case 'format':
      return { ...where(doc, e.instancePath), ...base, message: `not a valid ${p.format}`, expected: `format "${p.format}"`, ...(actual !== undefined && { actual }) };
    case 'minLength':
    case 'maxLength':
      return { ...where(doc, e.instancePath), ...base, message: e.message ?? e.keyword, expected: `${e.keyword === 'minLength' ? 'at least' : 'at most'} ${p.limit} characters`, ...(actual !== undefined && { actual: `${(e.data as string).length} characters` }) };
    case 'minItems':
    case 'maxItems':
      return { ...where(doc, e.instancePath), ...base, message: e.message ?? e.keyword, expected: `${e.keyword === 'minItems' ? 'at least' : 'at most'} ${p.limit} items`, actual: describeValue(e.data) };
    case 'minProperties':
    case 'maxProperties':
      return { ...where(doc, e.instancePath), ...base, message: e.message ?? e.keyword, expected: `${e.keyword === 'minProperties' ? 'at least' : 'at most'} ${p.limit} properties`, actual: `${Object.keys(e.data as object).length} properties` };
    case 'uniqueItems':
      return { ...where(doc, appendPointer(e.instancePath, Number(p.i))), ...base, message: `items ${p.j} and ${p.i} are identical`, expected: 'unique items' };
    case 'oneOf':
    case 'anyOf':
      return {
        ...where(doc, e.instancePath),
        ...base,
        message: 'matches none of the allowed forms',
        expected: describeAlternatives(e.schema) ?? (e.keyword === 'oneOf' ? 'exactly one of the alternatives' : 'at least one of the alternatives'),
        ...(actual !== undefined && { actual: `${jsonType(e.data)}${typeof e.data === 'object' ? '' : ` ${actual}`}` }),
      };
    default:
      return { ...where(doc, e.instancePath), ...base, message: e.message ?? `fails "${e.keyword}"`, ...(actual !== undefined && { actual }) };
  }
}

/**
 * Every ajv error as a problem, in document order. `if`/`oneOf` wrapper errors that only repeat
 * what their branches said are dropped when a branch already explains the same place.
 */
export function schemaProblems(errors: readonly ErrorObject[], doc?: ParsedDocument, root?: object): Problem[] {
  const problems = pruneAlternatives(errors.filter((e) => e.keyword !== 'if')).map((e) => schemaProblem(e, doc, root));
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const k = `${p.pointer}|${p.rule}|${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return unique.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}
