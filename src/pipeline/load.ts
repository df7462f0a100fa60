import { readdir } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { isPromoteError, PromoteError, type Problem } from '../errors.ts';
import { didYouMean } from '../params/did-you-mean.ts';
import { readYamlFile, type ParsedDocument } from '../params/document.ts';
import { listEnvironments } from '../params/environment.ts';
import { validateProjectDocument } from '../params/project-schemas.ts';
import { isMap, NAME_RE } from './document-shapes.ts';
import type { ReportProblem } from './gate.ts';
import { parseDuration } from './duration.ts';
import { isGitUrl } from './git-url.ts';
import { GATE_KINDS } from './gates/kinds.ts';
import { loadPolicyFiles } from './gates/policy.ts';
import { checkGates, parseGates, prepareGateKinds, type ParsedGate } from './load-gates.ts';
import { parseNotify } from './load-notify.ts';
import { checkAgentStages, parseTrust } from './load-trust.ts';
import { DEFAULT_REPORT_MAX_AGE, type Pipeline, type Stage } from './pipeline.ts';
import { parseRollout } from './rollout.ts';
import { checkGraph } from './stage-graph.ts';

// Loading `pipelines/<name>.yaml`. Everything wrong with the file is reported at once, each
// problem at its file:line:column (changesets' config validation): malformed fields, unknown
// environments, a `from` naming no stage, duplicate stage names, cycles, and gates that cannot
// work where they stand (a `converged` gate on a stage with no upstream).

const STAGE_FIELDS = ['name', 'environment', 'from', 'repository', 'gates', 'promotion', 'hold', 'rollout'];

// Problems only this loader can find (the JSON Schema cannot see other files or the graph), and
// those the gate kinds say it cannot find. When the schema already failed, these are added to
// its problems; the loader's own structural complaints would repeat the schema's, so they are
// left out then.
const SEMANTIC_RULES = new Set(['agent-scope-stage', 'rollout-first-after', 'environment-exists', 'unique', 'graph-cycle', 'graph-from-exists', 'gate-needs-from', ...GATE_KINDS.flatMap((k) => k.beyondSchema ?? [])]);

export interface LoadPipelineOptions {
  /** Names of the environments that exist; default: the files in `<root>/environments/`. */
  environments?: string[];
}

/** The project root a pipeline file belongs to: the parent of `pipelines/`, else its own dir. */
export function projectRoot(file: string): string {
  const dir = dirname(resolve(file));
  return basename(dir) === 'pipelines' ? dirname(dir) : dir;
}

/**
 * Finds the pipeline file: `name` may be a path, or a name under `<cwd>/pipelines/`; without a
 * name the project must have exactly one pipeline.
 */
export async function findPipelineFile(cwd: string, name?: string): Promise<string> {
  if (name && (name.includes('/') || /\.ya?ml$/.test(name))) return resolve(cwd, name);
  const dir = join(cwd, 'pipelines');
  let files: string[] = [];
  try {
    files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (name) {
    const hit = files.find((f) => f.replace(/\.ya?ml$/, '') === name);
    if (hit) return join(dir, hit);
    const near = didYouMean(name, files.map((f) => f.replace(/\.ya?ml$/, '')));
    throw new PromoteError('PIPELINE_NOT_FOUND', `no pipeline "${name}" in ${dir}`, {
      outcome: 'usage',
      hint: near ? `did you mean --pipeline ${near}?` : files.length ? `pipelines here: ${files.join(', ')}` : 'create pipelines/<name>.yaml (promote init scaffolds one)',
    });
  }
  if (files.length === 1) return join(dir, files[0]!);
  throw new PromoteError('PIPELINE_NOT_FOUND', files.length ? `${dir} has ${files.length} pipelines; say which one` : `no pipeline in ${dir}`, {
    outcome: 'usage',
    hint: files.length ? `pass --pipeline <name> (one of ${files.map((f) => f.replace(/\.ya?ml$/, '')).join(', ')})` : 'run promote in the project root, or create pipelines/<name>.yaml (promote init scaffolds one)',
  });
}

export async function loadPipeline(file: string, options: LoadPipelineOptions = {}): Promise<Pipeline> {
  const abs = resolve(file);
  const doc = await readYamlFile(abs);
  const environments = options.environments ?? (await listEnvironments(projectRoot(abs)));
  await prepareGateKinds(doc.value);
  const pipeline = parsePipeline(doc, { environments, root: projectRoot(abs) });
  // Files the gates name (a policy gate's `file`), read once the pipeline is known to be valid.
  await loadPolicyFiles(pipeline.stages, projectRoot(abs), abs);
  return pipeline;
}

/** Validates a parsed pipeline document and returns the pipeline, or throws with every problem. */
export function parsePipeline(doc: ParsedDocument, options: { environments: string[]; root: string }): Pipeline {
  let schemaProblems: Problem[] = [];
  try {
    validateProjectDocument('pipeline', doc);
  } catch (err) {
    if (!isPromoteError(err, 'SCHEMA_VIOLATION')) throw err;
    // A secret written inline where a secretFrom belongs is not echoed back as the value found.
    schemaProblems = err.problems.map((p) => (/\/secretFrom(\/|$)/.test(p.pointer ?? '') && p.actual !== undefined ? { ...p, actual: typeof p.actual === 'string' && p.actual.startsWith('string') ? 'a string (not shown: it may be the secret)' : p.actual } : p));
  }
  let problems: Problem[] = [];
  const report: ReportProblem = (pointer, p) => {
    const pos = doc.locate(pointer);
    problems.push({ file: doc.file, ...(pos && { line: pos.line, column: pos.column }), pointer, ...p });
  };
  const v = doc.value;
  const root = isMap(v) ? v : {};
  if (!isMap(v)) report('', { message: 'a pipeline document is a mapping', rule: 'type', expected: 'apiVersion, kind, metadata, spec' });
  if (root.apiVersion !== 'promote/v1') report('/apiVersion', { message: 'apiVersion must be promote/v1', rule: 'const', expected: 'promote/v1', actual: JSON.stringify(root.apiVersion) });
  if (root.kind !== 'Pipeline') report('/kind', { message: 'kind must be Pipeline', rule: 'const', expected: 'Pipeline', actual: JSON.stringify(root.kind) });
  const metadata = isMap(root.metadata) ? root.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  if (!NAME_RE.test(name)) report('/metadata/name', { message: 'the pipeline needs a name', rule: 'pattern', expected: 'lower-case letters, digits and "-", at most 63', actual: JSON.stringify(metadata.name) });
  const spec = isMap(root.spec) ? root.spec : {};
  if (!isMap(root.spec)) report('/spec', { message: 'spec is missing', rule: 'required', expected: 'a mapping with repository and stages' });

  const repository = typeof spec.repository === 'string' ? spec.repository.trim() : '';
  if (!repository) report('/spec/repository', { message: 'spec.repository names the bundle repository', rule: 'required', expected: 'host/repository or oci:<path>' });

  const ledgerRaw = spec.ledger === undefined ? {} : spec.ledger;
  const ledger = isMap(ledgerRaw) ? ledgerRaw : {};
  if (!isMap(ledgerRaw)) report('/spec/ledger', { message: 'ledger must be a mapping', rule: 'type', expected: '{repository: <git URL or path>, branch: <name>}' });
  for (const key of ['repository', 'branch'] as const) {
    if (ledger[key] !== undefined && (typeof ledger[key] !== 'string' || !(ledger[key] as string).trim())) report(`/spec/ledger/${key}`, { message: `ledger.${key} must be a non-empty string`, rule: 'type', expected: 'string' });
  }

  const trust = parseTrust(spec.trust, report);

  let reports = DEFAULT_REPORT_MAX_AGE;
  if (spec.reports !== undefined) {
    const raw = isMap(spec.reports) ? spec.reports.maxAge : undefined;
    const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
    if (!isMap(spec.reports) || Object.keys(spec.reports).some((k) => k !== 'maxAge')) report('/spec/reports', { message: 'reports takes only maxAge', rule: 'type', expected: '{maxAge: 30m}', actual: JSON.stringify(spec.reports) });
    else if (raw === undefined) reports = DEFAULT_REPORT_MAX_AGE;
    else if (ms === undefined || ms <= 0) report('/spec/reports/maxAge', { message: 'reports.maxAge is how old a status report may be and still count for a gate', rule: 'pattern', expected: 'a positive duration such as 30m', actual: JSON.stringify(raw) });
    else reports = { maxAge: (raw as string).trim(), maxAgeMs: ms };
  }

  const notify = parseNotify(spec.notify, report);

  const stagesRaw = spec.stages;
  const stages: Stage[] = [];
  const stageGates: ParsedGate[][] = [];
  // The gates of each stage's waves: upstream kinds judge the stage's own released waves there.
  const waveGates: ParsedGate[][] = [];
  if (!Array.isArray(stagesRaw) || stagesRaw.length === 0) {
    report('/spec/stages', { message: 'a pipeline needs at least one stage', rule: 'minItems', expected: 'a list of stages' });
  } else {
    const firstAt = new Map<string, number>();
    stagesRaw.forEach((raw, i) => {
      const at = `/spec/stages/${i}`;
      if (!isMap(raw)) {
        report(at, { message: 'a stage is a mapping', rule: 'type', expected: '{name, environment, from?, gates?, promotion?}' });
        return;
      }
      for (const key of Object.keys(raw)) {
        if (!STAGE_FIELDS.includes(key)) {
          const near = didYouMean(key, STAGE_FIELDS);
          report(`${at}/${key}`, { message: `unknown stage field "${key}"`, rule: 'additionalProperties', expected: STAGE_FIELDS.join(', '), ...(near && { hint: `did you mean "${near}"?` }) });
        }
      }
      const stageName = typeof raw.name === 'string' ? raw.name : '';
      if (!NAME_RE.test(stageName)) report(`${at}/name`, { message: 'a stage needs a name', rule: 'pattern', expected: 'lower-case letters, digits and "-"', actual: JSON.stringify(raw.name) });
      else if (firstAt.has(stageName)) {
        const first = doc.locate(`/spec/stages/${firstAt.get(stageName)}/name`);
        report(`${at}/name`, { message: `duplicate stage name "${stageName}"`, rule: 'unique', hint: `the first "${stageName}" is at line ${first?.line ?? '?'}; stage names must be unique` });
      } else firstAt.set(stageName, i);
      const environment = typeof raw.environment === 'string' ? raw.environment : '';
      if (!environment) report(`${at}/environment`, { message: `stage "${stageName}" needs an environment`, rule: 'required', expected: 'the name of a file in environments/' });
      else if (!options.environments.includes(environment)) {
        const near = didYouMean(environment, options.environments);
        report(`${at}/environment`, {
          message: `stage "${stageName}" uses unknown environment "${environment}"`,
          rule: 'environment-exists',
          expected: options.environments.length ? `one of ${options.environments.join(', ')}` : 'an environment file',
          hint: near ? `did you mean "${near}"?` : `create environments/${environment}.yaml`,
        });
      }
      if (raw.from !== undefined && (typeof raw.from !== 'string' || !raw.from)) report(`${at}/from`, { message: 'from names the upstream stage', rule: 'type', expected: 'a stage name', actual: JSON.stringify(raw.from) });
      const promotion = raw.promotion ?? 'manual';
      if (promotion !== 'auto' && promotion !== 'manual') report(`${at}/promotion`, { message: 'promotion must be auto or manual', rule: 'enum', expected: 'auto | manual', actual: JSON.stringify(raw.promotion) });
      if (raw.repository !== undefined && (typeof raw.repository !== 'string' || !raw.repository.trim())) report(`${at}/repository`, { message: 'repository must name a bundle repository', rule: 'type', expected: 'host/repository or oci:<path>', actual: JSON.stringify(raw.repository) });
      if (raw.hold !== undefined && typeof raw.hold !== 'boolean') report(`${at}/hold`, { message: 'hold must be true or false', rule: 'type', expected: 'boolean', actual: JSON.stringify(raw.hold) });
      const gates = parseGates(raw.gates, at, report);
      stageGates.push(gates);
      const rollout = raw.rollout === undefined ? undefined : parseRollout(raw.rollout, `${at}/rollout`, report);
      waveGates.push(rollout?.gates.flat() ?? []);
      stages.push({
        name: stageName,
        environment,
        ...(typeof raw.from === 'string' && raw.from && { from: raw.from }),
        ...(typeof raw.repository === 'string' && raw.repository.trim() && { repository: resolveRepository(raw.repository.trim(), options.root) }),
        promotion: promotion === 'auto' ? 'auto' : 'manual',
        initialHold: raw.hold === true,
        gates: gates.map((g) => g.spec),
        ...(rollout && { rollout: rollout.spec }),
        source: { file: doc.file, ...doc.locate(at) },
      });
    });
    checkGraph(stages, report);
    stageGates.forEach((gates, i) => checkGates(stages[i]!, gates, trust, report));
    waveGates.forEach((gates, i) => checkGates({ ...stages[i]!, from: stages[i]!.name }, gates, trust, report));
    checkAgentStages(trust, stages, report);
  }
  if (schemaProblems.length) {
    const seen = new Set(schemaProblems.map((p) => `${p.line}:${p.pointer}`));
    problems = [...schemaProblems, ...problems.filter((p) => SEMANTIC_RULES.has(p.rule ?? '') && !seen.has(`${p.line}:${p.pointer}`))];
  }
  if (problems.length) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    const n = problems.length;
    throw new PromoteError('PIPELINE_INVALID', `pipeline ${doc.file} is not valid: ${n} problem${n === 1 ? '' : 's'}`, {
      outcome: 'verification',
      problems,
      hint: 'fix every problem listed (each names file:line:column)',
      details: { file: doc.file },
    });
  }
  const ledgerRepo = typeof ledger.repository === 'string' ? ledger.repository : '.';
  return {
    name,
    repository: resolveRepository(repository, options.root),
    ledger: { repository: isGitUrl(ledgerRepo) ? ledgerRepo : resolve(options.root, ledgerRepo), ...(typeof ledger.branch === 'string' && { branch: ledger.branch }) },
    trust,
    reports,
    ...(notify.length && { notify }),
    stages,
    file: doc.file,
  };
}

function resolveRepository(repository: string, root: string): string {
  if (!repository.startsWith('oci:')) return repository;
  const path = repository.slice(4);
  return `oci:${isAbsolute(path) ? path : resolve(root, path)}`;
}

/** Stages in promotion order: every stage after the stage it comes from. */
export function stageOrder(pipeline: Pipeline): Stage[] {
  const out: Stage[] = [];
  const done = new Set<string>();
  const visit = (s: Stage) => {
    if (done.has(s.name)) return;
    const up = s.from ? pipeline.stages.find((x) => x.name === s.from) : undefined;
    if (up) visit(up);
    done.add(s.name);
    out.push(s);
  };
  pipeline.stages.forEach(visit);
  return out;
}
