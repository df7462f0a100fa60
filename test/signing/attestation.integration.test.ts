import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError } from '../../src/errors.ts';
import { openRegistry } from '../../src/oci/open.ts';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, OCI_EMPTY, OCI_MANIFEST, PROMOTION_RECORD, STATUS_REPORT } from '../../src/oci/media-types.ts';
import type { Registry } from '../../src/oci/registry.ts';
import { signAndAttach, statement } from '../../src/signing/attestation.ts';
import { PROMOTION_PREDICATE_TYPE, recordPredicate, verifyRecord, type PromotionPredicate } from '../../src/records/promotion-record.ts';
import { STATUS_PREDICATE_TYPE, verifyStatusReport, type StatusPredicate } from '../../src/records/status-report.ts';
import { signBundle } from '../../src/signing/cosign-signature.ts';
import { loadPipelineTrust, verifyBundle, type TrustPolicy } from '../../src/signing/policy.ts';
import { testRecord } from '../promotion/fixtures/record.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { artefactManifest, failsCheck, testKey } from './helpers.ts';

// Promotion records and status reports as the engine and agents will write and read them,
// against both real stores: the registry (via the harness) and the OCI layout directory.

const ci = testKey('ci');
const promoter = testKey('promoter');
const agent = testKey('agent');
const trust = (k: ReturnType<typeof testKey>): TrustPolicy => ({ keys: [k.pub], identities: [] });

function record(digest: string, stage: string): PromotionPredicate {
  return recordPredicate(testRecord({ digest, stage, environment: stage }), { repository: 'git@example.com:acme/ledger.git', branch: 'main' });
}

async function pushArtefact(r: Registry, label: string, tag: string) {
  await r.pushBlob({ mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 }, EMPTY_JSON);
  return r.pushManifest(artefactManifest(label), OCI_MANIFEST, tag);
}

function suite(name: string, open: () => Promise<Registry>) {
  test(`${name}: bundle signature and promotion record round trip, with replays and wrong keys refused`, async () => {
    const r = await open();
    const a = await pushArtefact(r, `${name}-a`, 'a');
    const b = await pushArtefact(r, `${name}-b`, 'b');
    await signBundle(r, a.digest, ci.signer, r.name);
    assert.equal((await verifyBundle(r, a.digest, trust(ci))).digest, a.digest);

    const attached = await signAndAttach(r, a, statement({ name: r.name, digest: a.digest }, PROMOTION_PREDICATE_TYPE, record(a.digest, 'staging')), promoter.signer, { artifactType: PROMOTION_RECORD, tag: 'promotion-staging' });
    const v = await verifyRecord(r, 'promotion-staging', trust(promoter), { stage: 'staging', bundle: a.digest });
    assert.equal(v.statement.predicate.bundle.digest, a.digest);
    assert.equal(v.descriptor.digest, attached.descriptor.digest);
    assert.deepEqual(v.signedBy, { kind: 'key', key: 'promoter.pub', hint: promoter.pub.hint });
    const referrers = await r.referrers(a.digest, PROMOTION_RECORD);
    assert.deepEqual(referrers.map((d) => d.digest), [attached.descriptor.digest]);

    // Signed by the CI key, not the promoter's: refused.
    await assert.rejects(verifyRecord(r, 'promotion-staging', trust(ci)), failsCheck('signature'));
    // Asked for another stage, or another bundle: refused.
    await assert.rejects(verifyRecord(r, 'promotion-staging', trust(promoter), { stage: 'production' }), failsCheck('record'));
    await assert.rejects(verifyRecord(r, 'promotion-staging', trust(promoter), { bundle: b.digest }), failsCheck('record'));
    // The same signed bundle re-attached to b (replay): the statement names a, not b.
    const fetched = await r.fetchManifest('promotion-staging');
    const moved = JSON.parse(fetched.bytes.toString());
    moved.subject = { mediaType: b.mediaType, digest: b.digest, size: b.size };
    await r.pushManifest(Buffer.from(JSON.stringify(moved)), OCI_MANIFEST, 'promotion-production');
    await assert.rejects(verifyRecord(r, 'promotion-production', trust(promoter)), failsCheck('payload-digest'));
    // A status report in the record's place is not a record.
    await signAndAttach(r, a, statement({ name: r.name, digest: a.digest }, STATUS_PREDICATE_TYPE, { stage: 'dev', cluster: 'dev-1', phase: 'Converged', bundle: { digest: a.digest }, observedAt: 'x', since: 'x' }), promoter.signer, { artifactType: STATUS_REPORT, tag: 'promotion-dev' });
    await assert.rejects(verifyRecord(r, 'promotion-dev', trust(promoter)), failsCheck('payload-type'));
    // Nothing there: a plain "not found", not a verification failure.
    await assert.rejects(verifyRecord(r, 'promotion-qa', trust(promoter)), (err: unknown) => isPromoteError(err, 'RECORD_NOT_FOUND') && err.exitCode === 1);
  });

  test(`${name}: an agent's status report round trip`, async () => {
    const r = await open();
    const a = await pushArtefact(r, `${name}-status`, 's');
    const report: StatusPredicate = { stage: 'staging', cluster: 'staging-eu-1', phase: 'Converged', bundle: { digest: a.digest }, observedAt: '2026-01-01T10:05:00Z', since: '2026-01-01T10:01:00Z', reason: 'Applied' };
    await signAndAttach(r, a, statement({ name: r.name, digest: a.digest }, STATUS_PREDICATE_TYPE, report), agent.signer, { artifactType: STATUS_REPORT, tag: 'status-staging-staging-eu-1' });
    const v = await verifyStatusReport(r, 'status-staging-staging-eu-1', trust(agent), { bundle: a.digest });
    assert.equal(v.statement.predicate.phase, 'Converged');
    await assert.rejects(verifyStatusReport(r, 'status-staging-staging-eu-1', trust(promoter)), failsCheck('signature'));
  });
}

describe('promotion records and status reports in the real registry', () => {
  let reg: RegistryServer;
  let n = 0;
  before(async () => { reg = await startRegistry(); });
  after(async () => { await reg.stop(); });
  suite('registry', () => openRegistry(`${reg.host}/acme/records-${n++}`, { insecure: true, env: {}, dockerConfig: join(tmpdir(), 'promote-no-docker-config.json') }));
});

describe('promotion records and status reports in an OCI layout directory', () => {
  let dir: string;
  let n = 0;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'promote-records-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });
  suite('layout', () => openRegistry(`oci:${join(dir, `layout-${n++}`)}`));
});

test('loadPipelineTrust reads the pipeline trust section: key paths (string or {key}) and keyless identities', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-trust-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ci.pub'), ci.signer.publicKeyPem);
  await writeFile(join(dir, 'promoter.pub'), promoter.signer.publicKeyPem);
  const trustCfg = await loadPipelineTrust(
    { bundles: ['ci.pub', { keyless: { subjectRegExp: '^https://github.com/acme/', issuer: 'https://token.actions.githubusercontent.com' } }], promotions: [{ key: 'promoter.pub' }] },
    { baseDir: dir },
  );
  assert.deepEqual(trustCfg.bundles.keys.map((k) => [k.source, k.hint]), [['ci.pub', ci.pub.hint]]);
  assert.equal(trustCfg.bundles.identities.length, 1);
  assert.deepEqual(trustCfg.promotions.keys.map((k) => k.hint), [promoter.pub.hint]);
  const none = await loadPipelineTrust(undefined, { baseDir: dir });
  const reg = await openRegistry(`oci:${join(dir, 'l')}`);
  await assert.rejects(verifyBundle(reg, `sha256:${'a'.repeat(64)}`, none.bundles), (err: unknown) => isPromoteError(err, 'TRUST_EMPTY') && err.exitCode === 2);
});
