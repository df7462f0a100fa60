// The agent's side of a rollout in waves (issue 19), with every real part: a real registry, a
// real project (keys, git ledger), records signed by the pipeline's own promoter key and put on
// the stage's tag, the real agent (`runAgent --once`, a fresh process state each round, as a
// restarted pod) onto dir targets. The records are built here, with the seam's own rollout
// helpers (startRollout, nextWave), as the engine writes them: one signed record per wave.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROMOTION_RECORD } from '../../src/oci/media-types.ts';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { PROMOTION_PREDICATE_TYPE, recordDigest, recordOf, verifyRecord, type PromotionPredicate } from '../../src/records/promotion-record.ts';
import { nextWave, startRollout, type RecordRollout } from '../../src/records/rollout.ts';
import { readStatusReport } from '../../src/records/status-report.ts';
import { signAndAttach, statement } from '../../src/signing/attestation.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import type { LocalKeySigner } from '../../src/signing/signer.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from '../promotion/project.ts';
import { agentOnce } from './agent-once.ts';

const CLUSTERS = ['dev-1', 'dev-2', 'dev-3'];
const WAVES = CLUSTERS.map((c) => [c]);

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-agent-waves-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

interface Fleet {
  p: TestProject;
  d1: string;
  d2: string;
  /** The dev record `promote to` wrote, re-addressed to the three clusters: the model of every record here. */
  model: PromotionPredicate;
  /** Signs a record (by the promoter unless `by`) into the repository; `tag`: also moves promotion-dev to it. */
  sign(fields: Partial<PromotionPredicate>, options?: { tag?: boolean; by?: LocalKeySigner }): Promise<string>;
  /** One round of the agent of `cluster` (its own target and state; the shared bundle cache). */
  agent(cluster: string, extra?: Parameters<typeof agentOnce>[2]): ReturnType<typeof agentOnce>;
  target(cluster: string): string;
  variant(cluster: string): Promise<string>;
}

async function fleet(name: string): Promise<Fleet> {
  const p = await createProject(join(base, name), registry.host, { name });
  const d1 = await p.push(1);
  const d2 = await p.push(2);
  const engine = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(p.dir, '..', 'engine-cache') });
  await promoteTo(engine, { stage: 'dev', bundle: d1 });
  const trust = await loadPipelineTrust({ promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const real = (await verifyRecord(p.registry, 'promotion-dev', trust.promotions, { stage: 'dev' })).statement.predicate;
  const model: PromotionPredicate = { ...real, clusters: CLUSTERS.map((c) => ({ name: c, parameters: real.clusters[0]!.parameters })) };
  const target = (cluster: string) => join(base, `${name}-${cluster}`);
  return {
    p,
    d1,
    d2,
    model,
    async sign(fields, options = {}) {
      const predicate = { ...model, ...fields };
      const digest = predicate.bundle.digest;
      const subject = (await p.registry.resolve(digest))!;
      const signed = await signAndAttach(p.registry, subject, statement({ name: p.repository, digest }, PROMOTION_PREDICATE_TYPE, predicate), options.by ?? p.promoter, { artifactType: PROMOTION_RECORD, ...(options.tag && { tag: 'promotion-dev' }) });
      return signed.descriptor.digest;
    },
    agent: (cluster, extra = {}) => agentOnce(p, target(cluster), { cluster, cacheDir: join(base, `${name}-bundles`), ...extra }),
    target,
    variant: (cluster) => readFile(join(target(cluster), 'files', 'variant.txt'), 'utf8'),
  };
}

const bundleOf = (p: TestProject, digest: string) => ({ repository: p.repository, digest });

describe('an agent of a cluster in a later wave (real registry, real signed records, real agent)', () => {
  it('keeps running the record before the rollout while the tag releases only earlier waves, is released by its own wave\'s record, and a wave-1 cluster re-reported on each wave\'s record keeps its since', async () => {
    const f = await fleet('waves');
    const { p } = f;
    // Record 1: no rollout, every cluster runs bundle 1.
    const r1 = await f.sign({ sequence: 1 }, { tag: true });
    for (const c of CLUSTERS) assert.equal((await f.agent(c))?.phase, 'Converged');

    // Record 2 starts a rollout of bundle 2: wave 1 (dev-1) released, dev-2 and dev-3 keep record 1.
    const rollout2 = startRollout(WAVES, { digest: r1 });
    assert.deepEqual(rollout2.keep, [{ record: r1, clusters: ['dev-2', 'dev-3'] }]);
    const r2 = await f.sign({ sequence: 2, bundle: bundleOf(p, f.d2), previous: r1, rollout: rollout2 }, { tag: true });
    const canary = await f.agent('dev-1');
    assert.equal(canary?.phase, 'Converged', canary?.message);
    assert.deepEqual([canary?.record, canary?.bundle], [r2, f.d2]);
    assert.equal(await f.variant('dev-1'), 'variant 2\n');
    const later = await f.agent('dev-3');
    assert.equal(later?.phase, 'Converged', later?.message);
    assert.deepEqual([later?.record, later?.bundle], [r1, f.d1], 'the report names the record run: the kept record 1');
    assert.equal(await f.variant('dev-3'), 'variant 1\n', 'dev-3 still runs bundle 1');

    // The replay floor is the tag's record (2), not the kept one (1): record 1 put back on the tag is a replay.
    const old = await p.registry.fetchManifest(r1);
    await p.registry.pushManifest(old.bytes, old.descriptor.mediaType, 'promotion-dev');
    const replayed = await f.agent('dev-3');
    assert.deepEqual([replayed?.phase, replayed?.reason], ['Refused', 'RecordReplayed'], replayed?.message);
    assert.equal(await f.variant('dev-3'), 'variant 1\n');

    // Record 3 releases wave 2: same bundle and parameters; dev-3 still keeps record 1.
    const rollout3 = nextWave({ digest: r2, rollout: rollout2 });
    const r3 = await f.sign({ sequence: 3, bundle: bundleOf(p, f.d2), action: 'wave', previous: r2, rollout: rollout3 }, { tag: true });
    const canary3 = await f.agent('dev-1');
    assert.equal(canary3?.phase, 'Converged', canary3?.message);
    assert.equal(canary3?.record, r3, 'the released wave-1 cluster reports the wave-2 record');
    assert.equal(canary3?.since, canary?.since, 'same bundle, same parameters: the soak of wave 1 goes on from its since');
    const trust = await loadPipelineTrust({ promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
    const signed = await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions, 'webapp');
    assert.deepEqual([signed?.verified, signed?.record, signed?.since], [true, r3, canary?.since], 'the signed report says so');
    const second = await f.agent('dev-2');
    assert.deepEqual([second?.phase, second?.record], ['Converged', r3], second?.message);
    assert.equal(await f.variant('dev-2'), 'variant 2\n');
    const still = await f.agent('dev-3');
    assert.deepEqual([still?.phase, still?.record], ['Converged', r1], still?.message);
    assert.equal(await f.variant('dev-3'), 'variant 1\n');

    // Record 4 releases wave 3: dev-3 runs bundle 2.
    const r4 = await f.sign({ sequence: 4, bundle: bundleOf(p, f.d2), action: 'wave', previous: r3, rollout: nextWave({ digest: r3, rollout: rollout3 }) }, { tag: true });
    const released = await f.agent('dev-3');
    assert.equal(released?.phase, 'Converged', released?.message);
    assert.deepEqual([released?.record, released?.bundle], [r4, f.d2]);
    assert.equal(await f.variant('dev-3'), 'variant 2\n');
  });

  it('a keep naming the record by its ledger digest (as the engine\'s head knows it) is found through the agent\'s own last report, and refused when it is no record the agent ran', async () => {
    const f = await fleet('ledger-digest');
    const { p } = f;
    const r1 = await f.sign({ sequence: 1 }, { tag: true });
    assert.equal((await f.agent('dev-3'))?.phase, 'Converged');
    const trust = await loadPipelineTrust({ promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
    const ledgerDigest = recordDigest(recordOf((await verifyRecord(p.registry, r1, trust.promotions)).statement.predicate));
    assert.notEqual(ledgerDigest, r1);
    await f.sign({ sequence: 2, bundle: bundleOf(p, f.d2), rollout: startRollout(WAVES, { digest: ledgerDigest }) }, { tag: true });
    // A new process each round: it finds record 1 as the record its own last report names.
    const kept = await f.agent('dev-3');
    assert.equal(kept?.phase, 'Converged', kept?.message);
    assert.deepEqual([kept?.record, kept?.bundle], [r1, f.d1], 'the report names the artefact run');
    assert.equal(await f.variant('dev-3'), 'variant 1\n');
    // The same ledger digest for a cluster whose agent never ran record 1: nothing to find it by.
    const fresh = await f.agent('dev-2');
    assert.deepEqual([fresh?.phase, fresh?.reason], ['Refused', 'RecordKeepInvalid'], fresh?.message);
    assert.match(fresh!.message, /that record is not in the repository/);
    await assert.rejects(readFile(join(f.target('dev-2'), 'files', 'variant.txt')), { code: 'ENOENT' });
  });

  it('with nothing kept (a first rollout): Progressing WaitingForWave, nothing applied or published, until its wave is released', async () => {
    const f = await fleet('waiting');
    const { p } = f;
    const r1 = await f.sign({ sequence: 2, bundle: bundleOf(p, f.d2), rollout: startRollout(WAVES, undefined) }, { tag: true });
    const waiting = await f.agent('dev-2');
    assert.equal(waiting?.phase, 'Progressing', waiting?.message);
    assert.equal(waiting?.reason, 'WaitingForWave');
    assert.equal(waiting?.record, r1);
    assert.match(waiting!.message, /dev-2 is in wave 2 of 3 of dev's rollout, not released yet/);
    await assert.rejects(readFile(join(f.target('dev-2'), 'files', 'variant.txt')), { code: 'ENOENT' });
    await assert.rejects(p.registry.fetchManifest('status-dev-dev-2'), 'no report: it runs nothing of the stage');
    await f.sign({ sequence: 3, bundle: bundleOf(p, f.d2), action: 'wave', rollout: nextWave({ digest: r1, rollout: startRollout(WAVES, undefined) }) }, { tag: true });
    const released = await f.agent('dev-2');
    assert.equal(released?.phase, 'Converged', released?.message);
    assert.equal(await f.variant('dev-2'), 'variant 2\n');
  });
});

describe('an agent refuses a validly signed record whose keep it must not follow (each an attack on dev-3, which runs record 1)', () => {
  let f: Fleet;
  let r1: string;
  before(async () => {
    f = await fleet('forged');
    r1 = await f.sign({ sequence: 1 }, { tag: true });
    assert.equal((await f.agent('dev-3'))?.phase, 'Converged');
  });

  /** A tag record of bundle 2 that releases wave 1 and keeps `keep` running on dev-3; the agent's verdict. */
  async function keeping(keep: string, sequence = 5) {
    const rollout: RecordRollout = { wave: 1, waves: WAVES.map((clusters) => ({ clusters })), keep: [{ record: keep, clusters: ['dev-2', 'dev-3'] }] };
    const tag = await f.sign({ sequence, bundle: bundleOf(f.p, f.d2), rollout }, { tag: true });
    const status = await f.agent('dev-3');
    assert.equal(status?.phase, 'Refused', status?.message);
    assert.equal(status?.reason, 'RecordKeepInvalid');
    assert.equal(status?.record, tag, 'the refused record is the tag\'s');
    assert.match(status!.message, new RegExp(`^nothing applied: record ${sequence} at .*:promotion-dev \\(${tag}\\) does not release wave 3, where dev-3 is, and keeps ${keep} running there, but `));
    assert.equal(await f.variant('dev-3'), 'variant 1\n', 'the target still runs record 1, untouched');
    return status!;
  }

  it('a kept record of another stage', async () => {
    const staging = await f.sign({ sequence: 1, stage: 'staging', environment: 'staging' });
    const s = await keeping(staging);
    assert.match(s.message, /is a record for stage "staging", not dev/);
  });

  it('a kept record of another pipeline', async () => {
    const other = await f.sign({ sequence: 1, pipeline: 'other-pipeline' });
    const s = await keeping(other);
    assert.match(s.message, /that record is for pipeline "other-pipeline", not webapp/);
  });

  it('a kept record without this cluster', async () => {
    const narrow = await f.sign({ sequence: 1, clusters: f.model.clusters.slice(0, 2) });
    const s = await keeping(narrow);
    assert.match(s.message, /does not include cluster dev-3/);
  });

  it('a kept record that does not release the cluster either (its own keep, naming record 1, is not followed)', async () => {
    const unreleased = await f.sign({ sequence: 2, rollout: { wave: 1, waves: WAVES.map((clusters) => ({ clusters })), keep: [{ record: r1, clusters: ['dev-3'] }] } });
    const s = await keeping(unreleased);
    assert.match(s.message, /that record \(number 2\) does not release dev-3 either/);
  });

  it('a kept record not older than the record that keeps it', async () => {
    const newer = await f.sign({ sequence: 9 });
    const s = await keeping(newer, 6);
    assert.match(s.message, /that record is number 9, not older than the record that keeps it \(6\)/);
  });

  it('a kept record signed by a key trust.promotions does not list', async () => {
    const unsigned = await f.sign({ sequence: 1 }, { by: f.p.stranger });
    const s = await keeping(unsigned);
    assert.match(s.message, /that record does not verify: /);
  });

  it('a kept digest that is no record in the repository', async () => {
    const s = await keeping(`sha256:${'0'.repeat(64)}`);
    assert.match(s.message, /that record is not in the repository/);
  });

  it('after every refusal, the honest record (keeping record 1) is run', async () => {
    await f.sign({ sequence: 7, bundle: bundleOf(f.p, f.d2), rollout: startRollout(WAVES, { digest: r1 }) }, { tag: true });
    const status = await f.agent('dev-3');
    assert.deepEqual([status?.phase, status?.record], ['Converged', r1], status?.message);
    assert.equal(await f.variant('dev-3'), 'variant 1\n');
  });
});
