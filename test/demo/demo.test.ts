import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { cleanEnv, cli, exec, ledgerLog, listFiles, promote, root, type DemoJson } from './helpers.ts';

// `promote demo` as a newcomer runs it: the real CLI in its own process, on a copy of the
// example (so the checkout is never written), and then the state it left on disk is read back
// with plain tools — files, git, YAML — not with promote's own code.

async function checkFinalState(project: string, r: DemoJson, clusters: Record<string, string[]>, env: Record<string, { namespace: string }>, bundleManifests: string[]): Promise<void> {
  const [v1, v2] = r.releases;
  assert.equal(v1!.version, '1.0');
  assert.equal(v2!.version, '1.1');
  assert.notEqual(v1!.digest, v2!.digest);

  // The story: 1.1 runs in dev and staging; production was rolled back to 1.0.
  assert.deepEqual(r.stages, { dev: v2!.digest, staging: v2!.digest, production: v1!.digest });
  // The ledger files say the same (read as plain YAML from the ledger's git tree).
  for (const [stage, digest] of Object.entries(r.stages)) {
    const { stdout } = await exec('git', ['-C', join(project, '.promote', 'ledger'), 'show', `main:promotions/webapp/${stage}.yaml`]);
    const doc = parse(stdout) as { record: { bundle: { digest: string } } };
    assert.equal(doc.record.bundle.digest, digest, `ledger record of ${stage}`);
  }
  // Every agent reported Converged on what its stage's record names.
  for (const row of r.status) {
    assert.equal(row.phase, 'Converged', `${row.stage}/${row.cluster}`);
    assert.equal(row.observed, row.desired, `${row.stage}/${row.cluster}`);
  }
  assert.deepEqual(r.status.map((s) => `${s.stage}/${s.cluster}`), Object.entries(clusters).flatMap(([stage, cs]) => cs.map((c) => `${stage}/${c}`)));

  // Every cluster directory holds the rendered files of its environment.
  for (const [stage, names] of Object.entries(clusters)) {
    for (const cluster of names) {
      const dir = join(project, '.promote', 'clusters', cluster);
      const files = (await listFiles(dir)).filter((f) => !f.startsWith('.'));
      assert.deepEqual(files, bundleManifests, `files in ${cluster}`);
      for (const f of files) {
        const text = await readFile(join(dir, f), 'utf8');
        assert.doesNotMatch(text, /\$\{(params|promote)\./, `${cluster}/${f} is rendered`);
        for (const doc of text.split(/^---$/m).map((d) => parse(d) as { metadata?: { namespace?: string; name?: string; labels?: Record<string, string> }; kind?: string } | null)) {
          if (!doc?.metadata) continue;
          if (doc.kind === 'Namespace') assert.equal(doc.metadata.name, env[stage]!.namespace);
          else assert.equal(doc.metadata.namespace, env[stage]!.namespace, `${cluster}/${f} namespace`);
          assert.equal(doc.metadata.labels?.['app.kubernetes.io/environment'], stage, `${cluster}/${f} environment label`);
        }
      }
    }
  }

  // Drift: detected as Drifted by an agent that may not heal, then corrected.
  assert.equal(r.drift.corrected, true);
  assert.match(r.drift.detected, new RegExp(`${r.drift.file.replace(/[.]/g, '\\.')} was modified`));
  const steps = r.steps.map((s) => `${s.step}:${s.result}`);
  assert.ok(steps.includes('hand edit:ok'));
  assert.ok(r.steps.some((s) => s.step === 'agent' && /Drifted/.test(s.detail)));
  assert.ok(r.steps.some((s) => s.step === 'agent' && /DriftCorrected/.test(s.detail)));

  // The refusals the story promises, in order, and the forced rollback with its reason.
  assert.deepEqual(r.steps.filter((s) => s.result === 'refused').map((s) => s.step), ['to staging', 'to production', 'rollback']);
  assert.match(r.steps.find((s) => s.step === 'to staging' && s.result === 'refused')!.detail, /converged/);
  assert.match(r.steps.find((s) => s.step === 'to production' && s.result === 'refused')!.detail, /approval/);
  assert.equal(r.rollback.from, v2!.digest);
  assert.equal(r.rollback.to, v1!.digest);
  const ledger = join(project, '.promote', 'ledger');
  const { stdout: last } = await exec('git', ['-C', ledger, 'log', '-1', '--format=%B']);
  assert.match(last, /^roll back webapp\/production/);
  assert.ok(r.rollback.reason && last.includes(r.rollback.reason), 'the rollback reason is in the ledger commit');

  // The ledger history: one commit per promotion, approval and rollback, by the two people
  // (1.1 enters dev while 1.0 soaks in staging).
  const s = (stage: string, d: string) => `promote webapp/${stage}: ${d.slice(0, 19)}`;
  const log = await ledgerLog(ledger);
  assert.deepEqual(log.map((l) => l.replace(/ from \w+$/, '').replace(/ by .*$/, '')), [
    `Pat Promoter|${s('dev', v1!.digest)}`,
    `Pat Promoter|${s('staging', v1!.digest)}`,
    `Pat Promoter|${s('dev', v2!.digest)}`,
    `Alex Approver|approve webapp/production: ${v1!.digest.slice(0, 19)}`,
    `Pat Promoter|${s('production', v1!.digest)}`,
    `Pat Promoter|${s('staging', v2!.digest)}`,
    `Alex Approver|approve webapp/production: ${v2!.digest.slice(0, 19)}`,
    `Pat Promoter|${s('production', v2!.digest)}`,
    `Pat Promoter|roll back webapp/production: ${v1!.digest.slice(0, 19)}`,
  ]);
}

test('promote demo on a copy of the example: two releases through three stages, drift corrected, production rolled back — and again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-demo-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const project = join(dir, 'example');
  for (const d of ['pipelines', 'environments', 'bundles']) await cp(join(root, d), join(project, d), { recursive: true });
  const manifests = (await listFiles(join(root, 'bundles', 'webapp', 'manifests'))).map((f) => `manifests/${f}`);
  const clusters = { dev: ['dev-1'], staging: ['staging-eu-1', 'staging-us-1'], production: ['prod-eu-1', 'prod-us-1'] };
  const env = { dev: { namespace: 'dev' }, staging: { namespace: 'staging' }, production: { namespace: 'production' } };

  const first = await promote(['demo', '--project', project, '--output', 'json'], dir);
  const r1 = JSON.parse(first.stdout) as DemoJson;
  assert.match(first.stderr, /demo password|password "promote-demo"/);
  await checkFinalState(project, r1, clusters, env, manifests);
  // Cluster overrides land where they should: prod-us-1 scales the frontend further.
  const hpa = (c: string) => readFile(join(project, '.promote', 'clusters', c, 'manifests', 'frontend', 'hpa.yaml'), 'utf8');
  assert.match(await hpa('prod-eu-1'), /maxReplicas: 8\n/);
  assert.match(await hpa('prod-us-1'), /maxReplicas: 12\n/);
  // 1.1's change is in dev; production runs 1.0's colour again after the rollback.
  const colour = (c: string) => readFile(join(project, '.promote', 'clusters', c, 'manifests', 'frontend', 'deployment.yaml'), 'utf8');
  assert.match(await colour('dev-1'), /#b8336a/);
  assert.match(await colour('prod-us-1'), /#34577c/);

  // Idempotent: the second run resets its own state and tells the same story, same digests.
  const second = await promote(['demo', '--project', project, '--output', 'json'], dir);
  const r2 = JSON.parse(second.stdout) as DemoJson;
  assert.match(second.stderr, /removed the last run's state/);
  assert.match(second.stderr, /reusing/);
  assert.deepEqual(r2.releases.map((x) => x.digest), r1.releases.map((x) => x.digest), 'builds are reproducible');
  await checkFinalState(project, r2, clusters, env, manifests);
});

test('promote init, then promote validate, then promote demo --project on the new project', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-init-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const env = cleanEnv({ PROMOTE_PASSWORD: 'correct horse' });
  const made = JSON.parse((await promote(['init', 'shop', '--name', 'webapp', '--output', 'json'], dir, env)).stdout) as { files: string[]; keys: string[] };
  assert.ok(made.files.includes('pipelines/webapp.yaml'));
  assert.deepEqual(made.keys, ['keys/ci.key', 'keys/ci.pub', 'keys/promoter.key', 'keys/promoter.pub', 'keys/agent.key', 'keys/agent.pub', 'keys/approver.key', 'keys/approver.pub']);
  const project = join(dir, 'shop');

  const report = JSON.parse((await promote(['validate', '--output', 'json'], project, env)).stdout) as { bundle?: { name: string }; environments: { parametersChecked: boolean }[] };
  assert.equal(report.bundle?.name, 'webapp');
  assert.equal(report.environments.length, 3);
  assert.ok(report.environments.every((e) => e.parametersChecked));

  // A second init refuses and names what it would overwrite.
  const again = await exec(process.execPath, [cli, 'init', 'shop'], { cwd: dir, env }).then(
    () => assert.fail('init over an existing project must refuse'),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(again.code, 2);
  assert.match(again.stderr, /environments\/dev\.yaml.*keys\/ci\.key/);

  const r = JSON.parse((await promote(['demo', '--project', project, '--output', 'json'], dir, env)).stdout) as DemoJson & { keys: { password: string } };
  assert.equal(r.keys.password, 'PROMOTE_PASSWORD');
  const manifests = (await listFiles(join(project, 'bundles', 'webapp', 'manifests'))).map((f) => `manifests/${f}`);
  await checkFinalState(project, r, { dev: ['dev-1'], staging: ['staging-1', 'staging-2'], production: ['prod-1', 'prod-2'] }, { dev: { namespace: 'webapp-dev' }, staging: { namespace: 'webapp-staging' }, production: { namespace: 'webapp' } }, manifests);
  // Per-environment and per-cluster parameters: production's prod-2 overrides replicas.
  const deployment = (c: string) => readFile(join(project, '.promote', 'clusters', c, 'manifests', 'deployment.yaml'), 'utf8');
  assert.match(await deployment('dev-1'), /replicas: 1\n/);
  assert.match(await deployment('prod-1'), /replicas: 3\n/);
  assert.match(await deployment('prod-2'), /replicas: 5\n/);
});

test('promote init refuses to overwrite, naming the files; --force overwrites exactly those and nothing else', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-init-force-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const env = cleanEnv({ PROMOTE_PASSWORD: '' });
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(join(dir, 'environments'), { recursive: true });
  await writeFile(join(dir, 'environments', 'dev.yaml'), 'mine\n');
  await writeFile(join(dir, 'notes.txt'), 'untouched\n');
  const refused = await exec(process.execPath, [cli, 'init', '.', '--name', 'shop'], { cwd: dir, env }).then(
    () => assert.fail('init must refuse'),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /already has a file promote init would write: environments\/dev\.yaml/);
  assert.match(refused.stderr, /--force/);
  assert.deepEqual(await readdir(dir), ['environments', 'notes.txt'], 'a refusal writes nothing');
  const forced = JSON.parse((await promote(['init', '.', '--name', 'shop', '--force', '--output', 'json'], dir, env)).stdout) as { overwritten: string[] };
  assert.deepEqual(forced.overwritten, ['environments/dev.yaml']);
  assert.match(await readFile(join(dir, 'environments', 'dev.yaml'), 'utf8'), /kind: Environment/);
  assert.equal(await readFile(join(dir, 'notes.txt'), 'utf8'), 'untouched\n');
});

test('promote demo refuses a pipeline whose registry or ledger is not its own, one stage, a branching pipeline or a manual gate, and writes nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-demo-foreign-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const d of ['pipelines', 'environments', 'bundles']) await cp(join(root, d), join(dir, d), { recursive: true });
  const file = join(dir, 'pipelines', 'webapp.yaml');
  const original = await readFile(file, 'utf8');
  const { writeFile } = await import('node:fs/promises');
  const stagesAt = original.indexOf('    - name: staging');
  // production comes from dev too: dev → staging and dev → production.
  const branching = original.replace(/(- name: production\n {6}environment: production\n {6}from:) staging/, '$1 dev');
  assert.notEqual(branching, original);
  const manual = original.replace(/- approval: \{count: 1, separateDuties: true\}/, '- manual: {}');
  assert.notEqual(manual, original);
  const cases: [string, string, RegExp][] = [
    ['the team registry', original.replace('repository: oci:./.promote/registry/webapp', 'repository: registry.example.com/acme/webapp'), /DEMO_FOREIGN_REGISTRY|pushes to registry\.example\.com\/acme\/webapp/],
    ['the config repository as ledger', original.replace(/ {2}ledger:\n {4}repository: \.\/\.promote\/ledger\n {4}branch: main\n/, ''), /records promotions in/],
    ['a one-stage pipeline', original.slice(0, stagesAt), /error: the demo promotes through two or more stages; pipeline webapp has one \(dev\)\nhint: add a stage with from: dev/],
    ['a branching pipeline', branching, /error: the demo walks one chain of stages; in pipeline webapp staging and production both come from dev\nhint: the demo walks one chain of stages, each from the one before/],
    ['a manual gate', manual, /error: stage production of pipeline webapp has a manual gate \(pipelines\/webapp\.yaml:\d+\)/],
  ];
  for (const [what, text, message] of cases) {
    await writeFile(file, text);
    const err = await exec(process.execPath, [cli, 'demo', '--project', dir], { cwd: dir, env: cleanEnv() }).then(
      () => assert.fail(`demo must refuse ${what}`),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(err.code, 2, `${what}: ${err.stderr}`);
    assert.match(err.stderr, message, what);
    assert.deepEqual((await readdir(dir)).sort(), ['bundles', 'environments', 'pipelines'], `${what}: nothing written`);
  }
});
