import { isDeepStrictEqual } from 'node:util';
import { SECRET_KEYWORD } from '../params/schema-validator.ts';
import type { Parameter } from './share-parameters.ts';
import { ABSENT } from './walk-values.ts';

// The parameter schema and each environment's values, from the values seen. The rules:
// - type: what the values are (JSON Schema's `integer` when every number is whole, else
//   `number`), several when they differ; `null` too when a null drops a key;
// - enum: for strings only (a number's range is not its few values seen), when 2 to 5 distinct
//   values are shared by more environments than there are values — a choice among few values
//   (`logLevel: info | debug`), not one value per environment (a namespace, a host);
// - default: the value all environments but one agree on, when at least three have a value;
//   those environments' files then leave it out, so each file says only how it differs;
// - required: every parameter without a default that every environment gives (a parameter of
//   an object only some environments render is given by those alone);
// - secrets: {"x-promote-secret": true} (parameter-schema.ts turns it into a {secretRef}), never
//   a default, and each environment names a Secret in its cluster instead of the value.
// Objects are closed (`additionalProperties: false`); one whose parameters are all optional has
// `default: {}`, so that a file without it still gets the defaults below it.

type Json = Record<string, unknown>;

export interface NamedParameter {
  name: string;
  parameter: Parameter;
  description: string;
  /** For a secret: the Secret each environment is told to reference. */
  secretRef?: { name: string; key: string };
}

export interface SchemaPlan {
  schema: Json;
  /** Parameter values per environment, in pipeline order (what the environment files say). */
  values: Record<string, unknown>[];
  /** Defaults chosen, by parameter name. */
  defaults: Map<string, unknown>;
}

export const MAX_ENUM = 5;
const MIN_FOR_DEFAULT = 3;

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** The values environments give (ABSENT is the null that drops the key), by environment index. */
function given(p: Parameter): Map<number, unknown> {
  const out = new Map<number, unknown>();
  p.values.forEach((v, i) => {
    if (v !== undefined) out.set(i, v === ABSENT ? null : v);
  });
  return out;
}

/** The value all but one of at least MIN_FOR_DEFAULT environments agree on. */
export function defaultOf(values: readonly unknown[]): { value: unknown } | undefined {
  if (values.length < MIN_FOR_DEFAULT) return undefined;
  for (const v of values) {
    if (values.filter((x) => isDeepStrictEqual(x, v)).length === values.length - 1) return { value: v };
  }
  return undefined;
}

function leafSchema(np: NamedParameter, values: readonly unknown[]): Json {
  const p = np.parameter;
  if (p.secret) return { description: np.description, [SECRET_KEYWORD]: true };
  if (p.kind === 'include') return { description: np.description, type: 'boolean' };
  const types = new Set(values.map(typeOf));
  if (types.has('integer') && types.has('number')) types.delete('integer');
  const list = [...types].sort();
  const schema: Json = { description: np.description, type: list.length === 1 ? list[0] : list };
  const strings = values.filter((v) => v !== null);
  const distinct = [...new Set(strings)];
  if (strings.every((v) => typeof v === 'string') && distinct.length >= 2 && distinct.length <= MAX_ENUM && distinct.length < strings.length) {
    schema.enum = types.has('null') ? [...distinct, null] : distinct;
  }
  return schema;
}

function setPath(target: Json, path: readonly string[], value: unknown): void {
  let cur = target;
  for (const seg of path.slice(0, -1)) {
    if (!Object.hasOwn(cur, seg)) Object.defineProperty(cur, seg, { value: {}, enumerable: true, writable: true, configurable: true });
    cur = cur[seg] as Json;
  }
  Object.defineProperty(cur, path.at(-1)!, { value, enumerable: true, writable: true, configurable: true });
}

interface Node {
  children: Map<string, Node>;
  leaf?: Json;
  required: boolean;
}

function toSchema(node: Node): Json {
  if (node.leaf) return node.leaf;
  const properties: Json = {};
  const required: string[] = [];
  for (const [k, child] of node.children) {
    // defineProperty: a key named `__proto__` stays a key, never a prototype.
    Object.defineProperty(properties, k, { value: toSchema(child), enumerable: true, writable: true, configurable: true });
    if (child.required) required.push(k);
  }
  return { type: 'object', additionalProperties: false, ...(required.length ? { required } : { default: {} }), properties };
}

function markRequired(node: Node): boolean {
  if (node.leaf) return node.required;
  let any = false;
  for (const child of node.children.values()) any = markRequired(child) || any;
  node.required = any;
  return any;
}

export function schemaPlan(title: string, parameters: readonly NamedParameter[], envCount: number): SchemaPlan {
  const root: Node = { children: new Map(), required: false };
  const values: Json[] = Array.from({ length: envCount }, () => ({}));
  const defaults = new Map<string, unknown>();
  for (const np of parameters) {
    const byEnv = given(np.parameter);
    const seen = [...byEnv.values()];
    const schema = leafSchema(np, seen);
    const def = np.parameter.secret ? undefined : defaultOf(seen);
    if (def) {
      schema.default = def.value;
      defaults.set(np.name, def.value);
    }
    const path = np.name.split('.');
    let node = root;
    for (const seg of path) {
      if (!node.children.has(seg)) node.children.set(seg, { children: new Map(), required: false });
      node = node.children.get(seg)!;
    }
    node.leaf = schema;
    node.required = !def && byEnv.size === envCount;
    for (const [env, v] of byEnv) {
      if (def && isDeepStrictEqual(v, def.value)) continue;
      setPath(values[env]!, path, np.secretRef ? { secretRef: np.secretRef } : v);
    }
  }
  markRequired(root);
  const body = toSchema(root);
  delete body.default;
  return {
    schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', title, description: 'Everything that differs between the environments, found by promote import. Nothing else can differ.', ...body },
    values,
    defaults,
  };
}
