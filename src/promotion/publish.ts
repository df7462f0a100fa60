import type { SerializedBundle } from '@sigstore/bundle';
import { isPromoteError, PromoteError } from '../errors.ts';
import { parseReference, sameRepository } from '../oci/reference.ts';
import type { Descriptor, Registry } from '../oci/registry.ts';
import { stageRepository } from '../pipeline/pipeline.ts';
import { sourceRepository } from './candidate.ts';
import type { Project, StageLookup } from './project.ts';
import { recordDigest, type PromotionRecord } from '../records/promotion-record.ts';
import { publishStatement, readTaggedRecord, verifiedStageRecord, type PublishedStatement } from './signed-record.ts';
import { shortDigest } from '../short-digest.ts';

// After the ledger commit (the point of no return): the signed record into the registry. Both
// steps are idempotent, so a publish that failed is completed by running `promote to` again.

/**
 * Puts the record where the stage's agents read it: in the stage's repository. When that is not
 * where the bundle came from (a separate production registry), the bundle is copied there first
 * with its signatures (blobs mounted where the registry allows): idempotent, so a re-run that
 * completes a failed publish simply finds it there. What is uploaded is the statement signed
 * before the ledger commit; nothing is signed here.
 */
export async function publish(project: Project, sourceRepo: string, record: PromotionRecord, statement: SerializedBundle, digest = recordDigest(record)): Promise<PublishedStatement> {
  const registry = await project.registryFor(record.bundle.repository);
  try {
    if (!sameRepository(record.bundle.repository, sourceRepo, project.root) && !(await registry.resolve(record.bundle.digest))) {
      const { copyArtifact } = await import('../oci/copy.ts');
      const from = parseReference(sourceRepo);
      const to = parseReference(record.bundle.repository);
      const mountFrom = from.transport === 'registry' && to.transport === 'registry' && from.registry === to.registry ? from.repository : undefined;
      await copyArtifact(await project.registryFor(sourceRepo), registry, record.bundle.digest, undefined, mountFrom);
    }
    const subject = await subjectDescriptor(registry, record.bundle.digest);
    return await publishStatement(registry, (await project.trust()).promotions, subject, record, statement);
  } catch (err) {
    throw new PromoteError('RECORD_PUBLISH_FAILED', `the promotion of ${record.bundle.digest} to ${record.stage} is recorded in the ledger, but publishing its signed record failed: ${(err as Error).message}`, {
      cause: err,
      hint: `run the same promote command again: it finds the ledger record (${shortDigest(digest, 'elided')}) and only publishes it`,
      details: { record: digest },
    });
  }
}

/**
 * After a publish: `promotion-<stage>` must not be behind the ledger's head. Two promotions can
 * race to the tag (the registry has no conditional tag update), and the older one can land last;
 * whoever finishes re-reads the ledger and republishes its head's signed statement. Bounded:
 * each further round needs yet another promotion to have landed meanwhile.
 */
export async function settleTag(project: Project, target: StageLookup): Promise<PublishedStatement | undefined> {
  const { pipeline, ledger } = project;
  const { stage } = target;
  const registry = await project.registryFor(stageRepository(pipeline, stage));
  const trust = (await project.trust()).promotions;
  let last: PublishedStatement | undefined;
  for (let round = 0; round < 5; round++) {
    await ledger.refresh();
    const state = await ledger.read(pipeline.name, stage.name);
    // A head that does not verify is never published (status and history --verify show it).
    const head = await verifiedStageRecord(registry, trust, pipeline.name, stage.name, state).catch((err: unknown) => (isPromoteError(err, 'LEDGER_RECORD_UNVERIFIED') ? undefined : Promise.reject(err)));
    if (!head?.statement) return last;
    const tagged = await readTaggedRecord(registry, trust, pipeline.name, stage.name);
    if (tagged?.record === head.digest || (tagged?.sequence ?? -1) >= head.record.sequence) return last;
    last = await publish(project, sourceRepository(pipeline, target), head.record, head.statement, head.digest);
  }
  return last;
}

async function subjectDescriptor(registry: Registry, digest: string): Promise<Descriptor> {
  const desc = await registry.resolve(digest);
  if (!desc) throw new PromoteError('BUNDLE_NOT_FOUND', `${registry.name}@${digest} is gone from the registry`, { hint: 'the bundle was deleted; push it again (same digest) before publishing its record' });
  return { mediaType: desc.mediaType, digest, size: desc.size };
}
