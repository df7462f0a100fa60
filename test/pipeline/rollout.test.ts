import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError, type PromoteError } from '../../src/errors.ts';
import { loadPipeline } from '../../src/pipeline/load.ts';
import { allowedUnavailable, resolveWaves, type RolloutSpec } from '../../src/pipeline/rollout.ts';

async function pipelineFile(t: { after(fn: () => Promise<void>): void }, rollout: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'promote-rollout-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'pipelines'));
  await mkdir(join(dir, 'environments'));
  for (const e of ['staging', 'production']) await writeFile(join(dir, 'environments', `${e}.yaml`), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: ${e}}\nspec: {parameters: {}}\n`);
  const file = join(dir, 'pipelines', 'webapp.yaml');
  await writeFile(file, `apiVersion: promote/v1
kind: Pipeline
metadata: {name: webapp}
spec:
  repository: oci:./registry
  trust: {bundles: [keys/ci.pub], promotions: [keys/promoter.pub]}
  stages:
    - {name: staging, environment: staging}
    - name: production
      environment: production
      from: staging
      gates: [{converged: {}}]
      rollout: ${rollout}
`);
  return file;
}

test('a rollout loads: waves with names, globs and "*", after.soak as a soak gate first, then after.gates, maxUnavailable', async (t) => {
  const file = await pipelineFile(t, `{waves: [{clusters: [prod-eu-1]}, {clusters: [prod-eu-*, prod-us-1], after: {soak: 30m, gates: [{converged: {}}]}}, {clusters: "*"}], maxUnavailable: "10%"}`);
  const p = await loadPipeline(file);
  const r = p.stages[1]!.rollout!;
  assert.deepEqual(r.waves.map((w) => w.clusters), [['prod-eu-1'], ['prod-eu-*', 'prod-us-1'], ['*']]);
  assert.deepEqual(r.waves.map((w) => w.gates.map((g) => g.type)), [[], ['soak', 'converged'], []]);
  assert.deepEqual(r.maxUnavailable, { percent: 10 });
  assert.equal(allowedUnavailable(r, 25), 2);
  assert.equal(p.stages[0]!.rollout, undefined);
});

test('a broken rollout is refused with every problem at its line and pointer', async (t) => {
  const file = await pipelineFile(t, `{waves: [{clusters: [prod-eu-1], after: {soak: 5m}}, {clusters: [Prod_EU], after: {soak: soon}}, {clusters: "*", when: now}], maxUnavailable: -1}`);
  let err: PromoteError | undefined;
  try {
    await loadPipeline(file);
  } catch (e) {
    err = e as PromoteError;
  }
  assert.ok(err && isPromoteError(err, 'PIPELINE_INVALID'), String(err));
  const pointers = err.problems.map((p) => p.pointer);
  for (const want of ['/spec/stages/1/rollout/waves/0/after', '/spec/stages/1/rollout/waves/1/clusters', '/spec/stages/1/rollout/waves/2/when', '/spec/stages/1/rollout/maxUnavailable']) {
    assert.ok(pointers.some((p) => p?.startsWith(want)), `${want} in ${JSON.stringify(pointers)}`);
  }
  assert.ok(err.problems.every((p) => p.line === 13), JSON.stringify(err.problems.map((p) => p.line)));
});

const spec = (waves: string[][]): RolloutSpec => ({ waves: waves.map((clusters, i) => ({ clusters, gates: [], at: `/w/${i}` })), maxUnavailable: { count: 0 } });

test('resolveWaves: each cluster in the first wave that names it, "*" takes the rest in the environment\'s order', () => {
  const clusters = ['prod-us-1', 'prod-eu-1', 'prod-eu-2', 'prod-ap-1'];
  assert.deepEqual(resolveWaves(spec([['prod-eu-1'], ['prod-eu-*', 'prod-us-1'], ['*']]), clusters), { waves: [['prod-eu-1'], ['prod-eu-2', 'prod-us-1'], ['prod-ap-1']] });
});

test('resolveWaves refuses a name the environment lacks, a wave that takes nothing, and clusters in no wave', () => {
  const clusters = ['a-1', 'a-2', 'b-1'];
  const typo = resolveWaves(spec([['a-3'], ['*']]), clusters);
  assert.ok('problems' in typo && /names cluster a-3/.test(typo.problems[0]!), JSON.stringify(typo));
  const empty = resolveWaves(spec([['a-*'], ['a-1'], ['*']]), clusters);
  assert.ok('problems' in empty && /wave 2 .* takes no cluster/.test(empty.problems[0]!), JSON.stringify(empty));
  const left = resolveWaves(spec([['a-*']]), clusters);
  assert.ok('problems' in left && /cluster b-1 is in no wave/.test(left.problems[0]!), JSON.stringify(left));
});
