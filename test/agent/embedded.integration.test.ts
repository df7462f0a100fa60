// DESIGN.md §6 end to end through the CLI, on the embedded defaults only (OCI layout, local git
// ledger, directory targets): init, push --sign, promote to dev, `agent --once` converges the
// dir, `status` shows Converged, and staging's converged gate passes only after that; a hand
// edit is reported Drifted (self-heal off) and restored.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanEnv } from '../bundle/helpers.ts';
import { promote } from '../cli/run-promote.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('agent on the embedded defaults (CLI)', () => {
  it('init → push → to dev → agent --once → status Converged → to staging; drift reported and restored', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'promote-embedded-'));
    dirs.push(dir);
    const env = cleanEnv({
      NO_COLOR: '1',
      PROMOTE_PASSWORD: '',
      XDG_CACHE_HOME: join(dir, '.cache'),
      GIT_AUTHOR_NAME: 'Pat', GIT_AUTHOR_EMAIL: 'pat@example.com', GIT_COMMITTER_NAME: 'Pat', GIT_COMMITTER_EMAIL: 'pat@example.com',
    });
    const run = async (...args: string[]) => {
      const r = await promote(args, { cwd: dir, env });
      return r;
    };
    const ok = async (...args: string[]) => {
      const r = await run(...args);
      assert.equal(r.code, 0, `promote ${args.join(' ')}: ${r.stderr}`);
      return r;
    };
    await ok('init', '.');
    const name = dir.split('/').pop()!.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    const pushed = await ok('push', `bundles/${name}`, `oci:.promote/registry/${name}:0.1.0`, '--sign', '--key', 'keys/ci.key');
    const digest = /sha256:[0-9a-f]{64}/.exec(pushed.stdout)![0];
    await ok('to', 'dev', '--bundle', digest, '--key', 'keys/promoter.key');
    const early = await run('to', 'staging', '--key', 'keys/promoter.key');
    assert.equal(early.code, 3, 'staging is refused until dev has converged');
    assert.match(early.stderr, /no status report from this cluster/);

    const agentArgs = ['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', 'dir:.promote/clusters/dev-1', '--once', '--key', 'keys/agent.key'];
    const converged = await ok(...agentArgs);
    assert.match(converged.stdout, /^Converged: 3 objects applied and healthy/);
    assert.equal(JSON.parse(converged.stderr.trim().split('\n').at(-1)!).phase, 'Converged');
    assert.match(await readFile(join(dir, '.promote/clusters/dev-1/manifests/deployment.yaml'), 'utf8'), /namespace: \S+-dev/);

    const status = JSON.parse((await ok('status', '--output', 'json')).stdout) as { clusters: { stage: string; cluster: string; inSync: boolean; drift: string; observed?: { phase: string } }[] };
    assert.equal(status.clusters.find((c) => c.cluster === 'dev-1')?.observed?.phase, 'Converged');
    assert.equal(status.clusters.find((c) => c.cluster === 'dev-1')?.inSync, true);
    await new Promise((r) => setTimeout(r, 1100)); // the example pipeline soaks dev for 1s
    await ok('to', 'staging', '--key', 'keys/promoter.key');

    const file = join(dir, '.promote/clusters/dev-1/manifests/service.yaml');
    const original = await readFile(file, 'utf8');
    await writeFile(file, 'edited: by hand\n');
    const drifted = await run(...agentArgs, '--no-self-heal');
    assert.equal(drifted.code, 1);
    assert.match(drifted.stdout, /^Drifted: 1 object differs from the bundle \(self-heal is off\): manifests\/service\.yaml was modified/);
    assert.equal(await readFile(file, 'utf8'), 'edited: by hand\n');
    const shown = JSON.parse((await ok('status', '--output', 'json')).stdout) as typeof status;
    assert.equal(shown.clusters.find((c) => c.cluster === 'dev-1')?.observed?.phase, 'Drifted');
    assert.match((await ok('status')).stdout, /^dev\s+dev-1\s+\S+\s+\S+\s+Drifted\s+\S+\s+drifted\s+DriftDetected$/m);
    await ok(...agentArgs);
    assert.equal(await readFile(file, 'utf8'), original);
  });
});
