import { cp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

// The demo needs a second release so that a rollback has somewhere to go. It is the bundle's
// own source with one change a reviewer would recognise: podinfo's UI colour. A bundle without
// that setting still gets a second version (a new version annotation, hence a new digest) whose
// files are the same.

export const NEW_COLOUR = '#b8336a';

export interface SecondVersion {
  dir: string;
  /** What changed, for the story (`manifests/frontend/deployment.yaml: PODINFO_UI_COLOR #34577c → #b8336a`). */
  change: string;
  /** Bundle-relative paths of the changed files. */
  files: string[];
  before?: string;
  after?: string;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/** Copies `source` to `dest` (replacing it) and makes the 1.1 change there. */
export async function prepareSecondVersion(source: string, dest: string): Promise<SecondVersion> {
  await rm(dest, { recursive: true, force: true });
  await cp(source, dest, { recursive: true });
  const colour = /(name:\s*PODINFO_UI_COLOR\s*\n\s*value:\s*)(["']?)(#[0-9a-fA-F]{3,8})\2/;
  const files: string[] = [];
  let before: string | undefined;
  for (const file of await listFiles(join(dest, 'manifests'))) {
    const text = await readFile(file, 'utf8');
    const m = colour.exec(text);
    if (!m || m[3]!.toLowerCase() === NEW_COLOUR) continue;
    before ??= m[3]!;
    await writeFile(file, text.replace(colour, `$1$2${NEW_COLOUR}$2`));
    files.push(relative(dest, file).split('\\').join('/'));
  }
  if (!files.length) return { dir: dest, files, change: 'same files, new version' };
  return { dir: dest, files, before, after: NEW_COLOUR, change: `PODINFO_UI_COLOR ${before} → ${NEW_COLOUR} in ${files.join(', ')}` };
}
