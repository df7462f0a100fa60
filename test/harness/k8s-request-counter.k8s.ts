// The request-counting proxy against the real API server: what KubeClient and kubectl send
// through it is forwarded unchanged and counted by verb, path class and bytes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { KubeClient } from '../../src/agent/targets/kubernetes/client.ts';
import { classifyRequest, startKubeRequestCounter, type KubeRequestCounter } from './k8s-request-counter.ts';
import { startKubernetes, type KubeServer } from './kubernetes.ts';
import { renderTools } from './render-tools.ts';

const run = promisify(execFile);

let kube: KubeServer;
let counter: KubeRequestCounter;
let base: string;
before(async () => {
  kube = await startKubernetes();
  counter = await startKubeRequestCounter(kube);
  base = await mkdtemp(join(tmpdir(), 'promote-k8s-counter-'));
});
after(async () => {
  await counter?.stop();
  await kube?.stop();
  if (base) await rm(base, { recursive: true, force: true });
});

describe('k8s request counter (pure classification, no server)', () => {
  it('names verbs and path classes as the API server does', () => {
    const c = (m: string, p: string) => { const r = classifyRequest(m, p); return `${r.verb} ${r.pathClass}${r.dryRun ? ' dry' : ''}`; };
    assert.equal(c('GET', '/api'), 'get discovery');
    assert.equal(c('GET', '/apis'), 'get discovery');
    assert.equal(c('GET', '/apis/apps/v1'), 'get discovery');
    assert.equal(c('GET', '/api/v1'), 'get discovery');
    assert.equal(c('GET', '/openapi/v2?timeout=32s'), 'get discovery');
    assert.equal(c('GET', '/api/v1/namespaces'), 'list collection');
    assert.equal(c('GET', '/api/v1/namespaces/kube-system'), 'get object');
    assert.equal(c('GET', '/api/v1/namespaces/a/configmaps'), 'list collection');
    assert.equal(c('GET', '/api/v1/namespaces/a/configmaps?watch=true&resourceVersion=5'), 'watch collection');
    assert.equal(c('GET', '/api/v1/namespaces/a/configmaps/x'), 'get object');
    assert.equal(c('PATCH', '/apis/apps/v1/namespaces/a/deployments/d?fieldManager=x&dryRun=All'), 'patch object dry');
    assert.equal(c('PUT', '/apis/apiregistration.k8s.io/v1/apiservices/v1.x/status'), 'update object');
    assert.equal(c('POST', '/api/v1/namespaces/a/configmaps'), 'create collection');
    assert.equal(c('DELETE', '/api/v1/namespaces/a/configmaps'), 'deletecollection collection');
    assert.equal(c('DELETE', '/api/v1/namespaces/a/configmaps/x'), 'delete object');
    assert.equal(c('GET', '/healthz'), 'get other');
  });
});

describe('k8s request counter (real API server)', () => {
  it('forwards KubeClient requests unchanged and counts them as the client does', async () => {
    const client = await KubeClient.connect({ kubeconfig: await counter.writeKubeconfig(join(base, 'kc-client')) });
    try {
      counter.reset();
      const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'counted', namespace: 'default' }, data: { a: '1' } };
      const applyPath = '/api/v1/namespaces/default/configmaps/counted?fieldManager=counter-test';
      assert.equal((await client.send('GET', '/api/v1')).status, 200);
      assert.equal((await client.send('GET', '/api/v1/namespaces/default/configmaps/counted')).status, 404);
      assert.equal((await client.send('PATCH', `${applyPath}&dryRun=All`, cm, 'application/apply-patch+yaml')).status, 201);
      assert.equal((await client.send('PATCH', applyPath, cm, 'application/apply-patch+yaml')).status, 201);
      const listed = await client.send('GET', '/api/v1/namespaces/default/configmaps');
      assert.equal(listed.status, 200);
      assert.ok((listed.body as { items: { metadata: { name: string } }[] }).items.some((i) => i.metadata.name === 'counted'));
      assert.equal((await client.send('DELETE', '/api/v1/namespaces/default/configmaps/counted')).status, 200);

      const t = counter.tally();
      assert.equal(t.total, client.requestCounts().total);
      assert.equal(t.total, 6);
      assert.deepEqual(t.byVerb, { get: 2, 'patch (dry run)': 1, patch: 1, list: 1, delete: 1 });
      assert.deepEqual(t.byClass, { discovery: 1, object: 4, collection: 1, other: 0 });
      assert.equal(t.writes, client.requestCounts().writes);
      assert.equal(t.writes, 2);
      assert.deepEqual(counter.requests.map((r) => r.status), [200, 404, 201, 201, 200, 200]);
      const body = Buffer.byteLength(JSON.stringify(cm));
      assert.equal(t.requestBytes, 2 * body);
      assert.ok(t.responseBytes >= listed.text.length, `${t.responseBytes} response bytes counted, the list alone is ${listed.text.length}`);
      assert.equal(counter.tally((r) => r.verb === 'patch').total, 2);
    } finally {
      client.close();
    }
  });

  it('passes a connection the API server drops on as a dropped connection, as the client would see it directly', async () => {
    const apiService = { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: 'v1.drop.example.com' }, spec: { group: 'drop.example.com', version: 'v1', groupPriorityMinimum: 100, versionPriority: 100 } };
    // v1.20 has no field manager for the aggregator's kinds: server-side apply panics and drops the connection.
    const ssa = (c: KubeClient) => c.send('PATCH', '/apis/apiregistration.k8s.io/v1/apiservices/v1.drop.example.com?fieldManager=counter-test', apiService, 'application/apply-patch+yaml');
    const direct = await KubeClient.connect({ server: kube.server, token: kube.token, caFile: kube.caFile });
    const proxied = await KubeClient.connect({ kubeconfig: await counter.writeKubeconfig(join(base, 'kc-drop')) });
    try {
      await assert.rejects(ssa(direct), { code: 'KUBE_UNREACHABLE' });
      counter.reset();
      await assert.rejects(ssa(proxied), { code: 'KUBE_UNREACHABLE' });
      assert.deepEqual(counter.requests.map((r) => [r.verb, r.status]), [['patch', 0]]);
    } finally {
      direct.close();
      proxied.close();
    }
  });

  it('counts what kubectl (issue 12 npm package) sends, through a kubeconfig for the proxy', async () => {
    const { kubectl } = await renderTools();
    const kubeconfig = await counter.writeKubeconfig(join(base, 'kc-kubectl'));
    counter.reset();
    // A fresh cache dir: kubectl's discovery happens now, where we can see it.
    const { stdout } = await run(kubectl, ['--kubeconfig', kubeconfig, '--cache-dir', join(base, 'kubectl-cache'), 'get', 'namespace', 'kube-system', '-o', 'name']);
    assert.equal(stdout.trim(), 'namespace/kube-system');
    const t = counter.tally();
    assert.equal(counter.tally((r) => r.verb === 'get' && r.path.startsWith('/api/v1/namespaces/kube-system')).total, 1);
    assert.ok(t.byClass.discovery >= 1, `kubectl discovered the API through the proxy: ${JSON.stringify(t.byVerb)}`);
    assert.equal(t.writes, 0);
  });
});
