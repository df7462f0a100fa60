import { isAbsolute, normalize, resolve } from 'node:path';
import { isPromoteError, PromoteError, type Problem } from '../../errors.ts';
import { loadCel } from '../../cel/expression.ts';
import { evaluatePolicy, violationLine, type Violation } from '../../policy/evaluate.ts';
import { describeRule, parseRules, RULES_SCHEMA, type PolicyRule } from '../../policy/rule.ts';
import type { GateKind } from '../gate.ts';
import { isMap } from '../document-shapes.ts';
import type { Stage } from '../pipeline.ts';

// `policy: {rules: [...]}` or `policy: {file: policies/production.yaml}`: rules over what the
// candidate renders to for every cluster of the stage (GateFacts.rendered: verified, then rendered
// exactly as the agents would), judged before anything is promoted — where an admission policy
// would only see the objects at apply time, after the promotion. Not an upstream gate: a
// configuration change renders new manifests too. Rules are src/policy/'s; docs/policy.md.
//
// A `file` is a `kind: Policy` document relative to the project root. The gate parser is
// synchronous and does not know the root, so the loader reads the file once the pipeline is
// parsed (loadPolicyFiles, awaited by loadPipeline): its problems then fail `promote validate`
// and every command that loads the pipeline, as a problem in the pipeline itself would.

export interface PolicyGateSpec {
  type: 'policy';
  /** The rules: written inline, or read from `file` by loadPolicyFiles. */
  rules?: PolicyRule[];
  /** The Policy file as written (relative to the project root). */
  file?: string;
}

/** How many violations the gate keeps in its evidence (recorded with a forced promotion); the rest are counted. */
export const GATE_MAX_VIOLATIONS = 200;

function checkFile(raw: unknown, pointer: string, report: Parameters<GateKind['parse']>[2]): string | undefined {
  const file = typeof raw === 'string' ? raw.trim() : '';
  const norm = file && normalize(file);
  if (!file || isAbsolute(file) || norm === '..' || norm.startsWith('../')) {
    report(pointer, { message: 'file names a kind: Policy file inside the project', rule: 'gate-policy-file', expected: 'a path relative to the project root, e.g. policies/production.yaml', actual: JSON.stringify(raw) });
    return undefined;
  }
  return file;
}

export const policyGate: GateKind<PolicyGateSpec, 'rendered'> = {
  type: 'policy',
  schema: {
    description: 'Rules (CEL, as a ValidatingAdmissionPolicy writes them) over the manifests the candidate renders to for each cluster of the stage.',
    oneOf: [
      { type: 'object', required: ['rules'], additionalProperties: false, properties: { rules: RULES_SCHEMA } },
      { type: 'object', required: ['file'], additionalProperties: false, properties: { file: { type: 'string', minLength: 1, description: 'A kind: Policy file, relative to the project root.' } } },
    ],
  },
  facts: ['rendered'],
  beyondSchema: ['cel', 'unique', 'gate-policy-file'],
  prepare: loadCel,
  parse(raw, pointer, report) {
    if (!isMap(raw) || Object.keys(raw).length !== 1 || !('rules' in raw || 'file' in raw)) {
      report(pointer, { message: 'policy takes rules, or the file that holds them', rule: 'gate-policy', expected: '{rules: [{name, match?, expression, message?}]} or {file: policies/<name>.yaml}', actual: JSON.stringify(raw) });
      return undefined;
    }
    if ('file' in raw) {
      const file = checkFile(raw.file, `${pointer}/file`, report);
      return file === undefined ? undefined : { type: 'policy', file };
    }
    const rules = parseRules(raw.rules, `${pointer}/rules`, report);
    return rules && { type: 'policy', rules };
  },
  title: (spec) => (spec.file ? `policy ${spec.file}` : `policy (${spec.rules!.length} rule${spec.rules!.length === 1 ? '' : 's'})`),
  async evaluate(spec, ctx) {
    const gate = policyGate.title(spec);
    const fail = (summary: string, evidence: Record<string, unknown>) => ({ gate, type: 'policy', passed: false, summary, evidence });
    if (!spec.rules) return fail(`the policy file ${spec.file} was not read (the pipeline was not loaded from its project)`, { file: spec.file });
    const rules = spec.rules;
    const written = { ...(spec.file && { file: spec.file }), rules: rules.map((r) => r.name) };
    let clusters;
    try {
      clusters = await ctx.rendered();
    } catch (err) {
      // Nothing rendered is nothing judged: never a pass.
      const e = isPromoteError(err) ? err : new PromoteError('INTERNAL', (err as Error).message);
      return fail(`cannot judge the candidate: ${e.message}`, { ...written, error: e.code });
    }
    const report = evaluatePolicy(rules, clusters, { stage: ctx.stage, digest: ctx.candidate }, GATE_MAX_VIOLATIONS);
    const total = report.violations.length + report.more;
    const perCluster = clusters.map((c) => ({ cluster: c.cluster, objects: c.objects.length, violations: report.violations.filter((v) => v.cluster === c.cluster).length }));
    const evidence: Record<string, unknown> = {
      ...written,
      clusters: perCluster,
      objects: report.objects,
      ...(report.unmatched.length && { unmatched: report.unmatched }),
      violations: report.violations.map(shownViolation),
      ...(report.more && { more: report.more }),
      findings: [...report.violations.map(violationLine), ...(report.more ? [`… and ${report.more} more violations not kept`] : [])],
    };
    const unmatched = report.unmatched.length ? `; matched nothing: ${report.unmatched.join(', ')}` : '';
    const where = `${report.objects} object${report.objects === 1 ? '' : 's'} in ${clusters.length} cluster${clusters.length === 1 ? '' : 's'}`;
    if (total === 0) {
      if (clusters.length === 0) return fail('the stage\'s environment has no cluster to render for', evidence);
      return { gate, type: 'policy', passed: true, summary: `${rules.length === 1 ? '1 rule holds' : `${rules.length} rules hold`} for ${where}${unmatched}`, evidence };
    }
    const broken = new Set(report.violations.map((v) => v.rule));
    const bad = new Set(report.violations.map((v) => v.cluster));
    return fail(`${total} violation${total === 1 ? '' : 's'} of ${broken.size} rule${broken.size === 1 ? '' : 's'} (${[...broken].join(', ')}) in ${bad.size} of ${clusters.length} cluster${clusters.length === 1 ? '' : 's'}${unmatched}`, evidence);
  },
};

function shownViolation(v: Violation): Record<string, unknown> {
  return { cluster: v.cluster, object: v.object, file: v.file, index: v.index, rule: v.rule, message: v.message, ...(v.error && { error: true }) };
}

/**
 * Reads the Policy file of every `policy: {file}` gate (relative to `root`) into its spec; throws
 * POLICY_INVALID naming the stage, the pipeline and each problem in the policy file.
 */
export async function loadPolicyFiles(stages: readonly Stage[], root: string, pipelineFile: string): Promise<void> {
  const { loadPolicyFile } = await import('../policy-file.ts');
  const problems: Problem[] = [];
  const failed: string[] = [];
  for (const stage of stages) {
    for (const spec of stage.gates) {
      if (spec.type !== 'policy' || !spec.file) continue;
      try {
        spec.rules = (await loadPolicyFile(resolve(root, spec.file))).rules;
      } catch (err) {
        if (!isPromoteError(err)) throw err;
        failed.push(`${spec.file} (stage ${stage.name})`);
        problems.push(...(err.problems.length ? err.problems : [{ file: pipelineFile, ...(stage.source.line !== undefined && { line: stage.source.line }), message: `stage ${stage.name}: ${err.message}`, rule: 'gate-policy-file' }]));
      }
    }
  }
  if (failed.length) {
    throw new PromoteError('POLICY_INVALID', `pipeline ${pipelineFile}: the policy of ${failed.join(', ')} cannot be used (${problems.length} problem${problems.length === 1 ? '' : 's'})`, {
      outcome: 'verification',
      problems,
      hint: 'fix the policy file at the positions listed, or the gate\'s file: path',
      details: { file: pipelineFile },
    });
  }
}
