import type { Descriptor, Registry } from '../oci/registry.ts';
import type { StatusPredicate } from '../signing/attestation.ts';
import type { Signer } from '../signing/signer.ts';
import type { AgentStatus, StatusReporter } from './reconcile.ts';

// Publishes each status as a signed report at `status-<stage>-<cluster>`, attached to the bundle
// it is about, through the engine's own writer (src/promotion/status-reports.ts), so what the
// `converged` and `soak` gates read is exactly what agents write.

export function toPredicate(s: AgentStatus, repository?: string): StatusPredicate {
  return {
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
    objects: s.objects,
    drift: s.drift.map((d) => ({ id: d.id, kind: d.kind, message: d.message })),
    ...(s.pruned.length && { pruned: s.pruned }),
  };
}

export class RegistryStatusReporter implements StatusReporter {
  private readonly registry: Registry;
  private readonly signer: Signer;
  private readonly repository: string | undefined;
  private readonly subjects = new Map<string, Descriptor>();
  private readonly owner: { stage: string; cluster: string } | undefined;

  /** `owner` lets a restarted agent read its last report back (to keep `since`). */
  constructor(registry: Registry, signer: Signer, repository?: string, owner?: { stage: string; cluster: string }) {
    this.registry = registry;
    this.signer = signer;
    this.owner = owner;
    this.repository = repository;
  }

  /**
   * Our own last report, to carry `since` over a restart. Verified with this agent's own key: the
   * next report is signed with whatever `since` is kept, so an unsigned report someone put on the
   * tag ("Converged since 2001") would otherwise be laundered into a trusted one and skip a soak.
   */
  async previous(): Promise<{ phase: string; record?: string; since: string } | undefined> {
    if (!this.owner) return undefined;
    const [{ readStatusReport }, { parseVerificationKey }] = await Promise.all([import('../promotion/status-reports.ts'), import('../signing/keys.ts')]);
    const own = { keys: [parseVerificationKey(this.signer.publicKeyPem, "this agent's key")], identities: [] };
    const seen = await readStatusReport(this.registry, this.owner.stage, this.owner.cluster, own);
    if (!seen || seen.verified !== true || !seen.since) return undefined;
    return { phase: seen.phase, since: seen.since, ...(seen.record && { record: seen.record }) };
  }

  async report(status: AgentStatus): Promise<void> {
    if (!status.bundle) return;
    let subject = this.subjects.get(status.bundle);
    if (!subject) {
      subject = await this.registry.resolve(status.bundle);
      if (!subject) return; // the bundle is gone: nothing to attach a report to
      this.subjects.set(status.bundle, subject);
    }
    const { publishStatusReport } = await import('../promotion/status-reports.ts');
    await publishStatusReport(this.registry, subject, toPredicate(status, this.repository), this.signer);
  }
}
