import { isMap, isSeq, parseAllDocuments, type Document } from 'yaml';
import { PromoteError, type Problem } from '../errors.ts';
import { MAX_MANIFEST_ALIAS_COUNT, BUNDLE_MAX_MANIFEST_BYTES } from './limits.ts';
import { isManifestPath, manifestValues, positionAt, readManifest, type ParsedManifest } from './manifest-yaml.ts';
import { isOnDisk, roleOf, type BundleLayout, type RenderInput } from './render.ts';

// Secrets stay out of bundles: a bundle is pushed to a registry, copied, cached and kept for
// ever, so a Kubernetes Secret carrying `data` or `stringData` in it is a leaked secret. The
// build refuses one unless bundle.yaml says `allowSecrets: true` (e.g. kube-prometheus ships
// three whose values are not sensitive).
//
// The check looks at the *values* a YAML reader gets — after escapes, quoting, anchors, aliases
// and merge keys — not at the text, and at every object however it is wrapped (issue 12 §9): a
// Secret inside a `kind: List`, the items of a `SecretList` (which, as in Kubernetes' decoder,
// take their kind from the list), one nested anywhere in another object, in any YAML or JSON
// file anywhere in the bundle (files/ is shipped in the same signed artefact as manifests/).

export const SECRET_HINT =
  'keep secret values out of the bundle: create them in the cluster from a secret store (External Secrets Operator), commit them encrypted (Sealed Secrets, SOPS), or reference them as parameters {secretRef: {name, key}}; if these values are not secret, set spec.allowSecrets: true in bundle.yaml';

export interface SecretFound {
  /** JSON pointer to the `data`/`stringData` member, inside the document. */
  pointer: string;
  name?: string;
  key: 'data' | 'stringData';
}

const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

function nonEmpty(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (v instanceof Map) return v.size > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return v !== '';
}

/** Every Secret with values in one document's value (iterative: a deep document cannot overflow the stack). */
export function secretsInValue(root: unknown): SecretFound[] {
  const found: SecretFound[] = [];
  const stack: { value: unknown; pointer: string; inherited?: { kind: string; apiVersion: unknown } }[] = [{ value: root, pointer: '' }];
  while (stack.length) {
    const { value, pointer, inherited } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push({ value: item, pointer: `${pointer}/${i}` }));
      continue;
    }
    const o = value as Record<string, unknown>;
    const kind = typeof o.kind === 'string' ? o.kind : inherited?.kind;
    const apiVersion = o.apiVersion ?? inherited?.apiVersion;
    if (kind === 'Secret' && (apiVersion === 'v1' || apiVersion === undefined)) {
      const meta = o.metadata as Record<string, unknown> | undefined;
      const name = meta !== null && typeof meta === 'object' && typeof meta.name === 'string' ? meta.name : undefined;
      for (const key of ['data', 'stringData'] as const) {
        if (nonEmpty(o[key])) found.push({ pointer: `${pointer}/${key}`, key, ...(name !== undefined && { name }) });
      }
    }
    // A typed list (`SecretList`, `ConfigMapList`…) need not say its items' kind: Kubernetes'
    // decoder gives each the list's kind without "List" and the list's apiVersion.
    const listOf = typeof o.kind === 'string' && o.kind.endsWith('List') && o.kind.length > 4 ? o.kind.slice(0, -4) : undefined;
    for (const [k, child] of Object.entries(o)) {
      if (k === 'items' && listOf !== undefined && Array.isArray(child)) {
        child.forEach((item, i) => stack.push({ value: item, pointer: `${pointer}/items/${i}`, inherited: { kind: listOf, apiVersion: o.apiVersion } }));
      } else {
        stack.push({ value: child, pointer: `${pointer}/${escapePointer(k)}` });
      }
    }
  }
  return found.sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0));
}

/** Line and column of a pointer's node where the document spells it out (not through an alias or merge), else the document's start. */
function pointerPosition(manifest: ParsedManifest, doc: Document.Parsed, pointer: string): { line: number; column: number } {
  let node: unknown = doc.contents;
  let offset = doc.range[0];
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === seg);
      if (!pair) break;
      offset = (pair.key as { range?: [number, number, number] }).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      node = node.items[Number(seg)];
      offset = (node as { range?: [number, number, number] } | undefined)?.range?.[0] ?? offset;
    } else break;
  }
  return positionAt(manifest, offset);
}

function problemsFor(manifest: ParsedManifest, docs: readonly Document.Parsed[], values: readonly unknown[]): Problem[] {
  const problems: Problem[] = [];
  values.forEach((value, i) => {
    const doc = docs[i]!;
    for (const s of secretsInValue(value)) {
      problems.push({
        file: manifest.path,
        ...pointerPosition(manifest, doc, s.pointer),
        pointer: s.pointer,
        rule: 'no-secrets',
        message: `Secret ${s.name !== undefined ? `"${s.name}" ` : ''}carries ${s.key}; secret values do not belong in a bundle`,
        expected: `a Secret without ${s.key}, or spec.allowSecrets: true`,
      });
    }
  });
  return problems;
}

/** Secret problems in a manifest already read (readManifest, manifestValues) without problems. */
export function manifestSecretProblems(manifest: ParsedManifest, expanded: { values: readonly unknown[]; sources: readonly Document.Parsed[] }): Problem[] {
  return problemsFor(manifest, expanded.sources, expanded.values);
}

/** Text of any other file a YAML reader would read: UTF-8, or UTF-16 with its byte-order mark. */
function yamlText(content: Uint8Array): string | undefined {
  const encoding = content[0] === 0xff && content[1] === 0xfe ? 'utf-16le' : content[0] === 0xfe && content[1] === 0xff ? 'utf-16be' : 'utf-8';
  try {
    return new TextDecoder(encoding, { fatal: true }).decode(content);
  } catch {
    return undefined;
  }
}

/**
 * Secret problems in a file that is not a manifest (files/, anything else in the bundle): read
 * leniently — it need not be YAML at all — and every document that does parse is checked.
 */
export function fileSecretProblems(path: string, content: Uint8Array): Problem[] {
  if (content.length > BUNDLE_MAX_MANIFEST_BYTES) return [];
  const text = yamlText(content);
  if (text === undefined) return [];
  const manifest = readManifest(path, new TextEncoder().encode(text));
  if (manifest.problems.length === 0) {
    const expanded = manifestValues(manifest);
    return 'values' in expanded ? manifestSecretProblems(manifest, expanded) : [];
  }
  // Not valid as a whole (a duplicate key, one broken document): check the documents that are.
  const docs = parseAllDocuments(text, { merge: true, lineCounter: manifest.lines });
  const good = (Array.isArray(docs) ? docs : []).filter((d) => d.errors.length === 0);
  const values: unknown[] = [];
  const kept: Document.Parsed[] = [];
  for (const d of good) {
    try {
      const v = d.toJS({ maxAliasCount: MAX_MANIFEST_ALIAS_COUNT });
      if (v !== null && v !== undefined) {
        values.push(v);
        kept.push(d);
      }
    } catch {
      // an alias bomb in a shipped file: nothing a reader could expand either
    }
  }
  return problemsFor({ ...manifest, text }, kept, values);
}

/** Every Secret object with data/stringData in the bundle's files, as problems (file:line). */
export function secretObjectProblems(files: readonly RenderInput[], layout: BundleLayout): Problem[] {
  const problems: Problem[] = [];
  for (const f of files) {
    // Kept on disk by a reader of a pulled bundle (a shipped file, streamed): build read and
    // checked it when it was packed, which is where a secret must be stopped.
    if (isOnDisk(f)) continue;
    if (roleOf(f.path, layout) === 'manifests' && isManifestPath(f.path)) {
      const manifest = readManifest(f.path, f.content);
      if (manifest.problems.length) continue; // reported as what they are by the content check
      const expanded = manifestValues(manifest);
      if ('values' in expanded) problems.push(...manifestSecretProblems(manifest, expanded));
    } else {
      problems.push(...fileSecretProblems(f.path, f.content));
    }
  }
  return problems;
}

/** Throws SECRET_IN_BUNDLE (exit 4) unless allowed or there are none. */
export function checkSecretObjects(files: readonly RenderInput[], layout: BundleLayout, allowSecrets: boolean): void {
  if (allowSecrets) return;
  const problems = secretObjectProblems(files, layout);
  if (problems.length === 0) return;
  const n = problems.length;
  throw new PromoteError('SECRET_IN_BUNDLE', `the bundle contains ${n} Secret value set${n === 1 ? '' : 's'} (data/stringData)`, {
    outcome: 'verification',
    problems,
    hint: SECRET_HINT,
  });
}
