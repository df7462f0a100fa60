// Two refusals of the agent, each performed as an attack with every real part: a real registry,
// a real project, records signed by the pipeline's own (trusted) promoter key and put on the
// stage's tag. Without the check each record would be applied: the agent must refuse it
// (Refused, the record's code), write nothing, and report so.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROMOTION_RECORD } from '../../src/oci/media-types.ts';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { PROMOTION_PREDICATE_TYPE, verifyRecord, type PromotionPredicate } from '../../src/records/promotion-record.ts';
import { readStatusReport } from '../../src/records/status-report.ts';
import { signAndAttach, statement } from '../../src/signing/attestation.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from '../promotion/project.ts';
import { agentOnce } from './agent-once.ts';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-agent-refusals-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

async function files(dir: string): Promise<string[]> {
  return readdir(dir, { recursive: true }).catch(() => []);
}

/** A project whose dev stage was promoted once (the real record), and the trust to read it with. */
async function promotedDev(name: string) {
  const p = await createProject(join(base, name), registry.host, { name });
  const digest = await p.push(1);
  const engine = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(p.dir, '..', 'engine-cache') });
  await promoteTo(engine, { stage: 'dev', bundle: digest });
  const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const real = (await verifyRecord(p.registry, 'promotion-dev', trust.promotions, { stage: 'dev' })).statement.predicate;
  return { p, digest, trust, real };
}

/** Signs `predicate` with the trusted promoter key and moves promotion-dev to it. */
async function putOnTag(p: TestProject, digest: string, predicate: PromotionPredicate) {
  const subject = (await p.registry.resolve(digest))!;
  return signAndAttach(p.registry, subject, statement({ name: p.repository, digest }, PROMOTION_PREDICATE_TYPE, predicate), p.promoter, { artifactType: PROMOTION_RECORD, tag: 'promotion-dev' });
}

describe('the agent refuses validly signed records it must not apply (real registry, real signatures)', () => {
  it('a record of another pipeline on this stage\'s tag: Refused RecordWrongPipeline, nothing applied', async () => {
    const { p, digest, trust, real } = await promotedDev('wrong-pipeline');
    // The same promoter key signs for a second pipeline sharing the repository; its dev record
    // (same stage, same bundle, its own parameters) is copied onto this pipeline's tag.
    const values = { namespace: 'other-team', replicas: 1 };
    const forged = await putOnTag(p, digest, { ...real, pipeline: 'other-pipeline', parameters: { digest: real.parameters.digest, values: real.parameters.values }, clusters: [{ name: 'dev-1', parameters: values }] });
    const out = join(base, 'wrong-pipeline-target');
    const status = await agentOnce(p, out, { cacheDir: join(base, 'wrong-pipeline-cache') });
    assert.equal(status?.phase, 'Refused', `${status?.phase} ${status?.message}`);
    assert.equal(status?.reason, 'RecordWrongPipeline');
    assert.match(status!.message, /^nothing applied: .*is for pipeline "other-pipeline", not webapp /);
    assert.equal(status?.record, forged.descriptor.digest);
    assert.deepEqual(await files(out), [], 'nothing may be written');
    const reported = await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions, 'webapp');
    assert.deepEqual([reported?.phase, reported?.verified, reported?.reason], ['Refused', true, 'RecordWrongPipeline'], 'the refusal is reported, signed');
  });

  it('a record whose parameter values are not the ones its parameters digest names: Refused RecordInvalid, nothing applied', async () => {
    const { p, digest, trust, real } = await promotedDev('wrong-digest');
    // Values the bundle's schema accepts, signed, but not the environment's values the digest
    // (which approvals and the ledger bind) stands for.
    const values = { ...real.parameters.values, replicas: 7 };
    const forged = await putOnTag(p, digest, { ...real, parameters: { digest: real.parameters.digest, values }, clusters: [{ name: 'dev-1', parameters: values }] });
    const out = join(base, 'wrong-digest-target');
    const status = await agentOnce(p, out, { cacheDir: join(base, 'wrong-digest-cache') });
    assert.equal(status?.phase, 'Refused', `${status?.phase} ${status?.message}`);
    assert.equal(status?.reason, 'RecordInvalid');
    assert.match(status!.message, /\/parameters\/digest must be the digest of \/parameters\/values/);
    assert.equal(status?.record, forged.descriptor.digest);
    assert.deepEqual(await files(out), [], 'nothing may be written');
    const reported = await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions, 'webapp');
    assert.deepEqual([reported?.phase, reported?.verified, reported?.reason], ['Refused', true, 'RecordInvalid'], 'the refusal is reported, signed');
    // The honest record still applies, with the recorded replicas (not 7).
    const honest = await putOnTag(p, digest, real);
    const applied = await agentOnce(p, out, { cacheDir: join(base, 'wrong-digest-cache') });
    assert.equal(applied?.phase, 'Converged', applied?.message);
    assert.equal(applied?.record, honest.descriptor.digest);
    assert.doesNotMatch(await readFile(join(out, 'manifests/deployment.yaml'), 'utf8'), /replicas: 7/);
  });
});
