import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ASSETS, readAsset, runtime } from '../src/assets.ts';

// Every file promote reads from its own package at run time must be in src/assets.ts's ASSETS,
// or the single binary (which has no package directory) cannot read it. The binary's own test
// (test/cli/binary.integration.test.ts) runs the commands where no package files exist.

const root = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** The ways a module finds files beside itself, other than the two createRequire forms the binary build bundles. */
const LOCATES_ITSELF = /import\.meta\.(?:url|dirname|filename|resolve)|__dirname|__filename|process\.argv\[1\]/g;
const BUNDLED_REQUIRE = /\bconst require = createRequire\(import\.meta\.url\);|\bcreateRequire\(import\.meta\.url\)\(/g;

function selfLocatingReads(files: string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    if (file.endsWith(join('src', 'assets.ts'))) continue;
    const text = readFileSync(file, 'utf8').replace(BUNDLED_REQUIRE, '');
    for (const m of text.matchAll(LOCATES_ITSELF)) {
      found.push(`${relative(root, file)}:${text.slice(0, m.index).split('\n').length}: ${m[0]}`);
    }
  }
  return found;
}

test('no module outside src/assets.ts locates package files by its own path', () => {
  assert.deepEqual(selfLocatingReads(sources(join(root, 'src'))), [], 'read package files with readAsset() and add them to ASSETS');
});

test('the check catches a module that reads a package file beside itself', () => {
  const planted = join(root, 'test', 'fixtures', 'assets', 'reads-beside-itself.ts');
  assert.deepEqual(selfLocatingReads([planted]), ['test/fixtures/assets/reads-beside-itself.ts:3: import.meta.url']);
});

test('every asset exists, is readable through readAsset and is packed into the npm package', () => {
  const { files } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] };
  assert.equal(runtime(), 'checkout');
  for (const name of ASSETS) {
    const packed = name === 'package.json' || files.some((f) => !f.startsWith('!') && (name === f || name.startsWith(f.endsWith('/') ? f : `${f}/`)));
    assert.ok(packed, `${name} is covered by package.json "files"`);
    if (name.startsWith('dist/')) continue; // made by the build
    assert.ok(existsSync(join(root, name)), name);
    assert.equal(readAsset(name), readFileSync(join(root, name), 'utf8'));
  }
});
