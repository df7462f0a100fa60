import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { DesiredState, DriftedObject, ObjectResult, TargetSet } from '../../target.ts';
import type { KubeClient, KubeResponse } from './client.ts';
import { comparable, isSubset, managers } from './compare.ts';
import { MappingError, objectPath, type RestMapper, type ResourceMapping } from './discovery.ts';
import { assessHealth, type HealthVerdict } from './health.ts';
import { failureFor, statusMessage, type Failure } from './object-failure.ts';
import type { InventoryEntry } from './inventory.ts';
import { FIELD_MANAGER, LABEL_PIPELINE, LABEL_STAGE, labelValue, objectId, ownerLabels, type DesiredObject, type KubeObject } from './objects.ts';

// One object at a time, the way the target converges it: mapped to its resource, written with
// server-side apply (field manager `promote`) without reading it first — SSA creates or merges —
// or, for what a server cannot server-side apply, created or merge-patched, which it remembers.
// "Already applied?" is settled by what the server answered: the resourceVersion our last apply
// (or check) left and a hash of the configuration we applied. While the live object keeps that
// version and the bundle that configuration, nothing is read or written; when the version moved
// (a controller wrote status, someone edited it) one read and a local subset test — or, where the
// server normalises (stringData, dropped fields), a dry run — decide, and the answer is
// remembered, so a normalised object costs its dry run once, not every round.
// Failures come back as results with a PascalCase reason.

/** One desired object, mapped: what is applied where, and its inventory entry. */
export interface Planned {
  id: string;
  source: string;
  body: KubeObject;
  mapping: ResourceMapping;
  entry: InventoryEntry;
  owner: DesiredState['owner'];
}

/** What health needs of a live object: its resourceVersion and the verdict on it (never the whole object: CRDs are 1 MB). */
export interface LiveView {
  rv: string;
  health: HealthVerdict;
}

/**
 * What an apply or observe of one record decided (target.ts, TargetSet): the objects it wants
 * (by inventory key), those it applied or owns, and their live state as last seen, so that
 * prune and health need no state of their own and health no extra reads.
 */
export interface KubeSet extends TargetSet {
  desiredKeys: ReadonlySet<string>;
  ok: readonly Planned[];
  live: ReadonlyMap<string, LiveView>;
}

/** What observe found for one object: its live view, or drift, or a failure to read it. */
export type { Failure } from './object-failure.ts';
export { failureFor } from './object-failure.ts';

export interface CheckResult {
  view?: LiveView;
  drift?: DriftedObject;
  failure?: Failure;
}

export class ObjectApplier {
  readonly client: KubeClient;
  readonly mapper: RestMapper;
  /** Namespace for namespaced objects that do not name one. */
  private readonly defaultNamespace: string;
  /** Objects this server cannot server-side apply, with why (a cache: the server does not change under the agent). */
  private readonly noApply = new Map<string, string>();
  /**
   * By object id: the hash of the configuration we last applied (or found applied) and the
   * resourceVersion the server had for it then. Kept across rounds: it is what the server
   * answered, not a copy of any object.
   */
  private readonly settled = new Map<string, { hash: string; rv: string }>();
  /** By object id: the health verdict on the last version read, reused while that version is live. */
  private readonly views = new Map<string, LiveView>();

  constructor(client: KubeClient, mapper: RestMapper, defaultNamespace: string) {
    this.client = client;
    this.mapper = mapper;
    this.defaultNamespace = defaultNamespace;
  }

  /** Maps one desired object to its resource and the body we apply (owner labels added). */
  async plan(d: DesiredObject, owner: DesiredState['owner']): Promise<Planned | Failure> {
    const o = d.object;
    const name = o.metadata.name as string;
    let mapping: ResourceMapping;
    try {
      mapping = await this.mapper.map(o.apiVersion, o.kind);
    } catch (err) {
      const id = objectId(o.apiVersion, o.kind, o.metadata.namespace, name);
      if (err instanceof MappingError) return { id, reason: err.reason, message: err.message };
      return { id, reason: 'DiscoveryFailed', message: `${o.kind} (${o.apiVersion}): ${(err as Error).message}` };
    }
    const namespace = mapping.namespaced ? (o.metadata.namespace ?? this.defaultNamespace) : undefined;
    const metadata: KubeObject['metadata'] = { ...o.metadata, labels: { ...(o.metadata.labels ?? {}), ...ownerLabels(owner) } };
    if (namespace) metadata.namespace = namespace;
    else delete metadata.namespace;
    const body: KubeObject = { ...o, metadata };
    const id = objectId(o.apiVersion, o.kind, namespace, name);
    const entry: InventoryEntry = { apiVersion: o.apiVersion, kind: o.kind, ...(namespace ? { namespace } : {}), name };
    return { id, source: d.source, body, mapping, entry, owner };
  }

  private path(p: Planned, query = ''): string {
    return objectPath(p.mapping, p.entry.namespace, p.entry.name) + query;
  }

  private applyQuery(force: boolean, dryRun: boolean): string {
    return `?fieldManager=${FIELD_MANAGER}${force ? '&force=true' : ''}${dryRun ? '&dryRun=All' : ''}`;
  }

  /**
   * Did promote write this object? Its field manager says so; where the server tracks no managed
   * fields for a resource at all (no server-side apply there), our owner labels do.
   */
  appliedByUs(live: KubeObject, owner: DesiredState['owner']): boolean {
    const mf = managers(live);
    if (mf.length === 0) {
      const labels = live.metadata.labels ?? {};
      return labels[LABEL_PIPELINE] === labelValue(owner.pipeline) && labels[LABEL_STAGE] === labelValue(owner.stage);
    }
    return mf.some((m) => m.manager === FIELD_MANAGER && !m.subresource);
  }

  /**
   * Server-side apply of `p` (or its dry run), or undefined when this server cannot server-side
   * apply it: no field manager for the resource (kube-aggregator's APIService on 1.20 panics and
   * the connection drops, or a 500 says so), or no typed patch for it (a schema field or list
   * key its SSA does not know). Such objects are remembered and written without SSA.
   */
  private async trySsa(p: Planned, force: boolean, dryRun: boolean): Promise<KubeResponse | undefined> {
    if (this.noApply.has(p.id)) return undefined;
    let res: KubeResponse | undefined;
    try {
      res = await this.client.send('PATCH', this.path(p, this.applyQuery(force, dryRun)), p.body, 'application/apply-patch+yaml');
    } catch (err) {
      if (!(await this.reachable())) throw err;
    }
    if (res && !(res.status === 500 && /FieldManager|failed to create typed patch object/i.test(statusMessage(res)))) return res;
    this.noApply.set(p.id, res ? statusMessage(res).split('\n')[0]!.slice(0, 200) : 'the API server closed the connection on server-side apply');
    return undefined;
  }

  /**
   * Is `live` already what applying `p` would make it? First a local subset test; when that
   * says no (server normalisation, defaults in lists) a dry-run write has the last word.
   */
  async upToDate(p: Planned, live: KubeObject, force: boolean): Promise<{ ok: boolean; conflict?: Failure }> {
    if (!this.appliedByUs(live, p.owner)) return { ok: false };
    if (isSubset(p.body, live)) return { ok: true };
    let res = await this.trySsa(p, force, true);
    if (res?.status === 409) return { ok: false, conflict: failureFor(p.id, p.body.kind, 'apply', res) };
    res ??= await this.client.send('PATCH', this.path(p, `?fieldManager=${FIELD_MANAGER}&dryRun=All`), p.body, 'application/merge-patch+json');
    if (res.status !== 200) return { ok: false };
    return { ok: isDeepStrictEqual(comparable(res.body as KubeObject), comparable(live)) };
  }

  private hash(p: Planned): string {
    return createHash('sha256').update(JSON.stringify(p.body)).digest('hex');
  }

  private view(p: Planned, obj: KubeObject): LiveView {
    const view = { rv: String(obj.metadata.resourceVersion ?? ''), health: assessHealth(obj) };
    this.views.set(p.id, view);
    return view;
  }

  private settle(p: Planned, hash: string, obj: KubeObject): void {
    this.settled.set(p.id, { hash, rv: String(obj.metadata.resourceVersion ?? '') });
  }

  /** The object as it is now, and the verdict on it remembered. */
  async read(p: Planned): Promise<{ live?: KubeObject; view?: LiveView; failure?: Failure }> {
    const res = await this.client.send('GET', this.path(p));
    if (res.status === 200) {
      const live = res.body as KubeObject;
      return { live, view: this.view(p, live) };
    }
    if (res.status === 404) {
      this.views.delete(p.id);
      return {};
    }
    return { failure: failureFor(p.id, p.body.kind, 'get', res) };
  }

  /** The remembered view when the object is still at `rv` (as a watch saw it) and unchanged since we settled it. */
  private unchanged(p: Planned, hash: string, rv: string | null | undefined): LiveView | undefined {
    if (!rv) return undefined;
    const s = this.settled.get(p.id);
    const v = this.views.get(p.id);
    return s?.hash === hash && s.rv === rv && v?.rv === rv ? v : undefined;
  }

  /**
   * Does the live object (at `knownRv`, when a watch knows it) still hold what we applied?
   * Reads it only when its version moved since we settled it (or nobody knows).
   */
  async check(p: Planned, knownRv: string | null | undefined): Promise<CheckResult> {
    const hash = this.hash(p);
    const same = this.unchanged(p, hash, knownRv);
    if (same) return { view: same };
    const { live, view, failure } = await this.read(p);
    if (failure) return { failure };
    if (!live || !view) return { drift: { id: p.id, kind: 'missing', message: `${p.id} was deleted` } };
    const s = this.settled.get(p.id);
    if (s?.hash === hash && s.rv === view.rv) return { view };
    const check = await this.upToDate(p, live, false);
    if (check.ok) {
      this.settle(p, hash, live);
      return { view };
    }
    return { view, drift: { id: p.id, kind: 'modified', message: check.conflict ? `${p.id} was changed by another manager: ${check.conflict.message}` : `${p.id} differs from the bundle` } };
  }

  /**
   * Applies `p` unless it is settled: the same configuration as last time and the live object
   * still at the version that left (`knownRv` from a watch, else one read). Never reads before
   * writing what it has not settled — server-side apply creates or merges either way.
   */
  async applyOne(p: Planned, force: boolean, seen: Map<string, LiveView>, knownRv?: string | null, restore = false): Promise<ObjectResult & { written: boolean }> {
    const hash = this.hash(p);
    const s = this.settled.get(p.id);
    let live: KubeObject | undefined;
    let liveRead = false;
    let before = knownRv ?? undefined;
    if (s?.hash === hash && !restore) {
      const same = this.unchanged(p, hash, knownRv);
      if (same) {
        seen.set(p.id, same);
        return { id: p.id, action: 'unchanged', written: false };
      }
      const r = await this.read(p);
      if (r.failure) return { id: p.id, action: 'failed', reason: r.failure.reason, message: r.failure.message, written: false };
      live = r.live;
      liveRead = true;
      before = r.view?.rv;
      if (live && r.view) {
        const check = r.view.rv === s.rv ? { ok: true } : await this.upToDate(p, live, force);
        if (check.ok) {
          this.settle(p, hash, live);
          seen.set(p.id, r.view);
          return { id: p.id, action: 'unchanged', written: false };
        }
      }
    }
    let res = await this.trySsa(p, force, false);
    const fallback = res === undefined;
    res ??= await this.updateWithoutApply(p, liveRead ? live : undefined, !liveRead);
    if (res.status === 200 || res.status === 201) {
      const obj = res.body as KubeObject;
      this.settle(p, hash, obj);
      const view = this.view(p, obj);
      seen.set(p.id, view);
      const action = res.status === 201 ? 'created' : before !== undefined && before === view.rv ? 'unchanged' : 'configured';
      return {
        id: p.id,
        action,
        ...(fallback && { reason: 'AppliedWithoutSSA', message: `written without server-side apply, which this server cannot do for it: ${this.noApply.get(p.id)}` }),
        written: true,
      };
    }
    const f = failureFor(p.id, p.body.kind, 'apply', res);
    return { id: p.id, action: 'failed', reason: f.reason, message: f.message, written: true };
  }

  /**
   * Create, or JSON merge patch, for resources the server cannot server-side apply. Still no
   * last-applied annotation; the limitation is that a field removed from the bundle is not
   * removed live for these resources.
   */
  private async updateWithoutApply(p: Planned, live: KubeObject | undefined, unknown: boolean): Promise<KubeResponse> {
    if (!live) {
      // Not read first here either: a create that finds the object (409 AlreadyExists) patches it.
      const created = await this.client.send('POST', `${objectPath(p.mapping, p.entry.namespace)}?fieldManager=${FIELD_MANAGER}`, p.body);
      if (!(unknown && created.status === 409)) return created;
    }
    return await this.client.send('PATCH', this.path(p, `?fieldManager=${FIELD_MANAGER}`), p.body, 'application/merge-patch+json');
  }

  private async reachable(): Promise<boolean> {
    try {
      return (await this.client.send('GET', '/version')).status === 200;
    } catch {
      return false;
    }
  }
}
