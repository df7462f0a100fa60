import { PromoteError } from '../errors.ts';
import type { RenderedCluster } from '../pipeline/gate.ts';
import type { Stage } from '../pipeline/pipeline.ts';
import type { Project } from './project.ts';

// The engine's GateFacts.rendered: the candidate rendered per cluster of the stage, as the agents
// would render it (artifact/render-pulled). Issue 17 (policy area) fills this in.

export async function renderedForStage(_project: Project, stage: Stage, _candidate: string, _registryRepository: string): Promise<RenderedCluster[]> {
  throw new PromoteError('RENDER_FAILED', `rendering stage ${stage.name} for a policy gate is not implemented yet`, { outcome: 'refused' });
}
