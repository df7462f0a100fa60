// `promote demo --kubeconfig`: the story's agents converge a real API server instead of
// directories, and the hand edit is a relabelled Namespace. The API server here has no kubelet and no batch/v1 CronJob (Kubernetes 1.20, see
// scripts/k8s/README.md), so the project is `promote init`'s with its manifests reduced to a
// Namespace and a ConfigMap, which are healthy as soon as they exist.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startKubernetes, type KubeServer } from '../harness/kubernetes.ts';

const exec = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'bin', 'promote.js');

let kube: KubeServer;
let dir: string;
before(async () => {
  kube = await startKubernetes();
  dir = await mkdtemp(join(tmpdir(), 'promote-demo-k8s-'));
});
after(async () => {
  await kube?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('promote demo --kubeconfig converges every stage on a real API server, one context per cluster', async () => {
  const env = { ...process.env, PROMOTE_PASSWORD: 'k8s demo' };
  await exec(process.execPath, [cli, 'init', 'proj', '--name', 'hello'], { cwd: dir, env });
  const project = join(dir, 'proj');
  await rm(join(project, 'bundles', 'hello', 'manifests', 'deployment.yaml'));
  await rm(join(project, 'bundles', 'hello', 'manifests', 'service.yaml'));
  await writeFile(join(project, 'bundles', 'hello', 'manifests', 'configmap.yaml'), [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: hello',
    '  namespace: ${params.namespace}',
    '  labels: {app.kubernetes.io/environment: "${promote.environment}"}',
    'data:',
    '  replicas: "${params.replicas}"',
    '  logLevel: ${params.logLevel}',
    '',
  ].join('\n'));
  const clusters = ['dev-1', 'staging-1', 'staging-2', 'prod-1', 'prod-2'];
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'dev-1',
    clusters: [{ name: 'local', cluster: { server: kube.server, 'certificate-authority': kube.caFile } }],
    users: [{ name: 'admin', user: { token: kube.token } }],
    contexts: clusters.map((c) => ({ name: c, context: { cluster: 'local', user: 'admin' } })),
  }));
  const { stdout, stderr } = await exec(process.execPath, [cli, 'demo', '--project', project, '--kubeconfig', kubeconfig, '--output', 'json'], { cwd: dir, env, maxBuffer: 16 * 1024 * 1024 });
  const r = JSON.parse(stdout) as { releases: { digest: string }[]; stages: Record<string, string>; status: { cluster: string; phase: string; observed?: string; desired?: string }[]; next: string[] };
  assert.match(stderr, /contexts dev-1, staging-1, staging-2, prod-1, prod-2/);
  // The hand edit: the Namespace relabelled by another field manager, reported Drifted by an
  // agent that may not heal, then put back by the normal one.
  assert.match(stderr, /kubectl label namespace hello app\.kubernetes\.io\/environment=edited-by-hand/);
  assert.match(stderr, /prod-1 --no-self-heal: Drifted/);
  assert.match(stderr, /DriftCorrected/);
  assert.equal((JSON.parse(stdout) as { drift: { corrected: boolean } }).drift.corrected, true);
  assert.deepEqual(r.stages, { dev: r.releases[1]!.digest, staging: r.releases[1]!.digest, production: r.releases[0]!.digest });
  assert.deepEqual(r.status.map((s) => [s.cluster, s.phase, s.observed === s.desired]), clusters.map((c) => [c, 'Converged', true]));
  assert.ok(r.next.some((c) => c.includes('--target kubernetes') && c.includes('--context prod-1')));

  // The objects are in the cluster, rendered per environment.
  for (const [ns, level, environment] of [['hello-dev', 'debug', 'dev'], ['hello-staging', 'info', 'staging'], ['hello', 'warn', 'production']] as const) {
    const cm = await kube.api('GET', `/api/v1/namespaces/${ns}/configmaps/hello`);
    assert.equal(cm.status, 200, `ConfigMap hello in ${ns}`);
    assert.equal(cm.body.data.logLevel, level);
    const namespace = await kube.api('GET', `/api/v1/namespaces/${ns}`);
    assert.equal(namespace.body.metadata.labels['app.kubernetes.io/environment'], environment, `${ns} labels as the bundle says`);
  }
});
