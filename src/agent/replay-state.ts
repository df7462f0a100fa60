import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PromoteError } from '../errors.ts';
import type { Owner } from './target.ts';
import { writeFileAtomic } from '../write-file-atomic.ts';

// An agent's replay state: the highest record sequence it accepted for one (repository,
// pipeline, stage, cluster) — TUF's rule that a version never goes back — and the number of the
// last status report it published (reports count up too; docs/agent.md). Keyed by all four, so
// two projects that both call their stage "dev" and their cluster "dev-1" cannot raise (or
// lower) each other's mark when they share a cache root.
//
// Before this file, the mark was `<bundle cache>/sequence-<pipeline>-<stage>-<cluster>`, without
// the repository. An agent upgraded in place reads such a file once, as a floor, when it has no
// state of its own yet, and writes its own straight away: the mark survives the upgrade, and a
// colliding legacy file stops mattering after that first read. The legacy file is left in place
// (another project's agent may still need to migrate from it).

interface StateFile {
  apiVersion: 'promote/v1';
  kind: 'AgentReplayState';
  repository: string;
  pipeline: string;
  stage: string;
  cluster: string;
  sequence: number;
  /** The number of the last status report this agent published (absent before its first). */
  report?: number;
}

export interface ReplayStateOptions {
  /** Where state files live (`<cache root>/agent`). */
  dir: string;
  /** The registry's name (`host/repository` or `oci:<absolute path>`). */
  repository: string;
  owner: Owner;
  /** Directories that may hold a pre-upgrade `sequence-…` file, read as a floor. */
  legacyDirs?: string[];
  /**
   * When there is no state file (the cache was lost): the record sequence the agent's own last
   * signed report says it had accepted, read as a floor. Whoever can move tags cannot raise or
   * invent it without the agent's key.
   */
  recover?: () => Promise<number>;
}

function legacyName(owner: Owner): string {
  return `sequence-${encodeURIComponent(owner.pipeline)}-${encodeURIComponent(owner.stage)}-${encodeURIComponent(owner.cluster)}`;
}

export class ReplayState {
  readonly path: string;
  private readonly o: ReplayStateOptions;

  constructor(options: ReplayStateOptions) {
    this.o = options;
    const { owner, repository } = options;
    const key = createHash('sha256').update(JSON.stringify([repository, owner.pipeline, owner.stage, owner.cluster])).digest('hex').slice(0, 32);
    // Readable prefix for whoever must find it; the hash is the key.
    this.path = join(options.dir, `replay-${encodeURIComponent(owner.stage)}-${encodeURIComponent(owner.cluster)}-${key}.json`);
  }

  /** The highest sequence accepted so far (0 when none). */
  async highest(): Promise<number> {
    return (await this.read()).sequence;
  }

  /** The number of the last status report published (0 when none, or when the state was lost). */
  async lastReport(): Promise<number> {
    return (await this.read()).report ?? 0;
  }

  async remember(sequence: number): Promise<void> {
    await this.write({ ...(await this.read()), sequence });
  }

  /** Called before a report numbered `n` is published, so a number is never used twice. */
  async rememberReport(n: number): Promise<void> {
    await this.write({ ...(await this.read()), report: n });
  }

  private async read(): Promise<{ sequence: number; report?: number }> {
    const text = await readFile(this.path, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
    if (text !== undefined) return this.parse(text);
    const floor = Math.max(await this.legacyFloor(), (await this.o.recover?.()) ?? 0);
    if (floor > 0) await this.write({ sequence: floor });
    return { sequence: floor };
  }

  private async write(fields: { sequence: number; report?: number }): Promise<void> {
    const { owner, repository } = this.o;
    const state: StateFile = { apiVersion: 'promote/v1', kind: 'AgentReplayState', repository, pipeline: owner.pipeline, stage: owner.stage, cluster: owner.cluster, sequence: fields.sequence, ...(fields.report !== undefined && { report: fields.report }) };
    // Durable (fsync before rename): a state file lost or left empty by a crash would read as
    // "nothing accepted" and let an older, validly signed record be replayed after the restart.
    await writeFileAtomic(this.path, Buffer.from(`${JSON.stringify(state, null, 2)}\n`));
  }

  private parse(text: string): { sequence: number; report?: number } {
    const { owner, repository } = this.o;
    let state: Partial<StateFile> | undefined;
    try {
      state = JSON.parse(text) as Partial<StateFile>;
    } catch {
      state = undefined;
    }
    const ok = state?.kind === 'AgentReplayState' && state.repository === repository && state.pipeline === owner.pipeline && state.stage === owner.stage && state.cluster === owner.cluster && Number.isSafeInteger(state.sequence) && state.sequence! >= 0 &&
      (state.report === undefined || (Number.isSafeInteger(state.report) && state.report >= 0));
    if (!ok) {
      // Reading garbage as 0 would silently re-open the door to replays: refuse instead.
      throw new PromoteError('AGENT_STATE_CORRUPT', `the agent's replay state ${this.path} is not the state of ${repository} ${owner.pipeline}/${owner.stage}/${owner.cluster}`, {
        hint: `it holds the highest promotion record number this agent accepted; restore it, or delete it only if you know the stage's current record number is the newest (the agent then accepts the tag's record as the new floor)`,
      });
    }
    return { sequence: state!.sequence!, ...(state!.report !== undefined && { report: state!.report }) };
  }

  private async legacyFloor(): Promise<number> {
    let floor = 0;
    for (const dir of new Set(this.o.legacyDirs ?? [])) {
      const text = await readFile(join(dir, legacyName(this.o.owner)), 'utf8').catch(() => undefined);
      const n = Number(text?.trim());
      if (Number.isSafeInteger(n) && n > floor) floor = n;
    }
    return floor;
  }
}
