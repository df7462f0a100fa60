// The demo's agents are built from `promote agent`'s own parts: against a real registry and a
// project whose dev stage keeps its records in a repository of its own, the demo's agent finds
// the record there, and its signed report carries the owner's report and record numbers (the
// copy the demo once had read the pipeline's repository and published unnumbered reports).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DirTarget } from '../../src/agent/targets/dir-target.ts';
import { clusterAgent, clusterAgentParts } from '../../src/demo/cluster-agents.ts';
import { openRegistry } from '../../src/oci/open.ts';
import { findPipelineFile, loadPipeline } from '../../src/pipeline/load.ts';
import { verifyStatusReport } from '../../src/records/status-report.ts';
import { loadPipelineTrust, loadTrustPolicy } from '../../src/signing/policy.ts';
import { promote } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject } from '../promotion/project.ts';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-demo-agents-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

test("the demo's agent reads its stage's own repository and publishes numbered reports, as promote agent does", async () => {
  const p = await createProject(join(base, 'p'), registry.host, { name: 'demo-agents' });
  const devRepository = `${registry.host}/acme/demo-agents-dev`;
  const file = join(p.dir, 'pipelines', 'webapp.yaml');
  const text = await readFile(file, 'utf8');
  const withDevRepo = text.replace('- {name: dev, environment: dev, promotion: auto}', `- {name: dev, environment: dev, promotion: auto, repository: ${devRepository}}`);
  assert.notEqual(withDevRepo, text);
  await writeFile(file, withDevRepo);
  const digest = await p.push(1);
  const run = (args: string[]) => promote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1' } });
  const copied = await run(['copy', `${p.repository}@${digest}`, devRepository]);
  assert.equal(copied.code, 0, copied.stderr);
  const to = await run(['to', 'dev', '--bundle', digest]);
  assert.equal(to.code, 0, to.stderr);

  const pipeline = await loadPipeline(await findPipelineFile(p.dir));
  const registryFor = (repository: string) => openRegistry(repository, { insecure: true, env: p.env, cwd: p.dir });
  const trust = await loadPipelineTrust(pipeline.trust, { baseDir: p.dir });
  const out = join(base, 'cluster');
  const parts = await clusterAgentParts({ project: { pipeline, registryFor }, trust, signer: p.agent, cacheDir: join(base, 'cache', 'bundles'), stateDir: join(base, 'cache', 'agent'), stage: 'dev', cluster: 'dev-1' });
  const round = await clusterAgent(parts, new DirTarget(out), { pipeline: pipeline.name, stage: 'dev', cluster: 'dev-1' }).round();
  assert.equal(round.status.phase, 'Converged', round.status.message);
  assert.equal(round.status.bundle, digest);
  assert.equal(await readFile(join(out, 'files', 'variant.txt'), 'utf8'), 'variant 1\n');

  const own = await loadTrustPolicy([join(p.dir, 'keys', 'agent.pub')], { baseDir: p.dir });
  const report = (await verifyStatusReport(await registryFor(devRepository), 'status-dev-dev-1', own)).statement.predicate;
  assert.equal(report.bundle.repository, devRepository);
  assert.equal(report.sequence, 1, 'reports are numbered (the owner and replay state are wired in)');
  assert.equal(report.recordSequence, 1);
});
