import { PromoteError } from '../errors.ts';
import { forEachConcurrently } from '../oci/concurrency.ts';
import { STATUS_REPORT } from '../oci/media-types.ts';
import { checkTag } from '../oci/reference.ts';
import type { ContentReader, Descriptor, Registry, TagLister } from '../oci/registry.ts';
import { readAttachedBundle, signAndAttach, statement, verifyAttachedBundle, verifyAttachedStatement, type AttachedStatement, type VerifiedStatement } from '../signing/attestation.ts';
import { requireSomeTrust, signerMaySpeakFor, type TrustPolicy } from '../signing/policy.ts';
import { cachedStatement, verifiedByKey, type VerifiedReportCache } from './cached-report.ts';
import type { Signer } from '../signing/signer.ts';
import { arrayOf, count, literal, object, optional, parseFields, string, type Check } from './json-fields.ts';

// The status report, defined once: what an agent observed in one cluster, stored in the bundle's
// repository as a signed in-toto statement (predicate STATUS_PREDICATE_TYPE, subject = the bundle
// it runs) at tag `status-<stage>-<cluster>`. Agents write them with publishStatusReport; the
// engine's `converged` and `soak` gates and `promote status` read them with readStatusReport(s),
// through parseStatusPredicate. One code path for both, so tests write reports exactly as agents
// do. Field reference: docs/attestations.md.
//
// Size: the format, publishing and reading stay together (one code path for agents and gates);
// how a cached report is checked again is in cached-report.ts.

export const STATUS_PREDICATE_TYPE = 'https://promote.dev/attestation/status/v1';

/** An agent's phase for its cluster (Kubernetes-style; Flux's stalled/waiting split). */
export const STATUS_PHASES = ['Progressing', 'Converged', 'Degraded', 'Drifted', 'Failed', 'Refused'] as const;
export type StatusPhase = (typeof STATUS_PHASES)[number];

/** A compact per-object summary for the report: counts, plus every object that is not fine. */
export interface ObjectSummary {
  total: number;
  healthy: number;
  progressing: number;
  degraded: number;
  failed: number;
  /** Objects that failed, are unhealthy, drifted, were pruned or adopted (at most 50). */
  notable: { id: string; health?: string; action?: string; reason?: string; message?: string }[];
}

/**
 * What rendered the bundle a report is about: the kind, and the binary's own version when one
 * ran (helm, kustomize) — so `plan` can show a change of helm version. Never the binary's path:
 * where a tool sits on one agent's host says nothing about what it rendered, and would put host
 * layout into every signed report.
 */
export interface ReportedRenderer {
  kind: string;
  version?: string;
}

/** Predicate of STATUS_PREDICATE_TYPE. */
export interface StatusPredicate {
  pipeline?: string;
  stage: string;
  cluster: string;
  phase: StatusPhase;
  /** Digest of the promotion record manifest the agent acted on. */
  record?: string;
  bundle: { repository?: string; digest: string };
  /** RFC 3339 UTC: when this was observed, and since when the phase holds. */
  observedAt: string;
  since: string;
  /** PascalCase reason and a human message. */
  reason?: string;
  message?: string;
  /** The target kind the agent applies to (`kubernetes`, `dir`). */
  target?: string;
  /** The record whose state the target holds now (its last successful apply). */
  appliedRecord?: string;
  /**
   * valuesDigest({environment, parameters}) of the values this cluster rendered the bundle with.
   * A wave release of a configuration change (same bundle, new parameters) counts a Converged
   * report only when it names the record's parameters; absent in reports of agents before waves.
   */
  parameters?: string;
  /** What rendered (or failed to render) the bundle reported on; absent in reports of agents before renderers. */
  renderer?: ReportedRenderer;
  objects?: ObjectSummary;
  drift?: { id: string; kind: string; message: string }[];
  /** Objects removed in the round reported, because the bundle no longer has them. */
  pruned?: string[];
  /** The report's number among this cluster's reports: 1, 2, … across the agent's restarts. */
  sequence?: number;
  /** The highest promotion-record sequence the agent has accepted for its stage (its replay mark). */
  recordSequence?: number;
}

const predicate: Check<StatusPredicate> = object<StatusPredicate>({
  pipeline: optional(string),
  stage: string,
  cluster: string,
  phase: literal(...STATUS_PHASES),
  record: optional(string),
  bundle: object({ repository: optional(string), digest: string }),
  observedAt: string,
  since: string,
  reason: optional(string),
  message: optional(string),
  target: optional(string),
  appliedRecord: optional(string),
  parameters: optional(string),
  renderer: optional(object<ReportedRenderer>({ kind: string, version: optional(string) })),
  objects: optional(object<ObjectSummary>({
    total: count,
    healthy: count,
    progressing: count,
    degraded: count,
    failed: count,
    notable: arrayOf(object({ id: string, health: optional(string), action: optional(string), reason: optional(string), message: optional(string) })),
  })),
  drift: optional(arrayOf(object({ id: string, kind: string, message: string }))),
  pruned: optional(arrayOf(string)),
  sequence: optional(count),
  recordSequence: optional(count),
});

/** A status report's predicate from untrusted JSON; throws STATUS_REPORT_INVALID (exit 4) naming the field's JSON pointer. */
export function parseStatusPredicate(value: unknown, source: string): StatusPredicate {
  return parseFields(predicate, value, 'status report', source, 'STATUS_REPORT_INVALID', 'status reports are written by `promote agent`; the agent publishes a new one within its interval');
}

/**
 * What one agent last reported for one cluster of a stage, as the gates and `promote status` see
 * it. `Unverified` and `Unreadable` are never reported by an agent: they stand for a report whose
 * signature does not verify, or a tag that holds no report.
 */
export interface StatusObservation {
  cluster: string;
  phase: StatusPhase | 'Unverified' | 'Unreadable';
  /** Bundle digest the cluster runs. */
  bundle: string;
  /** Promotion record digest the agent converged on. */
  record?: string;
  /** When the cluster entered this phase on this bundle (ISO 8601). */
  since: string;
  /** When the agent made this observation (ISO 8601). */
  observedAt: string;
  reason?: string;
  /** False when the report's signature could not be verified; such a report never counts. */
  verified?: boolean;
  /** The report's number among its cluster's reports (agents count up, across restarts). */
  sequence?: number;
  /** What rendered the bundle (the report's `renderer`), when the agent said. */
  renderer?: ReportedRenderer;
  /** The parameters digest the agent rendered with (the report's `parameters`), when it said. */
  parameters?: string;
}

export function statusTag(stage: string, cluster: string): string {
  return checkTag(`status-${stage}-${cluster}`);
}

/** Verifies the status report at `reference` (tag `status-<stage>-<cluster>`): signed by a key the policy trusts, and a well-formed report. */
export async function verifyStatusReport(registry: ContentReader, reference: string, policy: TrustPolicy, expect: { bundle?: string } = {}): Promise<VerifiedStatement<StatusPredicate>> {
  requireSomeTrust(policy, 'status reports');
  const v = await verifyAttachedStatement(registry, reference, policy, {
    predicateType: STATUS_PREDICATE_TYPE,
    ...(expect.bundle !== undefined && { subjectDigest: expect.bundle }),
  });
  return { ...v, statement: { ...v.statement, predicate: parseStatusPredicate(v.statement.predicate, `${registry.name}:${reference}`) } };
}

export interface PublishStatusOptions {
  now?: Date;
}

/**
 * Signs `report` and stores it at `status-<stage>-<cluster>`, attached to the bundle it is about.
 * Reports are read by that tag only, so they stay out of the bundle's tag-schema referrers index:
 * every agent of a fleet reports about the same bundle, again every interval (see referrersIndex).
 */
export async function publishStatusReport(registry: Registry, bundle: Descriptor, report: StatusPredicate, signer: Signer, options: PublishStatusOptions = {}): Promise<AttachedStatement> {
  if (report.bundle.digest !== bundle.digest) {
    throw new PromoteError('STATUS_REPORT_INVALID', `a status report about ${report.bundle.digest} cannot be attached to ${bundle.digest}`, { hint: 'attach the report to the bundle the cluster runs' });
  }
  const stmt = statement({ name: report.bundle.repository ?? registry.name, digest: bundle.digest }, STATUS_PREDICATE_TYPE, report);
  return signAndAttach(registry, bundle, stmt, signer, { artifactType: STATUS_REPORT, tag: statusTag(report.stage, report.cluster), referrersIndex: false, ...(options.now && { now: options.now }) });
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
    ...(p.renderer && { renderer: p.renderer }),
    ...(p.parameters !== undefined && { parameters: p.parameters }),
  };
}

function refused(cluster: string, p: StatusPredicate | undefined, reason: string): StatusObservation {
  return { cluster, phase: 'Refused', bundle: p?.bundle?.digest ?? '', since: '', observedAt: p?.observedAt ?? '', reason, verified: false };
}

/** Whose reports a report number counts among. */
export interface ReportKey {
  /** The registry's name (`host/repository` or `oci:<path>`). */
  repository: string;
  pipeline: string;
  stage: string;
  cluster: string;
}

/** The newest report number seen per cluster (promotion/report-marks.ts keeps them on disk). */
export interface ReportOrder {
  /** Raises the mark to `sequence` if it is higher; returns the highest seen before. */
  see(key: ReportKey, sequence: number): Promise<number>;
}

export interface ReadStatusOptions {
  /** The newest report seen per cluster: one numbered lower is refused, a higher one raises the mark. */
  marks?: ReportOrder;
  /** Verified reports to reuse when the tag still names them (only with a policy). */
  cache?: VerifiedReportCache;
}

/** Reports read at once: the HTTP agent's sockets per registry (oci/http/transport.ts). */
export const REPORT_CONCURRENCY = 16;
/**
 * From this many clusters on, one tag listing tells which have a report at all, so a cluster
 * that never reported costs nothing instead of a 404. Below, the listing (every tag of the
 * repository) costs more than it saves.
 */
export const LIST_TAGS_FROM = 32;

function decodeUnverified(bundle: unknown, source: string): StatusPredicate | undefined {
  const payload = (bundle as { dsseEnvelope?: { payload?: string } })?.dsseEnvelope?.payload;
  if (typeof payload !== 'string') return undefined;
  try {
    const stmt = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { predicateType?: string; predicate?: unknown };
    return stmt.predicateType === STATUS_PREDICATE_TYPE ? parseStatusPredicate(stmt.predicate, source) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * verifyStatusReport through the cache: a HEAD of the tag, and the cached report when the
 * digest is the one cached; else the report read and verified in full (and cached).
 */
async function verifyThroughCache(registry: ContentReader, tag: string, policy: TrustPolicy, key: ReportKey, cache: VerifiedReportCache | undefined, verifiedBy: () => string): Promise<VerifiedStatement<StatusPredicate>> {
  const source = `${registry.name}:${tag}`;
  if (cache && registry.headTag) {
    const hit = await cache.get(key, verifiedBy());
    if (hit) {
      const head = await registry.headTag(tag);
      if (!head) throw new PromoteError('RECORD_NOT_FOUND', `${registry.name} has no ${tag}`, { hint: 'the agent has not reported yet', details: { reference: tag } });
      const cached = head.digest !== undefined ? cachedStatement(hit, head.digest, STATUS_PREDICATE_TYPE, parseStatusPredicate, source) : undefined;
      if (cached) return cached;
    }
  }
  requireSomeTrust(policy, 'status reports');
  const attached = await readAttachedBundle(registry, tag);
  const v = verifyAttachedBundle<StatusPredicate>(attached, source, policy, { predicateType: STATUS_PREDICATE_TYPE });
  const verified = { ...v, statement: { ...v.statement, predicate: parseStatusPredicate(v.statement.predicate, source) } };
  // A cache that cannot be written (a full disk) costs the next read a fetch, not this one its result.
  await cache?.put(key, verifiedBy(), { digest: attached.descriptor.digest, manifestBytes: attached.manifestBytes, bundleBytes: attached.bundleBytes, signedBy: v.signedBy }).catch(() => undefined);
  return verified;
}

/**
 * The latest report of one cluster, or undefined when it never reported. With a policy, a report
 * whose signature does not verify is returned with `verified: false` (gates refuse it, and the
 * evidence says why); without one, reports are read unverified.
 */
export async function readStatusReport(registry: ContentReader, stage: string, cluster: string, policy?: TrustPolicy, pipeline?: string, options: ReadStatusOptions = {}): Promise<StatusObservation | undefined> {
  let verifiedBy: string | undefined;
  return readOne(registry, stage, cluster, policy, pipeline, options, () => (verifiedBy ??= verifiedByKey(policy!, STATUS_PREDICATE_TYPE)));
}

async function readOne(registry: ContentReader, stage: string, cluster: string, policy: TrustPolicy | undefined, pipeline: string | undefined, options: ReadStatusOptions, verifiedBy: () => string): Promise<StatusObservation | undefined> {
  const tag = statusTag(stage, cluster);
  if (policy && (policy.keys.length || policy.identities.length)) {
    try {
      const key: ReportKey = { repository: registry.name, pipeline: pipeline ?? '', stage, cluster };
      const v = await verifyThroughCache(registry, tag, policy, key, options.cache, verifiedBy);
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
    const p = decodeUnverified(attached.bundle, `${registry.name}:${tag}`);
    if (!p) return { cluster, phase: 'Unreadable', bundle: '', since: '', observedAt: '', reason: `${tag} is not a status report`, verified: false };
    return observation(cluster, p, undefined);
  } catch (err) {
    if (err instanceof PromoteError && err.code === 'RECORD_NOT_FOUND') return undefined;
    throw err;
  }
}

/** The tags of the repository, when it can list them; undefined when it cannot (then each tag is asked for). */
async function listedTags(registry: ContentReader & Partial<TagLister>): Promise<Set<string> | undefined> {
  if (typeof registry.listTags !== 'function') return undefined;
  try {
    return new Set(await registry.listTags());
  } catch (err) {
    if (err instanceof PromoteError) return undefined;
    throw err;
  }
}

/**
 * readStatusReport for every cluster, in the order given, without the ones that never reported:
 * REPORT_CONCURRENCY at a time, a cluster without a status tag in the listing skipped, and with
 * `options.cache` a HEAD per cluster whose report did not change.
 */
export async function readStatusReports(registry: ContentReader & Partial<TagLister>, stage: string, clusters: string[], policy?: TrustPolicy, pipeline?: string, options: ReadStatusOptions = {}): Promise<StatusObservation[]> {
  const tags = clusters.length >= LIST_TAGS_FROM ? await listedTags(registry) : undefined;
  let verifiedBy: string | undefined;
  const key = () => (verifiedBy ??= verifiedByKey(policy!, STATUS_PREDICATE_TYPE));
  const out: (StatusObservation | undefined)[] = new Array(clusters.length);
  await forEachConcurrently([...clusters.keys()], REPORT_CONCURRENCY, async (i) => {
    const cluster = clusters[i]!;
    if (tags && !tags.has(statusTag(stage, cluster))) return;
    out[i] = await readOne(registry, stage, cluster, policy, pipeline, options, key);
  });
  return out.filter((o): o is StatusObservation => o !== undefined);
}
