import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import type { Problem } from '../errors.ts';
import { keyAt } from '../params/document.ts';

// Parsing a manifest file of a bundle: a YAML stream (several documents), YAML 1.2 core schema,
// duplicate keys refused, positions kept. Shared by the renderer and the build-time checks so
// they agree on what a manifest is. JSON files are YAML too.

export const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i;
/** More generous than for parameter files: real manifests do share anchors. */
export const MANIFEST_MAX_ALIAS_COUNT = 1000;

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

export function parseManifest(path: string, text: string): ParsedManifest {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
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
