import { readdir } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { isPromoteError, PromoteError, type Problem } from '../errors.ts';
import { didYouMean } from '../params/did-you-mean.ts';
import { readYamlFile, type ParsedDocument } from '../params/document.ts';
import { validateProjectDocument } from '../params/project-schemas.ts';
import type { ReportProblem } from './gate.ts';
import { parseDuration } from './duration.ts';
import { isGitUrl } from './git-url.ts';
import { GATE_KINDS, gateKind, type GateSpec } from './gates/kinds.ts';
import { DEFAULT_REPORT_MAX_AGE, type AgentEntry, type AgentScope, type ApproverEntry, type Person, type Pipeline, type Stage, type TrustEntry, type TrustSpec } from './pipeline.ts';

// Loading `pipelines/<name>.yaml`. Everything wrong with the file is reported at once, each
// problem at its file:line:column (changesets' config validation): malformed fields, unknown
// environments, a `from` naming no stage, duplicate stage names, cycles, and gates that cannot
// work where they stand (a `converged` gate on a stage with no upstream).

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const STAGE_FIELDS = ['name', 'environment', 'from', 'repository', 'gates', 'promotion', 'hold'];

// Problems only this loader can find (the JSON Schema cannot see other files or the graph).
// When the schema already failed, these are added to its problems; the loader's own structural
// complaints would repeat the schema's, so they are left out then.
const SEMANTIC_RULES = new Set(['agent-scope-stage', 'approval-needs-approvers', 'environment-exists', 'unique', 'graph-cycle', 'graph-from-exists', 'gate-needs-from', 'gate-window-timezone', 'satisfiable']);

export interface LoadPipelineOptions {
  /** Names of the environments that exist; default: the files in `<root>/environments/`. */
  environments?: string[];
}

/** The project root a pipeline file belongs to: the parent of `pipelines/`, else its own dir. */
export function projectRoot(file: string): string {
  const dir = dirname(resolve(file));
  return basename(dir) === 'pipelines' ? dirname(dir) : dir;
}

export async function listEnvironments(root: string): Promise<string[]> {
  try {
    const entries = await readdir(join(root, 'environments'));
    return entries.filter((f) => /\.ya?ml$/.test(f)).map((f) => f.replace(/\.ya?ml$/, '')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
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
  return parsePipeline(doc, { environments, root: projectRoot(abs) });
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a parsed pipeline document and returns the pipeline, or throws with every problem. */
export function parsePipeline(doc: ParsedDocument, options: { environments: string[]; root: string }): Pipeline {
  let schemaProblems: Problem[] = [];
  try {
    validateProjectDocument('pipeline', doc);
  } catch (err) {
    if (!isPromoteError(err, 'SCHEMA_VIOLATION')) throw err;
    schemaProblems = err.problems;
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

  const trust: TrustSpec = { bundles: [], promotions: [], agents: [], approvers: [] };
  const trustRaw = spec.trust === undefined ? {} : spec.trust;
  if (!isMap(trustRaw)) report('/spec/trust', { message: 'trust must be a mapping', rule: 'type', expected: '{bundles: [keys], promotions: [keys]}' });
  else {
    for (const key of Object.keys(trustRaw)) {
      if (key !== 'bundles' && key !== 'promotions' && key !== 'agents' && key !== 'approvers') {
        report(`/spec/trust/${key}`, { message: `unknown trust list "${key}"`, rule: 'additionalProperties', expected: 'bundles, promotions, agents or approvers' });
        continue;
      }
      const list = trustRaw[key];
      const entries = Array.isArray(list) ? list.map((e, i) => trustEntry(e, key === 'approvers', key === 'agents' ? { report, at: `/spec/trust/agents/${i}` } : undefined)) : [];
      if (!Array.isArray(list) || entries.some((e) => e === undefined)) {
        report(`/spec/trust/${key}`, { message: `trust.${key} must list public key files or keyless identities`, rule: 'type', expected: key === 'approvers' ? 'e.g. [keys/alex.pub] or [{key: keys/alex.pub, name: Alex, email: alex@example.com}]' : 'e.g. [keys/ci.pub] or [{keyless: {issuer, subject}}]' });
        continue;
      }
      if (key === 'approvers') trust.approvers = entries as ApproverEntry[];
      else trust[key] = entries as TrustEntry[];
    }
  }

  let reports = DEFAULT_REPORT_MAX_AGE;
  if (spec.reports !== undefined) {
    const raw = isMap(spec.reports) ? spec.reports.maxAge : undefined;
    const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
    if (!isMap(spec.reports) || Object.keys(spec.reports).some((k) => k !== 'maxAge')) report('/spec/reports', { message: 'reports takes only maxAge', rule: 'type', expected: '{maxAge: 30m}', actual: JSON.stringify(spec.reports) });
    else if (raw === undefined) reports = DEFAULT_REPORT_MAX_AGE;
    else if (ms === undefined || ms <= 0) report('/spec/reports/maxAge', { message: 'reports.maxAge is how old a status report may be and still count for a gate', rule: 'pattern', expected: 'a positive duration such as 30m', actual: JSON.stringify(raw) });
    else reports = { maxAge: (raw as string).trim(), maxAgeMs: ms };
  }

  const stagesRaw = spec.stages;
  const stages: Stage[] = [];
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
      const gates: GateSpec[] = [];
      if (raw.gates !== undefined && !Array.isArray(raw.gates)) report(`${at}/gates`, { message: 'gates must be a list', rule: 'type', expected: 'e.g. [{converged: {}}, {soak: 15m}]' });
      else if (Array.isArray(raw.gates)) {
        raw.gates.forEach((g: unknown, j: number) => {
          const gat = `${at}/gates/${j}`;
          let type: string | undefined;
          let value: unknown;
          if (typeof g === 'string') type = g;
          else if (isMap(g) && Object.keys(g).length === 1) [[type, value]] = Object.entries(g) as [[string, unknown]];
          const kind = type ? gateKind(type) : undefined;
          if (!type || !kind) {
            const types = GATE_KINDS.map((k) => k.type);
            const near = type ? didYouMean(type, types) : undefined;
            report(gat, { message: type ? `unknown gate "${type}"` : 'a gate is a one-key mapping', rule: 'gate-type', expected: `one of ${types.join(', ')}`, ...(near && { hint: `did you mean "${near}"?` }) });
            return;
          }
          const parsed = kind.parse(value, typeof g === 'string' ? gat : `${gat}/${type}`, report);
          if (parsed) gates.push(parsed);
        });
      }
      stages.push({
        name: stageName,
        environment,
        ...(typeof raw.from === 'string' && raw.from && { from: raw.from }),
        ...(typeof raw.repository === 'string' && raw.repository.trim() && { repository: resolveRepository(raw.repository.trim(), options.root) }),
        promotion: promotion === 'auto' ? 'auto' : 'manual',
        initialHold: raw.hold === true,
        gates,
        source: { file: doc.file, ...doc.locate(at) },
      });
    });
    checkGraph(stages, stagesRaw, report);
    if (!trust.approvers.length) checkApprovalIdentities(stages, report);
    trust.agents.forEach((a, i) => {
      for (const name of a.stages ?? []) {
        if (!stages.some((st) => st.name === name)) report(`/spec/trust/agents/${i}/stages`, { message: `trust.agents binds a key to stage "${name}", which the pipeline does not have`, rule: 'agent-scope-stage', expected: `one of ${stages.map((st) => st.name).join(', ')}` });
      }
    });
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
    stages,
    file: doc.file,
  };
}

function trustEntry(e: unknown, person: boolean, agent?: { report: ReportProblem; at: string }): (ApproverEntry & AgentEntry) | undefined {
  const path = typeof e === 'string' ? e : isMap(e) && typeof e.key === 'string' ? e.key : undefined;
  // Approver entries may say whose key it is: evidence then names the person, `from` matches it.
  const who: Person = person && isMap(e) ? { ...(typeof e.name === 'string' && e.name.trim() && { name: e.name.trim() }), ...(typeof e.email === 'string' && e.email.trim() && { email: e.email.trim() }) } : {};
  // Agent keys may be bound to the clusters and/or stages they report for (checked by the gates).
  const scope: AgentScope = {};
  if (agent && isMap(e)) {
    for (const field of ['clusters', 'stages'] as const) {
      const v = e[field];
      if (v === undefined) continue;
      if (!Array.isArray(v) || v.length === 0 || v.some((n) => typeof n !== 'string' || !NAME_RE.test(n))) {
        agent.report(`${agent.at}/${field}`, { message: `${field} lists the ${field} this agent key may report for`, rule: 'type', expected: `a non-empty list of ${field === 'clusters' ? 'cluster' : 'stage'} names`, actual: JSON.stringify(v) });
        continue;
      }
      scope[field] = v as string[];
    }
  }
  // Kept as written: relative to the project root, which is where the trust policy loader
  // resolves them, and how evidence should name them ("signed by key keys/ci.pub").
  if (path !== undefined && path.trim()) return { key: path, ...who, ...scope };
  if (isMap(e) && isMap(e.keyless)) return { keyless: e.keyless as Extract<TrustEntry, { keyless: unknown }>['keyless'], ...who, ...scope };
  return undefined;
}


function resolveRepository(repository: string, root: string): string {
  if (!repository.startsWith('oci:')) return repository;
  const path = repository.slice(4);
  return `oci:${isAbsolute(path) ? path : resolve(root, path)}`;
}

/**
 * Without trust.approvers an approval is a git commit whose author anyone can set: `from` and
 * `separateDuties` would compare strings an attacker chooses, so they are refused rather than
 * enforced in name only.
 */
function checkApprovalIdentities(stages: Stage[], report: ReportProblem): void {
  stages.forEach((s, i) => {
    s.gates.forEach((g, j) => {
      if (g.type !== 'approval') return;
      for (const field of ['separateDuties', 'from'] as const) {
        if (field === 'separateDuties' ? !g.separateDuties : g.from === undefined) continue;
        report(`/spec/stages/${i}/gates/${j}/approval/${field}`, {
          message: `stage "${s.name}": approval ${field} needs signed approvals, and the pipeline has no trust.approvers (unsigned approvals carry no identity to compare)`,
          rule: 'approval-needs-approvers',
          hint: 'list the approvers\' public keys under spec.trust.approvers (e.g. approvers: [keys/alex.pub]; promote keygen alex writes the pair), or remove ' + field,
        });
      }
    });
  });
}

/** Upstream references, cycles, and gates that need an upstream. */
function checkGraph(stages: Stage[], raw: unknown[], report: ReportProblem): void {
  const index = new Map<string, number>();
  stages.forEach((s, i) => {
    if (s.name && !index.has(s.name)) index.set(s.name, i);
  });
  const names = [...index.keys()];
  stages.forEach((s, i) => {
    const at = `/spec/stages/${i}`;
    if (s.from !== undefined) {
      if (s.from === s.name) report(`${at}/from`, { message: `stage "${s.name}" names itself as from`, rule: 'graph-cycle', hint: 'from is the stage a bundle comes from: the one before this' });
      else if (!index.has(s.from)) {
        const near = didYouMean(s.from, names);
        report(`${at}/from`, { message: `stage "${s.name}" comes from "${s.from}", which is not a stage of this pipeline`, rule: 'graph-from-exists', expected: `one of ${names.join(', ')}`, ...(near && { hint: `did you mean "${near}"?` }) });
      }
    } else {
      s.gates.forEach((g, j) => {
        if (gateKind(g.type)?.upstream) {
          report(`${at}/gates/${j}`, { message: `stage "${s.name}" has no from stage, so its ${g.type} gate has nothing to observe`, rule: 'gate-needs-from', hint: 'add from: <upstream stage>, or remove the gate' });
        }
      });
    }
  });
  // Each stage has at most one `from`, so following `from` links from any stage either ends at
  // a first stage or enters a cycle; report each cycle once, at its first stage in the file.
  const reported = new Set<string>();
  stages.forEach((s) => {
    const path: string[] = [];
    let cur: Stage | undefined = s;
    while (cur && !path.includes(cur.name)) {
      path.push(cur.name);
      cur = cur.from !== undefined && cur.from !== cur.name ? stages[index.get(cur.from) ?? -1] : undefined;
    }
    if (!cur) return;
    const cycle = path.slice(path.indexOf(cur.name));
    if (cycle.some((n) => reported.has(n)) || cycle.length < 2) return;
    cycle.forEach((n) => reported.add(n));
    const first = Math.min(...cycle.map((n) => index.get(n)!));
    const start = stages[first]!.name;
    const ordered = [...cycle.slice(cycle.indexOf(start)), ...cycle.slice(0, cycle.indexOf(start)), start];
    report(`/spec/stages/${first}/from`, { message: `stages form a cycle: ${ordered.join(' ← ')}`, rule: 'graph-cycle', hint: 'every chain of from must end at a first stage that has no from' });
  });
  void raw;
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
