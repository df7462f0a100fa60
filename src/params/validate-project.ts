import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isPromoteError, PromoteError, type Problem } from '../errors.ts';
import { environmentPath, listEnvironments, loadEnvironmentFile, type Environment } from './environment.ts';
import { parameterSchema, type ParameterSchema } from './parameter-schema.ts';
import { environmentProblems } from './parameters.ts';

// `promote validate`: every document of a project checked at once — pipelines (their schema and
// graph, by the pipeline loader), environments (their schema), every environment's parameters
// (and each cluster's merged overrides) against the bundle's parameter schema, and the bundle's
// build-time checks (references declared, no Secret values). One run lists every problem found,
// so a CI log shows all of them, not the first.

export interface ValidateProjectOptions {
  /** Project root holding pipelines/ and environments/. */
  root: string;
  /** The bundle directory (default: the root when it holds bundle.yaml). */
  bundleDir?: string;
  /** Only this environment (default: all). */
  environment?: string;
}

export interface ValidationReport {
  root: string;
  bundle?: { dir: string; name: string; schema: string };
  pipelines: string[];
  environments: { name: string; file: string; clusters: string[]; parametersChecked: boolean }[];
  /** Notes for humans (what was not checked, and why). */
  notes: string[];
  /** Valid, but weaker than it looks (e.g. an agent key that may report for every cluster). */
  warnings: string[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The project's bundle when it keeps exactly one under bundles/<name>/ (the layout `promote init` makes). */
async function onlyBundleUnder(dir: string): Promise<string | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const found: string[] = [];
  for (const n of names) if (await exists(join(dir, n, 'bundle.yaml'))) found.push(join(dir, n));
  return found.length === 1 ? found[0] : undefined;
}

function asProblems(err: unknown, file: string): Problem[] {
  if (isPromoteError(err)) {
    if (err.problems.length) return err.problems.map((p) => ({ ...p, file: p.file ?? file }));
    return [{ file, message: err.message, ...(err.hint && { hint: err.hint }), rule: err.code }];
  }
  throw err;
}

/**
 * A trust.agents entry without clusters/stages is a fleet-wide key: whoever holds it (any one
 * agent, on any one cluster) can sign "Converged" for every cluster of every stage.
 */
type AgentEntry = ({ key: string } | { keyless: { subject?: string; subjectRegExp?: string } }) & { clusters?: string[]; stages?: string[] };

function agentKeyWarnings(pipeline: { trust: { agents: AgentEntry[] } }, file: string, out: string[]): void {
  pipeline.trust.agents.forEach((a, i) => {
    if (a.clusters || a.stages) return;
    const who = 'key' in a ? a.key : `keyless ${a.keyless.subject ?? a.keyless.subjectRegExp ?? ''}`;
    out.push(`${file}: trust.agents[${i}] (${who}) is not bound to clusters or stages: any agent holding it can vouch for every cluster; give each agent its own key, e.g. {key: keys/dev-1.pub, clusters: [dev-1]}`);
  });
}

export async function validateProject(options: ValidateProjectOptions): Promise<ValidationReport> {
  // Paths in problems stay as the user spelt the root, so `promote validate` in a project prints
  // environments/dev.yaml:3:5 rather than an absolute path.
  const root = options.root;
  const problems: Problem[] = [];
  const report: ValidationReport = { root: resolve(root), pipelines: [], environments: [], notes: [], warnings: [] };

  // The bundle first: its schema is what environments are checked against.
  const bundleDir = options.bundleDir ? options.bundleDir : (await exists(join(root, 'bundle.yaml'))) ? root : await onlyBundleUnder(join(root, 'bundles'));
  let schema: ParameterSchema | undefined;
  if (bundleDir) {
    try {
      const { readBundleSources } = await import('../bundle/sources.ts');
      const { referenceProblems } = await import('../bundle/references.ts');
      const { secretObjectProblems } = await import('../bundle/secrets.ts');
      const { bundle, files } = await readBundleSources(bundleDir);
      schema = parameterSchema(bundle.parameterSchema, join(bundleDir, bundle.spec.parameters));
      report.bundle = { dir: bundleDir, name: bundle.spec.name, schema: schema.source };
      const layout = { manifests: bundle.spec.manifests, ...(bundle.spec.files !== undefined && { files: bundle.spec.files }) };
      problems.push(...referenceProblems(files, layout, schema.effective).map((p) => ({ ...p, file: join(bundleDir, p.file ?? '') })));
      if (!bundle.spec.allowSecrets) problems.push(...secretObjectProblems(files, layout).map((p) => ({ ...p, file: join(bundleDir, p.file ?? ''), hint: 'keep secret values out of the bundle (secret store / External Secrets, Sealed Secrets, SOPS), or set spec.allowSecrets: true' })));
    } catch (err) {
      problems.push(...asProblems(err, join(bundleDir, 'bundle.yaml')));
    }
  } else {
    report.notes.push(`no bundle.yaml in ${root} or one bundles/<name>/ (pass --bundle <dir>): environment parameters were checked for shape only, not against a parameter schema`);
  }

  // Pipelines, by the pipeline loader (schema, stage graph, environments that exist).
  const pipelineDir = join(root, 'pipelines');
  let pipelineFiles: string[] = [];
  try {
    pipelineFiles = (await readdir(pipelineDir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch {
    report.notes.push(`no pipelines/ in ${root}`);
  }
  if (pipelineFiles.length) {
    const { loadPipeline } = await import('../pipeline/load.ts');
    for (const f of pipelineFiles) {
      const file = join(pipelineDir, f);
      try {
        const pipeline = await loadPipeline(file);
        agentKeyWarnings(pipeline, file, report.warnings);
        report.pipelines.push(file);
        if (!pipeline.trust.approvers.length && pipeline.stages.some((s) => s.gates.some((g) => g.type === 'approval'))) {
          report.notes.push(`${file}: approvals are unauthenticated: without trust.approvers an approval is an unsigned ledger commit anyone can write under any name, counted for count only (list the approvers' public keys under spec.trust.approvers to have them signed)`);
        }
      } catch (err) {
        problems.push(...asProblems(err, file));
      }
    }
  }

  // Environments: their own shape, then their parameters against the bundle's schema.
  const names = options.environment ? [options.environment] : await listEnvironments(root);
  if (names.length === 0) report.notes.push(`no environments in ${join(root, 'environments')}`);
  for (const name of names) {
    const file = environmentPath(root, name);
    let env: Environment;
    try {
      env = await loadEnvironmentFile(file);
    } catch (err) {
      if (isPromoteError(err, 'DOCUMENT_NOT_FOUND')) {
        const known = await listEnvironments(root);
        problems.push({ file, rule: 'exists', message: `environment "${name}" does not exist`, ...(known.length && { hint: `known environments: ${known.join(', ')}` }) });
      } else problems.push(...asProblems(err, file));
      continue;
    }
    if (schema) problems.push(...environmentProblems(env, schema));
    report.environments.push({ name, file, clusters: env.clusters.map((c) => c.name), parametersChecked: schema !== undefined });
  }

  if (problems.length) {
    const n = problems.length;
    throw new PromoteError('VALIDATION_FAILED', `${n} problem${n === 1 ? '' : 's'} found in ${root}`, {
      outcome: 'verification',
      problems,
      hint: 'fix every problem listed (file:line:column, JSON pointer, rule); then run promote validate again',
      details: { root },
    });
  }
  return report;
}
