import type { Problem } from '../../errors.ts';
import { bundleDirProblem, normaliseDir } from './bundle-path.ts';
import type { RendererKind } from './renderer.ts';

// `spec.helm` in bundle.yaml (DESIGN.md §4b): a chart directory inside the bundle, rendered with
// `helm template`. An environment's parameters are the chart's values; the release name and
// namespace may reference parameters and built-ins. Rendering: helm-template.ts; build checks
// (dependencies vendored under charts/): helm-checks.ts. docs/renderers.md.

export interface HelmSpec {
  kind: 'helm';
  /** Bundle-relative chart directory (holding Chart.yaml). */
  chart: string;
  /** Default: the bundle's name. May hold `${params.…}` / `${promote.…}`. */
  releaseName?: string;
  /** Default: `default`, as helm's. May hold references. */
  namespace?: string;
  /** Hook objects (`helm.sh/hook`): left out (`skip`, the default) or applied as ordinary objects. Tests are always left out. */
  hooks: 'skip' | 'include';
}

const TEMPLATED = { type: 'string', minLength: 1, maxLength: 253 };

export const helmRenderer: RendererKind<HelmSpec> = {
  kind: 'helm',
  schema: {
    type: 'object',
    required: ['chart'],
    additionalProperties: false,
    description: 'Render a Helm chart inside the bundle with `helm template`; the parameters are the chart\'s values.',
    properties: {
      chart: { $ref: '#/$defs/relativePath', description: 'The chart directory (holding Chart.yaml), relative to the bundle directory.' },
      releaseName: { ...TEMPLATED, description: 'The release name (default: the bundle name); ${params.…} and ${promote.…} allowed.' },
      namespace: { ...TEMPLATED, description: 'The release namespace (default: default); ${params.…} and ${promote.…} allowed.' },
      hooks: { enum: ['skip', 'include'], default: 'skip', description: 'Hook objects: left out (skip) or applied as ordinary objects (include). Chart tests are always left out.' },
    },
  },
  parse(raw, pointer, report) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return void report({ pointer, message: 'spec.helm must be an object', rule: 'renderer' });
    const r = raw as Record<string, unknown>;
    const problems: Omit<Problem, 'file'>[] = [];
    const chartProblem = bundleDirProblem(r.chart);
    if (chartProblem) problems.push({ pointer: `${pointer}/chart`, message: `chart ${chartProblem}`, rule: 'renderer' });
    for (const key of ['releaseName', 'namespace'] as const) {
      if (r[key] !== undefined && (typeof r[key] !== 'string' || r[key] === '')) problems.push({ pointer: `${pointer}/${key}`, message: `${key} must be a non-empty string`, rule: 'renderer' });
    }
    if (r.hooks !== undefined && r.hooks !== 'skip' && r.hooks !== 'include') problems.push({ pointer: `${pointer}/hooks`, message: 'hooks must be skip or include', rule: 'renderer' });
    const unknown = Object.keys(r).filter((k) => !['chart', 'releaseName', 'namespace', 'hooks'].includes(k));
    for (const k of unknown) problems.push({ pointer: `${pointer}/${k}`, message: `unknown field ${k}`, rule: 'renderer' });
    problems.forEach((p) => report(p));
    if (problems.length) return undefined;
    return {
      kind: 'helm',
      chart: normaliseDir(r.chart as string),
      ...(r.releaseName !== undefined && { releaseName: r.releaseName as string }),
      ...(r.namespace !== undefined && { namespace: r.namespace as string }),
      hooks: (r.hooks as 'skip' | 'include' | undefined) ?? 'skip',
    };
  },
  root: (spec) => spec.chart,
  async check(spec, tree) {
    const { checkChart } = await import('./helm-checks.ts');
    return checkChart(spec, tree);
  },
  create(spec, options) {
    return {
      kind: 'helm',
      async identify() {
        const { helmIdentity } = await import('./helm-template.ts');
        return helmIdentity(options);
      },
      async render(tree, ctx) {
        const { helmTemplate } = await import('./helm-template.ts');
        return helmTemplate(spec, tree, ctx, options);
      },
    };
  },
};
