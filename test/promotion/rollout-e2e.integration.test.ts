// A production rollout in three waves end to end (issue 19's "done when"): the engine through
// the library (`promote to`, `promote run`), a real registry, a real git ledger, and one real
// agent per production cluster — in-process, built as `promote agent` builds it (agentParts:
// RegistryDesiredSource + RegistryStatusReporter signing with the trusted agent key), each
// converging its own dir target and enforcing the same policy. Only dev and staging are
// reported by hand (signed with the agent key, Converged for an hour), to get a bundle there.
//
// The bad canary here is Refused: bundle 2 ships an image `:latest`, which the agents' policy
// (examples/policies/no-latest-tag.yaml) refuses before applying. A Degraded canary (a dir
// health check that fails) is rollout-degraded-e2e.integration.test.ts.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isPromoteError } from '../../src/errors.ts';
import { loadPolicyFile } from '../../src/pipeline/policy-file.ts';
import { planStage } from '../../src/promotion/plan.ts';
import { pipelineStatus } from '../../src/promotion/status.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { PROD, productionFleet, pushVariant, tree, upstream } from './rollout-fleet.ts';

const POLICY = fileURLToPath(new URL('../../examples/policies/no-latest-tag.yaml', import.meta.url));

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-rollout-e2e-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

test('a three-wave production rollout with dir agents: a healthy canary releases wave 2 after its soak, then wave 3; a bad canary (Refused) stops the next rollout with the later waves untouched, and status and plan say stopped', async () => {
  const { p, eng, targets, round, variant, production } = await productionFleet(base, registry.host, { name: 'rollout-e2e', soak: '2s', policy: await loadPolicyFile(POLICY), healthTimeoutMs: 0 });

  // (b) A healthy canary: wave 1, then wave 2 after its 2 s soak, then wave 3.
  const d1 = await pushVariant(base, p, 1);
  await upstream(eng, p, d1);
  const started = await promoteTo(eng, { stage: 'production' });
  assert.deepEqual(started.rollout, { wave: 1, of: 3, clusters: ['prod-eu-1'] });
  let s = await round();
  assert.equal(s['prod-eu-1']!.phase, 'Converged', s['prod-eu-1']!.message);
  assert.equal(await variant('prod-eu-1'), 'variant 1\n');
  for (const c of ['prod-eu-2', 'prod-us-1']) {
    assert.deepEqual([s[c]!.phase, s[c]!.reason], ['Progressing', 'WaitingForWave'], s[c]!.message);
    await assert.rejects(readdir(targets[c]!), { code: 'ENOENT' }, `${c} has nothing of the stage yet`);
  }
  const canarySince = s['prod-eu-1']!.since;
  assert.equal((await production())?.result, 'waiting', 'the canary has not soaked 2 s yet');

  await sleep(Math.max(0, Date.parse(canarySince) + 2_100 - Date.now()));
  const wave2 = await production();
  assert.equal(wave2?.result, 'released', JSON.stringify(wave2));
  assert.deepEqual(wave2?.wave, { wave: 2, of: 3, clusters: ['prod-eu-2'] });
  s = await round();
  assert.equal(s['prod-eu-1']!.since, canarySince, 'the canary, re-reported on the wave-2 record, keeps its since');
  assert.equal(s['prod-eu-2']!.phase, 'Converged', s['prod-eu-2']!.message);
  assert.equal(await variant('prod-eu-2'), 'variant 1\n');
  assert.equal(s['prod-us-1']!.reason, 'WaitingForWave');
  assert.equal((await production())?.result, 'waiting', 'wave 2 soaks 2 s before wave 3');

  await sleep(Math.max(0, Date.parse(s['prod-eu-2']!.since) + 2_100 - Date.now()));
  assert.equal((await production())?.result, 'released');
  s = await round();
  for (const c of PROD) {
    assert.equal(s[c]!.phase, 'Converged', `${c}: ${s[c]!.message}`);
    assert.equal(s[c]!.bundle, d1);
    assert.equal(await variant(c), 'variant 1\n');
  }
  assert.equal(s['prod-eu-1']!.since, canarySince, 'one state since the start of the rollout');
  const complete = await pipelineStatus({ cwd: p.dir, env: p.env, registry: { insecure: true } });
  assert.equal(complete.rollouts?.find((r) => r.stage === 'production')?.state, 'complete');

  // (a) A bad canary: bundle 2 is Refused by the canary's agent; the rollout stops at wave 1.
  const before2 = { 'prod-eu-2': await tree(targets['prod-eu-2']!), 'prod-us-1': await tree(targets['prod-us-1']!) };
  const canaryBefore = await tree(targets['prod-eu-1']!);
  const d2 = await pushVariant(base, p, 2, async (src) => {
    const file = join(src, 'manifests', 'deployment.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('ghcr.io/example/hello:1.0.0', 'ghcr.io/example/hello:latest'));
  });
  await upstream(eng, p, d2);
  const next = await promoteTo(eng, { stage: 'production' });
  assert.deepEqual([next.bundle, next.rollout], [d2, { wave: 1, of: 3, clusters: ['prod-eu-1'] }]);
  s = await round();
  assert.deepEqual([s['prod-eu-1']!.phase, s['prod-eu-1']!.reason, s['prod-eu-1']!.bundle], ['Refused', 'PolicyViolation', d2], s['prod-eu-1']!.message);
  assert.deepEqual(await tree(targets['prod-eu-1']!), canaryBefore, 'the canary applied nothing: it still runs bundle 1');
  for (const c of ['prod-eu-2', 'prod-us-1']) {
    assert.deepEqual([s[c]!.phase, s[c]!.bundle], ['Converged', d1], `${c} keeps the bundle-1 record: ${s[c]!.message}`);
  }

  const stopped = await production();
  assert.equal(stopped?.result, 'stopped', JSON.stringify(stopped));
  await assert.rejects(promoteTo(eng, { stage: 'production' }), (err: unknown) => isPromoteError(err, 'ROLLOUT_STOPPED') && /prod-eu-1 Refused/.test(err.message));
  const plan = await planStage(eng, { stage: 'production' });
  assert.equal(plan.rollout?.state, 'stopped');
  const status = await pipelineStatus({ cwd: p.dir, env: p.env, registry: { insecure: true } });
  const rollout = status.rollouts?.find((r) => r.stage === 'production');
  assert.equal(rollout?.state, 'stopped');
  assert.match(rollout!.summary, /stopped at wave 1: prod-eu-1 Refused/);
  // Rounds go on; later waves stay byte for byte on bundle 1 (their inventories included).
  await round();
  for (const c of ['prod-eu-2', 'prod-us-1'] as const) assert.deepEqual(await tree(targets[c]!), before2[c], `${c} untouched`);
});
