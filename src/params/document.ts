import { open, stat } from 'node:fs/promises';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import { PromoteError, type Problem } from '../errors.ts';
import { DEFAULT_DOCUMENT_MAX_BYTES, formatBytes, MAX_ALIAS_COUNT, type DocumentLimits } from './limits.ts';
import { pointerSegments } from './pointer.ts';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { schemaProblems, schemaValidator } from './schema-validator.ts';import { checkDepth } from '../oci/json-depth.ts';


// Loading the project's YAML documents (bundle.yaml, environments, pipelines). The parsed value
// keeps a path back to the source, so every later complaint — a schema rule, a secret given as a
// literal — can name file:line:column, not just a JSON pointer.

export interface Position {
  line: number;
  column: number;
}

export interface ParsedDocument {
  file: string;
  value: unknown;
  /**
   * Where the value at `pointer` starts in the source (1-based). For a pointer that goes past
   * what the document holds (a missing property), the position of the deepest existing parent.
   */
  locate(pointer: string): Position | undefined;
  /** Where the key of the map entry at `pointer` starts (for unknown or misspelt keys). */
  locateKey(pointer: string): Position | undefined;
}

export type { DocumentLimits } from './limits.ts';

function invalid(file: string, what: string, problems: Problem[], hint: string): PromoteError {
  const n = problems.length;
  return new PromoteError('DOCUMENT_INVALID', `${file}: ${what} (${n} problem${n === 1 ? '' : 's'})`, {
    outcome: 'verification',
    problems,
    hint,
    details: { file },
  });
}

function tooLarge(file: string, size: number, maxBytes: number): PromoteError {
  return new PromoteError('DOCUMENT_TOO_LARGE', `${file} is ${formatBytes(size)}, over the ${formatBytes(maxBytes)} limit for this document`, {
    outcome: 'verification',
    problems: [{ file, message: `too large: ${formatBytes(size)}, over the ${formatBytes(maxBytes)} limit for this document`, rule: 'maxBytes', expected: `at most ${maxBytes} bytes`, actual: `${size} bytes` }],
    hint: 'parameter, environment and pipeline files are small by nature; keep large data in the bundle (files/) instead',
    details: { file, size, maxBytes },
  });
}

/** Walks the YAML node tree along a pointer; returns the deepest node reached and its pair. */
function walk(doc: Document, pointer: string): { node: Node | null; pair?: Pair; complete: boolean; parent: Node | null } {
  let node = doc.contents as Node | null;
  let parent: Node | null = null;
  let pair: Pair | undefined;
  for (const segment of pointerSegments(pointer)) {
    if (isAlias(node)) node = node.resolve(doc) ?? null;
    if (isMap(node)) {
      const found = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === segment);
      if (!found) return { node, parent, complete: false, ...(pair && { pair }) };
      parent = node;
      pair = found;
      node = (found.value as Node | null) ?? null;
      if (node === null) return { node: null, parent, pair, complete: false };
    } else if (isSeq(node)) {
      const item = /^\d+$/.test(segment) ? node.items[Number(segment)] : undefined;
      if (item === undefined) return { node, parent, complete: false };
      parent = node;
      pair = undefined;
      node = item as Node;
    } else {
      return { node, parent, complete: false, ...(pair && { pair }) };
    }
  }
  return { node, parent, complete: true, ...(pair && { pair }) };
}

/** The key written at `offset` (for duplicate-key messages): quoted or up to the colon. */
export function keyAt(text: string, offset: number): string {
  const m = /^("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|[^:\n]*)/.exec(text.slice(offset, offset + 200));
  const raw = (m?.[1] ?? '').trim();
  return raw.startsWith('"') || raw.startsWith("'") ? raw.slice(1, -1) : raw;
}

function positionOf(lc: LineCounter, offset: number | undefined): Position | undefined {
  if (offset === undefined) return undefined;
  const { line, col } = lc.linePos(offset);
  return { line, column: col };
}

/**
 * Parses one YAML document (YAML 1.2 core schema: `yes` stays a string) with source positions.
 * Refuses, with every problem at once: syntax errors, duplicate keys, more than one document,
 * alias expansion beyond MAX_ALIAS_COUNT ("billion laughs", refused before any expansion grows
 * memory), and text over the size limit (default DEFAULT_DOCUMENT_MAX_BYTES, 1 MiB).
 */
export function parseYaml(text: string, file: string, limits: DocumentLimits = {}): ParsedDocument {
  const maxBytes = limits.maxBytes ?? DEFAULT_DOCUMENT_MAX_BYTES;
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) throw tooLarge(file, size, maxBytes);
  const lc = new LineCounter();
  // prettyErrors off: its messages quote source lines, which may hold secrets.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, keepSourceTokens: false });
  const problems: Problem[] = [];
  for (const e of doc.errors) {
    const pos = positionOf(lc, e.pos[0]);
    const rule = e.code === 'DUPLICATE_KEY' ? 'duplicate-key' : e.code === 'MULTIPLE_DOCS' ? 'single-document' : 'yaml-syntax';
    problems.push({
      file,
      ...pos,
      rule,
      message: e.code === 'DUPLICATE_KEY' ? `duplicate key ${JSON.stringify(keyAt(text, e.pos[0]))}: a key may appear only once in a mapping` : e.code === 'MULTIPLE_DOCS' ? 'expected one YAML document, found several (---)' : e.message,
    });
  }
  if (problems.length) {
    const dup = problems.every((p) => p.rule === 'duplicate-key');
    throw invalid(file, dup ? 'duplicate keys' : 'not valid YAML', problems, dup ? 'remove or merge the repeated keys; YAML keeps only one of them and promote refuses to guess which' : 'fix the YAML at the positions listed');
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw invalid(file, 'too many YAML alias expansions', [{ file, rule: 'maxAliasCount', message: 'aliases (*name) expand to more nodes than allowed', expected: `at most ${MAX_ALIAS_COUNT} alias expansions` }], 'write the values out instead of nesting anchors; promote refuses documents that expand exponentially ("billion laughs")');
    }
    throw invalid(file, 'not valid YAML', [{ file, rule: 'yaml-syntax', message: (err as Error).message }], 'fix the YAML');
  }
  checkDepth(value, file);
  return {
    file,
    value: value === undefined ? null : value,
    locate(pointer) {
      const { node, pair } = walk(doc, pointer);
      const offset = node?.range?.[0] ?? (pair?.key as Node | undefined)?.range?.[0];
      return positionOf(lc, offset) ?? { line: 1, column: 1 };
    },
    locateKey(pointer) {
      const { pair, complete, node } = walk(doc, pointer);
      const key = complete ? (pair?.key as Node | undefined) : undefined;
      return positionOf(lc, key?.range?.[0] ?? node?.range?.[0]);
    },
  };
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Reads and parses a YAML file. The size is checked with stat() before a byte is read, and the
 * read itself is capped, so a huge (or growing) file costs nothing.
 */
export async function readYamlFile(path: string, limits: DocumentLimits = {}): Promise<ParsedDocument> {
  const maxBytes = limits.maxBytes ?? DEFAULT_DOCUMENT_MAX_BYTES;
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PromoteError('DOCUMENT_NOT_FOUND', `${path} does not exist`, { cause: err, hint: 'check the path and the name (environments live in environments/<name>.yaml)', details: { file: path } });
    }
    throw new PromoteError('DOCUMENT_UNREADABLE', `cannot read ${path}: ${(err as Error).message}`, { cause: err, details: { file: path } });
  }
  if (!info.isFile()) throw new PromoteError('DOCUMENT_UNREADABLE', `${path} is not a regular file`, { hint: 'pass the path of a YAML file', details: { file: path } });
  if (info.size > maxBytes) throw tooLarge(path, info.size, maxBytes);
  const handle = await open(path, 'r');
  let bytes: Buffer;
  try {
    const buf = Buffer.alloc(Math.min(info.size, maxBytes) + 1);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled === buf.length) break;
    }
    if (filled > maxBytes) throw tooLarge(path, filled, maxBytes);
    bytes = buf.subarray(0, filled);
  } finally {
    await handle.close();
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (err) {
    throw invalid(path, 'not UTF-8 text', [{ file: path, rule: 'encoding', message: 'the file is not valid UTF-8', expected: 'UTF-8 text' }], 'save the file as UTF-8');
  }
  return parseYaml(text, path, { maxBytes });
}

/**
 * Validates a parsed document against a JSON Schema (2020-12) and throws SCHEMA_VIOLATION with
 * every problem, each placed in the source. Schema `default`s are filled into `doc.value`.
 * `what` names the document for the message, e.g. "environment staging".
 */
export function validateDocument(schema: object, doc: ParsedDocument, what: string): void {
  validateDocumentWith(schemaValidator(schema), schema, doc, what);
}

/** validateDocument with an already compiled (or generated) validator for `schema`. */
export function validateDocumentWith(validator: ValidateFunction, schema: object, doc: ParsedDocument, what: string): void {
  if (validator(doc.value)) return;
  const problems = schemaProblems(validator.errors ?? [], doc, schema);
  const n = problems.length;
  throw new PromoteError('SCHEMA_VIOLATION', `${what} (${doc.file}) does not match its schema: ${n} problem${n === 1 ? '' : 's'}`, {
    outcome: 'verification',
    problems,
    hint: 'fix every problem listed; each names the file:line:column, the JSON pointer and the schema rule',
    details: { file: doc.file },
  });
}
