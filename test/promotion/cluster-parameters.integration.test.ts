import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError } from '../../src/errors.ts';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, type TestProject } from './project.ts';
import { verifyRecord } from '../../src/records/promotion-record.ts';

// `promote to` validates what each cluster's agent will validate: the environment's parameters
// merged with that cluster's overrides. Real registry, real git ledger.

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-cluster-params-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const NEEDS_HOSTNAME = { type: 'object', additionalProperties: false, required: ['namespace', 'hostname'], properties: { namespace: { type: 'string' }, replicas: { type: 'integer', minimum: 1 }, hostname: { type: 'string' } } };

async function devEnvironment(p: TestProject, clusters: string): Promise<void> {
  await writeFile(join(p.dir, 'environments', 'dev.yaml'), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters: {namespace: dev, replicas: 1}\n  clusters:\n${clusters}`);
}

async function snapshot(p: TestProject) {
  let commit = 'none';
  try {
    commit = git(p.ledgerRemote, p.env, 'rev-parse', 'main').trim();
  } catch {
    // no commit yet
  }
  const tags = (await p.registry.listTags()).sort();
  return { commit, tags: await Promise.all(tags.map(async (t) => `${t}=${(await p.registry.resolve(t))?.digest}`)) };
}

function engine(p: TestProject) {
  return openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(p.dir, '..', 'cache') });
}

test('a required value set only per cluster is accepted, and each cluster gets its own merged parameters in the signed record', async () => {
  const p = await createProject(join(base, 'per-cluster'), registry.host, { name: 'per-cluster' });
  await devEnvironment(p, '    - {name: dev-eu, parameters: {hostname: eu.example.com}}\n    - {name: dev-us, parameters: {hostname: us.example.com, replicas: 2}}\n');
  const digest = await p.push(1, p.ci, NEEDS_HOSTNAME);
  const result = await promoteTo(await engine(p), { stage: 'dev', bundle: digest });
  assert.equal(result.action, 'promotion');
  const trust = await loadPipelineTrust({ promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const record = await verifyRecord(p.registry, 'promotion-dev', trust.promotions, { stage: 'dev', bundle: digest });
  assert.deepEqual(record.statement.predicate.clusters, [
    { name: 'dev-eu', parameters: { namespace: 'dev', replicas: 1, hostname: 'eu.example.com' } },
    { name: 'dev-us', parameters: { namespace: 'dev', replicas: 2, hostname: 'us.example.com' } },
  ]);
});

test('a cluster missing a required value or overriding with an invalid one refuses with exit 4, names every cluster, and changes nothing', async () => {
  const p = await createProject(join(base, 'bad-cluster'), registry.host, { name: 'bad-cluster' });
  await devEnvironment(p, '    - {name: dev-eu, parameters: {hostname: eu.example.com}}\n    - {name: dev-us}\n    - {name: dev-ap, parameters: {hostname: ap.example.com, replicas: many}}\n');
  const digest = await p.push(1, p.ci, NEEDS_HOSTNAME);
  const pat = await engine(p);
  const before = await snapshot(p);
  await assert.rejects(promoteTo(pat, { stage: 'dev', bundle: digest }), (err: unknown) => {
    assert.ok(isPromoteError(err), String(err));
    assert.equal(err.code, 'PARAMETERS_INVALID', err.message);
    assert.equal(err.exitCode, 4);
    assert.match(err.message, /dev-us/);
    assert.match(err.message, /dev-ap/);
    assert.doesNotMatch(err.message, /dev-eu/);
    const us = err.problems.find((pr) => pr.message.startsWith('cluster dev-us:'));
    assert.ok(us && /hostname/.test(us.message + (us.pointer ?? '')), JSON.stringify(err.problems));
    const ap = err.problems.find((pr) => pr.message.startsWith('cluster dev-ap:'));
    assert.ok(ap, JSON.stringify(err.problems));
    assert.equal(ap.pointer, '/spec/clusters/2/parameters/replicas');
    assert.ok(ap.file?.endsWith('environments/dev.yaml'));
    return true;
  });
  assert.deepEqual(await snapshot(p), before);
});
