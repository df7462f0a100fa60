// The Kubernetes target against a real kube-apiserver (scripts/k8s, v1.20.2 + etcd + the
// controller manager; no scheduler or kubelet). Run with `npm run test:k8s`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DesiredState, Owner } from '../../src/agent/target.ts';
import { KubernetesTarget, type KubernetesTargetOptions } from '../../src/agent/targets/kubernetes/kubernetes-target.ts';
import { startKubernetes, type KubeServer } from '../harness/kubernetes.ts';
import { desiredOf, filesFromDir, forKubernetes120, yamlFile } from './desired.ts';

const FIXTURE = new URL('../fixtures/kube-prometheus/manifests', import.meta.url).pathname;

let kube: KubeServer;
const targets: KubernetesTarget[] = [];

before(async () => {
  kube = await startKubernetes();
});
after(async () => {
  for (const t of targets) await t.close();
  await kube?.stop();
});

async function target(options: Partial<KubernetesTargetOptions> = {}): Promise<KubernetesTarget> {
  const t = await KubernetesTarget.create({ server: kube.server, token: kube.token, caFile: kube.caFile, ...options });
  targets.push(t);
  return t;
}

function owner(stage: string): Owner {
  return { pipeline: 'webapp', stage, cluster: 'test-1' };
}

async function namespace(name: string): Promise<void> {
  const res = await kube.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  assert.ok(res.status === 201 || res.status === 409, `create namespace ${name}: ${res.status}`);
}

function cm(ns: string, name: string, data: Record<string, string>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data };
}

function state(stage: string, record: string, ...docs: unknown[]): DesiredState {
  return desiredOf([yamlFile('manifests/all.yaml', ...docs)], record, owner(stage));
}

const WIDGET_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [{
      name: 'v1',
      served: true,
      storage: true,
      subresources: { status: {} },
      schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } }, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } },
    }],
  },
};

describe('Kubernetes target (real API server)', () => {
  it('applies a CRD and a custom resource of it from one bundle: the CRD first, established, then the CR', async () => {
    await namespace('t-crd');
    const t = await target();
    // The CR comes first in the file: ordering is the target's job.
    const desired = state('crd', 'sha256:1', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w1', namespace: 't-crd' }, spec: { size: 3 } }, WIDGET_CRD);
    const result = await t.apply(desired);
    assert.deepEqual(result.objects.map((o) => [o.id, o.action]), [
      ['CustomResourceDefinition.apiextensions.k8s.io widgets.example.com', 'created'],
      ['Widget.example.com t-crd/w1', 'created'],
    ]);
    const live = await kube.api('GET', '/apis/example.com/v1/namespaces/t-crd/widgets/w1');
    assert.equal(live.status, 200);
    assert.equal(live.body.spec.size, 3);
    assert.equal(live.body.metadata.labels['app.kubernetes.io/managed-by'], 'promote');
    assert.ok(live.body.metadata.managedFields.some((m: { manager: string; operation: string }) => m.manager === 'promote' && m.operation === 'Apply'));
  });

  it('applies kube-prometheus (1 MB CRDs, Lists, APIService, Secrets), reports policy/v1 by name, and re-applies with zero writes', async () => {
    const t = await target();
    const desired = desiredOf(forKubernetes120(await filesFromDir(FIXTURE)), 'sha256:kp1', owner('kp'));
    const first = await t.apply(desired);
    const failed = first.objects.filter((o) => o.action === 'failed');
    assert.deepEqual(failed.map((o) => [o.id, o.reason]), [
      ['PodDisruptionBudget.policy monitoring/alertmanager-main', 'KindNotServed'],
      ['PodDisruptionBudget.policy monitoring/prometheus-k8s', 'KindNotServed'],
      ['PodDisruptionBudget.policy monitoring/prometheus-adapter', 'KindNotServed'],
    ]);
    assert.match(failed[0]!.message!, /PodDisruptionBudget \(policy\/v1\) is not served/);
    const created = first.objects.filter((o) => o.action === 'created').length;
    assert.equal(created, first.objects.length - 3, 'everything but the PodDisruptionBudgets is applied');
    assert.ok(created >= 120);
    // Services without `protocol` are beyond 1.20's server-side apply: written without it, and said so.
    const svc = first.objects.find((o) => o.id === 'Service monitoring/grafana');
    assert.equal(svc?.reason, 'AppliedWithoutSSA');
    assert.match(svc!.message!, /omits key field "protocol"/);
    // The largest CRD went in through server-side apply, with no last-applied annotation.
    const crd = await kube.api('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/prometheuses.monitoring.coreos.com');
    assert.equal(crd.status, 200);
    assert.ok(JSON.stringify(crd.body.spec).length > 400_000, 'the CRD is still large');
    assert.equal(crd.body.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], undefined);
    // The Lists were expanded into their items.
    assert.equal((await kube.api('GET', '/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles/prometheus-k8s')).status, 200);
    await t.prune(desired, first.set);

    t.client.resetCounts();
    const second = await t.apply(desired);
    assert.equal(second.writes, 0);
    assert.equal(t.client.requestCounts().writes, 0, 'no mutating request at all on a no-op re-apply');
    assert.ok(second.objects.filter((o) => o.action !== 'failed').every((o) => o.action === 'unchanged'));
    assert.equal((await t.prune(desired, second.set)).writes, 0);
  });

  it('expands RoleList, RoleBindingList and ConfigMapList documents into their items', async () => {
    await namespace('t-list');
    const t = await target();
    const roleList = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleList',
      items: [
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'r1', namespace: 't-list' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'r2', namespace: 't-list' }, rules: [] },
      ],
    };
    const bindingList = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBindingList',
      items: [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'b1', namespace: 't-list' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'r1' }, subjects: [{ kind: 'User', name: 'bob', apiGroup: 'rbac.authorization.k8s.io' }] }],
    };
    const cmList = { apiVersion: 'v1', kind: 'ConfigMapList', items: [cm('t-list', 'c1', { a: '1' }), cm('t-list', 'c2', { b: '2' })] };
    const result = await t.apply(state('list', 'sha256:l1', roleList, bindingList, cmList));
    assert.deepEqual(result.objects.map((o) => [o.id, o.action]), [
      ['Role.rbac.authorization.k8s.io t-list/r1', 'created'],
      ['Role.rbac.authorization.k8s.io t-list/r2', 'created'],
      ['RoleBinding.rbac.authorization.k8s.io t-list/b1', 'created'],
      ['ConfigMap t-list/c1', 'created'],
      ['ConfigMap t-list/c2', 'created'],
    ]);
    assert.equal((await kube.api('GET', '/api/v1/namespaces/t-list/configmaps/c2')).body.data.b, '2');
  });

  it('carries on when an APIService has no backend and discovery of its group fails', async () => {
    await namespace('t-agg');
    const t = await target();
    const apiService = {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: 'v1alpha1.broken.example.com' },
      spec: { group: 'broken.example.com', version: 'v1alpha1', groupPriorityMinimum: 100, versionPriority: 100, insecureSkipTLSVerify: true, service: { name: 'missing', namespace: 't-agg' } },
    };
    const gadget = { apiVersion: 'broken.example.com/v1alpha1', kind: 'Gadget', metadata: { name: 'g', namespace: 't-agg' } };
    const desired = state('agg', 'sha256:a1', apiService, gadget, cm('t-agg', 'still-applied', { ok: 'yes' }));
    const first = await t.apply(desired);
    assert.equal(first.objects.find((o) => o.id.startsWith('APIService'))?.action, 'created');
    assert.equal(first.objects.find((o) => o.id === 'ConfigMap t-agg/still-applied')?.action, 'created');
    // Once the aggregator has registered it, discovery of the group answers 503.
    let status = 0;
    for (let i = 0; i < 100 && status !== 503; i++) {
      status = (await kube.api('GET', '/apis/broken.example.com/v1alpha1')).status;
      if (status !== 503) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 503);
    await kube.api('DELETE', '/api/v1/namespaces/t-agg/configmaps/still-applied');
    const second = await t.apply(desired);
    const g = second.objects.find((o) => o.id.startsWith('Gadget'));
    assert.equal(g?.reason, 'DiscoveryFailed');
    assert.match(g!.message!, /Gadget \(broken\.example\.com\/v1alpha1\).*503/);
    assert.equal(second.objects.find((o) => o.id === 'ConfigMap t-agg/still-applied')?.action, 'created');
    assert.equal(second.objects.find((o) => o.id.startsWith('APIService'))?.action, 'unchanged');
  });

  it('prunes objects removed from the bundle, and never an object another field manager owns', async () => {
    await namespace('t-prune');
    const t = await target();
    const p1 = await t.apply(state('prune', 'sha256:p1', cm('t-prune', 'keep', { a: '1' }), cm('t-prune', 'drop', { b: '2' }), cm('t-prune', 'taken', { c: '3' })));
    await t.prune(state('prune', 'sha256:p1'), p1.set);
    // Not ours: created by someone else, even with our labels copied onto it.
    const foreign = cm('t-prune', 'foreign', { x: '1' }) as { metadata: Record<string, unknown> };
    foreign.metadata.labels = { 'app.kubernetes.io/managed-by': 'promote', 'promote.dev/pipeline': 'webapp', 'promote.dev/stage': 'prune' };
    assert.equal((await kube.api('PATCH', '/api/v1/namespaces/t-prune/configmaps/foreign?fieldManager=kubectl', foreign, { contentType: 'application/apply-patch+yaml' })).status, 201);
    // Ours once, then applied by another manager as well (force, same values: shared fields).
    const takeover = cm('t-prune', 'taken', { c: '3' }) as { metadata: Record<string, unknown> };
    takeover.metadata.labels = { 'app.kubernetes.io/managed-by': 'promote', 'promote.dev/pipeline': 'webapp', 'promote.dev/stage': 'prune' };
    assert.equal((await kube.api('PATCH', '/api/v1/namespaces/t-prune/configmaps/taken?fieldManager=platform-team&force=true', takeover, { contentType: 'application/apply-patch+yaml' })).status, 200);

    const next = state('prune', 'sha256:p2', cm('t-prune', 'keep', { a: '1' }));
    const result = await t.prune(next, (await t.apply(next)).set);
    assert.deepEqual(result.pruned, ['ConfigMap t-prune/drop']);
    assert.deepEqual(result.kept.map((k) => [k.id, k.reason]), [['ConfigMap t-prune/taken', 'NotOwned']]);
    assert.match(result.kept[0]!.message!, /platform-team/);
    assert.equal((await kube.api('GET', '/api/v1/namespaces/t-prune/configmaps/drop')).status, 404);
    assert.equal((await kube.api('GET', '/api/v1/namespaces/t-prune/configmaps/keep')).status, 200);
    assert.equal((await kube.api('GET', '/api/v1/namespaces/t-prune/configmaps/taken')).status, 200);
    assert.equal((await kube.api('GET', '/api/v1/namespaces/t-prune/configmaps/foreign')).status, 200);
    const inv = await kube.api('GET', '/api/v1/namespaces/default/configmaps/promote-inventory-webapp-prune');
    assert.deepEqual(JSON.parse(inv.body.data['objects.json']).map((e: { name: string }) => e.name), ['keep']);
  });

  it('reports a 409 conflict with another field manager and applies nothing over it', async () => {
    await namespace('t-conflict');
    const t = await target();
    assert.equal((await kube.api('PATCH', '/api/v1/namespaces/t-conflict/configmaps/shared?fieldManager=helm', cm('t-conflict', 'shared', { mode: 'theirs' }), { contentType: 'application/apply-patch+yaml' })).status, 201);
    const result = await t.apply(state('conflict', 'sha256:c1', cm('t-conflict', 'shared', { mode: 'ours' }), cm('t-conflict', 'other', { a: '1' })));
    const shared = result.objects.find((o) => o.id === 'ConfigMap t-conflict/shared');
    assert.equal(shared?.action, 'failed');
    assert.equal(shared?.reason, 'Conflict');
    assert.match(shared!.message!, /conflict.*helm/i);
    assert.equal(result.objects.find((o) => o.id === 'ConfigMap t-conflict/other')?.action, 'created');
    assert.equal((await kube.api('GET', '/api/v1/namespaces/t-conflict/configmaps/shared')).body.data.mode, 'theirs');
    // Where force is configured, the same apply takes the field.
    const forced = await (await target({ force: true })).apply(state('conflict', 'sha256:c1', cm('t-conflict', 'shared', { mode: 'ours' })));
    assert.equal(forced.objects[0]?.action, 'configured');
    assert.equal((await kube.api('GET', '/api/v1/namespaces/t-conflict/configmaps/shared')).body.data.mode, 'ours');
  });

  it('reports Degraded when an object is not healthy within the timeout, Healthy once its status says so', async () => {
    await namespace('t-health');
    const t = await target();
    const crd = structuredClone(WIDGET_CRD);
    const desired = state('health', 'sha256:h1', crd, { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'slow', namespace: 't-health' }, spec: { size: 1 } });
    await t.apply(desired);
    const setReady = async (value: string): Promise<void> => {
      const live = await kube.api('GET', '/apis/example.com/v1/namespaces/t-health/widgets/slow');
      live.body.status = { conditions: [{ type: 'Ready', status: value, reason: value === 'True' ? 'Up' : 'Starting', message: 'set by the test' }] };
      assert.equal((await kube.api('PUT', '/apis/example.com/v1/namespaces/t-health/widgets/slow/status', live.body)).status, 200);
    };
    await setReady('False');
    // health works from what the round observed
    const degraded = await t.health(desired, (await t.observe(desired)).set, { timeoutMs: 1500, pollMs: 200 });
    assert.equal(degraded.healthy, false);
    const w = degraded.objects.find((o) => o.id === 'Widget.example.com t-health/slow');
    assert.equal(w?.health, 'Degraded');
    assert.equal(w?.reason, 'HealthTimeout');
    assert.match(w!.message!, /Ready is False: Starting/);
    await setReady('True');
    const healthy = await t.health(desired, (await t.observe(desired)).set, { timeoutMs: 1500, pollMs: 200 });
    assert.equal(healthy.healthy, true);
    // A Deployment never becomes available here (no kubelet): Degraded after the timeout.
    const dep = state('health-dep', 'sha256:d1', {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 't-health' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } },
    });
    const depHealth = await t.health(dep, (await t.apply(dep)).set, { timeoutMs: 1500, pollMs: 200 });
    assert.equal(depHealth.objects[0]?.health, 'Degraded');
    assert.match(depHealth.objects[0]!.message!, /replicas/);
  });

  it('detects a hand edit of an owned object as drift and restores it', async () => {
    await namespace('t-drift');
    const t = await target();
    const desired = state('drift', 'sha256:x1', cm('t-drift', 'settings', { level: 'info' }));
    await t.prune(desired, (await t.apply(desired)).set);
    assert.deepEqual((await t.observe(desired)).drift, []);
    assert.equal((await kube.api('PATCH', '/api/v1/namespaces/t-drift/configmaps/settings?fieldManager=kubectl-edit', { data: { level: 'debug' } }, { contentType: 'application/merge-patch+json' })).status, 200);
    const seen = await t.observe(desired);
    assert.deepEqual(seen.drift.map((d) => [d.id, d.kind]), [['ConfigMap t-drift/settings', 'modified']]);
    const restored = await t.apply(desired, { restore: seen.drift.map((d) => d.id) });
    assert.equal(restored.objects[0]?.action, 'configured');
    assert.equal((await kube.api('GET', '/api/v1/namespaces/t-drift/configmaps/settings')).body.data.level, 'info');
    assert.deepEqual((await t.observe(desired)).drift, []);
  });

  it('reports a kind the service account may not touch, naming it, and applies the rest', async () => {
    await namespace('t-rbac');
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'agent', namespace: 't-rbac' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'create', 'patch', 'update', 'delete'] }],
    };
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'agent', namespace: 't-rbac' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'agent' },
      subjects: [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }],
    };
    assert.equal((await kube.api('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/t-rbac/roles', role)).status, 201);
    assert.equal((await kube.api('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/t-rbac/rolebindings', binding)).status, 201);
    const t = await target({ token: kube.userToken, inventoryNamespace: 't-rbac' });
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 't-rbac' }, stringData: { password: 'x' } };
    const result = await t.apply(state('rbac', 'sha256:s1', cm('t-rbac', 'app', { a: '1' }), secret));
    assert.equal(result.objects.find((o) => o.id === 'ConfigMap t-rbac/app')?.action, 'created');
    const s = result.objects.find((o) => o.id === 'Secret t-rbac/db');
    assert.equal(s?.action, 'failed');
    assert.equal(s?.reason, 'Forbidden');
    assert.match(s!.message!, /^Secret is forbidden to the agent/);
    assert.match(s!.message!, /secrets/);
  });
});
