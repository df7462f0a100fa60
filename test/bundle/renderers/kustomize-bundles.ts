import { cp, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Kustomize bundles for the renderer tests, written into temp directories. The podinfo one is
// the flux example's app (test/fixtures/flux2-kustomize-helm-example, Apache-2.0): its base as
// is, and its two overlays — which differ only in the HelmRelease values they patch — folded
// into one overlay whose patch takes those values as parameters.

export const FLUX_EXAMPLE = fileURLToPath(new URL('../../fixtures/flux2-kustomize-helm-example', import.meta.url));

/** Writes `files` (bundle-relative path → content) under `dir`. */
export async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

export function bundleYaml(name: string, path: string, extra = ''): string {
  return `apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: ${name}}\nspec:\n  parameters: params.schema.json\n  kustomize: {path: ${path}}\n${extra}`;
}

export function environmentYaml(name: string, parameters: Record<string, unknown>): string {
  return `apiVersion: promote/v1\nkind: Environment\nmetadata:\n  name: ${name}\nspec:\n  parameters: ${JSON.stringify(parameters)}\n`;
}

/** What the flux example's apps/staging and apps/production overlays set, as parameters. */
export const PODINFO_ENVIRONMENTS = {
  staging: { chartVersion: '>=1.0.0-alpha', hostname: 'podinfo.staging', test: { enable: false } },
  production: { chartVersion: '>=1.0.0', hostname: 'podinfo.production', test: null },
} as const;

/**
 * A project at `root`: the podinfo app as one kustomize bundle in bundle/ (apps/base/podinfo
 * copied from the fixture, apps/podinfo the overlay: the fixture's kustomization and a patch with
 * references) and environments/staging.yaml and production.yaml beside it. Returns bundle/.
 */
export async function podinfoBundle(root: string): Promise<string> {
  const dir = join(root, 'bundle');
  await mkdir(join(dir, 'apps', 'base'), { recursive: true });
  await cp(join(FLUX_EXAMPLE, 'apps', 'base', 'podinfo'), join(dir, 'apps', 'base', 'podinfo'), { recursive: true });
  await cp(join(FLUX_EXAMPLE, 'apps', 'staging', 'kustomization.yaml'), join(dir, 'apps', 'podinfo', 'kustomization.yaml'));
  await writeTree(dir, {
    'bundle.yaml': bundleYaml('podinfo', 'apps/podinfo'),
    'params.schema.json': JSON.stringify({
      type: 'object',
      required: ['chartVersion', 'hostname'],
      properties: {
        chartVersion: { type: 'string', description: 'the semver range of the podinfo chart' },
        hostname: { type: 'string' },
        test: { type: ['object', 'null'], default: null, description: 'the HelmRelease test settings; null leaves them out' },
      },
    }),
    // The fixture's staging patch with each environment's value replaced by a reference; `test`
    // exists in staging only, and a null value drops the key.
    'apps/podinfo/podinfo-values.yaml': [
      'apiVersion: helm.toolkit.fluxcd.io/v2',
      'kind: HelmRelease',
      'metadata:',
      '  name: podinfo',
      '  namespace: podinfo',
      'spec:',
      '  chart:',
      '    spec:',
      '      version: ${params.chartVersion}',
      '  test: ${params.test}',
      '  values:',
      '    httpRoute:',
      '      hostnames:',
      '        - ${params.hostname}',
      '',
    ].join('\n'),
  });
  await writeTree(root, Object.fromEntries(Object.entries(PODINFO_ENVIRONMENTS).map(([env, params]) => [`environments/${env}.yaml`, environmentYaml(env, params)])));
  return dir;
}
