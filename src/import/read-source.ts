import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { PromoteError, type Problem } from '../errors.ts';
import { BUNDLE_MAX_MANIFESTS_TOTAL_BYTES } from '../bundle/limits.ts';
import { isManifestPath, manifestValues, parseManifest, readManifest, type ParsedManifest } from '../bundle/manifest-yaml.ts';
import { renderLimits, runBinary } from '../bundle/renderers/run-binary.ts';
import { withScratch } from '../bundle/renderers/scratch.ts';
import { compareBytes } from '../bundle/walk.ts';
import type { ImportEnvironment, ImportObject } from './import-input.ts';

// The thin adapter in front of the planner: one environment's copy, as the team keeps it, to its
// rendered objects. A source is `[<env>=]<path>` (the environment's name defaults to the path's
// last component without extension: overlays/dev → dev, prod.yaml → prod):
// - a directory holding a kustomization: `kustomize build` (or `kubectl kustomize`, found as the
//   kustomize renderer finds it: PROMOTE_KUSTOMIZE, else kustomize on PATH), run offline and
//   bounded like every renderer (bundle/renderers/run-binary.ts); it only reads the directory;
// - any other directory: its YAML and JSON files, read recursively in byte order of their paths;
// - a file: a YAML stream (e.g. what `helm template` or `kustomize build` printed into it).
// A `kind: List` is its items, as kubectl applies it.

export interface SourceSpec {
  environment: string;
  path: string;
}

const KUSTOMIZATION = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** `dev=overlays/dev` or `overlays/dev` (environment `dev`). */
export function parseSource(arg: string): SourceSpec {
  const eq = arg.indexOf('=');
  if (eq > 0 && !arg.slice(0, eq).includes('/')) return { environment: arg.slice(0, eq), path: arg.slice(eq + 1) };
  const base = basename(arg.replace(/\/+$/, '')).replace(/\.(ya?ml|json)$/i, '');
  return { environment: base, path: arg };
}

function invalid(what: string, problems: Problem[]): PromoteError {
  const first = problems[0]!;
  return new PromoteError('IMPORT_SOURCE_INVALID', `${what} is not Kubernetes YAML promote can read: ${[first.file, first.line].filter((x) => x !== undefined).join(':')}: ${first.message}`, {
    outcome: 'verification',
    problems,
    hint: 'fix the file (or leave it out of the source); nothing was written',
  });
}

function documents(manifest: ParsedManifest, what: string): unknown[] {
  if (manifest.problems.length) throw invalid(what, manifest.problems);
  const values = manifestValues(manifest);
  if ('problem' in values) throw invalid(what, [values.problem]);
  return values.values;
}

function objects(values: readonly unknown[], source: string): ImportObject[] {
  const out: ImportObject[] = [];
  for (const v of values) {
    const o = v as { kind?: unknown; items?: unknown };
    if (o !== null && typeof o === 'object' && o.kind === 'List' && Array.isArray(o.items)) out.push(...objects(o.items, source));
    else out.push({ source, value: v as Record<string, unknown> });
  }
  return out;
}

async function kustomizeBuild(dir: string, shown: string, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  const { buildArgs, kustomizeBinary } = await import('../bundle/renderers/kustomize-build.ts');
  const found = kustomizeBinary({ env }, `kustomize (the source ${shown} is a kustomization)`);
  const limits = renderLimits({ env }, BUNDLE_MAX_MANIFESTS_TOTAL_BYTES);
  return withScratch((scratch) => runBinary({ binary: found.path, args: buildArgs(found, dir), cwd: dir, home: scratch.home, ...limits, what: `kustomize build of the source ${shown}` }));
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && isManifestPath(e.name))
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort(compareBytes);
}

/** One source's objects. Throws IMPORT_SOURCE_NOT_FOUND, IMPORT_SOURCE_INVALID, or a renderer's RENDER_* / RENDERER_MISSING. */
export async function readSource(spec: SourceSpec, options: { cwd: string; env: Readonly<Record<string, string | undefined>> }): Promise<ImportEnvironment> {
  const path = resolve(options.cwd, spec.path);
  const info = await stat(path).catch(() => undefined);
  if (!info) {
    throw new PromoteError('IMPORT_SOURCE_NOT_FOUND', `the source ${spec.path} (environment "${spec.environment}") does not exist`, { outcome: 'usage', hint: 'name a kustomize overlay, a directory of manifests or a YAML file per environment' });
  }
  if (info.isFile()) {
    const text = await readFile(path);
    return { name: spec.environment, objects: objects(documents(readManifest(spec.path, text), spec.path), spec.path) };
  }
  const present = await Promise.all(KUSTOMIZATION.map((f) => stat(join(path, f)).then((s) => s.isFile(), () => false)));
  if (present.some(Boolean)) {
    const stream = await kustomizeBuild(path, spec.path, options.env);
    const what = `the kustomize build of ${spec.path}`;
    return { name: spec.environment, objects: objects(documents(parseManifest(what, stream), what), spec.path) };
  }
  const out: ImportObject[] = [];
  for (const rel of await filesUnder(path)) {
    const shown = join(spec.path, rel);
    out.push(...objects(documents(readManifest(shown, await readFile(join(path, rel))), shown), shown));
  }
  return { name: spec.environment, objects: out };
}
