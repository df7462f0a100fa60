import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parameterChanges } from '../../src/bundle/diff-environments.ts';
import type { RenderEnvironmentResult } from '../../src/bundle/render-environment.ts';
import { parameterDifferences } from '../../src/params/parameter-diff.ts';

// `promote diff-env` compares parameters with the same function as `promote plan`
// (params/parameter-diff.ts) and names them by dotted path. Plain data in, no files.

function rendered(values: Record<string, unknown>, builtins: Record<string, unknown>, secrets: string[] = []): RenderEnvironmentResult {
  return { parameters: { values }, builtins, schema: { secrets } } as unknown as RenderEnvironmentResult;
}

test('diff-env parameters (plain data): dotted paths sorted, only-a/only-b/changed, built-ins under promote, secret references as one value', () => {
  const a = rendered({ replicas: 1, db: { host: 'a', password: { secretRef: { name: 'dev-db', key: 'pw' } } }, old: true }, { environment: 'dev', stage: 'dev' }, ['/db/password']);
  const b = rendered({ replicas: 3, db: { host: 'a', password: { secretRef: { name: 'prod-db', key: 'pw' } } }, added: 'x' }, { environment: 'production', stage: 'production' }, ['/db/password']);
  assert.deepEqual(parameterChanges(a, b), [
    { path: 'added', b: 'x', change: 'only-b' },
    { path: 'db.password', a: { secretRef: { name: 'dev-db', key: 'pw' } }, b: { secretRef: { name: 'prod-db', key: 'pw' } }, change: 'changed' },
    { path: 'old', a: true, change: 'only-a' },
    { path: 'promote.environment', a: 'dev', b: 'production', change: 'changed' },
    { path: 'promote.stage', a: 'dev', b: 'production', change: 'changed' },
    { path: 'replicas', a: 1, b: 3, change: 'changed' },
  ]);
  // The very comparison plan makes: the same leaves, by pointer.
  assert.deepEqual(parameterDifferences(a.parameters.values, b.parameters.values, ['/db/password']).map((d) => d.pointer), ['/added', '/db/password', '/old', '/replicas']);
});
