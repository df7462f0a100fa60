import { isDeepStrictEqual } from 'node:util';
import type { DesiredState, ObjectResult, TargetSet } from '../../target.ts';
import type { KubeClient, KubeResponse, KubeStatus } from './client.ts';
import { comparable, isSubset, managers } from './compare.ts';
import { MappingError, objectPath, type RestMapper, type ResourceMapping } from './discovery.ts';
import type { InventoryEntry } from './inventory.ts';
import { FIELD_MANAGER, LABEL_PIPELINE, LABEL_STAGE, labelValue, objectId, ownerLabels, type DesiredObject, type KubeObject } from './objects.ts';

// One object at a time, the way the target converges it: mapped to its resource, read before
// it is written (a no-op round makes zero writes), written with server-side apply (field
// manager `promote`), or — for what a server cannot server-side apply — created or merge-
// patched, which it remembers. Failures come back as results with a PascalCase reason.

/** One desired object, mapped: what is applied where, and its inventory entry. */
export interface Planned {
  id: string;
  source: string;
  body: KubeObject;
  mapping: ResourceMapping;
  entry: InventoryEntry;
  owner: DesiredState['owner'];
}

/**
 * What an apply or observe of one record decided (target.ts, TargetSet): the objects it wants
 * (by inventory key), those it applied or owns, and their live state as last seen, so that
 * prune and health need no state of their own and health no extra reads.
 */
export interface KubeSet extends TargetSet {
  desiredKeys: ReadonlySet<string>;
  ok: readonly Planned[];
  live: ReadonlyMap<string, KubeObject>;
}

export interface Failure {
  id: string;
  reason: string;
  message: string;
}

function statusMessage(res: KubeResponse): string {
  const st = res.body as KubeStatus | undefined;
  return (st?.message ?? res.text.slice(0, 300)).trim();
}

export function failureFor(id: string, kind: string, verb: string, res: KubeResponse): Failure {
  const msg = statusMessage(res);
  switch (res.status) {
    case 403:
      return { id, reason: 'Forbidden', message: `${kind} is forbidden to the agent (cannot ${verb} ${id}): ${msg}` };
    case 409:
      return { id, reason: 'Conflict', message: `conflict applying ${id}: ${msg}` };
    case 404:
      return { id, reason: 'NotFound', message: `cannot ${verb} ${id}: ${msg}` };
    case 422:
    case 400:
      return { id, reason: 'Invalid', message: `${id} is invalid: ${msg}` };
    default:
      return { id, reason: 'ApplyFailed', message: `cannot ${verb} ${id}: HTTP ${res.status} ${msg}` };
  }
}

export class ObjectApplier {
  readonly client: KubeClient;
  readonly mapper: RestMapper;
  /** Namespace for namespaced objects that do not name one. */
  private readonly defaultNamespace: string;
  /** Objects this server cannot server-side apply, with why (a cache: the server does not change under the agent). */
  private readonly noApply = new Map<string, string>();

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

  async read(p: Planned): Promise<{ live?: KubeObject; failure?: Failure }> {
    const res = await this.client.send('GET', this.path(p));
    if (res.status === 200) return { live: res.body as KubeObject };
    if (res.status === 404) return {};
    return { failure: failureFor(p.id, p.body.kind, 'get', res) };
  }

  async applyOne(p: Planned, force: boolean, seen: Map<string, KubeObject>): Promise<ObjectResult & { written: boolean }> {
    const { live, failure } = await this.read(p);
    if (failure) return { id: p.id, action: 'failed', reason: failure.reason, message: failure.message, written: false };
    if (live) {
      const check = await this.upToDate(p, live, force);
      if (check.ok) {
        seen.set(p.id, live);
        return { id: p.id, action: 'unchanged', written: false };
      }
    }
    let res = await this.trySsa(p, force, false);
    const fallback = res === undefined;
    res ??= await this.updateWithoutApply(p, live);
    if (res.status === 200 || res.status === 201) {
      seen.set(p.id, res.body as KubeObject);
      return {
        id: p.id,
        action: res.status === 201 || !live ? 'created' : 'configured',
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
  private async updateWithoutApply(p: Planned, live: KubeObject | undefined): Promise<KubeResponse> {
    if (!live) {
      return await this.client.send('POST', `${objectPath(p.mapping, p.entry.namespace)}?fieldManager=${FIELD_MANAGER}`, p.body);
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
