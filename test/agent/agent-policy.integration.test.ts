// Defence in depth: `promote agent --policy` judges every render after verifying and before
// applying, through the real CLI, against a real registry, onto a dir target. A record that
// breaks the policy — promoted past the stage's gate, here simply to a stage without one — is
// Refused (PolicyViolation), nothing is written, the refusal is reported signed; the target
// keeps its last good state.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readStatusReport } from '../../src/records/status-report.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { promote as runPromote } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from '../promotion/project.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/policies/', import.meta.url));

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-agent-policy-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function cli(p: TestProject, args: string[]) {
  return runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1' } });
}

async function agent(p: TestProject, out: string, policy: string) {
  const r = await cli(p, ['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', `dir:${out}`, '--once', '--key', p.promoterKeyFile, '--cache-dir', join(base, 'cache'), '--health-timeout', '0s', '--policy', policy]);
  return r;
}

async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (entry.isFile()) out[join(entry.parentPath, entry.name).slice(root.length + 1)] = await readFile(join(entry.parentPath, entry.name), 'utf8');
  }
  return out;
}

test('agent --policy (real CLI, dir target): a render that breaks the policy is Refused PolicyViolation, exit 3, nothing applied, reported signed; one that meets it converges; the last good state is kept', async () => {
  const p = await createProject(join(base, 'p'), registry.host, { name: 'agent-policy' });
  await mkdir(join(p.dir, 'policies'));
  for (const f of ['images-pinned.yaml', 'no-latest-tag.yaml']) await cp(join(EXAMPLES, f), join(p.dir, 'policies', f));
  const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const out = join(base, 'target');

  const d1 = await p.push(1);
  assert.equal((await cli(p, ['to', 'dev', '--bundle', d1])).code, 0);
  const refused = await agent(p, out, 'policies/images-pinned.yaml');
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stdout, /^Refused: nothing applied: policy images-pinned refuses the render: 1 violation: Deployment dev\/hello \(manifests\/deployment\.yaml#0\): images-pinned: every image must be pinned by digest \(image@sha256:…\) in production \(fix the bundle or the parameters and promote again; the target keeps its last good state\)\n/);
  assert.match(refused.stderr, /enforcing policy images-pinned \(3 rules, policies\/images-pinned\.yaml\) before every apply/);
  assert.deepEqual(await tree(out), {}, 'nothing may be written');
  const reported = await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions, 'webapp');
  assert.deepEqual([reported?.phase, reported?.verified, reported?.reason, reported?.bundle], ['Refused', true, 'PolicyViolation', d1]);

  const converged = await agent(p, out, 'policies/no-latest-tag.yaml');
  assert.equal(converged.code, 0, converged.stderr + converged.stdout);
  assert.match(converged.stdout, /^Converged: /);
  const good = await tree(out);
  assert.match(good['manifests/deployment.yaml'] ?? '', /image: ghcr\.io\/example\/hello:1\.0\.0/);

  // The next record breaks the stricter policy: refused, and the target keeps d1's files.
  const d2 = await p.push(2);
  assert.equal((await cli(p, ['to', 'dev', '--bundle', d2])).code, 0);
  const again = await agent(p, out, 'policies/images-pinned.yaml');
  assert.equal(again.code, 3, again.stdout);
  assert.match(again.stdout, /^Refused: nothing applied: policy images-pinned/);
  assert.deepEqual(await tree(out), good, 'the last good state is kept');
});

test('agent --policy: a policy file that is not valid stops the agent before it reaches the registry (exit 4, file:line and pointer)', async () => {
  const p = await createProject(join(base, 'bad'), registry.host, { name: 'agent-policy-bad' });
  await mkdir(join(p.dir, 'policies'));
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(p.dir, 'policies', 'broken.yaml'), 'apiVersion: promote/v1\nkind: Policy\nmetadata: {name: broken}\nspec:\n  rules:\n    - {name: r, expression: "object.spec.("}\n');
  const r = await agent(p, join(base, 'bad-target'), 'policies/broken.yaml');
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /policies\/broken\.yaml:6:\d+: \/spec\/rules\/0\/expression: the expression is not valid CEL/);
  const missing = await agent(p, join(base, 'bad-target'), 'policies/none.yaml');
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /none\.yaml does not exist/);
});
