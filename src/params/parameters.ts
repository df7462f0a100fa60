import { PromoteError, type Problem } from '../errors.ts';
import type { Position } from './document.ts';
import type { Environment } from './environment.ts';
import { deepMerge } from './merge.ts';
import type { ParameterSchema } from './parameter-schema.ts';
import { pointerSegments } from './pointer.ts';
import { schemaProblems } from './schema-problems.ts';

// Resolving the parameters a stage runs with: the environment's values, deep-merged with one
// cluster's overrides, validated as a whole against the bundle's parameter schema, with the
// schema's defaults filled in (so they show up in what is rendered). Problems point into the
// environment file at the place the offending value was written — the cluster override if it
// came from there, the environment's parameters otherwise.

export interface ResolvedParameters {
  environment: string;
  /** The cluster whose overrides were merged in, if any. */
  cluster?: string;
  /** Complete, valid parameter values, defaults applied. Secrets are {secretRef} references. */
  values: Record<string, unknown>;
  /** Dotted paths of the values that came from the schema's defaults, not from the file. */
  defaults: string[];
}

/** Leaf paths of a value: `a.b` for {a: {b: 1}}; an empty object or a list is one leaf. */
export function leafPaths(value: unknown, prefix = '', out: string[] = []): string[] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) leafPaths(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out.push(prefix);
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function has(value: unknown, segments: string[]): boolean {
  let cur = value;
  for (const s of segments) {
    if (Array.isArray(cur) && /^\d+$/.test(s) && Number(s) < cur.length) cur = cur[Number(s)];
    else if (isObject(cur) && Object.hasOwn(cur, s)) cur = cur[s];
    else return false;
  }
  return true;
}

/** Maps a pointer into the parameter values to where it was written in the environment file. */
function documentPointer(env: Environment, clusterIndex: number | undefined, paramPointer: string): string {
  const segments = pointerSegments(paramPointer);
  if (clusterIndex !== undefined) {
    const override = env.clusters[clusterIndex]?.parameters;
    // The longest prefix the override wrote decides: a value set by the cluster is the cluster's.
    for (let n = segments.length; n > 0; n--) {
      if (has(override, segments.slice(0, n))) return `/spec/clusters/${clusterIndex}/parameters${paramPointer}`;
    }
  }
  return `/spec/parameters${paramPointer}`;
}

function problemsFor(env: Environment, schema: ParameterSchema, clusterIndex: number | undefined, errors: NonNullable<ParameterSchema['validate']['errors']>): Problem[] {
  const doc = env.document;
  const mapped = {
    file: doc.file,
    value: undefined,
    locate: (p: string): Position | undefined => doc.locate(documentPointer(env, clusterIndex, p)),
    locateKey: (p: string): Position | undefined => doc.locateKey(documentPointer(env, clusterIndex, p)),
  };
  return schemaProblems(errors, mapped, schema.effective).map((p) => {
    const pointer = documentPointer(env, clusterIndex, p.pointer ?? '');
    return {
      ...p,
      pointer,
      ...(p.rule === 'required' && { hint: p.hint ?? `set it under ${clusterIndex === undefined ? '' : `/spec/clusters/${clusterIndex}/parameters or `}/spec/parameters` }),
    };
  });
}

function check(env: Environment, schema: ParameterSchema, clusterIndex: number | undefined): { values: Record<string, unknown>; defaults: string[]; problems: Problem[] } {
  const base = env.parameters;
  const override = clusterIndex === undefined ? undefined : env.clusters[clusterIndex]?.parameters;
  const values = (override === undefined ? structuredClone(base) : deepMerge(base, override)) as Record<string, unknown>;
  const given = new Set(leafPaths(values));
  const valid = schema.validate(values);
  const defaults = leafPaths(values).filter((p) => !given.has(p));
  if (valid) return { values, defaults, problems: [] };
  return { values, defaults, problems: problemsFor(env, schema, clusterIndex, schema.validate.errors ?? []) };
}

function invalid(env: Environment, schema: ParameterSchema, problems: Problem[], cluster?: string): PromoteError {
  const n = problems.length;
  const scope = cluster ? `environment "${env.name}", cluster "${cluster}"` : `environment "${env.name}"`;
  return new PromoteError('PARAMETERS_INVALID', `parameters of ${scope} (${env.file}) do not satisfy ${schema.source}: ${n} problem${n === 1 ? '' : 's'}`, {
    outcome: 'verification',
    problems,
    hint: 'fix every problem listed; the bundle\'s parameter schema is the contract every environment must meet',
    details: { environment: env.name, ...(cluster && { cluster }), schema: schema.source },
  });
}

function clusterIndexOf(env: Environment, cluster: string): number {
  const i = env.clusters.findIndex((c) => c.name === cluster);
  if (i < 0) {
    const known = env.clusters.map((c) => c.name);
    throw new PromoteError('CLUSTER_NOT_FOUND', `environment "${env.name}" has no cluster "${cluster}"`, {
      outcome: 'usage',
      hint: known.length ? `its clusters: ${known.join(', ')} (${env.file})` : `${env.file} lists no clusters; add one under spec.clusters or omit --cluster`,
      details: { environment: env.name, cluster, known },
    });
  }
  return i;
}

/**
 * The parameters one cluster of an environment runs with (or the environment's own, without a
 * cluster): merged, validated as a whole, defaults applied. Throws PARAMETERS_INVALID (exit 4)
 * with every problem placed in the environment file.
 */
export function resolveParameters(env: Environment, schema: ParameterSchema, cluster?: string): ResolvedParameters {
  const index = cluster === undefined ? undefined : clusterIndexOf(env, cluster);
  const { values, defaults, problems } = check(env, schema, index);
  if (problems.length) throw invalid(env, schema, problems, cluster);
  return { environment: env.name, ...(cluster !== undefined && { cluster }), values, defaults };
}

/**
 * Every problem of an environment against a schema, without throwing: the environment's own
 * parameters when it lists no clusters, else each cluster's merged parameters (duplicates, i.e.
 * the same mistake seen through several clusters, are reported once).
 */
export function environmentProblems(env: Environment, schema: ParameterSchema): Problem[] {
  const runs = env.clusters.length ? env.clusters.map((_, i) => check(env, schema, i)) : [check(env, schema, undefined)];
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const { problems } of runs) {
    for (const p of problems) {
      const key = `${p.line}:${p.column}|${p.pointer}|${p.rule}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(p);
    }
  }
  return out;
}
