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
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { agentParts } from '../../src/agent/agent-parts.ts';
import { Reconciler } from '../../src/agent/reconcile.ts';
import { DirTarget } from '../../src/agent/targets/dir-target.ts';
import { pushBundle } from '../../src/artifact/push.ts';
import { isPromoteError } from '../../src/errors.ts';
import { loadPolicyFile } from '../../src/pipeline/policy-file.ts';
import { planStage } from '../../src/promotion/plan.ts';
import { openProject, type Project } from '../../src/promotion/project.ts';
import { runOnce } from '../../src/promotion/run.ts';
import { pipelineStatus } from '../../src/promotion/status.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { publishStatusReport } from '../../src/records/status-report.ts';
import { signBundle } from '../../src/signing/cosign-signature.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, FIXTURE, type TestProject } from './project.ts';

const POLICY = fileURLToPath(new URL('../../examples/policies/no-latest-tag.yaml', import.meta.url));
const PROD = ['prod-eu-1', 'prod-eu-2', 'prod-us-1'];
const ROLLOUT = `[]
      rollout:
        waves:
          - {clusters: [prod-eu-1]}
          - {clusters: [prod-eu-2], after: {soak: 2s}}
          - {clusters: "*", after: {soak: 2s}}`;

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

/** Bundle variant `n`, signed by CI; `latest`: its Deployment runs an image `:latest`. */
async function push(p: TestProject, n: number, latest = false): Promise<string> {
  const src = join(base, `bundle-${n}`);
  await cp(FIXTURE, src, { recursive: true });
  await writeFile(join(src, 'files', 'variant.txt'), `variant ${n}\n`);
  if (latest) {
    const file = join(src, 'manifests', 'deployment.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('ghcr.io/example/hello:1.0.0', 'ghcr.io/example/hello:latest'));
  }
  const pushed = await pushBundle(src, `${p.repository}:v${n}`, { insecure: true, env: { ...p.env, SOURCE_DATE_EPOCH: String(1_700_000_000 + n) } });
  const digest = pushed.reference.slice(pushed.reference.indexOf('@') + 1);
  await signBundle(p.registry, digest, p.ci, p.repository);
  return digest;
}

/** What a dev or staging agent would have published: Converged on `digest` for an hour. */
async function converged(p: TestProject, stage: string, cluster: string, digest: string) {
  const desc = (await p.registry.resolve(digest))!;
  const now = Date.now();
  await publishStatusReport(p.registry, { mediaType: desc.mediaType, digest, size: desc.size }, { pipeline: 'webapp', stage, cluster, phase: 'Converged', bundle: { repository: p.repository, digest }, since: new Date(now - 3_600_000).toISOString(), observedAt: new Date(now).toISOString() }, p.agent);
}

async function upstream(eng: Project, p: TestProject, d: string) {
  await promoteTo(eng, { stage: 'dev', bundle: d });
  await converged(p, 'dev', 'dev-1', d);
  await promoteTo(eng, { stage: 'staging' });
  for (const c of ['staging-eu-1', 'staging-us-1']) await converged(p, 'staging', c, d);
}

/** Every file under `root` with its bytes (the agent's inventory included). */
async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name).slice(root.length + 1)] = (await readFile(join(e.parentPath, e.name))).toString('base64');
  }
  return out;
}

test('a three-wave production rollout with dir agents: a healthy canary releases wave 2 after its soak, then wave 3; a bad canary (Refused) stops the next rollout with the later waves untouched, and status and plan say stopped', async () => {
  const p = await createProject(join(base, 'p'), registry.host, { name: 'rollout-e2e', agents: true, productionGates: ROLLOUT });
  await writeFile(join(p.dir, 'environments', 'production.yaml'), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: production}\nspec:\n  parameters: {namespace: production, replicas: 3}\n  clusters:\n${PROD.map((c) => `    - name: ${c}\n`).join('')}`);
  const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, 'engine-cache') });
  const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const policy = await loadPolicyFile(POLICY);
  const targets = Object.fromEntries(PROD.map((c) => [c, join(base, 'clusters', c)]));
  const agents = PROD.map((cluster) => {
    const owner = { pipeline: 'webapp', stage: 'production', cluster };
    const { source, reporter } = agentParts({ registry: p.registry, repository: p.repository, owner, promotionTrust: trust.promotions, bundleTrust: trust.bundles, signer: p.agent, cacheDir: join(base, 'agent-bundles'), stateDir: join(base, 'agent-state'), policy });
    return { cluster, reconciler: new Reconciler({ owner, source, target: new DirTarget(targets[cluster]!), ...(reporter && { reporter }), healthTimeoutMs: 0 }) };
  });
  /** One round of every production agent, as their loops would run it. */
  const round = async () => Object.fromEntries(await Promise.all(agents.map(async (a) => [a.cluster, (await a.reconciler.round()).status] as const)));
  const variant = (cluster: string) => readFile(join(targets[cluster]!, 'files', 'variant.txt'), 'utf8');
  const production = async () => (await runOnce(eng)).find((o) => o.stage === 'production');
  await mkdir(join(base, 'clusters'), { recursive: true });

  // (b) A healthy canary: wave 1, then wave 2 after its 2 s soak, then wave 3.
  const d1 = await push(p, 1);
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
  const d2 = await push(p, 2, true);
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
