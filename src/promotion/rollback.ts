import { PromoteError } from '../errors.ts';
import { stageRepository } from '../pipeline/pipeline.ts';
import { resolveCandidate } from './candidate.ts';
import { lookupStage, type Project } from './project.ts';
import { RECORD_ACTIONS } from '../records/promotion-record.ts';
import { promote, type PromoteResult } from './to.ts';

// `promote rollback`: a new promotion of a bundle the stage ran before, through the same gates
// (the planner checks a signed record shows the stage ran it).

export interface RollbackRequest {
  stage: string;
  to?: string;
  steps?: number;
  force?: { reason: string };
}

/** A new promotion of an earlier record of the same stage, through the same gates. */
export async function rollback(project: Project, request: RollbackRequest): Promise<PromoteResult> {
  const target = lookupStage(project.pipeline, request.stage);
  const { stage } = target;
  await project.ledger.refresh();
  const entries = (await project.ledger.history(project.pipeline.name, stage.name))
    .filter((h) => RECORD_ACTIONS.includes(h.action))
    .map((h) => h.trailers['Promoted-Bundle']?.[0])
    .filter((d): d is string => !!d);
  let digest = request.to ? await resolveCandidate(project, request.to, stageRepository(project.pipeline, stage), [stage]) : undefined;
  if (digest && !entries.includes(digest)) {
    throw new PromoteError('ROLLBACK_TARGET_UNKNOWN', `${digest} was never promoted to ${stage.name}: a rollback returns to an earlier record of the same stage`, {
      outcome: 'refused',
      hint: `promote history ${stage.name} lists the digests it ran; to bring a new bundle, use promote to`,
    });
  }
  if (!digest) {
    // Distinct bundles, newest first: `--steps 1` is the bundle before the current one.
    const distinct = entries.filter((d, i) => i === 0 || d !== entries[i - 1]);
    const steps = request.steps ?? 1;
    if (!Number.isInteger(steps) || steps < 1) throw new PromoteError('USAGE', '--steps must be a whole number of at least 1', { outcome: 'usage', hint: 'e.g. --steps 1 for the bundle before the current one' });
    digest = distinct[steps];
    if (!digest) {
      throw new PromoteError('ROLLBACK_TARGET_UNKNOWN', `stage ${stage.name} has ${Math.max(0, distinct.length - 1)} earlier bundle${distinct.length === 2 ? '' : 's'}; cannot go back ${steps}`, { outcome: 'refused', hint: `promote history ${stage.name} lists them; or --to <digest>` });
    }
  }
  return promote(project, target, { bundle: digest, ...(request.force && { force: request.force }), action: 'rollback' });
}
