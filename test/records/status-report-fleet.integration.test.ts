import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRegistry } from '../../src/oci/open.ts';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, OCI_EMPTY, OCI_MANIFEST, PROMOTION_RECORD, STATUS_REPORT } from '../../src/oci/media-types.ts';
import { fallbackTag } from '../../src/oci/http/referrers.ts';
import type { Registry } from '../../src/oci/registry.ts';
import { PROMOTION_PREDICATE_TYPE, recordPredicate } from '../../src/records/promotion-record.ts';
import { publishStatusReport, statusTag, verifyStatusReport, type StatusPredicate } from '../../src/records/status-report.ts';
import { signAndAttach, statement } from '../../src/signing/attestation.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { testRecord } from '../promotion/fixtures/record.ts';
import { artefactManifest, testKey } from '../signing/helpers.ts';

// A fleet's agents all report about the one bundle their stage runs. Reports are found by their
// tag, so publishing them must not go through the bundle's tag-schema referrers index: on
// distribution 2.8 (no referrers API, no conditional PUT) concurrent agents rewriting one index
// lost each other's entries and failed with REFERRERS_UPDATE_FAILED.

const CLUSTERS = 200;
const agent = testKey('agent');
const promoter = testKey('promoter');

let reg: RegistryServer;
let registry: Registry;
before(async () => {
  reg = await startRegistry();
  registry = await openRegistry(`${reg.host}/acme/fleet`, { insecure: true, env: {}, dockerConfig: join(tmpdir(), 'promote-no-docker-config.json') });
});
after(async () => { await reg.stop(); });

test(`${CLUSTERS} status reports about one bundle, published at once to the real registry, all land and leave its referrers index alone`, async () => {
  await registry.pushBlob({ mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 }, EMPTY_JSON);
  const bundle = await registry.pushManifest(artefactManifest('fleet'), OCI_MANIFEST, 'v1');
  // A record in the index, as a promotion leaves it: it must stay listed, and alone.
  const record = await signAndAttach(registry, bundle, statement({ name: registry.name, digest: bundle.digest }, PROMOTION_PREDICATE_TYPE, recordPredicate(testRecord({ digest: bundle.digest, stage: 'production', environment: 'production' }), { repository: 'ledger.git', branch: 'main' })), promoter.signer, { artifactType: PROMOTION_RECORD, tag: 'promotion-production' });
  await reg.clearRequests();

  const clusters = Array.from({ length: CLUSTERS }, (_, i) => `prod-${String(i).padStart(4, '0')}`);
  const report = (cluster: string): StatusPredicate => ({ pipeline: 'webapp', stage: 'production', cluster, phase: 'Converged', bundle: { digest: bundle.digest }, observedAt: '2026-01-01T10:05:00Z', since: '2026-01-01T10:01:00Z', reason: 'Applied' });
  const published = await Promise.allSettled(clusters.map((c) => publishStatusReport(registry, bundle, report(c), agent.signer)));
  const failed = published.flatMap((r, i) => (r.status === 'rejected' ? [`${clusters[i]}: ${(r.reason as Error).message}`] : []));
  assert.deepEqual(failed, [], 'every report was published');

  const index = fallbackTag(bundle.digest);
  const touched = (await reg.requests()).filter((r) => r.path.includes(`/manifests/${index}`));
  assert.deepEqual(touched, [], `publishing reports neither read nor rewrote ${index}`);

  const trust = { keys: [agent.pub], identities: [] };
  const verified = await Promise.all(clusters.map((c) => verifyStatusReport(registry, statusTag('production', c), trust, { bundle: bundle.digest })));
  assert.deepEqual(verified.map((v) => v.statement.predicate.cluster), clusters, 'each tag holds its own cluster\'s report');
  // The subject stays in each report: a registry with the referrers API lists them from it.
  assert.ok(verified.every((v) => v.subject?.digest === bundle.digest));

  assert.deepEqual((await registry.referrers(bundle.digest)).map((d) => d.digest), [record.descriptor.digest], 'the index lists the record and no report');
  assert.deepEqual(await registry.referrers(bundle.digest, STATUS_REPORT), []);
});
