// `npm test` and the benches run on a clone in any directory: nothing reads the fixtures that sit
// beside CI's checkout (the sibling `shared` folder); what a test or bench needs is copied into
// test/fixtures/ with its upstream licence. The path is assembled below so this file, which names
// it to look for it, does not itself contain it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const SIBLING = 'shared';
const SHARED = new RegExp(`\\.\\./${SIBLING}/fixtures|['"]${SIBLING}['"]\\s*,\\s*['"]fixtures['"]`);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name === 'fixtures') return [];
    const path = join(dir, e.name);
    return e.isDirectory() ? tsFiles(path) : /\.(ts|js|mjs)$/.test(e.name) ? [path] : [];
  });
}

test('no test, harness or bench reads the fixtures beside CI\'s checkout', () => {
  const readers = ['test', 'bench', 'scripts'].flatMap((d) => tsFiles(join(root, d))).filter((f) => f !== import.meta.filename && SHARED.test(readFileSync(f, 'utf8')));
  assert.deepEqual(readers.map((f) => relative(root, f)), []);
});
