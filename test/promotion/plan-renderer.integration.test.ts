// `promote plan` names what renders each side of its diff and what the stage's agents report
// rendering with, so a change of helm version is visible before the promotion. Real CLI, real
// registry, real git; status reports written by the one writer agents use.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from './project.ts';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-plan-renderer-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

async function ok(p: TestProject, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const r = await runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1', ...env } });
  assert.equal(r.code, 0, `promote ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r;
}

describe('promote plan shows the renderer (real CLI, real registry)', () => {
  it('plain bundles: --output json says plain on both sides and no reports consulted; the text has no renderer line', async () => {
    const p = await createProject(join(base, 'plain'), registry.host, { name: 'plan-plain' });
    const d1 = await p.push(1);
    await ok(p, ['to', 'dev', '--bundle', d1]);
    const d2 = await p.push(2);
    const json = JSON.parse((await ok(p, ['plan', 'dev', '--bundle', d2, '--output', 'json'])).stdout);
    assert.deepEqual(json.diff.renderer, { now: { kind: 'plain' }, after: { kind: 'plain' }, reported: [], versionDiffers: false });
    const text = (await ok(p, ['plan', 'dev', '--bundle', d2])).stdout;
    assert.match(text, /cluster dev-1: rendered files that change: files\/variant\.txt/);
    assert.doesNotMatch(text, /renderer:/);
  });
});
