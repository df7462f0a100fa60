import { readFileSync } from 'node:fs';
import { getAsset, isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';
import { PromoteError } from './errors.ts';

// Everything promote reads from its own package at run time (never the user's files) is listed
// here and read through readAsset(): from the package root when promote runs from a checkout
// (src/) or an installed package (dist/: the same relative path), and from the executable itself
// when it runs as the single binary (Node SEA assets, embedded by scripts/build-binary.ts from
// this very list). A new run-time file goes into ASSETS, or the binary cannot read it:
// test/assets.test.ts fails on a package file read any other way, and the binary's test runs
// the commands where no package files exist.

export const ASSETS = [
  'package.json',
  'schemas/bundle.schema.json',
  'schemas/environment.schema.json',
  'schemas/pipeline.schema.json',
  // The page promote ui serves (src/ui/server.ts): plain files, no build step.
  'web/index.html',
  'web/app.js',
  'web/app.css',
  'web/icon.svg',
  // Written by `npm run build` / `npm run build:binary` (scripts/build-info.ts); a checkout has none.
  'dist/build-info.json',
] as const;

export type AssetName = (typeof ASSETS)[number];

/** How this process runs promote: the TypeScript sources, the compiled package, or the single binary. */
export type Runtime = 'checkout' | 'package' | 'binary';

export function runtime(): Runtime {
  if (isSea()) return 'binary';
  // Node strips types only outside node_modules, so .ts means a checkout (bin/promote.js).
  return import.meta.url.endsWith('.ts') ? 'checkout' : 'package';
}

/** The package root on disk (a checkout or an installed package; the binary has none). */
export function packageDir(): string {
  if (isSea()) throw new Error('the single executable has no package directory: read its files with readAsset()');
  return fileURLToPath(new URL('..', import.meta.url));
}

const cache = new Map<AssetName, string>();

export function readAsset(name: AssetName): string {
  let text = cache.get(name);
  if (text === undefined) {
    try {
      text = isSea() ? getAsset(name, 'utf8') : readFileSync(new URL(`../${name}`, import.meta.url), 'utf8');
    } catch (err) {
      throw new PromoteError('ASSET_MISSING', `promote's own file ${name} is missing from this ${runtime() === 'binary' ? 'executable' : 'installation'}`, {
        cause: err,
        hint: runtime() === 'checkout' ? (name.startsWith('dist/') ? 'run npm run build' : 'restore it with git checkout') : 'reinstall promote; this build is incomplete',
      });
    }
    cache.set(name, text);
  }
  return text;
}
