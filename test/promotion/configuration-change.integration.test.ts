import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushBundle } from '../../src/artifact/push.ts';
import { publishStatusReport } from '../../src/records/status-report.ts';
import { signBundle } from '../../src/signing/cosign-signature.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { agentOnce } from '../agent/agent-once.ts';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startFaultProxy } from '../harness/fault-proxy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, FIXTURE, type TestProject } from './project.ts';
import { verifyRecord } from '../../src/records/promotion-record.ts';

// A parameter change is a promotion (issue 11 §1): the same bundle with new parameters is a
// configuration change that plan shows (pointer diff, per-cluster render), `to` records as
// `configure` through the gates that apply, history names, and agents converge on. Real CLI,
// real registry, real git (a bare repository as the ledger remote), the real agent.

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-config-change-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function promote(p: TestProject, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1', ...env } });
}

async function ok(p: TestProject, args: string[]): Promise<Run> {
  const r = await promote(p, args);
  assert.equal(r.code, 0, `promote ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r;
}

async function report(p: TestProject, stage: string, cluster: string, digest: string) {
  const desc = (await p.registry.resolve(digest))!;
  const since = new Date(Date.now() - 2 * 3_600_000).toISOString();
  await publishStatusReport(p.registry, { mediaType: desc.mediaType, digest, size: desc.size }, { pipeline: 'webapp', stage, cluster, phase: 'Converged', bundle: { repository: p.repository, digest }, since, observedAt: new Date().toISOString() }, p.promoter);
}

async function environment(p: TestProject, name: string, parameters: string, clusters: string) {
  await writeFile(join(p.dir, 'environments', `${name}.yaml`), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: ${name}}\nspec:\n  parameters: ${parameters}\n  clusters:\n${clusters}`);
}

/** Ledger commits and registry tags: what a refusal must leave as it was. */
async function snapshot(p: TestProject) {
  const commit = git(p.ledgerRemote, p.env, 'rev-parse', 'main').trim();
  const tags = (await p.registry.listTags()).sort();
  return { commit, tags: await Promise.all(tags.map(async (t) => `${t}=${(await p.registry.resolve(t))?.digest}`)) };
}

const GATES = '[{converged: {}}, {soak: 1h}, {manual: {}}]';

test('a parameter-only change goes dev → staging → production: plan shows the pointer diff and each cluster\'s render, to records `configure`, history names the pointers, the agent converges on it', async () => {
  const p = await createProject(join(base, 'flow'), registry.host, { name: 'flow', productionGates: GATES });
  const d1 = await p.push(1);
  await ok(p, ['to', 'dev', '--bundle', d1]);
  await report(p, 'dev', 'dev-1', d1);
  await ok(p, ['to', 'staging']);
  for (const c of ['staging-eu-1', 'staging-us-1']) await report(p, 'staging', c, d1);
  await ok(p, ['to', 'production', '--force', '--reason', 'first release']);
  const out = join(base, 'flow-target');
  assert.equal((await agentOnce(p, out))?.phase, 'Converged');
  assert.match(await readFile(join(out, 'manifests', 'deployment.yaml'), 'utf8'), /replicas: 1\n/);

  // dev: replicas 1 → 2 in the environment file, nothing promoted yet.
  await environment(p, 'dev', '{namespace: dev, replicas: 2}', '    - name: dev-1\n');
  const pending = await ok(p, ['status']);
  assert.match(pending.stdout, /\ndev +dev-1 .*parameters pending: promote to dev/);
  const plan = await promote(p, ['plan', 'dev']);
  assert.equal(plan.code, 0, plan.stderr + plan.stdout);
  assert.match(plan.stdout, new RegExp(`candidate: ${d1} \\(the bundle dev runs now\\)\n`));
  assert.match(plan.stdout, /\n  configuration change: the same bundle with new parameters\n/);
  assert.match(plan.stdout, /\nparameters \(now → after\):\n  \/replicas: 1 → 2\ncluster dev-1: rendered files that change: manifests\/deployment.yaml\n--- now\/manifests\/deployment.yaml\n\+\+\+ after\/manifests\/deployment.yaml\n[^]*-  replicas: 1\n\+  replicas: 2\n/);
  assert.match(plan.stdout, /promote to dev would record sha256:\w+ again with the new parameters \(action configure\)\n$/);
  const json = JSON.parse((await ok(p, ['plan', 'dev', '--output', 'json'])).stdout);
  assert.equal(json.change, 'configuration');
  assert.equal(json.candidate, d1);
  assert.match(json.parametersDigest, /^sha256:[0-9a-f]{64}$/);
  assert.notEqual(json.parametersDigest, json.currentParameters);
  assert.deepEqual(json.diff.parameters, [{ pointer: '/replicas', before: 1, after: 2 }]);
  assert.deepEqual(json.diff.clusters.map((c: { cluster: string; changedFiles: string[] }) => [c.cluster, c.changedFiles]), [['dev-1', ['manifests/deployment.yaml']]]);
  assert.match(json.diff.clusters[0].manifests, /\+  replicas: 2\n/);

  const configured = await ok(p, ['to', 'dev']);
  assert.match(configured.stdout, new RegExp(`^configured dev: ${d1} with new parameters \\(/replicas\\)\n`));
  const trust = await loadPipelineTrust({ promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const record = await verifyRecord(p.registry, 'promotion-dev', trust.promotions, { stage: 'dev', bundle: d1 });
  assert.equal(record.statement.predicate.action, 'configure');
  assert.equal(record.statement.predicate.sequence, 2);
  assert.deepEqual(record.statement.predicate.clusters, [{ name: 'dev-1', parameters: { namespace: 'dev', replicas: 2 } }]);
  const log = git(p.ledgerRemote, p.env, 'log', '-1', '--format=%s%n%(trailers:key=Promote-Action)%(trailers:key=Parameters-Changed)', 'main');
  assert.match(log, /^configure webapp\/dev: parameters changed \(\/replicas\), bundle sha256:\w+\nPromote-Action: configure\nParameters-Changed: \/replicas\n/);
  const history = await ok(p, ['history', 'dev']);
  assert.match(history.stdout, /^\S+ +configure +sha256:\w{12} +by Pat <pat@example.com> +\(\w{12}\)\n    parameters changed: \/replicas\n/);
  const items = JSON.parse((await ok(p, ['history', 'dev', '--output', 'json'])).stdout);
  assert.deepEqual([items[0].action, items[0].bundle, items[0].parametersChanged], ['configure', d1, ['/replicas']]);

  // The agent accepts the configure record (a higher sequence, same bundle) and applies it.
  const converged = await agentOnce(p, out);
  assert.equal(converged?.phase, 'Converged', JSON.stringify(converged));
  assert.equal(converged?.record, (await p.registry.resolve('promotion-dev'))?.digest);
  assert.match(await readFile(join(out, 'manifests', 'deployment.yaml'), 'utf8'), /replicas: 2\n/);
  const nothing = await ok(p, ['plan', 'dev']);
  assert.match(nothing.stdout, /nothing to do\n$/);
  assert.match((await ok(p, ['to', 'dev'])).stdout, /^dev already runs /);

  // staging: one cluster's override changes. Upstream gates do not apply (no new report needed).
  await environment(p, 'staging', '{namespace: staging, replicas: 1}', '    - name: staging-eu-1\n    - {name: staging-us-1, parameters: {replicas: 3}}\n');
  const staging = await ok(p, ['plan', 'staging']);
  assert.match(staging.stdout, /\n  n\/a   converged: not applicable to a configuration change: the bundle \(sha256:\w+\) did not change, so there is nothing new from upstream to converge on\n  n\/a   soak 15m: not applicable/);
  assert.match(staging.stdout, /\nparameters: unchanged\ncluster staging-eu-1: rendered files unchanged\ncluster staging-us-1 parameters \(now → after\):\n  \/replicas: 1 → 3\ncluster staging-us-1: rendered files that change: manifests\/deployment.yaml\n/);
  await ok(p, ['to', 'staging']);
  assert.match((await ok(p, ['history', 'staging'])).stdout, /configure .*\n    parameters changed: \/replicas \(cluster staging-us-1\)\n    converged: n\/a — not applicable/);

  // production: the manual gate still applies to a configuration change.
  await environment(p, 'production', '{namespace: production, replicas: 5}', '    - name: prod-eu-1\n');
  const before = await snapshot(p);
  const refused = await promote(p, ['to', 'production']);
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /1 of 3 gates of production did not pass: manual/);
  assert.deepEqual(await snapshot(p), before);
  const forced = await ok(p, ['to', 'production', '--force', '--reason', 'CAB-7: more replicas']);
  assert.match(forced.stdout, /^configured production: sha256:\w+ with new parameters \(\/replicas\)\n  n\/a   converged: [^\n]+\n  n\/a   soak 1h: [^\n]+\n  pass  manual: forced by Pat <pat@example.com>: CAB-7: more replicas\n/);
});

test('invalid parameters for a running stage: plan and status report them, to refuses with exit 4 and changes nothing, the stage keeps its last good record', async () => {
  const p = await createProject(join(base, 'invalid'), registry.host, { name: 'invalid' });
  const d1 = await p.push(1);
  await ok(p, ['to', 'dev', '--bundle', d1]);
  await environment(p, 'dev', '{namespace: dev, replicas: 0}', '    - name: dev-1\n');
  const plan = await promote(p, ['plan', 'dev']);
  assert.equal(plan.code, 4, plan.stderr + plan.stdout);
  assert.match(plan.stdout, /configuration change: the same bundle with new parameters\n  the stage keeps running its last good record \(sha256:\w+ with parameters sha256:\w+\) until they are fixed\n/);
  assert.match(plan.stdout, /FAIL  parameters: parameters of cluster dev-1 of environment dev/);
  const before = await snapshot(p);
  const refused = await promote(p, ['to', 'dev']);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /do not satisfy/);
  assert.deepEqual(await snapshot(p), before, 'ledger and registry are as they were');
  const status = await ok(p, ['status']);
  assert.match(status.stdout, /\ndev +dev-1 .*parameters invalid \(runs its last good record\): promote plan dev/);
  const rows = JSON.parse((await ok(p, ['status', '--output', 'json'])).stdout).clusters;
  assert.deepEqual(rows.map((r: { stage: string; parameters?: string }) => [r.stage, r.parameters ?? null]), [['dev', 'invalid'], ['staging', null], ['staging', null], ['production', null]]);
});

test('promote run applies configuration changes of promotion: auto stages, and leaves stages whose parameters did not change alone', async () => {
  const p = await createProject(join(base, 'run'), registry.host, { name: 'run' });
  const d1 = await p.push(1);
  await ok(p, ['to', 'dev', '--bundle', d1]);
  await report(p, 'dev', 'dev-1', d1);
  const first = JSON.parse((await ok(p, ['run', '--once', '--output', 'json'])).stdout);
  assert.deepEqual(first.map((o: { stage: string; result: string }) => [o.stage, o.result]), [['dev', 'up-to-date'], ['staging', 'promoted']]);
  await environment(p, 'dev', '{namespace: dev, replicas: 4}', '    - name: dev-1\n');
  const second = JSON.parse((await ok(p, ['run', '--once', '--output', 'json'])).stdout);
  assert.deepEqual(second.map((o: { stage: string; result: string }) => [o.stage, o.result]), [['dev', 'configured'], ['staging', 'up-to-date']]);
  await environment(p, 'staging', '{namespace: staging, replicas: 2}', '    - name: staging-eu-1\n    - name: staging-us-1\n');
  const third = await ok(p, ['run', '--once']);
  assert.match(third.stdout, /^dev +up-to-date .*\nstaging +configured +sha256:\w{12}/);
  const items = JSON.parse((await ok(p, ['history', 'staging', '--output', 'json'])).stdout);
  assert.deepEqual(items.map((i: { action: string }) => i.action), ['configure', 'auto']);
});

test('promote plan renders per cluster with ${promote.cluster} set, as each agent will (it used to exit 4: no cluster was given)', async () => {
  const p = await createProject(join(base, 'cluster'), registry.host, { name: 'cluster' });
  const src = join(base, 'cluster-bundle');
  await cp(FIXTURE, src, { recursive: true });
  await writeFile(join(src, 'manifests', 'config.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: where\n  namespace: ${params.namespace}\ndata:\n  cluster: ${promote.cluster}\n  stage: ${promote.stage}\n');
  const pushed = await pushBundle(src, `${p.repository}:cluster`, { insecure: true, env: { ...p.env, SOURCE_DATE_EPOCH: '1700000000' } });
  const digest = pushed.reference.slice(pushed.reference.indexOf('@') + 1);
  await signBundle(p.registry, digest, p.ci, p.repository);
  const dev = await ok(p, ['plan', 'dev', '--bundle', digest]);
  assert.match(dev.stdout, /cluster dev-1: rendered files that change: [^\n]*manifests\/config.yaml[^]*\+  cluster: dev-1\n\+  stage: dev\n/);
  await ok(p, ['to', 'dev', '--bundle', digest]);
  await report(p, 'dev', 'dev-1', digest);
  const staging = await ok(p, ['plan', 'staging', '--output', 'json']);
  const clusters = JSON.parse(staging.stdout).diff.clusters as { cluster: string; manifests: string; sameAs?: string }[];
  assert.deepEqual(clusters.map((c) => c.cluster), ['staging-eu-1', 'staging-us-1']);
  assert.match(clusters[0]!.manifests, /\+  cluster: staging-eu-1\n/);
  assert.match(clusters[1]!.manifests, /\+  cluster: staging-us-1\n/);
  assert.equal(clusters[1]!.sameAs, undefined, 'their renders differ: each is shown');
});

test('plan and to of a configuration change cost no more registry requests than a promotion (counted at a proxy in front of the real registry)', async () => {
  const seen: string[] = [];
  const proxy = await startFaultProxy(registry.url, () => undefined);
  try {
    const p = await createProject(join(base, 'cost'), proxy.host, { name: 'cost' });
    const d1 = await p.push(1);
    const d2 = await p.push(2);
    const d3 = await p.push(3);
    await ok(p, ['to', 'dev', '--bundle', d1]);
    const count = async (args: string[]) => {
      const from = proxy.seen.length;
      await ok(p, args);
      const requests = proxy.seen.slice(from);
      seen.push(`${args.join(' ')}: ${requests.length}`);
      return requests.length;
    };
    const planPromotion = await count(['plan', 'dev', '--bundle', d2]);
    const toPromotion = await count(['to', 'dev', '--bundle', d2]);
    await environment(p, 'dev', '{namespace: dev, replicas: 2}', '    - name: dev-1\n');
    const planConfig = await count(['plan', 'dev']);
    const toConfig = await count(['to', 'dev']);
    await environment(p, 'dev', '{namespace: dev, replicas: 3}', '    - name: dev-1\n');
    const planPromotionNoDiff = await count(['plan', 'dev', '--bundle', d3, '--no-diff']);
    const planConfigNoDiff = await count(['plan', 'dev', '--no-diff']);
    assert.ok(planConfig <= planPromotion, seen.join('\n'));
    assert.ok(toConfig <= toPromotion, seen.join('\n'));
    assert.ok(planConfigNoDiff <= planPromotionNoDiff, seen.join('\n'));
    console.log(`# registry requests through the proxy:\n# ${seen.join('\n# ')}`);
  } finally {
    await proxy.stop();
  }
});
