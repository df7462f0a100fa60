import { basename, resolve } from 'node:path';
import { PromoteError, wrapError } from '../errors.ts';
import type { EnvironmentComparison } from './compare-objects.ts';
import type { ImportEnvironment } from './import-input.ts';
import { planImport, type ImportPlan } from './plan-import.ts';
import { proveImport } from './prove-import.ts';
import { parseSource, readSource } from './read-source.ts';
import { writeImportPlan } from './write-plan.ts';

// `promote import` as one library call: read every source (nothing is written unless all of them
// render), plan, write the project into --out (all or nothing), then prove it — render what was
// written for each environment and compare with what its source rendered.

export interface ImportProjectOptions {
  /** `[<env>=]<path>`, in pipeline order (read-source.ts); with `helm`, `[<env>=]<values file>[,…]` (read-helm.ts). */
  sources: readonly string[];
  /** The sources are values files of this chart. */
  helm?: {
    chart: string;
    /** `<name>`, or `<env>=<name>,…` (default: the chart's name). */
    release?: string;
    /** `<namespace>`, or `<env>=<namespace>,…` (default: `default`). */
    namespace?: string;
  };
  out: string;
  /** Bundle and pipeline name; default: --out's last component, made a DNS label. */
  name?: string;
  /** `env=cluster,…` (an environment named more than once gets each cluster). */
  clusters?: string;
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
}

export interface ImportReport {
  out: string;
  name: string;
  bundle: string;
  environments: string[];
  files: string[];
  parameters: ImportPlan['parameters'];
  warnings: ImportPlan['warnings'];
  inexpressible: ImportPlan['inexpressible'];
  proof: EnvironmentComparison[];
  /** Every environment renders what its source did (withheld secrets aside). */
  equivalent: boolean;
}

export function defaultName(out: string): string {
  const base = basename(resolve(out)).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(base) ? base : 'app';
}

/** `dev=dev-1,production=prod-eu-1,production=prod-us-1` → {dev: [dev-1], production: [prod-eu-1, prod-us-1]}. */
export function parseClusters(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) {
      throw new PromoteError('IMPORT_CLUSTERS_INVALID', `"${part}" in --clusters is not <environment>=<cluster>`, { outcome: 'usage', hint: 'e.g. --clusters dev=dev-1,production=prod-eu-1,production=prod-us-1' });
    }
    const env = part.slice(0, eq);
    Object.defineProperty(out, env, { value: [...(Object.hasOwn(out, env) ? out[env]! : []), part.slice(eq + 1)], enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Two sources of one environment are refused before anything renders. */
function checkDistinct(specs: readonly { environment: string; shown: string }[]): void {
  const seen = new Map<string, string>();
  for (const s of specs) {
    const first = seen.get(s.environment);
    if (first !== undefined) {
      throw new PromoteError('IMPORT_ENVIRONMENT_DUPLICATE', `the sources ${first} and ${s.shown} are both environment "${s.environment}"`, { outcome: 'usage', hint: `name them apart: ${s.environment}-a=${first} ${s.environment}-b=${s.shown}` });
    }
    seen.set(s.environment, s.shown);
  }
}

/** A renderer's failure, with a hint about the user's source rather than a bundle's (the renderer's own hint speaks of bundles). */
function sourceFailure(err: unknown, context: string | undefined, hint: string): PromoteError {
  const wrapped = context === undefined ? (err instanceof PromoteError ? err : wrapError(err, 'import')) : wrapError(err, context);
  if (wrapped.code !== 'RENDER_FAILED' && wrapped.code !== 'RENDER_TIMEOUT') return wrapped;
  return new PromoteError(wrapped.code, wrapped.message, { cause: err, outcome: wrapped.outcome, hint, problems: wrapped.problems });
}

async function readSources(options: ImportProjectOptions): Promise<ImportEnvironment[]> {
  const specs = options.sources.map(parseSource);
  checkDistinct(specs.map((s) => ({ environment: s.environment, shown: s.path })));
  const environments: ImportEnvironment[] = [];
  for (const s of specs) {
    try {
      environments.push(await readSource(s, { cwd: options.cwd, env: options.env }));
    } catch (err) {
      throw sourceFailure(err, `environment "${s.environment}" (${s.path})`, `fix the source so that \`kustomize build ${s.path}\` works on its own (the message above is kustomize's); nothing was written`);
    }
  }
  return environments;
}

async function readHelmSources(options: ImportProjectOptions, helm: NonNullable<ImportProjectOptions['helm']>): Promise<ImportEnvironment[]> {
  const { parsePerEnvironment, parseValuesSource, readHelm } = await import('./read-helm.ts');
  const specs = options.sources.map(parseValuesSource);
  checkDistinct(specs.map((s) => ({ environment: s.environment, shown: s.files.join(',') })));
  const names = specs.map((s) => s.environment);
  const source = {
    chart: helm.chart,
    ...(helm.release !== undefined && { release: parsePerEnvironment(helm.release, 'release', names) }),
    ...(helm.namespace !== undefined && { namespace: parsePerEnvironment(helm.namespace, 'namespace', names) }),
  };
  try {
    return await readHelm(source, specs, { cwd: options.cwd, env: options.env });
  } catch (err) {
    throw sourceFailure(err, undefined, `fix the chart or the values file so that \`helm template\` works on its own (the message above is helm's); nothing was written`);
  }
}

export async function importProject(options: ImportProjectOptions): Promise<ImportReport> {
  if (options.sources.length === 0) {
    throw new PromoteError('IMPORT_NO_ENVIRONMENTS', 'nothing to import: no source was given', { outcome: 'usage', hint: 'name one source per environment, in pipeline order: promote import overlays/dev overlays/staging overlays/production --out webapp' });
  }
  const environments = options.helm ? await readHelmSources(options, options.helm) : await readSources(options);
  const out = resolve(options.cwd, options.out);
  const name = options.name ?? defaultName(out);
  const plan = planImport(environments, { name, ...(options.clusters !== undefined && { clusters: parseClusters(options.clusters) }) });
  const files = await writeImportPlan(plan, out);
  const proof = await proveImport(out, plan, environments);
  return {
    out,
    name,
    bundle: plan.bundleDir,
    environments: plan.environments,
    files,
    parameters: plan.parameters,
    warnings: plan.warnings,
    inexpressible: plan.inexpressible,
    proof: proof.environments,
    equivalent: proof.equivalent,
  };
}
