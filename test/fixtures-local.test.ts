// `npm test` and the benches run on a clone in any directory: nothing reads the fixtures that sit
// beside CI's checkout (../shared/fixtures); what a test or bench needs is copied into
// test/fixtures/ with its upstream licence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const SHARED = /\.\.\/shared\/fixtures|['"]shared['"]\s*,\s*['"]fixtures['"]/;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name === 'fixtures') return [];
    const path = join(dir, e.name);
    return e.isDirectory() ? tsFiles(path) : /\.(ts|js|mjs)$/.test(e.name) ? [path] : [];
  });
}

test('no test, harness or bench reads ../shared/fixtures', () => {
  const readers = ['test', 'bench', 'scripts'].flatMap((d) => tsFiles(join(root, d))).filter((f) => f !== import.meta.filename && SHARED.test(readFileSync(f, 'utf8')));
  assert.deepEqual(readers.map((f) => relative(root, f)), []);
});
