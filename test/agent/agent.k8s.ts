// `promote agent --target kubernetes` as a user runs it: the CLI process, a kubeconfig, a real
// registry with a real promoted bundle, and a real API server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { readStatusReport } from '../../src/records/status-report.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { startKubernetes, writeKubeconfig, type KubeServer } from '../harness/kubernetes.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject } from '../promotion/project.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));

let kube: KubeServer;
let registry: RegistryServer;
let base: string;
before(async () => {
  kube = await startKubernetes();
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-agent-k8s-'));
});
after(async () => {
  await registry?.stop();
  await kube?.stop();
  if (base) await rm(base, { recursive: true, force: true });
});

describe('promote agent --target kubernetes (CLI, real registry, real API server)', () => {
  it('applies the promoted bundle with the recorded parameters and reports Degraded when nothing can run (no kubelet)', async () => {
    const p = await createProject(join(base, 'p'), registry.host, { name: 'k8s' });
    const d1 = await p.push(1);
    const engine = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, 'engine-cache') });
    await promoteTo(engine, { stage: 'dev', bundle: d1 });
    assert.equal((await kube.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'dev' } })).status, 201);
    const kubeconfig = join(base, 'kubeconfig');
    await writeKubeconfig(kube, kubeconfig);
    const args = [BIN, 'agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', 'kubernetes', '--kubeconfig', kubeconfig,
      '--once', '--health-timeout', '2s', '--key', p.promoterKeyFile, '--insecure', '--cache-dir', join(base, 'cache'), '--output', 'json'];
    const result = await run(process.execPath, args, { cwd: p.dir, env: p.env }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    const status = JSON.parse(result.stdout);
    assert.equal((result as { code?: number }).code, 1, 'Degraded is not success for --once');
    assert.equal(status.phase, 'Degraded', status.message);
    assert.equal(status.bundle, d1);
    assert.match(status.message, /Deployment\.apps dev\/hello: not healthy after 2s/);
    const log = result.stderr.trim().split('\n').map((l: string) => JSON.parse(l));
    assert.equal(log.at(-1).msg, 'reconciled');
    assert.equal(log.at(-1).phase, 'Degraded');

    const dep = await kube.api('GET', '/apis/apps/v1/namespaces/dev/deployments/hello');
    assert.equal(dep.status, 200);
    assert.equal(dep.body.spec.replicas, 1, 'rendered with the dev parameters');
    assert.equal(dep.body.metadata.labels['promote.dev/stage'], 'dev');
    assert.equal((await kube.api('GET', '/api/v1/namespaces/dev/services/hello')).status, 200);
    const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
    const report = await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions);
    assert.equal(report?.phase, 'Degraded');
    assert.equal(report?.verified, true);
  });

  it('deploy/agent manifests are accepted by the API server (server-side dry run)', async () => {
    const dir = fileURLToPath(new URL('../../deploy/agent/', import.meta.url));
    for (const ns of ['promote-system', 'webapp']) await kube.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
    assert.deepEqual(files, ['config.yaml', 'deployment.yaml', 'namespace.yaml', 'rbac.yaml', 'serviceaccount.yaml']);
    const plural: Record<string, string> = { Namespace: 'namespaces', ServiceAccount: 'serviceaccounts', ConfigMap: 'configmaps', Deployment: 'deployments', Service: 'services', Role: 'roles', RoleBinding: 'rolebindings' };
    let checked = 0;
    for (const f of files) {
      for (const doc of parseAllDocuments(await readFile(join(dir, f), 'utf8')).map((d) => d.toJS())) {
        const { apiVersion, kind, metadata } = doc as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
        const prefix = apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`;
        const path = `${prefix}${metadata.namespace ? `/namespaces/${metadata.namespace}` : ''}/${plural[kind]}/${metadata.name}?fieldManager=test&dryRun=All`;
        const res = await kube.api('PATCH', path, doc, { contentType: 'application/apply-patch+yaml' });
        assert.ok(res.status === 200 || res.status === 201, `${f}: ${kind} ${metadata.name}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
        checked++;
      }
    }
    assert.equal(checked, 9);
  });
});
