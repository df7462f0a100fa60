// Reading kubeconfig files without @kubernetes/client-node (src/agent/targets/kubernetes/kubeconfig.ts):
// files on disk, options as a request would get them; no server is contacted.
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveKubeconfig } from '../../src/agent/targets/kubernetes/kubeconfig.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'promote-kubeconfig-'));
  await mkdir(join(dir, 'creds'));
  await writeFile(join(dir, 'creds', 'token'), 'from-file\n');
  await writeFile(join(dir, 'creds', 'ca.pem'), 'CA-PEM');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const config = (over: Record<string, unknown> = {}) => ({
  apiVersion: 'v1', kind: 'Config', 'current-context': 'a',
  clusters: [
    { name: 'one', cluster: { server: 'https://one:6443', 'certificate-authority': 'creds/ca.pem' } },
    { name: 'two', cluster: { server: 'https://two:6443', 'certificate-authority-data': Buffer.from('CA-TWO').toString('base64'), 'insecure-skip-tls-verify': true, 'tls-server-name': 'api.two' } },
  ],
  users: [
    { name: 'tok', user: { token: 'abc' } },
    { name: 'file', user: { tokenFile: 'creds/token' } },
    { name: 'cert', user: { 'client-certificate-data': Buffer.from('CERT').toString('base64'), 'client-key-data': Buffer.from('KEY').toString('base64') } },
    { name: 'plugin', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws' } } },
  ],
  contexts: [
    { name: 'a', context: { cluster: 'one', user: 'tok' } },
    { name: 'b', context: { cluster: 'two', user: 'file' } },
    { name: 'c', context: { cluster: 'two', user: 'cert' } },
    { name: 'eks', context: { cluster: 'one', user: 'plugin' } },
  ],
  ...over,
});

async function options(kubeconfig: string, context?: string): Promise<{ server: string; o: RequestOptions }> {
  const r = resolveKubeconfig({ kubeconfig, ...(context && { context }) });
  assert.ok(r, 'resolved without client-node');
  const o: RequestOptions = { headers: {} };
  await r.apply(o);
  return { server: r.server, o };
}

describe('kubeconfig without client-node (pure logic, files on disk)', () => {
  it('reads the current context: server, a CA file relative to the kubeconfig, a bearer token', async () => {
    const path = join(dir, 'config');
    await writeFile(path, JSON.stringify(config()));
    const { server, o } = await options(path);
    assert.equal(server, 'https://one:6443');
    assert.equal(String(o.ca), 'CA-PEM');
    assert.equal((o.headers as Record<string, string>).authorization, 'Bearer abc');
  });

  it('takes --context: inline CA data, skip-verify and server name, a token file; client certificates', async () => {
    const path = join(dir, 'config');
    await writeFile(path, JSON.stringify(config()));
    const b = await options(path, 'b');
    assert.equal(b.server, 'https://two:6443');
    assert.equal(String(b.o.ca), 'CA-TWO');
    assert.equal(b.o.rejectUnauthorized, false);
    assert.equal(b.o.servername, 'api.two');
    assert.equal((b.o.headers as Record<string, string>).authorization, 'Bearer from-file');
    const c = await options(path, 'c');
    assert.equal(String(c.o.cert), 'CERT');
    assert.equal(String(c.o.key), 'KEY');
    assert.equal((c.o.headers as Record<string, string>).authorization, undefined);
  });

  it('merges $KUBECONFIG files, the first to name a thing winning; leaves exec plugins to client-node', async () => {
    const first = join(dir, 'first');
    const second = join(dir, 'second');
    await writeFile(first, JSON.stringify({ 'current-context': 'x', contexts: [{ name: 'x', context: { cluster: 'one', user: 'tok' } }], clusters: [], users: [] }));
    await writeFile(second, JSON.stringify(config({ 'current-context': 'b' })));
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = `${first}:${join(dir, 'absent')}:${second}`;
    try {
      const r = resolveKubeconfig({});
      const o: RequestOptions = { headers: {} };
      await r!.apply(o);
      assert.equal(r!.server, 'https://one:6443');
      assert.equal((o.headers as Record<string, string>).authorization, 'Bearer abc');
      assert.equal(resolveKubeconfig({ context: 'eks' }), undefined, 'an exec plugin is client-node\'s');
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it('a missing context or a cluster without a server is KUBE_CONFIG_INVALID, with a hint', async () => {
    const path = join(dir, 'config');
    await writeFile(path, JSON.stringify(config()));
    assert.throws(() => resolveKubeconfig({ kubeconfig: path, context: 'nope' }), (e: { code?: string; hint?: string; message: string }) => e.code === 'KUBE_CONFIG_INVALID' && /no context "nope"/.test(e.message) && /--kubeconfig/.test(e.hint ?? ''));
    await writeFile(path, 'clusters: [ {');
    assert.throws(() => resolveKubeconfig({ kubeconfig: path }), (e: { code?: string }) => e.code === 'KUBE_CONFIG_INVALID');
  });
});
