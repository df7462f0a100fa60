import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startRegistry } from '../harness/registry.ts';

// `promote demo --registry`: the same story against a real registry (distribution, plain HTTP on
// 127.0.0.1): bundles, signatures, records and status reports all land there, and no OCI layout
// is written.

const exec = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

test('promote demo --registry <real registry> --insecure tells the whole story against the registry', async (t) => {
  const registry = await startRegistry();
  t.after(() => registry.stop());
  const dir = await mkdtemp(join(tmpdir(), 'promote-demo-registry-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const d of ['pipelines', 'environments', 'bundles']) await cp(join(root, d), join(dir, d), { recursive: true });
  const env = { ...process.env };
  delete env.PROMOTE_PASSWORD;
  delete env.COSIGN_PASSWORD;
  const repo = `${registry.host}/acme/webapp`;
  const { stdout } = await exec(process.execPath, [join(root, 'bin', 'promote.js'), 'demo', '--project', dir, '--registry', repo, '--insecure', '--output', 'json'], { cwd: dir, env, maxBuffer: 16 * 1024 * 1024 });
  const r = JSON.parse(stdout) as { repository: string; releases: { digest: string }[]; stages: Record<string, string>; status: { phase: string; observed?: string; desired?: string }[] };
  assert.equal(r.repository, repo);
  assert.deepEqual(r.stages, { dev: r.releases[1]!.digest, staging: r.releases[1]!.digest, production: r.releases[0]!.digest });
  assert.ok(r.status.every((s) => s.phase === 'Converged' && s.observed === s.desired));

  // Everything is in the registry: the releases, their signatures, records and status reports.
  const res = await fetch(`http://${registry.host}/v2/acme/webapp/tags/list`);
  const tags = ((await res.json()) as { tags: string[] }).tags.sort();
  for (const tag of ['1.0', '1.1', 'promotion-dev', 'promotion-staging', 'promotion-production', 'status-dev-dev-1', 'status-staging-staging-eu-1', 'status-staging-staging-us-1', 'status-production-prod-eu-1', 'status-production-prod-us-1']) {
    assert.ok(tags.includes(tag), `tag ${tag} in ${tags.join(', ')}`);
  }
  for (const d of r.releases) assert.ok(tags.includes(`${d.digest.replace(':', '-')}.sig`), `signature of ${d.digest}`);
  const state = await readdir(join(dir, '.promote'));
  assert.ok(!state.includes('registry'), 'no OCI layout written when --registry is given');
});
