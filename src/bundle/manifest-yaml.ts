import { isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from 'yaml';
import type { Problem } from '../errors.ts';
import { keyAt } from '../params/document.ts';
import { formatBytes } from '../params/limits.ts';
import { formatPointer } from '../params/pointer.ts';
import { MAX_MANIFEST_ALIAS_COUNT, BUNDLE_MAX_MANIFEST_BYTES } from './limits.ts';

// Reading a manifest file of a bundle: UTF-8 text of at most BUNDLE_MAX_MANIFEST_BYTES, a YAML stream
// (several documents), YAML 1.2 core schema with `<<` merge keys (as Kubernetes' own YAML reader
// honours them), duplicate keys refused, aliases expanded within MAX_MANIFEST_ALIAS_COUNT,
// positions kept. The build-time checks and the renderer (hence `render`, `validate` and the
// agent) all read manifests through readManifest() and manifestValues(), so a manifest that
// builds is one the agent can render, and one the agent would refuse never builds (issue 12 §16).
// JSON files are YAML too.

export const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i;

export interface ParsedManifest {
  path: string;
  text: string;
  documents: Document.Parsed[];
  lines: LineCounter;
  problems: Problem[];
}

export function isManifestPath(path: string): boolean {
  return MANIFEST_EXTENSIONS.test(path);
}

/** Offset of the first byte that does not begin a valid UTF-8 sequence (RFC 3629), or -1. */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined || x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return -1;
}

/** Where the bytes stop being UTF-8 text (or hold a NUL, which no YAML text does), as line:column; undefined if they are text. */
export function notUtf8At(bytes: Uint8Array): { line: number; column: number; offset: number } | undefined {
  const nul = bytes.indexOf(0);
  const invalid = firstInvalidUtf8(nul < 0 ? bytes : bytes.subarray(0, nul));
  const bad = invalid >= 0 ? invalid : nul;
  if (bad < 0) return undefined;
  let line = 1;
  let lineStart = 0;
  for (let i = bytes.indexOf(10); i !== -1 && i < bad; i = bytes.indexOf(10, i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: bad - lineStart + 1, offset: bad };
}

function unreadable(path: string, problem: Omit<Problem, 'file'>): ParsedManifest {
  return { path, text: '', documents: [], lines: new LineCounter(), problems: [{ file: path, ...problem }] };
}

/** A manifest's bytes, checked and parsed; `problems` says why it cannot be used (then `documents` is empty). */
export function readManifest(path: string, bytes: Uint8Array): ParsedManifest {
  if (bytes.length > BUNDLE_MAX_MANIFEST_BYTES) {
    return unreadable(path, { rule: 'maxBytes', message: `the manifest is ${formatBytes(bytes.length)}, over the ${formatBytes(BUNDLE_MAX_MANIFEST_BYTES)} limit for one manifest`, expected: `at most ${BUNDLE_MAX_MANIFEST_BYTES} bytes` });
  }
  let text: string | undefined;
  try {
    if (bytes.indexOf(0) < 0) text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // not UTF-8: notUtf8At says where
  }
  const bad = text === undefined ? notUtf8At(bytes) : undefined;
  if (text === undefined || bad) {
    if (!bad) throw new Error('unreachable: undecodable bytes with no invalid sequence');
    const what = bytes[bad.offset] === 0 ? 'a NUL byte' : `byte 0x${bytes[bad.offset]!.toString(16).padStart(2, '0')}, which is not UTF-8`;
    return unreadable(path, {
      line: bad.line,
      column: bad.column,
      rule: 'encoding',
      message: `the manifest is not UTF-8 text: ${what}; it could be neither rendered nor applied`,
      hint: 'save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`), or move binary data to files/',
    });
  }
  return parseManifest(path, text);
}

/**
 * The documents as plain values (empty documents left out; `sources[i]` is the document of
 * `values[i]`), aliases expanded within the limit:
 * what the Kubernetes target applies and the Secret check inspects. A problem instead when the
 * expansion is refused ("billion laughs") or the nesting is too deep for the parser.
 */
export function manifestValues(manifest: ParsedManifest): { values: unknown[]; sources: Document.Parsed[] } | { problem: Problem } {
  const values: unknown[] = [];
  const sources: Document.Parsed[] = [];
  for (const doc of manifest.documents) {
    try {
      const v = doc.toJS({ maxAliasCount: MAX_MANIFEST_ALIAS_COUNT });
      if (v !== null && v !== undefined) {
        values.push(v);
        sources.push(doc);
      }
    } catch (err) {
      const pos = positionAt(manifest, doc.range[0]);
      const aliases = err instanceof ReferenceError || /alias/i.test((err as Error).message);
      return {
        problem: {
          file: manifest.path,
          ...pos,
          rule: aliases ? 'maxAliasCount' : 'yaml-syntax',
          message: aliases ? `the YAML aliases (*name) expand to more than ${MAX_MANIFEST_ALIAS_COUNT} nodes: ${(err as Error).message}` : `cannot read the YAML: ${(err as Error).message}`,
          hint: 'write the values out instead of nesting anchors; promote refuses documents that expand exponentially ("billion laughs")',
        },
      };
    }
  }
  return { values, sources };
}

export function parseManifest(path: string, text: string): ParsedManifest {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
  const problems: Problem[] = [];
  const list = Array.isArray(documents) ? documents : [];
  for (const d of list) {
    for (const e of d.errors) {
      const { line, col } = lines.linePos(e.pos[0]);
      const duplicate = e.code === 'DUPLICATE_KEY';
      const lineText = text.split('\n', line)[line - 1] ?? '';
      const flowHint = !duplicate && /\$\{(params|promote)\./.test(lineText) && /[[{]/.test(lineText.replace(/\$\{/g, ''));
      problems.push({
        file: path,
        line,
        column: col,
        rule: duplicate ? 'duplicate-key' : 'yaml-syntax',
        message: duplicate ? `duplicate key ${JSON.stringify(keyAt(text, e.pos[0]))}` : e.message,
        ...(flowHint && { hint: 'inside a flow collection ([…] or {…}) write references in quotes: "${params.x}" (a quoted reference renders as a string)' }),
      });
    }
  }
  return { path, text, documents: list, lines, problems };
}

export function positionAt(manifest: ParsedManifest, offset: number): { line: number; column: number } {
  const { line, col } = manifest.lines.linePos(offset);
  return { line, column: col };
}

/** Line and column (1-based) of an offset in a plain text. */
export function textPosition(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** The JSON pointer of a node met by yaml's visit() (its `path` of ancestors); a key names its pair. */
export function pointerOf(path: readonly unknown[], node: unknown): string {
  const segments: (string | number)[] = [];
  for (let i = 0; i < path.length; i++) {
    const p = path[i];
    if (isPair(p)) segments.push(isScalar(p.key) ? String(p.key.value) : '?');
    else if (isSeq(p)) segments.push(p.items.indexOf((path[i + 1] ?? node) as never));
  }
  return formatPointer(segments);
}
