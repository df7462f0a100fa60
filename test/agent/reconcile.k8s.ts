// Reconcile rounds against a real kube-apiserver: the phases a cluster produces. The desired
// state comes from an in-process fake source (verification is tested in agent.integration);
// everything on the Kubernetes side is real.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Reconciler, type DesiredSource } from '../../src/agent/reconcile.ts';
import type { DesiredState } from '../../src/agent/target.ts';
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

function fixed(desired: DesiredState): DesiredSource {
  return { resolve: async () => desired.recordDigest, load: async () => desired };
}

async function reconciler(desired: DesiredState, options: { token?: string; inventoryNamespace?: string; selfHeal?: boolean; healthTimeoutMs?: number } = {}) {
  const target = await KubernetesTarget.create({ server: kube.server, caFile: kube.caFile, token: options.token ?? kube.token, ...(options.inventoryNamespace && { inventoryNamespace: options.inventoryNamespace }) });
  targets.push(target);
  return { target, r: new Reconciler({ owner: desired.owner, source: fixed(desired), target, healthTimeoutMs: options.healthTimeoutMs ?? 1000, healthPollMs: 200, ...(options.selfHeal === false && { selfHeal: false }) }) };
}

async function namespace(name: string): Promise<void> {
  await kube.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

const cm = (ns: string, name: string, data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data });
const owner = (stage: string) => ({ pipeline: 'webapp', stage, cluster: 'k8s-1' });

describe('reconcile against a real API server (in-process fake source)', () => {
  it('is Failed naming policy/v1 PodDisruptionBudget, with everything else applied', async () => {
    await namespace('r-pdb');
    const pdb = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web', namespace: 'r-pdb' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } } };
    const desired = desiredOf([yamlFile('manifests/all.yaml', cm('r-pdb', 'a', { x: '1' }), pdb, cm('r-pdb', 'b', { y: '2' }))], 'sha256:pdb1', owner('pdb'));
    const { r } = await reconciler(desired);
    const round = await r.round();
    assert.equal(round.status.phase, 'Failed');
    assert.equal(round.status.reason, 'KindNotServed');
    assert.match(round.status.message, /PodDisruptionBudget \(policy\/v1\) is not served by this API server/);
    assert.equal((await kube.api('GET', '/api/v1/namespaces/r-pdb/configmaps/a')).status, 200);
    assert.equal((await kube.api('GET', '/api/v1/namespaces/r-pdb/configmaps/b')).status, 200);
    assert.equal(round.status.objects.failed, 1);
  });

  it('is Failed naming the kind the service account may not apply', async () => {
    await namespace('r-rbac');
    await kube.api('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/r-rbac/roles', {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'agent', namespace: 'r-rbac' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'create', 'patch', 'update', 'delete'] }],
    });
    await kube.api('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/r-rbac/rolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'agent', namespace: 'r-rbac' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'agent' },
      subjects: [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }],
    });
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'r-rbac' }, stringData: { password: 'x' } };
    const desired = desiredOf([yamlFile('manifests/all.yaml', cm('r-rbac', 'app', { a: '1' }), secret)], 'sha256:rbac1', owner('rbac'));
    const { r } = await reconciler(desired, { token: kube.userToken, inventoryNamespace: 'r-rbac' });
    const round = await r.round();
    assert.equal(round.status.phase, 'Failed');
    assert.equal(round.status.reason, 'Forbidden');
    assert.match(round.status.message, /Secret is forbidden to the agent/);
    assert.equal((await kube.api('GET', '/api/v1/namespaces/r-rbac/configmaps/app')).status, 200);
  });

  it('is Degraded when a Deployment does not become available within the health timeout', async () => {
    await namespace('r-health');
    const dep = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'r-health' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } },
    };
    const desired = desiredOf([yamlFile('manifests/dep.yaml', dep)], 'sha256:h1', owner('health'));
    const { r } = await reconciler(desired);
    const round = await r.round();
    assert.equal(round.status.phase, 'Degraded');
    assert.equal(round.status.reason, 'HealthTimeout');
    assert.match(round.status.message, /Deployment\.apps r-health\/web: not healthy after 1s: .*replicas/);
  });

  it('converges, then idles with zero writes; a hand edit is Drifted with self-heal off and restored with it on', async () => {
    await namespace('r-drift');
    const desired = desiredOf([yamlFile('manifests/cm.yaml', cm('r-drift', 'settings', { level: 'info' }))], 'sha256:d1', owner('drift'));
    const { r, target } = await reconciler(desired, { selfHeal: false });
    assert.equal((await r.round()).status.phase, 'Converged');
    target.client.resetCounts();
    const idle = await r.round();
    assert.equal(idle.status.phase, 'Converged');
    assert.equal(target.client.requestCounts().writes, 0);
    await kube.api('PATCH', '/api/v1/namespaces/r-drift/configmaps/settings?fieldManager=kubectl-edit', { data: { level: 'debug' } }, { contentType: 'application/merge-patch+json' });
    const drifted = await r.round();
    assert.equal(drifted.status.phase, 'Drifted');
    assert.equal((await kube.api('GET', '/api/v1/namespaces/r-drift/configmaps/settings')).body.data.level, 'debug');
    const healing = await reconciler(desired);
    const healed = await healing.r.round();
    assert.equal(healed.status.phase, 'Converged');
    assert.equal(healed.status.reason, 'DriftCorrected');
    assert.equal((await kube.api('GET', '/api/v1/namespaces/r-drift/configmaps/settings')).body.data.level, 'info');
  });
});
