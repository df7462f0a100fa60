import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROMOTION_RECORD } from '../../src/oci/media-types.ts';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { signAndAttach, statement } from '../../src/signing/attestation.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject } from './project.ts';
import { PROMOTION_PREDICATE_TYPE, RECORD_DIGEST_ANNOTATION, verifyRecord } from '../../src/records/promotion-record.ts';

// `promote to` run again on an up-to-date stage checks that promotion-<stage> really holds the
// signed record of the ledger: a manifest that merely carries the right (unsigned) annotation,
// signed by nobody the pipeline trusts, is replaced, not reported as "already published".
// Real registry, real git ledger.

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-published-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

test('an up-to-date stage whose promotion tag holds a forged record with the right annotation is republished, signed by the promoter', async () => {
  const p = await createProject(join(base, 'p'), registry.host, { name: 'published' });
  const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(p.dir, '..', 'cache') });
  const d1 = await p.push(1);
  const first = await promoteTo(eng, { stage: 'dev', bundle: d1 });
  const again = await promoteTo(eng, { stage: 'dev', bundle: d1 });
  assert.equal(again.upToDate, true, 'an honest tag is up to date');

  const trust = await loadPipelineTrust({ promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const real = await verifyRecord(p.registry, 'promotion-dev', trust.promotions, { stage: 'dev' });
  const subject = (await p.registry.resolve(d1))!;
  const forged = await signAndAttach(p.registry, subject, statement({ name: p.repository, digest: d1 }, PROMOTION_PREDICATE_TYPE, { ...real.statement.predicate, clusters: [{ name: 'dev-1', parameters: { namespace: 'attacker' } }] }), p.stranger, {
    artifactType: PROMOTION_RECORD,
    tag: 'promotion-dev',
    annotations: { [RECORD_DIGEST_ANNOTATION]: first.record! },
  });
  assert.equal((await p.registry.resolve('promotion-dev'))?.digest, forged.descriptor.digest);

  const repaired = await promoteTo(eng, { stage: 'dev', bundle: d1 });
  assert.notEqual(repaired.upToDate, true);
  assert.equal(repaired.completed, true);
  assert.equal(repaired.record, first.record);
  const now = await verifyRecord(p.registry, 'promotion-dev', trust.promotions, { stage: 'dev', bundle: d1 });
  assert.equal((now.statement.predicate as { recordDigest?: string }).recordDigest, first.record);
});
