import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { demoStages } from '../../src/demo/demo-stages.ts';
import { isPromoteError } from '../../src/errors.ts';
import { loadPipeline } from '../../src/pipeline/load.ts';

// The chain the demo walks, from pipeline files loaded as promote loads them: the order follows
// `from`, not the file, and what the demo cannot walk or pass is refused with DEMO_PIPELINE_SHAPE.

async function stagesOf(stages: string, t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'promote-demo-stages-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'pipelines'));
  await mkdir(join(dir, 'environments'));
  for (const env of stages.matchAll(/environment: (\w+)/g)) {
    await writeFile(join(dir, 'environments', `${env[1]}.yaml`), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: ${env[1]}}\nspec: {clusters: [{name: ${env[1]}-1}]}\n`);
  }
  const file = join(dir, 'pipelines', 'p.yaml');
  await writeFile(file, `apiVersion: promote/v1
kind: Pipeline
metadata: {name: p}
spec:
  repository: oci:./.promote/registry/p
  ledger: {repository: ./.promote/ledger, branch: main}
  trust: {bundles: [keys/ci.pub], promotions: [keys/promoter.pub], approvers: [keys/approver.pub]}
  stages:
${stages}`);
  return loadPipeline(file);
}

function refusal(fn: () => unknown): { message: string; hint?: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(isPromoteError(err), String(err));
    assert.equal(err.code, 'DEMO_PIPELINE_SHAPE');
    assert.equal(err.outcome, 'usage');
    return { message: err.message, ...(err.hint && { hint: err.hint }) };
  }
  assert.fail('demoStages must refuse');
}

test('demoStages follows from, whatever order the file lists the stages in', async (t) => {
  const p = await stagesOf(`    - {name: prod, environment: prod, from: qa}
    - {name: dev, environment: dev, promotion: auto}
    - {name: qa, environment: qa, from: dev, gates: [{converged: {}}]}
`, t);
  assert.deepEqual(demoStages(p).map((s) => s.name), ['dev', 'qa', 'prod']);
});

test('demoStages refuses two first stages, a hold, two approvals and an hour of soak, naming stage and line', async (t) => {
  const twoFirsts = await stagesOf('    - {name: a, environment: a}\n    - {name: b, environment: b}\n', t);
  assert.match(refusal(() => demoStages(twoFirsts)).message, /pipeline p has 2 first stages \(a, b\), stages without from/);
  const held = await stagesOf('    - {name: a, environment: a}\n    - {name: b, environment: b, from: a, hold: true}\n', t);
  assert.match(refusal(() => demoStages(held)).message, /^stage b of pipeline p starts held \(hold: true, .*p\.yaml:10\)/);
  const two = await stagesOf('    - {name: a, environment: a}\n    - {name: b, environment: b, from: a, gates: [{approval: {count: 2}}]}\n', t);
  assert.match(refusal(() => demoStages(two)).message, /stage b of pipeline p asks for 2 approvals/);
  const hour = await stagesOf('    - {name: a, environment: a}\n    - {name: b, environment: b, from: a, gates: [{soak: 1h}]}\n', t);
  const slow = refusal(() => demoStages(hour));
  assert.match(slow.message, /stage b of pipeline p soaks for 1h/);
  assert.match(slow.hint!, /soak: 1s/);
});
