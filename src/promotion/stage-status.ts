import { stageOrder } from '../pipeline/load.ts';
import { publishedRecord, type Project } from './engine.ts';
import { activeHold } from './record.ts';

// The desired side of `promote status`: per stage, what the ledger says it runs and whether the
// registry's signed record agrees. A ledger commit whose record was never published (the publish
// failed after the commit) shows as a gap until `promote to <stage>` is run again.

export interface StageSummary {
  stage: string;
  environment: string;
  from?: string;
  /** Bundle digest recorded in the ledger. */
  bundle?: string;
  /** Digest of the ledger's promotion record. */
  record?: string;
  action?: string;
  promotedBy?: string;
  promotedAt?: string;
  held: boolean;
  hold?: { by: string; at: string; reason?: string };
  /** The artefact at promotion-<stage>, and the record digest it carries. */
  published?: { digest: string; record?: string };
  /** True when the ledger has a record the registry does not publish (re-run `promote to`). */
  publishGap: boolean;
}

export async function stageSummaries(project: Project): Promise<StageSummary[]> {
  await project.ledger.refresh();
  const out: StageSummary[] = [];
  for (const stage of stageOrder(project.pipeline)) {
    const state = await project.ledger.read(project.pipeline.name, stage.name);
    const published = await publishedRecord(project, stage.name);
    const hold = activeHold(project.pipeline, stage, state);
    out.push({
      stage: stage.name,
      environment: stage.environment,
      ...(stage.from && { from: stage.from }),
      ...(state?.record && { bundle: state.record.bundle.digest, action: state.record.action, promotedBy: state.record.promotedBy, promotedAt: state.record.promotedAt }),
      ...(state?.recordDigest && { record: state.recordDigest }),
      held: hold !== undefined,
      ...(hold && { hold }),
      ...(published && { published }),
      publishGap: state?.recordDigest !== undefined && published?.record !== state.recordDigest,
    });
  }
  return out;
}
