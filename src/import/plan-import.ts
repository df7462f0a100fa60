import { PromoteError } from '../errors.ts';
import { secretsInValue } from '../bundle/secrets.ts';
import { emitManifest, type Binding } from './emit-manifest.ts';
import { checkEnvironments, describeObject, isDnsLabel, type ImportEnvironment, type ObjectRef } from './import-input.ts';
import { interpolation, isInterpolatable } from './interpolate.ts';
import { baseName, matchObjects, type MatchedObject } from './match-objects.ts';
import { parameterNames } from './parameter-names.ts';
import { bundleFile, environmentFile, GITIGNORE, pipelineFile } from './project-files.ts';
import { schemaPlan, type NamedParameter } from './schema-plan.ts';
import type { Parameter } from './share-parameters.ts';
import { shareParameters } from './share-parameters.ts';
import { walkObject, type Occurrence, type Template } from './walk-values.ts';

// The pure planner of `promote import` (issue 16), in the changesets style: environments' rendered
// objects in, the exact files of a promote project out, plus what a person must know about them.
// Nothing here touches the disk; write-plan.ts writes a plan, prove-import.ts checks it.

export interface ImportOptions {
  /** The bundle's and pipeline's name (a DNS label). */
  name: string;
  /** Cluster names per environment; default: one cluster `<env>-1` each. */
  clusters?: Readonly<Record<string, readonly string[]>>;
}

export interface PlannedFile {
  /** Relative to the output directory, '/'-separated. */
  path: string;
  content: string;
}

export interface ImportWarning {
  object?: string;
  pointer?: string;
  environments?: string[];
  message: string;
}

/** A difference promote could not express: the bundle renders it as in the first environment that has it. */
export interface InexpressibleDifference {
  object: string;
  pointer: string;
  reason: string;
}

/** A value the bundle leaves out on purpose (a secret); the proof does not count it as a difference. */
export interface WithheldValue {
  environment: string;
  object: ObjectRef;
  /** '' for the whole object. */
  pointer: string;
}

export interface PlannedParameter {
  name: string;
  /** `include` decides whether an object is rendered at all. */
  kind: 'value' | 'include';
  /** Where it is used: object and pointer. */
  used: { object: string; pointer: string }[];
  secret: boolean;
  /** A null drops the key. */
  nullable: boolean;
  default?: unknown;
}

export interface ImportPlan {
  name: string;
  /** Where the bundle is, relative to the output directory. */
  bundleDir: string;
  environments: string[];
  files: PlannedFile[];
  parameters: PlannedParameter[];
  warnings: ImportWarning[];
  inexpressible: InexpressibleDifference[];
  withheld: WithheldValue[];
}

function checkClusters(environments: readonly string[], clusters: ImportOptions['clusters']): string[][] {
  const given = clusters ?? {};
  for (const env of Object.keys(given)) {
    if (!environments.includes(env)) {
      throw new PromoteError('IMPORT_CLUSTERS_INVALID', `clusters are given for environment "${env}", which is not imported`, { outcome: 'usage', hint: `the environments are ${environments.join(', ')}` });
    }
  }
  const seen = new Set<string>();
  return environments.map((env) => {
    const list = given[env] ?? [`${env}-1`];
    for (const c of list) {
      if (!isDnsLabel(c) || seen.has(c)) {
        throw new PromoteError('IMPORT_CLUSTERS_INVALID', seen.has(c) ? `cluster "${c}" is given twice` : `"${c}" cannot name a cluster`, { outcome: 'usage', hint: 'cluster names are DNS labels, each used once: --clusters dev=dev-1,production=prod-eu-1' });
      }
      seen.add(c);
    }
    if (list.length === 0) throw new PromoteError('IMPORT_CLUSTERS_INVALID', `environment "${env}" is given no cluster`, { outcome: 'usage', hint: 'give each environment at least one cluster' });
    return [...list];
  });
}

/** A Kubernetes Secret with values: never in a bundle (bundle/secrets.ts refuses it), so left out. */
function secretWithValues(m: MatchedObject): boolean {
  return m.instances.some((x) => x !== undefined && secretsInValue(x.value).some((s) => s.pointer === '/data' || s.pointer === '/stringData'));
}

function fileNames(objects: readonly MatchedObject[], keep: readonly boolean[]): string[] {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'object';
  const base = objects.map((o) => `${clean(o.ref.kind)}-${clean(baseName(o))}`);
  const used = new Set<string>();
  return objects.map((o, i) => {
    if (!keep[i]) return '';
    let name = base[i]!;
    if (used.has(name) && o.ref.namespace) name = `${name}-${clean(o.ref.namespace)}`;
    for (let n = 2; used.has(name); n++) name = `${base[i]}-${n}`;
    used.add(name);
    return `manifests/${name}.yaml`;
  });
}

/**
 * What the sources rendered but the import leaves out (helm hooks and tests): one warning per
 * template and reason, naming its environments — per template, not per object, because a chart
 * may name its test pods at random (podinfo's randAlphaNum), so each render names them anew.
 */
function leftOutWarnings(input: readonly ImportEnvironment[]): ImportWarning[] {
  const byKey = new Map<string, { source: string; reason: string; objects: string[]; environments: string[] }>();
  for (const env of input) {
    for (const l of env.leftOut ?? []) {
      const key = JSON.stringify([l.source, l.reason]);
      const w = byKey.get(key) ?? { source: l.source, reason: l.reason, objects: [], environments: [] };
      if (!w.environments.includes(env.name)) w.environments.push(env.name);
      // The objects as the first environment that has the template names them.
      if (w.environments[0] === env.name) w.objects.push(l.object);
      byKey.set(key, w);
    }
  }
  return [...byKey.values()].map((w) => ({ environments: w.environments, message: `left out ${w.source} (${w.objects.join(', ')}): ${w.reason}` }));
}

const dnsName = (s: string) => s.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 253) || 'secret';
const secretKeyName = (s: string) => s.replace(/[^-._a-zA-Z0-9]+/g, '-').slice(0, 253) || 'value';

export function planImport(input: readonly ImportEnvironment[], options: ImportOptions): ImportPlan {
  if (!isDnsLabel(options.name)) {
    throw new PromoteError('IMPORT_NAME_INVALID', `"${options.name}" cannot name a bundle and pipeline`, { outcome: 'usage', hint: 'use lower-case letters, digits and "-" (at most 63), e.g. --name webapp' });
  }
  const envs = checkEnvironments(input);
  const envNames = envs.map((e) => e.name);
  const clusters = checkClusters(envNames, options.clusters);
  const objects = matchObjects(envs);
  const warnings: ImportWarning[] = leftOutWarnings(input);
  const inexpressible: InexpressibleDifference[] = [];
  const withheld: WithheldValue[] = [];
  const occurrences: Occurrence[] = [];
  const templates: (Template | undefined)[] = [];
  const presentIn = (m: MatchedObject) => m.instances.flatMap((x, e) => (x ? [e] : []));

  objects.forEach((m, index) => {
    const present = presentIn(m);
    if (secretWithValues(m)) {
      for (const e of present) withheld.push({ environment: envNames[e]!, object: m.instances[e]!.ref, pointer: '' });
      warnings.push({ object: describeObject(m.ref), environments: present.map((e) => envNames[e]!), message: 'a Secret with values is left out of the bundle (a bundle is pushed, copied and kept for ever): create it in each cluster from a secret store (External Secrets Operator), Sealed Secrets or SOPS' });
      templates.push(undefined);
      return;
    }
    const walked = walkObject(index, present, envs.length, present.map((e) => m.instances[e]!.value), occurrences);
    templates.push(walked.template);
    for (const x of walked.inexpressible) inexpressible.push({ object: describeObject(m.ref), ...x });
  });

  const parameters: Parameter[] = shareParameters(occurrences, objects);
  objects.forEach((m, index) => {
    if (templates[index] && m.instances.some((x) => x === undefined)) {
      parameters.push({ kind: 'include', occurrences: [], object: index, values: m.instances.map((x) => x !== undefined), nullable: false });
    }
  });
  const names = parameterNames(parameters, occurrences, objects);
  objects.forEach((m, index) => {
    if (!m.hashedName) return;
    const present = presentIn(m);
    const p = parameters.findIndex((x) => x.role === `name:${index}`);
    const refs = p < 0 ? 0 : parameters[p]!.occurrences.filter((o) => occurrences[o]!.object !== index).length;
    warnings.push({
      object: describeObject(m.ref),
      pointer: '/metadata/name',
      environments: present.map((e) => envNames[e]!),
      message: `its name ends in kustomize's content hash, which differs between environments (${present.map((e) => m.instances[e]!.ref.name).join(', ')}): the name is parameter ${p < 0 ? '(none)' : names[p]} now${refs ? ` (also in the ${refs === 1 ? 'place that refers' : `${refs} places that refer`} to it)` : ''} and no longer follows the content, so a change of content no longer rolls out what uses it: give it a new name in the environment when you change the content, or drop the hash (generatorOptions.disableNameSuffixHash)`,
    });
  });

  // Bindings: each occurrence is its parameter, or text around a shared one (interpolate.ts).
  const bindings: Binding[] = new Array(occurrences.length);
  const absorbed = new Set<number>();
  const shared = parameters.map((p, i) => ({ p, i })).filter(({ p }) => isInterpolatable(p));
  parameters.forEach((p, i) => {
    for (const o of p.occurrences) bindings[o] = { param: names[i]! };
    if (p.kind !== 'value' || p.role !== undefined || p.nullable || p.secret || p.occurrences.length !== 1) return;
    for (const s of shared) {
      const pieces = interpolation(p.values, s.p.values);
      if (!pieces) continue;
      const parts: (string | { param: string })[] = [];
      pieces.forEach((piece, k) => {
        if (k > 0) parts.push({ param: names[s.i]! });
        if (piece !== '') parts.push(piece);
      });
      bindings[p.occurrences[0]!] = { parts };
      absorbed.add(i);
      return;
    }
  });

  const named: NamedParameter[] = [];
  parameters.forEach((p, i) => {
    if (absorbed.has(i)) return;
    const m = objects[p.object]!;
    const first = p.occurrences.length ? occurrences[p.occurrences[0]!]! : undefined;
    const description =
      p.kind === 'include'
        ? `Whether ${describeObject(m.ref)} is rendered (imported from ${presentIn(m).map((e) => envNames[e]).join(', ')}).`
        : `${describeObject(m.ref)} ${first!.pointer}${p.occurrences.length > 1 ? ` and ${p.occurrences.length - 1} more place${p.occurrences.length === 2 ? '' : 's'}` : ''}${p.nullable ? ' (null: the key is left out)' : ''}.`;
    const secretRef = p.secret ? { name: dnsName(m.ref.name), key: secretKeyName(p.secret.key ?? names[i]!.split('.').at(-1)!) } : undefined;
    named.push({ name: names[i]!, parameter: p, description, ...(secretRef && { secretRef }) });
    if (p.secret && secretRef) {
      warnings.push({
        object: describeObject(m.ref),
        pointer: p.secret.pointer,
        environments: presentIn(m).map((e) => envNames[e]!),
        message: `looks secret (${p.secret.reason}): it is parameter ${names[i]}, a {secretRef} (environment files name Secret "${secretRef.name}", key "${secretRef.key}", to create in each cluster); the rendered manifest holds that reference, not the value: use it through valueFrom.secretKeyRef or a secret store`,
      });
      for (const o of p.occurrences) {
        const occ = occurrences[o]!;
        presentIn(m).forEach((e) => withheld.push({ environment: envNames[e]!, object: m.instances[e]!.ref, pointer: occ.pointer }));
      }
    }
  });
  const plan = schemaPlan(`${options.name} parameters`, named, envs.length);

  const bundleDir = `bundles/${options.name}`;
  const files: PlannedFile[] = [];
  const sources = [...new Set(envs.map((e) => e.name))].join(', ');
  files.push({ path: `${bundleDir}/bundle.yaml`, content: bundleFile(options.name, sources) });
  files.push({ path: `${bundleDir}/params.schema.json`, content: `${JSON.stringify(plan.schema, null, 2)}\n` });
  const paths = fileNames(objects, templates.map((t) => t !== undefined));
  objects.forEach((m, index) => {
    const template = templates[index];
    if (!template) return;
    const include = parameters.findIndex((p) => p.kind === 'include' && p.object === index);
    const where = presentIn(m).map((e) => envNames[e]).join(', ');
    const emitted = emitManifest(template, bindings, include < 0 ? {} : { include: names[include]!, comment: ` Only in ${where} when imported: rendered where ${names[include]} is true.` });
    if (emitted.problem) inexpressible.push({ object: describeObject(m.ref), pointer: '/metadata/annotations', reason: `cannot be made conditional: ${emitted.problem}` });
    files.push({ path: `${bundleDir}/${paths[index]}`, content: emitted.text });
  });
  envs.forEach((env, e) => files.push({ path: `environments/${env.name}.yaml`, content: environmentFile(env.name, plan.values[e]!, clusters[e]!) }));
  files.push({ path: `pipelines/${options.name}.yaml`, content: pipelineFile(options.name, envNames) });
  files.push({ path: '.gitignore', content: GITIGNORE });

  return {
    name: options.name,
    bundleDir,
    environments: envNames,
    files,
    parameters: named.map((np) => ({
      name: np.name,
      kind: np.parameter.kind,
      used: np.parameter.occurrences.map((o) => ({ object: describeObject(objects[occurrences[o]!.object]!.ref), pointer: occurrences[o]!.pointer })),
      secret: np.parameter.secret !== undefined,
      nullable: np.parameter.nullable,
      ...(plan.defaults.has(np.name) && { default: plan.defaults.get(np.name) }),
    })),
    warnings,
    inexpressible,
    withheld,
  };
}
