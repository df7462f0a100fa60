import { PromoteError } from '../errors.ts';
import type { Pipeline, Stage } from '../pipeline/pipeline.ts';

// The stages the demo walks, in order: one chain, each stage `from` the one before, of two or
// more stages. The first plays dev (new releases enter it), the last plays production (the
// approval, the drift and the rollback happen there), any in between are walked like staging.
// Checked before keys or state are touched, with the gates the demo cannot pass by itself.

const SHAPE_HINT = 'the demo walks one chain of stages, each from the one before (promote init scaffolds dev → staging → production; promote import writes its environments in the order given)';

/** Gates read the real clock: a soak the demo would wait out for longer is refused up front. */
const MAX_SOAK_MS = 60_000;

function shape(message: string, hint = SHAPE_HINT): PromoteError {
  return new PromoteError('DEMO_PIPELINE_SHAPE', message, { outcome: 'usage', hint });
}

/** The pipeline's stages as one chain, first to last; refuses a single stage, a branch, or a gate only a person can pass. */
export function demoStages(pipeline: Pipeline, show: (path: string) => string = (p) => p): Stage[] {
  const { stages } = pipeline;
  if (stages.length < 2) {
    throw shape(`the demo promotes through two or more stages; pipeline ${pipeline.name} has ${stages.length === 1 ? `one (${stages[0]!.name})` : 'none'}`, `add a stage with from: ${stages[0]?.name ?? '<the first stage>'} to the pipeline (promote init scaffolds dev → staging → production)`);
  }
  const firsts = stages.filter((s) => s.from === undefined);
  if (firsts.length !== 1) {
    throw shape(`the demo walks one chain of stages; pipeline ${pipeline.name} has ${firsts.length} first stages (${firsts.map((s) => s.name).join(', ')}), stages without from`);
  }
  const chain: Stage[] = [firsts[0]!];
  for (;;) {
    const at = chain.at(-1)!;
    const next = stages.filter((s) => s.from === at.name);
    if (next.length > 1) {
      throw shape(`the demo walks one chain of stages; in pipeline ${pipeline.name} ${next.map((s) => s.name).join(' and ')} both come from ${at.name}`);
    }
    if (!next.length) break;
    chain.push(next[0]!);
  }
  // loadPipeline refuses cycles and unknown `from`, so one first stage without a branch reaches
  // every stage; this keeps the demo honest if that ever changes.
  if (chain.length !== stages.length) {
    throw shape(`the demo walks one chain of stages; ${stages.filter((s) => !chain.includes(s)).map((s) => s.name).join(', ')} of pipeline ${pipeline.name} cannot be reached from ${chain[0]!.name}`);
  }
  for (const stage of chain) {
    const at = `${show(stage.source.file)}${stage.source.line ? `:${stage.source.line}` : ''}`;
    if (stage.initialHold) {
      throw shape(`stage ${stage.name} of pipeline ${pipeline.name} starts held (hold: true, ${at}); the demo does not release holds`, `remove hold: true from ${stage.name} for the demo, or run it on another pipeline (--pipeline)`);
    }
    for (const gate of stage.gates) {
      if (gate.type === 'manual') {
        throw shape(`stage ${stage.name} of pipeline ${pipeline.name} has a manual gate (${at}), which only a person's promote to --force passes; the demo does not force its way in`, `run the demo on a pipeline without manual gates (--pipeline), or remove the gate for the demo`);
      }
      if (gate.type === 'soak' && gate.milliseconds > MAX_SOAK_MS) {
        throw shape(`stage ${stage.name} of pipeline ${pipeline.name} soaks for ${gate.duration} (${at}); the demo waits out every soak on the real clock, twice per stage, and waits at most a minute`, `size the soaks in seconds for the demo (soak: 1s, as promote init writes them)`);
      }
      if (gate.type === 'approval' && gate.count > 1) {
        throw shape(`stage ${stage.name} of pipeline ${pipeline.name} asks for ${gate.count} approvals (${at}); the demo has one approver key, and a person approving twice counts once`, `use approval: {count: 1} for the demo`);
      }
    }
  }
  return chain;
}
