import { readFileSync } from 'node:fs';
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
} from '../../target.ts';
import { checkSet } from '../../target.ts';
import { KubeClient, type KubeConnection } from './client.ts';
import { RestMapper } from './discovery.ts';
import { ClusterInventory, entryKey, type InventoryEntry } from './inventory.ts';
import { MetadataWatches } from './metadata-watch.ts';
import { ObjectApplier, type KubeSet, type LiveView, type Planned } from './object-applier.ts';
import { collectObjects, isCrd, LABEL_PIPELINE, LABEL_STAGE, labelValue, objectId, type DesiredObject } from './objects.ts';
import { pruneObjects } from './prune.ts';
import { waitEstablished, waitHealthy } from './wait.ts';

// Converges a cluster with server-side apply (field manager `promote`). SSA keeps no
// last-applied annotation, so 1 MB CRDs apply; it merges with other managers' fields and
// answers 409 when we would take a field someone else owns — reported, never forced unless
// configured (or when restoring an object we own that was edited by hand: self-heal).
// Objects go in two phases, CRDs and Namespaces first (object-applier.ts applies each one);
// what apply and observe decide is the KubeSet that prune (prune.ts) and health (wait.ts) take.
// Across rounds the target keeps only what the server answered — discovery, the inventory as
// read or written, each object's settled resourceVersion and health verdict, and metadata
// watches — so an idle round on an unchanged cluster reads the inventory and little else.

export type { KubeSet } from './object-applier.ts';

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

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function inClusterNamespace(): string | undefined {
  try {
    return readFileSync(SA_NAMESPACE_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export class KubernetesTarget implements Target<KubeSet> {
  readonly name: string;
  readonly client: KubeClient;
  private readonly options: KubernetesTargetOptions;
  private readonly applier: ObjectApplier;
  private readonly watches: MetadataWatches;
  private readonly inventories = new Map<string, ClusterInventory>();
  /** Watches start from the second round of a process: a single `--once` round would only pay for them. */
  private warm = false;

  private constructor(client: KubeClient, options: KubernetesTargetOptions) {
    this.client = client;
    this.options = options;
    this.applier = new ObjectApplier(client, new RestMapper(client), options.defaultNamespace ?? 'default');
    this.watches = new MetadataWatches(client);
    this.name = `kubernetes:${client.server}`;
  }

  static async create(options: KubernetesTargetOptions = {}): Promise<KubernetesTarget> {
    return new KubernetesTarget(await KubeClient.connect(options), options);
  }

  private inventory(desired: DesiredState): ClusterInventory {
    const namespace = this.options.inventoryNamespace ?? inClusterNamespace() ?? 'default';
    const key = `${desired.owner.pipeline}\u0000${desired.owner.stage}\u0000${desired.owner.cluster}\u0000${namespace}`;
    let inv = this.inventories.get(key);
    if (!inv) {
      inv = new ClusterInventory(this.client, desired.owner, namespace);
      this.inventories.set(key, inv);
    }
    return inv;
  }

  /** The live resourceVersion a watch knows for `p` (undefined: ask the server). */
  private knownVersion(p: Planned): string | null | undefined {
    return this.watches.version(p.mapping, ownerSelector(p.owner), p.entry.namespace, p.entry.name);
  }

  async apply(desired: DesiredState, options: ApplyOptions = {}): Promise<ApplyResult<KubeSet>> {
    const seen = new Map<string, LiveView>();
    this.applier.mapper.newEpoch();
    const { objects, invalid } = collectObjects(desired);
    const results: ObjectResult[] = invalid.map((i) => ({ id: i.source, action: 'failed', reason: 'InvalidObject', message: i.message }));
    const restore = new Set(options.restore ?? []);
    const inventory = this.inventory(desired);
    const old = await inventory.current();
    const owned = new Set(old.objects.map(entryKey));
    const desiredKeys = new Set<string>();
    const ok: Planned[] = [];
    let writes = 0;

    const first = objects.filter((o) => isCrd(o.object) || o.object.kind === 'Namespace');
    const rest = objects.filter((o) => !(isCrd(o.object) || o.object.kind === 'Namespace'));
    const crdKinds = bundleCrdKinds(first);
    const failed = (d: DesiredObject, f: { id: string; reason: string; message: string }): void => {
      results.push({ id: f.id, action: 'failed', reason: f.reason, message: f.message });
      desiredKeys.add(entryKey({ apiVersion: d.object.apiVersion, kind: d.object.kind, ...(d.object.metadata.namespace ? { namespace: d.object.metadata.namespace } : {}), name: d.object.metadata.name as string }));
    };
    // Every object is planned before anything is written, so the inventory is written once:
    // objects of a CRD this bundle brings are mapped after it is established, and enter the
    // inventory now by what the CRD says of them (namespaced or not).
    const phases: Planned[][] = [[], []];
    const deferred: DesiredObject[] = [];
    const provisional: InventoryEntry[] = [];
    for (const [index, phase] of [first, rest].entries()) {
      for (const d of phase) {
        const p = await this.applier.plan(d, desired.owner);
        if ('reason' in p) {
          const scope = p.reason === 'KindNotServed' ? crdKinds.get(`${d.object.apiVersion}|${d.object.kind}`) : undefined;
          if (scope) {
            deferred.push(d);
            const ns = scope === 'Namespaced' ? (d.object.metadata.namespace ?? this.options.defaultNamespace ?? 'default') : undefined;
            provisional.push({ apiVersion: d.object.apiVersion, kind: d.object.kind, ...(ns ? { namespace: ns } : {}), name: d.object.metadata.name as string });
          } else failed(d, p);
          continue;
        }
        desiredKeys.add(entryKey(p.entry));
        phases[index]!.push(p);
      }
    }
    // Ownership is recorded before anything is created, so a crash mid-apply still knows what to prune.
    const union = new Map(old.objects.map((e) => [entryKey(e), e]));
    for (const e of [...phases[0]!, ...phases[1]!].map((p) => p.entry).concat(provisional)) union.set(entryKey(e), e);
    if (await inventory.write({ ...(old.recordDigest ? { recordDigest: old.recordDigest } : {}), ...(old.bundleDigest ? { bundleDigest: old.bundleDigest } : {}), objects: [...union.values()] })) writes++;

    const applyAll = async (planned: Planned[]): Promise<void> => {
      for (const p of planned) {
        const isRestore = restore.has(p.id) && owned.has(entryKey(p.entry));
        const force = this.options.force === true || options.force === true || isRestore;
        const r = await this.applier.applyOne(p, force, seen, this.knownVersion(p), isRestore);
        if (r.written) writes++;
        const { written: _w, ...result } = r;
        results.push(result);
        if (result.action !== 'failed') ok.push(p);
      }
    };
    await applyAll(phases[0]!);
    const crds = phases[0]!.filter((p) => isCrd(p.body) && seen.has(p.id));
    const notEstablished = await waitEstablished(this.applier, crds, seen, this.options.establishTimeoutMs ?? 60_000);
    for (const [id, message] of notEstablished) {
      const r = results.find((x) => x.id === id);
      if (r) Object.assign(r, { health: 'Degraded', message, reason: 'NotEstablished' });
    }
    // The CRDs' kinds are served now: what discovery said of them before is looked up again.
    this.applier.mapper.newEpoch();
    for (const d of deferred) {
      const p = await this.applier.plan(d, desired.owner);
      if ('reason' in p) {
        failed(d, p);
        continue;
      }
      desiredKeys.add(entryKey(p.entry));
      phases[1]!.push(p);
    }
    await applyAll(phases[1]!);
    this.warm = true;
    return { objects: results, writes, set: { recordDigest: desired.recordDigest, by: 'apply', desiredKeys, ok, live: seen } };
  }

  async prune(desired: DesiredState, plan: KubeSet): Promise<PruneResult> {
    checkSet(plan, desired, 'prune');
    return await pruneObjects(this.applier, this.inventory(desired), desired, plan);
  }

  async observe(desired: DesiredState): Promise<Observation<KubeSet>> {
    const seen = new Map<string, LiveView>();
    this.applier.mapper.newEpoch();
    const inv = await this.inventory(desired).read();
    const owned = new Set(inv.objects.map(entryKey));
    const drift: DriftedObject[] = [];
    const { objects } = collectObjects(desired);
    const ok: Planned[] = [];
    const desiredKeys = new Set<string>();
    for (const d of objects) {
      const p = await this.applier.plan(d, desired.owner);
      if ('reason' in p) continue;
      desiredKeys.add(entryKey(p.entry));
      if (owned.has(entryKey(p.entry))) ok.push(p);
    }
    // From the second round on, what changed is known from watches; the first reads each object.
    if (this.warm) {
      const resources = new Map(ok.map((p) => [`${p.mapping.group}/${p.mapping.version}/${p.mapping.resource}/${p.entry.namespace ?? ''}`, { mapping: p.mapping, ...(p.entry.namespace && { namespace: p.entry.namespace }) }]));
      await this.watches.ensure(resources.values(), ownerSelector(desired.owner));
    }
    for (const p of ok) {
      const r = await this.applier.check(p, this.knownVersion(p));
      if (r.failure) continue;
      if (r.view) seen.set(p.id, r.view);
      if (r.drift) drift.push(r.drift);
    }
    this.warm = true;
    const set: KubeSet = { recordDigest: desired.recordDigest, by: 'observe', desiredKeys, ok, live: seen };
    return { owned: inv.objects.map((e) => objectId(e.apiVersion, e.kind, e.namespace, e.name)), ...(inv.recordDigest ? { appliedRecordDigest: inv.recordDigest } : {}), drift, set };
  }

  async health(desired: DesiredState, set: KubeSet, options: HealthOptions): Promise<HealthResult> {
    checkSet(set, desired, 'health');
    return await waitHealthy(this.applier, set, options);
  }

  async close(): Promise<void> {
    this.watches.close();
    this.client.close();
  }
}

/** The label selector of what `owner` applied (its owner labels). */
function ownerSelector(owner: DesiredState['owner']): string {
  return `${LABEL_PIPELINE}=${labelValue(owner.pipeline)},${LABEL_STAGE}=${labelValue(owner.stage)}`;
}

/** `apiVersion|kind` → scope, for the kinds the bundle's CRDs define (served versions). */
function bundleCrdKinds(objects: DesiredObject[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const { object } of objects) {
    if (!isCrd(object)) continue;
    const spec = (object.spec ?? {}) as { group?: string; scope?: string; names?: { kind?: string }; versions?: { name?: string; served?: boolean }[] };
    if (!spec.group || !spec.names?.kind) continue;
    for (const v of spec.versions ?? []) {
      if (v.name && v.served !== false) out.set(`${spec.group}/${v.name}|${spec.names.kind}`, spec.scope === 'Cluster' ? 'Cluster' : 'Namespaced');
    }
  }
  return out;
}
