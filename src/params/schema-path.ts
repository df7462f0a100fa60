import { didYouMean } from './did-you-mean.ts';

// Does a dotted parameter path (`${params.db.host}`) name something the schema declares? Used
// at build time so an undeclared reference fails the build, not a deploy. Follows local $refs,
// allOf/anyOf/oneOf (declared in any branch counts), properties, patternProperties,
// additionalProperties (when it is a schema), items and prefixItems.

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
