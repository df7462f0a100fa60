import { PromoteError } from '../errors.ts';
import type { ReportedRenderer } from '../records/status-report.ts';

// The seam between the reconcile loop and whatever an agent converges (DESIGN.md §2 "Target").
// A target is told the desired state as rendered files; it never sees registries, keys or
// parameters, so the same loop drives a directory on a host and a Kubernetes cluster.

/** One file the renderer produced; `documents` are its parsed YAML documents (manifests only). */
export interface InMemoryFile {
  /** Relative POSIX path inside the bundle, e.g. `manifests/deployment.yaml`. */
  path: string;
  content: Uint8Array;
  /** Parsed documents of a YAML manifest, in order; absent for verbatim files. */
  documents?: unknown[];
}

/**
 * A file shipped verbatim, left in the verified bundle cache: a target streams it from `source`
 * (hashing and copying), so the size of shipped files never becomes memory (issue 12 §13).
 */
export interface OnDiskFile {
  path: string;
  /** Absolute path to stream the content from. */
  source: string;
  size: number;
  content?: never;
  documents?: never;
}

export type RenderedFile = InMemoryFile | OnDiskFile;

/** Who the desired state belongs to: used for inventories and owner labels. */
export interface Owner {
  pipeline: string;
  stage: string;
  cluster: string;
}

export interface DesiredState {
  owner: Owner;
  /** The promotion record whose bundle and parameters these are: the record this cluster runs. */
  recordDigest: string;
  /**
   * The record on the stage's tag that led here, when it is another one: a record of a rollout
   * whose wave for this cluster is not released yet keeps it running an older record
   * (records/rollout.ts). Absent: the tag's record is `recordDigest`.
   */
  tagRecord?: string;
  bundleDigest: string;
  /**
   * Digest of what the render took besides the bundle (this cluster's parameters, the
   * environment name): with `bundleDigest`, the desired state. Two records that agree on both
   * (a wave release for a cluster already released) are one state, kept without a re-apply.
   */
  parameters?: string;
  files: RenderedFile[];
  /** What rendered `files` (plain, or helm/kustomize with the binary's version): the status report says it. */
  renderer?: ReportedRenderer;
}

export type ObjectAction = 'created' | 'configured' | 'unchanged' | 'pruned' | 'failed' | 'skipped';
export type ObjectHealth = 'Healthy' | 'Progressing' | 'Degraded' | 'Unknown';

/** What happened to one object (a file, or a Kubernetes object `Kind namespace/name`). */
export interface ObjectResult {
  id: string;
  action: ObjectAction;
  health?: ObjectHealth;
  /** Why it failed, is unhealthy or drifted — one line, naming the thing. */
  message?: string;
  /** A stable reason in PascalCase (Flux-style), e.g. `KindNotServed`, `Forbidden`, `Conflict`. */
  reason?: string;
}

/** An object whose live state differs from what was last applied. */
export interface DriftedObject {
  id: string;
  /** `modified` (edited in place), `missing` (deleted by someone), `unknown` (cannot tell). */
  kind: 'modified' | 'missing';
  message: string;
}

/**
 * What one apply or observe saw and decided, handed to the calls after it in the same round
 * (as fluxcd/pkg ssa's Apply returns the change set that WaitForSet then takes): prune and
 * health work from it, so a target keeps nothing between calls. Only the target that made it
 * looks inside; it is about one desired state and is not kept across rounds.
 */
export interface TargetSet {
  /** The record of the desired state it was made for. */
  readonly recordDigest: string;
  /** Which call made it: prune takes only an apply's. */
  readonly by: 'apply' | 'observe';
}

export interface Observation<S extends TargetSet = TargetSet> {
  /** Objects this target owns now (from its inventory), by id. */
  owned: string[];
  /** The record digest the inventory says was applied last, if any. */
  appliedRecordDigest?: string;
  drift: DriftedObject[];
  /** For health in the same round. */
  set: S;
}

export interface ApplyOptions {
  /** Take ownership of fields other managers hold (Kubernetes only; from configuration). */
  force?: boolean;
  /** Objects the caller knows drifted and wants restored (self-heal). */
  restore?: string[];
}

export interface ApplyResult<S extends TargetSet = TargetSet> {
  objects: ObjectResult[];
  /** Mutating requests or file writes made; 0 for a no-op re-apply. */
  writes: number;
  /** For prune and health in the same round. */
  set: S;
}

export interface PruneResult {
  pruned: string[];
  /** Owned earlier but left alone, with why (e.g. another field manager now owns it). */
  kept: ObjectResult[];
  writes: number;
}

export interface HealthOptions {
  /** How long to wait for every object to become healthy before reporting Degraded. */
  timeoutMs: number;
  /** The whole health timeout, when `timeoutMs` is what is left of it (for messages). */
  totalMs?: number;
  /** Poll interval while waiting. */
  pollMs?: number;
  signal?: AbortSignal;
}

export interface HealthResult {
  healthy: boolean;
  objects: ObjectResult[];
}

/**
 * The contract between the reconciler (reconcile.ts) and a target. In each round the reconciler
 * calls, in this order (never two calls of one target at once):
 *
 *   new record, or a retry of a failed apply:    apply → prune¹ → health(apply's set)
 *   steady (record unchanged, last apply whole): sweep → observe → health(observe's set)
 *     … with drift, self-heal on:                sweep → observe → apply(restore) → prune¹ → health(apply's set)
 *     … with drift, self-heal off:               sweep → observe → health(observe's set, timeout 0)
 *   first round of an agent (it may restart):    observe, then as a steady round on that observation
 *                                                (sweep → health) if the inventory already holds
 *                                                this record, else as a new record
 *
 *   ¹ only when apply reported no failed object: a partial apply keeps what ran before it.
 *
 * What each call may rely on and must keep:
 * - observe writes nothing. apply never removes an object `desired` no longer has, and keeps
 *   the old objects in the inventory, so a crash between apply and prune still knows them; the
 *   record counts as applied (`appliedRecordDigest`) only once prune has recorded it.
 * - prune and health take the set that this round's apply or observe returned for the same
 *   desired state, and nothing else: a target carries no state from one call to the next
 *   (caches of what does not change under a running agent — API discovery, what a server
 *   cannot server-side apply — are allowed, and so is what the server last answered about
 *   an object, such as its resourceVersion after our apply, as long as a round that cannot
 *   trust it asks again). A set from another call or record is refused
 *   (TARGET_SET_MISMATCH).
 * - Per-object failures are results; an exception fails the round, which is retried.
 */
export interface Target<S extends TargetSet = TargetSet> {
  /** e.g. `dir:/srv/app` or `kubernetes:https://10.0.0.1:443`, for reports and logs. */
  readonly name: string;
  /** Compares live state with `desired` and the target's own inventory; writes nothing. */
  observe(desired: DesiredState): Promise<Observation<S>>;
  /** Converges every object of `desired`; per-object failures are results, not exceptions. */
  apply(desired: DesiredState, options?: ApplyOptions): Promise<ApplyResult<S>>;
  /** Removes what the inventory owns and `applied` no longer has, then records the new inventory. */
  prune(desired: DesiredState, applied: S): Promise<PruneResult>;
  /** The health of the objects in `set` (waiting up to the timeout for those still progressing). */
  health(desired: DesiredState, set: S, options: HealthOptions): Promise<HealthResult>;
  /**
   * Removes what interrupted writers left behind (temp files whose writer is gone), never a live
   * writer's; run every round, so a kill during an apply is cleaned up even if nothing changes.
   */
  sweep?(desired: DesiredState): Promise<string[]>;
  /** Releases connections; the target is not used afterwards. */
  close?(): Promise<void>;
}

/** Refuses a set that is not one this round's apply (or observe, `by` allowing) made for `desired`. */
export function checkSet(set: TargetSet | undefined, desired: DesiredState, call: 'prune' | 'health'): void {
  const ok = set !== undefined && set.recordDigest === desired.recordDigest && (call === 'health' || set.by === 'apply');
  if (!ok) {
    throw new PromoteError('TARGET_SET_MISMATCH', `${call} was given ${set ? `the set of an ${set.by} of ${set.recordDigest}` : 'no set'}, not ${call === 'prune' ? 'the apply' : 'the apply or observe'} of ${desired.recordDigest}`, {
      hint: 'a bug in the caller of the target: see the call order on the Target interface (src/agent/target.ts)',
    });
  }
}
