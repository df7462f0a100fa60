import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type {
  ApplyOptions,
  ApplyResult,
  DesiredState,
  DriftedObject,
  HealthOptions,
  HealthResult,
  Observation,
  ObjectResult,
  PruneResult,
  Target,
  TargetSet,
} from '../../target.ts';
import { checkSet } from '../../target.ts';
import { KubeClient, type KubeConnection, type KubeResponse, type KubeStatus } from './client.ts';
import { comparable, isSubset, managers } from './compare.ts';
import { MappingError, RestMapper, objectPath, type ResourceMapping } from './discovery.ts';
import { assessHealth } from './health.ts';
import { ClusterInventory, entryKey, type InventoryEntry } from './inventory.ts';
import {
  FIELD_MANAGER,
  LABEL_PIPELINE,
  LABEL_STAGE,
  collectObjects,
  isCrd,
  labelValue,
  objectId,
  ownerLabels,
  type DesiredObject,
  type KubeObject,
} from './objects.ts';

// Converges a cluster with server-side apply (field manager `promote`). SSA keeps no
// last-applied annotation, so 1 MB CRDs apply; it merges with other managers' fields and
// answers 409 when we would take a field someone else owns — reported, never forced unless
// configured (or when restoring an object we own that was edited by hand: self-heal).
// Each object is read before it is written, so a no-op round makes zero writes.

export interface KubernetesTargetOptions extends KubeConnection {
  /** Namespace of the inventory ConfigMap (default: the agent's own namespace, else `default`). */
  inventoryNamespace?: string;
  /** Namespace for namespaced objects that do not name one (default `default`). */
  defaultNamespace?: string;
  /** Force conflicts on every apply (take fields from other managers). */
  force?: boolean;
  /** How long to wait for applied CRDs to become Established (default 60 s). */
  establishTimeoutMs?: number;
}

interface Planned {
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

interface Failure {
  id: string;
  reason: string;
  message: string;
}

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function inClusterNamespace(): string | undefined {
  try {
    return readFileSync(SA_NAMESPACE_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function statusMessage(res: KubeResponse): string {
  const st = res.body as KubeStatus | undefined;
  return (st?.message ?? res.text.slice(0, 300)).trim();
}

function failureFor(id: string, kind: string, verb: string, res: KubeResponse): Failure {
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

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

export class KubernetesTarget implements Target<KubeSet> {
  readonly name: string;
  readonly client: KubeClient;
  private readonly options: KubernetesTargetOptions;
  private readonly mapper: RestMapper;
  /** Objects this server cannot server-side apply, with why (a cache: the server does not change). */
  private readonly noApply = new Map<string, string>();

  private constructor(client: KubeClient, options: KubernetesTargetOptions) {
    this.client = client;
    this.options = options;
    this.mapper = new RestMapper(client);
    this.name = `kubernetes:${client.server}`;
  }

  static async create(options: KubernetesTargetOptions = {}): Promise<KubernetesTarget> {
    return new KubernetesTarget(await KubeClient.connect(options), options);
  }

  private inventory(desired: DesiredState): ClusterInventory {
    return new ClusterInventory(this.client, desired.owner, this.options.inventoryNamespace ?? inClusterNamespace() ?? 'default');
  }

  private defaultNamespace(): string {
    return this.options.defaultNamespace ?? 'default';
  }

  /** Maps one desired object to its resource and the body we apply (owner labels added). */
  private async plan(d: DesiredObject, owner: DesiredState['owner']): Promise<Planned | Failure> {
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
    const namespace = mapping.namespaced ? (o.metadata.namespace ?? this.defaultNamespace()) : undefined;
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
  private appliedByUs(live: KubeObject, owner: DesiredState['owner']): boolean {
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
  private async upToDate(p: Planned, live: KubeObject, force: boolean): Promise<{ ok: boolean; conflict?: Failure }> {
    if (!this.appliedByUs(live, p.owner)) return { ok: false };
    if (isSubset(p.body, live)) return { ok: true };
    let res = await this.trySsa(p, force, true);
    if (res?.status === 409) return { ok: false, conflict: failureFor(p.id, p.body.kind, 'apply', res) };
    res ??= await this.client.send('PATCH', this.path(p, `?fieldManager=${FIELD_MANAGER}&dryRun=All`), p.body, 'application/merge-patch+json');
    if (res.status !== 200) return { ok: false };
    return { ok: isDeepStrictEqual(comparable(res.body as KubeObject), comparable(live)) };
  }

  private async read(p: Planned): Promise<{ live?: KubeObject; failure?: Failure }> {
    const res = await this.client.send('GET', this.path(p));
    if (res.status === 200) return { live: res.body as KubeObject };
    if (res.status === 404) return {};
    return { failure: failureFor(p.id, p.body.kind, 'get', res) };
  }

  private async applyOne(p: Planned, force: boolean, seen: Map<string, KubeObject>): Promise<ObjectResult & { written: boolean }> {
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

  private async waitEstablished(crds: Planned[], seen: Map<string, KubeObject>, signal?: AbortSignal): Promise<Map<string, string>> {
    const pending = new Map<string, string>();
    const deadline = Date.now() + (this.options.establishTimeoutMs ?? 60_000);
    let left = crds;
    for (;;) {
      const next: Planned[] = [];
      for (const p of left) {
        const obj = seen.get(p.id);
        const verdict = obj ? assessHealth(obj) : { health: 'Progressing' as const };
        if (verdict.health === 'Healthy') continue;
        next.push(p);
      }
      left = next;
      if (left.length === 0 || Date.now() >= deadline || signal?.aborted) break;
      await sleep(250, signal);
      for (const p of left) {
        const { live } = await this.read(p);
        if (live) seen.set(p.id, live);
      }
    }
    for (const p of left) pending.set(p.id, `${p.id} is not established after ${(this.options.establishTimeoutMs ?? 60_000) / 1000}s`);
    return pending;
  }

  async apply(desired: DesiredState, options: ApplyOptions = {}): Promise<ApplyResult<KubeSet>> {
    const seen = new Map<string, KubeObject>();
    this.mapper.invalidate();
    const { objects, invalid } = collectObjects(desired);
    const results: ObjectResult[] = invalid.map((i) => ({ id: i.source, action: 'failed', reason: 'InvalidObject', message: i.message }));
    const restore = new Set(options.restore ?? []);
    const inventory = this.inventory(desired);
    const old = await inventory.read();
    const owned = new Set(old.objects.map(entryKey));
    const desiredKeys = new Set<string>();
    const ok: Planned[] = [];
    let writes = 0;

    const phases = [objects.filter((o) => isCrd(o.object) || o.object.kind === 'Namespace'), objects.filter((o) => !(isCrd(o.object) || o.object.kind === 'Namespace'))];
    for (const [index, phase] of phases.entries()) {
      const planned: Planned[] = [];
      for (const d of phase) {
        const p = await this.plan(d, desired.owner);
        if ('reason' in p) {
          results.push({ id: p.id, action: 'failed', reason: p.reason, message: p.message });
          desiredKeys.add(entryKey({ apiVersion: d.object.apiVersion, kind: d.object.kind, ...(d.object.metadata.namespace ? { namespace: d.object.metadata.namespace } : {}), name: d.object.metadata.name as string }));
          continue;
        }
        desiredKeys.add(entryKey(p.entry));
        planned.push(p);
      }
      // Record ownership before creating anything, so a crash mid-apply still knows what to prune.
      const union = new Map(old.objects.map((e) => [entryKey(e), e]));
      for (const p of [...ok, ...planned]) union.set(entryKey(p.entry), p.entry);
      if (await inventory.write({ ...(old.recordDigest ? { recordDigest: old.recordDigest } : {}), ...(old.bundleDigest ? { bundleDigest: old.bundleDigest } : {}), objects: [...union.values()] })) writes++;
      for (const p of planned) {
        const force = this.options.force === true || options.force === true || (restore.has(p.id) && owned.has(entryKey(p.entry)));
        const r = await this.applyOne(p, force, seen);
        if (r.written) writes++;
        const { written: _w, ...result } = r;
        results.push(result);
        if (result.action !== 'failed') ok.push(p);
      }
      if (index === 0) {
        const crds = planned.filter((p) => isCrd(p.body) && seen.has(p.id));
        const notEstablished = await this.waitEstablished(crds, seen);
        for (const [id, message] of notEstablished) {
          const r = results.find((x) => x.id === id);
          if (r) Object.assign(r, { health: 'Degraded', message, reason: 'NotEstablished' });
        }
        // The CRDs' groups now exist: forget what discovery said about them before.
        this.mapper.invalidate();
      }
    }
    return { objects: results, writes, set: { recordDigest: desired.recordDigest, by: 'apply', desiredKeys, ok, live: seen } };
  }

  async prune(desired: DesiredState, plan: KubeSet): Promise<PruneResult> {
    checkSet(plan, desired, 'prune');
    const inventory = this.inventory(desired);
    const old = await inventory.read();
    const pruned: string[] = [];
    const kept: ObjectResult[] = [];
    const retained = new Map<string, InventoryEntry>();
    let writes = 0;
    const stage = labelValue(desired.owner.stage);
    const pipeline = labelValue(desired.owner.pipeline);
    for (const e of old.objects) {
      const key = entryKey(e);
      if (plan.desiredKeys.has(key)) {
        retained.set(key, e);
        continue;
      }
      const id = objectId(e.apiVersion, e.kind, e.namespace, e.name);
      let mapping: ResourceMapping;
      try {
        mapping = await this.mapper.map(e.apiVersion, e.kind);
      } catch (err) {
        if (err instanceof MappingError && err.reason === 'KindNotServed') {
          pruned.push(id); // its kind is gone, so is the object
          continue;
        }
        kept.push({ id, action: 'skipped', reason: 'DiscoveryFailed', message: `cannot prune ${id} now: ${(err as Error).message}` });
        retained.set(key, e);
        continue;
      }
      const path = objectPath(mapping, e.namespace, e.name);
      const res = await this.client.send('GET', path);
      if (res.status === 404) {
        pruned.push(id);
        continue;
      }
      if (res.status !== 200) {
        const f = failureFor(id, e.kind, 'get', res);
        kept.push({ id, action: 'failed', reason: f.reason, message: `cannot prune: ${f.message}` });
        retained.set(key, e);
        continue;
      }
      const live = res.body as KubeObject;
      const labels = live.metadata.labels ?? {};
      // Another manager that *applies* this object has a stake in it (shared or taken fields):
      // deleting it would destroy their intent. Controllers' updates do not count.
      const coOwners = managers(live).filter((m) => m.manager !== FIELD_MANAGER && m.operation === 'Apply' && !m.subresource);
      if (labels[LABEL_STAGE] !== stage || labels[LABEL_PIPELINE] !== pipeline || !this.appliedByUs(live, desired.owner) || coOwners.length > 0) {
        const others = [...new Set(managers(live).map((m) => m.manager))].join(', ') || 'nobody';
        kept.push({ id, action: 'skipped', reason: 'NotOwned', message: `${id} is not promote's alone to delete (managers: ${others}); left in place` });
        continue;
      }
      const del = await this.client.send('DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background', preconditions: { uid: live.metadata.uid } });
      writes++;
      if (del.status === 200 || del.status === 202 || del.status === 404) pruned.push(id);
      else {
        const f = failureFor(id, e.kind, 'delete', del);
        kept.push({ id, action: 'failed', reason: f.reason, message: f.message });
        retained.set(key, e);
      }
    }
    for (const p of plan.ok) retained.set(entryKey(p.entry), p.entry);
    if (await inventory.write({ recordDigest: desired.recordDigest, bundleDigest: desired.bundleDigest, objects: [...retained.values()] })) writes++;
    return { pruned, kept, writes };
  }

  async observe(desired: DesiredState): Promise<Observation<KubeSet>> {
    const seen = new Map<string, KubeObject>();
    // Steady rounds reuse what discovery found (resource names do not change under a running
    // agent); an apply rediscovers everything.
    this.mapper.forgetFailures();
    const inventory = this.inventory(desired);
    const inv = await inventory.read();
    const owned = new Set(inv.objects.map(entryKey));
    const drift: DriftedObject[] = [];
    const { objects } = collectObjects(desired);
    const ok: Planned[] = [];
    const desiredKeys = new Set<string>();
    for (const d of objects) {
      const p = await this.plan(d, desired.owner);
      if ('reason' in p) continue;
      desiredKeys.add(entryKey(p.entry));
      if (!owned.has(entryKey(p.entry))) continue;
      ok.push(p);
      const { live, failure } = await this.read(p);
      if (failure) continue;
      if (!live) {
        drift.push({ id: p.id, kind: 'missing', message: `${p.id} was deleted` });
        continue;
      }
      seen.set(p.id, live);
      const check = await this.upToDate(p, live, false);
      if (check.ok) continue;
      drift.push({ id: p.id, kind: 'modified', message: check.conflict ? `${p.id} was changed by another manager: ${check.conflict.message}` : `${p.id} differs from the bundle` });
    }
    const set: KubeSet = { recordDigest: desired.recordDigest, by: 'observe', desiredKeys, ok, live: seen };
    return { owned: inv.objects.map((e) => objectId(e.apiVersion, e.kind, e.namespace, e.name)), ...(inv.recordDigest ? { appliedRecordDigest: inv.recordDigest } : {}), drift, set };
  }

  async health(desired: DesiredState, set: KubeSet, options: HealthOptions): Promise<HealthResult> {
    checkSet(set, desired, 'health');
    const watch = set.ok;
    const verdicts = new Map<string, ObjectResult>();
    const deadline = Date.now() + options.timeoutMs;
    let pending = watch;
    let first = true;
    for (;;) {
      const next: Planned[] = [];
      for (const p of pending) {
        let obj = first ? set.live.get(p.id) : undefined;
        if (!obj) {
          const { live, failure } = await this.read(p);
          if (failure) {
            verdicts.set(p.id, { id: p.id, action: 'unchanged', health: 'Unknown', reason: failure.reason, message: failure.message });
            continue;
          }
          if (!live) {
            verdicts.set(p.id, { id: p.id, action: 'unchanged', health: 'Degraded', reason: 'Missing', message: `${p.id} does not exist` });
            continue;
          }
          obj = live;
        }
        const v = assessHealth(obj);
        verdicts.set(p.id, { id: p.id, action: 'unchanged', health: v.health, ...(v.message ? { message: v.message } : {}) });
        if (v.health === 'Progressing') next.push(p);
      }
      first = false;
      pending = next;
      if (pending.length === 0 || Date.now() >= deadline || options.signal?.aborted) break;
      await sleep(Math.min(options.pollMs ?? 1000, Math.max(0, deadline - Date.now())), options.signal);
    }
    for (const p of pending) {
      const v = verdicts.get(p.id)!;
      verdicts.set(p.id, { ...v, health: 'Degraded', reason: 'HealthTimeout', message: `not healthy after ${Math.round((options.totalMs ?? options.timeoutMs) / 1000)}s: ${v.message ?? 'progressing'}` });
    }
    const objects = watch.map((p) => verdicts.get(p.id)!).filter(Boolean);
    return { healthy: objects.every((o) => o.health === 'Healthy'), objects };
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
