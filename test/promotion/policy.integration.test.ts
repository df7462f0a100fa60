import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publishStatusReport } from '../../src/records/status-report.ts';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, type TestProject } from './project.ts';

// The policy gate end to end: the real CLI, a real registry and a bare git ledger; the candidate
// is pulled and rendered per cluster as the agents would render it, and judged by the shipped
// example policies before anything is promoted.

const EXAMPLES = fileURLToPath(new URL('../../examples/policies/', import.meta.url));
const REPLICAS = '{policy: {rules: [{name: replicas, match: {kinds: [Deployment]}, expression: "object.spec.replicas >= 2", message: "production runs at least two replicas"}]}}';
const GATES = `[{policy: {file: policies/production.yaml}}, ${REPLICAS}]`;

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-policy-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function promote(p: TestProject, args: string[]): Promise<Run> {
  return runPromote(args[0] === 'validate' ? args : [...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1' } });
}

async function ok(p: TestProject, args: string[]): Promise<Run> {
  const r = await promote(p, args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r;
}

async function report(p: TestProject, stage: string, cluster: string, digest: string) {
  const desc = (await p.registry.resolve(digest))!;
  const since = new Date(Date.now() - 2 * 3_600_000).toISOString();
  await publishStatusReport(p.registry, { mediaType: desc.mediaType, digest, size: desc.size }, { pipeline: 'webapp', stage, cluster, phase: 'Converged', bundle: { repository: p.repository, digest }, since, observedAt: new Date().toISOString() }, p.promoter);
}

/** Ledger commits and registry tags: what a refusal must leave as it was. */
async function snapshot(p: TestProject) {
  const commit = git(p.ledgerRemote, p.env, 'rev-parse', 'main').trim();
  const tags = (await p.registry.listTags()).sort();
  return { commit, tags: await Promise.all(tags.map(async (t) => `${t}=${(await p.registry.resolve(t))?.digest}`)) };
}

async function usePolicy(p: TestProject, example: string) {
  await mkdir(join(p.dir, 'policies'), { recursive: true });
  await cp(join(EXAMPLES, example), join(p.dir, 'policies', 'production.yaml'));
}

test('policy gate: plan shows each violating object and rule (text and JSON), to refuses with exit 3 and changes nothing; a policy that holds lets it through; a configuration change is judged too', async () => {
  const p = await createProject(join(base, 'flow'), registry.host, { name: 'policy', productionGates: GATES });
  await usePolicy(p, 'images-pinned.yaml');
  const d1 = await p.push(1);
  await ok(p, ['to', 'dev', '--bundle', d1]);
  await report(p, 'dev', 'dev-1', d1);
  await ok(p, ['to', 'staging']);
  for (const c of ['staging-eu-1', 'staging-us-1']) await report(p, 'staging', c, d1);

  const plan = await promote(p, ['plan', 'production', '--no-diff']);
  assert.equal(plan.code, 3, plan.stderr + plan.stdout);
  assert.match(plan.stdout, /\n  FAIL  policy policies\/production\.yaml: 1 violation of 1 rule \(images-pinned\) in 1 of 1 cluster; matched nothing: images-pinned-cronjob, images-pinned-pod\n {10}prod-eu-1: Deployment production\/hello \(manifests\/deployment\.yaml#0\): images-pinned: every image must be pinned by digest \(image@sha256:…\) in production\n/);
  assert.match(plan.stdout, /\n  pass  policy \(1 rule\): 1 rule holds for 2 objects in 1 cluster\n/);

  const json = await promote(p, ['plan', 'production', '--no-diff', '--output', 'json']);
  assert.equal(json.code, 3);
  const gate = JSON.parse(json.stdout).gates[0];
  assert.equal(gate.passed, false);
  assert.deepEqual(gate.evidence.violations, [{ cluster: 'prod-eu-1', object: 'Deployment production/hello', file: 'manifests/deployment.yaml', index: 0, rule: 'images-pinned', message: 'every image must be pinned by digest (image@sha256:…) in production' }]);
  assert.deepEqual(gate.evidence.clusters, [{ cluster: 'prod-eu-1', objects: 2, violations: 1 }]);

  const before = await snapshot(p);
  const refused = await promote(p, ['to', 'production']);
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /error: 1 of 2 gates of production did not pass: policy policies\/production\.yaml\n  - policy policies\/production\.yaml: 1 violation of 1 rule \(images-pinned\)/);
  assert.deepEqual(await snapshot(p), before, 'ledger and registry are as they were');
  assert.ok(!before.tags.some((t) => t.startsWith('promotion-production')));

  // The same candidate under a policy it meets: promoted, with the evidence recorded.
  await usePolicy(p, 'no-latest-tag.yaml');
  const promoted = await ok(p, ['to', 'production']);
  assert.match(promoted.stdout, /pass  policy policies\/production\.yaml: 3 rules hold for 2 objects in 1 cluster; matched nothing: no-latest-tag-cronjob, no-latest-tag-pod/);

  // A configuration change renders new manifests: the policy judges them (replicas 3 → 1).
  await writeFile(join(p.dir, 'environments', 'production.yaml'), 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: production}\nspec:\n  parameters: {namespace: production, replicas: 1}\n  clusters:\n    - name: prod-eu-1\n');
  const config = await promote(p, ['plan', 'production', '--no-diff']);
  assert.equal(config.code, 3, config.stdout);
  assert.match(config.stdout, /configuration change/);
  assert.match(config.stdout, /FAIL  policy \(1 rule\): 1 violation of 1 rule \(replicas\) in 1 of 1 cluster\n {10}prod-eu-1: Deployment production\/hello \(manifests\/deployment\.yaml#0\): replicas: production runs at least two replicas\n/);
  const unchanged = await snapshot(p);
  assert.equal((await promote(p, ['to', 'production'])).code, 3);
  assert.deepEqual(await snapshot(p), unchanged);
});

test('policy gate: invalid CEL in the pipeline fails promote validate (exit 4) at file:line:column with its pointer; a broken policy file too', async () => {
  const bad = REPLICAS.replace('object.spec.replicas >= 2', 'object.spec.replicas >=');
  const p = await createProject(join(base, 'invalid'), registry.host, { name: 'invalid', productionGates: `[${bad}]` });
  const v = await promote(p, ['validate']);
  assert.equal(v.code, 4, v.stderr + v.stdout);
  assert.match(v.stderr + v.stdout, /pipelines\/webapp\.yaml:21:92: \/spec\/stages\/2\/gates\/0\/policy\/rules\/0\/expression: the expression is not valid CEL at column \d+ of the expression/);

  const f = await createProject(join(base, 'invalid-file'), registry.host, { name: 'invalid-file', productionGates: GATES });
  await mkdir(join(f.dir, 'policies'));
  await writeFile(join(f.dir, 'policies', 'production.yaml'), 'apiVersion: promote/v1\nkind: Policy\nmetadata: {name: production}\nspec:\n  rules:\n    - {name: pinned, expression: "object.image.("}\n');
  const vf = await promote(f, ['validate']);
  assert.equal(vf.code, 4, vf.stderr + vf.stdout);
  assert.match(vf.stderr + vf.stdout, /policies\/production\.yaml:6:\d+: \/spec\/rules\/0\/expression: the expression is not valid CEL/);
  const plan = await promote(f, ['plan', 'production']);
  assert.equal(plan.code, 4);
  assert.match(plan.stderr, /POLICY_INVALID|not valid CEL/);
});
