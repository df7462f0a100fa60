import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { clusterNames } from '../../src/params/cluster-names.ts';

// Which clusters a stage has was decided in five places, each with its own fallback for an
// environment without clusters (the environment's name, the stage's environment, the plan
// target's environment): status, plan's diff, the demo and the engine must name the same targets.

test('clusterNames: the listed clusters in order, or one target named as the environment', () => {
  assert.deepEqual(clusterNames({ name: 'staging', clusters: [{ name: 'eu-1' }, { name: 'us-1' }] }), ['eu-1', 'us-1']);
  assert.deepEqual(clusterNames({ name: 'dev', clusters: [] }), ['dev']);
});

test('no other file in src/ derives cluster names from an environment with a fallback of its own', () => {
  const src = join(import.meta.dirname, '..', '..', 'src');
  const copies = readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && e.name !== 'cluster-names.ts')
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => /clusters\.length\s*\?\s*[\w.]*clusters\.map\(\(c\) => c\.name\)/.test(readFileSync(f, 'utf8')))
    .map((f) => relative(src, f));
  assert.deepEqual(copies, [], 'use clusterNames() from src/params/cluster-names.ts');
});
