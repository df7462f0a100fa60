import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readYamlFile } from '../params/document.ts';
import { loadEnvironment, type Environment } from '../params/environment.ts';
import { parameterSchema, type ParameterSchema } from '../params/parameter-schema.ts';
import { resolveParameters, type ResolvedParameters } from '../params/parameters.ts';
import { isOnDisk, type BuiltinValues, type RenderedFile } from './render.ts';
import { renderTree } from './renderers/render-tree.ts';
import type { RendererIdentity, RendererOptions } from './renderers/renderer.ts';
import { loadBundleFile } from './bundle-file.ts';
import { renderPulled, type PulledBundle } from './render-pulled.ts';
import { readBundleSources, type BundleSources } from './sources.ts';
import { BUNDLE_MAX_MANIFEST_BYTES } from './limits.ts';

// "What would an agent apply?" for a bundle directory, an environment and optionally a cluster:
// the environment loaded from `<root>/environments/<name>.yaml`, its parameters (merged with the
// cluster's overrides) validated against the bundle's own parameter schema, then rendered.

export interface RenderEnvironmentRequest {
  /** The bundle directory (holding bundle.yaml). */
  bundleDir: string;
  /** The project root holding environments/ (default: the bundle directory). */
  root?: string;
  environment: string;
  cluster?: string;
  /** ${promote.stage}; default: the environment's name. */
  stage?: string;
  /** ${promote.digest}; for a source directory that uses it, the digest it builds to. */
  digest?: string;
  /** Already-read sources of bundleDir, instead of reading it again. */
  sources?: BundleSources;
  /** A pulled bundle (bundleDir is where it was extracted): rendered as the agent renders it. */
  pulled?: PulledBundle;
  /** How a renderer binary is found and bounded (default: from process.env). */
  renderer?: RendererOptions;
}

export interface RenderEnvironmentResult {
  bundle: string;
  environment: Environment;
  schema: ParameterSchema;
  parameters: ResolvedParameters;
  builtins: BuiltinValues;
  files: RenderedFile[];
  /** What rendered them (renderers/renderer.ts). */
  renderer: RendererIdentity;
}

export async function renderEnvironment(req: RenderEnvironmentRequest): Promise<RenderEnvironmentResult> {
  const sources = req.pulled ? undefined : (req.sources ?? (await readBundleSources(req.bundleDir)));
  const bundle = sources ? sources.bundle : await loadBundleFile(req.pulled!.dir);
  const schema = parameterSchema(bundle.parameterSchema, resolve(bundle.dir, bundle.spec.parameters));
  const environment = await loadEnvironment(req.root ?? req.bundleDir, req.environment);
  const parameters = resolveParameters(environment, schema, req.cluster);
  let digest = req.digest;
  if (digest === undefined && !req.sources && !req.pulled && (await mentionsDigest(sources!))) {
    // The agent renders with the digest it was promoted; a source directory's is what it builds to.
    const { buildBundle } = await import('./build.ts');
    const built = await buildBundle(req.bundleDir);
    try {
      digest = built.manifest.descriptor.digest;
    } finally {
      await built.dispose();
    }
  }
  const builtins: BuiltinValues = {
    stage: req.stage ?? environment.name,
    environment: environment.name,
    ...(req.cluster !== undefined && { cluster: req.cluster }),
    ...(digest !== undefined && { digest }),
  };
  const ctx = { params: parameters.values, promote: builtins };
  const rendered = req.pulled ? await renderPulled(req.pulled, ctx, req.renderer) : await renderTree(sources!.tree, bundle.spec.renderer, ctx, req.renderer);
  return { bundle: bundle.spec.name, environment, schema, parameters, builtins, files: rendered.files, renderer: rendered.renderer };
}

/**
 * Whether a source directory's render needs its digest: a `${promote.digest}` in a plain
 * manifest, or `promote.digest` anywhere a renderer binary reads (a chart's
 * `.Values.global.promote.digest`, a kustomization's reference). Files shipped verbatim never do.
 */
async function mentionsDigest(sources: BundleSources): Promise<boolean> {
  if (sources.bundle.spec.renderer.kind === 'plain') return sources.files.some((f) => !isOnDisk(f) && Buffer.from(f.content).includes('${promote.digest}'));
  const shipped = sources.tree.layout.files?.replace(/\/+$/, '');
  const read = sources.tree.files.filter((f) => !((shipped !== undefined && f.path.startsWith(`${shipped}/`)) || f.size > BUNDLE_MAX_MANIFEST_BYTES));
  // A few at a time: one after the other, each read waited its own turn through the thread pool.
  for (let i = 0; i < read.length; i += DIGEST_READS) {
    const texts = await Promise.all(read.slice(i, i + DIGEST_READS).map((f) => readFile(f.source)));
    if (texts.some((t) => t.includes('promote.digest'))) return true;
  }
  return false;
}

const DIGEST_READS = 16;

async function isDir(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/**
 * Where environments/ is: the bundle directory when it has one (a self-contained example), else
 * the current directory (a project with the bundle in a sub-directory).
 */
export async function projectRootFor(bundleDir: string, cwd: string): Promise<string> {
  if (await isDir(join(bundleDir, 'environments'))) return bundleDir;
  return cwd;
}

/** The stage a pipeline binds to an environment, when exactly one does (for ${promote.stage}). */
export async function stageFor(root: string, environment: string): Promise<string | undefined> {
  const dir = join(root, 'pipelines');
  const files = await readdir(dir).catch(() => [] as string[]);
  const stages: string[] = [];
  for (const f of files.filter((n) => /\.ya?ml$/.test(n))) {
    const doc = await readYamlFile(join(dir, f)).catch(() => undefined);
    const list = (doc?.value as { spec?: { stages?: { name?: unknown; environment?: unknown }[] } } | undefined)?.spec?.stages;
    for (const s of Array.isArray(list) ? list : []) if (s.environment === environment && typeof s.name === 'string') stages.push(s.name);
  }
  return stages.length === 1 ? stages[0] : undefined;
}
