// Issue 19's fifth Kubernetes finding, on a real kube-apiserver: a report's `since` must not
// survive a rebuilt cluster. A new agent process keeps the `since` of its last report only when
// its first round finds the cluster already holding the state; one that has to create the
// objects again starts the clock then, so a soak gate never counts time from before the rebuild.
// The desired state and the last report come from in-process fakes (verification and the real
// reporter are tested in agent.integration and replay*.integration); the cluster side is real.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Reconciler, type PreviousReport } from '../../src/agent/reconcile.ts';
import { KubernetesTarget } from '../../src/agent/targets/kubernetes/kubernetes-target.ts';
import { startKubernetes, type KubeServer } from '../harness/kubernetes.ts';
import { desiredOf, yamlFile } from './desired.ts';

let kube: KubeServer;
const targets: KubernetesTarget[] = [];
before(async () => {
  kube = await startKubernetes();
});
after(async () => {
  for (const t of targets) await t.close();
  await kube?.stop();
});

const NS = 'since-rebuild';
const owner = { pipeline: 'webapp', stage: 'rebuild', cluster: 'k8s-1' };
const cm = (name: string, data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data });
const desired = desiredOf([yamlFile('manifests/all.yaml', cm('app', { level: 'info' }), cm('features', { beta: 'off' }))], 'sha256:rebuild1', owner);

/** A new agent process: a new target (no caches) and the last report its reporter reads back. */
async function agentProcess(previous?: PreviousReport) {
  const target = await KubernetesTarget.create({ server: kube.server, caFile: kube.caFile, token: kube.token, inventoryNamespace: NS });
  targets.push(target);
  const reporter = { report: async () => {}, previous: async () => previous };
  return new Reconciler({ owner, source: { resolve: async () => desired.recordDigest, load: async () => desired }, target, reporter, healthTimeoutMs: 1000, healthPollMs: 200 }).round();
}

test('a restarted agent keeps since over a cluster that still holds its objects, and starts it again over a rebuilt one (real API server)', async () => {
  await kube.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  const first = await agentProcess();
  assert.equal(first.status.phase, 'Converged', first.status.message);
  const long = '2026-01-01T00:00:00.000Z';
  const last: PreviousReport = { phase: 'Converged', record: desired.recordDigest, bundle: desired.bundleDigest, since: long };

  const held = await agentProcess(last);
  assert.equal(held.status.phase, 'Converged', held.status.message);
  assert.equal(held.writes, 0, 'the cluster held every object: nothing written');
  assert.equal(held.status.since, long, 'a restart over an unchanged cluster keeps the soak going');

  // The cluster is rebuilt: every object, and the agent's inventory, gone.
  const names: string[] = (await kube.api('GET', `/api/v1/namespaces/${NS}/configmaps`)).body.items.map((i: { metadata: { name: string } }) => i.metadata.name).filter((n: string) => n !== 'kube-root-ca.crt');
  assert.ok(names.some((n) => n.startsWith('promote-inventory-')) && names.includes('app'), names.join(', '));
  for (const name of names) assert.equal((await kube.api('DELETE', `/api/v1/namespaces/${NS}/configmaps/${name}`)).status, 200, name);
  assert.equal((await kube.api('GET', `/api/v1/namespaces/${NS}/configmaps/app`)).status, 404);
  const startedAt = Date.now();
  const rebuilt = await agentProcess(last);
  assert.equal(rebuilt.status.phase, 'Converged', rebuilt.status.message);
  assert.ok(rebuilt.writes >= 2, `every object was created again (${rebuilt.writes} writes)`);
  assert.equal((await kube.api('GET', `/api/v1/namespaces/${NS}/configmaps/app`)).body.data.level, 'info');
  assert.notEqual(rebuilt.status.since, long, 'the since from before the rebuild is not carried over');
  assert.ok(Date.parse(rebuilt.status.since) >= startedAt - 5, `since ${rebuilt.status.since} starts with the re-created objects`);
});
