import { isPromoteError, PromoteError } from '../errors.ts';
import type { ObjectSummary, ReportedRenderer, StatusPhase } from '../records/status-report.ts';
import type { DesiredState, DriftedObject, Observation, ObjectResult, Owner, Target } from './target.ts';
import { cannotRender, reasonFromCode, sameStatus, summarise, verdictOf } from './round-verdict.ts';

// One reconcile round: observe → verify → render → apply → health → report (DESIGN.md §4
// "Agent status"); the order of the target's calls is the contract written on `Target`
// (target.ts). Verification and rendering sit behind DesiredSource and the report behind
// StatusReporter, so the round is tested with plain data and wired to the registry, signing
// and the renderer in registry-source.ts. Nothing that did not verify is ever applied: a
// refusal or failure keeps the last good state in the target and says why.
//
// Size: the interfaces of the round's seams (source, reporter, status) and the one state machine
// that decides, per round, which target calls run and what `since` is about; split, the
// decisions that share `current`, `previous` and the last status would be spread over files.

/** The agent's phases are the status report's (records/status-report.ts). */
export type AgentPhase = StatusPhase;
export type { ObjectSummary };

/** Where desired state comes from: the stage's promotion record, verified and rendered. */
export interface DesiredSource {
  /** Digest of the record the stage's tag points at now (one HEAD), or undefined when none. */
  resolve(): Promise<string | undefined>;
  /**
   * Verifies the record (signature, pipeline, stage, cluster, subject) and its bundle, validates
   * the parameters and renders — or, when the record's rollout keeps this cluster on an older
   * record, that record (DesiredState.tagRecord), or says there is nothing to run yet.
   * Throws a PromoteError; outcome `verification`/`refused` → Refused;
   * RENDERER_MISSING / RENDER_TIMEOUT (with `details.bundle`, `details.renderer`) → Failed, retried.
   */
  load(recordDigest: string): Promise<DesiredState | NothingToRun>;
}

/**
 * A verified record of a rollout in waves whose wave for this cluster is not released yet, and
 * which keeps nothing older running here (a first promotion of the stage, a cluster new to its
 * environment): the agent applies nothing and waits for the record that releases the wave.
 */
export interface NothingToRun {
  nothingToRun: true;
  /** The record on the stage's tag. */
  tagRecord: string;
  /** This cluster's wave, the waves the record releases (1..released), and how many there are. */
  wave: number;
  released: number;
  waves: number;
}

export interface AgentStatus {
  pipeline: string;
  stage: string;
  cluster: string;
  target: string;
  phase: AgentPhase;
  /** The promotion record acted on (the one refused, for Refused). */
  record?: string;
  bundle?: string;
  /** The record whose state the target holds now (last successful apply). */
  appliedRecord?: string;
  /** DesiredState.parameters of the state reported on: which parameters the bundle ran with. */
  parameters?: string;
  observedAt: string;
  /**
   * When this phase began for this desired state (the bundle and this cluster's parameters; for
   * a record not applied, that record): a wave release that changes neither keeps it.
   */
  since: string;
  /** PascalCase reason, e.g. `Applied`, `HealthTimeout`, `KindNotServed`, `SignatureInvalid`. */
  reason: string;
  message: string;
  objects: ObjectSummary;
  drift: DriftedObject[];
  /** Objects removed this round because the bundle no longer has them. */
  pruned: string[];
  /** What rendered the bundle reported on (or failed to: then its kind only). */
  renderer?: ReportedRenderer;
}

export interface StatusReporter {
  report(status: AgentStatus): Promise<void>;
  /**
   * The last report this cluster published, if the reporter can read it back: a restarted agent
   * keeps its `since` (soak gates measure from it) when the phase and the record (or the bundle)
   * are unchanged and its first round found the target already holding that state.
   */
  previous?(): Promise<PreviousReport | undefined>;
}

export interface PreviousReport {
  phase: string;
  record?: string;
  bundle?: string;
  since: string;
}

export interface ReconcilerOptions {
  owner: Owner;
  source: DesiredSource;
  target: Target;
  reporter?: StatusReporter;
  /** Correct drift (default true); when false, drift is reported as Drifted and left alone. */
  selfHeal?: boolean;
  /** Take ownership of conflicting fields on every apply (Kubernetes; default false). */
  force?: boolean;
  healthTimeoutMs?: number;
  healthPollMs?: number;
  /** Re-publish an unchanged status at least this often (default 10 min), for freshness. */
  reportEveryMs?: number;
  now?: () => Date;
  signal?: AbortSignal;
}

export interface RoundResult {
  status: AgentStatus;
  /** A new record was verified and applied, refused, or found to be the state the target holds this round. */
  changed: boolean;
  /** Target writes (files or mutating API requests). */
  writes: number;
  driftCorrected: number;
  reported: boolean;
  /** The round failed in a way worth retrying sooner or with backoff. */
  error?: PromoteError;
}

export class Reconciler {
  private readonly o: ReconcilerOptions;
  /** The desired state last applied successfully (or attempted, with its failures). */
  private current: DesiredState | undefined;
  /** Did the last apply of `current` fail (partial)? Then the next round applies it in full again. */
  private currentFailed = false;
  private refused: { record: string; error: PromoteError } | undefined;
  /** The tag's record keeps nothing running on this cluster: wait for its wave. */
  private waiting: NothingToRun | undefined;
  private last: AgentStatus | undefined;
  /** What each status's `since` is about (sinceKey): a status with the same phase and key keeps it. */
  private readonly sinceKeys = new WeakMap<AgentStatus, string>();
  /** The last status actually published (a failed publish is retried). */
  private lastReported: AgentStatus | undefined;
  private lastReportAt = 0;
  /** When the current desired state was last applied: health waits are measured from it. */
  private appliedAt = 0;
  /**
   * A restarted agent's last published report (null: not read yet). Dropped when the first round
   * has to create or change objects: the target did not hold the state (a rebuilt cluster, a
   * wiped directory), so its `since` does not carry over.
   */
  private previous: PreviousReport | undefined | null = null;

  constructor(options: ReconcilerOptions) {
    this.o = options;
  }

  /** The last status this reconciler produced. */
  get status(): AgentStatus | undefined {
    return this.last;
  }

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  /** `state`: the desired state the status is about, when it is one applied or held (not a record refused). */
  private status_(fields: Omit<AgentStatus, 'pipeline' | 'stage' | 'cluster' | 'target' | 'observedAt' | 'since' | 'appliedRecord'>, state?: DesiredState): AgentStatus {
    const now = this.now().toISOString();
    const key = sinceKey(fields.record, state);
    let before: { since: string } | undefined;
    if (this.last) {
      if (this.last.phase === fields.phase && this.sinceKeys.get(this.last) === key) before = this.last;
    } else if (this.previous && this.previous.phase === fields.phase) {
      // Across a restart only the record or the bundle can be compared; that the objects are
      // unchanged (else `previous` is gone, see applyAll) stands for the parameters.
      if (this.previous.record === fields.record || (state !== undefined && this.previous.bundle === state.bundleDigest)) before = this.previous;
    }
    const status: AgentStatus = {
      pipeline: this.o.owner.pipeline,
      stage: this.o.owner.stage,
      cluster: this.o.owner.cluster,
      target: this.o.target.name,
      ...fields,
      ...(state?.parameters !== undefined && { parameters: state.parameters }),
      ...(this.current && !this.currentFailed ? { appliedRecord: this.current.recordDigest } : this.last?.appliedRecord ? { appliedRecord: this.last.appliedRecord } : {}),
      observedAt: now,
      since: before?.since ?? now,
    };
    this.sinceKeys.set(status, key);
    return status;
  }

  async round(): Promise<RoundResult> {
    if (this.previous === null) {
      this.previous = await this.o.reporter?.previous?.().catch(() => undefined);
    }
    let result: Omit<RoundResult, 'reported'>;
    try {
      result = await this.roundInner();
    } catch (err) {
      const e = isPromoteError(err) ? err : new PromoteError('AGENT_ROUND_FAILED', `reconcile failed: ${(err as Error).message}`, { cause: err });
      const status = this.status_({
        phase: 'Failed',
        ...(this.current && { record: this.current.recordDigest, bundle: this.current.bundleDigest, ...(this.current.renderer && { renderer: this.current.renderer }) }),
        reason: 'ReconcileError',
        message: e.message,
        objects: summarise([]),
        drift: [],
        pruned: [],
      });
      result = { status, changed: false, writes: 0, driftCorrected: 0, error: e };
    }
    let reported = false;
    try {
      reported = await this.report(result.status);
    } catch (err) {
      // The target is converged either way; the report is retried next round (sameStatus
      // compares with what was last *published*, which did not change).
      const e = isPromoteError(err) ? err : new PromoteError('STATUS_REPORT_FAILED', (err as Error).message, { cause: err });
      result = { ...result, error: new PromoteError(e.code, `publishing the status report failed: ${e.message}`, { cause: e, hint: 'check push access to the status-<stage>-<cluster> tag; the agent retries' }) };
    }
    this.last = result.status;
    return { ...result, reported };
  }

  private async report(status: AgentStatus): Promise<boolean> {
    if (!this.o.reporter) return false;
    // Status reports are about a bundle (their OCI subject): none before the first record.
    if (!status.bundle) return false;
    const due = Date.now() - this.lastReportAt >= (this.o.reportEveryMs ?? 600_000);
    if (sameStatus(this.lastReported, status) && !due) return false;
    await this.o.reporter.report(status);
    this.lastReported = status;
    this.lastReportAt = Date.now();
    return true;
  }

  private async roundInner(): Promise<Omit<RoundResult, 'reported'>> {
    const record = await this.o.source.resolve();
    if (record === undefined) {
      const status = this.status_({ phase: 'Progressing', reason: 'NoPromotion', message: `stage ${this.o.owner.stage} has no promotion record yet`, objects: summarise([]), drift: [], pruned: [] });
      return { status, changed: false, writes: 0, driftCorrected: 0 };
    }
    if (this.refused?.record === record) {
      // Same refused record: nothing new to verify; keep saying why.
      return { status: this.notApplied(record, this.refused.error, 'Refused'), changed: false, writes: 0, driftCorrected: 0 };
    }
    if (this.waiting?.tagRecord === record) return { status: this.waitingStatus(this.waiting), changed: false, writes: 0, driftCorrected: 0 };
    // "Unchanged" is decided on the tag's record: one HEAD per idle round.
    const onTag = this.current && tagRecordOf(this.current) === record;
    if (onTag && !this.currentFailed) return await this.steady(this.current!);

    let desired: DesiredState;
    if (onTag) {
      desired = this.current!; // retry a failed apply of an already verified record
    } else {
      let loaded: DesiredState | NothingToRun;
      try {
        loaded = await this.o.source.load(record);
      } catch (err) {
        const e = isPromoteError(err) ? err : new PromoteError('AGENT_LOAD_FAILED', (err as Error).message, { cause: err });
        if (e.outcome === 'verification' || e.outcome === 'refused' || e.outcome === 'usage') {
          this.refused = { record, error: e };
          return { status: this.notApplied(record, e, 'Refused'), changed: true, writes: 0, driftCorrected: 0 };
        }
        if (cannotRender(e)) return { status: this.notApplied(record, e, 'Failed'), changed: false, writes: 0, driftCorrected: 0, error: e };
        throw e; // transient (registry down): Failed, retried with backoff
      }
      this.refused = undefined;
      if ('nothingToRun' in loaded) {
        // Apply nothing and keep whatever the target holds, until the wave is released.
        this.waiting = loaded;
        return { status: this.waitingStatus(loaded), changed: true, writes: 0, driftCorrected: 0 };
      }
      desired = loaded;
    }
    this.refused = undefined;
    this.waiting = undefined;
    if (this.current && !this.currentFailed && sameState(this.current, desired)) {
      // A new record on the tag for the state the target holds (a wave release for a cluster
      // already released, a kept record unchanged): nothing to apply; `since` goes on.
      this.current = desired;
      return { ...(await this.steady(desired)), changed: true };
    }
    if (!this.current) {
      // A restarted agent: when the target already holds this record (its inventory says so),
      // this is a steady round — drift is reported or corrected, not silently overwritten.
      const seen = await this.o.target.observe(desired);
      if (seen.appliedRecordDigest === desired.recordDigest) {
        this.current = desired;
        this.currentFailed = false;
        return await this.steady(desired, seen);
      }
    }
    return await this.applyAll(desired, [], true);
  }

  private waitingStatus(w: NothingToRun): AgentStatus {
    const { stage, cluster } = this.o.owner;
    return this.status_({
      phase: 'Progressing',
      record: w.tagRecord,
      reason: 'WaitingForWave',
      message: `${cluster} is in wave ${w.wave} of ${w.waves} of ${stage}'s rollout, not released yet (the record on the tag releases wave${w.released === 1 ? ' 1' : `s 1-${w.released}`}); nothing of the stage runs here until wave ${w.wave} is released`,
      objects: summarise([]),
      drift: [],
      pruned: [],
    });
  }

  /** A record that was not applied: Refused (did not verify), or Failed (cannot render here; retried). */
  private notApplied(record: string, e: PromoteError, phase: 'Refused' | 'Failed'): AgentStatus {
    const bundle = typeof e.details?.bundle === 'string' ? e.details.bundle : this.current?.bundleDigest;
    const kind = typeof e.details?.renderer === 'string' ? e.details.renderer : undefined;
    return this.status_({
      phase,
      record,
      ...(bundle && { bundle }),
      ...(kind && { renderer: { kind } }),
      reason: reasonFromCode(e.code),
      message: `nothing applied${phase === 'Failed' ? ', retried next round' : ''}: ${e.message}${e.hint ? ` (${e.hint})` : ''}`,
      objects: summarise([]),
      drift: [],
      pruned: [],
    });
  }

  /** The record has not changed: look for drift, correct it unless told not to, check health. */
  private async steady(desired: DesiredState, observed?: Observation): Promise<Omit<RoundResult, 'reported'>> {
    // Best effort: leftovers of a writer killed mid-apply must not wait for the next change.
    await this.o.target.sweep?.(desired).catch(() => undefined);
    const seen = observed ?? (await this.o.target.observe(desired));
    if (seen.drift.length > 0) {
      if (this.o.selfHeal === false) {
        const health = await this.o.target.health(desired, seen.set, this.healthOptions(0));
        const status = this.status_({
          phase: 'Drifted',
          record: desired.recordDigest,
          bundle: desired.bundleDigest,
          reason: 'DriftDetected',
          message: `${seen.drift.length} object${seen.drift.length === 1 ? ' differs' : 's differ'} from the bundle (self-heal is off): ${seen.drift.slice(0, 3).map((d) => d.message).join('; ')}`,
          objects: summarise(health.objects),
          drift: seen.drift,
          pruned: [],
          ...(desired.renderer && { renderer: desired.renderer }),
        }, desired);
        return { status, changed: false, writes: 0, driftCorrected: 0 };
      }
      return await this.applyAll(desired, seen.drift, false);
    }
    // Waiting for health happens once, after an apply; a steady round only finishes that wait.
    const total = this.o.healthTimeoutMs ?? 60_000;
    const left = Math.max(0, this.appliedAt + total - Date.now());
    const health = await this.o.target.health(desired, seen.set, this.healthOptions(left));
    return { status: this.verdict(desired, [], health.objects, health.healthy, [], []), changed: false, writes: 0, driftCorrected: 0 };
  }

  private healthOptions(timeoutMs = this.o.healthTimeoutMs ?? 60_000) {
    return { timeoutMs, totalMs: this.o.healthTimeoutMs ?? 60_000, pollMs: this.o.healthPollMs ?? 1000, ...(this.o.signal && { signal: this.o.signal }) };
  }

  private async applyAll(desired: DesiredState, drift: DriftedObject[], changed: boolean): Promise<Omit<RoundResult, 'reported'>> {
    this.appliedAt = Date.now();
    const applied = await this.o.target.apply(desired, { ...(this.o.force && { force: true }), ...(drift.length && { restore: drift.map((d) => d.id) }) });
    const failed = applied.objects.filter((r) => r.action === 'failed');
    if (this.last === undefined && applied.objects.some((r) => r.action !== 'unchanged')) this.previous = undefined;
    this.current = desired;
    this.currentFailed = failed.length > 0;
    let writes = applied.writes;
    let pruned: string[] = [];
    let kept: ObjectResult[] = [];
    // Prune only after a complete apply: a partial one keeps what ran before.
    if (failed.length === 0) {
      const p = await this.o.target.prune(desired, applied.set);
      writes += p.writes;
      pruned = p.pruned;
      kept = p.kept;
      if (this.last === undefined && pruned.length > 0) this.previous = undefined;
    }
    const health = await this.o.target.health(desired, applied.set, this.healthOptions());
    const results = [...applied.objects, ...health.objects, ...kept];
    const status = this.verdict(desired, failed, results, health.healthy, drift, pruned);
    return { status, changed, writes, driftCorrected: drift.length };
  }

  private verdict(desired: DesiredState, failed: ObjectResult[], results: ObjectResult[], healthy: boolean, drift: DriftedObject[], pruned: string[]): AgentStatus {
    const objects = summarise(results);
    return this.status_({ ...verdictOf(failed, results, healthy, drift, objects), record: desired.recordDigest, bundle: desired.bundleDigest, objects, drift, pruned, ...(desired.renderer && { renderer: desired.renderer }) }, desired);
  }
}

function tagRecordOf(d: DesiredState): string {
  return d.tagRecord ?? d.recordDigest;
}

/** The same record run, or the same bundle with the same parameters for this cluster. */
function sameState(a: DesiredState, b: DesiredState): boolean {
  return a.recordDigest === b.recordDigest || (a.parameters !== undefined && a.bundleDigest === b.bundleDigest && a.parameters === b.parameters);
}

/** What a status's `since` is about: the desired state it holds, else the record it names. */
function sinceKey(record: string | undefined, state: DesiredState | undefined): string {
  if (state?.parameters !== undefined) return `state ${state.bundleDigest} ${state.parameters}`;
  return `record ${state?.recordDigest ?? record ?? ''}`;
}
