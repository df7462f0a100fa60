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
  recordDigest: string;
  bundleDigest: string;
  files: RenderedFile[];
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

export interface Observation {
  /** Objects this target owns now (from its inventory), by id. */
  owned: string[];
  /** The record digest the inventory says was applied last, if any. */
  appliedRecordDigest?: string;
  drift: DriftedObject[];
}

export interface ApplyOptions {
  /** Take ownership of fields other managers hold (Kubernetes only; from configuration). */
  force?: boolean;
  /** Objects the caller knows drifted and wants restored (self-heal). */
  restore?: string[];
}

export interface ApplyResult {
  objects: ObjectResult[];
  /** Mutating requests or file writes made; 0 for a no-op re-apply. */
  writes: number;
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

export interface Target {
  /** e.g. `dir:/srv/app` or `kubernetes:https://10.0.0.1:443`, for reports and logs. */
  readonly name: string;
  /** Compares live state with `desired` and the target's own inventory; writes nothing. */
  observe(desired: DesiredState): Promise<Observation>;
  /** Converges every object of `desired`; per-object failures are results, not exceptions. */
  apply(desired: DesiredState, options?: ApplyOptions): Promise<ApplyResult>;
  /** Removes what the inventory owns and `desired` no longer has, then records the new inventory. */
  prune(desired: DesiredState): Promise<PruneResult>;
  health(desired: DesiredState, options: HealthOptions): Promise<HealthResult>;
  /**
   * Removes what interrupted writers left behind (temp files whose writer is gone), never a live
   * writer's; run every round, so a kill during an apply is cleaned up even if nothing changes.
   */
  sweep?(desired: DesiredState): Promise<string[]>;
  /** Releases connections; the target is not used afterwards. */
  close?(): Promise<void>;
}
