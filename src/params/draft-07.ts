// A JSON Schema draft-07 parameter schema as the 2020-12 schema that means the same, so that
// promote compiles one draft under one set of rules. Draft-07 is what Helm charts ship as
// values.schema.json (helm 3 validates values with it), and a helm bundle uses the chart's schema
// as its parameter schema (bundle-file.ts). The rewrite follows the drafts' release notes
// (https://json-schema.org/draft/2019-09/release-notes, .../draft/2020-12/release-notes):
//   definitions → $defs (and local `#/definitions/…` references with it)
//   items: [a, b] + additionalItems: c → prefixItems: [a, b] + items: c (additionalItems alone did nothing)
//   dependencies → dependentRequired (lists) / an if-then in allOf (schemas; see below)
//   $id: "#name" → $anchor: "name"
//   beside $ref, draft-07 ignores every other keyword: they are dropped, except annotations and
//   promote's secret markers, so the rewrite refuses exactly what the chart's schema refuses.
// Nothing else differs for the keywords draft-07 has; anything else is left for the strict
// compile to judge.

export const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-07\/schema#?$/;

/** Kept beside a $ref: they change nothing a value is checked against. */
const BESIDE_REF = new Set(['$ref', '$comment', 'title', 'description', 'examples', 'deprecated', 'readOnly', 'writeOnly', 'x-promote-secret', 'definitions']);

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

export function isDraft07(schema: object): boolean {
  return typeof (schema as Json).$schema === 'string' && DRAFT_07.test((schema as Json).$schema as string);
}

const MAPS = ['properties', 'patternProperties', 'definitions'] as const;
const LISTS = ['allOf', 'anyOf', 'oneOf'] as const;
const SINGLES = ['additionalProperties', 'contains', 'propertyNames', 'not', 'if', 'then', 'else'] as const;

/**
 * A local reference into the rewritten schema: each `definitions` where a keyword stands (not a
 * property that happens to be named so) becomes `$defs`, a tuple `items/<i>` becomes `prefixItems/<i>`.
 */
function localRef(ref: string): string {
  const segments = ref.slice(2).split('/');
  let keyword = true;
  const out = segments.map((seg, i) => {
    if (!keyword) {
      keyword = true;
      return seg;
    }
    // After a map keyword comes a name, after a list keyword an index; then a keyword again.
    keyword = !((MAPS as readonly string[]).includes(seg) || (LISTS as readonly string[]).includes(seg) || (seg === 'items' && /^[0-9]+$/.test(segments[i + 1] ?? '')) || seg === 'dependencies');
    if (seg === 'definitions') return '$defs';
    if (seg === 'items' && !keyword) return 'prefixItems';
    return seg;
  });
  return `#/${out.join('/')}`;
}

function convert(schema: unknown): unknown {
  if (!isObject(schema)) return schema;
  const source = typeof schema.$ref === 'string' ? Object.fromEntries(Object.entries(schema).filter(([k]) => BESIDE_REF.has(k))) : schema;
  const out: Json = {};
  const dependent: Json[] = [];
  for (const [k, v] of Object.entries(source)) {
    if ((MAPS as readonly string[]).includes(k) && isObject(v)) {
      out[k === 'definitions' ? '$defs' : k] = Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, convert(sub)]));
    } else if ((LISTS as readonly string[]).includes(k) && Array.isArray(v)) {
      out[k] = v.map(convert);
    } else if ((SINGLES as readonly string[]).includes(k)) {
      out[k] = convert(v);
    } else if (k === 'items') {
      if (Array.isArray(v)) {
        out.prefixItems = v.map(convert);
        if (source.additionalItems !== undefined) out.items = convert(source.additionalItems);
      } else {
        out.items = convert(v);
      }
    } else if (k === 'additionalItems') {
      // Handled with a tuple `items`; without one draft-07 ignores it.
    } else if (k === 'dependencies' && isObject(v)) {
      for (const [name, dep] of Object.entries(v)) {
        if (Array.isArray(dep)) out.dependentRequired = { ...(out.dependentRequired as Json | undefined), [name]: dep };
        // dependentSchemas would say the same, but ajv loses the properties evaluated beside it
        // when the property is absent (ajv-validator/ajv#2483), and promote's closed objects
        // (unevaluatedProperties: false) would then refuse valid values.
        else dependent.push({ if: { properties: { [name]: true }, required: [name] }, then: convert(dep) });
      }
    } else if (k === '$ref' && typeof v === 'string' && v.startsWith('#/')) {
      out.$ref = localRef(v);
    } else if (k === '$id' && typeof v === 'string' && v.startsWith('#')) {
      out.$anchor = v.slice(1);
    } else {
      out[k] = v;
    }
  }
  if (dependent.length) out.allOf = [...((out.allOf as unknown[] | undefined) ?? []), ...dependent];
  return out;
}

/** The 2020-12 form of a draft-07 schema (a new object; the given one is not changed). */
export function fromDraft07(schema: object): Json {
  return { ...(convert(schema) as Json), $schema: DRAFT_2020_12 };
}
