import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isPromoteError, PromoteError } from '../../errors.ts';
import { formatBytes } from '../../params/limits.ts';
import { BUNDLE_MAX_MANIFEST_BYTES, BUNDLE_MAX_MANIFESTS_TOTAL_BYTES } from '../limits.ts';
import { isOnDisk, renderFiles, type InMemoryRenderedFile, type RenderContext, type RenderedFile } from '../render.ts';
import { readRenderInput } from '../sources.ts';
import { compareBytes } from '../walk.ts';
import { findBinary, type FoundBinary } from './find-binary.ts';
import type { KustomizeSpec } from './kustomize.ts';
import { kustomizationProblems, type ReadBundleFile } from './kustomize-paths.ts';
import { substitutedFiles, SUBSTITUTION_LAYOUT } from './kustomize-substitution.ts';
import type { BundleTree, RendererIdentity, RendererOptions } from './renderer.ts';
import { renderLimits, runBinary } from './run-binary.ts';
import { copyTree, withScratch } from './scratch.ts';
import { renderedFiles, splitYamlStream } from './yaml-stream.ts';

// Rendering a kustomize bundle (DESIGN.md §4b, docs/renderers.md "Kustomize"): the bundle's
// files, `${params.…}` substituted (kustomize-substitution.ts), are written into a scratch
// directory and `kustomize build` runs there, so transformers, name-hash suffixes and patches see
// the environment's values. kustomize runs offline and bounded (run-binary.ts), with its default
// load restrictor stated explicitly and no --enable-helm, --enable-alpha-plugins or --enable-exec,
// so no chart, KRM function or exec plugin can run; and every path a kustomization names is checked
// to be inside the bundle first (kustomize-paths.ts), since kustomize would fetch a base it cannot
// find locally and loads base directories from anywhere.

const ARGS = ['--load-restrictor', 'LoadRestrictionsRootOnly'];

/** kustomize (or a kubectl), as every reader of a kustomization finds it; `renderer` names who wants it. */
export function kustomizeBinary(options: RendererOptions, renderer = 'kustomize (bundle.yaml spec.kustomize)'): FoundBinary {
  return findBinary({
    tool: 'kustomize',
    variable: 'PROMOTE_KUSTOMIZE',
    renderer,
    install: 'install kustomize v5 (https://kubectl.docs.kubernetes.io/installation/kustomize/) on PATH, or point PROMOTE_KUSTOMIZE at a kubectl (run as `kubectl kustomize`)',
    env: options.env ?? process.env,
    aliases: { kubectl: ['kustomize'] },
  });
}

/** `kustomize build` as the found binary spells it (`kubectl kustomize` for a kubectl). */
export function buildArgs(found: FoundBinary, dir: string): string[] {
  return found.prefix.length ? [...found.prefix, dir, ...ARGS] : ['build', dir, ...ARGS];
}

function toolName(found: FoundBinary): string {
  return found.prefix.length ? 'kubectl kustomize' : 'kustomize build';
}

const VERSION = /^v?\d+\.\d+\.\d+[0-9A-Za-z.+-]*$/;

function unreadableVersion(found: FoundBinary, what: string): PromoteError {
  return new PromoteError('RENDERER_MISSING', `${found.path} printed no ${what}: PROMOTE_KUSTOMIZE must name kustomize or a kubectl`, {
    outcome: 'failed',
    hint: 'point PROMOTE_KUSTOMIZE at kustomize v5 or at a kubectl (run as `kubectl kustomize`). Nothing was rendered or applied',
    details: { renderer: 'kustomize', binary: found.path },
  });
}

/** The version of what runs: `v5.4.2`, or for a kubectl `v5.4.2 (kubectl v1.31.9)` — kubectl's own version also changes what it embeds. */
function versionOf(found: FoundBinary, out: string): string {
  if (found.prefix.length === 0) {
    // v5 prints `v5.4.2`; v4 printed `{Version:kustomize/v4.5.7 GitCommit:… }`.
    const v = /(?:^|[\s/])(v\d+\.\d+\.\d+[0-9A-Za-z.+-]*)/.exec(out)?.[1];
    if (!v) throw unreadableVersion(found, 'kustomize version');
    return v;
  }
  let parsed: { kustomizeVersion?: unknown; clientVersion?: { gitVersion?: unknown } };
  try {
    parsed = JSON.parse(out) as typeof parsed;
  } catch {
    throw unreadableVersion(found, 'kubectl version (JSON)');
  }
  const kustomize = typeof parsed.kustomizeVersion === 'string' && VERSION.test(parsed.kustomizeVersion) ? parsed.kustomizeVersion : undefined;
  const kubectl = typeof parsed.clientVersion?.gitVersion === 'string' && VERSION.test(parsed.clientVersion.gitVersion) ? parsed.clientVersion.gitVersion : undefined;
  if (!kubectl) throw unreadableVersion(found, 'kubectl version');
  return kustomize ? `${kustomize} (kubectl ${kubectl})` : `kubectl ${kubectl}`;
}

const identities = new Map<string, Promise<RendererIdentity>>();

/** A version query is not a render: PROMOTE_RENDER_TIMEOUT does not shorten it. */
const VERSION_TIMEOUT_MS = 30_000;

/**
 * What renders a kustomize bundle here: the binary's absolute path and version (`kustomize
 * version`; for a kubectl `kubectl version --client`, which reads no kubeconfig and contacts no
 * cluster). Asked once per binary and process: an agent renders every round.
 */
export async function kustomizeIdentity(options: RendererOptions = {}): Promise<RendererIdentity> {
  const found = kustomizeBinary(options);
  const key = `${found.path}\0${found.prefix.join(' ')}`;
  let identity = identities.get(key);
  if (!identity) {
    identity = readIdentity(found);
    identities.set(key, identity);
    identity.catch(() => identities.delete(key));
  }
  return identity;
}

async function readIdentity(found: FoundBinary): Promise<RendererIdentity> {
  const out = await withScratch((scratch) =>
    runBinary({
      binary: found.path,
      args: found.prefix.length ? ['version', '--client', '-o', 'json'] : ['version'],
      cwd: scratch.dir,
      home: scratch.home,
      timeoutMs: VERSION_TIMEOUT_MS,
      maxOutputBytes: 64 * 1024,
      what: `${found.path} version`,
    }),
  );
  return { kind: 'kustomize', version: versionOf(found, out), binary: found.path };
}

/** The file `kustomize build -o <dir>` writes an object to, with its namespace always in front when it has one (so no two objects share a name). */
export function objectFileName(object: unknown): string {
  const o = (object !== null && typeof object === 'object' ? object : {}) as Record<string, unknown>;
  const meta = (o.metadata !== null && typeof o.metadata === 'object' ? o.metadata : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const apiVersion = str(o.apiVersion);
  const slash = apiVersion.lastIndexOf('/');
  const gvk = [slash < 0 ? '' : apiVersion.slice(0, slash), apiVersion.slice(slash + 1), str(o.kind)].filter((s) => s !== '').join('_');
  // kustomize writes the name as it is; here anything but [a-z0-9._:-] ('/', control characters) becomes '_', since
  // the name comes from the bundle's files (with the kind in front, no name is a segment like '..').
  const safe = (s: string) => s.toLowerCase().replace(/[^a-z0-9._:-]/g, '_');
  const namespace = str(meta.namespace);
  return `${namespace === '' ? '' : `${safe(namespace)}_`}${safe(gvk || 'unknown')}_${safe(str(meta.name) || 'unnamed')}.yaml`;
}

/** kustomize's output as one rendered file per object under `root` (two objects named alike share a file, in output order). */
function objectFiles(stdout: string, root: string, what: string): InMemoryRenderedFile[] {
  const texts = splitYamlStream(stdout);
  const names = texts.map((_, i) => `document ${i + 1}`);
  const parsed = new Map(renderedFiles(new Map(texts.map((t, i) => [names[i]!, [t]])), what).map((f) => [f.path, f]));
  const byPath = new Map<string, InMemoryRenderedFile>();
  for (const name of names) {
    const doc = parsed.get(name)!;
    const value = doc.documents?.[0];
    if (value === undefined) continue;
    const path = root === '.' ? objectFileName(value) : `${root}/${objectFileName(value)}`;
    const same = byPath.get(path);
    if (same) {
      same.content = `${same.content as string}${doc.content as string}`;
      same.documents!.push(...doc.documents!);
    } else {
      byPath.set(path, { path, kind: 'manifest', content: doc.content, documents: [...doc.documents!] });
    }
  }
  return [...byPath.values()];
}

/** The kustomizations' paths once more, as substituted: a parameter may have made one remote or outside. */
function refuseEscapes(spec: KustomizeSpec, tree: BundleTree, rendered: readonly RenderedFile[]): void {
  const byPath = new Map(rendered.map((f) => [f.path, f]));
  const sources = new Map(tree.files.map((f) => [f.path, f]));
  const read: ReadBundleFile = (path) => {
    const f = byPath.get(path);
    if (f && !isOnDisk(f)) return f.content;
    const s = sources.get(path)!;
    if (s.size > BUNDLE_MAX_MANIFEST_BYTES) return { unreadable: `it is ${formatBytes(s.size)}, over the ${formatBytes(BUNDLE_MAX_MANIFEST_BYTES)} limit for one manifest` };
    return readFileSync(s.source);
  };
  const problems = kustomizationProblems({ root: spec.path, paths: new Set(sources.keys()), read, unsubstituted: false });
  if (problems.length === 0) return;
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  throw new PromoteError('BUNDLE_RENDERER_INVALID', `cannot render ${tree.what} with kustomize: ${first.file}${first.line ? `:${first.line}` : ''}: ${first.message}${more}`, {
    outcome: 'verification',
    problems,
    hint: first.hint ?? 'a kustomize bundle must render offline from its own files (docs/renderers.md)',
  });
}

/** A tool's message with the scratch directory taken out: paths read as the bundle's own. */
function inBundleTerms(err: unknown, scratchBundle: string): unknown {
  if (!isPromoteError(err) || !err.message.includes(scratchBundle)) return err;
  const message = err.message.replaceAll(`${scratchBundle}/`, '').replaceAll(scratchBundle, '.');
  return new PromoteError(err.code, message, { outcome: err.outcome, hint: err.hint, problems: err.problems, details: err.details, cause: err.cause });
}

/**
 * The bundle rendered by `kustomize build <spec.path>` with these parameters: one file per
 * object, named as `kustomize build -o <dir>` names them (objectFileName), under spec.path
 * (renderTree adds spec.files, shipped verbatim). Throws RENDER_FAILED naming the
 * bundle file and line of a reference without a value, BUNDLE_RENDERER_INVALID for a path out of
 * the bundle, RENDERER_MISSING, RENDER_TIMEOUT, RENDER_TOO_LARGE, or RENDER_FAILED with
 * kustomize's own message; nothing half-rendered is returned.
 */
export async function kustomizeBuild(spec: KustomizeSpec, tree: BundleTree, ctx: RenderContext, options: RendererOptions = {}): Promise<RenderedFile[]> {
  const found = kustomizeBinary(options);
  const limits = renderLimits(options, BUNDLE_MAX_MANIFESTS_TOTAL_BYTES);
  const { substituted, verbatim } = substitutedFiles(tree);
  const rendered = renderFiles(await readRenderInput(substituted, SUBSTITUTION_LAYOUT, tree.what), SUBSTITUTION_LAYOUT, ctx);
  refuseEscapes(spec, tree, rendered);
  const what = `${toolName(found)} of ${tree.what}`;
  const objects = await withScratch(async (scratch) => {
    const copied = new Set(verbatim.map((f) => f.path));
    await copyTree(tree, scratch.bundle, (f) => copied.has(f.path));
    for (const f of rendered) {
      if (isOnDisk(f)) continue;
      const target = join(scratch.bundle, f.path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.content);
    }
    const dir = spec.path === '.' ? scratch.bundle : join(scratch.bundle, spec.path);
    let stdout: string;
    try {
      stdout = await runBinary({ binary: found.path, args: buildArgs(found, dir), cwd: scratch.bundle, home: scratch.home, ...limits, what });
    } catch (err) {
      throw inBundleTerms(err, scratch.bundle);
    }
    return objectFiles(stdout, spec.path, what);
  });
  return objects.sort((a, b) => compareBytes(a.path, b.path));
}
