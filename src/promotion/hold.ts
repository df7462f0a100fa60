import { holdMutation } from './changes.ts';
import { clock, lookupStage, type Project } from './project.ts';

// `promote hold` / `promote release`: a hold refuses every promotion and rollback of the stage
// until it is released (the planner's STAGE_HELD; the ledger commit re-checks it).

export interface HoldResult {
  pipeline: string;
  stage: string;
  held: boolean;
  by: string;
  at: string;
  reason?: string;
  commit?: string;
}

export async function setHold(project: Project, stageName: string, held: boolean, reason?: string): Promise<HoldResult> {
  const { stage } = lookupStage(project.pipeline, stageName);
  const who = (await project.ledger.identity()).text;
  const at = clock(project).toISOString();
  const result = await project.ledger.update(project.pipeline.name, stage.name, holdMutation(project.pipeline.name, stage.name, held, who, at, reason));
  if (project.pipeline.notify?.length && result) {
    const { notify } = await import('./notifications.ts');
    await notify(project, [{ type: held ? 'held' : 'released', pipeline: project.pipeline.name, stage: stage.name, by: who, ...(reason && { reason }), summary: `${project.pipeline.name}: ${who} ${held ? 'held' : 'released'} ${stage.name}${reason ? `: ${reason}` : ''}` }]);
  }
  return { pipeline: project.pipeline.name, stage: stage.name, held, by: who, at, ...(reason && { reason }), ...(result && { commit: result.commit }) };
}
