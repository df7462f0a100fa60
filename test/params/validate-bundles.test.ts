import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promote } from '../cli/run-promote.ts';
import { DEPLOYMENT, environmentYaml, PARAMS_SCHEMA } from './project.ts';

// `promote validate` in a project with several bundles/<name>/ (issue 11 §5): environments are
// checked against the bundle their pipeline promotes, every problem names its bundle, and when
// nothing ties the project to one bundle validate says so and lists them — it never passes
// "for shape only" in silence. Through the real CLI on real files.

const WORKER_SCHEMA = { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', required: ['queue'], properties: { queue: { type: 'string', minLength: 1 } } };

const FILES: Record<string, string | object> = {
  'bundles/web/bundle.yaml': 'apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: web}\n',
  'bundles/web/params.schema.json': PARAMS_SCHEMA,
  'bundles/web/manifests/deployment.yaml': DEPLOYMENT,
  'bundles/worker/bundle.yaml': 'apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: worker}\n',
  'bundles/worker/params.schema.json': WORKER_SCHEMA,
  'bundles/worker/manifests/config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: worker}\ndata: {queue: "${params.queue}"}\n',
  'environments/dev.yaml': environmentYaml('dev', '  parameters: {namespace: dev, replicas: 1}\n'),
  // replicas: 50 breaks web's schema (maximum 10): validate used to pass it "for shape only".
  'environments/production.yaml': environmentYaml('production', '  parameters: {namespace: production, replicas: 50}\n'),
};

const pipeline = (name: string, repository: string, stages: string) => `apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: ${name}}\nspec:\n  repository: ${repository}\n  stages:\n${stages}`;

async function project(t: TestContext, extra: Record<string, string | object>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'promote-validate-bundles-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [path, content] of Object.entries({ ...FILES, ...extra })) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
  return dir;
}

test('several bundles, one pipeline named like one of them: its environments are checked against that bundle, named in each problem', async (t) => {
  const dir = await project(t, { 'pipelines/web.yaml': pipeline('web', 'oci:./.promote/registry/web', '    - {name: dev, environment: dev}\n    - {name: production, environment: production, from: dev}\n') });
  const r = await promote(['validate'], { cwd: dir });
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.match(r.stderr, /environments\/production\.yaml:\d+:\d+: \/spec\/parameters\/replicas: bundle web: .*\(expected .*10.*got 50\)/);
  assert.doesNotMatch(r.stderr, /bundle worker:/, 'worker is no pipeline of this project: its schema is nobody\'s contract');
  const fixed = await project(t, {
    'pipelines/web.yaml': pipeline('web', 'registry.example.com/acme/web', '    - {name: dev, environment: dev}\n'),
    'environments/production.yaml': environmentYaml('production', '  parameters: {namespace: production, replicas: 3}\n'),
  });
  const ok = await promote(['validate'], { cwd: fixed });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^bundle web: manifests reference only declared parameters/m);
  assert.match(ok.stdout, /^environment production: valid \(parameters satisfy the bundle schema\)$/m);
  assert.doesNotMatch(ok.stdout, /shape only/);
  assert.match(ok.stderr, /note: bundles\/web of 2 bundles: pipeline web promotes it/);
});

test('two pipelines, two bundles: each environment is checked against the bundle of the pipelines that use it', async (t) => {
  const dir = await project(t, {
    'pipelines/web.yaml': pipeline('web', 'oci:./r/web', '    - {name: dev, environment: dev}\n    - {name: production, environment: production, from: dev}\n'),
    // Tied by its repository's last component, not its name.
    'pipelines/jobs.yaml': pipeline('jobs', 'registry.example.com/acme/worker', '    - {name: jobs, environment: jobs}\n'),
    'environments/jobs.yaml': environmentYaml('jobs', '  parameters: {queue: ""}\n'),
  });
  const r = await promote(['validate', '--output', 'json'], { cwd: dir });
  assert.equal(r.code, 4, r.stderr);
  const problems = (JSON.parse(r.stdout).error.problems as { file: string; message: string }[]).map((p) => `${p.file.replace(/.*environments\//, '')}: ${p.message.replace(/:.*/, '')}`).sort();
  assert.deepEqual(problems, ['jobs.yaml: bundle worker', 'production.yaml: bundle web']);

  const fixed = await project(t, {
    'pipelines/web.yaml': pipeline('web', 'oci:./r/web', '    - {name: dev, environment: dev}\n'),
    'pipelines/jobs.yaml': pipeline('jobs', 'registry.example.com/acme/worker', '    - {name: jobs, environment: jobs}\n'),
    'environments/jobs.yaml': environmentYaml('jobs', '  parameters: {queue: emails}\n'),
  });
  const ok = await promote(['validate'], { cwd: fixed });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^environment jobs: valid \(parameters satisfy the schema of bundle worker\)$/m);
  assert.match(ok.stdout, /^environment dev: valid \(parameters satisfy the schema of bundle web\)$/m);
  // production is in no stage now: said so, not passed off as checked.
  assert.match(ok.stdout, /^environment production: valid \(shape only\)$/m);
  assert.match(ok.stderr, /note: environment production is in no stage of any pipeline/);
});

test('several bundles and nothing ties the project to one: exit 2 with the list and the flag to choose; --bundle then checks it', async (t) => {
  const dir = await project(t, { 'pipelines/shop.yaml': pipeline('shop', 'oci:./.promote/registry/shop', '    - {name: dev, environment: dev}\n    - {name: production, environment: production, from: dev}\n') });
  const r = await promote(['validate'], { cwd: dir });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /error: \. has 2 bundles \(bundles\/web, bundles\/worker\) and pipeline shop promotes none of them by name/);
  assert.match(r.stderr, /hint: choose one: promote validate --bundle bundles\/web \| promote validate --bundle bundles\/worker/);
  const chosen = await promote(['validate', '--bundle', 'bundles/web'], { cwd: dir });
  assert.equal(chosen.code, 4, chosen.stderr);
  assert.match(chosen.stderr, /environments\/production\.yaml:\d+:\d+: \/spec\/parameters\/replicas: /);
});
