import { isMap, isScalar, visit, type Document, type Pair, type Scalar, type YAMLMap } from 'yaml';
import type { Problem } from '../errors.ts';
import { declaredTypes, resolveSchemaPath } from '../params/schema-path.ts';
import { pointerOf, positionAt, textPosition, type ParsedManifest } from './manifest-yaml.ts';
import { hasTemplateSyntax, scanReferences, soleReference, type Lookup, type TemplateReference } from './template.ts';

// Conditional content in plain manifests (issue 15, DESIGN.md §4b), the only conditionals
// promote has, both decided by a parameter the schema declares:
// - a document whose own `metadata.annotations["promote.dev/include-when"]` is
//   "${params.<name>}" (or "!${params.<name>}", quoted: an unquoted `!` starts a YAML tag) is
//   rendered only when that boolean is true (false, with `!`); the annotation itself is never
//   rendered. A file whose every document is left out is left out of the render. The value must
//   be a boolean when rendered, and the build refuses a parameter not declared boolean-only.
// - a key whose value is exactly one unquoted reference is dropped when the value is null. Only
//   the schema lets a value be null, so only a key the schema says may go can go; the build
//   refuses a nullable parameter anywhere else (inside a string, a list, a key, a quoted scalar),
//   where a null would be rendered as null rather than drop anything.

export const INCLUDE_WHEN = 'promote.dev/include-when';

type Json = Record<string, unknown>;

/** A document's include-when annotation: the nodes that hold it (its pair and the mappings above). */
export interface IncludeWhen {
  metadata: YAMLMap;
  annotationsPair: Pair;
  annotations: YAMLMap;
  pair: Pair;
}

export interface Condition {
  ref: TemplateReference;
  negated: boolean;
}

function pairOf(map: unknown, key: string): Pair | undefined {
  return isMap(map) ? (map.items as Pair[]).find((p) => isScalar(p.key) && p.key.value === key) : undefined;
}

export function includeWhenOf(doc: Document.Parsed): IncludeWhen | undefined {
  const metadata = pairOf(doc.contents, 'metadata')?.value;
  const annotationsPair = pairOf(metadata, 'annotations');
  const annotations = annotationsPair?.value;
  const pair = pairOf(annotations, INCLUDE_WHEN);
  return pair && isMap(metadata) && isMap(annotations) ? { metadata, annotationsPair: annotationsPair!, annotations, pair } : undefined;
}

/** Where the condition is written (its reference, else its value, else its key), as an offset into the manifest's text. */
export function conditionOffset(when: IncludeWhen, text: string): number {
  const [start, end] = ((when.pair.value ?? when.pair.key) as Scalar).range!;
  const ref = text.indexOf('${', start);
  return ref >= 0 && ref < end ? ref : start;
}

const FORM = `"\${params.<name>}" or "!\${params.<name>}"`;

export function parseCondition(when: IncludeWhen): Condition | { error: string } {
  const v = when.pair.value;
  const text = isScalar(v) && typeof v.value === 'string' ? v.value : undefined;
  const negated = text?.startsWith('!') ?? false;
  const ref = text === undefined ? undefined : soleReference(negated ? text.slice(1) : text);
  if (ref && !ref.malformed && ref.scope === 'params') return { ref, negated };
  const found = text === undefined ? (isScalar(v) ? String(v.value) : 'no string') : JSON.stringify(text);
  return { error: `${INCLUDE_WHEN} must be one boolean parameter, ${FORM}; found ${found}` };
}

function describe(v: unknown): string {
  const json = JSON.stringify(v) ?? String(v);
  const what = v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
  return v === null ? 'null' : `${json.length > 40 ? `${json.slice(0, 40)}…` : json} (${what})`;
}

/** Is the document included? The parameter's value must be a boolean. */
export function evaluateCondition(c: Condition, lookup: Lookup): { include: boolean } | { error: string } {
  const found = lookup(c.ref);
  if ('error' in found) return found;
  if (typeof found.value !== 'boolean') return { error: `${INCLUDE_WHEN}: ${c.ref.text} is ${describe(found.value)}, not a boolean; the document is included only when it is ${c.negated ? 'false' : 'true'}` };
  return { include: found.value !== c.negated };
}

const BOOLEAN_HINT = 'declare the parameter {"type": "boolean", "default": false} in the parameter schema, so every environment says true or false (or leaves the default)';

function typeText(types: Set<string> | undefined): string {
  return types === undefined ? 'without restricting its type' : types.size === 0 ? 'so that no value matches' : `as ${[...types].sort().join(' or ')}`;
}

function includeWhenProblem(manifest: ParsedManifest, when: IncludeWhen, pointer: string, schema: Json): Problem | undefined {
  const at = { file: manifest.path, ...positionAt(manifest, conditionOffset(when, manifest.text)), pointer, rule: 'include-when' };
  const c = parseCondition(when);
  if ('error' in c) return { ...at, message: c.error, expected: FORM, hint: 'write the condition quoted, naming one boolean parameter' };
  // An undeclared parameter is the reference check's (references.ts), with its did-you-mean.
  if (!resolveSchemaPath(schema, c.ref.path).ok) return undefined;
  const types = declaredTypes(schema, c.ref.path);
  if (types?.size === 1 && types.has('boolean')) return undefined;
  return { ...at, message: `${INCLUDE_WHEN}: ${c.ref.text} must be a boolean parameter, but the parameter schema declares it ${typeText(types)}`, expected: 'a parameter declared {"type": "boolean"}', actual: c.ref.text, hint: BOOLEAN_HINT };
}

function nullable(ref: TemplateReference, schema: Json): boolean {
  return !ref.escaped && !ref.malformed && ref.scope === 'params' && resolveSchemaPath(schema, ref.path).ok && (declaredTypes(schema, ref.path)?.has('null') ?? false);
}

/** Would a null here drop its key? Only as the whole unquoted value of a key of a block mapping. */
export function dropsWhenNull(node: Scalar, parent: unknown, map: unknown): boolean {
  if (!isMap(map) || map.flow || (parent as Pair | undefined)?.value !== node || node.type !== 'PLAIN' || node.tag || node.anchor || typeof node.value !== 'string') return false;
  const sole = soleReference(node.value);
  return sole !== undefined && !sole.malformed;
}

function nullableProblem(file: string, pos: { line: number; column: number }, ref: TemplateReference, pointer?: string): Problem {
  return {
    file,
    ...pos,
    ...(pointer !== undefined && { pointer }),
    rule: 'nullable-reference',
    message: `${ref.text} can be null (the parameter schema allows null), and here a null would be rendered as null: only a key whose whole unquoted value is one reference is dropped when it is null`,
    actual: ref.text,
    hint: `use it as the whole value of a key (\`key: ${ref.text}\`, left out when null), or take "null" out of its type in the parameter schema`,
  };
}

/**
 * Build-time problems with conditions in a manifest read without problems: an include-when that
 * is not one boolean parameter (or not in the document's own metadata), and a nullable
 * parameter where a null cannot drop a key.
 */
export function conditionProblems(manifest: ParsedManifest, schema: Json): Problem[] {
  const problems: Problem[] = [];
  if (!hasTemplateSyntax(manifest.text) && !manifest.text.includes(INCLUDE_WHEN)) return problems;
  const { path: file, text } = manifest;
  for (const doc of manifest.documents) {
    const when = includeWhenOf(doc);
    visit(doc, {
      Pair(_key, pair, path) {
        if (!isScalar(pair.key) || pair.key.value !== INCLUDE_WHEN) return;
        if (pair === when?.pair) {
          const p = includeWhenProblem(manifest, when, pointerOf([...path, pair], pair.key), schema);
          if (p) problems.push(p);
          return visit.SKIP;
        }
        problems.push({
          file,
          ...positionAt(manifest, pair.key.range![0]),
          pointer: pointerOf([...path, pair], pair.key),
          rule: 'include-when',
          message: `${INCLUDE_WHEN} acts only in a document's own metadata.annotations; here it would be rendered as an ordinary annotation`,
          hint: 'move it to the metadata.annotations of the document to include or leave out',
        });
      },
      Scalar(key, node, path) {
        if (typeof node.value !== 'string' || !node.range || !hasTemplateSyntax(node.value)) return;
        if (key === 'value' && dropsWhenNull(node, path.at(-1), path.at(-2))) return;
        for (const ref of scanReferences(node.value)) {
          if (!nullable(ref, schema)) continue;
          const i = text.indexOf(ref.text, node.range[0]);
          problems.push(nullableProblem(file, positionAt(manifest, i >= 0 && i < node.range[1] ? i : node.range[0]), ref, pointerOf(path, node)));
        }
      },
    });
  }
  return problems;
}

/** The same nullable check in another text file of manifests/ (substituted as text: a null would be the text "null"). */
export function textConditionProblems(path: string, text: string, schema: Json): Problem[] {
  return scanReferences(text)
    .filter((ref) => nullable(ref, schema))
    .map((ref) => nullableProblem(path, textPosition(text, ref.index), ref));
}
