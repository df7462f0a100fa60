import { readFile } from 'node:fs/promises';
import { loadBundleFile, type LoadedBundleFile } from './bundle-file.ts';
import type { SourceFile } from './render.ts';
import { walkBundle } from './walk.ts';

// A bundle directory (a source checkout, or a pulled and extracted bundle) read into memory as
// the renderer's input: bundle.yaml checked, the walk's policy applied (.promoteignore, links
// resolved, sorted), every file's bytes.

export interface BundleSources {
  bundle: LoadedBundleFile;
  files: SourceFile[];
}

export async function readBundleSources(dir: string): Promise<BundleSources> {
  const bundle = await loadBundleFile(dir);
  const entries = await walkBundle(dir);
  const files = await Promise.all(
    entries.filter((e) => e.type === 'file').map(async (e) => ({ path: e.path, content: await readFile(e.source) })),
  );
  return { bundle, files };
}
