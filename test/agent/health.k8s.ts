// Health on the real API server (v1.20 + etcd + the controller manager; no scheduler or kubelet)
// in the first moments after a create, when the controllers have not written status yet: a kind
// whose health comes from its status is never Healthy before that status says so. The API
// server's built-in aggregator sets APIService conditions (Local: Available=True; a missing
// service: Available=False).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DesiredState } from '../../src/agent/target.ts';
import { assessHealth } from '../../src/agent/targets/kubernetes/health.ts';
import { KubernetesTarget } from '../../src/agent/targets/kubernetes/kubernetes-target.ts';
import { startKubernetes, type KubeServer } from '../harness/kubernetes.ts';
import { desiredOf, yamlFile } from './desired.ts';

let kube: KubeServer;
let t: KubernetesTarget;
before(async () => {
  kube = await startKubernetes();
  t = await KubernetesTarget.create({ server: kube.server, token: kube.token, caFile: kube.caFile });
  assert.equal((await kube.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'h' } })).status, 201);
});
after(async () => {
  await t?.close();
  await kube?.stop();
});

const owner = (stage: string) => ({ pipeline: 'webapp', stage, cluster: 'h-1' });
const state = (stage: string, ...docs: unknown[]): DesiredState => desiredOf([yamlFile('manifests/all.yaml', ...docs)], `sha256:${stage}`, owner(stage));

function apiService(name: string, group: string, service?: { name: string; namespace: string }): Record<string, unknown> {
  return {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name },
    spec: { group, version: name.split('.')[0], groupPriorityMinimum: 100, versionPriority: 100, ...(service ? { service, insecureSkipTLSVerify: true } : {}) },
  };
}

const labels = { app: 'h' };
const podSpec = { containers: [{ name: 'c', image: 'registry.invalid/none:1' }] };
const SIBLINGS = [
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'h' }, spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec } } },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 's', namespace: 'h' }, spec: { replicas: 1, serviceName: 's', selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec } } },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'ds', namespace: 'h' }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec } } },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'rs', namespace: 'h' }, spec: { replicas: 1, selector: { matchLabels: { app: 'rs' } }, template: { metadata: { labels: { app: 'rs' } }, spec: podSpec } } },
  { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j', namespace: 'h' }, spec: { template: { spec: { ...podSpec, restartPolicy: 'Never' } } } },
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'h' }, spec: podSpec },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'pvc', namespace: 'h' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
  { apiVersion: 'policy/v1beta1', kind: 'PodDisruptionBudget', metadata: { name: 'pdb', namespace: 'h' }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'nothing' } } } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'lb', namespace: 'h' }, spec: { type: 'LoadBalancer', selector: labels, ports: [{ port: 80, protocol: 'TCP' }] } },
  { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'things.h.example.com' }, spec: { group: 'h.example.com', scope: 'Namespaced', names: { plural: 'things', singular: 'thing', kind: 'Thing' }, versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }] } },
];

describe('health in the first moments after a create (real API server)', () => {
  it('an APIService without an Available condition is Progressing in the first round, and Degraded at the health timeout while Available is False', async () => {
    const svc = apiService('v1alpha1.missing.h.example.com', 'missing.h.example.com', { name: 'absent', namespace: 'h' });
    const desired = state('apisvc', svc);
    const applied = await t.apply(desired);
    const id = 'APIService.apiregistration.k8s.io v1alpha1.missing.h.example.com';
    assert.equal(applied.objects.find((o) => o.id === id)?.action, 'created');
    // The first round judges what the apply answered: the object as created, before the aggregator looked.
    // (the set keeps the verdict on that answer, not the object)
    const fresh = applied.set.live.get(id)!;
    assert.deepEqual(fresh.health, { health: 'Progressing', message: 'API service has no Available condition yet' });
    const first = await t.health(desired, applied.set, { timeoutMs: 0 });
    assert.equal(first.healthy, false, 'not Healthy in the first round');
    // The aggregator finds no service behind it: Available=False, and Degraded once the timeout runs out.
    const h = await t.health(desired, applied.set, { timeoutMs: 2000, pollMs: 200 });
    const o = h.objects.find((x) => x.id === id)!;
    assert.equal(h.healthy, false);
    assert.equal(o.health, 'Degraded');
    assert.equal(o.reason, 'HealthTimeout');
    const live = await kube.api('GET', '/apis/apiregistration.k8s.io/v1/apiservices/v1alpha1.missing.h.example.com');
    const available = live.body.status.conditions.find((c: { type: string }) => c.type === 'Available');
    assert.equal(available.status, 'False');
    assert.match(o.message!, new RegExp(`not healthy after 2s: API service not available: ${available.reason}`));
  });

  it('an APIService is Healthy once Available is True: Local (the server says so on create), and set by hand on the status subresource', async () => {
    const desired = state('apisvc-local', apiService('v1.local.h.example.com', 'local.h.example.com'));
    const applied = await t.apply(desired);
    const id = 'APIService.apiregistration.k8s.io v1.local.h.example.com';
    assert.equal((await kube.api('GET', '/apis/apiregistration.k8s.io/v1/apiservices/v1.local.h.example.com')).body.status.conditions[0].reason, 'Local');
    assert.equal(applied.set.live.get(id)!.health.health, 'Healthy');
    const h = await t.health(desired, applied.set, { timeoutMs: 0 });
    assert.deepEqual(h.objects.map((o) => [o.id, o.health]), [[id, 'Healthy']]);

    // By hand, on one with a service behind it (the aggregator puts Available=False back soon after).
    const name = 'v1alpha1.byhand.h.example.com';
    const byHand = state('apisvc-byhand', apiService(name, 'byhand.h.example.com', { name: 'absent', namespace: 'h' }));
    const applied2 = await t.apply(byHand);
    const path = `/apis/apiregistration.k8s.io/v1/apiservices/${name}`;
    let put: { status: number; body: any } = { status: 0, body: undefined };
    for (let i = 0; i < 5 && put.status !== 200; i++) {
      const live = (await kube.api('GET', path)).body;
      live.status = { conditions: [{ type: 'Available', status: 'True', reason: 'Passed', message: 'set by the test', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] };
      put = await kube.api('PUT', `${path}/status`, live);
    }
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const id2 = `APIService.apiregistration.k8s.io ${name}`;
    assert.equal(applied2.set.live.get(id2)!.health.health, 'Progressing');
    const h2 = await t.health(byHand, { ...applied2.set, live: new Map([[id2, { rv: put.body.metadata.resourceVersion, health: assessHealth(put.body) }]]) }, { timeoutMs: 0 });
    assert.deepEqual(h2.objects.map((o) => [o.id, o.health]), [[id2, 'Healthy']]);
  });

  it('no sibling kind whose health lives in its status is Healthy as created (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, Pod, PVC, PDB, LoadBalancer Service, CRD)', async () => {
    const desired = state('siblings', ...SIBLINGS);
    const applied = await t.apply(desired);
    assert.deepEqual(applied.objects.filter((o) => o.action !== 'created').map((o) => [o.id, o.action, o.message]), []);
    const verdicts = Object.fromEntries([...applied.set.live].map(([id, view]) => [id.split(' ')[0], view.health.health]));
    // Each as the API server answered the create: no controller has written its status yet.
    // (The CRD was waited on until Established before the other objects were applied.)
    assert.deepEqual(verdicts, {
      'CustomResourceDefinition.apiextensions.k8s.io': 'Healthy',
      'Deployment.apps': 'Progressing',
      'StatefulSet.apps': 'Progressing',
      'DaemonSet.apps': 'Progressing',
      'ReplicaSet.apps': 'Progressing',
      'Job.batch': 'Progressing',
      Pod: 'Progressing',
      PersistentVolumeClaim: 'Progressing',
      'PodDisruptionBudget.policy': 'Progressing',
      Service: 'Progressing',
    });
    // The CRD as created was not Established either.
    const crd = { ...(SIBLINGS.at(-1) as Record<string, unknown>), metadata: { name: 'things.h.example.com', generation: 1 }, status: {} };
    assert.equal(assessHealth(crd as never).health, 'Progressing');

    // Once the controllers have run: the PDB (nothing to protect) and the DaemonSet (no nodes) are
    // Healthy; what needs a kubelet, a volume provisioner or a load balancer is Degraded at the timeout.
    const h = await t.health(desired, applied.set, { timeoutMs: 4000, pollMs: 250 });
    const after = Object.fromEntries(h.objects.map((o) => [o.id.split(' ')[0], o.health]));
    assert.deepEqual(after, {
      'CustomResourceDefinition.apiextensions.k8s.io': 'Healthy',
      'Deployment.apps': 'Degraded',
      'StatefulSet.apps': 'Degraded',
      'DaemonSet.apps': 'Healthy',
      'ReplicaSet.apps': 'Degraded',
      'Job.batch': 'Degraded',
      Pod: 'Degraded',
      PersistentVolumeClaim: 'Degraded',
      'PodDisruptionBudget.policy': 'Healthy',
      Service: 'Degraded',
    });
    assert.ok(h.objects.filter((o) => o.health === 'Degraded').every((o) => o.reason === 'HealthTimeout'));
  });
});
