// A production rollout in three waves whose canary goes Degraded (issue 19's "done when"): as
// rollout-e2e.integration.test.ts (library engine, real registry and git ledger, one in-process
// agent per production cluster as `promote agent` builds it, each on its own dir target), but
// the agents' dir targets have a health check (DirTarget `health`, `--health-exec`) that fails
// when the rendered files/variant.txt says "variant 2": bundle 2 applies on the canary and is
// Degraded, the rollout stops with waves 2 and 3 untouched, and a healthy bundle 3 goes on.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { isPromoteError } from '../../src/errors.ts';
import { planStage } from '../../src/promotion/plan.ts';
import { pipelineStatus } from '../../src/promotion/status.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { PROD, productionFleet, pushVariant, tree, upstream } from './rollout-fleet.ts';


let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-rollout-degraded-e2e-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const CHECK = ['sh', '-c', 'if grep -q "variant 2" files/variant.txt; then echo "self-test failed: variant 2 is not servable" >&2; exit 1; fi'];

test('a three-wave production rollout with dir agents: a Degraded canary (its health check fails) stops the rollout with later waves byte for byte untouched; a healthy next bundle releases wave 2 after its soak', async () => {
  const { p, eng, targets, round, variant, production } = await productionFleet(base, registry.host, { name: 'rollout-degraded-e2e', soak: '1s', target: { health: { argv: CHECK, timeoutMs: 5000 } }, healthTimeoutMs: 300, healthPollMs: 100 });
  /** Waits until a state that started at `since` has soaked `ms` (the waves soak 1 s). */
  const soaked = async (since: string, ms = 1_100) => sleep(Math.max(0, Date.parse(since) + ms - Date.now()));

  // Bundle 1 everywhere, wave by wave.
  const d1 = await pushVariant(base, p, 1);
  await upstream(eng, p, d1);
  await promoteTo(eng, { stage: 'production' });
  let s = await round();
  assert.equal(s['prod-eu-1']!.phase, 'Converged', s['prod-eu-1']!.message);
  await soaked(s['prod-eu-1']!.since);
  assert.equal((await production())?.result, 'released');
  s = await round();
  await soaked(s['prod-eu-2']!.since);
  assert.equal((await production())?.result, 'released');
  s = await round();
  for (const c of PROD) assert.deepEqual([s[c]!.phase, await variant(c)], ['Converged', 'variant 1\n'], `${c}: ${s[c]!.message}`);

  // Bundle 2: the canary applies it, its health check fails: Degraded; the rollout stops.
  const before2 = { 'prod-eu-2': await tree(targets['prod-eu-2']!), 'prod-us-1': await tree(targets['prod-us-1']!) };
  const d2 = await pushVariant(base, p, 2);
  await upstream(eng, p, d2);
  const next = await promoteTo(eng, { stage: 'production' });
  assert.deepEqual([next.bundle, next.rollout], [d2, { wave: 1, of: 3, clusters: ['prod-eu-1'] }]);
  s = await round();
  const canary = s['prod-eu-1']!;
  assert.deepEqual([canary.phase, canary.reason, canary.bundle], ['Degraded', 'HealthCheckFailed', d2], canary.message);
  assert.match(canary.message, /health check `sh -c .*` exited 1 \(\d+ runs over \d+s\): self-test failed: variant 2 is not servable/);
  assert.equal(await variant('prod-eu-1'), 'variant 2\n', 'the canary did apply bundle 2');
  for (const c of ['prod-eu-2', 'prod-us-1']) assert.deepEqual([s[c]!.phase, s[c]!.bundle], ['Converged', d1], `${c} keeps bundle 1: ${s[c]!.message}`);

  const stopped = await production();
  assert.equal(stopped?.result, 'stopped', JSON.stringify(stopped));
  await assert.rejects(promoteTo(eng, { stage: 'production' }), (err: unknown) => isPromoteError(err, 'ROLLOUT_STOPPED') && /prod-eu-1 Degraded/.test(err.message));
  assert.equal((await planStage(eng, { stage: 'production' })).rollout?.state, 'stopped');
  const status = await pipelineStatus({ cwd: p.dir, env: p.env, registry: { insecure: true } });
  const rollout = status.rollouts?.find((r) => r.stage === 'production');
  assert.equal(rollout?.state, 'stopped');
  assert.match(rollout!.summary, /stopped at wave 1: prod-eu-1 Degraded/);
  // Later rounds (the canary's check runs again each round and still fails) change nothing.
  await sleep(1_100);
  s = await round();
  assert.equal(s['prod-eu-1']!.phase, 'Degraded');
  assert.equal((await production())?.result, 'stopped', 'a stopped rollout never releases wave 2');
  for (const c of ['prod-eu-2', 'prod-us-1'] as const) assert.deepEqual(await tree(targets[c]!), before2[c], `${c} untouched`);

  // Bundle 3 is healthy: a new rollout, its canary Converged, wave 2 after the soak.
  const d3 = await pushVariant(base, p, 3);
  await upstream(eng, p, d3);
  const third = await promoteTo(eng, { stage: 'production', bundle: d3 }); // --bundle <fix>: a stopped rollout is not continued by a bare `promote to`
  assert.deepEqual([third.bundle, third.rollout?.wave], [d3, 1]);
  s = await round();
  assert.deepEqual([s['prod-eu-1']!.phase, await variant('prod-eu-1')], ['Converged', 'variant 3\n'], s['prod-eu-1']!.message);
  assert.equal((await production())?.result, 'waiting');
  await soaked(s['prod-eu-1']!.since);
  const wave2 = await production();
  assert.equal(wave2?.result, 'released', JSON.stringify(wave2));
  s = await round();
  assert.deepEqual([s['prod-eu-2']!.phase, await variant('prod-eu-2')], ['Converged', 'variant 3\n'], s['prod-eu-2']!.message);
  assert.deepEqual([s['prod-us-1']!.bundle, await variant('prod-us-1')], [d1, 'variant 1\n'], 'wave 3 still runs bundle 1');
});
