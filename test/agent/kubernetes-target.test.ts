// Error paths of the Kubernetes target that a real API server will not produce on demand — a
// 500 on one write, readiness that arrives late — against an in-process fake API server over
// HTTP. Everything the real server does is tested in *.k8s.ts.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { KubernetesTarget } from '../../src/agent/targets/kubernetes/kubernetes-target.ts';
import { assessHealth } from '../../src/agent/targets/kubernetes/health.ts';
import { collectObjects } from '../../src/agent/targets/kubernetes/objects.ts';
import { isSubset } from '../../src/agent/targets/kubernetes/compare.ts';
import { desiredOf, yamlFile } from './desired.ts';

interface Stored {
  body: Record<string, any>;
  reads: number;
}

let server: Server;
let url: string;
const objects = new Map<string, Stored>();
const failPatch = new Set<string>();
/** Objects whose Ready condition turns True only after this many reads. */
const readyAfter = new Map<string, number>();

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (path === '/api/v1') {
        return send(200, { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'configmaps', kind: 'ConfigMap', namespaced: true }] });
      }
      if (path === '/apis/example.com/v1') {
        return send(200, { kind: 'APIResourceList', groupVersion: 'example.com/v1', resources: [{ name: 'gadgets', kind: 'Gadget', namespaced: true }, { name: 'gadgets/status', kind: 'Gadget', namespaced: true }] });
      }
      const stored = objects.get(path);
      if (req.method === 'GET') {
        if (!stored) return send(404, { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` });
        stored.reads++;
        const after = readyAfter.get(path);
        if (after !== undefined) stored.body.status = { conditions: [{ type: 'Ready', status: stored.reads > after ? 'True' : 'False', reason: 'Warming' }] };
        return send(200, stored.body);
      }
      if (req.method === 'PATCH') {
        if (failPatch.has(path)) return send(500, { kind: 'Status', status: 'Failure', reason: 'InternalError', code: 500, message: 'etcdserver: request timed out' });
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        body.metadata.managedFields = [{ manager: 'promote', operation: 'Apply' }];
        // Like a real server, the answer carries the object's current status.
        if (readyAfter.has(path)) body.status = { conditions: [{ type: 'Ready', status: 'False', reason: 'Warming' }] };
        const created = !stored;
        objects.set(path, { body, reads: stored?.reads ?? 0 });
        return send(created ? 201 : 200, body);
      }
      send(405, { kind: 'Status', code: 405, message: 'not in this fake' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'app' }, data: { a: '1' } });

describe('Kubernetes target error paths (in-process fake API server)', () => {
  it('reports a 500 on one object with the server message and applies the others', async () => {
    failPatch.add('/api/v1/namespaces/app/configmaps/broken');
    const t = await KubernetesTarget.create({ server: url, token: 't' });
    const result = await t.apply(desiredOf([yamlFile('m.yaml', cm('ok-1'), cm('broken'), cm('ok-2'))], 'sha256:f1', { pipeline: 'p', stage: 'fake', cluster: 'c' }));
    await t.close();
    assert.deepEqual(result.objects.map((o) => [o.id, o.action, o.reason]), [
      ['ConfigMap app/ok-1', 'created', undefined],
      ['ConfigMap app/broken', 'failed', 'ApplyFailed'],
      ['ConfigMap app/ok-2', 'created', undefined],
    ]);
    assert.match(result.objects[1]!.message!, /HTTP 500 etcdserver: request timed out/);
  });

  it('waits through slow readiness: Progressing for a while, then Healthy before the timeout', async () => {
    readyAfter.set('/apis/example.com/v1/namespaces/app/gadgets/g', 3);
    const t = await KubernetesTarget.create({ server: url, token: 't' });
    const desired = desiredOf([yamlFile('m.yaml', { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'g', namespace: 'app' } })], 'sha256:s1', { pipeline: 'p', stage: 'slow', cluster: 'c' });
    const h = await t.health(desired, (await t.apply(desired)).set, { timeoutMs: 10_000, pollMs: 20 });
    await t.close();
    assert.equal(h.healthy, true);
    assert.ok(objects.get('/apis/example.com/v1/namespaces/app/gadgets/g')!.reads >= 4, 'it polled until Ready');
  });
});

describe('Kubernetes target: the Target contract (in-process fake API server)', () => {
  it('keeps nothing between calls: another instance waits for health from the apply\'s set; prune refuses any set but an apply\'s of the same record', async () => {
    readyAfter.set('/apis/example.com/v1/namespaces/app/gadgets/h', 2);
    const desired = desiredOf([yamlFile('m.yaml', { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'h', namespace: 'app' } })], 'sha256:k1', { pipeline: 'p', stage: 'contract', cluster: 'c' });
    const t = await KubernetesTarget.create({ server: url, token: 't' });
    const applied = await t.apply(desired);
    const other = await KubernetesTarget.create({ server: url, token: 't' });
    const h = await other.health(desired, applied.set, { timeoutMs: 10_000, pollMs: 20 });
    assert.deepEqual(h.objects.map((o) => [o.id, o.health]), [['Gadget.example.com app/h', 'Healthy']]);
    const observed = await t.observe(desired);
    await assert.rejects(t.prune(desired, observed.set), { code: 'TARGET_SET_MISMATCH' });
    await assert.rejects(t.health({ ...desired, recordDigest: 'sha256:k2' }, applied.set, { timeoutMs: 0 }), { code: 'TARGET_SET_MISMATCH' });
    await t.close();
    await other.close();
  });
});

describe('Kubernetes health by kind', () => {
  const dep = (status: object, generation = 2) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', generation }, spec: { replicas: 2 }, status });
  it('a Deployment is healthy only when the controller saw the generation and the rollout is complete', () => {
    assert.equal(assessHealth(dep({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })).health, 'Progressing');
    assert.equal(assessHealth(dep({ observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 })).health, 'Progressing');
    assert.equal(assessHealth(dep({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 1 })).health, 'Progressing');
    assert.equal(assessHealth(dep({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })).health, 'Healthy');
    assert.equal(assessHealth(dep({ observedGeneration: 2, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] })).health, 'Degraded');
  });
  it('StatefulSet, DaemonSet, Job and CRD follow their own status', () => {
    const sts = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 's', generation: 1 }, spec: { replicas: 1 } };
    assert.equal(assessHealth({ ...sts, status: { observedGeneration: 1, readyReplicas: 1, updatedReplicas: 1, currentRevision: 'a', updateRevision: 'a' } }).health, 'Healthy');
    assert.equal(assessHealth({ ...sts, status: { observedGeneration: 1, readyReplicas: 1, updatedReplicas: 1, currentRevision: 'a', updateRevision: 'b' } }).health, 'Progressing');
    const ds = { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'd', generation: 1 } };
    assert.equal(assessHealth({ ...ds, status: { observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2 } }).health, 'Progressing');
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' } };
    assert.equal(assessHealth({ ...job, status: { conditions: [{ type: 'Complete', status: 'True' }] } }).health, 'Healthy');
    assert.equal(assessHealth({ ...job, status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] } }).health, 'Degraded');
    const crd = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'x' } };
    assert.equal(assessHealth({ ...crd, status: { conditions: [{ type: 'Established', status: 'True' }] } }).health, 'Healthy');
    assert.equal(assessHealth({ ...crd, status: {} }).health, 'Progressing');
  });
  it('a kind whose health is in its status is Progressing while that status is missing (APIService, Pod, ReplicaSet, PDB, LoadBalancer Service)', () => {
    const api = { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: 'v1.x' } };
    assert.equal(assessHealth(api).health, 'Progressing');
    assert.equal(assessHealth({ ...api, status: {} }).health, 'Progressing');
    assert.equal(assessHealth({ ...api, status: { conditions: [{ type: 'Available', status: 'False', reason: 'ServiceNotFound' }] } }).health, 'Progressing');
    assert.equal(assessHealth({ ...api, status: { conditions: [{ type: 'Available', status: 'True' }] } }).health, 'Healthy');
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } };
    assert.equal(assessHealth({ ...pod, status: { phase: 'Pending' } }).health, 'Progressing');
    assert.equal(assessHealth({ ...pod, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }).health, 'Healthy');
    assert.equal(assessHealth({ ...pod, status: { phase: 'Succeeded' } }).health, 'Healthy');
    assert.equal(assessHealth({ ...pod, status: { phase: 'Failed' } }).health, 'Degraded');
    const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'r', generation: 1 }, spec: { replicas: 2 } };
    assert.equal(assessHealth({ ...rs, status: {} }).health, 'Progressing');
    assert.equal(assessHealth({ ...rs, status: { observedGeneration: 1, availableReplicas: 2 } }).health, 'Healthy');
    const pdb = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'b', generation: 1 } };
    assert.equal(assessHealth({ ...pdb, status: {} }).health, 'Progressing');
    assert.equal(assessHealth({ ...pdb, status: { observedGeneration: 1, currentHealthy: 1, desiredHealthy: 2 } }).health, 'Progressing');
    assert.equal(assessHealth({ ...pdb, status: { observedGeneration: 1, currentHealthy: 2, desiredHealthy: 2 } }).health, 'Healthy');
    const lb = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { type: 'LoadBalancer' } };
    assert.equal(assessHealth({ ...lb, status: { loadBalancer: {} } }).health, 'Progressing');
    assert.equal(assessHealth({ ...lb, status: { loadBalancer: { ingress: [{ ip: '10.1.2.3' }] } } }).health, 'Healthy');
    assert.equal(assessHealth({ ...lb, spec: { type: 'ClusterIP' }, status: { loadBalancer: {} } }).health, 'Healthy');
  });
});

describe('Kubernetes objects', () => {
  it('orders CRDs, then Namespaces, then the rest in bundle order, and expands Lists', () => {
    const { objects: out } = collectObjects(desiredOf([yamlFile('a.yaml',
      cm('x'),
      { apiVersion: 'v1', kind: 'ConfigMapList', items: [cm('l1'), cm('l2')] },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app' } },
      { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'gadgets.example.com' } },
      null,
    )]));
    assert.deepEqual(out.map((o) => o.object.metadata.name), ['gadgets.example.com', 'app', 'x', 'l1', 'l2']);
  });
  it('a live object is up to date when every field the bundle sets has that value, defaults aside', () => {
    assert.equal(isSubset({ spec: { ports: [{ port: 80 }] } }, { spec: { ports: [{ port: 80, protocol: 'TCP' }], clusterIP: '10.0.0.1' } }), true);
    assert.equal(isSubset({ spec: { ports: [{ port: 80 }] } }, { spec: { ports: [{ port: 81, protocol: 'TCP' }] } }), false);
    assert.equal(isSubset({ spec: { ports: [{ port: 80 }, { port: 81 }] } }, { spec: { ports: [{ port: 80 }] } }), false);
    assert.equal(isSubset({ data: { a: '1' }, metadata: { annotations: {} } }, { data: { a: '1' }, metadata: {} }), true);
  });
});
