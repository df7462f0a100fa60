import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../bundle/helpers.ts';
import { promote } from './run-promote.ts';

// `promote render --env <env>` at the root of a project `promote init` or `promote import` made
// finds the project's bundle under bundles/<name>/ as `promote validate` does (issue 16).

const env = (home: string) => ({ ...process.env, HOME: home, PROMOTE_PASSWORD: 'render-project-test' });

test('promote render --env at a project root renders its only bundle under bundles/, with the project environments; with two it asks which', async () => {
  await using tmp = await tempDir();
  const init = await promote(['init', 'shop', '--name', 'shop'], { cwd: tmp.path, env: env(tmp.path) });
  assert.equal(init.code, 0, init.stderr);
  const project = join(tmp.path, 'shop');

  const here = await promote(['render', '--env', 'production'], { cwd: project, env: env(tmp.path) });
  assert.equal(here.code, 0, here.stderr);
  assert.match(here.stdout, /kind: Deployment/);
  assert.match(here.stdout, /for environment production/);
  const named = await promote(['render', 'shop', '--env', 'production'], { cwd: tmp.path, env: env(tmp.path) });
  assert.equal(named.code, 0, named.stderr);
  assert.equal(named.stdout, here.stdout, 'the project directory named from outside renders the same');

  await cp(join(project, 'bundles', 'shop'), join(project, 'bundles', 'other'), { recursive: true });
  const two = await promote(['render', '--env', 'production'], { cwd: project, env: env(tmp.path) });
  assert.equal(two.code, 2);
  assert.match(two.stderr, /has 2 bundles \(bundles\/other, bundles\/shop\): which one to render\?/);
  assert.match(two.stderr, /promote render bundles\/other --env/);
});
