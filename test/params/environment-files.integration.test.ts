import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from '../promotion/project.ts';

// One listing of environments/ for every command: `validate` (which checks the pipeline's
// environment references) and `to` (which loads the stage's environment) once disagreed about
// `.yml` files — validate passed and `to` said the environment did not exist.

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-env-files-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function promote(p: TestProject, args: string[]): Promise<Run> {
  return runPromote(args[0] === 'validate' ? args : [...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1' } });
}

test('an environments/<name>.yml file: validate and to agree (both accept it)', async () => {
  const p = await createProject(join(base, 'yml'), registry.host, { name: 'yml' });
  await rename(join(p.dir, 'environments', 'dev.yaml'), join(p.dir, 'environments', 'dev.yml'));
  const digest = await p.push(1);

  const validated = await promote(p, ['validate', '--output', 'json']);
  assert.equal(validated.code, 0, validated.stdout + validated.stderr);
  const report = JSON.parse(validated.stdout) as { environments: { name: string; file: string }[] };
  assert.equal(report.environments.find((e) => e.name === 'dev')?.file, 'environments/dev.yml');

  const promoted = await promote(p, ['to', 'dev', '--bundle', digest]);
  assert.equal(promoted.code, 0, promoted.stderr);
  assert.match(promoted.stdout, new RegExp(`^promoted ${digest} to dev\\n`));
});

test('an environment with both a .yaml and a .yml file is refused by validate and to alike', async () => {
  const p = await createProject(join(base, 'both'), registry.host, { name: 'both' });
  await writeFile(join(p.dir, 'environments', 'dev.yml'), 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters: {namespace: other, replicas: 1}\n  clusters: [{name: dev-1}]\n');
  const digest = await p.push(1);
  for (const args of [['validate'], ['to', 'dev', '--bundle', digest]]) {
    const r = await promote(p, args);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /environment "dev" has two files: environments\/dev\.yaml and environments\/dev\.yml/, args[0]);
  }
});
