// Helm and kustomize bundles on a real API server (issue 15 "Done when"): the CLI agent, a
// kubeconfig, a real registry with a promoted, signed bundle, the real helm / kubectl-kustomize
// binaries, and a real kube-apiserver. The objects the renderer produced are applied with the
// recorded parameters; the status report names the renderer.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
import { renderTools, renderToolsEnv } from '../harness/render-tools.ts';
import { createProject } from '../promotion/project.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));
const FIXTURES = {
  helm: fileURLToPath(new URL('../fixtures/helm-small', import.meta.url)),
  kustomize: fileURLToPath(new URL('../fixtures/kustomize-small', import.meta.url)),
};

let kube: KubeServer;
let registry: RegistryServer;
let base: string;
before(async () => {
  kube = await startKubernetes();
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-renderers-k8s-'));
});
after(async () => {
  await registry?.stop();
  await kube?.stop();
  if (base) await rm(base, { recursive: true, force: true });
});

describe('helm and kustomize bundles on a real API server (CLI agent, real registry, real binaries)', () => {
  for (const kind of ['helm', 'kustomize'] as const) {
    it(`${kind}: the rendered objects are applied with the recorded parameters`, async () => {
      const namespace = `dev-${kind}`;
      const p = await createProject(join(base, kind), registry.host, { name: `k8s-${kind}`, fixture: FIXTURES[kind] });
      Object.assign(p.env, renderToolsEnv(await renderTools()));
      await writeFile(join(p.dir, 'environments', 'dev.yaml'), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters: {namespace: ${namespace}, replicas: 2}\n  clusters:\n    - name: dev-1\n`);
      const d1 = await p.push(1);
      const engine = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, `${kind}-engine-cache`) });
      await promoteTo(engine, { stage: 'dev', bundle: d1 });
      assert.equal((await kube.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } })).status, 201);
      const kubeconfig = join(base, `${kind}-kubeconfig`);
      await writeKubeconfig(kube, kubeconfig);
      const args = [BIN, 'agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', 'kubernetes', '--kubeconfig', kubeconfig,
        '--once', '--health-timeout', '1s', '--key', p.promoterKeyFile, '--insecure', '--cache-dir', join(base, `${kind}-cache`), '--output', 'json'];
      const result = await run(process.execPath, args, { cwd: p.dir, env: p.env }).catch((e: { code: number; stdout: string; stderr: string }) => e);
      const status = JSON.parse(result.stdout);
      // No kubelet: the Deployment never becomes available, so Degraded, but applied.
      assert.equal(status.phase, 'Degraded', status.message);
      assert.equal(status.bundle, d1);

      const dep = await kube.api('GET', `/apis/apps/v1/namespaces/${namespace}/deployments/hello`);
      assert.equal(dep.status, 200);
      assert.equal(dep.body.spec.replicas, 2, 'rendered with the recorded parameters');
      assert.equal(dep.body.metadata.labels['promote.dev/stage'], 'dev', 'the built-in stage reached the renderer');
      assert.equal((await kube.api('GET', `/api/v1/namespaces/${namespace}/services/hello`)).status, 200);
      if (kind === 'kustomize') {
        const maps = await kube.api('GET', `/api/v1/namespaces/${namespace}/configmaps`);
        assert.ok(maps.body.items.some((m: { metadata: { name: string } }) => /^hello-config-[a-z0-9]{10}$/.test(m.metadata.name)), 'the generator with its name hash');
      }
      const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
      const report = await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions);
      assert.equal(report?.phase, 'Degraded');
      assert.equal(report?.renderer?.kind, kind);
    });
  }
});
