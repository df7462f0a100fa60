import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PromoteError, type Problem } from '../../errors.ts';
import { BUNDLE_MAX_MANIFESTS_TOTAL_BYTES } from '../limits.ts';
import { lookupIn, type BuiltinValues, type RenderContext, type RenderedFile } from '../render.ts';
import { expandString } from '../template.ts';
import { findBinary, type FoundBinary } from './find-binary.ts';
import type { HelmSpec } from './helm.ts';
import type { BundleTree, RendererIdentity, RendererOptions } from './renderer.ts';
import { rememberedIdentity } from './remembered-identity.ts';
import { renderLimits, runBinary } from './run-binary.ts';
import { copyTree, withScratch } from './scratch.ts';
import { renderedFiles, splitYamlStream } from './yaml-stream.ts';

// `helm template` for a bundle's chart (issue 15; docs/renderers.md "Helm"). The chart is copied
// into a scratch directory (only the chart: a template sees nothing else of the bundle, and helm's
// .Files cannot climb out of the chart anyway), the parameters are written as the one values file
// with the built-ins under `global.promote`, and helm runs client-only: no --validate, no kube
// flags, no post-renderer, so `lookup` finds nothing and no cluster is ever asked. Hooks and tests
// are left to helm's own classification (--no-hooks / --skip-tests), so an object is a hook
// exactly when helm would treat it as one. Each document is filed under the template helm names
// in its `# Source:` comment, at its path in the bundle.

/** The values key the built-ins are under: `global`, so subcharts see them too (helm passes `global` down). */
const BUILTINS_KEY = 'promote';

/** helm's own rule for a release name (pkg/chartutil ValidateReleaseName): a DNS subdomain of at most 53. */
const RELEASE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const RELEASE_NAME_MAX = 53;
/** A namespace is a DNS label. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAMESPACE_MAX = 63;

/** `# Source: <chart name>/<path in the chart>` — the first line helm writes for each document (after its `---`). */
export const SOURCE_HEADER = /^(?:---[^\n]*\n)?# Source: ([^\n]*)\n/;

/** helm, as every reader of a chart finds it; `renderer` names who wants it, for the message. */
export function findHelm(options: RendererOptions = {}, renderer = 'helm (bundle.yaml spec.helm)'): FoundBinary {
  return findBinary({
    tool: 'helm',
    variable: 'PROMOTE_HELM',
    renderer,
    install: 'install helm 3 (https://helm.sh/docs/intro/install/; the agent image ships it)',
    env: options.env ?? process.env,
  });
}

/** helm's homes inside the scratch HOME: no repositories, registry logins or plugins of the user's. */
export function helmEnv(home: string): Record<string, string> {
  return { HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
}

// Keyed by the file as well as its path: an upgraded binary at the same path is asked again.
const identities = new Map<string, Promise<RendererIdentity>>();

export async function helmIdentity(options?: RendererOptions): Promise<RendererIdentity> {
  const helm = findHelm(options);
  const info = statSync(helm.path);
  const key = `${helm.path}\0${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
  let identity = identities.get(key);
  if (!identity) {
    const { timeoutMs } = renderLimits(options, BUNDLE_MAX_MANIFESTS_TOTAL_BYTES);
    // Remembered between runs too, so that a render runs one helm, not two.
    identity = rememberedIdentity('helm', helm.path, helm.prefix, options ?? {}, () =>
      withScratch(async (scratch) => {
        const out = await runBinary({ binary: helm.path, args: ['version', '--short'], cwd: scratch.dir, home: scratch.home, env: helmEnv(scratch.home), timeoutMs, maxOutputBytes: 4096, what: `${helm.path} version` });
        return { kind: 'helm', version: out.trim(), binary: helm.path };
      }),
    );
    identities.set(key, identity);
    identity.catch(() => identities.delete(key));
  }
  return identity;
}

function renderFailed(tree: BundleTree, message: string, hint: string, problems?: Problem[]): PromoteError {
  return new PromoteError('RENDER_FAILED', `${tree.what}: ${message}`, { outcome: 'verification', hint, ...(problems && { problems }) });
}

/** releaseName / namespace with their references expanded, checked as helm and Kubernetes would. */
function releaseField(tree: BundleTree, ctx: RenderContext, field: 'releaseName' | 'namespace', written: string | undefined, fallback: string): string {
  const problems: Problem[] = [];
  const pointer = `/spec/helm/${field}`;
  const value = written === undefined ? fallback : expandString(written, lookupIn(ctx), (_ref, message) => problems.push({ file: 'bundle.yaml', pointer, rule: 'reference', message }));
  if (problems.length) throw renderFailed(tree, `spec.helm.${field}: ${problems[0]!.message}`, 'give the parameter a value in the environment (or a default in the schema), or change spec.helm in bundle.yaml', problems);
  const [pattern, max, what] = field === 'releaseName' ? [RELEASE_NAME, RELEASE_NAME_MAX, 'a helm release name'] : [NAMESPACE, NAMESPACE_MAX, 'a namespace'];
  if (!pattern.test(value) || value.length > max) {
    const from = written === undefined ? ` (the default: ${field === 'releaseName' ? 'the bundle name' : fallback})` : written === value ? '' : ` (from ${written})`;
    throw renderFailed(
      tree,
      `spec.helm.${field} ${JSON.stringify(value)}${from} is not ${what}: lower-case letters, digits and '-'${field === 'releaseName' ? " ('.' between parts)" : ''}, at most ${max} characters`,
      `set spec.helm.${field} in bundle.yaml to a valid name, or fix the parameter it references`,
      [{ file: 'bundle.yaml', pointer, rule: 'pattern', message: `not ${what}` }],
    );
  }
  return value;
}

/** The values helm gets: the parameters as they are, and the built-ins given here under global.promote. */
function helmValues(ctx: RenderContext, tree: BundleTree): Record<string, unknown> {
  const { global, ...params } = ctx.params;
  if (global !== undefined && (global === null || typeof global !== 'object' || Array.isArray(global))) {
    throw renderFailed(tree, 'the parameter "global" is not an object', 'helm passes global to every subchart as a map, and promote adds global.promote to it: make global an object');
  }
  const shared = (global ?? {}) as Record<string, unknown>;
  if (Object.hasOwn(shared, BUILTINS_KEY)) {
    throw renderFailed(tree, `the parameter "global.${BUILTINS_KEY}" is set, but that key holds promote's built-ins (stage, environment, cluster, digest)`, `rename the parameter; charts read the built-ins as .Values.global.${BUILTINS_KEY}.stage and so on (docs/renderers.md)`);
  }
  const builtins: BuiltinValues = {};
  for (const k of ['stage', 'environment', 'cluster', 'digest'] as const) if (ctx.promote[k] !== undefined) builtins[k] = ctx.promote[k];
  return { ...params, global: { ...shared, [BUILTINS_KEY]: builtins } };
}

/**
 * helm's output as files at their bundle paths: `<chart name>/templates/x.yaml` is
 * `<spec.chart>/templates/x.yaml`, a subchart's `<chart name>/charts/sub/templates/y.yaml` is
 * under `<spec.chart>/charts/sub/`. The `# Source:` line itself is dropped (`promote render`
 * writes its own), the rest of each document is kept byte for byte.
 */
function helmOutputFiles(out: string, spec: HelmSpec, what: string): ReturnType<typeof renderedFiles> {
  const prefix = spec.chart === '.' ? '' : `${spec.chart}/`;
  const files = new Map<string, string[]>();
  let current: string | undefined;
  for (const doc of splitYamlStream(out)) {
    const header = SOURCE_HEADER.exec(doc);
    if (header) {
      const segments = header[1]!.split('/');
      const inChart = segments.slice(1);
      if (segments.length < 2 || inChart.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0'))) {
        throw new PromoteError('RENDER_FAILED', `${what} named a document's source ${JSON.stringify(header[1])}, which is not a path inside the chart`, { outcome: 'verification', hint: 'run helm template on the chart by hand to see its output' });
      }
      current = `${prefix}${inChart.join('/')}`;
    } else if (current === undefined) {
      throw new PromoteError('RENDER_FAILED', `${what} printed a document without the "# Source:" line helm writes`, { outcome: 'verification', hint: 'the helm run (PROMOTE_HELM, else helm on PATH) must be helm 3; run it by hand to see what it prints' });
    }
    // A document without the line came from the same template as the one before it.
    const body = header ? doc.slice(header[0].length) : doc.replace(/^---[^\n]*\n/, '');
    const list = files.get(current) ?? [];
    list.push(body);
    files.set(current, list);
  }
  return renderedFiles(files, what);
}

export async function helmTemplate(spec: HelmSpec, tree: BundleTree, ctx: RenderContext, options?: RendererOptions): Promise<RenderedFile[]> {
  const helm = findHelm(options);
  if (tree.name === undefined && spec.releaseName === undefined) throw new PromoteError('INTERNAL', `${tree.what}: no bundle name to default the helm release name to`, { outcome: 'failed' });
  const release = releaseField(tree, ctx, 'releaseName', spec.releaseName, tree.name ?? '');
  const namespace = releaseField(tree, ctx, 'namespace', spec.namespace, 'default');
  const values = helmValues(ctx, tree);
  const { timeoutMs, maxOutputBytes } = renderLimits(options, BUNDLE_MAX_MANIFESTS_TOTAL_BYTES);
  const prefix = spec.chart === '.' ? '' : `${spec.chart}/`;
  const what = `helm template for ${tree.what}`;
  const out = await withScratch(async (scratch) => {
    await copyTree(tree, scratch.bundle, (f) => f.path.startsWith(prefix));
    await writeFile(join(scratch.dir, 'values.json'), JSON.stringify(values));
    // Paths relative to the copy, so helm's messages name the chart, not the scratch directory;
    // `./` makes helm load the directory rather than look the name up in a repository.
    const args = ['template', release, `./${spec.chart}`, '--namespace', namespace, '--values', '../values.json', '--include-crds', spec.hooks === 'include' ? '--skip-tests' : '--no-hooks'];
    return runBinary({ binary: helm.path, args, cwd: scratch.bundle, home: scratch.home, env: helmEnv(scratch.home), timeoutMs, maxOutputBytes, what });
  });
  return helmOutputFiles(out, spec, what);
}
