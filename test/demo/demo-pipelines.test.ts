import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { renderTools, renderToolsEnv } from '../harness/render-tools.ts';
import { cleanEnv, exec, ledgerLog, listFiles, promote, type DemoJson } from './helpers.ts';

// `promote demo` on pipelines other than the example's three stages, through the real CLI: the
// two-stage project `promote import` writes from the flux example's overlays (as generated: no
// keys, no ledger yet) and promote init's project with a fourth stage. What it left is read back
// with plain tools (files, git, YAML, kubectl kustomize for the originals).

const FLUX = join(import.meta.dirname, '..', 'fixtures', 'flux2-kustomize-helm-example', 'apps');

/** Objects by kind/namespace/name, whatever the files and documents they came in. */
function objectsOf(yaml: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const d of parseAllDocuments(yaml)) {
    const v = d.toJS() as { kind: string; metadata: { name: string; namespace?: string } } | null;
    if (v) out.set(`${v.kind}/${v.metadata.namespace ?? ''}/${v.metadata.name}`, v);
  }
  return out;
}

async function clusterYaml(dir: string): Promise<string> {
  const files = (await listFiles(dir)).filter((f) => !f.startsWith('.'));
  return (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('\n---\n');
}

/** The ledger's subjects without the `from`/`by` tails, as `author|subject`. */
async function storyLog(ledger: string): Promise<string[]> {
  return (await ledgerLog(ledger)).map((l) => l.replace(/ from \w+$/, '').replace(/ by .*$/, ''));
}

test('promote demo on the two-stage project promote import made of the flux example: staging plays dev, production gets the approval, drift and rollback', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-demo-import-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tools = renderToolsEnv(await renderTools());
  await promote(['import', join(FLUX, 'staging'), join(FLUX, 'production'), '--out', 'podinfo'], dir, cleanEnv(tools));
  const project = join(dir, 'podinfo');
  assert.deepEqual((await readdir(project)).sort(), ['.gitignore', 'bundles', 'environments', 'pipelines'], 'import writes no keys and no state');

  // The demo needs no renderer binary: the imported bundle is plain manifests.
  const { stdout, stderr } = await promote(['demo', '--project', project, '--output', 'json'], dir);
  const r = JSON.parse(stdout) as DemoJson & { keys: Record<string, string> };
  assert.match(stderr, /^promote demo: build once, promote the same digest staging → production /);
  assert.match(stderr, /keygen +created keys\/ci\.key, keys\/promoter\.key, keys\/agent\.key, keys\/approver\.key/);
  for (const k of ['ci', 'promoter', 'agent', 'approver']) {
    assert.match(await readFile(join(project, 'keys', `${k}.pub`), 'utf8'), /BEGIN PUBLIC KEY/, `keys/${k}.pub made where the imported pipeline's trust list names it`);
  }

  const [v1, v2] = r.releases;
  assert.notEqual(v1!.digest, v2!.digest);
  assert.deepEqual(r.stages, { staging: v2!.digest, production: v1!.digest });
  assert.deepEqual(r.status.map((s) => [s.stage, s.cluster, s.phase, s.observed === s.desired]), [['staging', 'staging-1', 'Converged', true], ['production', 'production-1', 'Converged', true]]);

  // production is refused twice: before staging converged (every gate fails), then only for the
  // approval; the rollback is refused (staging runs 1.1) and forced.
  const refused = r.steps.filter((s) => s.result === 'refused');
  assert.deepEqual(refused.map((s) => s.step), ['to production', 'to production', 'rollback']);
  assert.match(refused[0]!.detail, /3 of 3 gates did not pass — converged: 0\/1 clusters of staging/);
  assert.match(refused[1]!.detail, /1 of 3 gates did not pass — approval/);
  assert.match(r.steps.find((s) => s.step === 'release' && s.detail.includes('1.1'))!.detail, /1\.1 while 1\.0 runs in production \(same files, new version\)/);
  assert.equal(r.rollback.stage, 'production');
  assert.equal(r.rollback.to, v1!.digest);
  assert.match(r.rollback.reason!, /it was rejected by design review/);
  assert.equal(r.drift.cluster, 'production-1');
  assert.equal(r.drift.corrected, true);

  const ledger = join(project, '.promote', 'ledger');
  const s = (stage: string, d: string) => `Pat Promoter|promote podinfo/${stage}: ${d.slice(0, 19)}`;
  assert.deepEqual(await storyLog(ledger), [
    s('staging', v1!.digest),
    `Alex Approver|approve podinfo/production: ${v1!.digest.slice(0, 19)}`,
    s('production', v1!.digest),
    s('staging', v2!.digest),
    `Alex Approver|approve podinfo/production: ${v2!.digest.slice(0, 19)}`,
    s('production', v2!.digest),
    `Pat Promoter|roll back podinfo/production: ${v1!.digest.slice(0, 19)}`,
  ]);

  // Each cluster holds what its overlay renders, object for object.
  for (const env of ['staging', 'production']) {
    const { stdout: original } = await exec(tools.PROMOTE_KUSTOMIZE!, ['kustomize', join(FLUX, env)], { maxBuffer: 16 * 1024 * 1024 });
    assert.deepEqual(objectsOf(await clusterYaml(join(project, '.promote', 'clusters', `${env}-1`))), objectsOf(original), `${env}-1 runs what apps/${env} renders`);
  }
});

test('promote demo on promote init\'s project with a fourth stage: canary is walked like staging, and the text ends with where to look', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-demo-four-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const env = cleanEnv({ PROMOTE_PASSWORD: 'four stages' });
  await promote(['init', 'shop', '--name', 'webapp'], dir, env);
  const project = join(dir, 'shop');
  await writeFile(join(project, 'environments', 'canary.yaml'), 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: canary}\nspec:\n  parameters: {namespace: webapp-canary}\n  clusters: [{name: canary-1}]\n');
  const file = join(project, 'pipelines', 'webapp.yaml');
  const pipeline = await readFile(file, 'utf8');
  const four = pipeline.replace(/( {4}- name: production\n {6}environment: production\n {6}from:) staging/, '    - name: canary\n      environment: canary\n      from: staging\n      gates: [{converged: {}}]\n$1 canary');
  assert.notEqual(four, pipeline);
  await writeFile(file, four);

  const { stdout, stderr } = await promote(['demo', '--project', project], dir, env);
  assert.match(stderr, /^promote demo: build once, promote the same digest dev → staging → canary → production /);
  assert.match(stderr, /to staging +refused \(exit 3\): 2 of 2 gates did not pass — converged: 0\/1 clusters of dev/);
  assert.match(stderr, /to canary +canary ← sha256:[0-9a-f]{12}… from staging: converged ✓\n/);
  assert.match(stderr, /release +webapp 1\.1 while 1\.0 soaks in canary /);
  assert.match(stderr, /rollback +refused \(exit 3\): 2 of 3 gates did not pass — converged: 0\/1 clusters of canary/);

  // The text: status, digests, who runs what, the wall time, and last the commands to look around.
  const lines = stdout.trimEnd().split('\n');
  assert.ok(lines.includes('production runs 1.0 again after the rollback; dev, staging and canary run 1.1.'), stdout);
  const look = lines.findIndex((l) => l.startsWith('Look around — the state stays on disk'));
  assert.ok(look > lines.findIndex((l) => l.startsWith('demo finished in ')), 'the wall time comes before where to look');
  assert.deepEqual(lines.slice(look + 1, look + 3), ['  cd shop', '  promote status']);
  assert.ok(lines.slice(look + 1).every((l) => l.startsWith('  ')), 'nothing follows the commands');
  assert.ok(lines.includes('  promote diff-env canary production/prod-2 bundles/webapp'));
  assert.match(lines.at(-2)!, /^ {2}promote to production --key keys\/promoter\.key {3}# 1\.1 again/);
  assert.match(lines.at(-1)!, /^ {2}promote ui {3}# all of it in your browser at http:\/\/127\.0\.0\.1:8080/, 'the demo ends by pointing at promote ui');

  const ledger = join(project, '.promote', 'ledger');
  // 1.1 runs everywhere but production, which was rolled back to 1.0 (the ledger's records).
  const v2 = await recordOf(ledger, 'dev');
  const v1 = await recordOf(ledger, 'production');
  assert.notEqual(v1, v2);
  assert.equal(await recordOf(ledger, 'staging'), v2);
  assert.equal(await recordOf(ledger, 'canary'), v2);
  const s = (stage: string, d: string) => `Pat Promoter|promote webapp/${stage}: ${d.slice(0, 19)}`;
  assert.deepEqual(await storyLog(ledger), [
    s('dev', v1), s('staging', v1), s('canary', v1),
    s('dev', v2),
    `Alex Approver|approve webapp/production: ${v1.slice(0, 19)}`,
    s('production', v1),
    s('staging', v2), s('canary', v2),
    `Alex Approver|approve webapp/production: ${v2.slice(0, 19)}`,
    s('production', v2),
    `Pat Promoter|roll back webapp/production: ${v1.slice(0, 19)}`,
  ]);
  const deployment = parse(await readFile(join(project, '.promote', 'clusters', 'canary-1', 'manifests', 'deployment.yaml'), 'utf8')) as { metadata: { namespace: string } };
  assert.equal(deployment.metadata.namespace, 'webapp-canary', 'canary-1 runs the canary environment');
});

/** The bundle digest of a stage's current record, from the ledger's git tree. */
async function recordOf(ledger: string, stage: string): Promise<string> {
  const { stdout } = await exec('git', ['-C', ledger, 'show', `main:promotions/webapp/${stage}.yaml`]);
  return (parse(stdout) as { record: { bundle: { digest: string } } }).record.bundle.digest;
}

test('promote demo on two stages without gates: the first is entered by promote to, no refusal or approval is shown, the rollback needs no force', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-demo-nogates-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const env = cleanEnv({ PROMOTE_PASSWORD: 'no gates' });
  await promote(['init', 'shop', '--name', 'webapp'], dir, env);
  const project = join(dir, 'shop');
  const file = join(project, 'pipelines', 'webapp.yaml');
  const pipeline = await readFile(file, 'utf8');
  const stages = pipeline.indexOf('  stages:\n');
  assert.ok(stages > 0);
  await writeFile(file, `${pipeline.slice(0, stages)}  stages:\n    - {name: dev, environment: dev}\n    - {name: production, environment: production, from: dev}\n`);

  const r = JSON.parse((await promote(['demo', '--project', project, '--output', 'json'], dir, env)).stdout) as DemoJson;
  const [v1, v2] = r.releases;
  assert.deepEqual(r.steps.filter((s) => s.result === 'refused'), [], 'nothing to refuse');
  assert.ok(!r.steps.some((s) => s.step === 'approve' || s.step === 'run --once'), r.steps.map((s) => s.step).join(', '));
  assert.match(r.steps.find((s) => s.step === 'to dev')!.detail, /^dev ← sha256:[0-9a-f]{12}… \(oci:shop\/\.promote\/registry\/webapp:1\.0\): signature and parameters verified; ledger commit/);
  assert.deepEqual(r.steps.filter((s) => s.step === 'rollback').map((s) => s.detail), [`production ← ${v1!.digest.slice(0, 19)}… (1.0): no gates`]);
  assert.deepEqual(r.rollback, { stage: 'production', from: v2!.digest, to: v1!.digest });
  assert.deepEqual(r.stages, { dev: v2!.digest, production: v1!.digest });
  const s = (stage: string, d: string) => `Pat Promoter|promote webapp/${stage}: ${d.slice(0, 19)}`;
  assert.deepEqual(await storyLog(join(project, '.promote', 'ledger')), [
    s('dev', v1!.digest), s('production', v1!.digest), s('dev', v2!.digest), s('production', v2!.digest),
    `Pat Promoter|roll back webapp/production: ${v1!.digest.slice(0, 19)}`,
  ]);
});
