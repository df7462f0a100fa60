import { didYouMean } from './did-you-mean.ts';

// Does a dotted parameter path (`${params.db.host}`) name something the schema declares? Used
// at build time so an undeclared reference fails the build, not a deploy. Follows local $refs,
// allOf/anyOf/oneOf (declared in any branch counts), properties, patternProperties,
// additionalProperties (when it is a schema), items and prefixItems. declaredTypes() answers the
// next question the build asks of a declared parameter: can it be a boolean only, can it be null.

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

export type SchemaPathResult = { ok: true } | { ok: false; missing: string; at: string; candidates: string[]; hint?: string };

function deref(schema: unknown, root: Json, depth = 0): unknown {
  if (!isObject(schema) || typeof schema.$ref !== 'string' || !schema.$ref.startsWith('#') || depth > 16) return schema;
  let target: unknown = root;
  for (const seg of schema.$ref.slice(1).split('/').filter(Boolean)) {
    target = isObject(target) ? target[seg.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  }
  return deref(target, root, depth + 1);
}

/** The subschemas describing the child `segment` of values matching `schema` (empty: undeclared). */
function children(schema: unknown, segment: string, root: Json, depth = 0): unknown[] {
  const s = deref(schema, root);
  if (s === true) return [true];
  if (!isObject(s) || depth > 16) return [];
  const out: unknown[] = [];
  let declared = false;
  if (isObject(s.properties) && Object.hasOwn(s.properties, segment)) {
    out.push(s.properties[segment]);
    declared = true;
  }
  if (isObject(s.patternProperties)) {
    for (const [re, sub] of Object.entries(s.patternProperties)) {
      if (new RegExp(re, 'u').test(segment)) {
        out.push(sub);
        declared = true;
      }
    }
  }
  if (!declared && s.additionalProperties !== undefined && s.additionalProperties !== false && !/^\d+$/.test(segment)) out.push(s.additionalProperties);
  if (/^\d+$/.test(segment)) {
    const i = Number(segment);
    if (Array.isArray(s.prefixItems) && i < s.prefixItems.length) out.push(s.prefixItems[i]);
    else if (s.items !== undefined && s.items !== false) out.push(s.items);
  }
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[k])) for (const sub of s[k] as unknown[]) out.push(...children(sub, segment, root, depth + 1));
  }
  return out;
}

function names(schema: unknown, root: Json, depth = 0): string[] {
  const s = deref(schema, root);
  if (!isObject(s) || depth > 16) return [];
  const out = isObject(s.properties) ? Object.keys(s.properties) : [];
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[k])) for (const sub of s[k] as unknown[]) out.push(...names(sub, root, depth + 1));
  }
  return out;
}

export function resolveSchemaPath(root: Json, path: readonly string[]): SchemaPathResult {
  let current: unknown[] = [root];
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const next = current.flatMap((s) => children(s, seg, root));
    if (next.length === 0) {
      const candidates = [...new Set(current.flatMap((s) => names(s, root)))];
      const near = didYouMean(seg, candidates);
      return { ok: false, missing: path.slice(0, i + 1).join('.'), at: path.slice(0, i).join('.'), candidates, ...(near && { hint: `did you mean \${params.${[...path.slice(0, i), near].join('.')}}?` }) };
    }
    current = next;
  }
  return { ok: true };
}

const jsonType = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? 'number' : typeof v);

function union(sets: (Set<string> | undefined)[]): Set<string> | undefined {
  return sets.some((t) => t === undefined) ? undefined : new Set(sets.flatMap((t) => [...t!]));
}

function intersect(a: Set<string> | undefined, b: Set<string> | undefined): Set<string> | undefined {
  return a === undefined ? b : b === undefined ? a : new Set([...a].filter((t) => b.has(t)));
}

/** The JSON types a value matching `schema` may have (`type`, `const`, `enum`, the combinators); undefined when it does not say. */
function typesOf(schema: unknown, root: Json, depth = 0): Set<string> | undefined {
  const s = deref(schema, root);
  if (s === false) return new Set();
  if (!isObject(s) || depth > 16) return undefined;
  let out: Set<string> | undefined;
  if (typeof s.type === 'string') out = new Set([s.type]);
  else if (Array.isArray(s.type)) out = new Set(s.type.map(String));
  if (Object.hasOwn(s, 'const')) out = intersect(out, new Set([jsonType(s.const)]));
  if (Array.isArray(s.enum)) out = intersect(out, new Set(s.enum.map(jsonType)));
  for (const k of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[k])) out = intersect(out, union((s[k] as unknown[]).map((sub) => typesOf(sub, root, depth + 1))));
  }
  if (Array.isArray(s.allOf)) for (const sub of s.allOf as unknown[]) out = intersect(out, typesOf(sub, root, depth + 1));
  return out;
}

/**
 * The JSON types (`boolean`, `null`, `string`, …) the schema lets the value at a declared `path`
 * take: the union over every subschema that describes it, so the answer errs towards "may".
 * Undefined when some subschema does not restrict the type (or the path is not declared).
 */
export function declaredTypes(root: Json, path: readonly string[]): Set<string> | undefined {
  let current: unknown[] = [root];
  for (const seg of path) current = current.flatMap((s) => children(s, seg, root));
  return current.length === 0 ? undefined : union(current.map((s) => typesOf(s, root)));
}
