import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishStatusReport } from '../../src/records/status-report.ts';
import { encryptCosignKey } from '../../src/signing/cosign-key-file.ts';
import { generateSigningKeyPair } from '../../src/signing/keys.ts';
import { LocalKeySigner, type Signer } from '../../src/signing/signer.ts';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from './project.ts';

// Attacks on the status reports the converged and soak gates read, performed against the real
// CLI (`promote to` / `plan` / `validate` in a child process), a real registry and a git ledger:
// a trusted agent key speaking for clusters it does not run on, and old signed reports put back
// on a cluster's status tag.

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-report-attacks-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function promote(p: TestProject, args: string[]): Promise<Run> {
  return runPromote([...args, ...(args[0] === 'validate' ? [] : ['--insecure'])], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1' } });
}

async function agentKey(p: TestProject, name: string): Promise<Signer> {
  const pair = generateSigningKeyPair();
  const signer = new LocalKeySigner(pair.privateKey);
  await writeFile(join(p.dir, 'keys', `${name}.pub`), signer.publicKeyPem);
  await writeFile(join(p.dir, 'keys', `${name}.key`), await encryptCosignKey(pair.privateKey.export({ type: 'pkcs8', format: 'der' }), '', { N: 32768, r: 8, p: 1 }));
  return signer;
}

function pipeline(p: TestProject, agents: string, extra = ''): string {
  return `apiVersion: promote/v1
kind: Pipeline
metadata: {name: webapp}
spec:
  repository: ${p.repository}
  ledger: {repository: ${p.ledgerRemote}, branch: main}
  trust:
    bundles: [keys/ci.pub]
    promotions: [keys/promoter.pub]
${agents}${extra}
  stages:
    - {name: dev, environment: dev}
    - {name: staging, environment: staging, from: dev, gates: [{converged: {}}, {soak: 15m}]}
    - {name: production, environment: production, from: staging, gates: [{converged: {}}, {soak: 15m}]}
`;
}

async function report(p: TestProject, stage: string, cluster: string, digest: string, signer: Signer, fields: { phase?: string; since?: Date; observedAt?: Date; sequence?: number } = {}) {
  const desc = (await p.registry.resolve(digest))!;
  const since = fields.since ?? new Date(Date.now() - 3_600_000);
  await publishStatusReport(p.registry, desc, {
    pipeline: 'webapp', stage, cluster, phase: (fields.phase ?? 'Converged') as 'Converged', bundle: { repository: p.repository, digest },
    since: since.toISOString(), observedAt: (fields.observedAt ?? new Date()).toISOString(), ...(fields.sequence !== undefined && { sequence: fields.sequence }),
  }, signer);
}

function gate(run: Run, type: string): { passed: boolean; summary: string } {
  const body = JSON.parse(run.stdout);
  const plan = body.error?.details?.plan ?? body.plan ?? body;
  return plan.gates.find((g: { type: string }) => g.type === type);
}

test("an agent key bound to dev-1 cannot vouch for staging's clusters: production's converged gate refuses its reports; the staging key's pass; a plain key gets a validate warning", async () => {
  const p = await createProject(join(base, 'scope'), registry.host, { name: 'scope' });
  const dev1 = await agentKey(p, 'dev-1');
  const staging = await agentKey(p, 'staging');
  await writeFile(join(p.dir, 'pipelines', 'webapp.yaml'), pipeline(p, `    agents:
      - {key: keys/dev-1.pub, clusters: [dev-1]}
      - {key: keys/staging.pub, clusters: [staging-eu-1, staging-us-1], stages: [staging]}
`));
  const d1 = await p.push(1);
  assert.equal((await promote(p, ['to', 'dev', '--bundle', d1])).code, 0);
  await report(p, 'dev', 'dev-1', d1, dev1);
  const toStaging = await promote(p, ['to', 'staging']);
  assert.equal(toStaging.code, 0, toStaging.stderr);

  // The attack: dev-1's agent (its key is trusted) signs "Converged for an hour" for both
  // staging clusters, where no staging agent ever ran.
  for (const c of ['staging-eu-1', 'staging-us-1']) await report(p, 'staging', c, d1, dev1);
  const forged = await promote(p, ['to', 'production', '--output', 'json']);
  assert.equal(forged.code, 3, forged.stdout + forged.stderr);
  const converged = gate(forged, 'converged');
  assert.equal(converged.passed, false);
  assert.match(converged.summary, /staging-eu-1: status report not counted: the report at status-staging-staging-eu-1 is signed by key keys\/dev-1\.pub, which may report only for cluster dev-1, not staging\/staging-eu-1/);

  // dev-1's key cannot even start an agent for a staging cluster: nothing it signed would count.
  const wrongAgent = await promote(p, ['agent', '--stage', 'staging', '--cluster', 'staging-eu-1', '--target', `dir:${join(base, 'scope-out')}`, '--once', '--key', 'keys/dev-1.key', '--output', 'json']);
  assert.equal(wrongAgent.code, 4, wrongAgent.stdout + wrongAgent.stderr);
  assert.equal(JSON.parse(wrongAgent.stdout).error.code, 'SIGNING_KEY_UNTRUSTED');
  assert.match(JSON.parse(wrongAgent.stdout).error.message, /is not in trust\.agents for staging\/staging-eu-1 \(its entry binds it to other clusters or stages\)/);

  // The staging agents' own key is bound to those clusters: its reports count.
  for (const c of ['staging-eu-1', 'staging-us-1']) await report(p, 'staging', c, d1, staging);
  const honest = await promote(p, ['to', 'production']);
  assert.equal(honest.code, 0, honest.stderr);

  await writeFile(join(p.dir, 'pipelines', 'webapp.yaml'), pipeline(p, `    agents: [keys/dev-1.pub, {key: keys/staging.pub, clusters: [staging-eu-1]}]
`));
  const validated = await promote(p, ['validate']);
  assert.equal(validated.code, 0, validated.stderr);
  assert.match(validated.stderr, /warning: .*webapp\.yaml: trust\.agents\[0\] \(keys\/dev-1\.pub\) is not bound to clusters or stages: any agent holding it can vouch for every cluster/);
  assert.doesNotMatch(validated.stderr, /trust\.agents\[1\]/);
  await writeFile(join(p.dir, 'pipelines', 'webapp.yaml'), pipeline(p, `    agents: [{key: keys/dev-1.pub, stages: [qa]}]
`));
  const unknown = await promote(p, ['validate']);
  assert.equal(unknown.code, 4);
  assert.match(unknown.stderr, /trust\.agents binds a key to stage "qa", which the pipeline does not have/);
});

test('an older signed Converged put back on status-dev-dev-1 after the cluster reported Drifted does not pass staging; nor does a report older than reports.maxAge, unless configured', async () => {
  const p = await createProject(join(base, 'old'), registry.host, { name: 'old-reports' });
  const d1 = await p.push(1);
  assert.equal((await promote(p, ['to', 'dev', '--bundle', d1])).code, 0);
  await report(p, 'dev', 'dev-1', d1, p.promoter, { sequence: 1 });
  const converged = (await p.registry.fetchManifest('status-dev-dev-1'));
  await report(p, 'dev', 'dev-1', d1, p.promoter, { sequence: 2, phase: 'Drifted', since: new Date() });
  const drifted = await promote(p, ['plan', 'staging', '--no-diff', '--output', 'json']);
  assert.equal(drifted.code, 3, drifted.stdout);
  assert.equal(gate(drifted, 'converged').passed, false);

  // The attack: the earlier, validly signed Converged report goes back on the tag.
  await p.registry.pushManifest(converged.bytes, converged.descriptor.mediaType, 'status-dev-dev-1');
  const replayed = await promote(p, ['to', 'staging', '--output', 'json']);
  assert.equal(replayed.code, 3, replayed.stdout + replayed.stderr);
  assert.match(gate(replayed, 'converged').summary, /dev-1: status report not counted: the report at status-dev-dev-1 is number 1, older than number 2 already seen from dev-1: an old report was put back on the tag/);

  // A promoter that never saw the newer one (a fresh CI runner) still refuses a stale report.
  const fresh = { ...p, env: { ...p.env, PROMOTE_CACHE_DIR: join(base, 'old', 'fresh-runner') } };
  await report(p, 'dev', 'dev-1', d1, p.promoter, { sequence: 1, since: new Date(Date.now() - 7_200_000), observedAt: new Date(Date.now() - 3_600_000) });
  const stale = await promote(fresh, ['to', 'staging', '--output', 'json']);
  assert.equal(stale.code, 3, stale.stdout + stale.stderr);
  assert.match(gate(stale, 'converged').summary, /dev-1: the report was observed 1h(\d+s)? ago, outside reports\.maxAge 30m: the agent stopped reporting, or an old report was put back on its tag/);
  await writeFile(join(p.dir, 'pipelines', 'webapp.yaml'), pipeline(p, '', '  reports: {maxAge: 2h}\n'));
  const configured = await promote(fresh, ['to', 'staging']);
  assert.equal(configured.code, 0, configured.stderr);
});
