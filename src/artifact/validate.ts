import { readdir, stat } from 'node:fs/promises';
import { bundlesUnder } from '../bundle/bundle-dir.ts';
import { basename, join, relative, resolve } from 'node:path';
import { isPromoteError, PromoteError, type ErrorCode, type Problem } from '../errors.ts';
import { environmentFile, listEnvironments, loadEnvironmentFile, type Environment } from '../params/environment.ts';
import { parameterSchema, type ParameterSchema } from '../params/parameter-schema.ts';
import { environmentProblems } from '../params/parameters.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';

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
  /** The bundle environments were checked against (when there is one). */
  bundle?: CheckedBundle;
  /** Every bundle checked, when the project's pipelines tie it to several (bundles/<name>/). */
  bundles?: CheckedBundle[];
  pipelines: string[];
  environments: { name: string; file: string; clusters: string[]; parametersChecked: boolean; bundles?: string[] }[];
  /** Notes for humans (what was not checked, and why). */
  notes: string[];
  /** Valid, but weaker than it looks (e.g. an agent key that may report for every cluster). */
  warnings: string[];
}

export interface CheckedBundle {
  dir: string;
  name: string;
  schema: string;
  /** The pipelines that promote it (when the pipelines chose it among several). */
  pipelines?: string[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}


function asProblems(err: unknown, file: string): Problem[] {
  if (isPromoteError(err)) {
    if (err.problems.length) return err.problems.map((p) => ({ ...p, file: p.file ?? file }));
    return [{ file, message: err.message, ...(err.hint && { hint: err.hint }), rule: err.code }];
  }
  throw err;
}

interface LoadedBundle extends CheckedBundle {
  schema: string;
  parameters: ParameterSchema;
}

/** A bundle's own checks (build's content checks: readable manifests, references declared, no Secret values); its schema, or undefined when broken. */
async function checkBundle(bundleDir: string, problems: Problem[]): Promise<LoadedBundle | undefined> {
  try {
    const { readBundleSources } = await import('../bundle/sources.ts');
    const { contentProblems } = await import('../bundle/build-checks.ts');
    const { bundle, files, tree } = await readBundleSources(bundleDir);
    const schema = parameterSchema(bundle.parameterSchema, join(bundleDir, bundle.spec.parameters));
    const layout = { manifests: bundle.spec.manifests, ...(bundle.spec.files !== undefined && { files: bundle.spec.files }) };
    // The checks `promote build` makes, so what validates is what builds.
    const found = contentProblems(files, { layout, schema: schema.effective, allowSecrets: bundle.spec.allowSecrets });
    problems.push(
      ...found.map((p) => ({ ...p, file: join(bundleDir, p.file ?? ''), ...(p.rule === 'no-secrets' && { hint: 'keep secret values out of the bundle (secret store / External Secrets, Sealed Secrets, SOPS), or set spec.allowSecrets: true' }) })),
    );
    if (bundle.spec.renderer.kind !== 'plain') {
      // A chart's or kustomization's own checks (renderer-checks.ts), as `promote build` makes them,
      // on the files readBundleSources already walked.
      const { checkRendererBundle } = await import('../bundle/renderer-checks.ts');
      await checkRendererBundle(bundle, tree.files).catch((err: unknown) => {
        const inBundle = (file?: string) => (file === undefined ? join(bundleDir, 'bundle.yaml') : file.startsWith(bundleDir) ? file : join(bundleDir, file));
        problems.push(...asProblems(err, join(bundleDir, 'bundle.yaml')).map((p) => ({ ...p, file: inBundle(p.file) })));
      });
    }
    return { dir: bundleDir, name: bundle.spec.name, schema: schema.source, parameters: schema };
  } catch (err) {
    problems.push(...asProblems(err, join(bundleDir, 'bundle.yaml')));
    return undefined;
  }
}

/** The last path component of a repository (`host/acme/webapp`, `oci:/…/registry/webapp`): `webapp`. */
function repositoryLeaf(repository: string): string {
  return repository.replace(/^oci:/, '').split('/').filter(Boolean).at(-1) ?? '';
}

/**
 * The bundle a pipeline promotes, among several: the one named like the pipeline or like the
 * last component of its repository (what `promote init` writes: bundles/<name>, pipeline <name>,
 * repository …/<name>). Undefined when none or more than one fits.
 */
function bundleOf(pipeline: Pipeline, bundles: { dir: string; name: string }[]): { dir: string; name: string } | undefined {
  const names = new Set([pipeline.name, repositoryLeaf(pipeline.repository)]);
  const fits = bundles.filter((b) => names.has(b.name) || names.has(basename(b.dir)));
  return fits.length === 1 ? fits[0] : undefined;
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

  // Pipelines, by the pipeline loader (schema, stage graph, environments that exist). First,
  // because in a project with several bundles they say which bundle each environment serves.
  const pipelineDir = join(root, 'pipelines');
  let pipelineFiles: string[] = [];
  try {
    pipelineFiles = (await readdir(pipelineDir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch {
    report.notes.push(`no pipelines/ in ${root}`);
  }
  const pipelines: Pipeline[] = [];
  let pipelinesBroken = false;
  if (pipelineFiles.length) {
    const { loadPipeline } = await import('../pipeline/load.ts');
    for (const f of pipelineFiles) {
      const file = join(pipelineDir, f);
      try {
        const pipeline = await loadPipeline(file);
        pipelines.push(pipeline);
        agentKeyWarnings(pipeline, file, report.warnings);
        const unsigned: ErrorCode = 'NOTIFY_UNSIGNED';
        (pipeline.notify ?? []).forEach(({ webhook }, i) => {
          if (!webhook.secretFrom) report.warnings.push(`${file}: spec.notify[${i}] (/spec/notify/${i}/webhook) has no secretFrom: its bodies go unsigned, and the receiver cannot tell promote's events from anyone else's (${unsigned}); add secretFrom: {env: PROMOTE_WEBHOOK_SECRET} and check X-Promote-Signature-256 in the receiver (docs/notifications.md)`);
        });
        report.pipelines.push(file);
        if (!pipeline.trust.approvers.length && pipeline.stages.some((s) => s.gates.some((g) => g.type === 'approval'))) {
          report.notes.push(`${file}: approvals are unauthenticated: without trust.approvers an approval is an unsigned ledger commit anyone can write under any name, counted for count only (list the approvers' public keys under spec.trust.approvers to have them signed)`);
        }
      } catch (err) {
        pipelinesBroken = true;
        problems.push(...asProblems(err, file));
      }
    }
  }

  // The bundle(s) whose schema environments must satisfy: --bundle, else <root>/bundle.yaml, else
  // the only bundles/<name>/; with several, the ones the pipelines promote, each checked against
  // the environments of its pipelines' stages.
  const single = options.bundleDir ?? ((await exists(join(root, 'bundle.yaml'))) ? root : undefined);
  const candidates = single ? [single] : await bundlesUnder(join(root, 'bundles'));
  /** For each environment name, the bundles it must satisfy; `*` stands for every environment. */
  const contracts = new Map<string, LoadedBundle[]>();
  if (candidates.length === 1) {
    const b = await checkBundle(candidates[0]!, problems);
    if (b) {
      report.bundle = { dir: b.dir, name: b.name, schema: b.schema };
      contracts.set('*', [b]);
    }
  } else if (candidates.length > 1) {
    const loaded: LoadedBundle[] = [];
    for (const dir of candidates) {
      const b = await checkBundle(dir, problems);
      if (b) loaded.push(b);
    }
    const tied = pipelines.map((p) => ({ pipeline: p, bundle: bundleOf(p, loaded) as LoadedBundle | undefined }));
    const untied = tied.filter((t) => !t.bundle).map((t) => t.pipeline.name);
    const shown = candidates.map((d) => relative(root, d) || d);
    if (loaded.length < candidates.length) {
      report.notes.push(`environment parameters were not checked: fix the bundle problems first (or pass --bundle ${shown[0]})`);
    } else if (!pipelines.length || untied.length) {
      if (pipelinesBroken) report.notes.push(`environment parameters were not checked: with ${candidates.length} bundles, the pipelines say which one each environment serves; fix them first (or pass --bundle ${shown[0]})`);
      else {
        const why = pipelines.length ? `pipeline${untied.length === 1 ? '' : 's'} ${untied.join(', ')} promote${untied.length === 1 ? 's' : ''} none of them by name` : 'no pipeline says which one it promotes';
        throw new PromoteError('BUNDLE_AMBIGUOUS', `${root} has ${candidates.length} bundles (${shown.join(', ')}) and ${why}: which schema must the environments satisfy?`, {
          outcome: 'usage',
          hint: `choose one: ${shown.map((s) => `promote validate --bundle ${s}`).join(' | ')} (a pipeline promotes the bundle named like it or like the last part of its repository)`,
          details: { bundles: shown, ...(untied.length && { pipelines: untied }) },
          problems,
        });
      }
    } else {
      const chosen = [...new Set(tied.map((t) => t.bundle!))];
      const all = chosen.length === 1;
      report.bundles = chosen.map((b) => ({ dir: b.dir, name: b.name, schema: b.schema, pipelines: tied.filter((t) => t.bundle === b).map((t) => t.pipeline.name) }));
      if (all) {
        contracts.set('*', chosen);
        report.bundle = report.bundles[0]!;
      }
      for (const t of tied) {
        for (const stage of t.pipeline.stages) {
          const list = contracts.get(stage.environment) ?? [];
          if (!list.includes(t.bundle!)) list.push(t.bundle!);
          contracts.set(stage.environment, list);
        }
      }
      for (const b of report.bundles) {
        const by = `pipeline${b.pipelines!.length === 1 ? '' : 's'} ${b.pipelines!.join(', ')}`;
        report.notes.push(all ? `${relative(root, b.dir) || b.dir} of ${candidates.length} bundles: ${by} promote${b.pipelines!.length === 1 ? 's' : ''} it` : `${relative(root, b.dir) || b.dir}: checked against the environments of ${by}, which promote${b.pipelines!.length === 1 ? 's' : ''} it`);
      }
    }
  }
  if (!candidates.length) {
    report.notes.push(`no bundle.yaml in ${root} or bundles/<name>/ (pass --bundle <dir>): environment parameters were checked for shape only, not against a parameter schema`);
  }
  const several = candidates.length > 1;

  // Environments: their own shape, then their parameters against the bundle's schema.
  const names = options.environment ? [options.environment] : await listEnvironments(root);
  if (names.length === 0) report.notes.push(`no environments in ${join(root, 'environments')}`);
  for (const name of names) {
    const file = await environmentFile(root, name);
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
    const against = contracts.get('*') ?? contracts.get(name) ?? [];
    for (const b of against) {
      const found = environmentProblems(env, b.parameters);
      problems.push(...(several ? found.map((p) => ({ ...p, message: `bundle ${b.name}: ${p.message}` })) : found));
    }
    if ((report.bundles?.length ?? 0) > 1 && !against.length) report.notes.push(`environment ${name} is in no stage of any pipeline, so no bundle's schema is its contract: checked for shape only`);
    report.environments.push({ name, file, clusters: env.clusters.map((c) => c.name), parametersChecked: against.length > 0, ...(several && against.length && { bundles: against.map((b) => b.name) }) });
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
