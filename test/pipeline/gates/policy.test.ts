import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPromoteError, type PromoteError } from '../../../src/errors.ts';
import { PromoteError as Err } from '../../../src/errors.ts';
import type { GateContext, RenderedCluster } from '../../../src/pipeline/gate.ts';
import { policyGate, type PolicyGateSpec } from '../../../src/pipeline/gates/policy.ts';
import { loadPipeline } from '../../../src/pipeline/load.ts';
import { noOutsideFacts } from '../no-outside-facts.ts';
import { twoStageProject } from './two-stage-project.ts';

// The policy gate with plain facts (in-process: `rendered` returns given objects), and the
// pipeline loader reading its rules, inline or from a real file.

const D1 = `sha256:${'1'.repeat(64)}`;
const EXAMPLES = fileURLToPath(new URL('../../../examples/policies/', import.meta.url));

await policyGate.prepare!();

function parse(raw: unknown): PolicyGateSpec {
  const problems: object[] = [];
  const spec = policyGate.parse(raw, '/g', (_p, x) => problems.push(x));
  assert.deepEqual(problems, []);
  return spec!;
}

function ctx(rendered: () => Promise<RenderedCluster[]>): GateContext<'rendered'> {
  return { pipeline: 'webapp', stage: 'production', from: 'staging', candidate: D1, now: new Date(), promoter: 'Pat <pat@example.com>', ...noOutsideFacts, rendered };
}

const web = (image: string) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' }, spec: { template: { spec: { containers: [{ name: 'web', image }] } } } });
const PINNED = { rules: [{ name: 'images-pinned', match: { kinds: ['Deployment'] }, expression: "object.spec.template.spec.containers.all(c, c.image.contains('@sha256:'))", message: 'images must be pinned by digest' }, { name: 'jobs-named', match: { kinds: ['Job'] }, expression: 'true' }] };

test('policy gate (in-process facts): passes when every rule holds, naming what was judged and the rules that matched nothing', async () => {
  const spec = parse(PINNED);
  assert.equal(policyGate.title(spec), 'policy (2 rules)');
  assert.deepEqual(policyGate.facts, ['rendered']);
  assert.equal(policyGate.upstream, undefined, 'a configuration change renders new manifests: the gate applies to it');
  const r = await policyGate.evaluate(spec, ctx(async () => [{ cluster: 'eu-1', objects: [{ file: 'manifests/web.yaml', index: 0, object: web(`web@${D1}`) }] }, { cluster: 'us-1', objects: [] }]));
  assert.equal(r.passed, true, r.summary);
  assert.equal(r.summary, '2 rules hold for 1 object in 2 clusters; matched nothing: jobs-named');
  assert.deepEqual(r.evidence.unmatched, ['jobs-named']);
  assert.deepEqual(r.evidence.findings, []);
});

test('policy gate (in-process facts): each violating object and rule per cluster, in evidence and findings', async () => {
  const r = await policyGate.evaluate(parse(PINNED), ctx(async () => [
    { cluster: 'eu-1', objects: [{ file: 'manifests/web.yaml', index: 1, object: web('web:1.2') }] },
    { cluster: 'us-1', objects: [{ file: 'manifests/web.yaml', index: 1, object: web(`web@${D1}`) }] },
  ]));
  assert.equal(r.passed, false);
  assert.equal(r.summary, '1 violation of 1 rule (images-pinned) in 1 of 2 clusters; matched nothing: jobs-named');
  assert.deepEqual(r.evidence.findings, ['eu-1: Deployment shop/web (manifests/web.yaml#1): images-pinned: images must be pinned by digest']);
  assert.deepEqual(r.evidence.violations, [{ cluster: 'eu-1', object: 'Deployment shop/web', file: 'manifests/web.yaml', index: 1, rule: 'images-pinned', message: 'images must be pinned by digest' }]);
  assert.deepEqual(r.evidence.clusters, [{ cluster: 'eu-1', objects: 1, violations: 1 }, { cluster: 'us-1', objects: 1, violations: 0 }]);
});

test('policy gate (in-process facts): a candidate that cannot be rendered or verified is a failed gate with the code, never a pass; no cluster proves nothing', async () => {
  const spec = parse(PINNED);
  const unverified = await policyGate.evaluate(spec, ctx(async () => {
    throw new Err('BUNDLE_NOT_VERIFIED', 'there is no verified candidate to render', { outcome: 'verification' });
  }));
  assert.equal(unverified.passed, false);
  assert.equal(unverified.summary, 'cannot judge the candidate: there is no verified candidate to render');
  assert.equal(unverified.evidence.error, 'BUNDLE_NOT_VERIFIED');
  const broken = await policyGate.evaluate(spec, ctx(async () => {
    throw new Err('RENDER_FAILED', 'manifests/web.yaml:3:5: unknown parameter', { outcome: 'verification' });
  }));
  assert.equal(broken.passed, false);
  assert.equal(broken.evidence.error, 'RENDER_FAILED');
  const none = await policyGate.evaluate(spec, ctx(async () => []));
  assert.equal(none.passed, false);
  assert.match(none.summary, /no cluster/);
});

test('policy gate (in-process facts): violations kept in evidence are capped, the rest counted in the summary', async () => {
  const objects = Array.from({ length: 250 }, (_, i) => ({ file: 'manifests/many.yaml', index: i, object: web('web:1') }));
  const r = await policyGate.evaluate(parse(PINNED), ctx(async () => [{ cluster: 'c', objects }]));
  assert.equal(r.passed, false);
  assert.match(r.summary, /^250 violations of 1 rule/);
  assert.equal((r.evidence.violations as unknown[]).length, 200);
  assert.equal(r.evidence.more, 50);
  assert.equal((r.evidence.findings as string[]).at(-1), '… and 50 more violations not kept');
});

const project = (t: { after(fn: () => Promise<void>): void }, gate: string) => twoStageProject(t, { from: 'staging', to: 'production' }, gate);

async function refusal(file: string): Promise<PromoteError> {
  const err = await loadPipeline(file).then(() => assert.fail('loaded'), (e: unknown) => e);
  assert.ok(isPromoteError(err), String(err));
  assert.equal(err.exitCode, 4);
  return err;
}

test('policy gate in a pipeline: invalid CEL is refused at file:line:column and its pointer, with the column in the expression', async (t) => {
  const { file } = await project(t, `        - policy:
            rules:
              - name: replicas
                expression: "object.spec.replicas >= && true"
              - {name: typo, expression: "objekt.kind == 'Deployment'"}`);
  const err = await refusal(file);
  assert.equal(err.code, 'PIPELINE_INVALID');
  const got = err.problems.map((p) => `${p.line}:${p.column} ${p.pointer} ${p.message}`);
  assert.deepEqual(got.length, 2, got.join('\n'));
  assert.match(got[0]!, /^16:29 \/spec\/stages\/1\/gates\/0\/policy\/rules\/0\/expression the expression is not valid CEL at column 22 of the expression: /);
  assert.match(got[1]!, /^17:42 \/spec\/stages\/1\/gates\/0\/policy\/rules\/1\/expression .*unknown variable "objekt"/);
});

test('policy gate in a pipeline: a file: policy is read by the loader; a broken or missing one fails the load naming the policy file\'s positions', async (t) => {
  const { dir, file } = await project(t, '        - policy: {file: policies/production.yaml}');
  await mkdir(join(dir, 'policies'));
  await cp(join(EXAMPLES, 'images-pinned.yaml'), join(dir, 'policies', 'production.yaml'));
  const pipeline = await loadPipeline(file);
  const spec = pipeline.stages[1]!.gates[0] as PolicyGateSpec;
  assert.equal(policyGate.title(spec), 'policy policies/production.yaml');
  assert.deepEqual(spec.rules!.map((r) => r.name), ['images-pinned', 'images-pinned-cronjob', 'images-pinned-pod']);

  await writeFile(join(dir, 'policies', 'production.yaml'), 'apiVersion: promote/v1\nkind: Policy\nmetadata: {name: p}\nspec:\n  rules:\n    - {name: r, expression: "object.("}\n');
  const bad = await refusal(file);
  assert.equal(bad.code, 'POLICY_INVALID');
  assert.match(bad.message, /the policy of policies\/production\.yaml \(stage production\) cannot be used/);
  assert.deepEqual(bad.problems.map((p) => [p.file, p.line, p.pointer]), [[join(dir, 'policies', 'production.yaml'), 6, '/spec/rules/0/expression']]);

  await rm(join(dir, 'policies', 'production.yaml'));
  const missing = await refusal(file);
  assert.equal(missing.code, 'POLICY_INVALID');
  assert.match(missing.problems[0]!.message, /stage production: .*production\.yaml does not exist/);
});

test('policy gate in a pipeline: a file outside the project, or neither rules nor file, is refused', async (t) => {
  const outside = await project(t, '        - policy: {file: ../elsewhere.yaml}');
  assert.match((await refusal(outside.file)).problems.map((p) => p.message).join('\n'), /a kind: Policy file inside the project/);
  const both = await project(t, '        - policy: {file: p.yaml, rules: []}');
  assert.ok((await refusal(both.file)).problems.length > 0);
});
