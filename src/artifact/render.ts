import { stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { PromoteError, wrapError } from '../errors.ts';
import { bundlesUnder } from '../bundle/bundle-dir.ts';
import { toYamlStream, type RenderedFile } from '../bundle/render.ts';
import { projectRootFor, renderEnvironment, stageFor } from '../bundle/render-environment.ts';
import type { PulledBundle } from '../bundle/render-pulled.ts';
import type { RendererIdentity } from '../bundle/renderers/renderer.ts';
import type { RegistryOptions } from '../oci/open.ts';
import type { TrustPolicy } from '../signing/policy.ts';
import type { VerifyReferenceResult } from './verify.ts';

// `promote render`: what an agent would apply, for a bundle directory or a pushed bundle.

export interface RenderSourceOptions {
  /** A bundle directory, or a reference to a pushed bundle. */
  source: string;
  environment: string;
  cluster?: string;
  stage?: string;
  /** Project root holding environments/ and pipelines/; default: see projectRootFor. */
  root?: string;
  /** Write the rendered files here (all or nothing) instead of returning a stream. */
  out?: string;
  cwd: string;
  /** How to reach the registry of a pushed bundle (--insecure, --ca-file, credentials). */
  registry?: RegistryOptions;
  /** Where PROMOTE_HELM / PROMOTE_KUSTOMIZE / PROMOTE_RENDER_TIMEOUT are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface RenderSourceResult {
  bundle: string;
  environment: string;
  cluster?: string;
  stage: string;
  parameters: Record<string, unknown>;
  /** Dotted paths of parameters that came from the schema's defaults. */
  defaults: string[];
  files: { path: string; kind: RenderedFile['kind']; documents?: unknown[] }[];
  /** The manifests as one YAML stream (when not written to a directory). */
  stream?: string;
  out?: string;
  /** `repository@sha256:…` when a pushed bundle was rendered. */
  reference?: string;
  /** What rendered it: `plain`, or helm / kustomize with the binary's version and path. */
  renderer: RendererIdentity;
}

/** `helm v3.17.3+ge4da497`, `plain`. */
export function rendererName(r: RendererIdentity): string {
  return r.version ? `${r.kind} ${r.version}` : r.kind;
}

/**
 * The bundle of a directory: itself when it holds bundle.yaml, else the only bundles/<name>/ of
 * the project it is (as `promote validate` finds it), so `promote render --env dev` works at the
 * root of a project `promote init` or `promote import` made.
 */
async function projectBundle(dir: string): Promise<string> {
  if (await stat(join(dir, 'bundle.yaml')).then(() => true, () => false)) return dir;
  const found = await bundlesUnder(join(dir, 'bundles'));
  if (found.length === 1) return found[0]!;
  if (found.length > 1) {
    throw new PromoteError('BUNDLE_AMBIGUOUS', `${dir} has ${found.length} bundles (${found.map((f) => relative(dir, f)).join(', ')}): which one to render?`, {
      outcome: 'usage',
      hint: `name it: promote render ${relative(dir, found[0]!)} --env <env>`,
    });
  }
  return dir; // not a bundle: renderDirectory says so (BUNDLE_FILE_MISSING)
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/**
 * A comment block opening the stream: what was rendered, and every parameter with where its
 * value came from — defaults are shown, not silently applied. YAML tools ignore comments.
 */
export function streamHeader(r: Pick<RenderSourceResult, 'bundle' | 'environment' | 'cluster' | 'stage' | 'parameters' | 'defaults' | 'reference'> & { renderer?: RendererIdentity }): string {
  const where = r.cluster ? `environment ${r.environment}, cluster ${r.cluster}` : `environment ${r.environment}`;
  const lines = [`# promote render: ${r.reference ?? `bundle ${r.bundle}`} for ${where} (stage ${r.stage})`, '# parameters:'];
  const defaults = new Set(r.defaults);
  // Walked by segments, not by splitting dotted paths: a key may hold a "." (a label "1.10") or
  // a line break, which must neither lose the value nor end the comment.
  const leaves: { path: string; shown: string; value: unknown }[] = [];
  const walk = (v: unknown, segments: string[]): void => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) {
      for (const [k, x] of Object.entries(v)) walk(x, [...segments, k]);
    } else if (segments.length) {
      leaves.push({ path: segments.join('.'), shown: segments.map((k) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k))).join('.'), value: v });
    }
  };
  walk(r.parameters, []);
  const width = Math.max(0, ...leaves.map((l) => l.shown.length));
  for (const l of leaves) lines.push(`#   ${`${l.shown}:`.padEnd(width + 1)} ${JSON.stringify(l.value)}${defaults.has(l.path) ? '  (default)' : ''}`);
  if (leaves.length === 0) lines.push('#   (none)');
  // A comment like the rest: a helm or kustomize render says which binary version produced it.
  if (r.renderer && r.renderer.kind !== 'plain') lines.push(`# rendered by ${rendererName(r.renderer).replace(/[\r\n]+/g, ' ')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * `promote render`: render a bundle directory — or a pushed bundle (`repo:tag`, `repo@sha256:…`,
 * `oci:<layout>[:tag]`), pulled with every digest verified into a temporary directory — for an
 * environment, to a YAML stream or into a directory. For a pushed bundle ${promote.digest} is
 * its manifest digest. (Signatures are the agent's and `promote verify`'s business, not render's.)
 */
export async function renderSource(options: RenderSourceOptions): Promise<RenderSourceResult> {
  const local = resolve(options.cwd, options.source);
  if (await isDir(local)) {
    const bundleDir = await projectBundle(local);
    // A project's bundle under bundles/: its environments/ are the project's.
    return renderDirectory(bundleDir !== local && options.root === undefined ? { ...options, root: local } : options, bundleDir);
  }
  const looksLikeReference = options.source.startsWith('oci:') || /[:@/]/.test(options.source);
  if (!looksLikeReference) {
    throw new PromoteError('RENDER_SOURCE_NOT_FOUND', `${options.source} is neither a bundle directory nor a reference`, {
      outcome: 'usage',
      hint: 'render a bundle directory (the one holding bundle.yaml) or a pushed bundle such as registry.example.com/acme/web@sha256:… or oci:./layout:tag',
    });
  }
  const { pullInto } = await import('./pull.ts');
  const { openRegistry } = await import('../oci/open.ts');
  const { formatReference, parseReference, referenceTarget, withDigest } = await import('../oci/reference.ts');
  const { mkdtemp } = await import('node:fs/promises');
  const { removeTree } = await import('../remove-tree.ts');
  const { tmpdir } = await import('node:os');
  const tmp = await mkdtemp(join(tmpdir(), 'promote-render-'));
  try {
    const ref = parseReference(options.source);
    const registry = await openRegistry(ref, { ...options.registry, cwd: options.cwd });
    let pulled: PulledBundle;
    try {
      pulled = await pullInto(registry, referenceTarget(ref), join(tmp, 'bundle'));
    } catch (err) {
      throw wrapError(err, `pulling ${formatReference(ref)} failed`);
    }
    if (options.root === undefined) options = { ...options, root: options.cwd };
    return await renderDirectory(options, pulled.dir, { bundle: pulled, reference: formatReference(withDigest(ref, pulled.digest)) });
  } finally {
    await removeTree(tmp);
  }
}

async function renderDirectory(options: RenderSourceOptions, bundleDir: string, pulled?: { bundle: PulledBundle; reference: string }): Promise<RenderSourceResult> {
  const root = options.root !== undefined ? resolve(options.cwd, options.root) : await projectRootFor(bundleDir, options.cwd);
  const stage = options.stage ?? (await stageFor(root, options.environment)) ?? options.environment;
  const result = await renderEnvironment({
    bundleDir,
    ...(pulled && { pulled: pulled.bundle }),
    root,
    environment: options.environment,
    stage,
    ...(options.cluster !== undefined && { cluster: options.cluster }),
    ...(pulled && { digest: pulled.bundle.digest }),
    ...(options.env && { renderer: { env: options.env } }),
  });
  const summary: RenderSourceResult = {
    bundle: result.bundle,
    environment: result.environment.name,
    ...(options.cluster !== undefined && { cluster: options.cluster }),
    stage,
    parameters: result.parameters.values,
    defaults: result.parameters.defaults,
    ...(pulled && { reference: pulled.reference }),
    files: result.files.map((f) => ({ path: f.path, kind: f.kind, ...(f.documents && { documents: f.documents }) })),
    renderer: result.renderer,
  };
  if (options.out !== undefined) {
    const { writeRendered } = await import('../bundle/render-output.ts');
    await writeRendered(result.files, resolve(options.cwd, options.out));
    summary.out = options.out;
  } else {
    summary.stream = streamHeader(summary) + toYamlStream(result.files);
  }
  return summary;
}

// `promote render <ref> --verify`: the same order as `pull --verify` — the tag is resolved once
// and that digest verified, then the bundle is rendered from `repository@digest`, never from the
// tag again. A bundle that does not verify is not even downloaded, so nothing is written.

export interface VerifiedRenderResult extends RenderSourceResult {
  verification: VerifyReferenceResult;
}

export async function verifiedRender(options: RenderSourceOptions, policy: TrustPolicy, registry: RegistryOptions = {}): Promise<VerifiedRenderResult> {
  if (await isDir(resolve(options.cwd, options.source))) {
    throw new PromoteError('USAGE', `--verify checks the signature of a pushed bundle; ${options.source} is a directory`, {
      outcome: 'usage',
      hint: 'render a reference (repo:tag, repo@sha256:…, oci:<layout>:tag) with --verify, or drop --verify for a local directory',
    });
  }
  const { verifyReference } = await import('./verify.ts');
  const verification = await verifyReference(options.source, policy, { ...registry, ...options.registry, cwd: options.cwd });
  const rendered = await renderSource({ ...options, source: verification.reference });
  return { ...rendered, verification };
}
