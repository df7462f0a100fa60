import { isPromoteError } from '../errors.ts';
import type { Descriptor, Registry } from '../oci/registry.ts';
import type { StatusPredicate } from '../records/status-report.ts';
import type { Signer } from '../signing/signer.ts';
import type { AgentStatus, PreviousReport, StatusReporter } from './reconcile.ts';
import type { ReplayState } from './replay-state.ts';

// Publishes each status as a signed report at `status-<stage>-<cluster>`, attached to the bundle
// it is about, through the one writer of the format (src/records/status-report.ts), so what the
// `converged` and `soak` gates read is exactly what agents write.

export function toPredicate(s: AgentStatus, repository?: string, numbers: { sequence?: number; recordSequence?: number } = {}): StatusPredicate {
  return {
    ...numbers,
    pipeline: s.pipeline,
    stage: s.stage,
    cluster: s.cluster,
    phase: s.phase,
    ...(s.record && { record: s.record }),
    bundle: { ...(repository && { repository }), digest: s.bundle ?? '' },
    observedAt: s.observedAt,
    since: s.since,
    reason: s.reason,
    message: s.message,
    target: s.target,
    ...(s.appliedRecord && { appliedRecord: s.appliedRecord }),
    ...(s.parameters && { parameters: s.parameters }),
    ...(s.renderer && { renderer: { kind: s.renderer.kind, ...(s.renderer.version !== undefined && { version: s.renderer.version }) } }),
    objects: s.objects,
    drift: s.drift.map((d) => ({ id: d.id, kind: d.kind, message: d.message })),
    ...(s.pruned.length && { pruned: s.pruned }),
  };
}

/** What this agent's own last report (verified with its own key) says. */
export interface OwnReport {
  phase: string;
  record?: string;
  bundle?: string;
  since: string;
  sequence: number;
  recordSequence: number;
}

export class RegistryStatusReporter implements StatusReporter {
  private readonly registry: Registry;
  private readonly signer: Signer;
  private readonly repository: string | undefined;
  private readonly subjects: Map<string, Descriptor>;
  private readonly owner: { pipeline: string; stage: string; cluster: string } | undefined;
  private readonly state: ReplayState | undefined;
  private own: Promise<OwnReport | undefined> | undefined;
  private sequence: number | undefined;

  /**
   * `owner` lets a restarted agent read its last report back; `state` numbers its reports and
   * bounds what it takes from that report (agent.ts passes the one the record source uses).
   * `subjects`: bundle descriptors by digest the record source already read (else one HEAD each).
   */
  constructor(registry: Registry, signer: Signer, repository?: string, owner?: { pipeline: string; stage: string; cluster: string }, state?: ReplayState, subjects = new Map<string, Descriptor>()) {
    this.subjects = subjects;
    this.registry = registry;
    this.signer = signer;
    this.owner = owner;
    this.repository = repository;
    this.state = state;
  }

  /**
   * The report on our status tag, if it is ours: verified with this agent's own key and about this
   * pipeline, stage and cluster. Read once. It may be an older report of ours put back on the
   * tag: good as a floor (record sequence, report number), never as the newest.
   */
  ownLast(): Promise<OwnReport | undefined> {
    this.own ??= (async () => {
      if (!this.owner) return undefined;
      const { pipeline, stage, cluster } = this.owner;
      const [{ statusTag, verifyStatusReport }, { parseVerificationKey }] = await Promise.all([import('../records/status-report.ts'), import('../signing/keys.ts')]);
      const own = { keys: [parseVerificationKey(this.signer.publicKeyPem, "this agent's key")], identities: [] };
      let p: StatusPredicate;
      try {
        p = (await verifyStatusReport(this.registry, statusTag(stage, cluster), own)).statement.predicate;
      } catch (err) {
        // Nothing there, or not ours: no floor. A registry that cannot be reached fails the round.
        if (isPromoteError(err) && (err.code === 'RECORD_NOT_FOUND' || err.outcome === 'verification')) return undefined;
        throw err;
      }
      if (p.pipeline !== pipeline || p.stage !== stage || p.cluster !== cluster) return undefined;
      return { phase: p.phase, since: p.since, ...(p.record && { record: p.record }), ...(p.bundle.digest && { bundle: p.bundle.digest }), sequence: p.sequence ?? 0, recordSequence: p.recordSequence ?? 0 };
    })();
    return this.own;
  }

  /**
   * Our own last report, to carry `since` over a restart — only when it is the last report this
   * agent's local state says it published. Verified with this agent's own key: the next report is
   * signed with whatever `since` is kept, so a report someone put on the tag ("Converged since
   * 2001", or our own older "Converged" from before a flap) would otherwise be laundered into a
   * fresh one and skip a soak. No local state (the cache was lost): the clock starts again.
   */
  async previous(): Promise<PreviousReport | undefined> {
    const own = await this.ownLast();
    const published = (await this.state?.lastReport()) ?? 0;
    if (!own || !own.since || published === 0 || own.sequence !== published) return undefined;
    return { phase: own.phase, since: own.since, ...(own.record && { record: own.record }), ...(own.bundle && { bundle: own.bundle }) };
  }

  async report(status: AgentStatus): Promise<void> {
    if (!status.bundle) return;
    let subject = this.subjects.get(status.bundle);
    if (!subject) {
      subject = await this.registry.resolve(status.bundle);
      if (!subject) return; // the bundle is gone: nothing to attach a report to
      this.subjects.set(status.bundle, subject);
    }
    const numbers: { sequence?: number; recordSequence?: number } = {};
    if (this.state) {
      // Count up from the higher of our local state and our own report on the tag, and remember
      // the number before publishing: a number is never used twice, even across a crash.
      this.sequence ??= Math.max(await this.state.lastReport(), (await this.ownLast())?.sequence ?? 0);
      this.sequence += 1;
      await this.state.rememberReport(this.sequence);
      numbers.sequence = this.sequence;
      numbers.recordSequence = await this.state.highest();
    }
    const { publishStatusReport } = await import('../records/status-report.ts');
    await publishStatusReport(this.registry, subject, toPredicate(status, this.repository, numbers), this.signer);
  }
}
