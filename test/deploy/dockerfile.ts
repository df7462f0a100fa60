import { existsSync } from 'node:fs';
import { join } from 'node:path';

// Enough of the Dockerfile language to check deploy/agent/Dockerfile without a container engine:
// stages, build arguments (with ${ARG} in FROM), COPY sources, USER and ENTRYPOINT.

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  args: Record<string, string>;
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      stages.push({ from: m?.[1] ?? rest, name: m?.[2], instructions: [] });
    } else if (stages.length === 0) {
      if (upper === 'ARG') {
        const [name = '', value = ''] = rest.split('=');
        args[name] = value;
      }
    } else {
      stages.at(-1)!.instructions.push({ op: upper, args: rest });
    }
  }
  return { args, stages };
}

function expand(s: string, args: Record<string, string>): string {
  return s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args[(a ?? b)!] ?? '');
}

/** The stages a build with these build arguments runs: the last one and what it depends on. */
export function stagesBuilt(df: Dockerfile, buildArgs: Record<string, string> = {}): Stage[] {
  const args = { ...df.args, ...buildArgs };
  const byName = new Map(df.stages.filter((s) => s.name).map((s) => [s.name!, s]));
  const built = new Set<Stage>();
  const visit = (stage: Stage) => {
    if (built.has(stage)) return;
    built.add(stage);
    const base = byName.get(expand(stage.from, args));
    if (base) visit(base);
    for (const i of stage.instructions) {
      const from = /--from=(\S+)/.exec(i.args)?.[1];
      const dep = from && byName.get(expand(from, args));
      if (dep) visit(dep);
    }
  };
  visit(df.stages.at(-1)!);
  return df.stages.filter((s) => built.has(s));
}

/** The context paths that the COPY/ADD instructions of these stages read (not --from copies). */
export function contextSources(stages: Stage[]): string[] {
  const sources: string[] = [];
  for (const s of stages) {
    for (const i of s.instructions) {
      if ((i.op !== 'COPY' && i.op !== 'ADD') || /--from=/.test(i.args)) continue;
      const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      sources.push(...words.slice(0, -1));
    }
  }
  return sources;
}

export function missingSources(stages: Stage[], context: string): string[] {
  return contextSources(stages).filter((src) => !existsSync(join(context, src)));
}

/** The last value an instruction has in the final image (USER, ENTRYPOINT, …), following base stages. */
export function finalInstruction(df: Dockerfile, op: string, buildArgs: Record<string, string> = {}): string | undefined {
  const args = { ...df.args, ...buildArgs };
  const byName = new Map(df.stages.filter((s) => s.name).map((s) => [s.name!, s]));
  for (let stage: Stage | undefined = df.stages.at(-1); stage; stage = byName.get(expand(stage.from, args))) {
    const found = stage.instructions.filter((i) => i.op === op).at(-1);
    if (found) return found.args;
  }
  return undefined;
}
