// What the Kubernetes target asks of the API server, round by round, on kube-prometheus (less
// what v1.20 does not serve: policy/v1 PodDisruptionBudgets) against a real kube-apiserver:
// no read before a write, discovery once per process, the inventory read once and written only
// when it changes, normalised objects that settle, and an idle round of a few requests that
// still finds and corrects drift. Requests are seen through the client's own hook, which sees
// every request the target sends (watches included).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Reconciler, type DesiredSource } from '../../src/agent/reconcile.ts';
import type { DesiredState, RenderedFile } from '../../src/agent/target.ts';
import { KubernetesTarget } from '../../src/agent/targets/kubernetes/kubernetes-target.ts';
import { startKubernetes, type KubeServer } from '../harness/kubernetes.ts';
import { desiredOf, filesFromDir, forKubernetes120 } from './desired.ts';

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

/** kube-prometheus as v1.20 serves it: without the policy/v1 PodDisruptionBudgets. */
async function kubePrometheus(stage: string): Promise<DesiredState> {
  const files: RenderedFile[] = forKubernetes120(await filesFromDir(FIXTURE)).map((f) => {
    if (!f.documents) return f;
    const documents = f.documents.filter((d) => (d as { kind?: string } | null)?.kind !== 'PodDisruptionBudget');
    return { ...f, content: Buffer.from(documents.map((d) => JSON.stringify(d)).join('\n---\n')), documents };
  });
  return desiredOf(files, `sha256:${stage}`, { pipeline: 'kp', stage, cluster: 'k8s-1' });
}

interface Request {
  method: string;
  path: string;
}

async function target(): Promise<{ t: KubernetesTarget; log: Request[] }> {
  const t = await KubernetesTarget.create({ server: kube.server, token: kube.token, caFile: kube.caFile, inventoryNamespace: 'default' });
  targets.push(t);
  const log: Request[] = [];
  t.client.onRequest = (method, path) => log.push({ method, path: path.split('?')[0]!, ...(path.includes('dryRun') && { method: `${method}(dry-run)` }) });
  return { t, log };
}

const isDiscovery = (r: Request): boolean => r.method === 'GET' && /^\/(api|apis\/[^/]+)\/[^/]+$/.test(r.path);
const isInventory = (r: Request): boolean => r.path.includes('/configmaps/promote-inventory-');
const count = (log: Request[], f: (r: Request) => boolean): number => log.filter(f).length;

function fixed(desired: DesiredState): DesiredSource {
  return { resolve: async () => desired.recordDigest, load: async () => desired };
}

describe('Kubernetes target requests on kube-prometheus (real API server)', () => {
  it('applies into an empty cluster without reading any object first, discovers each group version once per process, and writes the inventory once per apply', async () => {
    const desired = await kubePrometheus('first');
    const { t, log } = await target();
    const applied = await t.apply(desired);
    assert.deepEqual(applied.objects.filter((o) => o.action === 'failed'), []);
    const objects = applied.objects.length;
    assert.ok(objects >= 120, `${objects} objects`);
    // No object path is read before it is written: server-side apply creates or merges.
    const written = new Set<string>();
    for (const r of log) {
      if (r.method === 'PATCH' || r.method === 'POST') written.add(r.path);
      if (r.method === 'GET' && !isDiscovery(r) && !isInventory(r) && r.path !== '/version') {
        assert.ok(written.has(r.path), `${r.path} was read before it was written`);
      }
    }
    const writes = count(log, (r) => r.method === 'PATCH' || r.method === 'POST');
    assert.ok(writes <= objects + 12, `${writes} writes for ${objects} objects (a few for objects 1.20 cannot server-side apply)`);
    assert.equal(count(log, (r) => isInventory(r) && r.method === 'GET'), 1, 'the inventory is read once');
    assert.equal(count(log, (r) => isInventory(r) && r.method === 'PATCH'), 1, 'and written once, before anything is created');
    const discovered = log.filter(isDiscovery).map((r) => r.path);
    // Each group version once, and again only for those the bundle's CRDs add.
    const again = discovered.filter((p, i) => discovered.indexOf(p) !== i);
    assert.ok(again.every((p) => p.startsWith('/apis/monitoring.coreos.com/')), `rediscovered: ${again.join(', ')}`);

    await t.prune(desired, applied.set);
    log.length = 0;
    const observed = await t.observe(desired);
    await t.health(desired, observed.set, { timeoutMs: 0 });
    assert.deepEqual(observed.drift, []);
    assert.equal(count(log, isDiscovery), 0, 'no discovery in a later round of the same process');
    assert.equal(count(log, (r) => isInventory(r) && r.method === 'GET'), 1);
    assert.equal(count(log, (r) => isInventory(r) && r.method !== 'GET'), 0, 'an unchanged inventory is not written');
  });

  it('settles objects the server normalises (stringData Secrets, dropped fields): no dry run in a round after they were checked once', async () => {
    const desired = await kubePrometheus('settle');
    const applier = await target();
    await applier.t.prune(desired, (await applier.t.apply(desired)).set);
    // A restarted agent knows nothing of the last apply: its first round checks, dry-running what
    // the server normalised; its next round dry-runs nothing.
    const { t, log } = await target();
    const first = await t.observe(desired);
    assert.deepEqual(first.drift, []);
    const dryRuns = count(log, (r) => r.method.endsWith('(dry-run)'));
    assert.ok(dryRuns > 0, 'the fixture has objects the server normalises (else this test proves nothing)');
    for (let round = 2; round <= 3; round++) {
      log.length = 0;
      const seen = await t.observe(desired);
      assert.deepEqual(seen.drift, []);
      assert.equal(count(log, (r) => r.method !== 'GET'), 0, `round ${round}: ${log.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`).join(', ')}`);
    }
  });

  it('idles at no more than 10 requests a round on an unchanged cluster, and still finds and corrects drift', async () => {
    const desired = await kubePrometheus('idle');
    const { t, log } = await target();
    const r = new Reconciler({ owner: desired.owner, source: fixed(desired), target: t, healthTimeoutMs: 500, healthPollMs: 250 });
    await r.round(); // apply (Deployments never become available here: no kubelet)
    await r.round(); // the second round of a process starts the watches
    const idle: number[] = [];
    for (let round = 0; round < 3; round++) {
      log.length = 0;
      const res = await r.round();
      assert.equal(res.writes, 0);
      assert.deepEqual(res.status.drift, []);
      idle.push(log.length);
    }
    assert.ok(idle.every((n) => n <= 10), `idle rounds: ${idle.join(', ')} requests`);

    // A hand edit and a deletion are drift, found and corrected in the next round.
    assert.equal((await kube.api('PATCH', '/api/v1/namespaces/monitoring/configmaps/grafana-dashboards?fieldManager=kubectl-edit', { data: { 'dashboards.yaml': 'edited' } }, { contentType: 'application/merge-patch+json' })).status, 200);
    assert.equal((await kube.api('DELETE', '/api/v1/namespaces/monitoring/serviceaccounts/grafana')).status, 200);
    // The watch hears of both within moments (events, not a re-read of every object).
    await new Promise((ok) => setTimeout(ok, 300));
    log.length = 0;
    const healed = await r.round();
    assert.deepEqual(healed.status.drift.map((d) => [d.id, d.kind]).sort(), [['ConfigMap monitoring/grafana-dashboards', 'modified'], ['ServiceAccount monitoring/grafana', 'missing']]);
    assert.equal(healed.driftCorrected, 2);
    assert.notEqual((await kube.api('GET', '/api/v1/namespaces/monitoring/configmaps/grafana-dashboards')).body.data['dashboards.yaml'], 'edited');
    assert.equal((await kube.api('GET', '/api/v1/namespaces/monitoring/serviceaccounts/grafana')).status, 200);
    assert.ok(log.length < 40, `a drift round reads what changed, not every object: ${log.length} requests`);
    log.length = 0;
    const after = await r.round();
    assert.deepEqual(after.status.drift, []);
    assert.ok(log.length <= 10, `idle again: ${log.length} requests`);
  });

  it('an agent whose namespaced Role allows list and watch idles on per-namespace watches, and still sees a hand edit', async () => {
    await kube.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'w-rbac' } });
    assert.equal((await kube.api('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/w-rbac/roles', {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'agent', namespace: 'w-rbac' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] }],
    })).status, 201);
    assert.equal((await kube.api('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/w-rbac/rolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'agent', namespace: 'w-rbac' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'agent' },
      subjects: [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }],
    })).status, 201);
    const cms = ['a', 'b', 'c', 'd', 'e'].map((n) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: n, namespace: 'w-rbac' }, data: { n } }));
    const desired = desiredOf([{ path: 'manifests/cm.yaml', content: Buffer.from(''), documents: cms }], 'sha256:w1', { pipeline: 'kp', stage: 'rbac', cluster: 'k8s-1' });
    const t = await KubernetesTarget.create({ server: kube.server, token: kube.userToken, caFile: kube.caFile, inventoryNamespace: 'w-rbac' });
    targets.push(t);
    const log: Request[] = [];
    t.client.onRequest = (method, path) => log.push({ method, path: path.split('?')[0]! });
    await t.prune(desired, (await t.apply(desired)).set);
    assert.deepEqual((await t.observe(desired)).drift, []); // starts the watch
    log.length = 0;
    assert.deepEqual((await t.observe(desired)).drift, []);
    assert.deepEqual(log.map((r) => `${r.method} ${r.path}`), ['GET /api/v1/namespaces/w-rbac/configmaps/promote-inventory-kp-rbac'], 'the inventory, nothing else');
    assert.equal((await kube.api('PATCH', '/api/v1/namespaces/w-rbac/configmaps/c?fieldManager=kubectl-edit', { data: { n: 'edited' } }, { contentType: 'application/merge-patch+json' })).status, 200);
    await new Promise((ok) => setTimeout(ok, 300));
    assert.deepEqual((await t.observe(desired)).drift.map((d) => [d.id, d.kind]), [['ConfigMap w-rbac/c', 'modified']]);
  });
});
