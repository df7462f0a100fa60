import type { Problem } from '../../errors.ts';
import { bundleDirProblem, normaliseDir } from './bundle-path.ts';
import type { RendererKind } from './renderer.ts';

// `spec.kustomize` in bundle.yaml (DESIGN.md §4b): a kustomization inside the bundle. The
// bundle's files are copied into a scratch directory with `${params.…}` substituted (the plain
// renderer's rules), then `kustomize build` runs there, so transformers, name-hash suffixes and
// patches work as kustomize users expect. Rendering: kustomize-build.ts; which files are
// substituted: kustomize-substitution.ts; the paths a kustomization may name (no remote bases,
// nothing outside the bundle), checked at build and again at render: kustomize-paths.ts; build
// checks: kustomize-checks.ts. docs/renderers.md "Kustomize".

export interface KustomizeSpec {
  kind: 'kustomize';
  /** Bundle-relative directory holding the kustomization that is built. */
  path: string;
}

export const kustomizeRenderer: RendererKind<KustomizeSpec> = {
  kind: 'kustomize',
  schema: {
    type: 'object',
    required: ['path'],
    additionalProperties: false,
    description: 'Build a kustomization inside the bundle with `kustomize build`, after ${params.…} substitution in the bundle\'s files.',
    properties: {
      path: { $ref: '#/$defs/relativePath', description: 'The directory holding kustomization.yaml, relative to the bundle directory.' },
    },
  },
  parse(raw, pointer, report) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return void report({ pointer, message: 'spec.kustomize must be an object', rule: 'renderer' });
    const r = raw as Record<string, unknown>;
    const problems: Omit<Problem, 'file'>[] = [];
    const pathProblem = bundleDirProblem(r.path);
    if (pathProblem) problems.push({ pointer: `${pointer}/path`, message: `path ${pathProblem}`, rule: 'renderer' });
    for (const k of Object.keys(r).filter((k) => k !== 'path')) problems.push({ pointer: `${pointer}/${k}`, message: `unknown field ${k}`, rule: 'renderer' });
    problems.forEach((p) => report(p));
    if (problems.length) return undefined;
    return { kind: 'kustomize', path: normaliseDir(r.path as string) };
  },
  root: (spec) => spec.path,
  async check(spec, tree, rules) {
    const { checkKustomization } = await import('./kustomize-checks.ts');
    return checkKustomization(spec, tree, rules);
  },
  create(spec, options) {
    return {
      kind: 'kustomize',
      async identify() {
        const { kustomizeIdentity } = await import('./kustomize-build.ts');
        return kustomizeIdentity(options);
      },
      async render(tree, ctx) {
        const { kustomizeBuild } = await import('./kustomize-build.ts');
        return kustomizeBuild(spec, tree, ctx, options);
      },
    };
  },
};
