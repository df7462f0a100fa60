import { readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { PromoteError } from '../errors.ts';
import { BUNDLE_MAX_MANIFESTS_TOTAL_BYTES } from '../bundle/limits.ts';
import { manifestValues, parseManifest } from '../bundle/manifest-yaml.ts';
import { renderLimits, runBinary } from '../bundle/renderers/run-binary.ts';
import { withScratch } from '../bundle/renderers/scratch.ts';
import { splitYamlStream } from '../bundle/renderers/yaml-stream.ts';
import { describeObject, isDnsLabel, refOf, type ImportEnvironment, type ImportObject, type LeftOut } from './import-input.ts';

// The Helm source of `promote import`: one chart, a values file (or several, merged left to
// right as helm merges `-f a,b`) per environment. Each environment is what
// `helm template <release> <chart> --namespace <ns> --include-crds -f <values>…` prints — the real
// helm (PROMOTE_HELM, else helm on PATH), offline and bounded like every renderer
// (bundle/renderers/run-binary.ts), with HOME and helm's homes in a scratch directory so no
// repository, plugin or registry login of the user's takes part. Hooks and tests are left out as
// the helm renderer leaves them out (docs/renderers.md "Helm"): a bundle is what is applied, and
// helm's classification is kept — a document is a hook exactly when it has the helm.sh/hook
// annotation (helm's releaseutil.SortManifests) —, each named in the report.

export interface HelmSource {
  /** The chart directory, as given (relative to cwd). */
  chart: string;
  /** Release name per environment; default: the chart's name. */
  release?: Readonly<Record<string, string>>;
  /** Namespace per environment; default: `default`, as helm's. */
  namespace?: Readonly<Record<string, string>>;
}

export interface ValuesSpec {
  environment: string;
  /** Values files, as given (relative to cwd), merged in this order. */
  files: string[];
}

/** `values-prod.yaml` → prod, `staging.values.yaml` → staging; '' when the name says nothing (`values.yaml`). */
function environmentOf(file: string): string {
  const base = basename(file).replace(/\.(ya?ml|json)$/i, '');
  return base.replace(/^values[-_.]/i, '').replace(/[-_.]values$/i, '').replace(/^values$/i, '');
}

/** `prod=values.yaml,values-prod.yaml`, or `values-prod.yaml` (environment `prod`). */
export function parseValuesSource(arg: string): ValuesSpec {
  const eq = arg.indexOf('=');
  const named = eq > 0 && !arg.slice(0, eq).includes('/');
  const files = (named ? arg.slice(eq + 1) : arg).split(',').filter((f) => f !== '');
  if (files.length === 0) {
    throw new PromoteError('USAGE', `"${arg}" names no values file`, { outcome: 'usage', hint: 'with --helm, each argument is <env>=<values file>[,<values file>…], e.g. production=chart/values-prod.yaml' });
  }
  const environment = named ? arg.slice(0, eq) : environmentOf(files.at(-1)!);
  if (environment === '') {
    throw new PromoteError('IMPORT_ENVIRONMENT_NAME_INVALID', `${files.at(-1)} does not name its environment`, { outcome: 'usage', hint: `name it: staging=${arg}` });
  }
  return { environment, files };
}

/** `<value>` for every environment, or `<env>=<value>,…` (one per environment named). */
export function parsePerEnvironment(text: string, option: string, environments: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const set = (env: string, value: string) => Object.defineProperty(out, env, { value, enumerable: true, writable: true, configurable: true });
  if (!text.includes('=')) {
    for (const env of environments) set(env, text);
    return out;
  }
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const env = part.slice(0, eq);
    if (eq <= 0 || eq === part.length - 1) {
      throw new PromoteError('USAGE', `"${part}" in --${option} is not <environment>=<${option}>`, { outcome: 'usage', hint: `one ${option} for all (--${option} podinfo) or one per environment (--${option} staging=a,production=b)` });
    }
    if (!environments.includes(env)) {
      throw new PromoteError('USAGE', `--${option} names environment "${env}", which is not imported`, { outcome: 'usage', hint: `the environments are ${environments.join(', ')}` });
    }
    if (Object.hasOwn(out, env)) throw new PromoteError('USAGE', `--${option} gives environment "${env}" twice`, { outcome: 'usage', hint: `give each environment one ${option}` });
    set(env, part.slice(eq + 1));
  }
  return out;
}

/** helm's rule for a release name (pkg/chartutil ValidateReleaseName): a DNS subdomain of at most 53. */
const RELEASE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkNames(release: string, namespace: string, environment: string): void {
  if (!RELEASE_NAME.test(release) || release.length > 53) {
    throw new PromoteError('USAGE', `"${release}" (the release name of environment "${environment}") is not a helm release name`, { outcome: 'usage', hint: "lower-case letters, digits, '-' and '.', at most 53: --release podinfo" });
  }
  if (!isDnsLabel(namespace)) {
    throw new PromoteError('USAGE', `"${namespace}" (the namespace of environment "${environment}") is not a namespace`, { outcome: 'usage', hint: "a DNS label: lower-case letters, digits and '-', at most 63" });
  }
}

const shown = (p: string) => (isAbsolute(p) || p.startsWith('./') || p.startsWith('../') ? p : `./${p}`);

/** The chart's name (Chart.yaml `name`): the release name a team that runs `helm install <name> ./<chart>` uses. */
async function chartName(chart: string, cwd: string): Promise<string> {
  const dir = resolve(cwd, chart);
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new PromoteError('IMPORT_SOURCE_NOT_FOUND', `the chart ${chart} (--helm) does not exist`, { outcome: 'usage', hint: 'name the chart directory, the one holding Chart.yaml' });
  const text = info.isDirectory() ? await readFile(join(dir, 'Chart.yaml'), 'utf8').catch(() => undefined) : undefined;
  if (text === undefined) {
    throw new PromoteError('IMPORT_CHART_INVALID', `${chart} (--helm) is not a chart directory: it has no Chart.yaml`, { outcome: 'usage', hint: 'name the directory that holds Chart.yaml (a packed chart: unpack it first, helm pull --untar)' });
  }
  let name: unknown;
  try {
    name = (parse(text) as { name?: unknown } | null)?.name;
  } catch {
    name = undefined;
  }
  return typeof name === 'string' && name !== '' ? name : basename(dir);
}

function helmHook(value: Record<string, unknown>): string | undefined {
  const annotations = (value.metadata as { annotations?: unknown } | undefined)?.annotations;
  if (annotations === null || typeof annotations !== 'object') return undefined;
  const hook = (annotations as Record<string, unknown>)['helm.sh/hook'];
  return hook === undefined ? undefined : String(hook);
}

/** Renders every environment's values with the chart. Throws IMPORT_SOURCE_NOT_FOUND, IMPORT_CHART_INVALID, RENDER_* or RENDERER_MISSING. */
export async function readHelm(source: HelmSource, specs: readonly ValuesSpec[], options: { cwd: string; env: Readonly<Record<string, string | undefined>> }): Promise<ImportEnvironment[]> {
  const defaultRelease = await chartName(source.chart, options.cwd);
  for (const s of specs) {
    for (const f of s.files) {
      const info = await stat(resolve(options.cwd, f)).catch(() => undefined);
      if (!info?.isFile()) {
        throw new PromoteError('IMPORT_SOURCE_NOT_FOUND', `the values file ${f} (environment "${s.environment}") ${info ? 'is not a file' : 'does not exist'}`, { outcome: 'usage', hint: 'with --helm, each argument is <env>=<values file>[,…], relative to the current directory: production=podinfo/values-prod.yaml' });
      }
    }
    checkNames(source.release?.[s.environment] ?? defaultRelease, source.namespace?.[s.environment] ?? 'default', s.environment);
  }
  const { findHelm, helmEnv, SOURCE_HEADER } = await import('../bundle/renderers/helm-template.ts');
  const helm = findHelm({ env: options.env }, `helm (the source ${source.chart} is a chart)`);
  const limits = renderLimits({ env: options.env }, BUNDLE_MAX_MANIFESTS_TOTAL_BYTES);
  const out: ImportEnvironment[] = [];
  for (const s of specs) {
    const release = source.release?.[s.environment] ?? defaultRelease;
    const namespace = source.namespace?.[s.environment] ?? 'default';
    const what = `helm template of ${source.chart} for environment "${s.environment}" (${s.files.join(', ')})`;
    const args = ['template', release, shown(source.chart), '--namespace', namespace, '--include-crds', ...s.files.flatMap((f) => ['--values', shown(f)])];
    const stream = await withScratch((scratch) =>
      runBinary({
        binary: helm.path,
        args,
        // Paths as the user gave them, so helm's messages name their files.
        cwd: options.cwd,
        home: scratch.home,
        env: helmEnv(scratch.home),
        ...limits,
        what,
      }),
    );
    const objects: ImportObject[] = [];
    const leftOut: LeftOut[] = [];
    for (const doc of splitYamlStream(stream)) {
      const from = SOURCE_HEADER.exec(doc)?.[1] ?? what;
      const manifest = parseManifest(from, doc);
      const values = manifest.problems.length ? { problem: manifest.problems[0]! } : manifestValues(manifest);
      if ('problem' in values) {
        throw new PromoteError('IMPORT_SOURCE_INVALID', `${what} printed YAML promote cannot read: ${from}${values.problem.line === undefined ? '' : `:${values.problem.line}`}: ${values.problem.message}`, { outcome: 'verification', problems: [values.problem], hint: 'run the same helm template by hand to see its output; nothing was written' });
      }
      for (const v of values.values) {
        const value = v as Record<string, unknown>;
        const hook = value !== null && typeof value === 'object' ? helmHook(value) : undefined;
        const ref = hook === undefined ? undefined : refOf(value);
        if (hook !== undefined && ref && !('error' in ref)) {
          const test = hook.split(',').some((h) => h.trim() === 'test' || h.trim() === 'test-success');
          leftOut.push({
            source: from,
            object: describeObject(ref),
            reason: test ? 'a helm test, which a bundle does not apply (helm test runs it against a release)' : `a helm hook (${hook}), left out as the helm renderer leaves hooks out: run it as a step of your pipeline, or make it an ordinary object of the bundle`,
          });
        } else objects.push({ source: from, value });
      }
    }
    out.push({ name: s.environment, objects, ...(leftOut.length && { leftOut }) });
  }
  return out;
}
