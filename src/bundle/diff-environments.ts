import { createTwoFilesPatch } from 'diff';
import { resolve } from 'node:path';
import { projectRootFor, renderEnvironment, type RenderEnvironmentResult } from './render-environment.ts';
import { readBundleSources } from './sources.ts';
import { isOnDisk, type RenderedFile } from './render.ts';
import { parameterDifferences } from '../params/parameter-diff.ts';
import { pointerSegments } from '../params/pointer.ts';

// `promote diff-env A B`: what differs between two environments. By construction that is only
// parameters (and the built-ins that name the environment), so the answer comes twice: the
// parameter values side by side, and the unified diff of the two renders — which shows exactly
// where in the manifests those parameters land, and nothing else.

export interface EnvironmentSelector {
  environment: string;
  cluster?: string;
}

/** `production` or `production/prod-us-1`. */
export function parseSelector(text: string): EnvironmentSelector {
  const slash = text.indexOf('/');
  return slash < 0 ? { environment: text } : { environment: text.slice(0, slash), cluster: text.slice(slash + 1) };
}

export interface ParameterChange {
  /** Dotted path, e.g. `maxReplicas.frontend` or `promote.environment`. */
  path: string;
  a?: unknown;
  b?: unknown;
  change: 'changed' | 'only-a' | 'only-b';
}

export interface EnvironmentDiff {
  a: string;
  b: string;
  parameters: ParameterChange[];
  /** Unified diff of the rendered files (empty when they are identical). */
  rendered: string;
  changedFiles: string[];
}

function label(s: EnvironmentSelector): string {
  return s.cluster ? `${s.environment}/${s.cluster}` : s.environment;
}

/**
 * The parameters (and built-ins, under `promote`) that differ, by dotted path: params/
 * parameter-diff.ts compares them as `promote plan` does (a secret reference is one value; a
 * value at a secret's place is masked).
 */
export function parameterChanges(a: RenderEnvironmentResult, b: RenderEnvironmentResult): ParameterChange[] {
  const differences = [...parameterDifferences(a.parameters.values, b.parameters.values, a.schema.secrets), ...parameterDifferences({ promote: a.builtins }, { promote: b.builtins })];
  const out = differences.map((d): ParameterChange => {
    const path = pointerSegments(d.pointer).join('.');
    if (!('before' in d)) return { path, b: d.after, change: 'only-b' };
    if (!('after' in d)) return { path, a: d.before, change: 'only-a' };
    return { path, a: d.before, b: d.after, change: 'changed' };
  });
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

function text(file: RenderedFile | undefined): string {
  if (file === undefined) return '';
  // A shipped file is passed through unread, the same file for both environments.
  if (isOnDisk(file)) return `(shipped file ${file.source}, ${file.size} bytes)\n`;
  return typeof file.content === 'string' ? file.content : Buffer.from(file.content).toString('utf8');
}

/**
 * `bundleDir` and `root` are resolved against `cwd`; without `root`, environments/ is found as
 * `promote render` finds it (projectRootFor).
 */
export async function diffEnvironments(options: { bundleDir: string; root?: string; cwd: string; a: string; b: string }): Promise<EnvironmentDiff> {
  const sa = parseSelector(options.a);
  const sb = parseSelector(options.b);
  const bundleDir = resolve(options.cwd, options.bundleDir);
  const root = options.root !== undefined ? resolve(options.cwd, options.root) : await projectRootFor(bundleDir, options.cwd);
  const sources = await readBundleSources(bundleDir);
  const common = { bundleDir, sources, root };
  const ra = await renderEnvironment({ ...common, environment: sa.environment, ...(sa.cluster && { cluster: sa.cluster }) });
  const rb = await renderEnvironment({ ...common, environment: sb.environment, ...(sb.cluster && { cluster: sb.cluster }) });
  const filesA = new Map(ra.files.map((f) => [f.path, f]));
  const filesB = new Map(rb.files.map((f) => [f.path, f]));
  const paths = [...new Set([...filesA.keys(), ...filesB.keys()])].sort();
  const patches: string[] = [];
  const changedFiles: string[] = [];
  for (const p of paths) {
    const ta = text(filesA.get(p));
    const tb = text(filesB.get(p));
    if (ta === tb) continue;
    changedFiles.push(p);
    patches.push(createTwoFilesPatch(`${label(sa)}/${p}`, `${label(sb)}/${p}`, ta, tb, undefined, undefined, { context: 3 }).replace(/^=+\n/, ''));
  }
  return { a: label(sa), b: label(sb), parameters: parameterChanges(ra, rb), rendered: patches.join(''), changedFiles };
}
