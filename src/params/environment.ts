import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PromoteError, type Problem } from '../errors.ts';
import { readYamlFile, type ParsedDocument } from './document.ts';
import type { DocumentLimits } from './limits.ts';
import { validateProjectDocument } from './project-schemas.ts';

// An environment: `environments/<name>.yaml`, a named set of parameter values plus the clusters
// that belong to it (DESIGN.md §4). Loading checks the document's own shape (schemas/
// environment.schema.json); the parameter values are checked against a bundle's parameter
// schema separately (parameters.ts), because one environment file serves every bundle version.

export interface EnvironmentCluster {
  name: string;
  /** Per-cluster overrides, deep-merged over the environment's parameters. */
  parameters?: Record<string, unknown>;
}

export interface Environment {
  name: string;
  file: string;
  parameters: Record<string, unknown>;
  clusters: EnvironmentCluster[];
  /** The parsed source, for placing problems at file:line:column. */
  document: ParsedDocument;
}

export const ENVIRONMENTS_DIR = 'environments';

/** Where a new environment file goes; an existing one may be `<name>.yml` instead (environmentFile). */
function environmentPath(root: string, name: string): string {
  return join(root, ENVIRONMENTS_DIR, `${name}.yaml`);
}

const EXTENSION = /\.ya?ml$/;

/**
 * The file of environment `name`: `<name>.yaml` or `<name>.yml`, as pipelines accept both. When
 * neither exists, the `.yaml` path (loading it then reports DOCUMENT_NOT_FOUND); both at once is
 * refused, since they would silently disagree.
 */
export async function environmentFile(root: string, name: string): Promise<string> {
  const present = await environmentFiles(root);
  const found = present.filter((f) => f.replace(EXTENSION, '') === name);
  if (found.length > 1) {
    throw new PromoteError('ENVIRONMENT_AMBIGUOUS', `environment "${name}" has two files: ${found.map((f) => join(ENVIRONMENTS_DIR, f)).join(' and ')}`, {
      outcome: 'usage',
      hint: 'keep one of them',
      details: { environment: name },
    });
  }
  return found.length ? join(root, ENVIRONMENTS_DIR, found[0]!) : environmentPath(root, name);
}

async function environmentFiles(root: string): Promise<string[]> {
  try {
    return (await readdir(join(root, ENVIRONMENTS_DIR))).filter((f) => EXTENSION.test(f)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

function refuse(file: string, problems: Problem[], message: string): PromoteError {
  return new PromoteError('ENVIRONMENT_INVALID', message, { outcome: 'verification', problems, hint: 'fix every problem listed', details: { file } });
}

/** Loads and checks one environment file (shape, name = file name, unique cluster names). */
export async function loadEnvironmentFile(file: string, limits?: DocumentLimits): Promise<Environment> {
  const doc = await readYamlFile(file, limits);
  validateProjectDocument('environment', doc);
  const value = doc.value as { metadata: { name: string }; spec: { parameters: Record<string, unknown>; clusters: EnvironmentCluster[] } };
  const problems: Problem[] = [];
  const expectedName = basename(file).replace(EXTENSION, '');
  if (value.metadata.name !== expectedName) {
    problems.push({ file, ...doc.locate('/metadata/name'), pointer: '/metadata/name', rule: 'file-name', message: 'the environment name must match its file name', expected: JSON.stringify(expectedName), actual: JSON.stringify(value.metadata.name), hint: `rename the file to ${value.metadata.name}.yaml or set metadata.name: ${expectedName}` });
  }
  const seen = new Map<string, number>();
  value.spec.clusters.forEach((c, i) => {
    const first = seen.get(c.name);
    if (first !== undefined) {
      problems.push({ file, ...doc.locate(`/spec/clusters/${i}/name`), pointer: `/spec/clusters/${i}/name`, rule: 'unique-cluster', message: `cluster "${c.name}" is listed twice`, expected: 'unique cluster names', actual: `also at /spec/clusters/${first}`, hint: 'merge the two entries' });
    } else seen.set(c.name, i);
  });
  if (problems.length) throw refuse(file, problems, `environment ${file} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'})`);
  return { name: value.metadata.name, file, parameters: value.spec.parameters, clusters: value.spec.clusters, document: doc };
}

/** Loads `environments/<name>.yaml` under `root`. */
export async function loadEnvironment(root: string, name: string, limits?: DocumentLimits): Promise<Environment> {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    throw new PromoteError('USAGE', `"${name}" is not an environment name`, { outcome: 'usage', hint: 'environment names are DNS labels: lower-case letters, digits and "-" (the file is environments/<name>.yaml)' });
  }
  try {
    return await loadEnvironmentFile(await environmentFile(root, name), limits);
  } catch (err) {
    if (err instanceof PromoteError && err.code === 'DOCUMENT_NOT_FOUND') {
      const known = await listEnvironments(root);
      throw new PromoteError('ENVIRONMENT_NOT_FOUND', `environment "${name}" not found: ${environmentPath(root, name)} does not exist`, {
        cause: err,
        hint: known.length ? `known environments: ${known.join(', ')}` : `create ${environmentPath(root, name)} (apiVersion: promote/v1, kind: Environment)`,
        details: { environment: name, known },
      });
    }
    throw err;
  }
}

/** Names of the environments under `root`/environments (`.yaml` and `.yml` files), sorted. */
export async function listEnvironments(root: string): Promise<string[]> {
  return [...new Set((await environmentFiles(root)).map((f) => f.replace(EXTENSION, '')))].sort();
}
