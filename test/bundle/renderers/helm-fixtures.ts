import { cp, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTools } from '../../harness/render-tools.ts';

// Shared by the helm renderer tests: the real helm (test/harness/render-tools.ts), the podinfo
// chart fixture, and small bundles written file by file.

/** Absolute path of helm 3.17.3. */
export async function helmBinary(): Promise<string> {
  return (await renderTools()).helm;
}

const PODINFO_CHART = fileURLToPath(new URL('../../fixtures/podinfo-chart/podinfo', import.meta.url));

/** The podinfo chart (6.14.1, test/fixtures/podinfo-chart), copied to `dest`. */
export async function copyPodinfoChart(dest: string): Promise<void> {
  await cp(PODINFO_CHART, dest, { recursive: true });
}

export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

export function bundleYaml(name: string, helm: string): string {
  return `apiVersion: promote/v1\nkind: Bundle\nmetadata:\n  name: ${name}\nspec:\n  helm: ${helm}\n`;
}
