// The agent end to end on the embedded dir target, with every real part: a real registry, a
// real project (git ledger, keys), the engine promoting, the agent verifying and applying,
// status reports the engine's gates read.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pipelineStatus, statusTable } from '../../src/promotion/status.ts';
import { PROMOTION_RECORD } from '../../src/oci/media-types.ts';
import { pushBundle } from '../../src/artifact/push.ts';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { readStatusReport } from '../../src/records/status-report.ts';
import { signAndAttach, statement } from '../../src/signing/attestation.ts';
import { signBundle } from '../../src/signing/cosign-signature.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, FIXTURE, type TestProject } from '../promotion/project.ts';
import type { AgentOptions } from '../../src/agent/agent.ts';
import { promote } from '../cli/run-promote.ts';
import { agentOnce } from './agent-once.ts';
import { PROMOTION_PREDICATE_TYPE, valuesDigest, verifyRecord } from '../../src/records/promotion-record.ts';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-agent-e2e-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function engine(p: TestProject, now: () => Date) {
  return openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, now, cacheDir: join(p.dir, '..', 'engine-cache') });
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
  } catch {
    return [];
  }
}

/** A promotion record for `digest` with `changes` applied to the real dev record's predicate, signed by `signer`. */
async function craftRecord(p: TestProject, digest: string, tag: string, signer = p.promoter, changes: Record<string, unknown> = {}) {
  const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const real = await verifyRecord(p.registry, 'promotion-dev', trust.promotions);
  const predicate = { ...real.statement.predicate, ...changes };
  const subject = (await p.registry.resolve(digest))!;
  return signAndAttach(p.registry, subject, statement({ name: p.repository, digest }, PROMOTION_PREDICATE_TYPE, predicate), signer, { artifactType: PROMOTION_RECORD, tag });
}

/** A record's `parameters`: the values and their true digest. */
function withDigest(values: Record<string, unknown>) {
  return { digest: valuesDigest(values), values };
}

describe('promote agent on the dir target (real registry, real project)', () => {
  it('converges dev, reports Converged, lets staging pass its converged gate, restores drift, prunes a removed manifest', async () => {
    const p = await createProject(join(base, 'flow'), registry.host, { name: 'flow' });
    const out = join(base, 'flow-target');
    const d1 = await p.push(1);
    const clock = { now: new Date() };
    const eng = await engine(p, () => clock.now);
    await promoteTo(eng, { stage: 'dev', bundle: d1 });
    await assert.rejects(promoteTo(eng, { stage: 'staging' }), (err: Error & { code?: string }) => err.code !== undefined, 'staging must wait for dev to converge');

    const status = await agentOnce(p, out);
    assert.equal(status?.phase, 'Converged', status?.message);
    assert.equal(status?.bundle, d1);
    assert.deepEqual(await listFiles(out), ['.promote-inventory.json', 'files/scripts/run.sh', 'files/variant.txt', 'manifests/deployment.yaml', 'manifests/service.yaml']);
    assert.match(await readFile(join(out, 'manifests/deployment.yaml'), 'utf8'), /namespace: dev\n[\s\S]*replicas: 1\n/);

    const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
    const seen = await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions);
    assert.equal(seen?.phase, 'Converged');
    assert.equal(seen?.verified, true);
    assert.equal(seen?.bundle, d1);

    const table = await pipelineStatus({ cwd: p.dir, env: p.env, registry: { insecure: true } });
    const dev1 = table.clusters.find((c) => c.stage === 'dev' && c.cluster === 'dev-1')!;
    assert.equal(dev1.observed?.phase, 'Converged');
    assert.equal(dev1.observed?.verified, true);
    assert.equal(dev1.inSync, true);
    assert.equal(dev1.desired?.bundle, d1);
    assert.deepEqual(table.clusters.map((c) => `${c.stage}/${c.cluster}`), ['dev/dev-1', 'staging/staging-eu-1', 'staging/staging-us-1', 'production/prod-eu-1']);
    assert.match(statusTable(table), new RegExp(`^dev\\s+dev-1\\s+${d1.slice(7, 19)}\\s+${d1.slice(7, 19)}\\s+Converged\\s+\\d+s\\s+-$`, 'm'));

    clock.now = new Date(Date.now() + 16 * 60_000); // past the 15m soak
    const staged = await promoteTo(eng, { stage: 'staging' });
    assert.equal(staged.bundle, d1);
    const cli = await promote(['status', '--insecure', '--output', 'json'], { cwd: p.dir, env: p.env });
    assert.equal(cli.code, 0, cli.stderr);
    const rows = JSON.parse(cli.stdout).clusters as { stage: string; cluster: string; desired?: { bundle: string }; observed?: { phase: string }; behind: boolean }[];
    assert.equal(rows.find((r) => r.cluster === 'dev-1')?.observed?.phase, 'Converged');
    const eu = rows.find((r) => r.cluster === 'staging-eu-1');
    assert.equal(eu?.desired?.bundle, d1, 'staging now desires d1');
    assert.equal(eu?.observed, undefined);
    assert.equal(eu?.behind, true);

    // A hand edit: reported as Drifted with self-heal off (left alone), restored with it on.
    await writeFile(join(out, 'manifests/service.yaml'), 'edited: by hand\n');
    const drifted = await agentOnce(p, out, { selfHeal: false });
    assert.equal(drifted?.phase, 'Drifted');
    assert.match(drifted!.message, /manifests\/service\.yaml was modified/);
    assert.equal(await readFile(join(out, 'manifests/service.yaml'), 'utf8'), 'edited: by hand\n');
    assert.equal((await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions))?.phase, 'Drifted');
    const healed = await agentOnce(p, out);
    assert.equal(healed?.phase, 'Converged');
    assert.equal(healed?.reason, 'DriftCorrected');
    assert.match(await readFile(join(out, 'manifests/service.yaml'), 'utf8'), /kind: Service/);

    // A bundle without the Service: promoted, then pruned from the target.
    const src = join(base, 'flow-bundle-2');
    await cp(FIXTURE, src, { recursive: true });
    await rm(join(src, 'manifests/service.yaml'));
    const pushed = await pushBundle(src, `${p.repository}:v2`, { insecure: true, env: { ...p.env, SOURCE_DATE_EPOCH: '1700000100' } });
    const d2 = pushed.reference.slice(pushed.reference.indexOf('@') + 1);
    await signBundle(p.registry, d2, p.ci, p.repository);
    await promoteTo(eng, { stage: 'dev', bundle: d2 });
    const next = await agentOnce(p, out);
    assert.equal(next?.phase, 'Converged');
    assert.deepEqual(next?.pruned, ['files/variant.txt', 'manifests/service.yaml']);
    assert.deepEqual(await listFiles(out), ['.promote-inventory.json', 'files/scripts/run.sh', 'manifests/deployment.yaml']);
  });

  it('refuses, applying nothing: another cluster\'s record, an untrusted record signer, a dev record on the production tag, an altered blob, invalid parameters', async () => {
    const p = await createProject(join(base, 'refusals'), registry.host, { name: 'refusals' });
    const d1 = await p.push(1);
    const eng = await engine(p, () => new Date());
    await promoteTo(eng, { stage: 'dev', bundle: d1 });

    const refused = async (name: string, options: Partial<AgentOptions>, code: RegExp) => {
      const out = join(base, `refused-${name}`);
      const s = await agentOnce(p, out, { cacheDir: join(base, `cache-${name}`), ...options });
      assert.equal(s?.phase, 'Refused', `${name}: ${s?.phase} ${s?.message}`);
      assert.match(s!.reason, code, `${name}: ${s!.reason}: ${s!.message}`);
      assert.match(s!.message, /^nothing applied: /);
      assert.deepEqual(await listFiles(out), [], `${name}: nothing may be written`);
      if (process.env.PROMOTE_TEST_VERBOSE) console.log(name, s!.reason, s!.message);
      return s!;
    };

    // 0. A cluster the record is not for (the environment lists dev-1 only).
    const other = await refused('cluster', { cluster: 'dev-9' }, /^RecordWrongCluster$/);
    assert.match(other.message, /does not include cluster dev-9 \(it is for dev-1\)/);

    // 1. A record signed by a key nobody trusts, at promotion-staging.
    await craftRecord(p, d1, 'promotion-staging', p.stranger, { stage: 'staging', clusters: [{ name: 'staging-eu-1', parameters: { namespace: 'staging', replicas: 1 } }] });
    await refused('untrusted', { stage: 'staging', cluster: 'staging-eu-1' }, /^(Signature|Verification|Record|Untrusted)/);

    // 2. The (valid, trusted) dev record copied onto the production tag.
    const devRecord = await p.registry.fetchManifest('promotion-dev');
    await p.registry.pushManifest(devRecord.bytes, devRecord.descriptor.mediaType, 'promotion-production');
    const moved = await refused('moved', { stage: 'production', cluster: 'prod-eu-1' }, /^(Verification|Record)/);
    assert.match(moved.message, /stage "dev", not production/);

    // 3. Parameters the bundle's schema rejects, in a validly signed record.
    await craftRecord(p, d1, 'promotion-dev', p.promoter, { parameters: withDigest({ namespace: 'dev', replicas: 'three' }), clusters: [{ name: 'dev-1', parameters: { namespace: 'dev', replicas: 'three' } }] });
    const invalid = await refused('params', {}, /^ParametersInvalid$/);
    assert.match(invalid.message, /do not satisfy the bundle's schema/);

    // 4. A valid record again, but the bundle's content blob altered in the registry's storage.
    const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
    const good = await craftRecord(p, d1, 'promotion-dev', p.promoter, { parameters: withDigest({ namespace: 'dev', replicas: 1 }), clusters: [{ name: 'dev-1', parameters: { namespace: 'dev', replicas: 1 } }] });
    assert.ok(await verifyRecord(p.registry, good.descriptor.digest, trust.promotions, { stage: 'dev' }));
    const manifest = JSON.parse((await p.registry.fetchManifest(d1)).bytes.toString('utf8')) as { layers: { digest: string }[] };
    const hex = manifest.layers[0]!.digest.slice('sha256:'.length);
    const blob = join(registry.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = await readFile(blob);
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0xff;
    await writeFile(blob, bytes);
    await refused('blob', {}, /Digest|Mismatch|Verification|Corrupt/);
  });
});
