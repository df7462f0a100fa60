import { Document, Pair, Scalar, YAMLMap, YAMLSeq, isMap, isScalar } from 'yaml';
import { plainSafe } from '../bundle/yaml-text.ts';
import type { Template } from './walk-values.ts';

// An object's template as a manifest of the bundle, written so that the plain renderer
// (bundle/render.ts) gives back exactly the values walked:
// - a value that is one parameter is one *unquoted* reference, `replicas: ${params.x}`, which
//   takes the parameter's value with its type (a number stays a number, a null drops the key);
// - a string made of a parameter and text around it is quoted, "backend.${params.namespace}.svc";
// - literal text that holds what looks like a reference of ours is escaped (`$${params.…}`);
// - block style throughout (a null drops a key only in a block mapping), and every string that
//   a YAML 1.1 reader would take for something else (`on`, `0755`) quoted.

/** What an occurrence is written as: one parameter, or text with parameters in it. */
export type Binding = { param: string } | { parts: (string | { param: string })[] };

/** The parameter written into a document's annotation to render it only in some environments. */
export const INCLUDE_WHEN = 'promote.dev/include-when';

const REFERENCE = /\$\{(?:params|promote)\.[^}\n]*\}/g;

/** Literal text as the renderer must see it: each of our references in it escaped. */
export function escapeReferences(text: string): string {
  return text.replace(REFERENCE, (m) => `$${m}`);
}

function stringNode(s: string): Scalar {
  const node = new Scalar(escapeReferences(s));
  if (!s.includes('\n') && !plainSafe(node.value as string, false)) node.type = 'QUOTE_DOUBLE';
  return node;
}

function keyNode(k: string): Scalar {
  const node = new Scalar(escapeReferences(k));
  if (!plainSafe(node.value as string, false)) node.type = 'QUOTE_DOUBLE';
  return node;
}

function literalNode(v: unknown): unknown {
  if (typeof v === 'string') return stringNode(v);
  if (Array.isArray(v)) {
    const seq = new YAMLSeq();
    for (const item of v) seq.items.push(literalNode(item));
    return seq;
  }
  if (v !== null && typeof v === 'object') {
    const map = new YAMLMap();
    for (const [k, x] of Object.entries(v)) map.items.push(new Pair(keyNode(k), literalNode(x)));
    return map;
  }
  return new Scalar(v);
}

function referenceNode(binding: Binding): Scalar {
  if ('param' in binding) {
    const node = new Scalar(`\${params.${binding.param}}`);
    node.type = 'PLAIN';
    return node;
  }
  const text = binding.parts.map((p) => (typeof p === 'string' ? escapeReferences(p) : `\${params.${p.param}}`)).join('');
  const node = new Scalar(text);
  node.type = 'QUOTE_DOUBLE';
  return node;
}

function toNode(t: Template, bindings: readonly Binding[]): unknown {
  switch (t.t) {
    case 'literal':
      return literalNode(t.value);
    case 'occurrence':
      return referenceNode(bindings[t.index]!);
    case 'map': {
      const map = new YAMLMap();
      for (const [k, child] of t.entries) map.items.push(new Pair(keyNode(k), toNode(child, bindings)));
      return map;
    }
    case 'list': {
      const seq = new YAMLSeq();
      for (const item of t.items) seq.items.push(toNode(item, bindings));
      return seq;
    }
  }
}

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  return (map.items as Pair[]).find((p) => isScalar(p.key) && p.key.value === key);
}

/**
 * Makes the document conditional (DESIGN.md §4b): `metadata.annotations["promote.dev/include-when"]:
 * "${params.<param>}"`, which the plain renderer strips when it renders the document. Returns why
 * it cannot, when metadata or its annotations are themselves a parameter.
 */
export function addIncludeWhen(root: YAMLMap, param: string): string | undefined {
  const metadata = pairOf(root, 'metadata')?.value;
  if (!isMap(metadata)) return 'metadata is not a mapping written out in the bundle';
  let annotations = pairOf(metadata, 'annotations');
  if (!annotations) {
    annotations = new Pair(new Scalar('annotations'), new YAMLMap());
    metadata.items.push(annotations);
  }
  if (!isMap(annotations.value)) return 'metadata.annotations differ between environments as a whole';
  const value = new Scalar(`\${params.${param}}`);
  value.type = 'QUOTE_DOUBLE';
  annotations.value.items.push(new Pair(new Scalar(INCLUDE_WHEN), value));
  return undefined;
}

export interface EmittedManifest {
  text: string;
  /** Why the include-when could not be written, if it could not. */
  problem?: string;
}

/** The manifest text of one object: its template, references bound, conditional on `include` if given. */
export function emitManifest(template: Template, bindings: readonly Binding[], options: { include?: string; comment?: string } = {}): EmittedManifest {
  const doc = new Document();
  const root = toNode(template, bindings);
  if (!isMap(root)) throw new Error('internal: an object template is not a mapping');
  const problem = options.include === undefined ? undefined : addIncludeWhen(root, options.include);
  doc.contents = root as never;
  if (options.comment) doc.commentBefore = options.comment;
  return { text: doc.toString({ lineWidth: 0 }), ...(problem !== undefined && { problem }) };
}
