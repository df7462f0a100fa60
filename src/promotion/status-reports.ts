import { PromoteError } from '../errors.ts';
import { STATUS_REPORT } from '../oci/media-types.ts';
import { checkTag } from '../oci/reference.ts';
import type { Descriptor, Registry } from '../oci/registry.ts';
import type { StatusObservation } from '../pipeline/gate.ts';
import { readAttachedBundle, signAndAttach, statement, STATUS_PREDICATE_TYPE, type AttachedStatement, type StatusPredicate } from '../signing/attestation.ts';
import type { TrustPolicy } from '../signing/policy.ts';
import { signerMaySpeakFor, verifyStatusReport } from '../signing/policy.ts';
import type { ReportMarks } from './report-marks.ts';
import type { Signer } from '../signing/signer.ts';

// Status reports: what an agent observed in one cluster, stored in the bundle's repository as a
// signed in-toto statement (predicate `…/status/v1`, subject = the bundle it runs) at tag
// `status-<stage>-<cluster>`. Agents write them with publishStatusReport; the engine's
// `converged` and `soak` gates read them with readStatusReports. One code path for both, so
// tests write reports exactly as agents do.

export function statusTag(stage: string, cluster: string): string {
  return checkTag(`status-${stage}-${cluster}`);
}

export interface PublishStatusOptions {
  now?: Date;
}

/** Signs `report` and stores it at `status-<stage>-<cluster>`, attached to the bundle it is about. */
export async function publishStatusReport(registry: Registry, bundle: Descriptor, report: StatusPredicate, signer: Signer, options: PublishStatusOptions = {}): Promise<AttachedStatement> {
  if (report.bundle.digest !== bundle.digest) {
    throw new PromoteError('STATUS_REPORT_INVALID', `a status report about ${report.bundle.digest} cannot be attached to ${bundle.digest}`, { hint: 'attach the report to the bundle the cluster runs' });
  }
  const stmt = statement({ name: report.bundle.repository ?? registry.name, digest: bundle.digest }, STATUS_PREDICATE_TYPE, report);
  return signAndAttach(registry, bundle, stmt, signer, { artifactType: STATUS_REPORT, tag: statusTag(report.stage, report.cluster), ...(options.now && { now: options.now }) });
}

function observation(cluster: string, p: StatusPredicate, verified: boolean | undefined, record?: string): StatusObservation {
  return {
    cluster,
    phase: p.phase,
    bundle: p.bundle?.digest ?? '',
    since: p.since,
    observedAt: p.observedAt,
    ...(p.reason !== undefined && { reason: p.reason }),
    ...((p.record ?? record) !== undefined && { record: p.record ?? record }),
    ...(verified !== undefined && { verified }),
    ...(typeof p.sequence === 'number' && { sequence: p.sequence }),
  };
}

function refused(cluster: string, p: StatusPredicate | undefined, reason: string): StatusObservation {
  return { cluster, phase: 'Refused', bundle: p?.bundle?.digest ?? '', since: '', observedAt: p?.observedAt ?? '', reason, verified: false };
}

export interface ReadStatusOptions {
  /** The newest report seen per cluster: one numbered lower is refused, a higher one raises the mark. */
  marks?: ReportMarks;
}

function decodeUnverified(bundle: unknown): StatusPredicate | undefined {
  const payload = (bundle as { dsseEnvelope?: { payload?: string } })?.dsseEnvelope?.payload;
  if (typeof payload !== 'string') return undefined;
  try {
    const stmt = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { predicateType?: string; predicate?: StatusPredicate };
    return stmt.predicateType === STATUS_PREDICATE_TYPE ? stmt.predicate : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The latest report of one cluster, or undefined when it never reported. With a policy, a report
 * whose signature does not verify is returned with `verified: false` (gates refuse it, and the
 * evidence says why); without one, reports are read unverified.
 */
export async function readStatusReport(registry: Registry, stage: string, cluster: string, policy?: TrustPolicy, pipeline?: string, options: ReadStatusOptions = {}): Promise<StatusObservation | undefined> {
  const tag = statusTag(stage, cluster);
  if (policy && (policy.keys.length || policy.identities.length)) {
    try {
      const v = await verifyStatusReport(registry, tag, policy);
      const p = v.statement.predicate;
      if (p.cluster !== cluster || p.stage !== stage) return refused(cluster, p, `the report at ${tag} is about ${p.stage}/${p.cluster}`);
      // One agent key often serves several pipelines: a report copied from another pipeline's
      // repository (same stage and cluster names, same bundle) must not pass this one's gates.
      if (pipeline !== undefined && p.pipeline !== pipeline) return refused(cluster, p, `the report at ${tag} is about pipeline ${JSON.stringify(p.pipeline ?? null)}, not ${pipeline}`);
      // A trusted agent key speaks only for the clusters and stages trust.agents binds it to.
      const may = signerMaySpeakFor(policy, v.signedBy, { stage, cluster });
      if (!may.ok) return refused(cluster, p, `the report at ${tag} is ${may.reason}`);
      // The signed statement is about its OCI subject; the bundle the predicate names must be it.
      if (p.bundle?.digest !== v.subject?.digest) return refused(cluster, p, `the report at ${tag} says it runs ${p.bundle?.digest ?? 'nothing'} but is signed about ${v.subject?.digest ?? 'nothing'}`);
      if (options.marks) {
        const sequence = typeof p.sequence === 'number' && Number.isSafeInteger(p.sequence) ? p.sequence : 0;
        const seen = await options.marks.see({ repository: registry.name, pipeline: pipeline ?? p.pipeline ?? '', stage, cluster }, sequence);
        if (sequence < seen) return refused(cluster, p, `the report at ${tag} is number ${sequence}, older than number ${seen} already seen from ${cluster}: an old report was put back on the tag`);
      }
      return observation(cluster, p, true);
    } catch (err) {
      if (err instanceof PromoteError && err.code === 'RECORD_NOT_FOUND') return undefined;
      if (err instanceof PromoteError && err.outcome === 'verification') {
        return { cluster, phase: 'Unverified', bundle: '', since: '', observedAt: '', reason: `status report not trusted: ${err.message}`, verified: false };
      }
      throw err;
    }
  }
  try {
    const attached = await readAttachedBundle(registry, tag);
    const p = decodeUnverified(attached.bundle);
    if (!p) return { cluster, phase: 'Unreadable', bundle: '', since: '', observedAt: '', reason: `${tag} is not a status report`, verified: false };
    return observation(cluster, p, undefined);
  } catch (err) {
    if (err instanceof PromoteError && err.code === 'RECORD_NOT_FOUND') return undefined;
    throw err;
  }
}

export async function readStatusReports(registry: Registry, stage: string, clusters: string[], policy?: TrustPolicy, pipeline?: string, options: ReadStatusOptions = {}): Promise<StatusObservation[]> {
  const out = await Promise.all(clusters.map((c) => readStatusReport(registry, stage, c, policy, pipeline, options)));
  return out.filter((o): o is StatusObservation => o !== undefined);
}
