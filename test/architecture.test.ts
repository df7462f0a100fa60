// The structure rules of DESIGN.md §7, checked on every `npm test` so later work keeps them:
// folders only import downwards (which also rules out cycles between folders), the CLI is
// imported by nothing, and no hand-written source file grows past what one can read in a sitting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

const root = join(import.meta.dirname, '..');
const src = join(root, 'src');

// A folder may import only folders of a strictly lower rank. Folders of equal rank are
// siblings and stay independent of each other. `(root)` holds the leaf utilities in src/*.ts.
export const LAYERS: Record<string, number> = {
  '(root)': 0,
  oci: 1,
  cel: 1,
  signing: 2,
  params: 2,
  policy: 2,
  notify: 2,
  records: 3,
  bundle: 3,
  pipeline: 4,
  artifact: 5,
  agent: 6,
  promotion: 6,
  init: 6,
  import: 6,
  demo: 7,
  ui: 7,
  cli: 8,
};

// Edges that break the rules today, removed as the redesign (issue 13) lands. Empty at the end.
const KNOWN_UPWARD = new Set<string>([
]);

const MAX_LINES = 450;
const EXPLAIN_OVER = 300;
// A file between EXPLAIN_OVER and MAX_LINES lines says why near its top, in a comment starting so.
const SIZE_MARK = /^\/\/ Size: \S/m;
const GENERATED = [join('src', 'params', 'generated') + sep];

const KNOWN_LONG = new Set<string>([
]);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out.sort();
}

function folderOf(file: string): string {
  const parts = relative(src, file).split(sep);
  return parts.length > 1 ? parts[0]! : '(root)';
}

// Static and dynamic imports, `import type` and re-exports alike: a type-only edge is still a
// dependency of the folder's meaning.
const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

interface Edge { from: string; to: string; file: string; target: string }

function folderEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(src)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(IMPORT)) {
      const target = normalize(join(dirname(file), match[1]!));
      const from = folderOf(file);
      const to = folderOf(target);
      if (from !== to) edges.push({ from, to, file: relative(root, file), target: relative(root, target) });
    }
  }
  return edges;
}

test('every folder under src/ has a layer', () => {
  const folders = new Set(sourceFiles(src).map(folderOf));
  const unranked = [...folders].filter((f) => !(f in LAYERS));
  assert.deepEqual(unranked, [], `add these folders to LAYERS in ${relative(root, import.meta.filename)}`);
});

test('folders import only folders below them (no upward edge, so no cycle)', () => {
  const bad = folderEdges().filter((e) => (LAYERS[e.to] ?? Infinity) >= (LAYERS[e.from] ?? -Infinity));
  const unexpected = bad.filter((e) => !KNOWN_UPWARD.has(`${e.from} -> ${e.to}`));
  assert.deepEqual(unexpected.map((e) => `${e.file} imports ${e.target} (${e.from} -> ${e.to})`), []);
  const stale = [...KNOWN_UPWARD].filter((k) => !bad.some((e) => `${e.from} -> ${e.to}` === k));
  assert.deepEqual(stale, [], 'these allowed edges are gone: remove them from KNOWN_UPWARD');
});

test('nothing imports the CLI', () => {
  const intoCli = folderEdges().filter((e) => e.to === 'cli');
  assert.deepEqual(intoCli.map((e) => e.file), []);
});

test(`no hand-written source file over ${MAX_LINES} lines; over ${EXPLAIN_OVER} only with a "// Size:" comment`, () => {
  const problems: string[] = [];
  for (const file of sourceFiles(src)) {
    const rel = relative(root, file);
    if (GENERATED.some((g) => rel.startsWith(g))) continue;
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (KNOWN_LONG.has(rel)) continue;
    if (lines > MAX_LINES) problems.push(`${rel}: ${lines} lines (max ${MAX_LINES}); split it by concept`);
    else if (lines > EXPLAIN_OVER && !SIZE_MARK.test(text)) problems.push(`${rel}: ${lines} lines; over ${EXPLAIN_OVER} needs a "// Size: <why>" comment`);
  }
  assert.deepEqual(problems, []);
  const stale = [...KNOWN_LONG].filter((rel) => {
    const text = readFileSync(join(root, rel), 'utf8');
    const lines = text.split('\n').length - 1;
    return lines <= EXPLAIN_OVER || (lines <= MAX_LINES && SIZE_MARK.test(text));
  });
  assert.deepEqual(stale, [], 'these files are short enough now: remove them from KNOWN_LONG');
});
