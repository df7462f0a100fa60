import { isMap, isScalar, isSeq, visit, type Scalar } from 'yaml';
import { PromoteError, type Problem } from '../errors.ts';
import { isManifestPath, manifestValues, notUtf8At, positionAt, readManifest, textPosition, type ParsedManifest } from './manifest-yaml.ts';
import { compareBytes } from './walk.ts';
import { plainSafe, yamlText } from './yaml-text.ts';
import { conditionOffset, dropsWhenNull, evaluateCondition, INCLUDE_WHEN, includeWhenOf, parseCondition } from './conditions.ts';
import { YamlCuts } from './yaml-cut.ts';
import { expandString, hasTemplateSyntax, soleReference, type Lookup, type TemplateReference } from './template.ts';

// Size: one pass that edits the source text and the parsed YAML together, so `content` and
// `documents` cannot disagree; splitting the pass would split that invariant across files.

// The renderer (DESIGN.md §4): turns a bundle's source files plus one set of parameters into the
// exact files an agent applies. It edits the source text only where a reference is, so
// everything else — comments, key order, quoting, indentation, and every `${…}` that is not
// ours — comes out byte for byte as written, and a diff between two environments' renders
// shows only parameters. The parsed YAML is edited alongside, so `documents` (what the
// Kubernetes target applies) and `content` (what the dir target writes) always agree.
//
// Typing rule: a *plain* (unquoted, untagged) scalar that is exactly one reference takes the
// value with its type (number, boolean, object, list). A quoted scalar stays a string — YAML's
// own meaning of quotes — so `prometheus.io/port: "${params.port}"` yields "9797", not 9797.
// Such a scalar, as the value of a key, whose value is null takes its key with it; and a document
// can be left out by a boolean parameter (conditions.ts; the cuts, in text and YAML, yaml-cut.ts).

export interface SourceFile {
  /** Bundle-relative, '/'-separated. */
  path: string;
  content: Uint8Array;
}

/**
 * A shipped file left on disk (under spec.files): the renderer never reads it, and whoever
 * writes the render streams it from `source`, so a bundle of large files costs no memory.
 */
export interface OnDiskFile {
  path: string;
  /** Absolute path of the file to stream from. */
  source: string;
  size: number;
}

export type RenderInput = SourceFile | OnDiskFile;

export function isOnDisk(file: RenderInput | RenderedFile): file is OnDiskFile | OnDiskRenderedFile {
  return 'source' in file;
}

/** Where a bundle keeps what (bundle.yaml spec.manifests / spec.files). */
export interface BundleLayout {
  manifests: string;
  files?: string;
}

/** Values of `${promote.*}`; one left undefined is an error where it is referenced, never "". */
export interface BuiltinValues {
  stage?: string;
  environment?: string;
  cluster?: string;
  digest?: string;
}

export interface RenderContext {
  params: Record<string, unknown>;
  promote: BuiltinValues;
}

export interface InMemoryRenderedFile {
  /** Bundle-relative path, as in the source (`manifests/…`, `files/…`). */
  path: string;
  /** manifest: YAML/JSON with `documents`; text: substituted text; verbatim: bytes as shipped. */
  kind: 'manifest' | 'text' | 'verbatim';
  content: string | Uint8Array;
  /** The manifest's documents as plain objects, in order (empty documents left out). */
  documents?: unknown[];
}

/** A shipped file passed through unread (see OnDiskFile). */
export interface OnDiskRenderedFile extends OnDiskFile {
  kind: 'verbatim';
  content?: never;
  documents?: never;
}

export type RenderedFile = InMemoryRenderedFile | OnDiskRenderedFile;

const decoder = new TextDecoder('utf-8', { fatal: true });

function dirPrefix(dir: string): string {
  const d = dir.replace(/^\.\//, '').replace(/\/+$/, '');
  return d === '' || d === '.' ? '' : `${d}/`;
}

/** The role of a bundle-relative path: rendered (manifests), shipped (files), or neither. */
export function roleOf(path: string, layout: BundleLayout): 'manifests' | 'files' | undefined {
  const m = dirPrefix(layout.manifests);
  if (path.startsWith(m)) return 'manifests';
  if (layout.files !== undefined && path.startsWith(dirPrefix(layout.files))) return 'files';
  return undefined;
}

export function decodeText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** How a `${…}` reference resolves in a render (also the helm renderer's release name and namespace). */
export function lookupIn(ctx: RenderContext): Lookup {
  return (ref: TemplateReference) => {
    if (ref.scope === 'promote') {
      const value = ctx.promote[ref.path[0] as keyof BuiltinValues];
      if (value === undefined) {
        const why = ref.path[0] === 'cluster' ? 'no cluster was given (render with --cluster)' : ref.path[0] === 'digest' ? 'the bundle has no digest here (render a built bundle)' : 'it was not given';
        return { error: `${ref.text} has no value: ${why}` };
      }
      return { value };
    }
    let cur: unknown = ctx.params;
    for (let i = 0; i < ref.path.length; i++) {
      const seg = ref.path[i]!;
      if (Array.isArray(cur) && /^\d+$/.test(seg) && Number(seg) < cur.length) cur = cur[Number(seg)];
      else if (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, seg)) cur = (cur as Record<string, unknown>)[seg];
      else {
        const at = ref.path.slice(0, i + 1).join('.');
        return { error: `parameter "${at}" has no value in this environment (referenced as ${ref.text})` };
      }
    }
    return { value: cur };
  };
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

function problemAt(m: ParsedManifest | { path: string; text: string }, offset: number, message: string, rule: string, hint?: string): Problem {
  const pos = 'lines' in m ? positionAt(m, offset) : textPosition(m.text, offset);
  return { file: m.path, line: pos.line, column: pos.column, rule, message, ...(hint && { hint }) };
}

/** Offset of a reference inside a scalar's source (exact when the source spells it out). */
function refOffset(text: string, node: Scalar, ref: TemplateReference): number {
  const [start, end] = node.range!;
  const i = text.indexOf(ref.text, start);
  return i >= 0 && i < end ? i : start;
}

/**
 * Renders one YAML manifest file; problems are collected, not thrown. Undefined when the file is
 * left out: every document it has is excluded by its include-when (conditions.ts).
 */
function renderManifest(path: string, bytes: Uint8Array, ctx: RenderContext, problems: Problem[]): RenderedFile | undefined {
  const manifest = readManifest(path, bytes);
  const { text } = manifest;
  if (manifest.problems.length) {
    problems.push(...manifest.problems);
    return { path, kind: 'manifest', content: text };
  }
  const edits: Edit[] = [];
  const cuts = new YamlCuts(text);
  const kept: typeof manifest.documents = [];
  let excluded = 0;
  if (hasTemplateSyntax(text) || text.includes(INCLUDE_WHEN)) {
    const lookup = lookupIn(ctx);
    const before = problems.length;
    manifest.documents.forEach((doc, d) => {
      const when = includeWhenOf(doc);
      if (when) {
        const condition = parseCondition(when);
        const decided = 'error' in condition ? condition : evaluateCondition(condition, lookup);
        if ('error' in decided) return void problems.push(problemAt(manifest, conditionOffset(when, text), decided.error, 'include-when'));
        if (!decided.include) {
          // Left out before anything in it is rendered: its references need no value here.
          excluded++;
          return cuts.document(doc, manifest.documents[d + 1]);
        }
        cuts.pair(when.annotations, when.pair);
        cuts.collapse(when.annotations, when.metadata, when.annotationsPair);
      }
      kept.push(doc);
      visit(doc, {
        Pair(_key, pair, path) {
          if (cuts.has(pair)) return visit.SKIP;
          // A key whose whole unquoted value is one reference to null is dropped (conditions.ts).
          const value = pair.value;
          const map = path.at(-1);
          if (!isScalar(value) || !isMap(map) || !dropsWhenNull(value, pair, map)) return;
          const found = lookup(soleReference(value.value as string)!);
          if (!('value' in found) || found.value !== null) return;
          cuts.pair(map, pair);
          return visit.SKIP;
        },
        Scalar(key, node, path) {
          if (typeof node.value !== 'string' || !hasTemplateSyntax(node.value) || !node.range) return;
          const value = node.value;
          const flow = path.some((p) => (isMap(p) || isSeq(p)) && p.flow === true);
          const onError = (ref: TemplateReference, message: string) => problems.push(problemAt(manifest, refOffset(text, node, ref), message, 'reference'));
          const sole = soleReference(value);
          if (sole && !sole.malformed && node.type === 'PLAIN' && !node.tag && key !== 'key') {
            const found = lookup(sole);
            if ('error' in found) return void onError(sole, found.error);
            const typed = found.value;
            node.value = typed !== null && typeof typed === 'object' ? structuredClone(typed) : typed;
            edits.push({ start: node.range[0], end: node.range[1], text: yamlText(typed, flow) });
            return;
          }
          if (sole && key === 'key' && !sole.malformed) {
            const found = lookup(sole);
            if (!('error' in found) && found.value !== null && typeof found.value === 'object') {
              return void onError(sole, `${sole.text} is ${Array.isArray(found.value) ? 'a list' : 'an object'}; a mapping key can only be a string, number or boolean`);
            }
          }
          const result = expandString(value, lookup, onError);
          if (result === value) return;
          node.value = result;
          edits.push(scalarEdit(text, node, result, flow, lookup, onError));
        },
      });
    });
    if (problems.length > before) return { path, kind: 'manifest', content: text };
  } else kept.push(...manifest.documents);
  edits.push(...cuts.finish());
  const expanded = manifestValues({ ...manifest, documents: kept });
  if ('problem' in expanded) {
    problems.push(expanded.problem);
    return { path, kind: 'manifest', content: text };
  }
  if (excluded > 0 && expanded.values.length === 0) return undefined;
  return { path, kind: 'manifest', content: applyEdits(text, edits), documents: expanded.values };
}

/** The source edit for a scalar whose string value changed, keeping its style where possible. */
function scalarEdit(text: string, node: Scalar, result: string, flow: boolean, lookup: Lookup, onError: (ref: TemplateReference, message: string) => void): Edit {
  const [start, end] = node.range!;
  switch (node.type) {
    case 'BLOCK_LITERAL':
    case 'BLOCK_FOLDED': {
      // Substitute inside the block's own source: indentation and chomping stay as written. A
      // multi-line value continues at the indentation of the line it is inserted on.
      const source = text.slice(start, end);
      const header = source.indexOf('\n') + 1;
      const body = source.slice(header);
      const rendered = body
        .split('\n')
        .map((line) => {
          const indent = /^ */.exec(line)![0];
          return expandString(
            line,
            (ref) => {
              const found = lookup(ref);
              if ('value' in found && typeof found.value === 'string' && found.value.includes('\n')) {
                if (node.type === 'BLOCK_FOLDED') return { error: `${ref.text} has several lines; a folded block (>) would join them — use a literal block (|)` };
                return { value: found.value.split('\n').join(`\n${indent}`) };
              }
              return found;
            },
            onError,
          );
        })
        .join('\n');
      return { start: start + header, end, text: rendered };
    }
    case 'QUOTE_SINGLE':
      return { start, end, text: result.includes('\n') ? JSON.stringify(result) : `'${result.replace(/'/g, "''")}'` };
    case 'PLAIN':
      return { start, end, text: plainSafe(result, flow) && !node.tag ? result : JSON.stringify(result) };
    default:
      return { start, end, text: JSON.stringify(result) };
  }
}

function applyEdits(text: string, edits: Edit[]): string {
  if (edits.length === 0) return text;
  edits.sort((a, b) => a.start - b.start);
  let out = '';
  let last = 0;
  for (const e of edits) {
    if (e.start < last) throw new Error(`internal: overlapping render edits at offset ${e.start}`);
    out += text.slice(last, e.start) + e.text;
    last = e.end;
  }
  return out + text.slice(last);
}

function renderText(path: string, text: string, ctx: RenderContext, problems: Problem[]): RenderedFile {
  const content = expandString(text, lookupIn(ctx), (ref, message) => problems.push(problemAt({ path, text }, ref.index, message, 'reference')));
  return { path, kind: 'text', content };
}

/**
 * A file of manifests/ that is not UTF-8 text is shipped verbatim; if it holds a reference, that
 * reference would silently stay unrendered (a Latin-1 config file, say): a problem instead.
 */
export function unrenderedReference(path: string, content: Uint8Array): Problem | undefined {
  const bytes = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  const at = ['${params.', '${promote.'].map((s) => bytes.indexOf(s)).filter((i) => i >= 0);
  if (at.length === 0) return undefined;
  const bad = notUtf8At(content);
  const offset = Math.min(...at);
  let line = 1;
  for (let i = bytes.indexOf(10); i !== -1 && i < offset; i = bytes.indexOf(10, i + 1)) line++;
  return {
    file: path,
    line,
    rule: 'encoding',
    message: `the file is not UTF-8 text${bad ? ` (from line ${bad.line}, column ${bad.column})` : ''}, so its references would be shipped unrendered`,
    hint: 'save it as UTF-8, or move it to files/ (shipped verbatim) and write no ${params.…} in it',
  };
}

/**
 * Renders a bundle's files: manifests/ with the parameters (YAML and JSON as documents — one
 * that is not UTF-8 or not valid YAML is a problem, never skipped —, other text by the same
 * textual substitution, binary verbatim unless it holds a reference), files/ verbatim, anything else
 * (bundle.yaml, the schema) left out, and so is a manifest all of whose documents an include-when
 * leaves out. Output is in byte order of the paths. Throws RENDER_FAILED
 * (exit 4) with every problem — nothing half-rendered is ever returned.
 */
export function renderFiles(files: readonly RenderInput[], layout: BundleLayout, ctx: RenderContext): RenderedFile[] {
  const problems: Problem[] = [];
  const out: RenderedFile[] = [];
  const sorted = [...files].sort((a, b) => compareBytes(a.path, b.path));
  for (const f of sorted) {
    const role = roleOf(f.path, layout);
    if (role === undefined) continue;
    if (role === 'files') {
      out.push(isOnDisk(f) ? { ...f, kind: 'verbatim' } : { path: f.path, kind: 'verbatim', content: f.content });
      continue;
    }
    // Readers load every file under spec.manifests (within BUNDLE_MAX_MANIFEST_BYTES): it is rendered.
    if (isOnDisk(f)) throw new Error(`internal: ${f.path} is under spec.manifests but was not read`);
    if (isManifestPath(f.path)) {
      const rendered = renderManifest(f.path, f.content, ctx, problems);
      if (rendered) out.push(rendered);
      continue;
    }
    const text = decodeText(f.content);
    if (text !== undefined) out.push(renderText(f.path, text, ctx, problems));
    else {
      const unrendered = unrenderedReference(f.path, f.content);
      if (unrendered) problems.push(unrendered);
      out.push({ path: f.path, kind: 'verbatim', content: f.content });
    }
  }
  if (problems.length) {
    const n = problems.length;
    // The first problem is part of the message, not only of `problems`: the agent's status
    // report carries the message alone, and "1 problem" would tell an operator nothing.
    const first = problems[0]!;
    const where = [first.file, first.line, first.column].filter((x) => x !== undefined).join(':');
    const more = n > 1 ? ` (and ${n - 1} more problem${n === 2 ? '' : 's'})` : '';
    throw new PromoteError('RENDER_FAILED', `cannot render the bundle: ${where ? `${where}: ` : ''}${first.message}${more}`, {
      outcome: 'verification',
      problems,
      hint: 'every ${params.…} must have a value in the environment (or a default in the schema); objects and lists can only replace a whole unquoted scalar',
    });
  }
  return out;
}

/** A rendered file's bytes (what a directory target writes; UTF-8 for rendered text). */
export function contentBytes(file: InMemoryRenderedFile): Uint8Array {
  return typeof file.content === 'string' ? new TextEncoder().encode(file.content) : file.content;
}

/** The manifests as one YAML stream (what `promote render` prints): each file's documents, marked with its path. */
export function toYamlStream(rendered: readonly RenderedFile[]): string {
  const parts: string[] = [];
  for (const f of rendered) {
    if (f.kind !== 'manifest' || isOnDisk(f) || typeof f.content !== 'string') continue;
    if (/\.json$/i.test(f.path)) {
      for (const d of f.documents ?? []) parts.push(`---\n# Source: ${f.path}\n${JSON.stringify(d, null, 2)}\n`);
      continue;
    }
    let body = f.content.replace(/^(?:---[ \t]*\n)/, '');
    if (!body.endsWith('\n')) body += '\n';
    parts.push(`---\n# Source: ${f.path}\n${body}`);
  }
  return parts.join('');
}

