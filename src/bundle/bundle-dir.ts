import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PromoteError } from '../errors.ts';

// Is this a bundle directory at all? Kept apart from bundle-file.ts, which loads YAML and JSON
// Schema machinery: `promote build` asks this first and cheaply, before it starts packing.

export const BUNDLE_FILE = 'bundle.yaml';

export async function isDirectory(path: string): Promise<boolean | undefined> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return undefined;
  }
}

/**
 * The cheap part of loading: the directory exists and holds bundle.yaml. Done before anything
 * expensive starts, so `promote build ~` fails at once instead of packing a home directory.
 */
export async function requireBundleFile(dir: string): Promise<string> {
  const file = join(dir, BUNDLE_FILE);
  if ((await isDirectory(dir)) !== true) {
    throw new PromoteError('BUNDLE_NOT_FOUND', `bundle directory ${dir} does not exist or is not a directory`, {
      outcome: 'usage',
      hint: 'give the directory that holds bundle.yaml, or run `promote init` to scaffold one',
      details: { dir },
    });
  }
  try {
    await stat(file);
  } catch {
    throw new PromoteError('BUNDLE_FILE_MISSING', `${dir} has no ${BUNDLE_FILE}, so it is not a bundle directory`, {
      outcome: 'usage',
      hint: `run \`promote init ${dir}\` to scaffold bundle.yaml, a parameter schema and manifests/, or pass the directory that holds ${BUNDLE_FILE}`,
      details: { dir },
    });
  }
  return file;
}

/** Every `<dir>/<name>/` that holds a bundle.yaml (the `bundles/` of a project `promote init` or `promote import` made), sorted. */
export async function bundlesUnder(dir: string): Promise<string[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  const found: string[] = [];
  for (const n of names) if (await stat(join(dir, n, BUNDLE_FILE)).then((s) => s.isFile(), () => false)) found.push(join(dir, n));
  return found;
}
