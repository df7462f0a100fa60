// One render path (issue 13): `promote plan`'s diff, the agent's desired state and
// `promote render <ref>` are rendered by one function (bundle/render-pulled.ts), so a plan can
// never show files the agent will not apply. Real parts: a bundle built and pushed into an OCI
// image layout (LayoutRegistry, the real on-disk registry), cosign-signed, with a signed record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyPatch, parsePatch } from 'diff';
import { RegistryDesiredSource } from '../../src/agent/registry-source.ts';
import { pushBundle } from '../../src/artifact/push.ts';
import { renderSource } from '../../src/artifact/render.ts';
import { loadEnvironment } from '../../src/params/environment.ts';
import { parameterSchema } from '../../src/params/parameter-schema.ts';
import { resolveParameters } from '../../src/params/parameters.ts';
import { LayoutRegistry } from '../../src/oci/layout-registry.ts';
import { PROMOTION_RECORD } from '../../src/oci/media-types.ts';
import { planDiff } from '../../src/promotion/plan-diff.ts';
import { PROMOTION_PREDICATE_TYPE, recordPredicate } from '../../src/records/promotion-record.ts';
import { testRecord } from '../promotion/fixtures/record.ts';
import { signAndAttach, statement } from '../../src/signing/attestation.ts';
import { signBundle } from '../../src/signing/cosign-signature.ts';
import type { TrustPolicy } from '../../src/signing/policy.ts';
import { cleanEnv, tempDir } from '../bundle/helpers.ts';
import { testKey } from '../signing/helpers.ts';
import { renderTools, renderToolsEnv } from '../harness/render-tools.ts';

const PODINFO = fileURLToPath(new URL('../fixtures/podinfo-bundle/', import.meta.url));

interface Rendered {
  agent: Map<string, string>;
  plan: Map<string, string>;
  render: Map<string, string>;
}

/** The three renders of the bundle in `dir` for production/prod-us-1. */
async function threeRenders(base: string, dir: string, env?: NodeJS.ProcessEnv): Promise<Rendered> {
  const layout = join(base, 'layout');
  const pushed = await pushBundle(dir, `oci:${layout}:1.0`, { cwd: base, env: cleanEnv() });
  const registry = new LayoutRegistry(layout);
  const ci = testKey('ci');
  const promoter = testKey('promoter');
  await signBundle(registry, pushed.digest, ci.signer, 'webapp');

  // The record `promote to` would write: the environment's values and each cluster's merged ones.
  const config = JSON.parse(await readFile(join(dir, 'params.schema.json'), 'utf8')) as object;
  const schema = parameterSchema(config, 'params.schema.json');
  const environment = await loadEnvironment(dir, 'production');
  const clusters = environment.clusters.map((c) => ({ name: c.name, parameters: resolveParameters(environment, schema, c.name).values }));
  const parameters = resolveParameters(environment, schema).values;
  const promoted = testRecord({ digest: pushed.digest, pipeline: 'webapp', stage: 'production', environment: 'production', bundle: { repository: registry.name, digest: pushed.digest }, parameters, clusters });
  const predicate = recordPredicate(promoted, { repository: 'ledger.git', branch: 'main' });
  const subject = (await registry.resolve(pushed.digest))!;
  const record = await signAndAttach(registry, subject, statement({ name: registry.name, digest: pushed.digest }, PROMOTION_PREDICATE_TYPE, predicate), promoter.signer, { artifactType: PROMOTION_RECORD, tag: 'promotion-production' });

  const trust = (key: typeof ci): TrustPolicy => ({ keys: [{ ...key.pub, source: 'test' }], identities: [] });
  const source = new RegistryDesiredSource({
    registry,
    owner: { pipeline: 'webapp', stage: 'production', cluster: 'prod-us-1' },
    promotionTrust: trust(promoter),
    bundleTrust: trust(ci),
    cacheDir: join(base, 'agent-cache'),
    ...(env && { renderer: { env } }),
  });
  const desired = await source.load(record.descriptor.digest);
  assert.ok(!('nothingToRun' in desired), 'a record without a rollout releases every cluster');
  const agent = new Map(desired.files.map((f) => [f.path, 'content' in f && f.content !== undefined ? Buffer.from(f.content).toString('utf8') : '']));

  // plan against an empty stage: each file's patch, applied to nothing, is the file it renders.
  const diff = await planDiff({ stage: 'production', environment: 'production', ...(env && { renderer: { env } }) }, undefined, { registry, digest: pushed.digest, parameters, clusters });
  const mine = diff.clusters.find((c) => c.cluster === 'prod-us-1')!;
  const plan = new Map(parsePatch(mine.manifests).map((p) => [p.newFileName!.replace(/^after\//, ''), applyPatch('', p) as string]));

  const out = join(base, 'rendered');
  await renderSource({ source: `oci:${layout}:1.0`, environment: 'production', cluster: 'prod-us-1', stage: 'production', root: dir, out, cwd: base, ...(env && { env }) });
  const render = new Map<string, string>();
  for (const path of agent.keys()) render.set(path, await readFile(join(out, path), 'utf8'));
  return { agent, plan, render };
}

function sorted(m: Map<string, string>): [string, string][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : 1));
}

test('plan, the agent and render <ref> render the podinfo bundle byte for byte alike (production, cluster prod-us-1)', async (t) => {
  const tmp = await tempDir();
  t.after(() => tmp[Symbol.asyncDispose]());
  const { agent, plan, render } = await threeRenders(tmp.path, PODINFO);
  assert.ok(agent.size > 10, `the agent renders the podinfo manifests (${agent.size})`);
  assert.ok([...agent.values()].some((c) => c.includes('maxReplicas: 12')), "prod-us-1's override is rendered");
  assert.deepEqual(sorted(plan), sorted(agent));
  assert.deepEqual(sorted(render), sorted(agent));
});

test('plan shows a tracked manifest that a .gitignore pattern matches, as the agent applies it (plan no longer re-walks the pulled layer)', async (t) => {
  const tmp = await tempDir();
  t.after(() => tmp[Symbol.asyncDispose]());
  // In a git work tree a tracked file is packed whatever .gitignore says (walk.ts). The pulled
  // layer is not a work tree: walking it again, as plan once did, drops the file.
  const dir = join(tmp.path, 'src');
  execFileSync('cp', ['-r', PODINFO, dir]);
  await mkdir(join(dir, 'manifests', 'extra'), { recursive: true });
  await writeFile(join(dir, 'manifests', 'extra', 'generated.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: generated\n  namespace: ${params.namespace}\n');
  await writeFile(join(dir, '.gitignore'), 'generated.yaml\n');
  const env = cleanEnv({ GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com' });
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env, stdio: 'pipe' });
  git('init', '-q');
  git('add', '-A');
  git('add', '-f', 'manifests/extra/generated.yaml');
  git('commit', '-q', '-m', 'bundle');
  const { agent, plan } = await threeRenders(tmp.path, dir);
  assert.match(agent.get('manifests/extra/generated.yaml') ?? '', /namespace: production/, 'the agent applies the tracked file');
  assert.deepEqual(sorted(plan), sorted(agent));
});

for (const kind of ['helm', 'kustomize'] as const) {
  test(`plan, the agent and render <ref> render a ${kind} bundle byte for byte alike, with the real ${kind === 'helm' ? 'helm' : 'kubectl kustomize'}`, async (t) => {
    const tmp = await tempDir();
    t.after(() => tmp[Symbol.asyncDispose]());
    const dir = join(tmp.path, 'src');
    execFileSync('cp', ['-r', fileURLToPath(new URL(`../fixtures/${kind}-small/`, import.meta.url)), dir]);
    await mkdir(join(dir, 'environments'));
    await writeFile(join(dir, 'environments', 'production.yaml'), 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: production}\nspec:\n  parameters: {namespace: prod, replicas: 3}\n  clusters:\n    - name: prod-us-1\n      parameters: {replicas: 5}\n');
    const env = cleanEnv(renderToolsEnv(await renderTools()));
    const { agent, plan, render } = await threeRenders(tmp.path, dir, env);
    const manifests = [...agent].filter(([p]) => p.endsWith('.yaml'));
    assert.ok(manifests.length >= 2, `the ${kind} renderer's manifests (${[...agent.keys()].join(', ')})`);
    assert.ok(manifests.some(([, c]) => /replicas: 5\b/.test(c)), "prod-us-1's override is rendered");
    // Shipped files (spec.files) are streamed, not rendered: the manifests are what is compared.
    const rendered = (m: Map<string, string>) => sorted(m).filter(([p]) => !p.startsWith('files/'));
    assert.deepEqual(rendered(plan), rendered(agent));
    assert.deepEqual(rendered(render), rendered(agent));
  });
}
